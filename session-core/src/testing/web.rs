//! One table of behavioural cases that every web adapter runs (feature
//! `testing`), so the adapters cannot drift apart.
//!
//! An adapter implements [`AdapterHarness`] over an in-process test app and
//! expands [`crate::web_adapter_tests!`] in an integration test:
//!
//! ```
//! use sessionward_core::testing::web::{AdapterHarness, TestRequest, TestResponse};
//! use sessionward_core::web::SessionApi;
//!
//! struct MyHarness {
//!     api: SessionApi, // and the in-process app built around it
//! }
//!
//! impl AdapterHarness for MyHarness {
//!     async fn start(api: SessionApi) -> Self {
//!         MyHarness { api }
//!     }
//!     async fn start_without_layer(api: SessionApi) -> Self {
//!         MyHarness { api }
//!     }
//!     async fn send(&self, request: TestRequest) -> TestResponse {
//!         unimplemented!("send {} {} through the app", request.method, request.path)
//!     }
//! }
//!
//! sessionward_core::web_adapter_tests!(MyHarness, tokio::test);
//! # fn main() {}
//! ```
//!
//! # The test app contract
//! Built by [`AdapterHarness::start`] around the given [`SessionApi`], with
//! the adapter's layer/middleware (made with its `from_api`) in front of
//! everything, so the session routes are served under the configured
//! prefix (`/auth` in every case):
//! - `GET` and `POST /hello`: requires the adapter's `AuthSession`;
//!   answers `200` with the text `hello <user id>`;
//! - `GET /maybe`: `Option<AuthSession>`; `user <user id>` or `anonymous`;
//! - `POST /login`: logs in the user named by the `x-test-user` header with
//!   the adapter's `Session` handle;
//! - `POST /app/logout`, `POST /app/reauth`, `POST /app/end-all`: the
//!   handle's `logout`, `reauthenticate`, `end_all`, answered as they return
//!   (`/app/logout` also on `GET`, which the handle must refuse);
//! - `GET /app/sessions`, `POST /app/end-others`: the handle's `list` (the
//!   count as text) and `end_others` (the count as text), or the rejection;
//! - `GET /account`: `account <user id>` for a session; for a `401`
//!   rejection `303` to `/login` (the typed-rejection `match`); any other
//!   rejection as is.
//!
//! [`AdapterHarness::start_without_layer`] builds the same routes without
//! the layer/middleware.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    async_fn_in_trait
)]

mod admin;
mod backchannel;
mod dbsc;
mod dpop;
mod limits;
mod seen;
mod ssf;
mod token_service;
pub use admin::*;
pub use backchannel::*;
pub use dbsc::*;
pub use dpop::*;
pub use limits::*;
pub use seen::*;
pub use ssf::*;
pub use token_service::*;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::events::MemorySink;
use crate::ids::{SessionId, UserId};
use crate::manager::RevocationMode;
use crate::memory::MemoryStore;
use crate::policy::{OnLimit, SessionPolicy};
use crate::record::{RevokeReason, SessionRecord};
use crate::store::{
    CreateOutcome, CreateRequest, RevocationFeed, RotateOutcome, RotateRequest, SessionStore,
    StoreError, TouchRequest,
};
use crate::testing::Harness;
use crate::time::{Clock, ManualClock, SystemClock, Timestamp};

use crate::web::{AdapterConfig, CsrfProtection, SessionApi, TokenTransport};

/// A request as the cases send it.
#[derive(Debug, Clone)]
pub struct TestRequest {
    /// Upper-case method.
    pub method: &'static str,
    /// Path (and query).
    pub path: String,
    /// Headers; names lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// TCP peer address the adapter should see (`None`: the request
    /// carries none, as behind a server set up without it).
    pub peer: Option<IpAddr>,
}

impl TestRequest {
    /// A request without headers or body from `203.0.113.1`.
    pub fn new(method: &'static str, path: impl Into<String>) -> Self {
        TestRequest {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: Some(IpAddr::from([203, 0, 113, 1])),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("content-type", "application/json")
    }
}

/// A response as the cases inspect it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: u16,
    /// Headers; names lower case, repeated headers kept in order.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl TestResponse {
    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The only value of header `name` (panics if repeated).
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "header {name} repeated: {all:?}");
        all.first().copied()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// An in-process test app of one adapter (see the module docs).
pub trait AdapterHarness: Sized {
    /// Builds the test app around `api`.
    async fn start(api: SessionApi) -> Self;
    /// Builds the same routes without the layer/middleware.
    async fn start_without_layer(api: SessionApi) -> Self;
    /// Sends one request through the app.
    async fn send(&self, request: TestRequest) -> TestResponse;
}

/// A store that can be switched off: every call then fails with
/// [`StoreError::Unavailable`].
#[derive(Debug, Clone, Default)]
pub struct FlakyStore {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

impl FlakyStore {
    /// Makes every call fail (`true`) or work (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(Box::new(std::io::Error::other(
                "test store switched off",
            ))))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for FlakyStore {
    async fn create(&self, request: CreateRequest) -> Result<CreateOutcome, StoreError> {
        self.check()?;
        self.inner.create(request).await
    }
    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.check()?;
        self.inner.get(user, id).await
    }
    async fn touch(&self, request: TouchRequest) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.touch(request).await
    }
    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        self.check()?;
        self.inner.not_before(user).await
    }
    async fn rotate_refresh(&self, request: RotateRequest) -> Result<RotateOutcome, StoreError> {
        self.check()?;
        self.inner.rotate_refresh(request).await
    }
    async fn rotate_refresh_binding(
        &self,
        request: RotateRequest,
        meta: crate::SessionMeta,
    ) -> Result<RotateOutcome, StoreError> {
        self.check()?;
        self.inner.rotate_refresh_binding(request, meta).await
    }
    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.check()?;
        self.inner.revoke(user, id, reason, at).await
    }
    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.check()?;
        self.inner.revoke_all(user, except, reason, at).await
    }
    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        self.check()?;
        self.inner.list(user).await
    }
    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.erase_user(user).await
    }
    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.purge_expired(before).await
    }
    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        None
    }

    fn replay_store(&self) -> Option<Arc<dyn crate::binding::ReplayStore>> {
        self.inner.replay_store()
    }

    fn counts_tenants(&self) -> bool {
        self.inner.counts_tenants()
    }

    fn directory(&self) -> Option<Arc<dyn crate::directory::SessionDirectory>> {
        Some(Arc::new(self.clone()))
    }
}

#[async_trait]
impl crate::directory::SessionDirectory for FlakyStore {
    async fn find(
        &self,
        query: &crate::directory::SessionQuery,
    ) -> Result<crate::directory::SessionPage, StoreError> {
        self.check()?;
        crate::directory::SessionDirectory::find(&self.inner, query).await
    }

    async fn revoke_matching(
        &self,
        user: &UserId,
        request: &crate::directory::MatchingRevocation,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.check()?;
        crate::directory::SessionDirectory::revoke_matching(&self.inner, user, request).await
    }
}

/// One case's world: the app, its API, clock, store and events.
pub struct Fixture<H> {
    pub app: H,
    pub api: SessionApi,
    pub clock: ManualClock,
    pub store: FlakyStore,
    pub events: Arc<MemorySink>,
}

/// A fixture with `config` and `policy` (strict mode, manual clock).
pub async fn fixture<H: AdapterHarness>(
    config: AdapterConfig,
    policy: SessionPolicy,
) -> Fixture<H> {
    fixture_with::<H>(config, policy, true).await
}

async fn fixture_with<H: AdapterHarness>(
    config: AdapterConfig,
    policy: SessionPolicy,
    layer: bool,
) -> Fixture<H> {
    let store = FlakyStore::default();
    let h = Harness::with_mode(
        Arc::new(store.clone()),
        policy,
        RevocationMode::Strict,
        ManualClock::new(SystemClock.now()),
    );
    let api = SessionApi::new(h.manager, config).expect("valid adapter config");
    Fixture {
        app: if layer {
            H::start(api.clone()).await
        } else {
            H::start_without_layer(api.clone()).await
        },
        api,
        clock: h.clock,
        store,
        events: h.events,
    }
}

