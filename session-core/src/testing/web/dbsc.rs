//! Shared HTTP cases for Device Bound Session Credentials with the cookie
//! transport, driven by a protocol-level browser written here: it answers
//! the registration offer with a P-256 key, lets the bound cookie expire
//! on the injected clock, and refreshes it through the 403 challenge flow.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    AdapterHarness, Device, Fixture, TestRequest, TestResponse, as_cookies, chrome, cookies,
    fixture,
};
use crate::binding::{DbscMode, DbscPolicy};
use crate::policy::SessionPolicy;
use crate::testing::dpop::DpopKey;

/// The bound cookie's (the access token's) lifetime in these cases.
const BOUND_SECS: u64 = 300;

fn policy(dbsc: DbscPolicy) -> SessionPolicy {
    SessionPolicy::builder()
        .access_token_ttl(Duration::from_secs(BOUND_SECS))
        .dbsc(dbsc)
        .build()
        .unwrap()
}

async fn start<H: AdapterHarness>(dbsc: DbscPolicy) -> Fixture<H> {
    fixture::<H>(cookies(), policy(dbsc)).await
}

/// The `(path, challenge)` of a `Secure-Session-Registration` offer.
fn offer(r: &TestResponse) -> Option<(String, String)> {
    let v = r.one("secure-session-registration")?;
    assert!(v.starts_with("(ES256);"), "only ES256 is offered: {v}");
    let param = |name: &str| {
        let start = v.find(&format!("{name}=\""))? + name.len() + 2;
        let len = v[start..].find('"')?;
        Some(v[start..start + len].to_owned())
    };
    Some((param("path")?, param("challenge")?))
}

/// The `(challenge, id)` of a `Secure-Session-Challenge` header.
fn challenge_of(r: &TestResponse) -> (String, String) {
    let v = r
        .one("secure-session-challenge")
        .unwrap_or_else(|| panic!("a challenge: {} {}", r.status, r.body));
    let (challenge, id) = v.split_once(";id=").unwrap();
    (
        challenge.trim_matches('"').to_owned(),
        id.trim_matches('"').to_owned(),
    )
}

/// A browser with DBSC: cookies, a device key, the session identifier and
/// the challenge it cached from the last answer.
struct Browser {
    device: Device,
    key: DpopKey,
    session_identifier: Option<String>,
    cached_challenge: Option<String>,
}

impl Browser {
    async fn sign_in<H: AdapterHarness>(
        fx: &Fixture<H>,
        user: &str,
    ) -> (Self, Option<(String, String)>) {
        let mut device = as_cookies(chrome());
        let r = device.login(&fx.app, user).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let browser = Browser {
            device,
            key: DpopKey::p256(),
            session_identifier: None,
            cached_challenge: None,
        };
        (browser, offer(&r))
    }

    /// A `dbsc+jwt` over `challenge` by this browser's key; with the public
    /// key in the header (registration) or not (refresh).
    fn jwt(&self, challenge: &str, with_key: bool) -> String {
        let mut header = json!({"typ": "dbsc+jwt", "alg": "ES256"});
        if with_key {
            header["jwk"] = self.key.jwk().clone();
        }
        self.key.sign(&header, &json!({ "jti": challenge }))
    }

    fn take_instructions(&mut self, r: &TestResponse) {
        let v: Value = r.json();
        self.session_identifier = v["session_identifier"].as_str().map(str::to_owned);
        self.cached_challenge = Some(challenge_of(r).0);
    }

    async fn register<H: AdapterHarness>(
        &mut self,
        fx: &Fixture<H>,
        path: &str,
        jwt: String,
    ) -> TestResponse {
        let req = self
            .device
            .request("POST", path)
            .header("secure-session-response", jwt);
        // The browser sends no CSRF header of ours.
        let req = without_csrf(req);
        let r = self.device.send(&fx.app, req).await;
        if r.status == 200 {
            self.take_instructions(&r);
        }
        r
    }

    /// One DBSC refresh request, as the browser sends it.
    async fn refresh_request<H: AdapterHarness>(
        &mut self,
        fx: &Fixture<H>,
        jwt: Option<String>,
    ) -> TestResponse {
        let mut req = self.device.request("POST", "/auth/dbsc/refresh");
        if let Some(id) = &self.session_identifier {
            req = req.header("sec-secure-session-id", format!("\"{id}\""));
        }
        if let Some(jwt) = jwt {
            req = req.header("secure-session-response", jwt);
        }
        let r = self.device.send(&fx.app, without_csrf(req)).await;
        if r.status == 200 && r.json().get("session_identifier").is_some() {
            self.take_instructions(&r);
        }
        r
    }

