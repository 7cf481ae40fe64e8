//! Shared set-up for the sessionward fuzz targets.
//!
//! Every token target talks to one [`SessionManager`] per process, built
//! lazily on the first input and reused for all later ones (building it per
//! input would dominate the run time). The manager uses:
//!
//! - a [`MemoryStore`] (sessions) that is also the risk store,
//! - a fixed HS256 signing key and refresh key, so tokens signed by one
//!   process verify in another (the seed corpus relies on this),
//! - a [`ManualClock`] frozen at [`NOW_MS`], so a token minted for the seed
//!   corpus never expires and runs are reproducible,
//! - a [`NullSink`] for security events (the default tracing sink would only
//!   cost time here),
//! - a current-thread Tokio runtime to drive the async API.
//!
//! One user is logged in at start-up; its genuine tokens are what the
//! "mutate a genuine token" modes of the targets start from, so the fuzzer
//! reaches the deep paths (signature verified, claims checked, store asked)
//! and not only the early length and shape checks.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use sessionward_core::events::{EventSink, SecurityEvent};
use sessionward_core::risk::RiskConfig;
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    LoginSuccess, ManualClock, MemoryStore, RequestContext, RiskEngine, SessionManager,
    SessionPolicy, SessionStore, Timestamp, UserId,
};

/// The frozen "now" of every fuzz manager: 2026-01-01T00:00:00Z.
pub const NOW_MS: i64 = 1_767_225_600_000;
/// `iss` of every token.
pub const ISSUER: &str = "https://auth.fuzz.example";
/// `aud` of every token.
pub const AUDIENCE: &str = "fuzz-api";
/// The user logged in at start-up.
pub const USER: &str = "fuzz-user";
/// HS256 key id and secret (fixed: seeds minted by one process verify in another).
pub const KID: &str = "fuzz-k1";
/// HS256 secret.
pub const HS256_SECRET: [u8; 32] = [0x5a; 32];
/// Refresh chain key.
pub const REFRESH_KEY: [u8; 32] = [0xa5; 32];
/// The manager's `max_clock_skew`, in seconds (set explicitly, equal to the
/// library default): an accepted token's `nbf` and `iat` may lie up to this
/// far after "now", a genuine token from an instance whose clock runs ahead.
pub const MAX_CLOCK_SKEW_SECS: u64 = 5;

/// Discards security events.
#[derive(Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn record(&self, _event: &SecurityEvent) {}
}

/// The process-wide manager, runtime and start-up login.
pub struct Fixture {
    /// Drives the manager's async API (`block_on`).
    pub runtime: tokio::runtime::Runtime,
    /// The manager under test (with a risk engine, so action tokens work).
    pub manager: SessionManager,
    /// The manager's session store (see [`Fixture::purge_sessions`]).
    pub store: Arc<MemoryStore>,
    /// The user logged in at start-up.
    pub user: UserId,
    /// The start-up login: a genuine session and its token pair.
    pub login: LoginSuccess,
}

impl Fixture {
    /// Runs a future of the manager to completion.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Deletes every session record from the store, active or revoked.
    ///
    /// The memory store keeps revoked sessions until they expire, which
    /// never happens under the frozen clock, and every login reads all of
    /// the user's records: a target that logs in again and again gets
    /// slower and bigger with every login. Afterwards every earlier token
    /// names an unknown session. Not for targets that use [`Fixture::login`]
    /// later.
    pub fn purge_sessions(&self) {
        self.block_on(
            self.store
                .purge_expired(Timestamp::from_unix_millis(i64::MAX)),
        )
        .expect("the memory store purges");
    }

    /// Logs the fuzz user in again (a fresh genuine session).
    pub fn login_again(&self) -> LoginSuccess {
        self.block_on(self.manager.login(&self.user, &RequestContext::new()))
            .expect("login of the fuzz user must succeed")
    }
}

/// The token configuration shared by every fuzz manager.
pub fn token_config() -> TokenConfig {
    TokenConfig::builder(ISSUER, AUDIENCE)
        .signing_key(SigningKey::hs256(KID, &HS256_SECRET).expect("valid HS256 key"))
        .refresh_key(REFRESH_KEY)
        .max_clock_skew(std::time::Duration::from_secs(MAX_CLOCK_SKEW_SECS))
        .build()
        .expect("valid token config")
}

/// Builds a fresh manager and logs the fuzz user in. Used once per process
/// by [`fixture`], and by the seed-corpus generator.
pub fn build_fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let store = Arc::new(MemoryStore::new());
    let risk = RiskEngine::new(RiskConfig::default(), store.clone());
    let manager = SessionManager::builder(SessionPolicy::default(), token_config(), store.clone())
        .clock(Arc::new(ManualClock::new(Timestamp::from_unix_millis(
            NOW_MS,
        ))))
        .events(Arc::new(NullSink))
        .risk(risk)
        .build()
        .expect("manager builds");
    let user = UserId::new(USER).expect("valid user id");
    let login = runtime
        .block_on(manager.login(&user, &RequestContext::new()))
        .expect("start-up login succeeds");
    Fixture {
        runtime,
        manager,
        store,
        user,
        login,
    }
}

/// The process-wide fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

/// Applies fuzzer-chosen edits to a genuine token.
///
/// `edits` is read as 3-byte records `(position_hi, position_lo, value)`:
/// each XORs the byte at `position % len` with `value` (a zero `value`
/// leaves it alone, so the genuine token itself stays reachable). A trailing
/// incomplete record truncates the token to `first_byte % (len + 1)` bytes. Returns the edited token as text
/// (lossily: an edit may produce invalid UTF-8).
pub fn mutate(genuine: &str, edits: &[u8]) -> String {
    let mut bytes = genuine.as_bytes().to_vec();
    let mut records = edits.chunks_exact(3);
    for r in records.by_ref() {
        if bytes.is_empty() {
            break;
        }
        let at = usize::from(u16::from_be_bytes([r[0], r[1]])) % bytes.len();
        bytes[at] ^= r[2];
    }
    if let [cut, ..] = records.remainder() {
        bytes.truncate(usize::from(*cut) % (bytes.len() + 1));
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Signs raw header and claims bytes (any bytes, not only JSON objects) as a
/// compact JWS with the fixture's HS256 key:
/// `base64url(header).base64url(claims).base64url(HMAC-SHA256)`. Lets a
/// target put arrays, duplicate members or other odd JSON behind a valid
/// signature, which [`sessionward_core::tokens::TokenConfig::sign_jwt`]
/// (always an object header) cannot.
pub fn sign_raw(header: &[u8], claims: &[u8]) -> String {
    static KEY: OnceLock<jsonwebtoken::EncodingKey> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        jsonwebtoken::EncodingKey::from_secret(&HS256_SECRET).expect("valid HS256 secret")
    });
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), key, jsonwebtoken::Algorithm::HS256)
            .expect("HS256 signing works");
    format!("{message}.{signature}")
}

/// Replaces the placeholders `$SUB` and `$SID` in a fuzzer-written claims
/// document with the start-up user and session, so signed claims can point
/// at a session that really exists.
pub fn fill_placeholders(text: &str, fx: &Fixture) -> String {
    text.replace("$SUB", fx.user.as_str())
        .replace("$SID", fx.login.session.id.as_str())
}