/// Bearer transport, default policy.
pub fn bearer() -> AdapterConfig {
    AdapterConfig::new().with_transport(TokenTransport::Bearer)
}

/// Cookie transport, default policy.
pub fn cookies() -> AdapterConfig {
    AdapterConfig::new().with_transport(TokenTransport::Cookies)
}

/// A simulated client: keeps its tokens (bearer) or a cookie jar that
/// honours `Path` and `Max-Age=0` (cookies).
#[derive(Debug, Clone)]
pub struct Device {
    pub user_agent: String,
    pub peer: IpAddr,
    pub bearer: bool,
    /// Send the CSRF header copied from the CSRF cookie.
    pub send_csrf: bool,
    /// name → (value, path)
    pub jar: BTreeMap<String, (String, String)>,
    pub access: Option<String>,
    pub refresh: Option<String>,
    pub session_id: Option<String>,
}

impl Device {
    pub fn new(bearer: bool, user_agent: &str, peer: [u8; 4]) -> Self {
        Device {
            user_agent: user_agent.to_owned(),
            peer: IpAddr::from(peer),
            bearer,
            send_csrf: true,
            jar: BTreeMap::new(),
            access: None,
            refresh: None,
            session_id: None,
        }
    }

    /// A request carrying this device's credentials.
    pub fn request(&self, method: &'static str, path: &str) -> TestRequest {
        let mut r = TestRequest::new(method, path).header("user-agent", self.user_agent.clone());
        r.peer = Some(self.peer);
        if self.bearer
            && let Some(a) = &self.access
        {
            r = r.header("authorization", format!("Bearer {a}"));
        }
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|(_, (_, p))| p == "/" || path == p || path.starts_with(&format!("{p}/")))
            .map(|(n, (v, _))| format!("{n}={v}"))
            .collect();
        if !cookies.is_empty() {
            r = r.header("cookie", cookies.join("; "));
        }
        if self.send_csrf
            && let Some((v, _)) = self.jar.get(crate::web::CSRF_COOKIE)
        {
            r = r.header("x-csrf-token", v.clone());
        }
        r
    }

    /// Takes tokens and cookies from a response.
    pub fn absorb(&mut self, resp: &TestResponse) {
        for c in resp.all("set-cookie") {
            let mut parts = c.split("; ");
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let mut path = "/".to_owned();
            let mut gone = false;
            for p in parts {
                if let Some(v) = p.strip_prefix("Path=") {
                    path = v.to_owned();
                }
                if p == "Max-Age=0" {
                    gone = true;
                }
            }
            if gone {
                // A browser deletes the cookie of that name *and* path only.
                if self.jar.get(name).is_some_and(|(_, p)| *p == path) {
                    self.jar.remove(name);
                }
            } else {
                self.jar.insert(name.to_owned(), (value.to_owned(), path));
            }
        }
        if resp.status == 200
            && let Ok(v) = serde_json::from_str::<Value>(&resp.body)
        {
            if let Some(a) = v["access_token"].as_str() {
                self.access = Some(a.to_owned());
            }
            if let Some(r) = v["refresh_token"].as_str() {
                self.refresh = Some(r.to_owned());
            }
            if let Some(s) = v["session_id"].as_str() {
                self.session_id = Some(s.to_owned());
            }
        }
    }

    /// Sends a request with this device's credentials and absorbs the answer.
    pub async fn send<H: AdapterHarness>(&mut self, app: &H, req: TestRequest) -> TestResponse {
        let resp = app.send(req).await;
        self.absorb(&resp);
        resp
    }

    /// `POST /login` as `user`.
    pub async fn login<H: AdapterHarness>(&mut self, app: &H, user: &str) -> TestResponse {
        let req = self.request("POST", "/login").header("x-test-user", user);
        self.send(app, req).await
    }

    /// `POST /auth/refresh`.
    pub async fn refresh<H: AdapterHarness>(&mut self, app: &H) -> TestResponse {
        let mut req = self.request("POST", "/auth/refresh");
        if self.bearer {
            let token = self.refresh.clone().unwrap_or_default();
            req = req.json(&serde_json::json!({ "refresh_token": token }));
        }
        self.send(app, req).await
    }

    /// `POST /auth/logout` with whatever this device holds: the access
    /// token (header or cookie) and the refresh token (JSON body with
    /// bearer transport, cookie otherwise).
    pub async fn logout<H: AdapterHarness>(&mut self, app: &H) -> TestResponse {
        let mut req = self.request("POST", "/auth/logout");
        if self.bearer
            && let Some(token) = self.refresh.clone()
        {
            req = req.json(&serde_json::json!({ "refresh_token": token }));
        }
        self.send(app, req).await
    }

    /// `GET /auth/sessions`.
    pub async fn sessions<H: AdapterHarness>(&mut self, app: &H) -> TestResponse {
        let req = self.request("GET", "/auth/sessions");
        self.send(app, req).await
    }

    /// Forgets the access token (and its cookie), keeping the refresh token.
    pub fn drop_access(&mut self) {
        self.access = None;
        self.jar.remove(crate::web::ACCESS_COOKIE);
    }

    /// Forgets the refresh token (and its cookie), keeping the access token.
    pub fn drop_refresh(&mut self) {
        self.refresh = None;
        self.jar.remove(crate::web::REFRESH_COOKIE);
    }

    /// `GET /hello`.
    pub async fn hello<H: AdapterHarness>(&mut self, app: &H) -> TestResponse {
        let req = self.request("GET", "/hello");
        self.send(app, req).await
    }
}

const WIPE: &str = "\"cache\", \"cookies\", \"storage\"";

fn assert_error(resp: &TestResponse, status: u16, code: &str) {
    assert_eq!(resp.status, status, "status; body {}", resp.body);
    assert_eq!(resp.body, format!("{{\"error\":\"{code}\"}}"));
    assert_eq!(resp.one("cache-control"), Some("no-store"));
    assert_eq!(resp.one("content-type"), Some("application/json"));
}

/// `401 invalid_token` for a token that proves no live session; `wiped`
/// says whether the answer also tells the client to wipe.
fn assert_invalid_token(resp: &TestResponse, wiped: bool) {
    assert_error(resp, 401, "invalid_token");
    assert_eq!(
        resp.one("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    if wiped {
        assert_eq!(resp.one("clear-site-data"), Some(WIPE));
    } else {
        assert_eq!(resp.one("clear-site-data"), None);
    }
}

/// `401 invalid_token` for an authentic token whose session ended for
/// `reason`: the body says why and the client is told to wipe.
fn assert_ended(resp: &TestResponse, reason: &str) {
    assert_eq!(resp.status, 401, "status; body {}", resp.body);
    assert_eq!(
        resp.body,
        format!("{{\"error\":\"invalid_token\",\"reason\":\"{reason}\"}}")
    );
    assert_eq!(resp.one("cache-control"), Some("no-store"));
    assert_eq!(
        resp.one("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert_eq!(resp.one("clear-site-data"), Some(WIPE));
}

/// Deletes a refresh cookie left at its former path, `/auth/refresh`.
const LEGACY_REFRESH_EXPIRY: &str =
    "__Secure-sw_refresh=; Path=/auth/refresh; Max-Age=0; Secure; HttpOnly; SameSite=Lax";

fn expired_cookies() -> Vec<&'static str> {
    vec![
        "__Host-sw_access=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
        "__Secure-sw_refresh=; Path=/auth; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
        LEGACY_REFRESH_EXPIRY,
        "__Host-sw_csrf=; Path=/; Max-Age=0; Secure; SameSite=Lax",
    ]
}

fn chrome() -> Device {
    Device::new(
        true,
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
        [81, 2, 69, 142],
    )
}

fn phone() -> Device {
    Device::new(
        true,
        "Mozilla/5.0 (iPhone) Mobile Safari/604.1",
        [81, 2, 69, 160],
    )
}

fn as_cookies(mut d: Device) -> Device {
    d.bearer = false;
    d
}

async fn logged_in<H: AdapterHarness>(fx: &Fixture<H>, mut d: Device, user: &str) -> Device {
    let r = d.login(&fx.app, user).await;
    assert_eq!(r.status, 200, "login: {}", r.body);
    d
}

// ---------------------------------------------------------------- cases

pub async fn protected_route_without_token<H: AdapterHarness>() {
    for config in [bearer(), cookies()] {
        let fx = fixture::<H>(config, SessionPolicy::default()).await;
        let r = fx.app.send(TestRequest::new("GET", "/hello")).await;
        assert_error(&r, 401, "missing_token");
        assert_eq!(r.one("www-authenticate"), Some("Bearer"));
        assert_eq!(r.one("clear-site-data"), None);
        let r = fx.app.send(TestRequest::new("GET", "/auth/sessions")).await;
        assert_error(&r, 401, "missing_token");
    }
}

pub async fn protected_route_with_valid_token<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, chrome(), "alice").await;
    let r = d.hello(&fx.app).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello alice"));
    let post = d.request("POST", "/hello");
    let r = fx.app.send(post).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello alice"));

    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    let r = d.hello(&fx.app).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello alice"));
}

