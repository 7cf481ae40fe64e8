use axum::{Form, Router, http::StatusCode, response::IntoResponse, routing::get, routing::post};
use sessionward_axum::{AuthSession, Session, SessionLayer};
use sessionward_core::{SessionManager, UserId};
use std::collections::HashMap;

/// The app's router. The layer also serves `/auth/refresh`, `/auth/logout`,
/// `/auth/sessions`, … (the session routes).
pub fn app(manager: SessionManager) -> Router {
    let login = |session: Session, Form(form): Form<HashMap<String, String>>| async move {
        let field = |name: &str| form.get(name).map_or("", String::as_str);
        match UserId::new(field("user")) {
            Ok(id) if crate::verify(id.as_str(), field("password")) => session.login(&id).await,
            _ => Ok(StatusCode::UNAUTHORIZED.into_response()),
        }
    };
    let hello = |session: AuthSession| async move { format!("hello {}", session.user) };
    Router::new()
        .route("/hello", get(hello))
        .route("/login", post(login))
        .layer(SessionLayer::new(manager))
}
