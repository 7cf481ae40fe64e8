//! Wiring: policy, enrichment, risk engine, notifier, event sinks and the
//! adapter configuration, shared by both example apps.

use std::sync::Arc;
use std::time::Duration;

use sessionward_core::enrich::{BackgroundUapParser, CachedParser, MaxMindResolver};
use sessionward_core::events::{FanoutSink, MemorySink, TracingSink};
use sessionward_core::notify::OutboxNotifier;
use sessionward_core::risk::RiskConfig;
use sessionward_core::web::{AdapterConfig, SessionApi, TokenTransport};
use sessionward_core::{
    DeviceClass, Enricher, NoticeLinks, OnLimit, RiskEngine, SessionManager, SessionPolicy,
};

use crate::config::{Config, transport_name};
use crate::keys::KeySource;

/// MaxMind's City **test** database (vendored in `sessionward-core`).
static TEST_CITY_DB: &[u8] =
    include_bytes!("../../../session-core/data/geoip/GeoIP2-City-Test.mmdb");
/// MaxMind's ASN **test** database.
static TEST_ASN_DB: &[u8] =
    include_bytes!("../../../session-core/data/geoip/GeoLite2-ASN-Test.mmdb");

/// Everything the routes of an example app need. Cheap to clone.
#[derive(Clone)]
pub struct DemoApp {
    /// The adapters' session API (manager + adapter configuration).
    pub api: SessionApi,
    /// The in-memory copy of every security event (the events view).
    pub events: Arc<MemorySink>,
    /// The in-app notification outbox (the notifications view).
    pub outbox: Arc<OutboxNotifier>,
    /// Whether the demo routes and panel are on.
    pub demo: bool,
    /// Each user's plan, which decides their session limits.
    pub plans: Arc<crate::plans::DemoPlans>,
}

impl std::fmt::Debug for DemoApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoApp")
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

/// The demo's concurrent-session policy: small limits so that a newcomer
/// runs into them within a minute. `access_ttl` overrides the 5-minute
/// access-token lifetime.
///
/// # Errors
/// A message for an access-token lifetime the policy refuses.
pub fn demo_policy(access_ttl: Option<Duration>) -> Result<SessionPolicy, String> {
    SessionPolicy::builder()
        .max_sessions_per_user(3)
        .max_sessions_per_device_class(DeviceClass::Bot, 1)
        .max_countries(2)
        .on_limit(OnLimit::EvictLeastRecentlyUsed)
        .idle_timeout(Duration::from_secs(30 * 60))
        .absolute_lifetime(Duration::from_secs(12 * 3600))
        .access_token_ttl(access_ttl.unwrap_or(Duration::from_secs(5 * 60)))
        .build()
        .map_err(|e| e.to_string())
}

/// User-Agent parsing (embedded uap-core regexes, compiled on a background
/// thread so the app serves at once; the first login may wait for them) and the MaxMind City and
/// ASN test databases. The Anonymous-IP test database is left out: it
/// lists the demo's London address as an anonymiser, which would flag
/// every simulated London login.
///
/// # Errors
/// A message when the embedded data cannot be loaded.
pub fn demo_enricher() -> Result<Enricher, String> {
    let parser = BackgroundUapParser::embedded();
    let geo = MaxMindResolver::from_bytes(TEST_CITY_DB)
        .and_then(|g| g.with_asn(TEST_ASN_DB))
        .map_err(|e| e.to_string())?;
    Ok(Enricher::new(
        Arc::new(CachedParser::with_default_capacity(parser)),
        Arc::new(geo),
    ))
}

/// Installs a `tracing` subscriber (`RUST_LOG`, default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .try_init();
}

impl DemoApp {
    /// Opens the store and builds the session engine for `config`.
    ///
    /// # Errors
    /// A message for any startup problem (bad key, unreachable store, …).
    pub async fn build(config: &Config) -> Result<DemoApp, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let key_file = crate::keys::key_file_for_store(&config.store);
        let (tokens, source) = crate::keys::token_config(env, key_file.as_deref())?;
        match &source {
            KeySource::Random if config.store != "memory" => tracing::warn!(
                "random token keys over a persistent store: after a restart its sessions stay listed but nothing can use them; set SESSIONWARD_SIGNING_KEY and SESSIONWARD_REFRESH_KEY"
            ),
            KeySource::File { path, created } => tracing::info!(
                path = %path.display(),
                created,
                "token keys from the key file next to the SQLite store"
            ),
            _ => {}
        }
        let stores = crate::store::open(&config.store).await?;
        let events = Arc::new(MemorySink::new(2_000));
        let outbox = Arc::new(OutboxNotifier::new(500));
        let base = config.base_url();
        let links = NoticeLinks {
            sessions_url: format!("{base}/#/sessions"),
            not_me_url: format!("{base}/auth/sessions/not-me"),
        };
        // Login history for risk scoring lives in the same store as the sessions.
        let engine = RiskEngine::new(RiskConfig::default(), stores.risk)
            .with_notifier(outbox.clone(), links);
        let sink = FanoutSink::new(vec![Arc::new(TracingSink), events.clone()]);
        let plans = Arc::new(crate::plans::DemoPlans::default());
        let manager =
            SessionManager::builder(demo_policy(config.access_ttl)?, tokens, stores.sessions)
                .events(Arc::new(sink))
                .enricher(Arc::new(demo_enricher()?))
                .risk(engine)
                .limit_resolver(plans.clone())
                .build()
                .map_err(|e| e.to_string())?;
        let mut adapter = AdapterConfig::new()
            .with_transport(config.transport)
            .with_public_origin(config.origin());
        if let Some(list) = &config.trusted_proxies {
            let proxies = sessionward_core::enrich::TrustedProxies::parse(list)
                .map_err(|e| format!("bad --trusted-proxies `{list}`: {e}"))?;
            adapter = adapter.with_client_ip_resolver(Arc::new(proxies));
        }
        let api = SessionApi::new(manager, adapter).map_err(|e| e.to_string())?;
        Ok(DemoApp {
            api,
            events,
            outbox,
            demo: config.demo,
            plans,
        })
    }

    /// The transport's name as the front-end knows it.
    pub fn transport(&self) -> &'static str {
        transport_name(self.api.config().transport())
    }

    /// Whether tokens travel as cookies.
    pub fn cookies(&self) -> bool {
        self.api.config().transport() == TokenTransport::Cookies
    }
}

/// The startup banner lines.
pub fn banner(config: &Config, framework: &str) -> String {
    let users = if config.demo {
        "alice/alice-password, bob/bob-password (demo)".to_owned()
    } else {
        format!("none: {}", crate::users::PLUG_IN_USERS)
    };
    let mut out = format!(
        "sessionward example ({framework}) on {}\n  store: {}\n  transport: {}\n  users: {users}",
        config.base_url(),
        crate::store::redact(&config.store),
        transport_name(config.transport),
    );
    if config.demo {
        out.push_str(
            "\n  *** DEMO MODE: demo users, simulated logins and the security-events view are on (--no-demo turns them off) ***",
        );
    }
    out
}