pub async fn protected_route_with_expired_token<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, chrome(), "alice").await;
    fx.clock.advance(Duration::from_secs(5 * 60 + 1));
    let r = d.hello(&fx.app).await;
    assert_invalid_token(&r, false);
    // The session itself is alive: refreshing gives a working token.
    let r = d.refresh(&fx.app).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.hello(&fx.app).await.status, 200);
}

pub async fn protected_route_with_revoked_token<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, chrome(), "alice").await;
    let alice = UserId::new("alice").unwrap();
    fx.api
        .manager()
        .revoke_all(&alice, RevokeReason::Admin)
        .await
        .unwrap();
    let r = d.hello(&fx.app).await;
    assert_ended(&r, "admin");
    assert!(r.all("set-cookie").is_empty());

    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    fx.api
        .manager()
        .revoke_all(&alice, RevokeReason::Admin)
        .await
        .unwrap();
    let r = d.hello(&fx.app).await;
    assert_ended(&r, "admin");
    assert_eq!(r.all("set-cookie"), expired_cookies());
    assert!(!d.jar.contains_key(crate::web::ACCESS_COOKIE));
}

pub async fn garbage_and_wrong_type_tokens<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let d = logged_in(&fx, chrome(), "alice").await;
    for bad in ["garbage", "a.b.c", d.refresh.as_deref().unwrap()] {
        let r = fx
            .app
            .send(
                TestRequest::new("GET", "/hello").header("authorization", format!("Bearer {bad}")),
            )
            .await;
        assert_invalid_token(&r, false);
    }
    // Another scheme is no bearer token at all.
    let r = fx
        .app
        .send(TestRequest::new("GET", "/hello").header("authorization", "Basic YTpi"))
        .await;
    assert_error(&r, 401, "missing_token");
}

pub async fn oversized_credentials<H: AdapterHarness>() {
    let big = "a".repeat(9000);
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let r = fx
        .app
        .send(TestRequest::new("GET", "/hello").header("authorization", format!("Bearer {big}")))
        .await;
    assert_invalid_token(&r, false);
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let r = fx
        .app
        .send(TestRequest::new("GET", "/hello").header("cookie", format!("__Host-sw_access={big}")))
        .await;
    assert_invalid_token(&r, false);
}

pub async fn optional_extractor<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let r = fx.app.send(TestRequest::new("GET", "/maybe")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "anonymous"));
    let mut d = logged_in(&fx, chrome(), "alice").await;
    let req = d.request("GET", "/maybe");
    let r = d.send(&fx.app, req).await;
    assert_eq!((r.status, r.body.as_str()), (200, "user alice"));
    let r = fx
        .app
        .send(TestRequest::new("GET", "/maybe").header("authorization", "Bearer nope"))
        .await;
    assert_eq!((r.status, r.body.as_str()), (200, "anonymous"));
}

pub async fn login_bearer_returns_json_tokens<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = chrome();
    let r = d.login(&fx.app, "alice").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert!(r.all("set-cookie").is_empty());
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 300);
    assert!(v["access_token"].as_str().unwrap().starts_with("ey"));
    assert!(v["refresh_token"].as_str().unwrap().starts_with("swrt1."));
    assert!(v["session_id"].is_string());
}

pub async fn login_cookies_exact<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let mut d = as_cookies(chrome());
    let r = d.login(&fx.app, "alice").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    let v = r.json();
    assert!(v.get("access_token").is_none() && v.get("refresh_token").is_none());
    assert_eq!(v["expires_in"], 300);
    let value = |name: &str| d.jar.get(name).unwrap().0.clone();
    assert_eq!(
        r.all("set-cookie"),
        vec![
            // The access cookie outlives its 5-minute JWT: it lasts as long
            // as the session, like the refresh cookie.
            format!(
                "__Host-sw_access={}; Path=/; Max-Age=43200; Secure; HttpOnly; SameSite=Lax",
                value("__Host-sw_access")
            ),
            format!(
                "__Secure-sw_refresh={}; Path=/auth; Max-Age=43200; Secure; HttpOnly; SameSite=Lax",
                value("__Secure-sw_refresh")
            ),
            LEGACY_REFRESH_EXPIRY.to_owned(),
            format!(
                "__Host-sw_csrf={}; Path=/; Max-Age=43200; Secure; SameSite=Lax",
                value("__Host-sw_csrf")
            ),
            format!(
                "__Host-sw_device={}; Path=/; Max-Age=34560000; Secure; HttpOnly; SameSite=Lax",
                value("__Host-sw_device")
            ),
        ]
    );
    assert!(value("__Host-sw_access").starts_with("ey"));
    assert!(value("__Secure-sw_refresh").starts_with("swrt1."));
    // A known device keeps its id: no new device cookie.
    let r = d.login(&fx.app, "alice").await;
    assert_eq!(r.all("set-cookie").len(), 4);

    // Strict is configurable.
    let fx = fixture::<H>(
        cookies().with_same_site(crate::web::SameSite::Strict),
        SessionPolicy::default(),
    )
    .await;
    let r = as_cookies(chrome()).login(&fx.app, "alice").await;
    assert!(
        r.all("set-cookie")
            .iter()
            .all(|c| c.ends_with("; Secure; HttpOnly; SameSite=Strict")
                || c.ends_with("; Secure; SameSite=Strict"))
    );
}

pub async fn refresh_rotation_and_reuse_bearer<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, chrome(), "alice").await;
    let (old_access, old_refresh) = (d.access.clone().unwrap(), d.refresh.clone().unwrap());
    fx.clock.advance(Duration::from_secs(60));
    let r = d.refresh(&fx.app).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_ne!(d.refresh.as_deref(), Some(old_refresh.as_str()));
    assert_ne!(d.access.as_deref(), Some(old_access.as_str()));
    assert_eq!(d.hello(&fx.app).await.status, 200);
    // Reusing the rotated token after the grace window revokes the session.
    fx.clock.advance(Duration::from_secs(6));
    let mut thief = d.clone();
    thief.refresh = Some(old_refresh);
    let r = thief.refresh(&fx.app).await;
    assert_ended(&r, "refresh_token_reuse");
    let r = d.hello(&fx.app).await;
    assert_ended(&r, "refresh_token_reuse");
    assert!(fx.events.names().contains(&"authn_token_reuse"));
}

pub async fn refresh_bad_requests<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let r = fx
        .app
        .send(TestRequest::new("POST", "/auth/refresh").json(&serde_json::json!({})))
        .await;
    assert_error(&r, 400, "invalid_request");
    let r = fx
        .app
        .send(
            TestRequest::new("POST", "/auth/refresh")
                .json(&serde_json::json!({ "refresh_token": "swrt1.nope" })),
        )
        .await;
    assert_invalid_token(&r, false);
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let r = fx.app.send(TestRequest::new("POST", "/auth/refresh")).await;
    assert_error(&r, 403, "csrf_rejected");
}

