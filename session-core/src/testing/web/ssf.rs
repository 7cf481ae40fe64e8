//! Shared HTTP case for the Shared Signals transmitter's routes, as a
//! receiver calls them.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{AdapterHarness, TestRequest, TestResponse, bearer, fixture};
use crate::ids::UserId;
use crate::policy::SessionPolicy;
use crate::ssf::{
    CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED, MemorySsfStore, POLL_DELIVERY, SSF_VERIFICATION,
    StaticReceivers, Transmitter, TransmitterConfig,
};
use crate::tokens::{SigningKey, TokenConfig};

const ED_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/ed25519-private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../../../tests/keys/ed25519-public.pem");
const ISSUER: &str = "https://transmitter.example.com";
const SECRET: &str = "receiver-one-bearer-secret-0123";
const OTHER_SECRET: &str = "receiver-two-bearer-secret-0123";

/// A transmitter signing with an Ed25519 key, two known receivers.
pub fn test_transmitter() -> Transmitter {
    let tokens = TokenConfig::builder(ISSUER, "api")
        .signing_key(SigningKey::ed25519_pem("ssf-1", ED_PRIVATE, ED_PUBLIC).unwrap())
        .refresh_key([4u8; 32])
        .build()
        .unwrap();
    let receivers = StaticReceivers::new()
        .with("one", "https://one.example.com", SECRET)
        .unwrap()
        .with("two", "https://two.example.com", OTHER_SECRET)
        .unwrap();
    Transmitter::builder(
        TransmitterConfig::new(ISSUER).unwrap(),
        tokens,
        Arc::new(MemorySsfStore::new()),
        Arc::new(receivers),
    )
    .build()
    .unwrap()
}

fn as_receiver(r: TestRequest, secret: &str) -> TestRequest {
    r.header("authorization", format!("Bearer {secret}"))
}

fn call(method: &'static str, path: &str, body: Option<Value>) -> TestRequest {
    let r = TestRequest::new(method, path);
    as_receiver(
        match body {
            Some(b) => r.json(&b),
            None => r,
        },
        SECRET,
    )
}

fn assert_ssf_error(r: &TestResponse, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_eq!(r.json()["error"], error, "{}", r.body);
}

