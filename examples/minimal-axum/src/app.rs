use axum::{Form, Router, http::StatusCode, response::IntoResponse, routing::get, routing::post};
use sessionward_axum::{AuthSession, Session, SessionLayer};
use sessionward_core::{SessionManager, UserId};

/// The app's router. The layer also serves `/auth/refresh`, `/auth/logout`,
/// `/auth/sessions`, … (the session routes).
pub fn app(manager: SessionManager) -> Router {
    let login = |session: Session, Form(form): Form<Login>| async move {
        match UserId::new(&form.user) {
            Ok(user) if crate::verify(&form.user, &form.password) => session.login(&user).await,
            _ => Ok(StatusCode::UNAUTHORIZED.into_response()),
        }
    };
    let hello = |session: AuthSession| async move { format!("hello {}", session.user) };
    Router::new()
        .route("/hello", get(hello))
        .route("/login", post(login))
        .layer(SessionLayer::new(manager))
}

#[derive(serde::Deserialize)]
struct Login {
    user: String,
    password: String,
}
