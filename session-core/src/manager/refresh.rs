//! Refresh-token rotation, the grace window, and reuse detection.

use crate::binding::{DpopMode, KeyBinding, ProofError};
use crate::error::SessionError;
use crate::events::EventKind;
use crate::record::{RequestContext, RevokeReason, SessionRecord};
use crate::secret::RefreshToken;
use crate::store::{RotateOutcome, RotateRequest};
use crate::time::Timestamp;
use crate::tokens::{ParsedRefresh, RefreshSecret, TokenRejection, format_refresh, parse_refresh};

use super::{SessionManager, TokenPair};

/// A successful refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The session after rotation.
    pub session: SessionRecord,
    /// The new tokens.
    pub tokens: TokenPair,
    /// Whether this was the immediate predecessor inside the grace window,
    /// answered with the already-issued successor.
    pub grace_replay: bool,
}

impl SessionManager {
    /// Rotates a refresh token: returns a new access token and the
    /// successor refresh token, and invalidates the presented one.
    ///
    /// One compare-and-swap in the store decides the rotation, so parallel
    /// refreshes of one token rotate once. The immediate predecessor inside
    /// the policy's grace window gets the same successor back (parallel tabs);
    /// any other already-rotated token revokes the whole session and emits
    /// `authn_token_reuse` (RFC 9700 §4.14.2, ASVS 10.4.5). A forged secret
    /// revokes nothing.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`], [`SessionError::SessionEnded`],
    /// [`SessionError::RefreshTokenReuse`], or [`SessionError::Store`].
    pub async fn refresh(&self, token: &RefreshToken) -> Result<Refreshed, SessionError> {
        self.refresh_from(token, None).await
    }

    /// [`SessionManager::refresh`] that also records where the refresh came
    /// from, in the same store write as the rotation
    /// ([`crate::SeenLog::last`]). The adapters call this.
    ///
    /// # Errors
    /// As [`SessionManager::refresh`].
    pub async fn refresh_with(
        &self,
        token: &RefreshToken,
        ctx: &RequestContext,
    ) -> Result<Refreshed, SessionError> {
        self.refresh_from(token, Some(ctx)).await
    }

