//! [`SessionManager`]: the engine a host app constructs once.
//!
//! It mints and checks tokens, asks the store for every security decision,
//! emits security events, and keeps the optional cached revocation view.

#[cfg(feature = "risk")]
mod anomaly;
mod authenticate;
mod cache;
mod continuation;
mod dbsc;
mod directory;
mod dpop;
mod introspect;
mod limits;
mod login;
mod logout;
mod overview;
mod provider_logout;
mod refresh;
mod revoke;
#[cfg(feature = "risk")]
mod risk_flow;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::binding::{ChallengeKey, MemoryReplayStore, NonceKey, ReplayStore};
use crate::enrich::LoginEnricher;
use crate::events::{EventKind, EventSink, SecurityEvent, SessionHasher, TracingSink};
use crate::ids::{SessionId, UserId};
use crate::policy::SessionPolicy;
use crate::privacy::{IpHashKey, IpPrivacy, MissingIpHashKey};
use crate::record::SessionRecord;
#[cfg(feature = "risk")]
use crate::risk::RiskEngine;
use crate::secret::{AccessToken, RefreshToken};
use crate::store::SessionStore;
use crate::time::{Clock, SystemClock, Timestamp};
use crate::tokens::{AccessClaims, TokenConfig};

pub use authenticate::AuthenticatedSession;
pub use continuation::{CONTINUATION_TICKET_TYP, CONTINUATION_TTL};
pub use dbsc::DeviceRefresh;
pub use directory::{DirectoryEntry, DirectoryPage, MatchingMode, MatchingReport};
pub use introspect::{ActiveToken, IntrospectedKind, Introspection};
pub use login::{LoginOptions, LoginSuccess};
pub use logout::{LogoutOutcome, LogoutProof};
pub use overview::{ExportedSession, UserExport};
pub use refresh::Refreshed;
#[cfg(feature = "risk")]
pub use risk_flow::ACTION_TOKEN_TYP;

use cache::RevocationCache;

/// How `authenticate` learns that a session was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationMode {
    /// Ask the store on every request. Revocation is effective on the very
    /// next request, on every instance. The default.
    Strict,
    /// Keep an in-process view of session state, kept current by the
    /// store's [`crate::RevocationFeed`] (push). A revoked session is refused
    /// as soon as its push message arrives (milliseconds); if a message were
    /// lost while the feed still looks connected, a cached answer is never
    /// older than `max_staleness`. While the feed is disconnected, or when
    /// the store has no feed, every request is checked in the store.
    Cached {
        /// Longest time a cached "active" answer is reused without asking the store.
        max_staleness: Duration,
        /// Most sessions kept in the view.
        capacity: usize,
    },
}

impl RevocationMode {
    /// Cached mode with a 10-second staleness bound and room for 100 000 sessions.
    pub fn cached() -> Self {
        RevocationMode::Cached {
            max_staleness: Duration::from_secs(10),
            capacity: 100_000,
        }
    }
}

/// A fresh access/refresh token pair.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    /// The JWT access token.
    #[serde(serialize_with = "expose_access")]
    pub access_token: AccessToken,
    /// When the access token expires.
    pub access_expires_at: Timestamp,
    /// The opaque refresh token.
    #[serde(serialize_with = "expose_refresh")]
    pub refresh_token: RefreshToken,
    /// When the refresh token stops working at the latest (the session's absolute end).
    pub refresh_expires_at: Timestamp,
}

fn expose_access<S: serde::Serializer>(t: &AccessToken, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.expose_secret())
}

fn expose_refresh<S: serde::Serializer>(t: &RefreshToken, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.expose_secret())
}

