//! Throughput of a protected `GET /hello` over actix-web, in process
//! (`actix_web::test::call_service`): no protection, a plain
//! `jsonwebtoken` check, sessionward strict mode and sessionward cached
//! mode (MemoryStore).
//!
//! `cargo bench -p sessionward-actix --bench protected_hello`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, Error, HttpMessage, test, web};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sessionward_actix::{
    AdapterConfig, AuthSession, SessionApi, SessionMiddleware, TokenTransport,
};
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    MemoryStore, RequestContext, RevocationMode, SessionManager, SessionPolicy, UserId,
};

const ISS: &str = "https://bench.sessionward.test";
const AUD: &str = "bench";
const KEY: [u8; 32] = [7; 32];

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    sid: String,
    exp: i64,
}

async fn manager(mode: RevocationMode) -> SessionManager {
    let tokens = TokenConfig::builder(ISS, AUD)
        .signing_key(SigningKey::hs256("k1", &KEY).unwrap())
        .refresh_key([9; 32])
        .build()
        .unwrap();
    SessionManager::builder(
        SessionPolicy::default(),
        tokens,
        Arc::new(MemoryStore::new()),
    )
    .revocation_mode(mode)
    .build()
    .unwrap()
}

async fn token(m: &SessionManager) -> String {
    let login = m
        .login(&UserId::new("alice").unwrap(), &RequestContext::new())
        .await
        .unwrap();
    login.tokens.access_token.expose_secret().to_owned()
}

async fn hello() -> &'static str {
    "hello"
}

async fn hello_session(_s: AuthSession) -> &'static str {
    "hello"
}

struct Jwt {
    key: DecodingKey,
    validation: Validation,
}

async fn jwt_check(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let jwt = req.app_data::<web::Data<Jwt>>().unwrap().clone();
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| actix_web::error::ErrorUnauthorized("missing"))?;
    let data = jsonwebtoken::decode::<Claims>(token, &jwt.key, &jwt.validation)
        .map_err(|_| actix_web::error::ErrorUnauthorized("invalid"))?;
    req.extensions_mut().insert(Arc::new(data.claims));
    next.call(req).await
}

type Call = Rc<dyn Fn(String) -> Pin<Box<dyn Future<Output = StatusCode>>>>;

macro_rules! caller {
    ($app:expr) => {{
        let svc = Rc::new(test::init_service($app).await);
        let f: Call = Rc::new(move |auth: String| {
            let svc = svc.clone();
            Box::pin(async move {
                let req = test::TestRequest::get()
                    .uri("/hello")
                    .insert_header(("authorization", auth))
                    .to_request();
                test::call_service(&*svc, req).await.status()
            })
        });
        f
    }};
}

fn bench(c: &mut Criterion) {
    let sys = actix_web::rt::System::new();
    let apps: Vec<(&str, Call, String)> = sys.block_on(async {
        let strict_m = manager(RevocationMode::Strict).await;
        let cached_m = manager(RevocationMode::cached()).await;
        let token_strict = token(&strict_m).await;
        let token_cached = token(&cached_m).await;
        let bearer = || AdapterConfig::new().with_transport(TokenTransport::Bearer);
        let strict_api = SessionApi::new(strict_m, bearer()).unwrap();
        let cached_api = SessionApi::new(cached_m, bearer()).unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISS]);
        validation.set_audience(&[AUD]);
        let jwt = web::Data::new(Jwt {
            key: DecodingKey::from_secret(&KEY).unwrap(),
            validation,
        });
        let none = caller!(App::new().route("/hello", web::get().to(hello)));
        let plain = caller!(
            App::new()
                .app_data(jwt.clone())
                .wrap(from_fn(jwt_check))
                .route("/hello", web::get().to(hello))
        );
        let strict = caller!(
            App::new()
                .wrap(SessionMiddleware::new(strict_api))
                .route("/hello", web::get().to(hello_session))
        );
        let cached = caller!(
            App::new()
                .wrap(SessionMiddleware::new(cached_api))
                .route("/hello", web::get().to(hello_session))
        );
        vec![
            ("none", none, token_strict.clone()),
            ("plain_jwt", plain, token_strict.clone()),
            ("sessionward_strict", strict, token_strict),
            ("sessionward_cached", cached, token_cached),
        ]
    });
    let mut group = c.benchmark_group("actix_protected_hello");
    for (name, call, token) in apps {
        let auth = format!("Bearer {token}");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                sys.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        assert_eq!(call(auth.clone()).await, StatusCode::OK);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
