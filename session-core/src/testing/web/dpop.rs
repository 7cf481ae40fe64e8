//! Shared HTTP cases for DPoP (RFC 9449) with the bearer transport: a
//! bound session works with its key and nowhere else, every malformed proof
//! gets the RFC's error, and the nonce flow.

use std::time::Duration;

use serde_json::{Value, json};

use super::{AdapterHarness, Fixture, TestRequest, TestResponse, bearer, fixture};
use crate::binding::{DpopMode, DpopPolicy};
use crate::policy::SessionPolicy;
use crate::testing::dpop::DpopKey;
use crate::time::Clock;

/// The public origin the cases' apps are configured with.
const ORIGIN: &str = "https://app.example.test";

fn uri(path: &str) -> String {
    format!("{ORIGIN}{path}")
}

/// A bearer client holding a DPoP key and the tokens it was given.
struct Client {
    key: DpopKey,
    access: String,
    refresh: String,
}

impl Client {
    fn proof<H>(&self, fx: &Fixture<H>, method: &str, path: &str, token: Option<&str>) -> String {
        self.key
            .proof(method, &uri(path), token, None, fx.clock.now())
    }

    /// `GET /hello` with the DPoP scheme and a fresh proof.
    fn hello<H>(&self, fx: &Fixture<H>) -> TestRequest {
        TestRequest::new("GET", "/hello")
            .header("authorization", format!("DPoP {}", self.access))
            .header("dpop", self.proof(fx, "GET", "/hello", Some(&self.access)))
    }

    /// `POST /auth/refresh` with `refresh` and a proof by this key.
    fn refresh<H>(&self, fx: &Fixture<H>, refresh: &str) -> TestRequest {
        TestRequest::new("POST", "/auth/refresh")
            .header("dpop", self.proof(fx, "POST", "/auth/refresh", None))
            .json(&json!({ "refresh_token": refresh }))
    }

    fn absorb(&mut self, r: &TestResponse) {
        let v = r.json();
        self.access = v["access_token"].as_str().unwrap().to_owned();
        self.refresh = v["refresh_token"].as_str().unwrap().to_owned();
    }
}

fn with_dpop(dpop: DpopPolicy) -> SessionPolicy {
    SessionPolicy::builder()
        .access_token_ttl(Duration::from_secs(3600))
        .dpop(dpop)
        .build()
        .unwrap()
}

async fn start<H: AdapterHarness>(dpop: DpopPolicy) -> Fixture<H> {
    fixture::<H>(bearer().with_public_origin(ORIGIN), with_dpop(dpop)).await
}

/// Logs `user` in with a proof by a new key.
async fn bound_login<H: AdapterHarness>(fx: &Fixture<H>, user: &str) -> Client {
    let key = DpopKey::p256();
    let proof = key.proof("POST", &uri("/login"), None, None, fx.clock.now());
    let r = fx
        .app
        .send(
            TestRequest::new("POST", "/login")
                .header("x-test-user", user)
                .header("dpop", proof),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["token_type"], "DPoP", "RFC 9449 §5");
    let mut client = Client {
        key,
        access: String::new(),
        refresh: String::new(),
    };
    client.absorb(&r);
    client
}

/// `r` is the RFC 9449 refusal `code`: 401 with a `DPoP` challenge from
/// a protected route, 400 without one from a token endpoint.
fn assert_refused(r: &TestResponse, code: &str, token_endpoint: bool, what: &str) {
    let body: Value = r.json();
    assert_eq!(body["error"], code, "{what}: {}", r.body);
    assert!(body["error_description"].is_string(), "{what}: {}", r.body);
    if token_endpoint {
        assert_eq!(r.status, 400, "{what}");
    } else {
        assert_eq!(r.status, 401, "{what}");
        let challenge = r.one("www-authenticate").unwrap_or("");
        assert!(
            challenge.starts_with(&format!("DPoP error=\"{code}\""))
                && challenge.contains("algs=\"ES256 EdDSA\""),
            "{what}: {challenge}"
        );
    }
}

