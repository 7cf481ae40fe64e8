use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
use sessionward_actix::{AuthSession, Session, SessionMiddleware};
use sessionward_core::{SessionManager, UserId};
use std::collections::HashMap;

/// Serves the app on `listener`. The middleware also serves `/auth/refresh`,
/// `/auth/logout`, `/auth/sessions`, … (the session routes).
pub fn server(manager: SessionManager, listener: std::net::TcpListener) -> std::io::Result<Server> {
    let sessions = SessionMiddleware::new(manager);
    let login = |session: Session, form: web::Form<HashMap<String, String>>| async move {
        let field = |name: &str| form.get(name).map_or("", String::as_str);
        match UserId::new(field("user")) {
            Ok(id) if crate::verify(id.as_str(), field("password")) => session.login(&id).await,
            _ => Ok(HttpResponse::Unauthorized().finish()),
        }
    };
    let hello = |session: AuthSession| async move { format!("hello {}", session.user) };
    let app = move || {
        App::new()
            .wrap(sessions.clone())
            .route("/hello", web::get().to(hello))
            .route("/login", web::post().to(login))
    };
    Ok(HttpServer::new(app).listen(listener)?.run())
}