    async fn refresh_from(
        &self,
        token: &RefreshToken,
        ctx: Option<&RequestContext>,
    ) -> Result<Refreshed, SessionError> {
        let now = self.now();
        let presented =
            parse_refresh(token.expose_secret()).map_err(|why| self.reject(now, why, None))?;
        // `parse_refresh` caps the generation so a successor exists; a `None`
        // here is still a refusal, never an overflow.
        let successor = self
            .inner
            .tokens
            .refresh_key
            .successor(
                &presented.user,
                &presented.id,
                presented.generation,
                &presented.secret,
            )
            .ok_or_else(|| self.reject(now, TokenRejection::NumberOutOfRange, None))?;
        let jkt = self.refresh_thumbprint(ctx, now).await?;
        let seen = match ctx.and_then(|ctx| self.seen_from(ctx, now)) {
            Some((mut seen, class)) => {
                #[cfg(feature = "risk")]
                self.check_refresh_context(&presented, jkt.as_deref(), &mut seen, class, now)
                    .await?;
                #[cfg(not(feature = "risk"))]
                let _ = (&mut seen, class);
                Some(seen)
            }
            None => None,
        };
        let outcome = self
            .rotate(&presented, &successor, jkt.as_deref(), seen.clone(), now)
            .await?;
        let record = match outcome {
            RotateOutcome::Rotated(record) => {
                return self.issue_refreshed(record, &successor, now, false);
            }
            RotateOutcome::Unchanged(None) => {
                return Err(self.reject(
                    now,
                    TokenRejection::UnknownSession,
                    Some(&presented.user),
                ));
            }
            RotateOutcome::Unchanged(Some(record)) => record,
        };
        match (record.bound_thumbprint(), jkt.as_deref()) {
            (Some(bound), proved) if proved != Some(bound) => {
                if let Some(reason) = record.inactive_reason(now, self.idle_cutoff(now)) {
                    return Err(self.ended(now, reason, &record));
                }
                // Only a token of the session's own chain says someone holds
                // it without the key; a forged secret proves nothing and
                // must not raise a theft alarm or end anything.
                if self.chain_secret(&presented, &record).is_none() {
                    return Err(self.reject(
                        now,
                        TokenRejection::UnknownRefreshToken,
                        Some(&record.user),
                    ));
                }
                let dbsc = matches!(record.meta.binding, Some(KeyBinding::Dbsc { .. }));
                // A device-bound cookie without its key: an old one is a
                // reuse like any other (the grace window's successor is
                // never handed out without the key); the current one is
                // refused, for the browser to refresh with its key.
                if dbsc
                    && proved.is_none()
                    && presented.generation < record.refresh.generation
                    && !self.in_refresh_grace(presented.generation, &record, now)
                {
                    return self.refresh_mismatch(&presented, record, now).await;
                }
                let error = match (dbsc, proved) {
                    (true, None) => ProofError::DeviceBound,
                    (false, None) => ProofError::Missing,
                    (_, Some(_)) => ProofError::KeyMismatch,
                };
                Err(self
                    .proof_refused(&record.user, &record.id, Some(&record), error, now)
                    .await)
            }
            // A session logged in without a key while DPoP was optional can
            // never be used once it is required: sign in again (with a key).
            (None, Some(_)) if self.inner.policy.dpop().mode == DpopMode::Required => {
                Err(SessionError::ReauthenticationRequired)
            }
            // A proof for a session that is not bound: it was logged in
            // without a key, so it rotates as the bearer session it is.
            (None, Some(_)) => match self.rotate(&presented, &successor, None, seen, now).await? {
                RotateOutcome::Rotated(record) => {
                    self.issue_refreshed(record, &successor, now, false)
                }
                RotateOutcome::Unchanged(None) => {
                    Err(self.reject(now, TokenRejection::UnknownSession, Some(&presented.user)))
                }
                RotateOutcome::Unchanged(Some(record)) => {
                    self.refresh_mismatch(&presented, record, now).await
                }
            },
            _ => self.refresh_mismatch(&presented, record, now).await,
        }
    }

    /// Compares a refresh's request with its session before rotating, when
    /// mid-session checks are on: one extra read, and only for the
    /// session's current token with the key it is bound to, if any (a
    /// forged or stale token, or a bound one without its key, proves
    /// nothing and must not get anyone's session ended).
    #[cfg(feature = "risk")]
    async fn check_refresh_context(
        &self,
        presented: &ParsedRefresh,
        proved: Option<&str>,
        seen: &mut crate::seen::SeenFrom,
        class: crate::record::DeviceClass,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        if !self.checks_mid_session() {
            return Ok(());
        }
        let Some(current) = self.inner.store.get(&presented.user, &presented.id).await? else {
            return Ok(());
        };
        let is_current = current.refresh.generation == presented.generation
            && current
                .bound_thumbprint()
                .is_none_or(|bound| proved == Some(bound))
            && presented.secret.hash_bound(current.bound_thumbprint()) == current.refresh.hash
            && current
                .inactive_reason(now, self.idle_cutoff(now))
                .is_none();
        if is_current {
            self.check_mid_session(&current, seen, class, now).await?;
        }
        Ok(())
    }

    /// The store's compare-and-swap of `presented` to `successor`, with the
    /// hashes of a session bound to `jkt`.
    async fn rotate(
        &self,
        presented: &ParsedRefresh,
        successor: &RefreshSecret,
        jkt: Option<&str>,
        seen: Option<crate::seen::SeenFrom>,
        now: Timestamp,
    ) -> Result<RotateOutcome, SessionError> {
        Ok(self
            .inner
            .store
            .rotate_refresh(RotateRequest {
                user: presented.user.clone(),
                id: presented.id.clone(),
                expected_generation: presented.generation,
                expected_hash: presented.secret.hash_bound(jkt),
                new_hash: successor.hash_bound(jkt),
                now,
                idle_cutoff: self.idle_cutoff(now),
                seen,
            })
            .await?)
    }

