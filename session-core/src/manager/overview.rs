//! What a user can see of their sessions, take away, and have erased.

use serde::Serialize;

use crate::error::SessionError;
use crate::ids::{SessionId, UserId};
use crate::record::{DeviceClass, Revocation, RevokeReason, SessionMeta, SessionRecord};
use crate::seen::SeenLog;
use crate::time::Timestamp;
use crate::view::{EndedSessionView, SessionOverview, SessionView};

use super::SessionManager;

impl SessionManager {
    /// The active sessions of `user`, most recently active first, marking
    /// `current` (the caller's own). No secrets are included; addresses
    /// are shown as the policy's [`crate::privacy::IpDisplay`] allows.
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn list(
        &self,
        user: &UserId,
        current: Option<&SessionId>,
    ) -> Result<Vec<SessionView>, SessionError> {
        let mut sessions = self.overview(user, current).await?.sessions;
        sessions.sort_by(|a, b| {
            b.last_seen_at
                .cmp(&a.last_seen_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(sessions)
    }

    /// The session page in one store read: the active sessions, `current`
    /// pinned first and then the most recently active, and the sessions
    /// that ended within the
    /// policy's [history retention](crate::SessionPolicy::history_retention),
    /// most recently ended first, each with how it ended.
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn overview(
        &self,
        user: &UserId,
        current: Option<&SessionId>,
    ) -> Result<SessionOverview, SessionError> {
        let now = self.now();
        let cutoff = self.idle_cutoff(now);
        let privacy = &self.inner.privacy;
        let records: Vec<SessionRecord> = self
            .inner
            .store
            .list(user)
            .await?
            .into_iter()
            .filter(|r| &r.user == user)
            .collect();
        let mut sessions: Vec<SessionView> = records
            .iter()
            .filter(|r| r.is_active(now, cutoff))
            .map(|r| SessionView::from_record(r, current, privacy))
            .collect();
        sessions.sort_by(|a, b| {
            b.current
                .cmp(&a.current)
                .then_with(|| b.last_seen_at.cmp(&a.last_seen_at))
                .then_with(|| a.id.cmp(&b.id))
        });
        let since = now.minus(self.inner.policy.history_retention());
        let mut ended: Vec<EndedSessionView> = records
            .iter()
            .filter_map(|r| EndedSessionView::from_record(r, now, cutoff, privacy))
            .filter(|e| e.ended_at >= since)
            .collect();
        ended.sort_by(|a, b| {
            b.ended_at
                .cmp(&a.ended_at)
                .then_with(|| a.session.id.cmp(&b.session.id))
        });
        Ok(SessionOverview { sessions, ended })
    }

    /// What the session store keeps about `user`, as JSON-ready data (for
    /// a data-subject access request): every session and tombstone with its
    /// addresses as stored, devices, places and risk, and the user's "not
    /// before" mark. No token or token hash is included. The risk store's
    /// login history (known device fingerprints, countries, networks) is
    /// not part of it.
    ///
    /// # Errors
    /// [`SessionError::Store`].
    pub async fn export_user(&self, user: &UserId) -> Result<UserExport, SessionError> {
        let store = &self.inner.store;
        let mut sessions: Vec<ExportedSession> = store
            .list(user)
            .await?
            .into_iter()
            .filter(|r| &r.user == user)
            .map(ExportedSession::from)
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(UserExport {
            user: user.clone(),
            exported_at: self.now(),
            not_before: store.not_before(user).await?,
            sessions,
        })
    }

    /// Erases `user` on account deletion: ends every session (reason
    /// `account_disabled`, which raises the user's "not before" mark, so
    /// every instance and cached view drops them at once and a login whose
    /// credential was checked before now is refused, also after the
    /// erasure), then deletes the sessions, the tombstones and, with risk
    /// scoring, the login history. The mark itself, a timestamp under the
    /// user id, stays for that reason. Returns how many sessions were
    /// deleted.
    ///
    /// # Errors
    /// [`SessionError::Store`]; a retry finishes the erasure.
    pub async fn erase_user(&self, user: &UserId) -> Result<u64, SessionError> {
        self.revoke_all(user, RevokeReason::AccountDisabled).await?;
        let erased = self.inner.store.erase_user(user).await?;
        #[cfg(feature = "risk")]
        if let Some(risk) = &self.inner.risk {
            risk.store.forget_user(user).await?;
        }
        Ok(erased)
    }
}

/// The export of [`SessionManager::export_user`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserExport {
    /// The user.
    pub user: UserId,
    /// When the export was made.
    pub exported_at: Timestamp,
    /// The user's "not before" mark, if one was raised.
    pub not_before: Option<Timestamp>,
    /// Every stored session, newest first.
    pub sessions: Vec<ExportedSession>,
}

/// One stored session in a [`UserExport`]: the record without its
/// refresh-token hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedSession {
    /// Session id.
    pub id: SessionId,
    /// Login time.
    pub created_at: Timestamp,
    /// Last recorded activity.
    pub last_seen_at: Timestamp,
    /// Absolute end.
    pub expires_at: Timestamp,
    /// Last full authentication.
    pub auth_time: Timestamp,
    /// How many times its refresh token was rotated.
    pub refresh_generation: u64,
    /// When it ended early, and why.
    pub revoked: Option<Revocation>,
    /// Client address at login, as stored.
    pub ip: Option<String>,
    /// Device class at login.
    pub device_class: DeviceClass,
    /// Country code at login.
    pub country: Option<String>,
    /// User-Agent, device, location, risk, sign-in method.
    pub meta: SessionMeta,
    /// Where it was used after login.
    pub seen: SeenLog,
}

impl From<SessionRecord> for ExportedSession {
    fn from(r: SessionRecord) -> Self {
        ExportedSession {
            id: r.id,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            auth_time: r.auth_time,
            refresh_generation: r.refresh.generation,
            revoked: r.revoked,
            ip: r.ip.map(|ip| ip.to_string()),
            device_class: r.device_class,
            country: r.country,
            meta: r.meta,
            seen: r.seen,
        }
    }
}
