//! The shared behavioural cases (`sessionward_core::testing::web`) over axum.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sessionward_axum::{
    ApiResponse, AuthSession, Session, SessionApi, SessionLayer, SessionRejection,
};
use sessionward_core::UserId;
use sessionward_core::testing::web::{AdapterHarness, TestRequest, TestResponse};
use sessionward_core::web::WebResponse;
use tower::ServiceExt;

struct Axum(Router);

async fn hello(session: AuthSession) -> String {
    format!("hello {}", session.user)
}

async fn maybe(session: Option<AuthSession>) -> String {
    match session {
        Some(s) => format!("user {}", s.user),
        None => "anonymous".to_owned(),
    }
}

async fn login(session: Session, headers: HeaderMap) -> Result<Response, SessionRejection> {
    let name = headers
        .get("x-test-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("nobody");
    session.login(&UserId::new(name).unwrap()).await
}

async fn account(session: Session) -> Response {
    match session.require() {
        Ok(s) => format!("account {}", s.user).into_response(),
        Err(r) if r.status() == 401 => Redirect::to("/login").into_response(),
        Err(r) => r.into_response(),
    }
}

fn app() -> Router {
    Router::new()
        .route("/hello", get(hello).post(hello))
        .route("/maybe", get(maybe))
        .route("/login", post(login))
        .route("/account", get(account))
        .route(
            "/app/logout",
            get(async |s: Session| s.logout().await).post(async |s: Session| s.logout().await),
        )
        .route(
            "/app/reauth",
            post(async |s: Session| s.reauthenticate().await),
        )
        .route("/app/end-all", post(async |s: Session| s.end_all().await))
        .route(
            "/app/sessions",
            get(async |s: Session| s.list().await.map(|l| l.len().to_string())),
        )
        .route(
            "/app/end-others",
            post(async |s: Session| s.end_others().await.map(|n| n.to_string())),
        )
}

impl AdapterHarness for Axum {
    async fn start(api: SessionApi) -> Self {
        Axum(app().layer(SessionLayer::from_api(api)))
    }

    async fn start_without_layer(_: SessionApi) -> Self {
        Axum(app())
    }

    async fn send(&self, r: TestRequest) -> TestResponse {
        let mut req = Request::builder().method(r.method).uri(&r.path);
        for (n, v) in &r.headers {
            req = req.header(n, v);
        }
        let mut req = req.body(Body::from(r.body)).unwrap();
        if let Some(peer) = r.peer {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(peer, 40_000)));
        }
        let resp = self.0.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        TestResponse {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }
}

sessionward_core::web_adapter_tests!(Axum, tokio::test);

#[test]
fn a_header_that_cannot_be_sent_is_a_500() {
    let bad = WebResponse::empty(204).with_header("set-cookie", "a=b\r\nx: y");
    let resp = ApiResponse(bad).into_response();
    assert_eq!(resp.status(), 500);
    assert!(resp.headers().get("set-cookie").is_none());
}
