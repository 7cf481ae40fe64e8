//! The sessionward example app on actix-web: the shared pages and demo
//! routes from `sessionward-example-common`. The binary (`src/main.rs`)
//! serves [`configure`] behind a
//! [`SessionMiddleware`](sessionward_actix::SessionMiddleware), which also
//! serves the session routes under `/auth`.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use actix_web::web::{self, Bytes, Data, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use sessionward_actix::{AuthSession, Session, to_http_response};
use sessionward_example_common::{DemoApp, demo, pages, plans, ui};

/// Registers every route of the app. Wrap the `App` in
/// `SessionMiddleware::from_api(app.api.clone())`.
pub fn configure(app: DemoApp) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        let demo_on = app.demo;
        cfg.app_data(Data::new(app.clone()))
            .route("/", web::get().to(asset))
            .route("/index.html", web::get().to(asset))
            .route("/app.js", web::get().to(asset))
            .route("/style.css", web::get().to(asset))
            .route("/login", web::post().to(login))
            .route("/api/config", web::get().to(config))
            .route("/api/me", web::get().to(me))
            .route("/api/notifications", web::get().to(notifications))
            .route("/api/policy", web::get().to(policy))
            .route("/api/plan", web::get().to(plan));
        if demo_on {
            cfg.route("/api/events", web::get().to(events))
                .route("/demo/simulate-login", web::post().to(simulate))
                .route("/demo/plan", web::post().to(switch_plan));
        }
    }
}

async fn asset(req: HttpRequest) -> HttpResponse {
    match ui::asset(req.path()) {
        Some(r) => to_http_response(r),
        None => to_http_response(pages::error(404, "not_found")),
    }
}

async fn login(app: Data<DemoApp>, session: Session, body: Bytes) -> HttpResponse {
    to_http_response(pages::login(&app, &body, session.current(), session.context()).await)
}

async fn config(app: Data<DemoApp>) -> HttpResponse {
    to_http_response(pages::client_config(&app))
}

async fn me(session: AuthSession) -> HttpResponse {
    to_http_response(pages::me(&session))
}

async fn notifications(app: Data<DemoApp>, session: AuthSession) -> HttpResponse {
    to_http_response(pages::notifications(&app, &session))
}

async fn events(app: Data<DemoApp>, _session: AuthSession) -> HttpResponse {
    to_http_response(pages::events(&app))
}

async fn policy(app: Data<DemoApp>) -> HttpResponse {
    to_http_response(pages::policy(&app))
}

async fn simulate(app: Data<DemoApp>, session: AuthSession, body: Bytes) -> HttpResponse {
    to_http_response(demo::simulate_login(&app, &session, &body).await)
}

async fn plan(app: Data<DemoApp>, session: AuthSession) -> HttpResponse {
    to_http_response(plans::plan(&app, &session).await)
}

async fn switch_plan(app: Data<DemoApp>, session: AuthSession, body: Bytes) -> HttpResponse {
    to_http_response(plans::switch_plan(&app, &session, &body).await)
}