pub async fn refresh_rotation_and_reuse_cookies<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    // The refresh cookie only travels to the session routes.
    assert!(
        !d.request("GET", "/hello")
            .headers
            .iter()
            .any(|(_, v)| v.contains("sw_refresh"))
    );
    for path in ["/auth/refresh", "/auth/logout"] {
        assert!(
            d.request("POST", path)
                .headers
                .iter()
                .any(|(_, v)| v.contains("sw_refresh"))
        );
    }
    let old = d.jar.get(crate::web::REFRESH_COOKIE).unwrap().0.clone();
    let csrf = d.jar.get(crate::web::CSRF_COOKIE).unwrap().0.clone();
    fx.clock.advance(Duration::from_secs(60));
    let r = d.refresh(&fx.app).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let set = r.all("set-cookie");
    assert_eq!(set.len(), 3, "{set:?}");
    let new = d.jar.get(crate::web::REFRESH_COOKIE).unwrap().0.clone();
    assert_ne!(new, old);
    assert_eq!(
        set[1],
        format!(
            "__Secure-sw_refresh={new}; Path=/auth; Max-Age=43140; Secure; HttpOnly; SameSite=Lax"
        )
    );
    assert_eq!(set[2], LEGACY_REFRESH_EXPIRY);
    assert!(set[0].ends_with("; Path=/; Max-Age=43140; Secure; HttpOnly; SameSite=Lax"));
    assert_eq!(d.jar.get(crate::web::CSRF_COOKIE).unwrap().0, csrf);
    assert_eq!(d.hello(&fx.app).await.status, 200);
    fx.clock.advance(Duration::from_secs(6));
    let mut thief = d.clone();
    thief.jar.get_mut(crate::web::REFRESH_COOKIE).unwrap().0 = old;
    let r = thief.refresh(&fx.app).await;
    assert_ended(&r, "refresh_token_reuse");
    assert_eq!(r.all("set-cookie"), expired_cookies());
    assert_ended(&d.hello(&fx.app).await, "refresh_token_reuse");
}

pub async fn logout_headers_exact<H: AdapterHarness>() {
    for config in [bearer(), cookies()] {
        let is_bearer = config.transport() == TokenTransport::Bearer;
        let fx = fixture::<H>(config, SessionPolicy::default()).await;
        let d = chrome();
        let mut d = logged_in(&fx, if is_bearer { d } else { as_cookies(d) }, "alice").await;
        let before = d.clone();
        let req = d.request("POST", "/auth/logout");
        let r = d.send(&fx.app, req).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(r.body, "");
        assert_eq!(r.all("clear-site-data"), vec![WIPE]);
        assert_eq!(r.all("cache-control"), vec!["no-store"]);
        if is_bearer {
            assert!(r.all("set-cookie").is_empty());
        } else {
            assert_eq!(r.all("set-cookie"), expired_cookies());
            assert!(d.jar.keys().all(|k| k == crate::web::DEVICE_COOKIE));
        }
        // The old tokens are dead server-side.
        let mut old = before;
        assert_ended(&old.hello(&fx.app).await, "logout");
    }
}

pub async fn logout_kills_refresh_token<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, chrome(), "alice").await;
    let req = d.request("POST", "/auth/logout");
    assert_eq!(d.send(&fx.app, req).await.status, 204);
    let r = d.refresh(&fx.app).await;
    assert_ended(&r, "logout");
}

pub async fn csrf_double_submit<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    d.send_csrf = false;
    let r = fx.app.send(d.request("POST", "/hello")).await;
    assert_error(&r, 403, "csrf_rejected");
    let r = fx
        .app
        .send(d.request("POST", "/hello").header("x-csrf-token", "wrong"))
        .await;
    assert_error(&r, 403, "csrf_rejected");
    let r = fx.app.send(d.request("POST", "/auth/logout")).await;
    assert_error(&r, 403, "csrf_rejected");
    let r = fx
        .app
        .send(d.request("POST", "/auth/sessions/revoke-all"))
        .await;
    assert_error(&r, 403, "csrf_rejected");
    // Safe methods need no token; the session survived the refused logout.
    assert_eq!(fx.app.send(d.request("GET", "/hello")).await.status, 200);
    d.send_csrf = true;
    let r = fx.app.send(d.request("POST", "/hello")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello alice"));
}

pub async fn csrf_origin_check<H: AdapterHarness>() {
    let config = cookies().with_csrf(CsrfProtection::Origin(vec!["https://app.example".into()]));
    let fx = fixture::<H>(config, SessionPolicy::default()).await;
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    d.send_csrf = false;
    let r = fx
        .app
        .send(
            d.request("POST", "/hello")
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_error(&r, 403, "csrf_rejected");
    let r = fx.app.send(d.request("POST", "/hello")).await;
    assert_error(&r, 403, "csrf_rejected");
    let r = fx
        .app
        .send(
            d.request("POST", "/hello")
                .header("origin", "https://app.example"),
        )
        .await;
    assert_eq!(r.status, 200);

    let config = cookies().with_csrf(CsrfProtection::DoubleSubmitAndOrigin(vec![
        "https://app.example".into(),
    ]));
    let fx = fixture::<H>(config, SessionPolicy::default()).await;
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    let r = fx.app.send(d.request("POST", "/hello")).await;
    assert_error(&r, 403, "csrf_rejected");
    d.send_csrf = false;
    let r = fx
        .app
        .send(
            d.request("POST", "/hello")
                .header("origin", "https://app.example"),
        )
        .await;
    assert_error(&r, 403, "csrf_rejected");
    d.send_csrf = true;
    let r = fx
        .app
        .send(
            d.request("POST", "/hello")
                .header("origin", "https://app.example"),
        )
        .await;
    assert_eq!(r.status, 200);
}

pub async fn store_down_is_503<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = logged_in(&fx, chrome(), "alice").await;
    fx.store.set_down(true);
    assert_error(&d.hello(&fx.app).await, 503, "unavailable");
    assert_error(&d.refresh(&fx.app).await, 503, "unavailable");
    assert_error(
        &fx.app.send(d.request("GET", "/auth/sessions")).await,
        503,
        "unavailable",
    );
    assert_error(
        &fx.app.send(d.request("POST", "/auth/logout")).await,
        503,
        "unavailable",
    );
    assert_error(&chrome().login(&fx.app, "alice").await, 503, "unavailable");
    fx.store.set_down(false);
    assert_eq!(d.hello(&fx.app).await.status, 200);
}

pub async fn revoke_others_ends_other_device<H: AdapterHarness>() {
    for config in [bearer(), cookies()] {
        let is_bearer = config.transport() == TokenTransport::Bearer;
        let fx = fixture::<H>(config, SessionPolicy::default()).await;
        let pick = |d: Device| if is_bearer { d } else { as_cookies(d) };
        let mut a = logged_in(&fx, pick(chrome()), "alice").await;
        let mut b = logged_in(&fx, pick(phone()), "alice").await;
        let mut bob = logged_in(&fx, pick(chrome()), "bob").await;
        let req = a.request("POST", "/auth/sessions/revoke-others");
        let r = a.send(&fx.app, req).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, "{\"revoked\":1}");
        assert_eq!(r.one("cache-control"), Some("no-store"));
        assert_eq!(r.one("clear-site-data"), None);
        let r = b.hello(&fx.app).await;
        assert_ended(&r, "user");
        if !is_bearer {
            assert_eq!(r.all("set-cookie"), expired_cookies());
        }
        assert_eq!(a.hello(&fx.app).await.status, 200);
        assert_eq!(bob.hello(&fx.app).await.status, 200);
    }
}

pub async fn revoke_one_session<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut a = logged_in(&fx, chrome(), "alice").await;
    let mut b = logged_in(&fx, phone(), "alice").await;
    let bob = logged_in(&fx, chrome(), "bob").await;
    let b_id = b.session_id.clone().unwrap();
    let r = fx
        .app
        .send(a.request("DELETE", &format!("/auth/sessions/{b_id}")))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_eq!(r.one("clear-site-data"), None);
    assert_ended(&b.hello(&fx.app).await, "user");
    assert_eq!(a.hello(&fx.app).await.status, 200);
    // Already ended, another user's, or not an id at all: 404.
    for id in [
        b_id.as_str(),
        bob.session_id.as_deref().unwrap(),
        "not-an-id",
    ] {
        let r = fx
            .app
            .send(a.request("DELETE", &format!("/auth/sessions/{id}")))
            .await;
        assert_error(&r, 404, "not_found");
    }
    // Ending one's own session wipes the client.
    let a_id = a.session_id.clone().unwrap();
    let r = fx
        .app
        .send(a.request("DELETE", &format!("/auth/sessions/{a_id}")))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.one("clear-site-data"), Some(WIPE));
    assert_ended(&a.hello(&fx.app).await, "user");
}

