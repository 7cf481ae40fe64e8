//! The shared behavioural cases (`sessionward_core::web::testing`) over axum.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::Request;
use axum::response::Response;
use axum::routing::{get, post};
use sessionward_axum::{AuthSession, ClientContext, SessionApi, SessionLayer};
use sessionward_core::UserId;
use sessionward_core::web::testing::{AdapterHarness, TestRequest, TestResponse};
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

async fn login(
    State(api): State<SessionApi>,
    ClientContext(ctx): ClientContext,
    headers: axum::http::HeaderMap,
) -> Response {
    let name = headers
        .get("x-test-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("nobody");
    let user = UserId::new(name).unwrap();
    sessionward_axum::login_response(&api, &user, &ctx).await
}

impl AdapterHarness for Axum {
    async fn start(api: SessionApi) -> Self {
        let app = Router::new()
            .route("/hello", get(hello).post(hello))
            .route("/maybe", get(maybe))
            .route("/login", post(login))
            .with_state(api.clone())
            .nest(
                api.config().route_prefix(),
                sessionward_axum::routes(api.clone()),
            )
            .layer(SessionLayer::new(api));
        Axum(app)
    }

    async fn send(&self, r: TestRequest) -> TestResponse {
        let mut req = Request::builder().method(r.method).uri(&r.path);
        for (n, v) in &r.headers {
            req = req.header(n, v);
        }
        let mut req = req.body(Body::from(r.body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(r.peer, 40_000)));
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