/// The transmitter's routes: absent unless configured; the metadata at the
/// well-known path; everything else only for a receiver with valid
/// credentials (401 with `WWW-Authenticate: Bearer` otherwise); stream
/// create (201), read (one or all), update, replace, delete (204), status,
/// verification (204, then 429), RFC 8936 polls that acknowledge; another
/// receiver's stream is 404; wrong methods are 405 with `Allow`; our JWKS
/// is served for the SET keys.
pub async fn ssf_routes_over_http<H: AdapterHarness>() {
    let plain = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let r = plain
        .app
        .send(TestRequest::new("GET", "/.well-known/ssf-configuration"))
        .await;
    assert_eq!(r.status, 404, "not served unless configured");

    let transmitter = test_transmitter();
    let fx = fixture::<H>(
        bearer().with_ssf_transmitter(transmitter.clone()),
        SessionPolicy::default(),
    )
    .await;
    let r = fx
        .app
        .send(TestRequest::new("GET", "/.well-known/ssf-configuration"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let meta = r.json();
    assert_eq!(meta["issuer"], ISSUER);
    assert_eq!(
        meta["configuration_endpoint"],
        format!("{ISSUER}/auth/ssf/stream")
    );
    assert_eq!(
        meta["verification_endpoint"],
        format!("{ISSUER}/auth/ssf/verify")
    );
    let r = fx
        .app
        .send(TestRequest::new("POST", "/.well-known/ssf-configuration"))
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.one("allow"), Some("GET, HEAD"));
    let jwks = fx.app.send(TestRequest::new("GET", "/auth/ssf/jwks")).await;
    assert_eq!(jwks.status, 200, "the SET keys' JWKS: {}", jwks.body);
    assert_eq!(jwks.json(), transmitter.jwks());
    assert_eq!(jwks.json()["keys"][0]["kid"], "ssf-1");
    assert_eq!(meta["jwks_uri"], format!("{ISSUER}/auth/ssf/jwks"));

    for (method, path) in [
        ("GET", "/auth/ssf/stream"),
        ("POST", "/auth/ssf/stream"),
        ("POST", "/auth/ssf/verify"),
        ("POST", "/auth/ssf/poll/0123abcd"),
    ] {
        let r = fx.app.send(TestRequest::new(method, path)).await;
        assert_ssf_error(&r, 401, "invalid_token");
        assert_eq!(r.one("www-authenticate"), Some("Bearer"));
        let r = fx
            .app
            .send(as_receiver(
                TestRequest::new(method, path),
                "wrong-secret-wrong-secret",
            ))
            .await;
        assert_eq!(r.status, 401);
    }

    let create = json!({
        "delivery": { "method": POLL_DELIVERY },
        "events_requested": [CAEP_SESSION_REVOKED, CAEP_CREDENTIAL_CHANGE],
        "description": "over http",
    });
    let r = fx
        .app
        .send(call("POST", "/auth/ssf/stream", Some(create)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let stream = r.json();
    let id = stream["stream_id"].as_str().unwrap().to_owned();
    let poll_url = format!("{ISSUER}/auth/ssf/poll/{id}");
    assert_eq!(stream["delivery"]["endpoint_url"], poll_url);
    assert_eq!(stream["aud"], "https://one.example.com");

    let r = fx.app.send(call("GET", "/auth/ssf/stream", None)).await;
    assert_eq!((r.status, r.json()), (200, json!([stream.clone()])));
    let one = format!("/auth/ssf/stream?stream_id={id}");
    let r = fx.app.send(call("GET", &one, None)).await;
    assert_eq!((r.status, r.json()), (200, stream.clone()));
    let theirs = fx
        .app
        .send(as_receiver(
            TestRequest::new("GET", one.as_str()),
            OTHER_SECRET,
        ))
        .await;
    assert_ssf_error(&theirs, 404, "not_found");
    let r = fx
        .app
        .send(call("GET", "/auth/ssf/stream?stream=x", None))
        .await;
    assert_ssf_error(&r, 400, "invalid_request");

    let patch = json!({ "stream_id": id, "description": "patched" });
    let r = fx
        .app
        .send(call("PATCH", "/auth/ssf/stream", Some(patch)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["description"], "patched");
    let put = json!({ "stream_id": id, "delivery": { "method": POLL_DELIVERY }, "events_requested": [CAEP_CREDENTIAL_CHANGE] });
    let r = fx
        .app
        .send(call("PUT", "/auth/ssf/stream", Some(put)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["events_delivered"],
        json!([CAEP_CREDENTIAL_CHANGE])
    );
    let r = fx
        .app
        .send(call(
            "POST",
            "/auth/ssf/stream",
            Some(json!({ "stream_id": "x" })),
        ))
        .await;
    assert_ssf_error(&r, 400, "invalid_request");

    let status = format!("/auth/ssf/status?stream_id={id}");
    let r = fx.app.send(call("GET", &status, None)).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({ "stream_id": id, "status": "enabled" }))
    );
    let pause = json!({ "stream_id": id, "status": "paused" });
    let r = fx
        .app
        .send(call("POST", "/auth/ssf/status", Some(pause)))
        .await;
    assert_eq!(r.json()["status"], "paused");
    let enable = json!({ "stream_id": id, "status": "enabled" });
    fx.app
        .send(call("POST", "/auth/ssf/status", Some(enable)))
        .await;

    let verify = json!({ "stream_id": id, "state": "opaque-state" });
    let r = fx
        .app
        .send(call("POST", "/auth/ssf/verify", Some(verify.clone())))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = fx
        .app
        .send(call("POST", "/auth/ssf/verify", Some(verify)))
        .await;
    assert_ssf_error(&r, 429, "too_many_requests");
    transmitter
        .credential_changed(&UserId::new("alice").unwrap(), "password", "update")
        .await
        .unwrap();

    let poll_path = format!("/auth/ssf/poll/{id}");
    let r = fx
        .app
        .send(call(
            "POST",
            &poll_path,
            Some(json!({ "returnImmediately": true })),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sets = r.json()["sets"].as_object().unwrap().clone();
    assert_eq!(sets.len(), 2, "the verification and the credential change");
    let kinds: Vec<String> = sets
        .values()
        .map(|set| {
            let claims = crate::testing::provider::unverified_claims(set.as_str().unwrap());
            claims["events"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone()
        })
        .collect();
    assert!(kinds.contains(&SSF_VERIFICATION.to_owned()), "{kinds:?}");
    let acks: Vec<&String> = sets.keys().collect();
    let r = fx
        .app
        .send(call(
            "POST",
            &poll_path,
            Some(json!({ "ack": acks, "returnImmediately": true })),
        ))
        .await;
    assert_eq!(r.json(), json!({ "sets": {}, "moreAvailable": false }));
    let r = fx
        .app
        .send(as_receiver(
            TestRequest::new("POST", poll_path.as_str()).json(&json!({})),
            OTHER_SECRET,
        ))
        .await;
    assert_ssf_error(&r, 404, "not_found");

    let r = fx.app.send(call("GET", "/auth/ssf/verify", None)).await;
    assert_eq!((r.status, r.one("allow")), (405, Some("POST")));
    let r = fx.app.send(call("PATCH", "/auth/ssf/status", None)).await;
    assert_eq!((r.status, r.one("allow")), (405, Some("GET, HEAD, POST")));
    let r = fx.app.send(call("GET", &poll_path, None)).await;
    assert_eq!(r.status, 405);

    let delete = format!("/auth/ssf/stream?stream_id={id}");
    let r = fx.app.send(call("DELETE", &delete, None)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = fx.app.send(call("DELETE", &delete, None)).await;
    assert_ssf_error(&r, 404, "not_found");
    let r = fx.app.send(call("DELETE", "/auth/ssf/stream", None)).await;
    assert_ssf_error(&r, 400, "invalid_request");
}