pub async fn revoke_all_wipes_caller<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let mut a = logged_in(&fx, as_cookies(chrome()), "alice").await;
    let mut b = logged_in(&fx, as_cookies(phone()), "alice").await;
    let req = a.request("POST", "/auth/sessions/revoke-all");
    let r = a.send(&fx.app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "{\"revoked\":2}");
    assert_eq!(r.one("clear-site-data"), Some(WIPE));
    assert_eq!(r.all("set-cookie"), expired_cookies());
    assert_error(&a.hello(&fx.app).await, 401, "missing_token");
    assert_ended(&b.hello(&fx.app).await, "user");
}

pub async fn listing_has_no_secrets<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let a = logged_in(&fx, chrome(), "alice").await;
    let b = logged_in(&fx, phone(), "alice").await;
    let _bob = logged_in(&fx, chrome(), "bob").await;
    fx.clock.advance(Duration::from_secs(1));
    let r = fx.app.send(a.request("GET", "/auth/sessions")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_eq!(r.one("content-type"), Some("application/json"));
    let v = r.json();
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"].as_str(), a.session_id.as_deref());
    assert_eq!(current[0]["ip"], "81.2.69.142");
    assert_eq!(
        current[0]["user_agent"].as_str(),
        Some(a.user_agent.as_str())
    );
    for s in sessions {
        for key in [
            "created_at",
            "last_seen_at",
            "expires_at",
            "device_class",
            "device",
            "location",
            "risk",
        ] {
            assert!(s.get(key).is_some(), "missing {key}");
        }
    }
    for secret in [&a.access, &a.refresh, &b.access, &b.refresh] {
        let secret = secret.as_deref().unwrap();
        assert!(!r.body.contains(secret));
        // Not even the random part of the refresh token.
        if let Some(tail) = secret.rsplit('.').next() {
            assert!(!r.body.contains(tail));
        }
    }
    assert!(!r.body.contains("hash") && !r.body.contains("refresh"));
    assert!(!r.body.contains("bob"));
}

pub async fn reauthentication_required<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut a = logged_in(&fx, chrome(), "alice").await;
    let b = logged_in(&fx, phone(), "alice").await;
    // Stay active for 16 minutes (refreshing keeps the original auth_time).
    for _ in 0..4 {
        fx.clock.advance(Duration::from_secs(4 * 60));
        assert_eq!(a.refresh(&fx.app).await.status, 200);
    }
    let b_id = b.session_id.clone().unwrap();
    for (method, path) in [
        ("DELETE", format!("/auth/sessions/{b_id}")),
        ("POST", "/auth/sessions/revoke-others".to_owned()),
        ("POST", "/auth/sessions/revoke-all".to_owned()),
    ] {
        let r = fx.app.send(a.request(method, &path)).await;
        assert_error(&r, 401, "reauthentication_required");
        assert_eq!(
            r.one("www-authenticate"),
            Some("Bearer error=\"insufficient_user_authentication\", max_age=\"900\"")
        );
        assert_eq!(r.one("clear-site-data"), None);
    }
    // Listing and logout never need it.
    assert_eq!(
        fx.app.send(a.request("GET", "/auth/sessions")).await.status,
        200
    );
    // A fresh login may end sessions.
    let c = logged_in(&fx, chrome(), "alice").await;
    let r = fx
        .app
        .send(c.request("DELETE", &format!("/auth/sessions/{b_id}")))
        .await;
    assert_eq!(r.status, 204);
    // And the window can be turned off.
    let fx = fixture::<H>(
        bearer().dangerous_without_recent_auth(),
        SessionPolicy::default(),
    )
    .await;
    let mut a = logged_in(&fx, chrome(), "alice").await;
    for _ in 0..4 {
        fx.clock.advance(Duration::from_secs(4 * 60));
        assert_eq!(a.refresh(&fx.app).await.status, 200);
    }
    let r = fx
        .app
        .send(a.request("POST", "/auth/sessions/revoke-others"))
        .await;
    assert_eq!(r.status, 200);
}

pub async fn limit_reached_is_409<H: AdapterHarness>() {
    let policy = SessionPolicy::builder()
        .max_sessions_per_user(1)
        .on_limit(OnLimit::RejectNew)
        .build()
        .unwrap();
    let fx = fixture::<H>(cookies(), policy).await;
    let a = logged_in(&fx, as_cookies(chrome()), "alice").await;
    let mut b = as_cookies(phone());
    let r = b.login(&fx.app, "alice").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    // No session cookie; only the new browser's device cookie, which the
    // continuation ticket is bound to.
    let set: Vec<_> = r.all("set-cookie");
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].starts_with(&format!("{}=", crate::web::DEVICE_COOKIE)));
    let v = r.json();
    assert_eq!(v["error"], "session_limit_reached");
    assert_eq!(v["limit"], "per_user");
    let active = v["active"].as_array().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["id"].as_str(), a.session_id.as_deref());
    for (value, _) in a.jar.values() {
        assert!(!r.body.contains(value.as_str()));
    }
    assert!(fx.events.names().contains(&"session_limit_reached"));
}

/// RFC 8725 attack tokens over HTTP: every one is a plain `401
/// invalid_token` (no detail in the body) and an `authn_token_rejected`
/// event carrying the precise reason.
pub async fn jwt_attack_corpus_over_http<H: AdapterHarness>() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use jsonwebtoken::{Algorithm, EncodingKey};

    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let d = logged_in(&fx, chrome(), "alice").await;
    let genuine = d.access.clone().unwrap();
    let parts: Vec<&str> = genuine.split('.').collect();
    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let key = EncodingKey::from_secret(&[0x5a; 32]).unwrap();
    let sign = |header: &Value, claims: &Value| {
        let msg = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &key, Algorithm::HS256).unwrap();
        format!("{msg}.{sig}")
    };
    let header = |extra: Value| {
        let mut h = serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": "conformance-1"});
        h.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        h
    };
    let mut tampered = claims.clone();
    tampered["sub"] = "mallory".into();
    let mut flipped = B64.decode(parts[2]).unwrap();
    flipped[0] ^= 1;
    let mut corpus: Vec<(String, &str)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = B64.encode(header(serde_json::json!({"alg": alg})).to_string());
        corpus.push((format!("{h}.{}.", parts[1]), "malformed"));
        corpus.push((format!("{h}.{}.AAAA", parts[1]), "algorithm_mismatch"));
    }
    corpus.extend([
        (
            format!(
                "{}.{}.{}",
                parts[0],
                B64.encode(tampered.to_string()),
                parts[2]
            ),
            "bad_signature",
        ),
        (
            format!("{}.{}.{}", parts[0], parts[1], B64.encode(&flipped)),
            "bad_signature",
        ),
        (
            format!("{}.{}.{}", parts[0], parts[1], &parts[2][..10]),
            "bad_signature",
        ),
        (
            sign(&header(serde_json::json!({"alg": "ES256"})), &claims),
            "algorithm_mismatch",
        ),
        (
            sign(
                &header(serde_json::json!({"kid": "../../dev/null"})),
                &claims,
            ),
            "unknown_key",
        ),
        (
            sign(&header(serde_json::json!({"kid": "' OR '1'='1"})), &claims),
            "unknown_key",
        ),
        (
            sign(
                &header(serde_json::json!({"jku": "http://127.0.0.1/jwks"})),
                &claims,
            ),
            "unsupported_header",
        ),
        (
            sign(&header(serde_json::json!({"jwk": {"kty": "oct"}})), &claims),
            "unsupported_header",
        ),
        (
            sign(
                &header(serde_json::json!({"x5u": "http://127.0.0.1/x"})),
                &claims,
            ),
            "unsupported_header",
        ),
        (
            sign(&header(serde_json::json!({"crit": ["b64"]})), &claims),
            "unsupported_header",
        ),
        (
            sign(&header(serde_json::json!({"typ": "JWT"})), &claims),
            "wrong_type",
        ),
        (
            sign(
                &header(serde_json::json!({})),
                &serde_json::json!({"sub": "alice"}),
            ),
            "bad_claims",
        ),
        (format!("{genuine}.AAAA.BBBB"), "malformed"),
        (format!("{genuine}="), "malformed"),
        (
            serde_json::json!({"payload": parts[1], "signature": parts[2]}).to_string(),
            "malformed",
        ),
    ]);
    for (token, why) in corpus {
        fx.events.clear();
        let r = fx
            .app
            .send(
                TestRequest::new("GET", "/hello")
                    .header("authorization", format!("Bearer {token}")),
            )
            .await;
        assert_invalid_token(&r, false);
        let events: Vec<String> = fx.events.events().iter().map(|e| e.to_json()).collect();
        assert!(
            events
                .iter()
                .any(|e| e.contains(&format!("\"why\":\"{why}\""))),
            "expected rejection {why} for {token:.60}, events {events:?}"
        );
        assert!(
            !r.body.contains(why) || why == "invalid_token",
            "the body must not reveal the reason"
        );
    }
}

