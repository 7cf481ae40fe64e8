use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
use sessionward_actix::{AuthSession, Session, SessionMiddleware};
use sessionward_core::{SessionManager, UserId};

/// Serves the app on `listener`. The middleware also serves `/auth/refresh`,
/// `/auth/logout`, `/auth/sessions`, … (the session routes).
pub fn server(manager: SessionManager, listener: std::net::TcpListener) -> std::io::Result<Server> {
    let sessions = SessionMiddleware::new(manager);
    let login = |session: Session, form: web::Form<Login>| async move {
        match UserId::new(&form.user) {
            Ok(user) if crate::verify(&form.user, &form.password) => session.login(&user).await,
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

#[derive(serde::Deserialize)]
struct Login {
    user: String,
    password: String,
}
