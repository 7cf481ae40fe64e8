//! [`RiskEngine`]: the scoring configuration, the history store and the
//! notifier a manager consults at login (feature `risk`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{RiskConfig, RiskStore};
use crate::notify::Notifier;

/// Where notices link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeLinks {
    /// The session-management page.
    pub sessions_url: String,
    /// The "this wasn't me" endpoint; `?token=…` (or `&token=…`) is appended.
    pub not_me_url: String,
}

/// Risk scoring plus notification, plugged into a [`crate::SessionManager`] with
/// [`crate::SessionManagerBuilder::risk`].
///
/// ```
/// use std::sync::Arc;
/// use sessionward_core::{MemoryStore, RiskEngine};
/// use sessionward_core::notify::OutboxNotifier;
/// use sessionward_core::risk::RiskConfig;
///
/// let store = Arc::new(MemoryStore::new());
/// let engine = RiskEngine::new(RiskConfig::default(), store)
///     .with_notifier(Arc::new(OutboxNotifier::new(100)), sessionward_core::NoticeLinks {
///         sessions_url: "https://app.example.com/sessions".into(),
///         not_me_url: "https://app.example.com/auth/sessions/not-me".into(),
///     });
/// ```
#[derive(Clone)]
pub struct RiskEngine {
    pub(crate) config: RiskConfig,
    pub(crate) store: Arc<dyn RiskStore>,
    pub(crate) notifier: Option<(Arc<dyn Notifier>, NoticeLinks)>,
    pub(crate) action_token_ttl: Duration,
    pub(crate) step_up_ttl: Duration,
    pub(crate) mid_session: super::anomaly::MidSessionConfig,
}

impl fmt::Debug for RiskEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RiskEngine")
            .field("config", &self.config)
            .field("mid_session", &self.mid_session)
            .field("notifier", &self.notifier.as_ref().map(|(_, l)| l))
            .finish_non_exhaustive()
    }
}

impl RiskEngine {
    /// Scoring with `config`, history kept in `store`.
    pub fn new(config: RiskConfig, store: Arc<dyn RiskStore>) -> Self {
        RiskEngine {
            config,
            store,
            notifier: None,
            action_token_ttl: Duration::from_secs(2 * 3600),
            step_up_ttl: Duration::from_secs(600),
            mid_session: super::anomaly::MidSessionConfig::default(),
        }
    }

    /// Sends new-login notices through `notifier`, linking to `links`.
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>, links: NoticeLinks) -> Self {
        self.notifier = Some((notifier, links));
        self
    }

    /// How a session used the way a stolen one is gets treated (default:
    /// [`super::MidSessionConfig::default`], on).
    pub fn with_mid_session(mut self, config: super::MidSessionConfig) -> Self {
        self.mid_session = config;
        self
    }

    /// The mid-session anomaly settings.
    pub fn mid_session(&self) -> &super::MidSessionConfig {
        &self.mid_session
    }

    /// Lifetime of "this wasn't me" links (default 2 hours).
    pub fn with_not_me_ttl(mut self, ttl: Duration) -> Self {
        self.action_token_ttl = ttl;
        self
    }

    /// Lifetime of step-up challenges (default 10 minutes).
    pub fn with_step_up_ttl(mut self, ttl: Duration) -> Self {
        self.step_up_ttl = ttl;
        self
    }

    /// The scoring configuration.
    pub fn config(&self) -> &RiskConfig {
        &self.config
    }
}