/// The "this wasn't me" link over HTTP: GET only shows a page, POST ends
/// every session once, a second POST is refused.
pub async fn not_me_link_over_http<H: AdapterHarness>() {
    use crate::manager::SessionManager;
    use crate::notify::OutboxNotifier;
    use crate::risk::RiskConfig;
    use crate::risk::{NoticeLinks, RiskEngine};
    use crate::testing::{TestEnricher, test_tokens};

    let store = MemoryStore::new();
    let outbox = Arc::new(OutboxNotifier::new(10));
    let links = NoticeLinks {
        sessions_url: "https://app.test/sessions".into(),
        not_me_url: "https://app.test/auth/sessions/not-me".into(),
    };
    let manager = SessionManager::builder(
        SessionPolicy::default(),
        test_tokens(),
        Arc::new(store.clone()),
    )
    .clock(Arc::new(ManualClock::new(SystemClock.now())))
    .enricher(Arc::new(TestEnricher))
    .risk(
        RiskEngine::new(RiskConfig::default(), Arc::new(store))
            .with_notifier(outbox.clone(), links),
    )
    .build()
    .unwrap();
    let api = SessionApi::new(manager, bearer()).unwrap();
    let app = H::start(api).await;
    let mut laptop = Device::new(true, "test/desktop/GB", [81, 2, 69, 142]);
    let mut phone = Device::new(true, "test/mobile/GB", [81, 2, 69, 142]);
    assert_eq!(laptop.login(&app, "alice").await.status, 200);
    assert_eq!(phone.login(&app, "alice").await.status, 200);
    let url = outbox
        .all()
        .first()
        .expect("a new-device notice")
        .not_me_url
        .clone();
    let query = url.split_once('?').unwrap().1.to_owned();
    let path = format!("/auth/sessions/not-me?{query}");

    let page = laptop
        .send(&app, TestRequest::new("GET", path.clone()))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<form method=\"post\""));
    assert_eq!(page.one("cache-control"), Some("no-store"));
    assert_eq!(laptop.hello(&app).await.status, 200, "GET changes nothing");

    let done = laptop
        .send(&app, TestRequest::new("POST", path.clone()))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.one("clear-site-data"), Some(WIPE));
    assert_eq!(laptop.hello(&app).await.status, 401);
    assert_eq!(phone.hello(&app).await.status, 401);

    let again = laptop.send(&app, TestRequest::new("POST", path)).await;
    assert_eq!(again.status, 400, "single use");
    let bad = laptop
        .send(
            &app,
            TestRequest::new("POST", "/auth/sessions/not-me?token=%3Cscript%3E"),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(!bad.body.contains("<script>"));
}

/// Turns a device into one of the fixture's transport.
type Pick = fn(Device) -> Device;

/// A default-policy fixture per transport, with the device converter and
/// whether it is the cookie transport.
async fn per_transport<H: AdapterHarness>() -> Vec<(Fixture<H>, Pick, bool)> {
    let mut out = Vec::new();
    for (config, pick, is_cookies) in [
        (bearer(), (|d| d) as Pick, false),
        (cookies(), as_cookies as Pick, true),
    ] {
        out.push((
            fixture::<H>(config, SessionPolicy::default()).await,
            pick,
            is_cookies,
        ));
    }
    out
}

/// `204`, the wipe headers, and (cookies) every session cookie expired.
fn assert_logged_out(r: &TestResponse, cookies: bool) {
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.all("clear-site-data"), vec![WIPE]);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    if cookies {
        assert_eq!(r.all("set-cookie"), expired_cookies());
    } else {
        assert!(r.all("set-cookie").is_empty());
    }
}

fn revoked_for_logout<H>(fx: &Fixture<H>) -> bool {
    fx.events.events().iter().any(|e| {
        e.kind
            == crate::events::EventKind::SessionRevoked {
                reason: RevokeReason::Logout,
            }
    })
}

/// Logout with nothing but an access token that expired minutes ago: the
/// token is authentic, so the session ends and its refresh token dies.
pub async fn logout_with_expired_access_token<H: AdapterHarness>() {
    for (fx, pick, is_cookies) in per_transport::<H>().await {
        let mut d = logged_in(&fx, pick(chrome()), "alice").await;
        let captured = d.clone();
        fx.clock.advance(Duration::from_secs(5 * 60 + 30));
        assert_invalid_token(&d.hello(&fx.app).await, false);
        d.drop_refresh();
        fx.events.clear();
        let r = d.logout(&fx.app).await;
        assert_logged_out(&r, is_cookies);
        assert!(revoked_for_logout(&fx), "{:?}", fx.events.names());
        // The refresh token captured before logout is refused.
        let mut old = captured;
        assert_ended(&old.refresh(&fx.app).await, "logout");
        for e in fx.events.events() {
            let json = e.to_json();
            for secret in [old.access.as_deref(), old.refresh.as_deref()]
                .into_iter()
                .flatten()
            {
                assert!(!json.contains(secret), "raw token in {json}");
            }
        }
    }
}

/// Logout with nothing but the refresh token (bearer: JSON body; cookies:
/// the refresh cookie, which is scoped so that logout receives it).
pub async fn logout_with_refresh_token_only<H: AdapterHarness>() {
    for (fx, pick, is_cookies) in per_transport::<H>().await {
        let mut d = logged_in(&fx, pick(chrome()), "alice").await;
        let captured = d.clone();
        fx.clock.advance(Duration::from_secs(60));
        d.drop_access();
        let r = d.logout(&fx.app).await;
        assert_logged_out(&r, is_cookies);
        // The access token, still inside its 5 minutes, is refused at once.
        // (Each ended answer wipes the device it reaches: use copies.)
        assert_ended(&captured.clone().hello(&fx.app).await, "logout");
        assert_ended(&captured.clone().refresh(&fx.app).await, "logout");
    }
}

/// Credentials that prove nothing still wipe the client but end nothing;
/// a malformed bearer body is `400`; cookie logout with credentials needs
/// the CSRF check.
pub async fn logout_unproven_ends_nothing<H: AdapterHarness>() {
    for (fx, pick, is_cookies) in per_transport::<H>().await {
        let mut d = logged_in(&fx, pick(chrome()), "alice").await;
        let mut forger = d.clone();
        let real = d.refresh.clone().or_else(|| {
            d.jar
                .get(crate::web::REFRESH_COOKIE)
                .map(|(v, _)| v.clone())
        });
        let (head, _) = real.as_deref().unwrap().rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", "A".repeat(43));
        forger.drop_access();
        forger.refresh = Some(forged.clone());
        if let Some(c) = forger.jar.get_mut(crate::web::REFRESH_COOKIE) {
            c.0 = forged;
        }
        let r = forger.logout(&fx.app).await;
        assert_logged_out(&r, is_cookies);
        assert_eq!(d.hello(&fx.app).await.status, 200, "session untouched");
        assert!(
            fx.events
                .events()
                .iter()
                .any(|e| e.to_json().contains("\"why\":\"unknown_refresh_token\""))
        );
        if is_cookies {
            let mut no_csrf = d.clone();
            no_csrf.send_csrf = false;
            let r = no_csrf.logout(&fx.app).await;
            assert_error(&r, 403, "csrf_rejected");
        } else {
            let r = fx
                .app
                .send(
                    d.request("POST", "/auth/logout")
                        .json(&serde_json::json!("not an object")),
                )
                .await;
            assert_error(&r, 400, "invalid_request");
        }
        assert_eq!(d.hello(&fx.app).await.status, 200, "session untouched");
        // Without any credential, logout just wipes.
        let r = fx.app.send(TestRequest::new("POST", "/auth/logout")).await;
        assert_logged_out(&r, is_cookies);
    }
}