    /// The presented token is not the session's current one (or the
    /// session is inactive): grace replay, reuse, or a refusal.
    async fn refresh_mismatch(
        &self,
        presented: &ParsedRefresh,
        record: SessionRecord,
        now: Timestamp,
    ) -> Result<Refreshed, SessionError> {
        if let Some(reason) = record.inactive_reason(now, self.idle_cutoff(now)) {
            return Err(self.ended(now, reason, &record));
        }
        let current = record.refresh.generation;
        if presented.generation >= current {
            // Same or future generation with the wrong secret: a forgery or
            // garbage. It proves nothing about the real holder; revoke nothing.
            return Err(self.reject(now, TokenRejection::UnknownRefreshToken, Some(&record.user)));
        }
        let Some(current_secret) = self.chain_secret(presented, &record) else {
            return Err(self.reject(now, TokenRejection::UnknownRefreshToken, Some(&record.user)));
        };
        if self.in_refresh_grace(presented.generation, &record, now) {
            return self.issue_refreshed(record, &current_secret, now, true);
        }
        self.emit_reuse(presented.generation, &record, now);
        if let Some(before) = self
            .inner
            .store
            .revoke(
                &record.user,
                &record.id,
                RevokeReason::RefreshTokenReuse,
                now,
            )
            .await?
        {
            self.revoked(
                now,
                RevokeReason::RefreshTokenReuse,
                std::slice::from_ref(&before),
            )
            .await;
        }
        Err(SessionError::RefreshTokenReuse)
    }

    /// The session's current refresh secret, when `presented` is a token of
    /// its chain (the current one or an earlier one): walking the HMAC chain
    /// from the presented secret reaches the stored hash. `None` for a
    /// forged secret, which proves nothing about the holder.
    pub(super) fn chain_secret(
        &self,
        presented: &ParsedRefresh,
        record: &SessionRecord,
    ) -> Option<RefreshSecret> {
        let current = record.refresh.generation;
        if presented.generation > current {
            return None;
        }
        self.inner
            .tokens
            .refresh_key
            .walk(presented, current)
            .filter(|s| s.hash_bound(record.bound_thumbprint()) == record.refresh.hash)
    }

    /// Whether generation `presented` is the immediate predecessor of the
    /// session's current refresh token, presented inside the grace window.
    pub(super) fn in_refresh_grace(
        &self,
        presented: u64,
        record: &SessionRecord,
        now: Timestamp,
    ) -> bool {
        let grace = self.inner.policy.refresh_grace();
        presented.checked_add(1) == Some(record.refresh.generation)
            && !grace.is_zero()
            && now.since(record.refresh.rotated_at) <= grace
    }

    /// Emits `authn_token_reuse`: generation `presented` of `record`'s
    /// refresh chain came back after it was rotated.
    pub(super) fn emit_reuse(&self, presented: u64, record: &SessionRecord, now: Timestamp) {
        self.emit(self.event(
            now,
            EventKind::TokenReuse {
                presented_generation: presented,
                current_generation: record.refresh.generation,
            },
            None,
            Some(record),
        ));
    }

    pub(super) fn issue_refreshed(
        &self,
        record: SessionRecord,
        secret: &RefreshSecret,
        now: Timestamp,
        grace_replay: bool,
    ) -> Result<Refreshed, SessionError> {
        let generation = record.refresh.generation;
        self.emit(self.event(
            now,
            EventKind::SessionRenewed {
                generation,
                grace_replay,
            },
            None,
            Some(&record),
        ));
        let (access_token, access_expires_at) = self.mint_access(&record, now)?;
        let tokens = TokenPair {
            access_token,
            access_expires_at,
            refresh_token: format_refresh(&record.user, &record.id, generation, secret),
            refresh_expires_at: record.expires_at,
        };
        Ok(Refreshed {
            session: record,
            tokens,
            grace_replay,
        })
    }
}
