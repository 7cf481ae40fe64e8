#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admission;
mod error;
pub mod events;
pub mod ids;
mod manager;
mod memory;
pub mod policy;
pub mod record;
pub mod secret;
pub mod store;
pub mod time;
pub mod tokens;
mod view;
pub mod web;

#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(test)]
mod memory_conformance {
    async fn memory_store() -> Option<std::sync::Arc<dyn crate::SessionStore>> {
        Some(std::sync::Arc::new(crate::MemoryStore::new()))
    }
    crate::store_conformance_tests!(memory_store);
}

pub use error::{LimitReached, SessionError};
pub use events::{EventSink, SecurityEvent};
pub use ids::{IdError, SessionId, UserId};
pub use manager::{
    AuthenticatedSession, BuildError, Enrichment, LoginEnricher, LoginOptions, LoginSuccess,
    Refreshed, RevocationMode, SessionManager, SessionManagerBuilder, TokenPair,
};
pub use memory::MemoryStore;
pub use policy::{
    LimitKind, OnLimit, PolicyError, SessionLimits, SessionPolicy, SessionPolicyBuilder,
};
pub use record::{
    DeviceClass, DeviceInfo, Inactive, Location, RefreshState, RequestContext, Revocation,
    RevokeReason, RiskSignal, RiskSummary, SessionMeta, SessionRecord,
};
pub use secret::{AccessToken, ActionToken, RefreshToken, TokenHash};
pub use store::{
    CreateOutcome, CreateRequest, FeedEvent, RevocationFeed, RotateOutcome, RotateRequest,
    SessionStore, StoreError,
};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use view::SessionView;