    /// The whole refresh as Chrome does it: the cached challenge signed
    /// ahead, or the 403 step first.
    async fn refresh<H: AdapterHarness>(&mut self, fx: &Fixture<H>) -> TestResponse {
        let first = self.cached_challenge.take().map(|c| self.jwt(&c, false));
        let r = self.refresh_request(fx, first).await;
        if r.status != 403 {
            return r;
        }
        let (challenge, id) = challenge_of(&r);
        assert_eq!(Some(&id), self.session_identifier.as_ref());
        let jwt = self.jwt(&challenge, false);
        self.refresh_request(fx, Some(jwt)).await
    }

    /// Lets the bound cookie expire, as the browser's jar does.
    fn wait_out_bound_cookie<H>(&mut self, fx: &Fixture<H>) {
        fx.clock.advance(Duration::from_secs(BOUND_SECS + 1));
        self.device.drop_access();
    }
}

fn without_csrf(mut req: TestRequest) -> TestRequest {
    req.headers.retain(|(n, _)| n != "x-csrf-token");
    req
}

/// Registers a key for a fresh sign-in of `user`.
async fn registered<H: AdapterHarness>(fx: &Fixture<H>, user: &str) -> Browser {
    let (mut b, offer) = Browser::sign_in(fx, user).await;
    let (path, challenge) = offer.expect("a cookie sign-in offers DBSC");
    let jwt = b.jwt(&challenge, true);
    let r = b.register(fx, &path, jwt).await;
    assert_eq!(r.status, 200, "{}", r.body);
    b
}

fn events<H>(fx: &Fixture<H>, name: &str) -> Vec<crate::events::SecurityEvent> {
    fx.events
        .events()
        .into_iter()
        .filter(|e| e.kind.name() == name)
        .collect()
}

/// A cookie sign-in offers registration; the browser's key binds the
/// session (instructions JSON, a bound cookie as short-lived as its JWT,
/// a cached challenge), the list says so, and a challenge is good for one
/// registration, one session and one step only.
pub async fn dbsc_registration_binds_the_cookie_session<H: AdapterHarness>() {
    let fx = start::<H>(DbscPolicy::default()).await;
    let (mut b, offer) = Browser::sign_in(&fx, "alice").await;
    let (path, challenge) = offer.expect("offered");
    assert_eq!(path, "/auth/dbsc/register");

    // Someone else's challenge, a refresh challenge, an unsigned or HMAC
    // JWT, and a JWT with no key are all refused, and bind nothing.
    let (other, other_offer) = Browser::sign_in(&fx, "bob").await;
    let foreign = other.jwt(&other_offer.unwrap().1, true);
    let header = json!({"typ": "dbsc+jwt", "alg": "none", "jwk": b.key.jwk()});
    let unsigned = DpopKey::unsigned(&header, &json!({ "jti": challenge }));
    let hmac = b.key.hmac_signed(b"secret", &json!({ "jti": challenge }));
    let keyless = b.jwt(&challenge, false);
    let wrong_typ = b.key.sign(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": b.key.jwk()}),
        &json!({ "jti": challenge }),
    );
    for (what, jwt) in [
        ("another session's challenge", foreign),
        ("alg none", unsigned),
        ("HMAC", hmac),
        ("no key", keyless),
        ("wrong typ", wrong_typ),
    ] {
        let r = b.register(&fx, &path, jwt).await;
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        assert!(r.all("set-cookie").is_empty(), "{what}");
    }
    assert!(events(&fx, "authn_session_key_bound").is_empty());

    let jwt = b.jwt(&challenge, true);
    let r = b.register(&fx, &path, jwt.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    let v: Value = r.json();
    assert_eq!(v["refresh_url"], "/auth/dbsc/refresh");
    assert_eq!(v["scope"]["include_site"], false);
    assert_eq!(v["credentials"][0]["type"], "cookie");
    assert_eq!(v["credentials"][0]["name"], crate::web::ACCESS_COOKIE);
    assert_eq!(
        v["credentials"][0]["attributes"],
        "Path=/; Secure; HttpOnly; SameSite=Lax"
    );
    let label = v["session_identifier"].as_str().unwrap();
    assert_eq!(label.len(), 22);
    assert_ne!(
        Some(label),
        b.device.session_id.as_deref(),
        "derived, not the id"
    );
    let access = r
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("__Host-sw_access="))
        .unwrap();
    assert!(
        access.contains(&format!("; Max-Age={BOUND_SECS};")),
        "the bound cookie lives as long as its JWT: {access}"
    );
    assert_eq!(challenge_of(&r).1, label);
    assert_eq!(events(&fx, "authn_session_key_bound").len(), 1);
    assert_eq!(b.device.hello(&fx.app).await.status, 200);
    let list = b.device.sessions(&fx.app).await.json();
    let mine = &list["sessions"][0];
    assert_eq!(mine["binding"], "dbsc", "{list}");
    assert_eq!(mine["binding_text"], "Bound to this browser's device key");

    // The same JWT again, and a second registration, bind nothing more.
    assert_eq!(b.register(&fx, &path, jwt).await.status, 403);
    let again = b.jwt(&challenge, true);
    assert_eq!(b.register(&fx, &path, again).await.status, 403);
    assert_eq!(events(&fx, "authn_session_key_bound").len(), 1);

    // The origin trial's JWT (the key in the claims) registers too.
    let (mut old, offer) = Browser::sign_in(&fx, "carol").await;
    let (path, challenge) = offer.unwrap();
    let header = json!({"typ": "dbsc+jwt", "alg": "ES256"});
    let jwt = old
        .key
        .sign(&header, &json!({ "jti": challenge, "key": old.key.jwk() }));
    assert_eq!(old.register(&fx, &path, jwt).await.status, 200);

    // A registration challenge expires.
    let (mut late, offer) = Browser::sign_in(&fx, "dave").await;
    let (path, challenge) = offer.unwrap();
    fx.clock.advance(Duration::from_secs(301));
    let jwt = late.jwt(&challenge, true);
    assert_eq!(late.register(&fx, &path, jwt).await.status, 403);

    // Off: no offer, and the route registers nothing.
    let fx = start::<H>(DbscPolicy {
        mode: DbscMode::Off,
        ..DbscPolicy::default()
    })
    .await;
    let (mut b, offer) = Browser::sign_in(&fx, "alice").await;
    assert!(offer.is_none());
    let jwt = b.jwt("anything", true);
    assert_eq!(
        b.register(&fx, "/auth/dbsc/register", jwt).await.status,
        403
    );
}

