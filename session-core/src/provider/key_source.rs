//! Where a provider's keys are read again: providers rotate their signing
//! keys, and a token signed with a new key names a `kid` we do not hold.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{IdentityProvider, ProviderKeyError, ProviderKeys};

/// Shortest [`IdentityProvider::with_key_source`] interval taken (a
/// shorter one is raised to it): each unknown `kid` could otherwise make
/// us call the provider.
pub const MIN_KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(5);

/// Default [`IdentityProvider::with_key_source`] interval: the keys are
/// read again at most once a minute, however many unknown `kid`s arrive
/// (the endpoints are unauthenticated, so anyone can send one).
pub const DEFAULT_KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Reads the provider's current key set: its `jwks_uri` (the adapters
/// have an HTTP one, `sessionward_axum::HyperJwksSource`), or a file
/// ([`JwksFile`]).
#[async_trait]
pub trait ProviderKeySource: Send + Sync + 'static {
    /// The key set as it is now.
    async fn fetch(&self) -> Result<ProviderKeys, ProviderKeyError>;
}

/// A JWKS file, read again on each fetch (replace it to rotate).
#[derive(Debug, Clone)]
pub struct JwksFile {
    path: PathBuf,
}

impl JwksFile {
    /// The file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JwksFile { path: path.into() }
    }
}

#[async_trait]
impl ProviderKeySource for JwksFile {
    async fn fetch(&self) -> Result<ProviderKeys, ProviderKeyError> {
        ProviderKeys::from_jwks_file(&self.path)
    }
}

/// The keys of a provider and how to read them again.
#[derive(Clone)]
pub(crate) struct KeyState {
    pub(crate) current: Arc<RwLock<ProviderKeys>>,
    source: Option<Arc<dyn ProviderKeySource>>,
    interval: Duration,
    /// When the last fetch began (`None`: never).
    last_fetch: Arc<Mutex<Option<Instant>>>,
}

impl KeyState {
    pub(crate) fn fixed(keys: ProviderKeys) -> Self {
        KeyState {
            current: Arc::new(RwLock::new(keys)),
            source: None,
            interval: DEFAULT_KEY_REFETCH_INTERVAL,
            last_fetch: Arc::new(Mutex::new(None)),
        }
    }

    pub(crate) fn keys(&self) -> std::sync::RwLockReadGuard<'_, ProviderKeys> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl IdentityProvider {
    /// Reads the keys again from `source` when a token names a key we do
    /// not hold (a rotation at the provider), at most once per `interval`
    /// (see [`DEFAULT_KEY_REFETCH_INTERVAL`]; at least
    /// [`MIN_KEY_REFETCH_INTERVAL`]). The keys given to
    /// [`IdentityProvider::new`] are used until then.
    pub fn with_key_source(
        mut self,
        source: Arc<dyn ProviderKeySource>,
        interval: Duration,
    ) -> Self {
        self.keys.source = Some(source);
        self.keys.interval = interval.max(MIN_KEY_REFETCH_INTERVAL);
        // A new source is read on its own schedule (clones still share the
        // keys themselves).
        self.keys.last_fetch = Arc::new(Mutex::new(None));
        self
    }

    /// A provider whose keys are read from `source` now, and again as
    /// [`IdentityProvider::with_key_source`] says.
    ///
    /// # Errors
    /// The source's [`ProviderKeyError`]: without keys nothing can be
    /// verified.
    pub async fn from_key_source(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        source: Arc<dyn ProviderKeySource>,
        replay: Arc<dyn crate::risk::RiskStore>,
    ) -> Result<Self, ProviderKeyError> {
        let keys = source.fetch().await?;
        Ok(IdentityProvider::new(issuer, audience, keys, replay)
            .with_key_source(source, DEFAULT_KEY_REFETCH_INTERVAL))
    }

