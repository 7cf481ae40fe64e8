//! Shared setup for conformance cases.

use std::sync::Arc;

use crate::enrich::{Enrichment, LoginEnricher};
use crate::events::MemorySink;
use crate::ids::UserId;
use crate::manager::{RevocationMode, SessionManager, SessionManagerBuilder};
use crate::policy::SessionPolicy;
use crate::record::{DeviceClass, Location, RequestContext};
use crate::store::SessionStore;
use crate::time::{Clock, ManualClock, SystemClock};
use crate::tokens::{SigningKey, TokenConfig};

/// Whether `SESSIONWARD_REQUIRE_SERVICES=1` is set: absent services then fail tests.
pub fn require_services() -> bool {
    std::env::var("SESSIONWARD_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Reports a missing service: panics when services are required, else
/// prints a `SKIPPED` line and returns `None`.
///
/// # Panics
/// When `SESSIONWARD_REQUIRE_SERVICES=1`.
pub fn service_unavailable<T>(
    service: &str,
    address: &str,
    detail: impl std::fmt::Display,
) -> Option<T> {
    assert!(
        !require_services(),
        "{service} is required (SESSIONWARD_REQUIRE_SERVICES=1) but not reachable at {address}: {detail}"
    );
    eprintln!(
        "SKIPPED: {service} not reachable at {address} ({detail}); set SESSIONWARD_REQUIRE_SERVICES=1 to make this a failure"
    );
    None
}

/// A user id no other test uses.
pub fn fresh_user() -> UserId {
    let suffix = crate::ids::SessionId::generate();
    #[allow(clippy::expect_used)]
    UserId::new(format!("conformance-{suffix}")).expect("valid user id")
}

/// Enrichment for tests, read from a fake User-Agent of the form
/// `test/<class>/<country>[/<city>]` (e.g. `test/mobile/SE/Linköping`; `-`
/// for no country).
#[derive(Debug, Default, Clone, Copy)]
pub struct TestEnricher;

impl LoginEnricher for TestEnricher {
    fn enrich(&self, ctx: &RequestContext) -> Enrichment {
        let mut parts = ctx.user_agent().unwrap_or("").split('/').skip(1);
        let class = parts.next().map_or(DeviceClass::Other, DeviceClass::parse);
        let country = parts.next().filter(|c| *c != "-").map(str::to_owned);
        let city = parts.next().map(str::to_owned);
        Enrichment {
            class,
            location: Location {
                country_code: country,
                city,
                ..Location::default()
            },
            ..Enrichment::default()
        }
    }
}

/// A manager over a store with a manual clock and an in-memory event sink.
pub struct Harness {
    /// The manager under test.
    pub manager: SessionManager,
    /// Its clock, starting at the real current time.
    pub clock: ManualClock,
    /// Every event it emitted.
    pub events: Arc<MemorySink>,
    /// The store.
    pub store: Arc<dyn SessionStore>,
}

impl Harness {
    /// A strict-mode harness.
    pub fn new(store: Arc<dyn SessionStore>, policy: SessionPolicy) -> Self {
        Self::with_mode(
            store,
            policy,
            RevocationMode::Strict,
            ManualClock::new(SystemClock.now()),
        )
    }

    /// A harness with a chosen revocation mode and clock.
    ///
    /// # Panics
    /// If the fixed test keys are refused (never).
    pub fn with_mode(
        store: Arc<dyn SessionStore>,
        policy: SessionPolicy,
        mode: RevocationMode,
        clock: ManualClock,
    ) -> Self {
        Self::customised(store, policy, clock, |b| b.revocation_mode(mode))
    }

    /// A strict-mode harness whose manager builder `customise` adjusts
    /// (a limit resolver, a risk engine) before it is built.
    ///
    /// # Panics
    /// If the adjusted builder fails to build.
    pub fn customised(
        store: Arc<dyn SessionStore>,
        policy: SessionPolicy,
        clock: ManualClock,
        customise: impl FnOnce(SessionManagerBuilder) -> SessionManagerBuilder,
    ) -> Self {
        let events = Arc::new(MemorySink::new(100_000));
        let builder = SessionManager::builder(policy, test_tokens(), store.clone())
            .clock(Arc::new(clock.clone()))
            .events(events.clone())
            .enricher(Arc::new(TestEnricher));
        #[allow(clippy::expect_used)]
        let manager = customise(builder).build().expect("manager builds");
        Harness {
            manager,
            clock,
            events,
            store,
        }
    }
}

/// The token configuration used by the suite (fixed test keys).
///
/// # Panics
/// Never: the keys are valid.
pub fn test_tokens() -> TokenConfig {
    #[allow(clippy::expect_used)]
    TokenConfig::builder("https://conformance.sessionward.test", "conformance")
        .signing_key(SigningKey::hs256("conformance-1", &[0x5a; 32]).expect("valid key"))
        .refresh_key([0x3c; 32])
        .build()
        .expect("valid token config")
}
