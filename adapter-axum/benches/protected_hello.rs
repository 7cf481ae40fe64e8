//! Throughput of a protected `GET /hello` over axum, in process
//! (`tower::ServiceExt::oneshot`): no protection, a plain `jsonwebtoken`
//! check, sessionward strict mode and sessionward cached mode (MemoryStore).
//!
//! `cargo bench -p sessionward-axum --bench protected_hello`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::Criterion;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sessionward_axum::{AdapterConfig, AuthSession, SessionApi, SessionLayer, TokenTransport};
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    MemoryStore, RequestContext, RevocationMode, SessionManager, SessionPolicy, UserId,
};
use tower::ServiceExt;

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

async fn jwt_check(State(jwt): State<Arc<Jwt>>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match jsonwebtoken::decode::<Claims>(token, &jwt.key, &jwt.validation) {
        Ok(data) => {
            req.extensions_mut().insert(Arc::new(data.claims));
            next.run(req).await
        }
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn sessionward_app(mode: RevocationMode) -> (Router, String, SessionApi) {
    let m = manager(mode).await;
    let t = token(&m).await;
    let api = SessionApi::new(
        m,
        AdapterConfig::new().with_transport(TokenTransport::Bearer),
    )
    .unwrap();
    let app = Router::new()
        .route("/hello", get(hello_session))
        .layer(SessionLayer::from_api(api.clone()));
    (app, t, api)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (apps, token) = rt.block_on(async {
        let (strict, token, _) = sessionward_app(RevocationMode::Strict).await;
        let (cached, cached_token, cached_api) = sessionward_app(RevocationMode::cached()).await;
        // Let the revocation feed connect, then make sure the cache is in use.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(cached_api.manager().is_cache_live(), "cached mode not live");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISS]);
        validation.set_audience(&[AUD]);
        let jwt = Arc::new(Jwt {
            key: DecodingKey::from_secret(&KEY).unwrap(),
            validation,
        });
        let none = Router::new().route("/hello", get(hello));
        let plain = Router::new()
            .route("/hello", get(hello))
            .layer(from_fn_with_state(jwt, jwt_check));
        (
            vec![
                ("none", none, token.clone()),
                ("plain_jwt", plain, token.clone()),
                ("sessionward_strict", strict, token.clone()),
                ("sessionward_cached", cached, cached_token),
            ],
            token,
        )
    });
    let _ = token;
    let mut group = c.benchmark_group("axum_protected_hello");
    let apps_ref = apps;
    for (name, app, token) in apps_ref.iter().cloned() {
        let auth = format!("Bearer {token}");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let req = Request::builder()
                            .uri("/hello")
                            .header("authorization", &auth)
                            .body(Body::empty())
                            .unwrap();
                        let resp = app.clone().oneshot(req).await.unwrap();
                        assert_eq!(resp.status(), StatusCode::OK);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();

    let names: Vec<&str> = apps_ref.iter().map(|(n, _, _)| *n).collect();
    let mut times = vec![Vec::new(); apps_ref.len()];
    rt.block_on(async {
        for _ in 0..ROUNDS {
            for (i, (_, app, token)) in apps_ref.iter().enumerate() {
                let auth = format!("Bearer {token}");
                let start = Instant::now();
                for _ in 0..PER_ROUND {
                    let req = Request::builder()
                        .uri("/hello")
                        .header("authorization", &auth)
                        .body(Body::empty())
                        .unwrap();
                    let resp = app.clone().oneshot(req).await.unwrap();
                    assert_eq!(resp.status(), StatusCode::OK);
                }
                times[i].push(start.elapsed());
            }
        }
    });
    report("axum", &names, &times);
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
