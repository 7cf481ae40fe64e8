//! The transmitter over time: streams, SETs a receiver can verify, retries,
//! leases shared by two instances, polls, and a store that fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::set::SetEvent;
use super::*;
use crate::provider::{IdentityProvider, ProviderKeys, ProviderSignal};
use crate::record::RevokeReason;
use crate::store::StoreError;
use crate::testing::provider::unverified_claims;
use crate::time::{Clock, ManualClock, Timestamp};
use crate::tokens::{SigningKey, TokenConfig};
use crate::{MemoryStore, RequestContext, SessionManager, SessionPolicy, UserId};

const ED_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ed25519-private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ed25519-public.pem");
const ISSUER: &str = "https://auth.example.com";
const BILLING_SECRET: &str = "billing-bearer-secret-0123456789";
const OTHER_SECRET: &str = "other-bearer-secret-0123456789";

fn tokens() -> TokenConfig {
    TokenConfig::builder(ISSUER, "api")
        .signing_key(SigningKey::ed25519_pem("ed-1", ED_PRIVATE, ED_PUBLIC).unwrap())
        .refresh_key([9u8; 32])
        .build()
        .unwrap()
}

fn start() -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000)
}

/// What the pusher answers next (`Accepted` once the script runs out), and
/// what it was given.
#[derive(Default)]
struct ScriptedPusher {
    answers: Mutex<VecDeque<PushOutcome>>,
    pushed: Mutex<Vec<(String, Option<String>, String)>>,
    delay: Option<Duration>,
}

impl ScriptedPusher {
    fn answering(answers: impl IntoIterator<Item = PushOutcome>) -> Arc<Self> {
        Arc::new(ScriptedPusher {
            answers: Mutex::new(answers.into_iter().collect()),
            ..Default::default()
        })
    }

    fn pushed(&self) -> Vec<(String, Option<String>, String)> {
        self.pushed.lock().unwrap().clone()
    }
}

#[async_trait]
impl SetPusher for ScriptedPusher {
    async fn push(&self, url: &str, auth: Option<&PushAuthorization>, set: &str) -> PushOutcome {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        self.pushed.lock().unwrap().push((
            url.to_owned(),
            auth.map(|a| a.expose_secret().to_owned()),
            set.to_owned(),
        ));
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(PushOutcome::Accepted)
    }
}

struct Setup {
    transmitter: Transmitter,
    manager: SessionManager,
    clock: ManualClock,
    billing: Receiver,
    other: Receiver,
}

fn receivers() -> Arc<StaticReceivers> {
    Arc::new(
        StaticReceivers::new()
            .with("billing", "https://billing.example.com", BILLING_SECRET)
            .unwrap()
            .with("other", "https://other.example.com", OTHER_SECRET)
            .unwrap(),
    )
}

async fn setup_with(store: Arc<dyn SsfStore>, pusher: Option<Arc<dyn SetPusher>>) -> Setup {
    let clock = ManualClock::new(start());
    let config = TransmitterConfig::new(ISSUER)
        .unwrap()
        .retry(Duration::from_secs(2), Duration::from_secs(60))
        .unwrap()
        .push_hosts(["billing.example.com"]);
    let mut builder =
        Transmitter::builder(config, tokens(), store, receivers()).clock(Arc::new(clock.clone()));
    if let Some(p) = pusher {
        builder = builder.pusher(p);
    }
    let transmitter = builder.build().unwrap();
    let manager = SessionManager::builder(
        SessionPolicy::default(),
        tokens(),
        Arc::new(MemoryStore::new()),
    )
    .clock(Arc::new(clock.clone()))
    .signals(Arc::new(transmitter.clone()))
    .build()
    .unwrap();
    let billing = transmitter
        .authorize(Some(&format!("Bearer {BILLING_SECRET}")))
        .await
        .unwrap();
    let other = transmitter
        .authorize(Some(&format!("bearer {OTHER_SECRET}")))
        .await
        .unwrap();
    Setup {
        transmitter,
        manager,
        clock,
        billing,
        other,
    }
}

async fn setup(pusher: Option<Arc<dyn SetPusher>>) -> Setup {
    setup_with(Arc::new(MemorySsfStore::new()), pusher).await
}

fn push_body() -> Vec<u8> {
    json!({
        "delivery": {
            "method": PUSH_DELIVERY,
            "endpoint_url": "https://billing.example.com/ssf/events",
            "authorization_header": "Bearer receiver-credential",
        },
        "events_requested": [CAEP_SESSION_REVOKED, CAEP_CREDENTIAL_CHANGE],
        "description": "billing",
    })
    .to_string()
    .into_bytes()
}

fn poll_body() -> Vec<u8> {
    json!({ "delivery": { "method": POLL_DELIVERY } })
        .to_string()
        .into_bytes()
}