/// An active client refreshing before each access token runs out stays
/// signed in for many access-token lifetimes with exactly one session;
/// once it goes quiet past the idle timeout, refresh, listing and logout
/// all see the session as ended.
pub async fn time_travel_idle_timeout<H: AdapterHarness>() {
    for (fx, pick, is_cookies) in per_transport::<H>().await {
        let mut d = logged_in(&fx, pick(chrome()), "alice").await;
        let mut quiet = logged_in(&fx, pick(phone()), "alice").await;
        // 40 minutes of activity: eight access-token lifetimes.
        for _ in 0..10 {
            fx.clock.advance(Duration::from_secs(4 * 60));
            let r = d.refresh(&fx.app).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(d.hello(&fx.app).await.status, 200);
        }
        // The quiet device went idle: only the active one is listed.
        let r = d.sessions(&fx.app).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let sessions = r.json()["sessions"].as_array().unwrap().clone();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        assert_eq!(sessions[0]["id"].as_str(), d.session_id.as_deref());
        assert_eq!(sessions[0]["current"], true);
        assert_ended(&quiet.refresh(&fx.app).await, "idle_timeout");

        // Now the active device goes quiet too.
        fx.clock.advance(Duration::from_secs(31 * 60));
        assert_invalid_token(&d.clone().sessions(&fx.app).await, false);
        assert_ended(&d.clone().refresh(&fx.app).await, "idle_timeout");
        // Logout with the expired access token still wipes the client.
        let r = d.logout(&fx.app).await;
        assert_logged_out(&r, is_cookies);
    }
}

/// Refreshing every 25 minutes keeps a session past the idle timeout but
/// never past its absolute lifetime.
pub async fn time_travel_absolute_lifetime<H: AdapterHarness>() {
    for (fx, pick, is_cookies) in per_transport::<H>().await {
        let mut d = logged_in(&fx, pick(chrome()), "alice").await;
        let mut elapsed = Duration::ZERO;
        let lifetime = SessionPolicy::default().absolute_lifetime();
        while elapsed + Duration::from_secs(25 * 60) < lifetime {
            fx.clock.advance(Duration::from_secs(25 * 60));
            elapsed += Duration::from_secs(25 * 60);
            let r = d.refresh(&fx.app).await;
            assert_eq!(r.status, 200, "at {elapsed:?}: {}", r.body);
            let v = r.json();
            let left = (lifetime - elapsed).as_secs();
            if is_cookies {
                // Both cookies end with the session.
                let access = r
                    .all("set-cookie")
                    .into_iter()
                    .find(|c| c.starts_with("__Host-sw_access="))
                    .unwrap()
                    .to_owned();
                assert!(access.contains(&format!("; Max-Age={left};")), "{access}");
            }
            assert!(v["expires_in"].as_u64().unwrap() <= 300);
            let r = d.sessions(&fx.app).await;
            assert_eq!(r.json()["sessions"].as_array().unwrap().len(), 1);
        }
        fx.clock
            .advance(lifetime - elapsed + Duration::from_secs(1));
        assert_ended(&d.clone().refresh(&fx.app).await, "absolute_timeout");
        assert_invalid_token(&d.clone().sessions(&fx.app).await, false);
        let r = d.logout(&fx.app).await;
        assert_logged_out(&r, is_cookies);
    }
}

/// Ending another device after the caller's access token ran out: the
/// expired token is refused (no wipe), a refresh gets a new one, and the
/// ended device's refresh token, list and logout see the end.
pub async fn time_travel_revoke_after_access_expiry<H: AdapterHarness>() {
    for (fx, pick, is_cookies) in per_transport::<H>().await {
        let mut a = logged_in(&fx, pick(chrome()), "alice").await;
        let mut b = logged_in(&fx, pick(phone()), "alice").await;
        let b_id = b.session_id.clone().unwrap();
        fx.clock.advance(Duration::from_secs(6 * 60));
        let req = a.request("DELETE", &format!("/auth/sessions/{b_id}"));
        assert_invalid_token(&a.send(&fx.app, req).await, false);
        assert_eq!(a.refresh(&fx.app).await.status, 200);
        let req = a.request("DELETE", &format!("/auth/sessions/{b_id}"));
        let r = a.send(&fx.app, req).await;
        assert_eq!(r.status, 204, "{}", r.body);
        let mut b_list = b.clone();
        assert_invalid_token(&b_list.sessions(&fx.app).await, false);
        assert_ended(&b.clone().refresh(&fx.app).await, "user");
        // B's logout with its expired access token and its refresh token:
        // already ended, still a clean wipe.
        let r = b.logout(&fx.app).await;
        assert_logged_out(&r, is_cookies);
        let r = a.sessions(&fx.app).await;
        assert_eq!(r.json()["sessions"].as_array().unwrap().len(), 1);
        // Past the re-authentication window, revoke-all is refused until
        // the user signs in again; the session itself stays usable.
        fx.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(a.refresh(&fx.app).await.status, 200);
        let req = a.request("POST", "/auth/sessions/revoke-all");
        let r = a.send(&fx.app, req).await;
        assert_error(&r, 401, "reauthentication_required");
        assert_eq!(a.hello(&fx.app).await.status, 200);
    }
}

// ------------------------------------------------- the handle and the layer

pub async fn session_handle_actions<H: AdapterHarness>() {
    for (config, cookie) in [(bearer(), false), (cookies(), true)] {
        let fx = fixture::<H>(config, SessionPolicy::default()).await;
        let pick = |d: Device| if cookie { as_cookies(d) } else { d };
        let mut laptop = logged_in(&fx, pick(chrome()), "alice").await;
        let mut phone = logged_in(&fx, pick(phone()), "alice").await;

        let r = laptop
            .send(&fx.app, laptop.request("GET", "/app/sessions"))
            .await;
        assert_eq!((r.status, r.body.as_str()), (200, "2"));
        // A GET (a cross-site link or image, which CSRF checks do not
        // cover) cannot act: the session survives it.
        let r = fx.app.send(laptop.request("GET", "/app/logout")).await;
        assert_error(&r, 405, "method_not_allowed");
        assert_eq!(laptop.hello(&fx.app).await.status, 200);
        let r = laptop
            .send(&fx.app, laptop.request("POST", "/app/end-others"))
            .await;
        assert_eq!((r.status, r.body.as_str()), (200, "1"));
        assert_ended(&phone.hello(&fx.app).await, "user");

        // Re-authentication replaces the session: new tokens, old ones refused.
        let before = laptop.clone();
        let r = laptop
            .send(&fx.app, laptop.request("POST", "/app/reauth"))
            .await;
        assert_eq!(r.status, 200, "reauth: {}", r.body);
        assert_eq!(laptop.hello(&fx.app).await.status, 200);
        let mut stale = before;
        assert_ended(&stale.hello(&fx.app).await, "reauthenticated");

        let r = laptop
            .send(&fx.app, laptop.request("POST", "/app/logout"))
            .await;
        assert_eq!(r.status, 204, "logout: {}", r.body);
        assert_eq!(r.one("clear-site-data"), Some(WIPE));
        assert!(revoked_for_logout(&fx));

        let mut phone = logged_in(&fx, pick(self::phone()), "alice").await;
        let r = phone
            .send(&fx.app, phone.request("POST", "/app/end-all"))
            .await;
        assert_eq!((r.status, r.json()["revoked"].as_u64()), (200, Some(1)));
        assert_eq!(r.one("clear-site-data"), Some(WIPE));

        // Without a session every action is the documented rejection.
        let anonymous = pick(chrome());
        for (method, path) in [
            ("GET", "/app/sessions"),
            ("POST", "/app/end-others"),
            ("POST", "/app/end-all"),
            ("POST", "/app/reauth"),
        ] {
            let r = fx.app.send(anonymous.request(method, path)).await;
            assert_error(&r, 401, "missing_token");
        }
        // Logging out without a session still wipes the client.
        let r = fx.app.send(anonymous.request("POST", "/app/logout")).await;
        assert_eq!(r.status, 204);
        assert_eq!(r.one("clear-site-data"), Some(WIPE));
    }
}