/// After the bound cookie's lifetime, the browser renews it through the
/// challenge flow with its key, many times over; a cached challenge skips
/// the 403 step; a signed answer played again is refused and logged; a
/// session identifier that is not this session's ends nothing but the
/// browser's device session.
pub async fn dbsc_refresh_with_the_device_key<H: AdapterHarness>() {
    let fx = start::<H>(DbscPolicy::default()).await;
    let mut b = registered(&fx, "alice").await;
    for round in 0..4 {
        b.wait_out_bound_cookie(&fx);
        let r = b.device.hello(&fx.app).await;
        assert_eq!(r.status, 401, "round {round}: the bound cookie is gone");
        // Every other round the cached challenge is stale: the 403 step.
        if round % 2 == 1 {
            fx.clock.advance(Duration::from_secs(300));
        }
        let r = b.refresh(&fx).await;
        assert_eq!(r.status, 200, "round {round}: {}", r.body);
        assert_eq!(b.device.hello(&fx.app).await.status, 200, "round {round}");
    }

    // The protocol's first step: a challenge for this session.
    b.cached_challenge = None;
    let r = b.refresh_request(&fx, None).await;
    assert_eq!(r.status, 403);
    assert!(r.all("set-cookie").is_empty());
    let (challenge, id) = challenge_of(&r);
    assert_eq!(Some(&id), b.session_identifier.as_ref());
    let signed = b.jwt(&challenge, false);
    assert_eq!(
        b.refresh_request(&fx, Some(signed.clone())).await.status,
        200
    );
    // The same signed answer again: refused, logged, and a new challenge.
    let before = events(&fx, "authn_key_proof_failed").len();
    let r = b.refresh_request(&fx, Some(signed)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.all("set-cookie").is_empty());
    assert_ne!(challenge_of(&r).0, challenge);
    let failed = events(&fx, "authn_key_proof_failed");
    assert_eq!(failed.len(), before + 1);
    assert_eq!(
        failed.last().unwrap().kind,
        crate::events::EventKind::KeyProofFailed {
            error: "the proof was already used".into(),
            revoked: false
        }
    );
    assert_eq!(b.device.hello(&fx.app).await.status, 200, "nothing ended");

    // Another session's identifier: this browser's device session is over.
    let saved = b
        .session_identifier
        .replace("AAAAAAAAAAAAAAAAAAAAAA".into());
    let r = b.refresh_request(&fx, None).await;
    assert_eq!((r.status, r.json()), (200, json!({"continue": false})));
    b.session_identifier = saved;
    assert_eq!(b.refresh(&fx).await.status, 200, "our session is untouched");
}

