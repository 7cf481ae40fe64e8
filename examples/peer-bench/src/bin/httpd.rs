//! One small HTTP server per case of the `wrk` comparison (issue 18), in a
//! release build: `httpd <case> <port>`. It sets up its data, binds
//! `127.0.0.1:<port>`, then prints one line, `ready <header>`, where
//! `<header>` is what each request must carry (`Authorization: Bearer …` or
//! `Cookie: …`). Every case answers `GET /hello` with `hello <user>` after
//! checking the credential its way; the `*-list` cases also serve our
//! `GET /auth/sessions`. Runtime: two worker threads for every framework.
//!
//! | case | what `GET /hello` does |
//! |---|---|
//! | `axum-jwt`, `actix-jwt` | `jsonwebtoken` HS256 decode + verify (iss, aud, exp) only |
//! | `axum-get-jwt`, `actix-get-jwt` | the same, plus one raw Redis `GET` of a 200-byte value |
//! | `axum-cached`, `actix-cached` | sessionward's layer/middleware, bearer, cached revocation, Redis store |
//! | `axum-strict`, `actix-strict` | the same in strict mode (one store read per request) |
//! | `axum-list`, `actix-list` | strict, enriched; the user has 10 sessions |
//! | `axum-login` | tower-sessions 0.14 + axum-login 0.18, `tower-sessions-redis-store` |
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sessionward_core::testing::{fresh_user, test_tokens};
use sessionward_core::web::{AdapterConfig, SessionApi, TokenTransport};
use sessionward_core::{
    Enricher, MemoryStore, RequestContext, RevocationMode, SessionManager, SessionPolicy,
};
use sessionward_peer_bench::{IP, UA, redis_conn, sw_redis, ts_redis, wait_cache_live};

/// The claims both plain-JWT cases check, as our tokens carry them.
fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&["https://conformance.sessionward.test"]);
    v.set_audience(&["conformance"]);
    v
}

/// The HS256 key of `test_tokens()`.
fn decoding_key() -> DecodingKey {
    DecodingKey::from_secret(&[0x5a; 32]).unwrap()
}

/// The bearer token's subject, or `None` when it does not verify.
fn verify_bearer(header: Option<&str>, key: &DecodingKey, v: &Validation) -> Option<String> {
    let token = header?.strip_prefix("Bearer ")?;
    let data = jsonwebtoken::decode::<Value>(token, key, v).ok()?;
    data.claims.get("sub")?.as_str().map(str::to_owned)
}

const FLOOR_KEY: &str = "swhttp:floor";

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().expect("usage: httpd <case> <port>");
    let port: u16 = args.next().expect("port").parse().expect("port");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if case.starts_with("actix-") {
        actix_web::rt::System::new().block_on(actix::serve(&case, addr));
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(axum_cases::serve(&case, addr));
    }
}

/// Announces the credential and flushes (the driver reads one line).
fn ready(header: &str) {
    use std::io::Write;
    println!("ready {header}");
    std::io::stdout().flush().unwrap();
}

/// A 200-byte value under [`FLOOR_KEY`] for the raw-GET cases.
async fn seed_floor() -> redis::aio::ConnectionManager {
    let mut conn = redis_conn().await;
    redis::cmd("SET")
        .arg(FLOOR_KEY)
        .arg("x".repeat(200))
        .exec_async(&mut conn)
        .await
        .unwrap();
    conn
}

/// The raw-GET cases' store read (none for the JWT-only cases).
async fn floor_get(redis: Option<redis::aio::ConnectionManager>) {
    if let Some(mut redis) = redis {
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(FLOOR_KEY)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(value.is_some());
    }
}

