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
use criterion::Criterion;
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
                .wrap(SessionMiddleware::from_api(strict_api))
                .route("/hello", web::get().to(hello_session))
        );
        let cached = caller!(
            App::new()
                .wrap(SessionMiddleware::from_api(cached_api.clone()))
                .route("/hello", web::get().to(hello_session))
        );
        // Let the revocation feed connect, then make sure the cache is in use.
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        assert!(cached_api.manager().is_cache_live(), "cached mode not live");
        vec![
            ("none", none, token_strict.clone()),
            ("plain_jwt", plain, token_strict.clone()),
            ("sessionward_strict", strict, token_strict),
            ("sessionward_cached", cached, token_cached),
        ]
    });
    let mut group = c.benchmark_group("actix_protected_hello");
    let apps_ref = apps;
    for (name, call, token) in apps_ref.iter().cloned() {
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

    let names: Vec<&str> = apps_ref.iter().map(|(n, _, _)| *n).collect();
    let mut times = vec![Vec::new(); apps_ref.len()];
    sys.block_on(async {
        for _ in 0..ROUNDS {
            for (i, (_, call, token)) in apps_ref.iter().enumerate() {
                let auth = format!("Bearer {token}");
                let start = Instant::now();
                for _ in 0..PER_ROUND {
                    assert_eq!(call(auth.clone()).await, StatusCode::OK);
                }
                times[i].push(start.elapsed());
            }
        }
    });
    report("actix", &names, &times);
}

const ROUNDS: usize = 25;
const PER_ROUND: u32 = 2_000;

/// Prints best-of-rounds and median throughput per variant, measured in
/// interleaved rounds so machine noise hits every variant alike.
fn report(framework: &str, names: &[&str], times: &[Vec<Duration>]) {
    let rps = |d: Duration| f64::from(PER_ROUND) / d.as_secs_f64();
    let stats: Vec<(f64, f64)> = times
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.sort();
            (rps(t[0]), rps(t[t.len() / 2]))
        })
        .collect();
    let plain = names.iter().position(|n| *n == "plain_jwt").unwrap();
    println!("\n{framework}: {ROUNDS} interleaved rounds x {PER_ROUND} requests per variant");
    println!("| variant | best req/s | median req/s | best vs plain_jwt | median vs plain_jwt |");
    println!("|---|---:|---:|---:|---:|");
    for (name, (best, median)) in names.iter().zip(&stats) {
        println!(
            "| {name} | {best:.0} | {median:.0} | {:.1}% | {:.1}% |",
            100.0 * best / stats[plain].0,
            100.0 * median / stats[plain].1
        );
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
}