/// Cookies copied from a device-bound session: usable only until the
/// bound cookie's lifetime ends; then neither the plain refresh route nor
/// the DBSC one renews them without the key, a refresh signed by the
/// thief's own key ends the session (by policy), and an older refresh
/// cookie is a reuse like any other.
pub async fn dbsc_copied_cookies_are_useless_without_the_key<H: AdapterHarness>() {
    let fx = start::<H>(DbscPolicy::default()).await;
    let mut owner = registered(&fx, "alice").await;
    let mut thief = Browser {
        device: owner.device.clone(),
        key: DpopKey::p256(),
        session_identifier: owner.session_identifier.clone(),
        cached_challenge: None,
    };
    assert_eq!(
        thief.device.hello(&fx.app).await.status,
        200,
        "within the lifetime"
    );
    fx.clock.advance(Duration::from_secs(BOUND_SECS + 1));
    // The thief keeps the expired cookie; it grants nothing.
    assert_eq!(thief.device.hello(&fx.app).await.status, 401);
    // The plain refresh route refuses a device-bound refresh cookie, and
    // ends nothing: the owner's page may call it too.
    let r = thief.device.refresh(&fx.app).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["error"], "device_bound_session");
    assert!(r.all("set-cookie").is_empty());
    // The DBSC route wants the key.
    let r = thief.refresh_request(&fx, None).await;
    assert_eq!(r.status, 403);
    owner.device.drop_access();
    assert_eq!(owner.refresh(&fx).await.status, 200, "the owner renews");
    assert_eq!(owner.device.hello(&fx.app).await.status, 200);

    // The thief's copy is now an old refresh cookie: past the grace
    // window, a reuse.
    fx.clock.advance(Duration::from_secs(60));
    let r = thief.device.refresh(&fx.app).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["reason"], "refresh_token_reuse", "{}", r.body);
    assert_eq!(owner.device.hello(&fx.app).await.status, 401);

    // A fresh theft, answered with the thief's own key: key mismatch, the
    // session ends (`key_proof_failed`), the browser is told to stop.
    let mut owner = registered(&fx, "bob").await;
    let mut thief = Browser {
        device: owner.device.clone(),
        key: DpopKey::p256(),
        session_identifier: owner.session_identifier.clone(),
        cached_challenge: owner.cached_challenge.clone(),
    };
    thief.wait_out_bound_cookie(&fx);
    let r = thief.refresh(&fx).await;
    assert_eq!((r.status, r.json()), (200, json!({"continue": false})));
    let failed = events(&fx, "authn_key_proof_failed");
    assert_eq!(
        failed.last().unwrap().kind,
        crate::events::EventKind::KeyProofFailed {
            error: "the proof signature is invalid".into(),
            revoked: true
        }
    );
    owner.device.drop_access();
    let r = owner.refresh(&fx).await;
    assert_eq!(
        r.json(),
        json!({"continue": false}),
        "ended for the owner too"
    );
}

/// With `revoke_on_failure` off, a refresh signed by another key is
/// refused and logged, and the owner's session lives on.
pub async fn dbsc_key_mismatch_without_revocation<H: AdapterHarness>() {
    let fx = start::<H>(DbscPolicy {
        revoke_on_failure: false,
        ..DbscPolicy::default()
    })
    .await;
    let mut owner = registered(&fx, "alice").await;
    let mut thief = Browser {
        device: owner.device.clone(),
        key: DpopKey::p256(),
        session_identifier: owner.session_identifier.clone(),
        cached_challenge: None,
    };
    thief.wait_out_bound_cookie(&fx);
    let r = thief.refresh(&fx).await;
    assert_eq!(r.json(), json!({"continue": false}));
    assert!(r.all("set-cookie").is_empty());
    let failed = events(&fx, "authn_key_proof_failed");
    assert_eq!(
        failed.last().unwrap().kind,
        crate::events::EventKind::KeyProofFailed {
            error: "the proof signature is invalid".into(),
            revoked: false
        }
    );
    owner.device.drop_access();
    assert_eq!(owner.refresh(&fx).await.status, 200);
    assert_eq!(owner.device.hello(&fx.app).await.status, 200);
}
