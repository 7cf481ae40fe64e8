//! The session directory: an operator's view across users. Which active
//! sessions come from this network, this country, this app? End them.
//!
//! A store offers it through [`crate::SessionStore::directory`] as a
//! [`SessionDirectory`]. Every store in this workspace has one. The manager
//! drives it: [`crate::SessionManager::find_sessions`] pages through what
//! matches a [`SessionFilter`], and [`crate::SessionManager::revoke_matching`]
//! ends what matches, one atomic step per user, or only reports what it
//! would end (a dry run).

mod filter;
mod network;
mod page;

use async_trait::async_trait;

pub use filter::{SessionFilter, TimeWindow};
pub use network::{IpNetwork, NetworkError};
pub use page::{
    CursorError, DEFAULT_PAGE, MAX_PAGE, MAX_SCAN, PageCollector, PageCursor, Pager, SessionPage,
    SessionQuery,
};

use crate::ids::UserId;
use crate::record::{RevokeReason, SessionRecord};
use crate::store::StoreError;
use crate::time::Timestamp;

/// What [`SessionDirectory::revoke_matching`] ends.
#[derive(Debug, Clone)]
pub struct MatchingRevocation {
    /// The sessions to end: those matching at the time of the write.
    pub filter: SessionFilter,
    /// Why.
    pub reason: RevokeReason,
    /// When (also the instant activity is judged at).
    pub at: Timestamp,
    /// Sessions last seen at or before this are idle: not active, not ended.
    pub idle_cutoff: Timestamp,
}

impl MatchingRevocation {
    /// Whether `record` is to be ended.
    pub fn matches(&self, record: &SessionRecord) -> bool {
        self.filter.matches(record, self.at, self.idle_cutoff)
    }
}

/// Cross-user queries over a store's sessions, for operators. Object-safe:
/// use it as `Arc<dyn SessionDirectory>`.
///
/// Both methods decide with [`SessionFilter::matches`] on the records as
/// stored, whatever the backend narrows down with its indexes first, so
/// every backend gives the same answers (the conformance suite checks it).
#[async_trait]
pub trait SessionDirectory: Send + Sync + 'static {
    /// One page of the active sessions matching `query.filter`, newest
    /// first (see [`PageCursor`] for the order), after `query.after`.
    ///
    /// # Errors
    /// [`StoreError`] on backend failure.
    async fn find(&self, query: &SessionQuery) -> Result<SessionPage, StoreError>;

    /// Ends the sessions of `user` that match `request` when the write
    /// happens, in one atomic step: a session that ended, went idle or was
    /// used outside a last-seen window after the read is left alone.
    /// Returns the records ended, as they were before. Never raises the
    /// user's "not before" mark (the user's other sessions stay valid).
    ///
    /// # Errors
    /// [`StoreError`] on backend failure; nothing is ended then.
    async fn revoke_matching(
        &self,
        user: &UserId,
        request: &MatchingRevocation,
    ) -> Result<Vec<SessionRecord>, StoreError>;
}

#[cfg(test)]
mod tests;
