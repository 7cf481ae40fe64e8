//! The axum routes: the shared pages and demo routes from
//! `sessionward-example-common`, behind the session layer (which also
//! serves the session routes under `/auth`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sessionward_axum::{ApiResponse, AuthSession, Session, SessionLayer};
use sessionward_example_common::{DemoApp, demo, pages, plans, ui};

/// The whole app.
pub(crate) fn router(app: DemoApp) -> Router {
    let api = app.api.clone();
    let mut router = Router::new()
        .route("/", get(asset))
        .route("/index.html", get(asset))
        .route("/app.js", get(asset))
        .route("/style.css", get(asset))
        .route("/login", post(login))
        .route("/api/config", get(config))
        .route("/api/me", get(me))
        .route("/api/notifications", get(notifications))
        .route("/api/policy", get(policy))
        .route("/api/plan", get(plan));
    if app.demo {
        router = router
            .route("/api/events", get(events))
            .route("/demo/simulate-login", post(simulate))
            .route("/demo/plan", post(switch_plan));
    }
    router.with_state(app).layer(SessionLayer::from_api(api))
}

async fn asset(uri: Uri) -> Response {
    match ui::asset(uri.path()) {
        Some(r) => ApiResponse(r).into_response(),
        None => ApiResponse(pages::error(404, "not_found")).into_response(),
    }
}

async fn login(State(app): State<DemoApp>, session: Session, body: Bytes) -> ApiResponse {
    ApiResponse(pages::login(&app, &body, session.current(), session.context()).await)
}

async fn config(State(app): State<DemoApp>) -> ApiResponse {
    ApiResponse(pages::client_config(&app))
}

async fn me(session: AuthSession) -> ApiResponse {
    ApiResponse(pages::me(&session))
}

async fn notifications(State(app): State<DemoApp>, session: AuthSession) -> ApiResponse {
    ApiResponse(pages::notifications(&app, &session))
}

async fn events(State(app): State<DemoApp>, _session: AuthSession) -> ApiResponse {
    ApiResponse(pages::events(&app))
}

async fn policy(State(app): State<DemoApp>) -> ApiResponse {
    ApiResponse(pages::policy(&app))
}

async fn simulate(State(app): State<DemoApp>, session: AuthSession, body: Bytes) -> ApiResponse {
    ApiResponse(demo::simulate_login(&app, &session, &body).await)
}

async fn plan(State(app): State<DemoApp>, session: AuthSession) -> ApiResponse {
    ApiResponse(plans::plan(&app, &session).await)
}

async fn switch_plan(State(app): State<DemoApp>, session: AuthSession, body: Bytes) -> ApiResponse {
    ApiResponse(plans::switch_plan(&app, &session, &body).await)
}
