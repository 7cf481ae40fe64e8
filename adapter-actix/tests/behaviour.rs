//! The shared behavioural cases (`sessionward_core::web::testing`) over actix-web.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::http::Method;
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use sessionward_actix::{AuthSession, ClientContext, SessionApi, SessionMiddleware};
use sessionward_core::UserId;
use sessionward_core::web::testing::{AdapterHarness, TestRequest, TestResponse};

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

async fn login(
    req: HttpRequest,
    ClientContext(ctx): ClientContext,
    api: web::Data<SessionApi>,
) -> HttpResponse {
    let name = req
        .headers()
        .get("x-test-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("nobody");
    let user = UserId::new(name).unwrap();
    sessionward_actix::login_response(&api, &user, &ctx).await
}

impl AdapterHarness for Actix {
    async fn start(api: SessionApi) -> Self {
        let app = App::new()
            .wrap(SessionMiddleware::new(api.clone()))
            .app_data(web::Data::new(api.clone()))
            .route("/hello", web::get().to(hello))
            .route("/hello", web::post().to(hello))
            .route("/maybe", web::get().to(maybe))
            .route("/login", web::post().to(login))
            .service(sessionward_actix::scope(api));
        let svc = Rc::new(test::init_service(app).await);
        Actix(Rc::new(move |r: TestRequest| {
            let svc = svc.clone();
            Box::pin(async move {
                let mut req = test::TestRequest::default()
                    .method(Method::from_bytes(r.method.as_bytes()).unwrap())
                    .uri(&r.path)
                    .peer_addr(SocketAddr::new(r.peer, 40_000));
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

    async fn send(&self, request: TestRequest) -> TestResponse {
        (self.0)(request).await
    }
}

sessionward_core::web_adapter_tests!(Actix, actix_web::test);