/// Our own receiver side, for SETs addressed to `audience`, knowing only
/// our published keys.
fn receiver_for(audience: &str) -> IdentityProvider {
    let keys = ProviderKeys::from_jwks(&tokens().jwks().to_string()).unwrap();
    IdentityProvider::new(ISSUER, audience, keys, Arc::new(MemoryStore::new()))
}

/// A push stream of billing's; its id.
async fn push_stream(s: &Setup) -> String {
    stream_of(s, &push_body()).await
}

/// A poll stream of billing's; its id.
async fn poll_stream(s: &Setup) -> String {
    stream_of(s, &poll_body()).await
}

async fn stream_of(s: &Setup, body: &[u8]) -> String {
    let created = s.transmitter.create_stream(&s.billing, body, "").await;
    created.unwrap()["stream_id"].as_str().unwrap().to_owned()
}

/// `users` each sign in and out, a millisecond apart.
async fn sign_in_and_out(s: &Setup, users: &[&str]) {
    for user in users {
        let session = sign_in(s, user).await;
        s.manager.logout(&session).await.unwrap();
        s.clock.advance(Duration::from_millis(1));
    }
}

async fn sign_in(s: &Setup, user: &str) -> crate::AuthenticatedSession {
    let login = s
        .manager
        .login(&UserId::new(user).unwrap(), &RequestContext::new())
        .await
        .unwrap();
    s.manager
        .authenticate(login.tokens.access_token.expose_secret())
        .await
        .unwrap()
}

/// CAEP 1.0 §3.1's session-revoked, §3.3's credential-change and SSF 1.0
/// §8.1.4's verification, member for member.
#[test]
fn sets_have_the_shapes_the_specs_give() {
    let at = start();
    let revoked = SetEvent::SessionRevoked {
        user: "alice".into(),
        session: "s-123".into(),
        reason: RevokeReason::Admin,
        at,
    };
    assert_eq!(
        revoked.claims(ISSUER, "https://rp.example", "st-1", "jti-1", at),
        json!({
            "iss": ISSUER,
            "jti": "jti-1",
            "iat": 1_800_000_000,
            "aud": "https://rp.example",
            "sub_id": {
                "format": "complex",
                "user": { "format": "iss_sub", "iss": ISSUER, "sub": "alice" },
                "session": { "format": "opaque", "id": "s-123" }
            },
            "events": {
                "https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
                    "event_timestamp": 1_800_000_000,
                    "initiating_entity": "admin",
                    "reason_admin": { "en": "admin" }
                }
            }
        })
    );
    let changed = SetEvent::CredentialChange {
        user: "alice".into(),
        credential_type: "fido2-roaming".into(),
        change_type: "create".into(),
        at,
    };
    assert_eq!(
        changed.claims(ISSUER, "https://rp.example", "st-1", "jti-2", at)["events"],
        json!({
            "https://schemas.openid.net/secevent/caep/event-type/credential-change": {
                "event_timestamp": 1_800_000_000,
                "credential_type": "fido2-roaming",
                "change_type": "create"
            }
        })
    );
    let verify = SetEvent::Verification {
        state: Some("VGhpcyBpcyBhbiBleGFtcGxl".into()),
    };
    let claims = verify.claims(ISSUER, "https://rp.example", "st-1", "jti-3", at);
    assert_eq!(
        claims["sub_id"],
        json!({ "format": "opaque", "id": "st-1" })
    );
    assert_eq!(
        claims["events"],
        json!({ "https://schemas.openid.net/secevent/ssf/event-type/verification": { "state": "VGhpcyBpcyBhbiBleGFtcGxl" } })
    );
    for (reason, entity) in [
        (RevokeReason::Logout, "user"),
        (RevokeReason::Evicted, "policy"),
        (RevokeReason::RefreshTokenReuse, "policy"),
        (RevokeReason::ProviderLogout, "system"),
        (RevokeReason::AccountDisabled, "admin"),
    ] {
        assert_eq!(super::set::initiating_entity(reason), entity, "{reason:?}");
    }
}