/// Our manager on the Redis store under the case's own prefix, and a bearer
/// header for a fresh user (with `sessions` sessions, enriched when asked).
async fn sessionward(case: &str) -> (SessionApi, String) {
    let strict = !case.ends_with("-cached");
    let enriched = case.ends_with("-list");
    let prefix = format!("swhttp-{case}:");
    let store = Arc::new(sw_redis(&prefix).await);
    let mode = if strict {
        RevocationMode::Strict
    } else {
        RevocationMode::cached()
    };
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .build()
        .unwrap();
    let mut builder = SessionManager::builder(policy, test_tokens(), store).revocation_mode(mode);
    if enriched {
        builder = builder.enricher(Arc::new(Enricher::bundled().unwrap()));
    }
    let manager = builder.build().unwrap();
    if !strict {
        assert!(wait_cache_live(&manager).await, "cache feed not live");
    }
    let user = fresh_user();
    let ctx = RequestContext::new()
        .with_ip(IP.parse().unwrap())
        .with_user_agent(UA);
    let sessions = if enriched { 10 } else { 1 };
    let mut token = String::new();
    for _ in 0..sessions {
        let login = manager.login(&user, &ctx).await.unwrap();
        token = login.tokens.access_token.expose_secret().to_owned();
    }
    let config = AdapterConfig::new().with_transport(TokenTransport::Bearer);
    let api = SessionApi::new(manager, config).unwrap();
    (api, format!("Authorization: Bearer {token}"))
}

/// A token minted by our token configuration (memory store) for the
/// plain-JWT cases, so every case verifies the same JWT.
async fn plain_token() -> String {
    let manager = SessionManager::builder(
        SessionPolicy::default(),
        test_tokens(),
        Arc::new(MemoryStore::new()),
    )
    .build()
    .unwrap();
    let login = manager
        .login(&fresh_user(), &RequestContext::new())
        .await
        .unwrap();
    format!(
        "Authorization: Bearer {}",
        login.tokens.access_token.expose_secret()
    )
}

mod axum_cases {
    use super::*;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::{Router, routing::get};
    use sessionward_axum::{AuthSession, SessionLayer};

    #[derive(Clone)]
    struct Plain {
        key: Arc<DecodingKey>,
        validation: Arc<Validation>,
        redis: Option<redis::aio::ConnectionManager>,
    }

    async fn plain_hello(State(s): State<Plain>, headers: HeaderMap) -> impl IntoResponse {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        let Some(user) = verify_bearer(auth, &s.key, &s.validation) else {
            return (StatusCode::UNAUTHORIZED, String::new());
        };
        floor_get(s.redis.clone()).await;
        (StatusCode::OK, format!("hello {user}"))
    }

    pub(super) async fn serve(case: &str, addr: SocketAddr) {
        let (app, header) = match case {
            "axum-jwt" | "axum-get-jwt" => {
                let redis = if case == "axum-get-jwt" {
                    Some(seed_floor().await)
                } else {
                    None
                };
                let state = Plain {
                    key: Arc::new(decoding_key()),
                    validation: Arc::new(validation()),
                    redis,
                };
                let app = Router::new()
                    .route("/hello", get(plain_hello))
                    .with_state(state);
                (app, plain_token().await)
            }
            "axum-cached" | "axum-strict" | "axum-list" => {
                let (api, header) = sessionward(case).await;
                let hello = |session: AuthSession| async move { format!("hello {}", session.user) };
                let app = Router::new()
                    .route("/hello", get(hello))
                    .layer(SessionLayer::from_api(api));
                (app, header)
            }
            "axum-login" => axum_login_case::app().await,
            other => panic!("unknown case {other}"),
        };
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        ready(&header);
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await.unwrap();
    }

    /// tower-sessions + axum-login with its Redis store, logged in once
    /// through the app's own `/login` route (the cookie is the credential).
    mod axum_login_case {
        use super::*;
        use axum_login::{AuthManagerLayerBuilder, AuthUser, AuthnBackend, UserId};
        use tower::ServiceExt;
        use tower_sessions::SessionManagerLayer;

        #[derive(Clone, Debug)]
        pub(super) struct User {
            id: String,
            auth_hash: Vec<u8>,
        }

