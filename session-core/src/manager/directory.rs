//! Operators' queries across users, and ending what matches.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;

use crate::directory::{
    MAX_PAGE, MatchingRevocation, PageCursor, SessionDirectory, SessionFilter, SessionQuery,
};
use crate::error::SessionError;
use crate::ids::UserId;
use crate::record::{RevokeReason, SessionRecord};

use super::SessionManager;
use super::overview::ExportedSession;

/// One session as an operator sees it: its owner and the stored record
/// without the refresh-token hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DirectoryEntry {
    /// Owner.
    pub user: UserId,
    /// The session.
    #[serde(flatten)]
    pub session: ExportedSession,
}

impl From<SessionRecord> for DirectoryEntry {
    fn from(r: SessionRecord) -> Self {
        DirectoryEntry {
            user: r.user.clone(),
            session: ExportedSession::from(r),
        }
    }
}

/// A page of [`SessionManager::find_sessions`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DirectoryPage {
    /// The matching sessions, newest first.
    pub sessions: Vec<DirectoryEntry>,
    /// The cursor text to ask the next page with; `None` on the last page.
    pub next: Option<String>,
}

/// Whether [`SessionManager::revoke_matching`] ends sessions or only says
/// which it would end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchingMode {
    /// List what matches now; end nothing.
    DryRun,
    /// End what matches, one atomic step per user.
    Revoke,
}

/// What [`SessionManager::revoke_matching`] found or ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchingReport {
    /// Whether this was a dry run (nothing ended).
    pub dry_run: bool,
    /// The sessions ended, or that a dry run would end, as they were.
    pub sessions: Vec<DirectoryEntry>,
    /// How many distinct users they belong to.
    pub users: usize,
}

impl SessionManager {
    fn directory(&self) -> Result<Arc<dyn SessionDirectory>, SessionError> {
        self.inner
            .store
            .directory()
            .ok_or(SessionError::DirectoryUnavailable)
    }

    /// One page of the active sessions of every user that match `filter`,
    /// newest first, after `after` (the previous page's
    /// [`DirectoryPage::next`], parsed with [`PageCursor::parse`]), at most
    /// `limit` (clamped to 1..=[`MAX_PAGE`]).
    ///
    /// For operators: the host app must authorise the caller. Addresses
    /// are shown as stored.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use sessionward_core::*;
    /// # use sessionward_core::directory::SessionFilter;
    /// # use sessionward_core::tokens::{SigningKey, TokenConfig};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let tokens = TokenConfig::builder("https://auth.example.com", "example-api")
    /// #     .signing_key(SigningKey::hs256("k1", &[1u8; 32]).unwrap())
    /// #     .refresh_key([2u8; 32])
    /// #     .build()
    /// #     .unwrap();
    /// let store = Arc::new(MemoryStore::new());
    /// let manager = SessionManager::builder(SessionPolicy::default(), tokens, store).build().unwrap();
    /// let user = UserId::new("alice").unwrap();
    /// let context = RequestContext::new().with_ip("203.0.113.9".parse().unwrap());
    /// manager.login(&user, &context).await?;
    /// let filter = SessionFilter::default().from_network("203.0.113.0/24".parse().unwrap());
    /// let page = manager.find_sessions(&filter, None, 50).await?;
    /// assert_eq!(page.sessions.len(), 1);
    /// assert_eq!(page.sessions[0].user, user);
    /// assert!(page.next.is_none());
    /// # Ok::<(), SessionError>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`SessionError::DirectoryUnavailable`] for a store without a
    /// directory; [`SessionError::Store`].
    pub async fn find_sessions(
        &self,
        filter: &SessionFilter,
        after: Option<PageCursor>,
        limit: usize,
    ) -> Result<DirectoryPage, SessionError> {
        let now = self.now();
        let query = SessionQuery::new(filter.clone(), now, self.idle_cutoff(now))
            .after(after)
            .limit(limit);
        let page = self.directory()?.find(&query).await?;
        Ok(DirectoryPage {
            sessions: page
                .sessions
                .into_iter()
                .map(DirectoryEntry::from)
                .collect(),
            next: page.next.map(|c| c.to_text()),
        })
    }

    /// Ends every active session of every user that matches `filter`, for
    /// `reason` (usually [`RevokeReason::Admin`]), one atomic step per user
    /// (a session that ended, went idle or moved out of a last-seen window
    /// since the read is left alone); or, with [`MatchingMode::DryRun`],
    /// only reports what matches now. Each ended session is announced
    /// (`session_revoked` event, cached views) like any revocation. The
    /// users' "not before" marks are not raised: their other sessions stay.
    ///
    /// It walks every matching session; memory grows with the sessions it
    /// reports. Sessions created after the call began are not ended.
    ///
    /// # Errors
    /// [`SessionError::DirectoryUnavailable`]; [`SessionError::Store`]: the
    /// users handled before the failure stay revoked, a retry ends the rest.
    pub async fn revoke_matching(
        &self,
        filter: &SessionFilter,
        reason: RevokeReason,
        mode: MatchingMode,
    ) -> Result<MatchingReport, SessionError> {
        let directory = self.directory()?;
        let now = self.now();
        let idle_cutoff = self.idle_cutoff(now);
        // Sessions that begin after this call are not its business.
        let mut scope = filter.clone();
        let started = now.plus(std::time::Duration::from_millis(1));
        scope.created.until = Some(scope.created.until.map_or(started, |u| u.min(started)));
        let mut query = SessionQuery::new(scope.clone(), now, idle_cutoff).limit(MAX_PAGE);
        let mut handled: HashSet<UserId> = HashSet::new();
        let mut sessions = Vec::new();
        loop {
            let page = directory.find(&query).await?;
            match mode {
                MatchingMode::DryRun => {
                    for r in page.sessions {
                        handled.insert(r.user.clone());
                        sessions.push(DirectoryEntry::from(r));
                    }
                }
                MatchingMode::Revoke => {
                    for r in &page.sessions {
                        if !handled.insert(r.user.clone()) {
                            continue;
                        }
                        // Judged when it writes, by the clock of that moment.
                        let at = self.now();
                        let request = MatchingRevocation {
                            filter: scope.clone(),
                            reason,
                            at,
                            idle_cutoff: self.idle_cutoff(at),
                        };
                        let ended = directory.revoke_matching(&r.user, &request).await?;
                        self.revoked(at, reason, &ended).await;
                        sessions.extend(ended.into_iter().map(DirectoryEntry::from));
                    }
                }
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        let users = match mode {
            MatchingMode::DryRun => handled.len(),
            MatchingMode::Revoke => sessions
                .iter()
                .map(|s| &s.user)
                .collect::<HashSet<_>>()
                .len(),
        };
        Ok(MatchingReport {
            dry_run: mode == MatchingMode::DryRun,
            sessions,
            users,
        })
    }
}
