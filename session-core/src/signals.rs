//! A hook told of every session the manager ends, after the store ended
//! it: what the Shared Signals transmitter ([`crate::ssf::Transmitter`])
//! turns into CAEP `session-revoked` events for other services.
//!
//! The manager awaits the hook on the path that ended the sessions, with a
//! bound ([`SIGNAL_TIMEOUT`]), so that a signal is written down before the
//! call that revoked returns. The revocation itself never waits on the
//! hook's success: it has already happened; a hook that fails reports that
//! itself.

use std::time::Duration;

use async_trait::async_trait;

use crate::record::{RevokeReason, SessionRecord};
use crate::time::Timestamp;

/// Longest the manager waits for [`SessionSignals::sessions_ended`].
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Told of sessions the manager ended (logout, revocation, eviction, a
/// reuse detection, a risk decision, …), once per ending.
///
/// ```
/// use async_trait::async_trait;
/// use sessionward_core::record::{RevokeReason, SessionRecord};
/// use sessionward_core::signals::SessionSignals;
/// use sessionward_core::Timestamp;
///
/// struct Audit;
///
/// #[async_trait]
/// impl SessionSignals for Audit {
///     async fn sessions_ended(&self, at: Timestamp, reason: RevokeReason, ended: &[SessionRecord]) {
///         for record in ended {
///             println!("{} ended {} ({})", record.user, at, reason.as_str());
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait SessionSignals: Send + Sync + 'static {
    /// `ended` were ended at `at` for `reason` (the records as they were
    /// just before). Called at most [`SIGNAL_TIMEOUT`] long.
    async fn sessions_ended(&self, at: Timestamp, reason: RevokeReason, ended: &[SessionRecord]);
}