/// A logout becomes one SET per stream, signed with our key: the
/// receiver side of this crate, given only our JWKS, verifies it and reads
/// the user and the session (the `sid` of our access tokens) back.
#[tokio::test]
async fn a_logout_reaches_a_receiver_that_knows_only_our_keys() {
    let s = setup(None).await;
    let stream = s
        .transmitter
        .create_stream(&s.billing, &poll_body(), "/auth")
        .await
        .unwrap();
    let id = stream["stream_id"].as_str().unwrap();
    let session = sign_in(&s, "alice").await;
    s.manager.logout(&session).await.unwrap();
    let queued = s.transmitter.store().pending(id, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    let header = jsonwebtoken::decode_header(&queued[0].set).unwrap();
    assert_eq!(header.typ.as_deref(), Some(SET_TYP));
    assert_eq!(header.kid.as_deref(), Some("ed-1"));

    let keys = ProviderKeys::from_jwks(&tokens().jwks().to_string()).unwrap();
    let receiver = IdentityProvider::new(
        ISSUER,
        "https://billing.example.com",
        keys,
        Arc::new(MemoryStore::new()),
    );
    let event = receiver
        .validate_set(&queued[0].set, s.clock.now())
        .unwrap();
    assert_eq!(event.jti, queued[0].jti);
    assert_eq!(
        event.signal,
        ProviderSignal::SessionRevoked {
            subject: "alice".into(),
            sid: Some(session.session_id.as_str().to_owned()),
        }
    );
    // Addressed to billing: a receiver expecting another audience refuses it.
    let elsewhere = receiver_for("https://other.example.com");
    assert!(
        elsewhere
            .validate_set(&queued[0].set, s.clock.now())
            .is_err()
    );
}

/// Every ending the manager makes is signalled: revoke all, an eviction at
/// the limit, and a reuse detection, each once per session.
#[tokio::test]
async fn every_kind_of_ending_is_signalled() {
    let s = setup(None).await;
    let id = poll_stream(&s).await;
    for _ in 0..3 {
        sign_in(&s, "bob").await;
    }
    let bob = UserId::new("bob").unwrap();
    assert_eq!(
        s.manager
            .revoke_all(&bob, RevokeReason::PasswordChange)
            .await
            .unwrap(),
        3
    );
    let queued = s.transmitter.store().pending(&id, 10).await.unwrap();
    assert_eq!(queued.len(), 3);
    let sessions: std::collections::BTreeSet<String> = queued
        .iter()
        .map(|q| {
            unverified_claims(&q.set)["sub_id"]["session"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(sessions.len(), 3, "one SET per session");
    let event = &unverified_claims(&queued[0].set)["events"][CAEP_SESSION_REVOKED];
    assert_eq!(event["initiating_entity"], "user");
    assert_eq!(event["reason_admin"]["en"], "password_change");

    // A reuse detection ends the session: signalled too.
    let login = s.manager.login(&bob, &RequestContext::new()).await.unwrap();
    let old = login.tokens.refresh_token.clone();
    s.manager.refresh(&old).await.unwrap();
    s.clock.advance(Duration::from_secs(120));
    assert!(s.manager.refresh(&old).await.is_err());
    let queued = s.transmitter.store().pending(&id, 10).await.unwrap();
    let last = unverified_claims(&queued.last().unwrap().set);
    assert_eq!(
        last["events"][CAEP_SESSION_REVOKED]["reason_admin"]["en"],
        "refresh_token_reuse"
    );
}

/// A stream gets only the event types it asked for; credential changes
/// are checked against CAEP's lists.
#[tokio::test]
async fn streams_get_only_what_they_asked_for() {
    let s = setup(None).await;
    let only_credentials = json!({
        "delivery": { "method": POLL_DELIVERY },
        "events_requested": [CAEP_CREDENTIAL_CHANGE, "https://example.com/unknown-event"],
    });
    let stream = s
        .transmitter
        .create_stream(&s.billing, only_credentials.to_string().as_bytes(), "")
        .await
        .unwrap();
    assert_eq!(stream["events_delivered"], json!([CAEP_CREDENTIAL_CHANGE]));
    let id = stream["stream_id"].as_str().unwrap();
    let session = sign_in(&s, "carol").await;
    s.manager.logout(&session).await.unwrap();
    assert!(
        s.transmitter
            .store()
            .pending(id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let carol = UserId::new("carol").unwrap();
    assert_eq!(
        s.transmitter
            .credential_changed(&carol, "password", "update")
            .await
            .unwrap(),
        1
    );
    for (kind, change) in [("passwd", "update"), ("password", "rotate")] {
        assert!(matches!(
            s.transmitter.credential_changed(&carol, kind, change).await,
            Err(SsfError::InvalidRequest(_))
        ));
    }
    let queued = s.transmitter.store().pending(id, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    let claims = unverified_claims(&queued[0].set);
    assert_eq!(
        claims["sub_id"],
        json!({ "format": "iss_sub", "iss": ISSUER, "sub": "carol" })
    );
}

/// Streams belong to the receiver that made them; requests are checked.
#[tokio::test]
async fn stream_configuration_is_checked_and_private() {
    let pusher = ScriptedPusher::answering([]);
    let s = setup(Some(pusher)).await;
    let t = &s.transmitter;
    let created = t
        .create_stream(&s.billing, &push_body(), "/auth")
        .await
        .unwrap();
    let id = created["stream_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(created["iss"], ISSUER);
    assert_eq!(created["aud"], "https://billing.example.com");
    assert_eq!(
        created["delivery"],
        json!({ "method": PUSH_DELIVERY, "endpoint_url": "https://billing.example.com/ssf/events" }),
        "the authorization header is never shown back"
    );
    assert!(!created.to_string().contains("receiver-credential"));

    // Another receiver neither sees nor changes it.
    assert!(matches!(
        t.read_streams(&s.other, Some(&id), "/auth").await,
        Err(SsfError::NotFound)
    ));
    assert_eq!(
        t.read_streams(&s.other, None, "/auth").await.unwrap(),
        json!([])
    );
    assert!(matches!(
        t.delete_stream(&s.other, &id).await,
        Err(SsfError::NotFound)
    ));
    assert_eq!(
        t.read_streams(&s.billing, None, "/auth").await.unwrap(),
        json!([created.clone()])
    );

    // PATCH changes what it names; a transmitter-supplied member may be
    // sent back unchanged, never changed.
    let patch = json!({ "stream_id": id, "description": "renamed", "iss": ISSUER });
    let patched = t
        .update_stream(&s.billing, patch.to_string().as_bytes(), false, "/auth")
        .await
        .unwrap();
    assert_eq!(patched["description"], "renamed");
    assert_eq!(patched["events_requested"], created["events_requested"]);
    let forged = json!({ "stream_id": id, "aud": "https://attacker.example" });
    assert!(matches!(
        t.update_stream(&s.billing, forged.to_string().as_bytes(), false, "/auth")
            .await,
        Err(SsfError::InvalidRequest(_))
    ));
    // PUT replaces: what is absent takes its default.
    let put = json!({ "stream_id": id, "delivery": { "method": POLL_DELIVERY } });
    let replaced = t
        .update_stream(&s.billing, put.to_string().as_bytes(), true, "/auth")
        .await
        .unwrap();
    assert_eq!(replaced.get("description"), None);
    assert_eq!(
        replaced["delivery"]["endpoint_url"],
        format!("{ISSUER}/auth/ssf/poll/{id}")
    );

    for bad in [
        json!({ "delivery": { "method": PUSH_DELIVERY, "endpoint_url": "http://billing.example.com/e" } }),
        json!({ "delivery": { "method": PUSH_DELIVERY, "endpoint_url": "https://user@billing.example.com/e" } }),
        json!({ "delivery": { "method": PUSH_DELIVERY } }),
        json!({ "delivery": { "method": "urn:example:carrier-pigeon" } }),
        json!({ "delivery": { "method": POLL_DELIVERY }, "stream_id": "mine" }),
        json!({ "delivery": { "method": POLL_DELIVERY }, "unknown": 1 }),
        json!({ "events_requested": vec!["https://e.example"; 40] }),
        json!({ "description": "x".repeat(300) }),
        json!([1, 2]),
    ] {
        assert!(
            matches!(
                t.create_stream(&s.billing, bad.to_string().as_bytes(), "")
                    .await,
                Err(SsfError::InvalidRequest(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        t.create_stream(&s.billing, b"\xff not json", "").await,
        Err(SsfError::InvalidRequest(_))
    ));

    // At most MAX_STREAMS_PER_RECEIVER streams each.
    for _ in 1..MAX_STREAMS_PER_RECEIVER {
        t.create_stream(&s.billing, &poll_body(), "").await.unwrap();
    }
    assert!(matches!(
        t.create_stream(&s.billing, &poll_body(), "").await,
        Err(SsfError::Conflict(_))
    ));
    t.create_stream(&s.other, &poll_body(), "").await.unwrap();
    t.delete_stream(&s.billing, &id).await.unwrap();
    assert!(matches!(
        t.read_streams(&s.billing, Some(&id), "").await,
        Err(SsfError::NotFound)
    ));
}

/// Without a pusher only poll streams can be made, and the metadata says so.
#[tokio::test]
async fn push_needs_a_pusher() {
    let s = setup(None).await;
    assert!(matches!(
        s.transmitter
            .create_stream(&s.billing, &push_body(), "")
            .await,
        Err(SsfError::InvalidRequest(_))
    ));
    let meta = s.transmitter.metadata("/auth");
    assert_eq!(meta["delivery_methods_supported"], json!([POLL_DELIVERY]));
    assert_eq!(
        meta["configuration_endpoint"],
        format!("{ISSUER}/auth/ssf/stream")
    );
    assert_eq!(meta["jwks_uri"], format!("{ISSUER}/auth/ssf/jwks"));
    assert_eq!(meta["spec_version"], "1_0");
}

/// Push hosts can be pinned; loopback `http` only where allowed.
#[test]
fn push_endpoints_are_https_on_allowed_hosts() {
    let pinned = TransmitterConfig::new(ISSUER)
        .unwrap()
        .push_hosts(["Billing.example.com"]);
    assert!(pinned.push_url_allowed("https://billing.example.com/events"));
    assert!(!pinned.push_url_allowed("https://internal.example.com/events"));
    assert!(!pinned.push_url_allowed("https://billing.example.com.evil/events"));
    let unset = TransmitterConfig::new(ISSUER).unwrap();
    assert!(
        !unset.push_url_allowed("https://billing.example.com/events"),
        "no push without a host list"
    );
    let open = TransmitterConfig::new(ISSUER).unwrap().any_push_host();
    assert!(open.push_url_allowed("https://anywhere.example.net/events"));
    assert!(!open.push_url_allowed("http://127.0.0.1:8080/events"));
    assert!(!open.push_url_allowed("https://billing.example.com/events#frag"));
    assert!(!open.push_url_allowed("https://billing.example.com:99999/events"));
    assert!(!open.push_url_allowed("https://bill ing.example.com/"));
    let local = TransmitterConfig::new_allowing_http_loopback("http://127.0.0.1:1").unwrap();
    assert!(local.push_url_allowed("http://127.0.0.1:8080/events"));
    assert!(local.push_url_allowed("http://[::1]:8080/events"));
    assert!(!local.push_url_allowed("http://192.168.1.10/events"));
    assert!(TransmitterConfig::new_allowing_http_loopback("http://example.com").is_err());
    assert!(TransmitterConfig::new("https://example.com/?q").is_err());
    assert!(TransmitterConfig::new("ftp://example.com").is_err());
    assert!(
        TransmitterConfig::new(ISSUER)
            .unwrap()
            .retry(Duration::ZERO, Duration::ZERO)
            .is_err()
    );
}

/// An HS256 key cannot sign SETs other services verify.
#[test]
fn a_shared_secret_key_is_refused() {
    let hs = TokenConfig::builder(ISSUER, "api")
        .signing_key(SigningKey::hs256("k", &[7u8; 32]).unwrap())
        .refresh_key([9u8; 32])
        .build()
        .unwrap();
    let built = Transmitter::builder(
        TransmitterConfig::new(ISSUER).unwrap(),
        hs,
        Arc::new(MemorySsfStore::new()),
        receivers(),
    )
    .build();
    assert!(matches!(built, Err(TransmitterConfigError::SymmetricKey)));
}

/// Paused streams keep what happens and deliver it once enabled; disabled
/// streams drop what they held and take nothing new.
#[tokio::test]
async fn pausing_holds_and_disabling_drops() {
    let pusher = ScriptedPusher::answering([]);
    let s = setup(Some(pusher.clone())).await;
    let t = &s.transmitter;
    let id = push_stream(&s).await;
    let status = |status: &str| {
        json!({ "stream_id": id, "status": status, "reason": "maintenance" })
            .to_string()
            .into_bytes()
    };
    let answer = t
        .set_stream_status(&s.billing, &status("paused"))
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({ "stream_id": id, "status": "paused", "reason": "maintenance" })
    );
    assert_eq!(t.stream_status(&s.billing, &id).await.unwrap(), answer);
    let session = sign_in(&s, "dave").await;
    s.manager.logout(&session).await.unwrap();
    assert_eq!(t.deliver_due().await.unwrap().delivered, 0);
    assert!(pusher.pushed().is_empty());
    t.set_stream_status(&s.billing, &status("enabled"))
        .await
        .unwrap();
    assert_eq!(t.deliver_due().await.unwrap().delivered, 1);
    let (url, auth, _) = &pusher.pushed()[0];
    assert_eq!(url, "https://billing.example.com/ssf/events");
    assert_eq!(auth.as_deref(), Some("Bearer receiver-credential"));

    t.set_stream_status(&s.billing, &status("paused"))
        .await
        .unwrap();
    sign_in(&s, "dave").await;
    s.manager
        .revoke_all(&UserId::new("dave").unwrap(), RevokeReason::Admin)
        .await
        .unwrap();
    assert_eq!(t.store().pending(&id, 10).await.unwrap().len(), 1);
    t.set_stream_status(&s.billing, &status("disabled"))
        .await
        .unwrap();
    assert!(t.store().pending(&id, 10).await.unwrap().is_empty());
    sign_in(&s, "dave").await;
    s.manager
        .revoke_all(&UserId::new("dave").unwrap(), RevokeReason::Admin)
        .await
        .unwrap();
    assert!(t.store().pending(&id, 10).await.unwrap().is_empty());
    let bad = json!({ "stream_id": id, "status": "sleeping" });
    assert!(matches!(
        t.set_stream_status(&s.billing, bad.to_string().as_bytes())
            .await,
        Err(SsfError::InvalidRequest(_))
    ));
}

/// A push that fails is retried after a backoff that doubles, never
/// before, until the receiver takes it; the stream's later SETs wait
/// behind it in order. Nothing is lost, nothing is sent twice once taken.
#[tokio::test]
async fn failed_pushes_are_retried_with_backoff_until_taken() {
    let pusher = ScriptedPusher::answering([
        PushOutcome::Failed("connection refused".into()),
        PushOutcome::from_response(503, b""),
        PushOutcome::Failed("timed out".into()),
    ]);
    let s = setup(Some(pusher.clone())).await;
    let t = &s.transmitter;
    let id = push_stream(&s).await;
    sign_in_and_out(&s, &["erin", "frank"]).await;
    let report = t.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.retrying), (0, 2));
    // Nothing is due before the first backoff (2 s, less up to a fifth).
    s.clock.advance(Duration::from_millis(1_500));
    assert_eq!(t.deliver_due().await.unwrap(), DeliveryReport::default());
    s.clock.advance(Duration::from_millis(600));
    assert_eq!(t.deliver_due().await.unwrap().retrying, 2);
    let attempts: Vec<u32> = t
        .store()
        .pending(&id, 10)
        .await
        .unwrap()
        .iter()
        .map(|i| i.attempts)
        .collect();
    assert_eq!(attempts, [2, 2]);
    // The second retry waits 4 s (3.2 at the earliest).
    s.clock.advance(Duration::from_millis(3_100));
    assert_eq!(t.deliver_due().await.unwrap(), DeliveryReport::default());
    s.clock.advance(Duration::from_millis(1_000));
    assert_eq!(t.deliver_due().await.unwrap().retrying, 2);
    s.clock.advance(Duration::from_secs(9));
    let report = t.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.retrying), (2, 0));
    assert!(t.store().pending(&id, 10).await.unwrap().is_empty());
    let pushed = pusher.pushed();
    assert_eq!(
        pushed.len(),
        5,
        "three failures, then the two SETs once each"
    );
    let subjects: Vec<String> = pushed[3..]
        .iter()
        .map(|(_, _, set)| {
            unverified_claims(set)["sub_id"]["user"]["sub"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(subjects, ["erin", "frank"], "in order");
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(t.deliver_due().await.unwrap(), DeliveryReport::default());
}

/// The backoff doubles up to its ceiling.
#[tokio::test]
async fn backoff_doubles_to_the_ceiling() {
    let s = setup(None).await;
    for (attempts, full) in [(0, 2), (1, 4), (2, 8), (4, 32), (5, 60), (40, 60)] {
        let wait = s.transmitter.backoff(attempts);
        let full = Duration::from_secs(full);
        assert!(
            wait <= full && wait >= full.mul_f64(0.8),
            "{attempts}: {wait:?}"
        );
    }
}

/// A receiver's final refusal drops that SET (and only it); SETs nobody
/// took within the retention are dropped too.
#[tokio::test]
async fn refused_sets_are_dropped_and_old_ones_expire() {
    let pusher = ScriptedPusher::answering([
        PushOutcome::from_response(400, br#"{"err":"invalid_audience","description":"no"}"#),
        PushOutcome::Failed("down".into()),
    ]);
    let s = setup(Some(pusher.clone())).await;
    let t = &s.transmitter;
    let id = push_stream(&s).await;
    sign_in_and_out(&s, &["gina", "hank"]).await;
    let report = t.deliver_due().await.unwrap();
    assert_eq!((report.refused, report.retrying), (1, 1));
    assert_eq!(t.store().pending(&id, 10).await.unwrap().len(), 1);
    s.clock.advance(DEFAULT_RETENTION + Duration::from_secs(1));
    let report = t.deliver_due().await.unwrap();
    assert_eq!((report.expired, report.delivered), (1, 0));
    assert!(t.store().pending(&id, 10).await.unwrap().is_empty());
}

/// Two instances delivering from one outbox at once push each SET once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_the_outbox_without_duplicates() {
    let store: Arc<dyn SsfStore> = Arc::new(MemorySsfStore::new());
    let slow = Arc::new(ScriptedPusher {
        delay: Some(Duration::from_millis(5)),
        ..Default::default()
    });
    let a = setup_with(store.clone(), Some(slow.clone())).await;
    let b = setup_with(store.clone(), Some(slow.clone())).await;
    a.transmitter
        .create_stream(&a.billing, &push_body(), "")
        .await
        .unwrap();
    for n in 0..20 {
        let session = sign_in(&a, &format!("user-{n}")).await;
        a.manager.logout(&session).await.unwrap();
    }
    let (ra, rb) = tokio::join!(a.transmitter.deliver_due(), b.transmitter.deliver_due());
    assert_eq!(ra.unwrap().delivered + rb.unwrap().delivered, 20);
    let mut jtis: Vec<String> = slow
        .pushed()
        .iter()
        .map(|(_, _, set)| unverified_claims(set)["jti"].as_str().unwrap().to_owned())
        .collect();
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), 20, "no SET pushed twice");
    assert_eq!(slow.pushed().len(), 20);
}

/// Verification requests queue a verification SET echoing the state, at
/// most one per minimum interval.
#[tokio::test]
async fn verification_echoes_state_and_is_rate_limited() {
    let s = setup(None).await;
    let t = &s.transmitter;
    let id = poll_stream(&s).await;
    let body = json!({ "stream_id": id, "state": "abc-123" }).to_string();
    t.request_verification(&s.billing, body.as_bytes())
        .await
        .unwrap();
    assert!(matches!(
        t.request_verification(&s.billing, body.as_bytes()).await,
        Err(SsfError::TooManyRequests)
    ));
    assert!(matches!(
        t.request_verification(&s.other, body.as_bytes()).await,
        Err(SsfError::NotFound)
    ));
    s.clock.advance(Duration::from_secs(30));
    t.request_verification(&s.billing, body.as_bytes())
        .await
        .unwrap();
    let queued = t.store().pending(&id, 10).await.unwrap();
    assert_eq!(queued.len(), 2);
    let claims = unverified_claims(&queued[0].set);
    assert_eq!(claims["events"][SSF_VERIFICATION]["state"], "abc-123");
    // Our own receiver takes a verification without acting on it.
    let receiver = receiver_for("https://billing.example.com");
    assert_eq!(
        receiver
            .validate_set(&queued[0].set, s.clock.now())
            .unwrap()
            .signal,
        ProviderSignal::Verification {
            stream: id.clone(),
            state: Some("abc-123".into())
        }
    );
}

/// RFC 8936: a poll acknowledges, pages with `moreAvailable`, and hands
/// unacknowledged SETs out again; without `returnImmediately` it waits for
/// one and is woken when one is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_acknowledge_page_and_wait() {
    let s = setup(None).await;
    let t = &s.transmitter;
    let id = poll_stream(&s).await;
    for n in 0..3 {
        let session = sign_in(&s, &format!("poller-{n}")).await;
        s.manager.logout(&session).await.unwrap();
    }
    let first = t
        .poll(
            &s.billing,
            &id,
            br#"{"maxEvents": 2, "returnImmediately": true}"#,
        )
        .await
        .unwrap();
    assert_eq!(first["moreAvailable"], true);
    let taken: Vec<String> = first["sets"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(taken.len(), 2);
    // Not acknowledged: handed out again.
    let again = t
        .poll(
            &s.billing,
            &id,
            br#"{"maxEvents": 2, "returnImmediately": true}"#,
        )
        .await
        .unwrap();
    assert_eq!(again["sets"], first["sets"]);
    let ack = json!({
        "ack": [taken[0]],
        "setErrs": { taken[1].clone(): { "err": "invalid_issuer", "description": "?" } },
        "returnImmediately": true,
    });
    let rest = t
        .poll(&s.billing, &id, ack.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(rest["moreAvailable"], false);
    let last: Vec<String> = rest["sets"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(last.len(), 1);
    assert!(!taken.contains(&last[0]));
    let only_ack = json!({ "ack": last, "maxEvents": 0 });
    let empty = t
        .poll(&s.billing, &id, only_ack.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(empty, json!({ "sets": {}, "moreAvailable": false }));

    // A waiting poll is answered when a SET is queued.
    let waiting = {
        let t = t.clone();
        let billing = s.billing.clone();
        let id = id.clone();
        tokio::spawn(async move { t.poll(&billing, &id, b"{}").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    let session = sign_in(&s, "late").await;
    s.manager.logout(&session).await.unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the poll was woken")
        .unwrap()
        .unwrap();
    assert_eq!(woke["sets"].as_object().unwrap().len(), 1);

    for bad in [
        &b"{\"ack\": 5}"[..],
        b"{\"maxEvents\": -1}",
        b"[]",
        b"{\"unknown\": 1}",
    ] {
        assert!(matches!(
            t.poll(&s.billing, &id, bad).await,
            Err(SsfError::InvalidRequest(_))
        ));
    }
    assert!(matches!(
        t.poll(&s.other, &id, b"{}").await,
        Err(SsfError::NotFound)
    ));
}

/// An outbox that does not answer never fails or holds up the revocation:
/// the session is ended, the failure is reported.
#[tokio::test]
async fn a_failing_outbox_never_blocks_a_revocation() {
    struct Down;
    #[async_trait]
    impl SsfStore for Down {
        async fn create_stream(&self, _: &StreamRecord) -> Result<(), StoreError> {
            Err(down())
        }
        async fn stream(&self, _: &str) -> Result<Option<StreamRecord>, StoreError> {
            Err(down())
        }
        async fn streams(&self) -> Result<Vec<StreamRecord>, StoreError> {
            Err(down())
        }
        async fn replace_stream(
            &self,
            _: &StreamRecord,
            _: u64,
        ) -> Result<StreamWrite, StoreError> {
            Err(down())
        }
        async fn delete_stream(&self, _: &str) -> Result<bool, StoreError> {
            Err(down())
        }
        async fn enqueue(&self, _: &[OutboxItem]) -> Result<(), StoreError> {
            Err(down())
        }
        async fn claim_due(
            &self,
            _: &str,
            _: Timestamp,
            _: Timestamp,
            _: usize,
        ) -> Result<Vec<OutboxItem>, StoreError> {
            Err(down())
        }
        async fn pending(&self, _: &str, _: usize) -> Result<Vec<OutboxItem>, StoreError> {
            Err(down())
        }
        async fn remove(&self, _: &str, _: &[String]) -> Result<usize, StoreError> {
            Err(down())
        }
        async fn retry_later(
            &self,
            _: &OutboxItem,
            _: Timestamp,
        ) -> Result<StreamWrite, StoreError> {
            Err(down())
        }
        async fn remove_older(&self, _: &str, _: Timestamp) -> Result<usize, StoreError> {
            Err(down())
        }
    }
    fn down() -> StoreError {
        StoreError::Unavailable("outbox down".into())
    }
    let s = setup_with(Arc::new(Down), None).await;
    let login = s
        .manager
        .login(&UserId::new("ivan").unwrap(), &RequestContext::new())
        .await
        .unwrap();
    let token = login.tokens.access_token.expose_secret().to_owned();
    let session = s.manager.authenticate(&token).await.unwrap();
    s.manager.logout(&session).await.unwrap();
    assert!(s.manager.authenticate(&token).await.is_err());
    assert!(matches!(
        s.transmitter
            .create_stream(&s.billing, &poll_body(), "")
            .await,
        Err(SsfError::Store(_))
    ));
    assert!(s.transmitter.deliver_due().await.is_err());
}

/// Receiver credentials: the bearer scheme, the exact secret.
#[tokio::test]
async fn receivers_are_known_by_their_bearer_secret() {
    let r = receivers();
    assert!(
        r.authorize(Some(&format!("Bearer {BILLING_SECRET}")))
            .await
            .is_some()
    );
    assert!(
        r.authorize(Some(&format!("Bearer {BILLING_SECRET}x")))
            .await
            .is_none()
    );
    assert!(
        r.authorize(Some(&format!("Basic {BILLING_SECRET}")))
            .await
            .is_none()
    );
    assert!(r.authorize(Some("Bearer")).await.is_none());
    assert!(r.authorize(None).await.is_none());
    assert!(matches!(
        StaticReceivers::new()
            .with("a", "b", "0123456789abcdefghij")
            .unwrap()
            .with("a", "c", "0123456789abcdefghij"),
        Err(ReceiverError::Duplicate)
    ));
}

/// A SET that waited is signed again as it goes out: same `jti`, a fresh
/// `iat` a receiver still takes; a row our keys do not verify (written by
/// someone else) is handed out as it is, never signed by us.
#[tokio::test]
async fn late_sets_are_signed_again_and_foreign_rows_never_are() {
    let s = setup(None).await;
    let t = &s.transmitter;
    let id = poll_stream(&s).await;
    sign_in_and_out(&s, &["kate"]).await;
    let queued = t.store().pending(&id, 10).await.unwrap();
    let forged = OutboxItem {
        jti: "forged".into(),
        set: "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.".into(),
        ..queued[0].clone()
    };
    t.store()
        .enqueue(std::slice::from_ref(&forged))
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(2 * 3600));
    let answer = t
        .poll(&s.billing, &id, br#"{"returnImmediately": true}"#)
        .await
        .unwrap();
    let sent = answer["sets"][&queued[0].jti].as_str().unwrap();
    assert_ne!(sent, queued[0].set, "signed again");
    let claims = unverified_claims(sent);
    assert_eq!(claims["jti"], queued[0].jti.as_str());
    assert_eq!(claims["iat"], s.clock.now().unix_seconds());
    let receiver = receiver_for("https://billing.example.com");
    assert!(receiver.validate_set(sent, s.clock.now()).is_ok());
    assert!(
        receiver
            .validate_set(&queued[0].set, s.clock.now())
            .is_err(),
        "the original is too old for an hour-long acceptance window"
    );
    assert_eq!(answer["sets"]["forged"], forged.set.as_str());
}
