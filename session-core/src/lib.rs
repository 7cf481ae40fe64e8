#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admission;
pub mod binding;
pub mod detect;
pub mod directory;
pub mod enrich;
mod error;
pub mod events;
pub mod ids;
pub mod limits;
mod manager;
mod memory;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(feature = "risk")]
#[cfg_attr(docsrs, doc(cfg(feature = "risk")))]
pub mod notify;
pub mod policy;
pub mod privacy;
pub mod provider;
pub mod record;
pub mod risk;
pub mod secret;
pub mod seen;
pub mod signals;
pub mod ssf;
pub mod store;
pub mod time;
pub mod tokens;
pub mod view;
#[cfg(feature = "web")]
#[cfg_attr(docsrs, doc(cfg(feature = "web")))]
pub mod web;

#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use error::{Continuation, LimitReached, SessionError};
pub use events::{EventSink, SecurityEvent};
pub use ids::{AppId, IdError, SessionId, TenantId, UserId};
pub use limits::{LimitResolver, ResolvedLimits};
#[cfg(feature = "risk")]
pub use manager::ACTION_TOKEN_TYP;
pub use manager::{
    ActiveToken, AuthenticatedSession, BuildError, CONTINUATION_TICKET_TYP, CONTINUATION_TTL,
    DeviceRefresh, DirectoryEntry, DirectoryPage, ExportedSession, IntrospectedKind, Introspection,
    LoginOptions, LoginSuccess, LogoutOutcome, LogoutProof, MatchingMode, MatchingReport,
    Refreshed, RevocationMode, SessionManager, SessionManagerBuilder, TokenPair, UserExport,
};
pub use memory::MemoryStore;
pub use policy::{
    LimitKind, OnLimit, PolicyError, SessionLimits, SessionPolicy, SessionPolicyBuilder,
};
pub use record::{
    DeviceClass, DeviceInfo, Inactive, Location, ProviderSession, RefreshState, RequestContext,
    Revocation, RevokeReason, RiskSignal, RiskSummary, SessionMeta, SessionRecord,
};
pub use risk::StepUpChallenge;
#[cfg(feature = "risk")]
pub use risk::{NoticeLinks, RiskEngine};
pub use secret::{AccessToken, ActionToken, ContinuationTicket, RefreshToken, TokenHash};
pub use seen::{SeenFrom, SeenLog, SeenUpdate};
pub use store::{
    CreateDecision, CreateOutcome, CreateRequest, FeedEvent, RevocationFeed, RotateOutcome,
    RotateRequest, SessionStore, StoreError, TouchRequest,
};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use view::{EndedSessionView, SessionOverview, SessionView};

pub use enrich::{Enricher, Enrichment, GeoResolver, LoginEnricher, UserAgentParser};

#[cfg(test)]
mod memory_conformance {
    async fn memory_store() -> Option<std::sync::Arc<dyn crate::SessionStore>> {
        Some(std::sync::Arc::new(crate::MemoryStore::new()))
    }
    crate::store_conformance_tests!(memory_store);
    crate::directory_seed_test!(memory_store);

    async fn memory_risk_store() -> Option<std::sync::Arc<dyn crate::risk::RiskStore>> {
        Some(std::sync::Arc::new(crate::MemoryStore::new()))
    }
    crate::risk_store_conformance_tests!(memory_risk_store);

    async fn memory_ssf_store() -> Option<std::sync::Arc<dyn crate::ssf::SsfStore>> {
        Some(std::sync::Arc::new(crate::ssf::MemorySsfStore::new()))
    }
    crate::ssf_store_conformance_tests!(memory_ssf_store);
}