pub async fn typed_rejection_redirects<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let r = fx.app.send(TestRequest::new("GET", "/account")).await;
    assert_eq!((r.status, r.one("location")), (303, Some("/login")));
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    let r = d.send(&fx.app, d.request("GET", "/account")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "account alice"));
    fx.clock.advance(Duration::from_secs(5 * 60 + 1));
    let r = d.send(&fx.app, d.request("GET", "/account")).await;
    assert_eq!((r.status, r.one("location")), (303, Some("/login")));
    // Anything but a 401 is sent as is.
    let mut d = logged_in(&fx, as_cookies(chrome()), "alice").await;
    fx.store.set_down(true);
    let r = d.send(&fx.app, d.request("GET", "/account")).await;
    assert_error(&r, 503, "unavailable");
}

pub async fn without_the_layer<H: AdapterHarness>() {
    for config in [bearer(), cookies()] {
        let fx = fixture_with::<H>(config, SessionPolicy::default(), false).await;
        let r = fx.app.send(TestRequest::new("GET", "/hello")).await;
        assert_error(&r, 500, "internal_error");
        let r = fx
            .app
            .send(TestRequest::new("POST", "/login").header("x-test-user", "alice"))
            .await;
        assert_error(&r, 500, "internal_error");
        let r = fx.app.send(TestRequest::new("GET", "/maybe")).await;
        assert_eq!((r.status, r.body.as_str()), (200, "anonymous"));
        // Nothing is served under the prefix either: no session was made.
        let r = fx.app.send(TestRequest::new("POST", "/auth/refresh")).await;
        assert_eq!(r.status, 404);
        assert!(fx.events.events().is_empty(), "nothing happened");
    }
}

pub async fn session_paths_with_the_wrong_method<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    for (method, path, allow) in [
        ("GET", "/auth/refresh", "POST"),
        ("GET", "/auth/logout", "POST"),
        ("POST", "/auth/sessions", "GET"),
        ("DELETE", "/auth/sessions/revoke-all", "POST"),
        ("POST", "/auth/sessions/some-id", "DELETE"),
        ("PUT", "/auth/sessions/not-me", "GET, HEAD, POST"),
    ] {
        let r = fx.app.send(TestRequest::new(method, path)).await;
        assert_error(&r, 405, "method_not_allowed");
        assert_eq!(r.one("allow"), Some(allow), "{method} {path}");
    }
    // Other paths under the prefix are the app's (none here).
    let r = fx
        .app
        .send(TestRequest::new("GET", "/auth/elsewhere"))
        .await;
    assert_eq!(r.status, 404);
}

pub async fn missing_client_address_is_logged_once<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let d = logged_in(&fx, chrome(), "alice").await;
    assert!(!fx.api.saw_missing_client_ip());
    let mut anonymous_peer = d.request("POST", "/login").header("x-test-user", "bob");
    anonymous_peer.peer = None;
    let r = fx.app.send(anonymous_peer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        fx.api.saw_missing_client_ip(),
        "the missing address was reported"
    );
    let user = UserId::new("bob").unwrap();
    let sessions = fx.api.manager().list(&user, None).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].ip, None, "no address was invented");
    let alice = UserId::new("alice").unwrap();
    let sessions = fx.api.manager().list(&alice, None).await.unwrap();
    assert_eq!(sessions[0].ip, Some(d.peer.to_string()));
}

pub async fn openapi_document_over_http<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies().with_openapi_route(true), SessionPolicy::default()).await;
    let r = fx
        .app
        .send(TestRequest::new("GET", "/auth/openapi.json"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("content-type"), Some("application/json"));
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_eq!(r.json(), fx.api.openapi_json());
    // Off by default: the path is then the app's (none here).
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let r = fx
        .app
        .send(TestRequest::new("GET", "/auth/openapi.json"))
        .await;
    assert_eq!(r.status, 404);
}

/// `GET <prefix>/jwks` when asked for: the token configuration's key set
/// (empty with the harness's HS256 key: a shared secret is never
/// published; the keys themselves are checked in `tokens::jwks`), cacheable
/// for 5 minutes; `GET` only; off by default.
pub async fn jwks_over_http<H: AdapterHarness>() {
    let fx = fixture::<H>(bearer().with_jwks_route(true), SessionPolicy::default()).await;
    let r = fx.app.send(TestRequest::new("GET", "/auth/jwks")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("content-type"), Some("application/json"));
    assert_eq!(r.one("cache-control"), Some("public, max-age=300"));
    assert_eq!(r.json(), fx.api.manager().tokens().jwks());
    assert_eq!(r.json(), serde_json::json!({ "keys": [] }));
    let r = fx.app.send(TestRequest::new("POST", "/auth/jwks")).await;
    assert_eq!(r.status, 405);
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let r = fx.app.send(TestRequest::new("GET", "/auth/jwks")).await;
    assert_eq!(r.status, 404);
}

/// Expands to one test per behavioural case for the adapter harness
/// `$harness`, each marked with the test attribute `$attr` (for example
/// `tokio::test` or `actix_web::test`).
#[macro_export]
macro_rules! web_adapter_tests {
    ($harness:ty, $attr:meta) => {
        $crate::web_adapter_tests!(@cases $harness, $attr;
            protected_route_without_token,
            protected_route_with_valid_token,
            protected_route_with_expired_token,
            protected_route_with_revoked_token,
            garbage_and_wrong_type_tokens,
            oversized_credentials,
            optional_extractor,
            login_bearer_returns_json_tokens,
            login_cookies_exact,
            refresh_rotation_and_reuse_bearer,
            refresh_rotation_and_reuse_cookies,
            refresh_bad_requests,
            logout_headers_exact,
            logout_kills_refresh_token,
            logout_with_expired_access_token,
            logout_with_refresh_token_only,
            logout_unproven_ends_nothing,
            time_travel_idle_timeout,
            time_travel_absolute_lifetime,
            time_travel_revoke_after_access_expiry,
            csrf_double_submit,
            csrf_origin_check,
            store_down_is_503,
            revoke_others_ends_other_device,
            revoke_one_session,
            revoke_all_wipes_caller,
            listing_has_no_secrets,
            jwks_over_http,
            token_introspection_over_http,
            token_revocation_over_http,
            back_channel_logout_over_http,
            security_events_over_http,
            admin_routes_over_http,
            ssf_routes_over_http,
            reauthentication_required,
            limit_reached_is_409,
            not_me_link_over_http,
            jwt_attack_corpus_over_http,
            session_handle_actions,
            typed_rejection_redirects,
            without_the_layer,
            session_paths_with_the_wrong_method,
            missing_client_address_is_logged_once,
            openapi_document_over_http,
            accept_ch_on_every_response,
            client_hints_name_the_device,
            sessions_remember_where_they_were_used,
            dpop_stolen_tokens_are_refused,
            dpop_malformed_proofs_are_refused,
            dpop_nonce_flow,
            dpop_modes,
            dbsc_registration_binds_the_cookie_session,
            dbsc_refresh_with_the_device_key,
            dbsc_copied_cookies_are_useless_without_the_key,
            dbsc_key_mismatch_without_revocation,
            limit_reached_then_continue,
            eviction_is_named_and_explained,
        );
    };
    (@cases $harness:ty, $attr:meta; $($case:ident),+ $(,)?) => {
        $(
            #[$attr]
            async fn $case() {
                $crate::testing::web::$case::<$harness>().await;
            }
        )+
    };
}
