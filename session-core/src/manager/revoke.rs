//! Ending sessions.

use crate::error::SessionError;
use crate::events::EventKind;
use crate::ids::{SessionId, UserId};
use crate::record::{RevokeReason, SessionRecord};
use crate::time::Timestamp;

use super::{AuthenticatedSession, SessionManager};

impl SessionManager {
    /// Logs out: revokes the caller's own session on the server.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] if it already ended; [`SessionError::Store`].
    pub async fn logout(&self, session: &AuthenticatedSession) -> Result<(), SessionError> {
        self.revoke(&session.user, &session.session_id, RevokeReason::Logout)
            .await
    }

    /// Revokes session `id` of `user`. Its access and refresh tokens are
    /// refused from the next request on.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] when `user` has no active session `id`
    /// (including another user's session); [`SessionError::Store`].
    pub async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
    ) -> Result<(), SessionError> {
        let now = self.now();
        match self.inner.store.revoke(user, id, reason, now).await? {
            Some(before) => {
                self.revoked(now, reason, std::slice::from_ref(&before))
                    .await;
                Ok(())
            }
            None => Err(SessionError::NotFound),
        }
    }

    /// Revokes every session of `user` ("log out from all devices", account
    /// disabled, password reset). Returns how many were ended.
    ///
    /// # Errors
    /// [`SessionError::Store`]; nothing is revoked then.
    pub async fn revoke_all(
        &self,
        user: &UserId,
        reason: RevokeReason,
    ) -> Result<usize, SessionError> {
        let now = self.now();
        let revoked = self.inner.store.revoke_all(user, None, reason, now).await?;
        self.note_mark(reason, now);
        self.revoked(now, reason, &revoked).await;
        Ok(revoked.len())
    }

    /// Revokes every session of `user` except `keep` ("log out all other
    /// devices", ASVS 7.4.3 after a factor change). Returns how many were ended.
    ///
    /// # Errors
    /// [`SessionError::Store`]; nothing is revoked then.
    pub async fn revoke_others(
        &self,
        user: &UserId,
        keep: &SessionId,
        reason: RevokeReason,
    ) -> Result<usize, SessionError> {
        let now = self.now();
        let revoked = self
            .inner
            .store
            .revoke_all(user, Some(keep), reason, now)
            .await?;
        self.note_mark(reason, now);
        self.revoked(now, reason, &revoked).await;
        Ok(revoked.len())
    }

    /// Remembers a "not before" mark this instance raised: a login that
    /// starts after the revocation returned is, by construction, checked
    /// after it, even within the same millisecond.
    fn note_mark(&self, reason: RevokeReason, at: Timestamp) {
        if reason.raises_not_before() {
            self.inner
                .latest_mark
                .fetch_max(at.unix_millis(), std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The credential time of a login that did not say when the host
    /// checked the credential: the login's own time, or just after the
    /// latest mark this instance raised when that is not earlier.
    pub(super) fn default_credential_time(&self, now: Timestamp) -> Timestamp {
        let mark = self
            .inner
            .latest_mark
            .load(std::sync::atomic::Ordering::SeqCst);
        if mark >= now.unix_millis() {
            Timestamp::from_unix_millis(mark.saturating_add(1))
        } else {
            now
        }
    }

    /// Deletes sessions whose absolute end is more than the policy's
    /// [history retention](crate::SessionPolicy::history_retention) ago
    /// (ended sessions stay listed as "Signed out" until then). Run it
    /// periodically; returns how many were removed.
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn purge_expired(&self) -> Result<u64, SessionError> {
        let before = self.now().minus(self.inner.policy.history_retention());
        Ok(self.inner.store.purge_expired(before).await?)
    }

    pub(super) async fn revoked(
        &self,
        now: Timestamp,
        reason: RevokeReason,
        records: &[SessionRecord],
    ) {
        for r in records {
            self.forget(&r.id, now);
            self.emit(self.event(now, EventKind::SessionRevoked { reason }, None, Some(r)));
        }
        if let (Some(signals), false) = (&self.inner.signals, records.is_empty()) {
            let told = signals.sessions_ended(now, reason, records);
            if tokio::time::timeout(crate::signals::SIGNAL_TIMEOUT, told)
                .await
                .is_err()
            {
                tracing::error!(
                    target: "sessionward::signals",
                    sessions = records.len(),
                    "the session signals hook did not finish in time"
                );
            }
        }
    }
}