/// The session engine. Cheap to clone; clones share state.
///
/// ```
/// use std::sync::Arc;
/// use sessionward_core::{MemoryStore, RequestContext, SessionManager, SessionPolicy, UserId};
/// use sessionward_core::tokens::{SigningKey, TokenConfig};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let tokens = TokenConfig::builder("https://auth.example.com", "example-api")
///     .signing_key(SigningKey::hs256("k1", &[1u8; 32]).unwrap())
///     .refresh_key([2u8; 32])
///     .build()
///     .unwrap();
/// let manager = SessionManager::builder(SessionPolicy::default(), tokens, Arc::new(MemoryStore::new()))
///     .build()
///     .unwrap();
///
/// let alice = UserId::new("alice").unwrap();
/// let login = manager.login(&alice, &RequestContext::new()).await.unwrap();
/// let session = manager.authenticate(login.tokens.access_token.expose_secret()).await.unwrap();
/// assert_eq!(session.user, alice);
///
/// manager.logout(&session).await.unwrap();
/// assert!(manager.authenticate(login.tokens.access_token.expose_secret()).await.is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

struct Inner {
    policy: SessionPolicy,
    tokens: TokenConfig,
    store: Arc<dyn SessionStore>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    hasher: SessionHasher,
    enricher: Option<Arc<dyn LoginEnricher>>,
    #[cfg(feature = "risk")]
    risk: Option<RiskEngine>,
    cache: Option<Arc<RevocationCache>>,
    privacy: IpPrivacy,
    /// Where DPoP proof ids are recorded.
    replay: Arc<dyn ReplayStore>,
    /// Issues and checks DPoP server nonces.
    nonces: NonceKey,
    /// Issues and checks DBSC challenges and session identifiers.
    dbsc_keys: ChallengeKey,
    /// Decides each login's limits; `None` is the policy's fixed limits.
    limit_resolver: Option<Arc<dyn crate::limits::LimitResolver>>,
    /// Told of every session ended (the Shared Signals transmitter).
    signals: Option<Arc<dyn crate::signals::SessionSignals>>,
    /// The latest "not before" mark this instance raised (Unix ms), so a
    /// login that starts after that call returned counts as checked after it.
    latest_mark: std::sync::atomic::AtomicI64,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("policy", &self.inner.policy)
            .field("tokens", &self.inner.tokens)
            .field("cached", &self.inner.cache.is_some())
            .finish_non_exhaustive()
    }
}

/// Errors building a [`SessionManager`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Cached mode needs a Tokio runtime to run the feed listener.
    #[error("cached revocation mode must be built inside a Tokio runtime")]
    NoRuntime,
    /// Cached mode was asked for with a zero capacity or staleness.
    #[error("cached revocation mode needs a capacity and staleness above zero")]
    BadCacheSettings,
    /// The policy stores IPs as a keyed hash but no key was given.
    #[error(transparent)]
    MissingIpHashKey(#[from] MissingIpHashKey),
}

/// Builder for [`SessionManager`].
pub struct SessionManagerBuilder {
    policy: SessionPolicy,
    tokens: TokenConfig,
    store: Arc<dyn SessionStore>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    hasher: SessionHasher,
    enricher: Option<Arc<dyn LoginEnricher>>,
    #[cfg(feature = "risk")]
    risk: Option<RiskEngine>,
    mode: RevocationMode,
    ip_hash_key: Option<IpHashKey>,
    replay: Option<Arc<dyn ReplayStore>>,
    limit_resolver: Option<Arc<dyn crate::limits::LimitResolver>>,
    signals: Option<Arc<dyn crate::signals::SessionSignals>>,
}

