//! # sessionward-core
//!
//! Concurrent-session control for Rust web apps (crate docs are completed
//! with the engine).

pub mod ids;
pub mod record;
pub mod secret;
pub mod time;

pub use ids::{IdError, SessionId, UserId};
pub use record::{
    DeviceClass, DeviceInfo, Inactive, Location, RefreshState, RequestContext, Revocation,
    RevokeReason, RiskSignal, RiskSummary, SessionMeta, SessionRecord,
};
pub use secret::{AccessToken, ActionToken, RefreshToken, TokenHash};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
