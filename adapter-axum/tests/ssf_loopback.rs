//! A Shared Signals transmitter and receiver, two axum apps talking over
//! loopback TCP: the receiver registers a push stream at the transmitter
//! and verifies it; a logout at the transmitter ends the receiver's session
//! of that user; a receiver that goes away, or stops answering, loses
//! nothing: the SET waits in the outbox and arrives once it is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::{Value, json};
use sessionward_axum::{
    AdapterConfig, HyperJwksSource, HyperSetPusher, SessionApi, SessionLayer, TokenTransport,
};
use sessionward_core::provider::IdentityProvider;
use sessionward_core::ssf::{
    CAEP_SESSION_REVOKED, MemorySsfStore, PUSH_DELIVERY, SsfStore, StaticReceivers, Transmitter,
    TransmitterConfig,
};
use sessionward_core::testing::TcpProxy;
use sessionward_core::testing::http::send;
use sessionward_core::testing::web::TestRequest;
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    LoginOptions, MemoryStore, ProviderSession, RequestContext, RevokeReason, SessionManager,
    SessionPolicy, UserId,
};

const ED_PRIVATE: &[u8] = include_bytes!("../../session-core/tests/keys/ed25519-private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../../session-core/tests/keys/ed25519-public.pem");
const RECEIVER_SECRET: &str = "receiver-b-bearer-secret-0123456789";
const RECEIVER_AUDIENCE: &str = "https://b.example.com";
/// How long a SET may take to arrive in these tests (pushes are retried
/// every 100–400 ms).
const ARRIVAL: Duration = Duration::from_secs(10);

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

fn bearer() -> AdapterConfig {
    AdapterConfig::new().with_transport(TokenTransport::Bearer)
}

struct World {
    a: SocketAddr,
    issuer: String,
    transmitter: Transmitter,
    outbox: Arc<MemorySsfStore>,
    manager_a: SessionManager,
    manager_b: SessionManager,
    /// Between the transmitter's pushes and the receiver.
    proxy: TcpProxy,
}

