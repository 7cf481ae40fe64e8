//! Acting on what an identity provider tells us ([`crate::provider`]): a
//! back-channel logout token, or a pushed Security Event Token.

use crate::events::EventKind;
use crate::ids::UserId;
use crate::provider::{IdentityProvider, ProviderSignal, ProviderSignalError, ProviderTokenError};
use crate::record::RevokeReason;
use crate::store::StoreError;
use crate::time::Timestamp;

use super::SessionManager;

/// Which of a provider user's sessions a signal ends.
struct Target<'a> {
    user: UserId,
    subject: &'a str,
    sid: Option<&'a str>,
    /// Sessions that began later are not the ones the provider ended.
    began_by: Timestamp,
    reason: RevokeReason,
}

impl SessionManager {
    /// Acts on a back-channel logout token from `provider`: ends the
    /// active sessions of the mapped user that were recorded from that
    /// provider and subject (and that `sid`, when the token names one) and
    /// began before the token was issued, with
    /// [`RevokeReason::ProviderLogout`]; then records the `jti`. Returns
    /// how many ended (0 when none matched: already signed out is success,
    /// §2.7). A refused token emits `provider_token_rejected`.
    ///
    /// # Errors
    /// [`ProviderSignalError::Refused`] (nothing ended; a replay is noticed
    /// only after acting, when the sessions it could end had already ended
    /// the first time); [`ProviderSignalError::Store`].
    pub async fn back_channel_logout(
        &self,
        provider: &IdentityProvider,
        token: &str,
    ) -> Result<usize, ProviderSignalError> {
        let now = self.now();
        let order = with_fresh_keys(provider, |p| p.validate(token, now))
            .await
            .map_err(|why| self.refuse_provider_token(now, provider, why))?;
        let ended = match (provider.users)(&order.subject) {
            Some(user) => {
                let target = Target {
                    user,
                    subject: &order.subject,
                    sid: order.sid.as_deref(),
                    began_by: order.issued_at.plus(provider.leeway),
                    reason: RevokeReason::ProviderLogout,
                };
                self.end_provider_sessions(provider, &target, now).await?
            }
            None => 0,
        };
        let first = provider
            .replay
            .consume_once(&format!("bcl:{}", order.jti), order.remember_until, now)
            .await?;
        if !first {
            return Err(self.refuse_provider_token(now, provider, ProviderTokenError::Replayed));
        }
        tracing::info!(target: "sessionward::provider", issuer = %provider.issuer, ended, "back-channel logout");
        Ok(ended)
    }

    /// Acts on a Security Event Token `provider` pushed (RFC 8935): CAEP
    /// `session-revoked` ends the sessions signed in through that provider
    /// user (and session, for a `complex` subject naming one) with
    /// [`RevokeReason::ProviderLogout`]; `credential-change` of type
    /// `update`, `revoke` or `delete` ends every session signed in through
    /// that provider user, with [`RevokeReason::PasswordChange`] for a
    /// password and [`RevokeReason::ProviderLogout`] otherwise (`create`
    /// ends nothing). Only sessions that began before the event was issued
    /// end. Returns how many ended. The `jti` is recorded after acting; a
    /// duplicate (a transmitter retrying a push whose acknowledgement was
    /// lost) is acknowledged again and can end nothing new.
    ///
    /// # Errors
    /// [`ProviderSignalError::Refused`] (nothing ended, event
    /// `provider_token_rejected`); [`ProviderSignalError::Store`].
    pub async fn security_event(
        &self,
        provider: &IdentityProvider,
        token: &str,
    ) -> Result<usize, ProviderSignalError> {
        let now = self.now();
        let event = with_fresh_keys(provider, |p| p.validate_set(token, now))
            .await
            .map_err(|why| self.refuse_provider_token(now, provider, why))?;
        let (sid, reason) = match &event.signal {
            ProviderSignal::Verification { .. } => (None, None),
            ProviderSignal::SessionRevoked { sid, .. } => {
                (sid.as_deref(), Some(RevokeReason::ProviderLogout))
            }
            ProviderSignal::CredentialChange { change_type, .. } if change_type == "create" => {
                (None, None)
            }
            ProviderSignal::CredentialChange {
                credential_type, ..
            } => {
                let reason = if credential_type == "password" {
                    RevokeReason::PasswordChange
                } else {
                    RevokeReason::ProviderLogout
                };
                (None, Some(reason))
            }
        };
        let subject = event.signal.subject();
        let ended = match (reason, (provider.users)(subject)) {
            (Some(reason), Some(user)) => {
                let target = Target {
                    user,
                    subject,
                    sid,
                    began_by: event.issued_at.plus(provider.leeway),
                    reason,
                };
                self.end_provider_sessions(provider, &target, now).await?
            }
            _ => 0,
        };
        let keep_until = event
            .issued_at
            .plus(provider.event_max_age)
            .plus(provider.leeway);
        let first = provider
            .replay
            .consume_once(&format!("set:{}", event.jti), keep_until, now)
            .await?;
        tracing::info!(target: "sessionward::provider", issuer = %provider.issuer, ended, duplicate = !first, "security event");
        Ok(ended)
    }

    /// Ends `target`'s active sessions recorded from `provider`.
    async fn end_provider_sessions(
        &self,
        provider: &IdentityProvider,
        target: &Target<'_>,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let cutoff = self.idle_cutoff(now);
        let mut ended = 0;
        for record in self.inner.store.list(&target.user).await? {
            let from_provider = record.meta.provider.as_ref().is_some_and(|p| {
                p.issuer == provider.issuer
                    && p.subject == target.subject
                    && (target.sid.is_none() || p.sid.as_deref() == target.sid)
            });
            if !from_provider
                || !record.is_active(now, cutoff)
                || record.created_at > target.began_by
            {
                continue;
            }
            // Conditional on the session being unrevoked, as every revoke.
            if let Some(before) = self
                .inner
                .store
                .revoke(&target.user, &record.id, target.reason, now)
                .await?
            {
                self.revoked(now, target.reason, std::slice::from_ref(&before))
                    .await;
                ended += 1;
            }
        }
        Ok(ended)
    }

    fn refuse_provider_token(
        &self,
        now: Timestamp,
        provider: &IdentityProvider,
        why: ProviderTokenError,
    ) -> ProviderSignalError {
        tracing::warn!(target: "sessionward::provider", issuer = %provider.issuer, why = why.as_str(), "provider token refused");
        self.emit(self.event(
            now,
            EventKind::ProviderTokenRejected {
                issuer: provider.issuer.clone(),
                why,
            },
            None,
            None,
        ));
        ProviderSignalError::Refused(why)
    }
}

/// `check` on `provider`; when the token names a key we do not hold, once
/// more after reading the provider's keys again (a rotation), if its key
/// source allows a read now.
async fn with_fresh_keys<T>(
    provider: &IdentityProvider,
    check: impl Fn(&IdentityProvider) -> Result<T, ProviderTokenError>,
) -> Result<T, ProviderTokenError> {
    match check(provider) {
        Err(ProviderTokenError::UnknownKey) if provider.refresh_keys().await.unwrap_or(false) => {
            check(provider)
        }
        other => other,
    }
}
