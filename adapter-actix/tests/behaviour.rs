//! The shared behavioural cases (`sessionward_core::testing::web`) over actix-web.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{App, Error, HttpRequest, HttpResponse, ResponseError, test, web};
use sessionward_actix::{AuthSession, Session, SessionApi, SessionMiddleware, SessionRejection};
use sessionward_core::UserId;
use sessionward_core::testing::web::{AdapterHarness, TestRequest, TestResponse};
use sessionward_core::web::WebResponse;

type Send = Rc<dyn Fn(TestRequest) -> Pin<Box<dyn Future<Output = TestResponse>>>>;

struct Actix(Send);

async fn hello(session: AuthSession) -> String {
    format!("hello {}", session.user)
}

async fn maybe(session: Option<AuthSession>) -> String {
    match session {
        Some(s) => format!("user {}", s.user),
        None => "anonymous".to_owned(),
    }
}

async fn login(req: HttpRequest, session: Session) -> Result<HttpResponse, SessionRejection> {
    let name = req
        .headers()
        .get("x-test-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("nobody");
    session.login(&UserId::new(name).unwrap()).await
}

async fn account(session: Session) -> HttpResponse {
    match session.require() {
        Ok(s) => HttpResponse::Ok().body(format!("account {}", s.user)),
        Err(r) if r.status() == 401 => HttpResponse::SeeOther()
            .insert_header(("location", "/login"))
            .finish(),
        Err(r) => r.error_response(),
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hello", web::get().to(hello))
        .route("/hello", web::post().to(hello))
        .route("/maybe", web::get().to(maybe))
        .route("/login", web::post().to(login))
        .route("/account", web::get().to(account))
        .route(
            "/app/logout",
            web::post().to(async |s: Session| s.logout().await),
        )
        .route(
            "/app/logout",
            web::get().to(async |s: Session| s.logout().await),
        )
        .route(
            "/app/reauth",
            web::post().to(async |s: Session| s.reauthenticate().await),
        )
        .route(
            "/app/end-all",
            web::post().to(async |s: Session| s.end_all().await),
        )
        .route(
            "/app/sessions",
            web::get().to(async |s: Session| s.list().await.map(|l| l.len().to_string())),
        )
        .route(
            "/app/end-others",
            web::post().to(async |s: Session| s.end_others().await.map(|n| n.to_string())),
        );
}

impl Actix {
    async fn serve<S, B>(app: App<S>) -> Self
    where
        S: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let svc = Rc::new(test::init_service(app).await);
        Actix(Rc::new(move |r: TestRequest| {
            let svc = svc.clone();
            Box::pin(async move {
                let mut req = test::TestRequest::default()
                    .method(Method::from_bytes(r.method.as_bytes()).unwrap())
                    .uri(&r.path);
                if let Some(peer) = r.peer {
                    req = req.peer_addr(SocketAddr::new(peer, 40_000));
                }
                for (n, v) in &r.headers {
                    req = req.append_header((n.as_str(), v.as_str()));
                }
                let req = req.set_payload(r.body).to_request();
                let resp = test::call_service(&*svc, req).await;
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                    .collect();
                let body = test::read_body(resp).await;
                TestResponse {
                    status,
                    headers,
                    body: String::from_utf8(body.to_vec()).unwrap(),
                }
            })
        }))
    }
}

impl AdapterHarness for Actix {
    async fn start(api: SessionApi) -> Self {
        Self::serve(
            App::new()
                .wrap(SessionMiddleware::from_api(api))
                .configure(routes),
        )
        .await
    }

    async fn start_without_layer(_: SessionApi) -> Self {
        Self::serve(App::new().configure(routes)).await
    }

    async fn send(&self, request: TestRequest) -> TestResponse {
        (self.0)(request).await
    }
}

sessionward_core::web_adapter_tests!(Actix, actix_web::test);

#[actix_web::test]
async fn a_header_that_cannot_be_sent_is_a_500() {
    let bad = WebResponse::empty(204).with_header("set-cookie", "a=b\r\nx: y");
    let resp = sessionward_actix::to_http_response(bad);
    assert_eq!(resp.status(), 500);
    assert!(resp.headers().get("set-cookie").is_none());
}