    /// Reads the keys again now, unless there is no source or the last
    /// read began less than the interval ago. Whether the keys were
    /// replaced.
    ///
    /// # Errors
    /// The source's [`ProviderKeyError`]; the keys held stay in use.
    pub async fn refresh_keys(&self) -> Result<bool, ProviderKeyError> {
        let Some(source) = &self.keys.source else {
            return Ok(false);
        };
        {
            let mut last = self
                .keys
                .last_fetch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < self.keys.interval) {
                return Ok(false);
            }
            // Claimed before fetching: concurrent callers do not all fetch.
            *last = Some(Instant::now());
        }
        match source.fetch().await {
            Ok(keys) => {
                *self
                    .keys
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
                tracing::info!(target: "sessionward::provider", issuer = %self.issuer, "provider keys read again");
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(target: "sessionward::provider", issuer = %self.issuer, error = %e, "provider keys could not be read again");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::provider::{ProviderSignalError, ProviderTokenError};
    use crate::testing::provider::{IDP_ISSUER, TestProvider};
    use crate::time::Clock;
    use crate::{
        LoginOptions, MemoryStore, ProviderSession, RequestContext, SessionManager, SessionPolicy,
        UserId,
    };

    /// Serves `jwks` and counts the reads.
    struct Counting {
        jwks: String,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl ProviderKeySource for Counting {
        async fn fetch(&self) -> Result<ProviderKeys, ProviderKeyError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            ProviderKeys::from_jwks(&self.jwks)
        }
    }

    /// A logout token signed with a key the provider rotated to is taken
    /// after one read of its keys; more unknown `kid`s within the interval
    /// read nothing (anyone can send them), and are refused.
    #[tokio::test]
    async fn a_rotated_key_is_read_once_then_rate_limited() {
        let idp = TestProvider::new();
        let source = Arc::new(Counting {
            jwks: idp.rotated_jwks("idp-2"),
            reads: AtomicUsize::new(0),
        });
        let store = Arc::new(MemoryStore::new());
        let provider = idp
            .receiver(store.clone())
            .with_key_source(source.clone(), Duration::from_secs(3600));
        let manager = SessionManager::builder(
            SessionPolicy::default(),
            crate::testing::test_tokens(),
            store,
        )
        .build()
        .unwrap();
        let alice = UserId::new("alice").unwrap();
        let options =
            LoginOptions::default().via_provider(ProviderSession::new(IDP_ISSUER, "alice"));
        let login = manager
            .login_with(&alice, &RequestContext::new(), options)
            .await
            .unwrap();
        let now = manager.now();
        let rotated = idp.sign_with_other_key(
            &json!({ "kid": "idp-2" }),
            &idp.claims(now, Some("alice"), None),
        );
        assert_eq!(
            manager
                .back_channel_logout(&provider, &rotated)
                .await
                .unwrap(),
            1
        );
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        assert!(
            manager
                .authenticate(login.tokens.access_token.expose_secret())
                .await
                .is_err()
        );

        let unknown = idp.sign_with_other_key(
            &json!({ "kid": "idp-3" }),
            &idp.claims(now, Some("alice"), None),
        );
        for _ in 0..5 {
            assert!(matches!(
                manager.back_channel_logout(&provider, &unknown).await,
                Err(ProviderSignalError::Refused(ProviderTokenError::UnknownKey))
            ));
        }
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            1,
            "one read per interval"
        );
    }

    /// A provider read from a file; a failed read keeps the keys held.
    #[tokio::test]
    async fn keys_from_a_file_and_a_failed_read() {
        let idp = TestProvider::new();
        let path = std::env::temp_dir().join(format!(
            "sw-jwks-{}.json",
            crate::SessionId::generate().as_str()
        ));
        std::fs::write(&path, idp.jwks()).unwrap();
        let provider = IdentityProvider::from_key_source(
            IDP_ISSUER,
            "sessionward-app",
            Arc::new(JwksFile::new(&path)),
            Arc::new(MemoryStore::new()),
        )
        .await
        .unwrap();
        let now = crate::time::SystemClock.now();
        let token = idp.logout_token(now, Some("alice"), None);
        assert!(provider.validate(&token, now).is_ok());
        // The first read again is allowed; it fails: the keys held stay.
        std::fs::write(&path, "not a key set").unwrap();
        let again = provider
            .clone()
            .with_key_source(Arc::new(JwksFile::new(&path)), Duration::ZERO);
        assert!(again.refresh_keys().await.is_err());
        assert!(
            again.validate(&token, now).is_ok(),
            "the keys held stay in use"
        );
        // Within the interval (at least 5 s, whatever was asked): no read.
        std::fs::write(&path, idp.rotated_jwks("idp-2")).unwrap();
        assert!(!again.refresh_keys().await.unwrap());
        let rotated = provider
            .clone()
            .with_key_source(Arc::new(JwksFile::new(&path)), Duration::ZERO);
        assert!(rotated.refresh_keys().await.unwrap());
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            IdentityProvider::from_key_source(
                IDP_ISSUER,
                "x",
                Arc::new(JwksFile::new(&path)),
                Arc::new(MemoryStore::new())
            )
            .await,
            Err(ProviderKeyError::Io(_))
        ));
    }
}
