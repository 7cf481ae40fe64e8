//! In-process HTTP smoke test of the actix example app: page, login,
//! session list, simulated login, logout (memory store, bearer transport).
#![allow(missing_docs)]

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, test};
use serde_json::Value;
use sessionward_actix::SessionMiddleware;
use sessionward_core::web::TokenTransport;
use sessionward_example_common::{Config, DemoApp};

/// The example app on the memory store with bearer transport, demo mode
/// `demo`, and its configuration.
async fn demo_app(
    demo: bool,
) -> (
    Config,
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
) {
    let config = Config {
        host: [127, 0, 0, 1].into(),
        port: 3001,
        store: "memory".into(),
        transport: TokenTransport::Bearer,
        demo,
        access_ttl: None,
        trusted_proxies: None,
        public_origin: None,
    };
    let app = DemoApp::build(&config).await.unwrap();
    let service = App::new()
        .wrap(SessionMiddleware::from_api(app.api.clone()))
        .configure(sessionward_example_actix::configure(app));
    (config, service)
}

#[actix_web::test]
async fn login_sessions_logout() {
    let (_, app) = demo_app(true).await;
    let svc = test::init_service(app).await;

    let page = test::call_service(&svc, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(page.status(), 200);
    let html = String::from(std::str::from_utf8(&test::read_body(page).await).unwrap());
    assert!(html.contains("Where you're signed in"));

    let bad = test::TestRequest::post()
        .uri("/login")
        .set_payload(r#"{"username":"alice","password":"nope"}"#)
        .to_request();
    assert_eq!(test::call_service(&svc, bad).await.status(), 401);

    let login = test::TestRequest::post()
        .uri("/login")
        .insert_header((
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        ))
        .set_payload(r#"{"username":"alice","password":"alice-password"}"#)
        .to_request();
    let tokens: Value = test::call_and_read_body_json(&svc, login).await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());

    let list = test::TestRequest::get()
        .uri("/auth/sessions")
        .insert_header(("authorization", bearer.as_str()))
        .to_request();
    let list: Value = test::call_and_read_body_json(&svc, list).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["device"]["browser"], "Firefox");

    let sim = test::TestRequest::post()
        .uri("/demo/simulate-login")
        .insert_header(("authorization", bearer.as_str()))
        .set_payload(r#"{"device":"safari-iphone","ip":"london"}"#)
        .to_request();
    let sim: Value = test::call_and_read_body_json(&svc, sim).await;
    assert!(
        sim["outcome"] == "created" || sim["outcome"] == "refused",
        "{sim}"
    );

    let policy: Value = test::call_and_read_body_json(
        &svc,
        test::TestRequest::get().uri("/api/policy").to_request(),
    )
    .await;
    assert!(policy["text"].as_str().unwrap().contains('3'));

    let logout = test::TestRequest::post()
        .uri("/auth/logout")
        .insert_header(("authorization", bearer.as_str()))
        .to_request();
    let resp = test::call_service(&svc, logout).await;
    assert_eq!(resp.status(), 204);
    assert!(resp.headers().contains_key("clear-site-data"));

    let after = test::TestRequest::get()
        .uri("/api/me")
        .insert_header(("authorization", bearer.as_str()))
        .to_request();
    assert_eq!(test::call_service(&svc, after).await.status(), 401);
}

/// `--no-demo`: no demo users (the demo passwords are refused), the config
/// says where to plug in real users, and the demo routes are gone.
#[actix_web::test]
async fn without_the_demo_there_are_no_users() {
    let (config, app) = demo_app(false).await;
    let svc = test::init_service(app).await;
    let login = test::TestRequest::post()
        .uri("/login")
        .set_payload(r#"{"username":"alice","password":"alice-password"}"#)
        .to_request();
    assert_eq!(test::call_service(&svc, login).await.status(), 401);
    let cfg: Value = test::call_and_read_body_json(
        &svc,
        test::TestRequest::get().uri("/api/config").to_request(),
    )
    .await;
    assert_eq!(cfg["demo"], false);
    assert!(
        cfg["plug_in_users"]
            .as_str()
            .unwrap()
            .contains("check_password")
    );
    let events = test::TestRequest::get().uri("/api/events").to_request();
    assert_eq!(test::call_service(&svc, events).await.status(), 404);
    let banner = sessionward_example_common::setup::banner(&config, "actix-web");
    assert!(!banner.contains("alice-password"), "{banner}");
}
