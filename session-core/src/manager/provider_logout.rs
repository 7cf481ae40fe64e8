//! Acting on an identity provider's back-channel logout token
//! ([`crate::provider`]).

use crate::events::EventKind;
use crate::provider::{BackChannelError, BackChannelLogout, LogoutTokenError};
use crate::record::RevokeReason;
use crate::time::Timestamp;

use super::SessionManager;

impl SessionManager {
    /// Acts on a back-channel logout token from `provider`: ends the
    /// active sessions of the mapped user that were recorded from that
    /// provider and subject (and that `sid`, when the token names one) and
    /// began before the token was issued, with
    /// [`RevokeReason::ProviderLogout`]; then records the `jti`. Returns
    /// how many ended (0 when none matched: already signed out is success,
    /// §2.7). A refused token emits `provider_logout_rejected`.
    ///
    /// # Errors
    /// [`BackChannelError::Refused`] (nothing ended; a replay is noticed
    /// only after acting, when the sessions it could end had already ended
    /// the first time); [`BackChannelError::Store`].
    pub async fn back_channel_logout(
        &self,
        provider: &BackChannelLogout,
        token: &str,
    ) -> Result<usize, BackChannelError> {
        let now = self.now();
        let order = provider
            .validate(token, now)
            .map_err(|why| self.refuse_logout_token(now, provider, why))?;
        let mut ended = 0;
        if let Some(user) = (provider.users)(&order.subject) {
            // Issued-at plus the skew allowance: a session that began after
            // the provider's logout is not the one it ended.
            let began_by = order.issued_at.plus(provider.leeway);
            let cutoff = self.idle_cutoff(now);
            for record in self.inner.store.list(&user).await? {
                let from_provider = record.meta.provider.as_ref().is_some_and(|p| {
                    p.issuer == provider.issuer
                        && p.subject == order.subject
                        && (order.sid.is_none() || p.sid == order.sid)
                });
                if !from_provider || !record.is_active(now, cutoff) || record.created_at > began_by
                {
                    continue;
                }
                let reason = RevokeReason::ProviderLogout;
                // Conditional on the session being unrevoked, as every revoke.
                if let Some(before) = self
                    .inner
                    .store
                    .revoke(&user, &record.id, reason, now)
                    .await?
                {
                    self.revoked(now, reason, std::slice::from_ref(&before));
                    ended += 1;
                }
            }
        }
        let first = provider
            .replay
            .consume_once(&format!("bcl:{}", order.jti), order.expires_at, now)
            .await?;
        if !first {
            return Err(self.refuse_logout_token(now, provider, LogoutTokenError::Replayed));
        }
        tracing::info!(target: "sessionward::provider", issuer = %provider.issuer, ended, "back-channel logout");
        Ok(ended)
    }

    fn refuse_logout_token(
        &self,
        now: Timestamp,
        provider: &BackChannelLogout,
        why: LogoutTokenError,
    ) -> BackChannelError {
        tracing::warn!(target: "sessionward::provider", issuer = %provider.issuer, why = why.as_str(), "logout token refused");
        self.emit(self.event(
            now,
            EventKind::ProviderLogoutRejected {
                issuer: provider.issuer.clone(),
                why,
            },
            None,
            None,
        ));
        BackChannelError::Refused(why)
    }
}