impl fmt::Debug for SessionManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManagerBuilder")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Starts building a manager from its three required parts.
    pub fn builder(
        policy: SessionPolicy,
        tokens: TokenConfig,
        store: Arc<dyn SessionStore>,
    ) -> SessionManagerBuilder {
        SessionManagerBuilder {
            policy,
            tokens,
            store,
            events: Arc::new(TracingSink),
            clock: Arc::new(SystemClock),
            hasher: SessionHasher::default(),
            enricher: None,
            #[cfg(feature = "risk")]
            risk: None,
            mode: RevocationMode::Strict,
            ip_hash_key: None,
            replay: None,
            limit_resolver: None,
            signals: None,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &SessionPolicy {
        &self.inner.policy
    }

    /// The token configuration.
    pub fn tokens(&self) -> &TokenConfig {
        &self.inner.tokens
    }

    /// How client IP addresses are stored and shown (from the policy and
    /// [`SessionManagerBuilder::ip_hash_key`]).
    pub fn ip_privacy(&self) -> &IpPrivacy {
        &self.inner.privacy
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The current time from the injected clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Whether the cached revocation view is currently in use (cached mode
    /// with a connected feed). `false` means every request asks the store.
    pub fn is_cache_live(&self) -> bool {
        self.inner.cache.as_ref().is_some_and(|c| c.is_connected())
    }

    /// Records a security event through the configured sink.
    pub fn emit(&self, event: SecurityEvent) {
        #[cfg(feature = "metrics")]
        crate::metrics::event(&event);
        self.inner.events.record(&event);
    }

    /// An event of `kind` about `session` (or just `user`) at `at`.
    pub(crate) fn event(
        &self,
        at: Timestamp,
        kind: EventKind,
        user: Option<&UserId>,
        session: Option<&SessionRecord>,
    ) -> SecurityEvent {
        let mut e = SecurityEvent::new(at, kind);
        e.user = user.cloned().or_else(|| session.map(|s| s.user.clone()));
        if let Some(s) = session {
            e.session = Some(self.inner.hasher.hash(&s.id));
            e.ip = self.event_ip(s.ip);
            e.user_agent = s.meta.user_agent.clone();
            if let Some(last) = &s.seen.last {
                e.last_seen_ip = self.event_ip(last.ip);
                e.last_seen_at = Some(last.at);
            }
        }
        e
    }

    /// What events and notices carry of a stored address
    /// ([`IpPrivacy::for_event`]).
    pub(crate) fn event_ip(&self, stored: Option<std::net::IpAddr>) -> Option<std::net::IpAddr> {
        self.inner.privacy.for_event(stored)
    }

    /// A session id as security events show it (keyed hash).
    pub fn session_hash(&self, id: &SessionId) -> crate::events::SessionHash {
        self.inner.hasher.hash(id)
    }

    fn idle_cutoff(&self, now: Timestamp) -> Timestamp {
        now.minus(self.inner.policy.idle_timeout())
    }

    /// Mints an access token for `record`.
    fn mint_access(
        &self,
        record: &SessionRecord,
        now: Timestamp,
    ) -> Result<(AccessToken, Timestamp), crate::SessionError> {
        let exp = now
            .plus(self.inner.policy.access_token_ttl())
            .min(record.expires_at);
        let claims = AccessClaims {
            iss: self.inner.tokens.issuer.clone(),
            aud: self.inner.tokens.audience.clone(),
            sub: record.user.as_str().to_owned(),
            sid: record.id.as_str().to_owned(),
            jti: SessionId::generate().into(),
            iat: now.unix_seconds(),
            nbf: now.unix_seconds(),
            // Round up so the token never outlives `exp` by less than a second
            // of truncation in the wrong direction: use the floor, never later.
            exp: exp.unix_seconds(),
            auth_time: record.auth_time.unix_seconds(),
            cnf: record
                .meta
                .binding
                .as_ref()
                .and_then(crate::binding::KeyBinding::access_thumbprint)
                .map(|jkt| crate::tokens::Confirmation {
                    jkt: jkt.to_owned(),
                }),
        };
        let token = self
            .inner
            .tokens
            .sign_jwt(crate::tokens::ACCESS_TOKEN_TYP, &claims)
            .map_err(crate::SessionError::Signing)?;
        Ok((
            AccessToken::new(token),
            Timestamp::from_unix_millis(claims.exp * 1000),
        ))
    }
}

impl SessionManagerBuilder {
    /// Where security events go (default: [`TracingSink`]).
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = sink;
        self
    }

    /// The clock (default: [`SystemClock`]); inject a [`crate::ManualClock`] in tests.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key that hashes session ids in events (default: random per process).
    pub fn session_hasher(mut self, hasher: SessionHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Device/location enrichment at login (default: none; sessions then
    /// have device class `other` and no location).
    pub fn enricher(mut self, enricher: Arc<dyn LoginEnricher>) -> Self {
        self.enricher = Some(enricher);
        self
    }

    #[cfg(feature = "risk")]
    #[cfg_attr(docsrs, doc(cfg(feature = "risk")))]
    /// Risk scoring, step-up and new-login notices at login (default: none).
    pub fn risk(mut self, engine: RiskEngine) -> Self {
        self.risk = Some(engine);
        self
    }

    /// How revocations reach `authenticate` (default: [`RevocationMode::Strict`]).
    pub fn revocation_mode(mut self, mode: RevocationMode) -> Self {
        self.mode = mode;
        self
    }

    /// The key of [`crate::privacy::IpStorage::KeyedHash`] (required with
    /// it, ignored otherwise). Keep it secret and stable.
    pub fn ip_hash_key(mut self, key: IpHashKey) -> Self {
        self.ip_hash_key = Some(key);
        self
    }

    /// Where DPoP proof ids are recorded so each proof is accepted once
    /// (default: the session store's own [`SessionStore::replay_store`],
    /// shared by every instance; an in-process [`MemoryReplayStore`] for
    /// stores without one).
    pub fn replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = Some(store);
        self
    }

    /// Decides the limits of each login per plan, user or app (default:
    /// the policy's fixed limits for everyone). See [`crate::limits`].
    pub fn limit_resolver(mut self, resolver: Arc<dyn crate::limits::LimitResolver>) -> Self {
        self.limit_resolver = Some(resolver);
        self
    }

    /// Tells `signals` of every session ended, after the store ended it
    /// (the Shared Signals transmitter, [`crate::ssf::Transmitter`]).
    pub fn signals(mut self, signals: Arc<dyn crate::signals::SessionSignals>) -> Self {
        self.signals = Some(signals);
        self
    }

    /// Builds the manager. In cached mode this spawns the feed listener on
    /// the current Tokio runtime.
    ///
    /// # Errors
    /// [`BuildError`] for cached mode outside a runtime or with zero
    /// settings, or a keyed-hash IP policy without a key.
    pub fn build(self) -> Result<SessionManager, BuildError> {
        let privacy = IpPrivacy::new(
            self.policy.ip_storage(),
            self.policy.ip_display(),
            self.ip_hash_key,
        )?;
        let cache = match self.mode {
            RevocationMode::Strict => None,
            RevocationMode::Cached {
                max_staleness,
                capacity,
            } => {
                if max_staleness.is_zero() || capacity == 0 {
                    return Err(BuildError::BadCacheSettings);
                }
                let cache = Arc::new(RevocationCache::new(
                    max_staleness,
                    capacity,
                    self.policy.access_token_ttl(),
                ));
                if let Some(feed) = self.store.revocation_feed() {
                    let handle =
                        tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
                    handle.spawn(cache::listen(
                        Arc::downgrade(&cache),
                        feed,
                        self.clock.clone(),
                    ));
                }
                Some(cache)
            }
        };
        let replay = self
            .replay
            .or_else(|| self.store.replay_store())
            .unwrap_or_else(|| {
                if self.policy.dpop().mode != crate::binding::DpopMode::Off {
                    tracing::info!(
                        target: "sessionward::dpop",
                        "the session store keeps no DPoP replay record; proofs are remembered in this process only"
                    );
                }
                Arc::new(MemoryReplayStore::default())
            });
        let nonces = NonceKey::new(self.tokens.refresh_key.derive("dpop-nonce"));
        let dbsc_keys = ChallengeKey::new(self.tokens.refresh_key.derive("dbsc-challenge"));
        Ok(SessionManager {
            inner: Arc::new(Inner {
                replay,
                nonces,
                dbsc_keys,
                limit_resolver: self.limit_resolver,
                signals: self.signals,
                policy: self.policy,
                tokens: self.tokens,
                store: self.store,
                events: self.events,
                clock: self.clock,
                hasher: self.hasher,
                enricher: self.enricher,
                #[cfg(feature = "risk")]
                risk: self.risk,
                cache,
                privacy,
                latest_mark: std::sync::atomic::AtomicI64::new(i64::MIN),
            }),
        })
    }
}