        impl AuthUser for User {
            type Id = String;
            fn id(&self) -> String {
                self.id.clone()
            }
            fn session_auth_hash(&self) -> &[u8] {
                &self.auth_hash
            }
        }

        /// One user held in memory: the per-request cost measured is the
        /// session's, not a user database's.
        #[derive(Clone)]
        pub(super) struct Backend {
            users: Arc<HashMap<String, User>>,
        }

        impl AuthnBackend for Backend {
            type User = User;
            type Credentials = String;
            type Error = std::convert::Infallible;

            async fn authenticate(&self, id: String) -> Result<Option<User>, Self::Error> {
                Ok(self.users.get(&id).cloned())
            }

            async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Self::Error> {
                Ok(self.users.get(id).cloned())
            }
        }

        type Auth = axum_login::AuthSession<Backend>;

        async fn login(mut auth: Auth) -> StatusCode {
            let user = auth
                .authenticate("alice".to_owned())
                .await
                .unwrap()
                .unwrap();
            auth.login(&user).await.unwrap();
            StatusCode::NO_CONTENT
        }

        async fn hello(auth: Auth) -> impl IntoResponse {
            match auth.user {
                Some(user) => (StatusCode::OK, format!("hello {}", user.id)),
                None => (StatusCode::UNAUTHORIZED, String::new()),
            }
        }

        pub(in super::super) async fn app() -> (Router, String) {
            let store = ts_redis(4).await;
            let sessions = SessionManagerLayer::new(store).with_secure(false);
            let alice = User {
                id: "alice".to_owned(),
                auth_hash: b"password-hash-of-alice".to_vec(),
            };
            let backend = Backend {
                users: Arc::new(HashMap::from([(alice.id.clone(), alice)])),
            };
            let auth = AuthManagerLayerBuilder::new(backend, sessions).build();
            let app = Router::new()
                .route("/hello", get(hello))
                .route("/login", axum::routing::post(login))
                .layer(auth);
            let response = app
                .clone()
                .oneshot(
                    axum::http::Request::post("/login")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let cookie = response
                .headers()
                .get(header::SET_COOKIE)
                .expect("login sets the session cookie")
                .to_str()
                .unwrap();
            let pair = cookie.split(';').next().unwrap().to_owned();
            (app, format!("Cookie: {pair}"))
        }
    }
}

mod actix {
    use super::*;
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use sessionward_actix::{AuthSession, SessionMiddleware};

    struct Plain {
        key: DecodingKey,
        validation: Validation,
        redis: Option<redis::aio::ConnectionManager>,
    }

    async fn plain_hello(req: HttpRequest, state: web::Data<Plain>) -> HttpResponse {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok());
        let Some(user) = verify_bearer(auth, &state.key, &state.validation) else {
            return HttpResponse::Unauthorized().finish();
        };
        floor_get(state.redis.clone()).await;
        HttpResponse::Ok().body(format!("hello {user}"))
    }

    async fn hello(session: AuthSession) -> String {
        format!("hello {}", session.user)
    }

    pub(super) async fn serve(case: &str, addr: SocketAddr) {
        match case {
            "actix-jwt" | "actix-get-jwt" => {
                let redis = if case == "actix-get-jwt" {
                    Some(seed_floor().await)
                } else {
                    None
                };
                let state = web::Data::new(Plain {
                    key: decoding_key(),
                    validation: validation(),
                    redis,
                });
                let header = plain_token().await;
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .route("/hello", web::get().to(plain_hello))
                })
                .workers(2)
                .bind(addr)
                .unwrap()
                .run();
                ready(&header);
                server.await.unwrap();
            }
            "actix-cached" | "actix-strict" | "actix-list" => {
                let (api, header) = sessionward(case).await;
                let middleware = SessionMiddleware::from_api(api);
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(middleware.clone())
                        .route("/hello", web::get().to(hello))
                })
                .workers(2)
                .bind(addr)
                .unwrap()
                .run();
                ready(&header);
                server.await.unwrap();
            }
            other => panic!("unknown case {other}"),
        }
    }
}