/// Tokens copied from a DPoP-bound session and replayed without the key
/// are refused, access and refresh; so is a replayed proof and a bound
/// token sent as `Bearer`. The owner keeps working throughout.
pub async fn dpop_stolen_tokens_are_refused<H: AdapterHarness>() {
    let fx = start::<H>(DpopPolicy::default()).await;
    let mut owner = bound_login(&fx, "alice").await;
    let r = fx.app.send(owner.hello(&fx)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello alice"));

    // The thief has both tokens and a key of its own.
    let thief = DpopKey::p256();
    let bare =
        TestRequest::new("GET", "/hello").header("authorization", format!("DPoP {}", owner.access));
    assert_refused(
        &fx.app.send(bare).await,
        "invalid_dpop_proof",
        false,
        "no proof",
    );
    let as_bearer = TestRequest::new("GET", "/hello")
        .header("authorization", format!("Bearer {}", owner.access));
    assert_refused(
        &fx.app.send(as_bearer).await,
        "invalid_dpop_proof",
        false,
        "bearer scheme",
    );
    let forged = TestRequest::new("GET", "/hello")
        .header("authorization", format!("DPoP {}", owner.access))
        .header(
            "dpop",
            thief.proof(
                "GET",
                &uri("/hello"),
                Some(&owner.access),
                None,
                fx.clock.now(),
            ),
        );
    assert_refused(
        &fx.app.send(forged).await,
        "invalid_dpop_proof",
        false,
        "thief's key",
    );
    let replayed = owner.hello(&fx);
    assert_eq!(fx.app.send(replayed.clone()).await.status, 200);
    assert_refused(
        &fx.app.send(replayed).await,
        "invalid_dpop_proof",
        false,
        "replayed proof",
    );

    let no_key =
        TestRequest::new("POST", "/auth/refresh").json(&json!({ "refresh_token": owner.refresh }));
    assert_refused(
        &fx.app.send(no_key).await,
        "invalid_dpop_proof",
        true,
        "refresh without proof",
    );
    let thief_refresh = TestRequest::new("POST", "/auth/refresh")
        .header(
            "dpop",
            thief.proof("POST", &uri("/auth/refresh"), None, None, fx.clock.now()),
        )
        .json(&json!({ "refresh_token": owner.refresh }));
    assert_refused(
        &fx.app.send(thief_refresh).await,
        "invalid_dpop_proof",
        true,
        "refresh, thief's key",
    );
    assert!(fx.events.names().contains(&"authn_key_proof_failed"));

    // None of it rotated or ended anything.
    let r = fx
        .app
        .send(owner.refresh(&fx, &owner.refresh.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["token_type"], "DPoP");
    owner.absorb(&r);
    assert_eq!(fx.app.send(owner.hello(&fx)).await.status, 200);
    let listed = fx
        .app
        .send(
            TestRequest::new("GET", "/auth/sessions")
                .header("authorization", format!("DPoP {}", owner.access))
                .header(
                    "dpop",
                    owner.proof(&fx, "GET", "/auth/sessions", Some(&owner.access)),
                ),
        )
        .await;
    assert_eq!(
        listed.json()["sessions"][0]["binding"],
        "dpop",
        "{}",
        listed.body
    );
}

/// Every malformed proof is refused with `invalid_dpop_proof`: wrong
/// method, URI or token hash, stale or future `iat`, a private key in
/// `jwk`, `alg: none`, an HMAC proof, the wrong `typ`, two proofs.
pub async fn dpop_malformed_proofs_are_refused<H: AdapterHarness>() {
    let fx = start::<H>(DpopPolicy::default()).await;
    let owner = bound_login(&fx, "alice").await;
    let now = fx.clock.now();
    let at = owner.access.clone();
    let claims = |method: &str, path: &str, token: Option<&str>, iat| {
        DpopKey::claims(method, &uri(path), token, None, iat)
    };
    let honest = claims("GET", "/hello", Some(&at), now);
    let mut private = owner.key.header();
    private["jwk"]["d"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let mut untyped = owner.key.header();
    untyped["typ"] = json!("jwt");
    let none_header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": owner.key.jwk()});
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong htm",
            owner.key.sign(
                &owner.key.header(),
                &claims("POST", "/hello", Some(&at), now),
            ),
        ),
        (
            "wrong htu",
            owner.key.sign(
                &owner.key.header(),
                &claims("GET", "/other", Some(&at), now),
            ),
        ),
        (
            "other origin",
            owner
                .key
                .proof("GET", "https://evil.example/hello", Some(&at), None, now),
        ),
        (
            "wrong ath",
            owner.key.sign(
                &owner.key.header(),
                &claims("GET", "/hello", Some("another token"), now),
            ),
        ),
        (
            "no ath",
            owner
                .key
                .sign(&owner.key.header(), &claims("GET", "/hello", None, now)),
        ),
        (
            "stale iat",
            owner.key.sign(
                &owner.key.header(),
                &claims(
                    "GET",
                    "/hello",
                    Some(&at),
                    now.minus(Duration::from_secs(300)),
                ),
            ),
        ),
        (
            "future iat",
            owner.key.sign(
                &owner.key.header(),
                &claims(
                    "GET",
                    "/hello",
                    Some(&at),
                    now.plus(Duration::from_secs(60)),
                ),
            ),
        ),
        ("private key", owner.key.sign(&private, &honest)),
        ("typ jwt", owner.key.sign(&untyped, &honest)),
        ("alg none", DpopKey::unsigned(&none_header, &honest)),
        ("hmac", owner.key.hmac_signed(&[7u8; 32], &honest)),
        ("garbage", "not.a.proof".to_owned()),
    ];
    for (what, proof) in cases {
        let r = fx
            .app
            .send(
                TestRequest::new("GET", "/hello")
                    .header("authorization", format!("DPoP {at}"))
                    .header("dpop", proof),
            )
            .await;
        assert_refused(&r, "invalid_dpop_proof", false, what);
    }
    let twice = TestRequest::new("GET", "/hello")
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", owner.proof(&fx, "GET", "/hello", Some(&at)))
        .header("dpop", owner.proof(&fx, "GET", "/hello", Some(&at)));
    assert_refused(
        &fx.app.send(twice).await,
        "invalid_dpop_proof",
        false,
        "two proofs",
    );
    // Still fine with an honest proof.
    assert_eq!(fx.app.send(owner.hello(&fx)).await.status, 200);
}

/// With server nonces, a proof without one is answered `use_dpop_nonce`
/// and a `DPoP-Nonce` to retry with, at login (400) and on a protected
/// route (401); the retry works.
pub async fn dpop_nonce_flow<H: AdapterHarness>() {
    let fx = start::<H>(DpopPolicy {
        nonces: true,
        ..DpopPolicy::default()
    })
    .await;
    let key = DpopKey::p256();
    let login = |nonce: Option<&str>| {
        TestRequest::new("POST", "/login")
            .header("x-test-user", "alice")
            .header(
                "dpop",
                key.proof("POST", &uri("/login"), None, nonce, fx.clock.now()),
            )
    };
    let r = fx.app.send(login(None)).await;
    assert_refused(&r, "use_dpop_nonce", true, "login without nonce");
    let nonce = r
        .one("dpop-nonce")
        .expect("a nonce to retry with")
        .to_owned();
    let r = fx.app.send(login(Some(&nonce))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let hello = |nonce: Option<&str>| {
        TestRequest::new("GET", "/hello")
            .header("authorization", format!("DPoP {access}"))
            .header(
                "dpop",
                key.proof("GET", &uri("/hello"), Some(&access), nonce, fx.clock.now()),
            )
    };
    let r = fx.app.send(hello(None)).await;
    assert_refused(&r, "use_dpop_nonce", false, "request without nonce");
    assert!(r.one("dpop-nonce").is_some());
    assert_eq!(fx.app.send(hello(Some(&nonce))).await.status, 200);
    // A nonce from two lifetimes ago is refused with a fresh one.
    fx.clock.advance(Duration::from_secs(2 * 300));
    let r = fx.app.send(hello(Some(&nonce))).await;
    assert_refused(&r, "use_dpop_nonce", false, "expired nonce");
    assert_ne!(r.one("dpop-nonce"), Some(nonce.as_str()));
}

/// With DPoP required, a login without a proof is refused, and a request
/// without credentials is challenged with `DPoP` only; off, proofs are
/// ignored at login and the challenge is `Bearer` only.
pub async fn dpop_modes<H: AdapterHarness>() {
    let fx = start::<H>(DpopPolicy {
        mode: DpopMode::Required,
        ..DpopPolicy::default()
    })
    .await;
    let r = fx
        .app
        .send(TestRequest::new("POST", "/login").header("x-test-user", "alice"))
        .await;
    assert_refused(&r, "invalid_dpop_proof", true, "required, no proof");
    let r = fx.app.send(TestRequest::new("GET", "/hello")).await;
    assert_eq!(r.one("www-authenticate"), Some("DPoP algs=\"ES256 EdDSA\""));
    bound_login(&fx, "alice").await;

    let fx = start::<H>(DpopPolicy {
        mode: DpopMode::Off,
        ..DpopPolicy::default()
    })
    .await;
    let r = fx.app.send(TestRequest::new("GET", "/hello")).await;
    assert_eq!(r.one("www-authenticate"), Some("Bearer"));
    let key = DpopKey::p256();
    let proof = key.proof("POST", &uri("/login"), None, None, fx.clock.now());
    let r = fx
        .app
        .send(
            TestRequest::new("POST", "/login")
                .header("x-test-user", "alice")
                .header("dpop", proof),
        )
        .await;
    assert_eq!(r.json()["token_type"], "Bearer", "off: not bound");
}