async fn world() -> World {
    // The transmitter's address is its issuer, so bind first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = listener.local_addr().unwrap();
    let issuer = format!("http://{a}");
    let tokens = TokenConfig::builder(&issuer, "a-api")
        .signing_key(SigningKey::ed25519_pem("a-1", ED_PRIVATE, ED_PUBLIC).unwrap())
        .refresh_key([1u8; 32])
        .build()
        .unwrap();
    let outbox = Arc::new(MemorySsfStore::new());
    let config = TransmitterConfig::new_allowing_http_loopback(&issuer)
        .unwrap()
        .retry(Duration::from_millis(100), Duration::from_millis(400))
        .unwrap()
        .push_timeout(Duration::from_millis(500))
        .unwrap();
    let receivers = StaticReceivers::new()
        .with("b", RECEIVER_AUDIENCE, RECEIVER_SECRET)
        .unwrap();
    let transmitter =
        Transmitter::builder(config, tokens.clone(), outbox.clone(), Arc::new(receivers))
            .pusher(Arc::new(HyperSetPusher::plain_http()))
            .build()
            .unwrap();
    let manager_a = SessionManager::builder(
        SessionPolicy::default(),
        tokens,
        Arc::new(MemoryStore::new()),
    )
    .signals(Arc::new(transmitter.clone()))
    .build()
    .unwrap();
    let api_a = SessionApi::new(
        manager_a.clone(),
        bearer().with_ssf_transmitter(transmitter.clone()),
    )
    .unwrap();
    let router_a = Router::new().layer(SessionLayer::from_api(api_a));
    tokio::spawn(async move {
        axum::serve(
            listener,
            router_a.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    std::mem::forget(transmitter.spawn_delivery(Duration::from_millis(50)));

    // The receiver knows the transmitter by its issuer, and reads its keys
    // from the published key set's URL.
    let jwks = HyperJwksSource::plain_http(&format!("{issuer}/auth/ssf/jwks")).unwrap();
    let provider = IdentityProvider::from_key_source(
        &issuer,
        RECEIVER_AUDIENCE,
        Arc::new(jwks),
        Arc::new(MemoryStore::new()),
    )
    .await
    .unwrap();
    let tokens_b = TokenConfig::builder("https://b.example.com", "b-api")
        .signing_key(SigningKey::hs256("b-1", &[2u8; 32]).unwrap())
        .refresh_key([3u8; 32])
        .build()
        .unwrap();
    let manager_b = SessionManager::builder(
        SessionPolicy::default(),
        tokens_b,
        Arc::new(MemoryStore::new()),
    )
    .build()
    .unwrap();
    let api_b = SessionApi::new(
        manager_b.clone(),
        bearer().with_identity_provider(Arc::new(provider)),
    )
    .unwrap();
    let b = serve(Router::new().layer(SessionLayer::from_api(api_b))).await;
    let proxy = TcpProxy::start(b).await;
    World {
        a,
        issuer,
        transmitter,
        outbox,
        manager_a,
        manager_b,
        proxy,
    }
}

fn as_receiver(r: TestRequest) -> TestRequest {
    r.header("authorization", format!("Bearer {RECEIVER_SECRET}"))
}

/// Registers B's push stream at A (through the proxy) and returns its id.
async fn register(w: &World) -> String {
    let body = json!({
        "delivery": {
            "method": PUSH_DELIVERY,
            "endpoint_url": format!("http://{}/auth/security-events", w.proxy.addr),
        },
        "events_requested": [CAEP_SESSION_REVOKED],
    });
    let r = send(
        w.a,
        &as_receiver(TestRequest::new("POST", "/auth/ssf/stream").json(&body)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let stream: Value = r.json();
    stream["stream_id"].as_str().unwrap().to_owned()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < ARRIVAL,
            "{what} did not happen in {ARRIVAL:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Alice signs in at A, then at B through A (B records A's session id).
async fn signed_in_at_both(w: &World) -> (String, String) {
    let alice = UserId::new("alice").unwrap();
    let at_a = w
        .manager_a
        .login(&alice, &RequestContext::new())
        .await
        .unwrap();
    let token_a = at_a.tokens.access_token.expose_secret().to_owned();
    let session_a = w.manager_a.authenticate(&token_a).await.unwrap();
    let options = LoginOptions {
        provider: Some(
            ProviderSession::new(&w.issuer, "alice").with_sid(session_a.session_id.as_str()),
        ),
        ..LoginOptions::default()
    };
    let at_b = w
        .manager_b
        .login_with(&alice, &RequestContext::new(), options)
        .await
        .unwrap();
    (token_a, at_b.tokens.access_token.expose_secret().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_at_the_transmitter_ends_the_session_at_the_receiver() {
    let w = world().await;
    let stream = register(&w).await;
    let verify = json!({ "stream_id": stream, "state": "hello-b" });
    let r = send(
        w.a,
        &as_receiver(TestRequest::new("POST", "/auth/ssf/verify").json(&verify)),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // B took the verification SET (202): the outbox is empty again.
    until("the verification's delivery", async || {
        w.outbox.pending(&stream, 10).await.unwrap().is_empty()
    })
    .await;

    let (token_a, token_b) = signed_in_at_both(&w).await;
    assert!(w.manager_b.authenticate(&token_b).await.is_ok());
    let r = send(
        w.a,
        &TestRequest::new("POST", "/auth/logout")
            .header("authorization", format!("Bearer {token_a}")),
    )
    .await;
    assert!(r.status < 300, "logout at A: {} {}", r.status, r.body);
    until("B ending alice's session", async || {
        w.manager_b.authenticate(&token_b).await.is_err()
    })
    .await;
    // B answers 202 once it ended the session; then the SET leaves the outbox.
    until("the SET leaving the outbox", async || {
        w.outbox.pending(&stream, 10).await.unwrap().is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_outage_loses_nothing() {
    let mut w = world().await;
    let stream = register(&w).await;

    // B is gone: connections are refused.
    w.proxy.down();
    let (_, token_b) = signed_in_at_both(&w).await;
    w.manager_a
        .revoke_all(&UserId::new("alice").unwrap(), RevokeReason::Admin)
        .await
        .unwrap();
    until("a failed push", async || {
        let queued = w.outbox.pending(&stream, 10).await.unwrap();
        queued.len() == 1 && queued[0].attempts >= 2
    })
    .await;
    assert!(w.manager_b.authenticate(&token_b).await.is_ok());
    w.proxy.up().await;
    until("B ending alice's session after the outage", async || {
        w.manager_b.authenticate(&token_b).await.is_err()
    })
    .await;

    // B hangs: each push times out (500 ms) and is retried; once B answers
    // again the SET arrives.
    w.proxy.stall();
    let (_, token_b) = signed_in_at_both(&w).await;
    w.manager_a
        .revoke_all(&UserId::new("alice").unwrap(), RevokeReason::Admin)
        .await
        .unwrap();
    until("a timed-out push", async || {
        let queued = w.outbox.pending(&stream, 10).await.unwrap();
        queued.len() == 1 && queued[0].attempts >= 1
    })
    .await;
    w.proxy.resume();
    until("B ending alice's session after the stall", async || {
        w.manager_b.authenticate(&token_b).await.is_err()
    })
    .await;
    until("an empty outbox", async || {
        w.outbox.pending(&stream, 10).await.unwrap().is_empty()
    })
    .await;
    drop(w.transmitter);
}
