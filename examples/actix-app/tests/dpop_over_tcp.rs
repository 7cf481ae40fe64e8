//! DPoP over real TCP on actix-web: two instances of the example app share
//! one SQLite store and one public origin (as behind a load balancer).
//! Tokens copied from a bound session are refused without the key, access
//! and refresh, on either instance; a proof is accepted once, by one of
//! them; the owner carries on.
#![allow(missing_docs)]

use std::net::{SocketAddr, TcpListener};

use actix_web::{App, HttpServer};
use serde_json::{Value, json};
use sessionward_actix::SessionMiddleware;
use sessionward_core::testing::dpop::DpopKey;
use sessionward_core::testing::http::send;
use sessionward_core::testing::web::{TestRequest, TestResponse};
use sessionward_core::web::TokenTransport;
use sessionward_core::{Clock, SystemClock};
use sessionward_example_common::{Config, DemoApp};

const ORIGIN: &str = "https://app.example.test";

/// One instance of the example app on a free loopback port.
async fn instance(store: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        host: addr.ip(),
        port: addr.port(),
        store: store.to_owned(),
        transport: TokenTransport::Bearer,
        demo: true,
        access_ttl: None,
        trusted_proxies: None,
        public_origin: Some(ORIGIN.to_owned()),
    };
    let app = DemoApp::build(&config).await.unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::from_api(app.api.clone()))
            .configure(sessionward_example_actix::configure(app.clone()))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    addr
}

fn proof(key: &DpopKey, method: &str, path: &str, token: Option<&str>) -> String {
    key.proof(
        method,
        &format!("{ORIGIN}{path}"),
        token,
        None,
        SystemClock.now(),
    )
}

fn me(access: &str, proof: Option<String>, scheme: &str) -> TestRequest {
    let mut r =
        TestRequest::new("GET", "/api/me").header("authorization", format!("{scheme} {access}"));
    if let Some(p) = proof {
        r = r.header("dpop", p);
    }
    r
}

fn refresh(refresh: &str, proof: Option<String>) -> TestRequest {
    let mut r =
        TestRequest::new("POST", "/auth/refresh").json(&json!({ "refresh_token": refresh }));
    if let Some(p) = proof {
        r = r.header("dpop", p);
    }
    r
}

fn refused(r: &TestResponse, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    let body: Value = r.json();
    assert_eq!(body["error"], "invalid_dpop_proof", "{what}: {}", r.body);
}

#[actix_web::test]
async fn copied_dpop_tokens_are_refused_on_every_instance() {
    let dir = std::env::temp_dir().join(format!("sw-dpop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = format!("sqlite://{}?mode=rwc", dir.join("shared.sqlite").display());
    let a = instance(&store).await;
    let b = instance(&store).await;

    let key = DpopKey::p256();
    let login = TestRequest::new("POST", "/login")
        .header("dpop", proof(&key, "POST", "/login", None))
        .json(&json!({"username": "alice", "password": "alice-password"}));
    let r = send(a, &login).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tokens = r.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The owner, on either instance.
    let owner = me(
        &access,
        Some(proof(&key, "GET", "/api/me", Some(&access))),
        "DPoP",
    );
    assert_eq!(send(a, &owner).await.status, 200);
    // The same proof again, here and on the other instance.
    refused(&send(a, &owner).await, 401, "replayed on the same instance");
    refused(&send(b, &owner).await, 401, "replayed on a second instance");
    let fresh = me(
        &access,
        Some(proof(&key, "GET", "/api/me", Some(&access))),
        "DPoP",
    );
    assert_eq!(send(b, &fresh).await.status, 200);

    // The thief: the copied tokens with no key, or with its own.
    let thief = DpopKey::p256();
    for (instance, name) in [(a, "a"), (b, "b")] {
        refused(
            &send(instance, &me(&access, None, "Bearer")).await,
            401,
            name,
        );
        refused(&send(instance, &me(&access, None, "DPoP")).await, 401, name);
        let forged = me(
            &access,
            Some(proof(&thief, "GET", "/api/me", Some(&access))),
            "DPoP",
        );
        refused(&send(instance, &forged).await, 401, name);
        refused(
            &send(instance, &refresh(&refresh_token, None)).await,
            400,
            name,
        );
        let forged = refresh(
            &refresh_token,
            Some(proof(&thief, "POST", "/auth/refresh", None)),
        );
        refused(&send(instance, &forged).await, 400, name);
    }

    // Nothing was rotated or ended: the owner refreshes on the other instance.
    let renewed = send(
        b,
        &refresh(
            &refresh_token,
            Some(proof(&key, "POST", "/auth/refresh", None)),
        ),
    )
    .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let next = renewed.json()["access_token"].as_str().unwrap().to_owned();
    let r = send(
        a,
        &me(
            &next,
            Some(proof(&key, "GET", "/api/me", Some(&next))),
            "DPoP",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let _ = std::fs::remove_dir_all(&dir);
}
