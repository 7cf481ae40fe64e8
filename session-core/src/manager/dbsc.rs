//! Device Bound Session Credentials in the session flows: the offer at
//! sign-in, the registration that binds a browser's key, and the refresh
//! that only the key's signature over a fresh challenge passes.

use crate::binding::{
    ChallengePurpose, DbscMode, DbscRefusal, DbscSubject, KeyBinding, ProofError, stored_key,
    verify_dbsc,
};
use crate::error::SessionError;
use crate::events::EventKind;
use crate::record::{RequestContext, SessionRecord};
use crate::secret::RefreshToken;
use crate::store::{RotateOutcome, RotateRequest};
use crate::time::Timestamp;
use crate::tokens::{ParsedRefresh, TokenRejection, parse_refresh};

use super::SessionManager;
use super::refresh::Refreshed;

/// What a device-bound refresh answers.
#[derive(Debug, Clone)]
// Returned once per refresh; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum DeviceRefresh {
    /// The key signed a live challenge: new tokens (the bound cookie).
    Refreshed(Refreshed),
    /// The browser must sign this challenge first (`403` with
    /// `Secure-Session-Challenge`): the protocol's first step, or a retry
    /// after a stale or already used challenge.
    Challenge {
        /// The challenge to sign.
        challenge: String,
        /// The session identifier the challenge is for.
        session_identifier: String,
    },
}

impl SessionManager {
    /// The registration challenge to offer with a cookie sign-in's answer
    /// (`Secure-Session-Registration`), or `None` when the policy does not
    /// offer DBSC or the session is bound already. Only sign-ins offer it,
    /// so a refresh cookie copied later cannot register the thief's key.
    pub fn dbsc_registration_challenge(&self, session: &SessionRecord) -> Option<String> {
        (self.inner.policy.dbsc().mode == DbscMode::Offered && session.meta.binding.is_none()).then(
            || {
                self.inner.dbsc_keys.issue(
                    ChallengePurpose::Registration,
                    &session.user,
                    &session.id,
                    self.now(),
                )
            },
        )
    }

    /// A challenge for `session`'s next device-bound refresh, which the
    /// browser may cache and sign ahead of time.
    pub fn dbsc_refresh_challenge(&self, session: &SessionRecord) -> String {
        self.inner.dbsc_keys.issue(
            ChallengePurpose::Refresh,
            &session.user,
            &session.id,
            self.now(),
        )
    }

    /// The `session_identifier` a browser knows `session` by: derived from
    /// the session, so the session id itself is in no header.
    pub fn dbsc_session_identifier(&self, session: &SessionRecord) -> String {
        self.inner
            .dbsc_keys
            .session_identifier(&session.user, &session.id)
    }

    /// DBSC registration: binds the session of refresh token `token` to the
    /// device key that signed `jwt` (the browser's `Secure-Session-Response`
    /// over the registration challenge of this session's sign-in), and
    /// rotates the token. The new refresh hash covers the key's thumbprint
    /// and is written with the binding in one compare-and-swap, so from
    /// then on the refresh cookie alone rotates nothing.
    ///
    /// # Errors
    /// [`SessionError::Proof`] with [`ProofError::Registration`] when DBSC
    /// is off, the session is bound already, the challenge is not a live
    /// registration challenge of this session, or the session changed
    /// meanwhile; another [`SessionError::Proof`] for a JWT that does not
    /// verify or a used challenge; [`SessionError::InvalidToken`] or
    /// [`SessionError::SessionEnded`] for the token; [`SessionError::Store`].
    pub async fn register_device_key(
        &self,
        token: &RefreshToken,
        jwt: &str,
        ctx: &RequestContext,
    ) -> Result<Refreshed, SessionError> {
        let now = self.now();
        if self.inner.policy.dbsc().mode == DbscMode::Off {
            return Err(registration("device-bound sessions are off"));
        }
        let (presented, record) = self.device_session(token, now).await?;
        if record.meta.binding.is_some() {
            return Err(registration("the session is bound to a key already"));
        }
        let current = presented.generation == record.refresh.generation
            && presented.secret.hash_bound(None) == record.refresh.hash;
        if !current {
            return Err(self.reject(now, TokenRejection::UnknownRefreshToken, Some(&record.user)));
        }
        let subject = DbscSubject {
            user: &record.user,
            id: &record.id,
            purpose: ChallengePurpose::Registration,
        };
        let checked = match self.check_dbsc(jwt, None, subject, now) {
            Ok(checked) => checked,
            Err(DbscRefusal::Challenge) => {
                return Err(registration("the challenge is not this sign-in's"));
            }
            Err(DbscRefusal::Proof(e)) => return Err(SessionError::Proof(e)),
        };
        if !self
            .inner
            .replay
            .first_use(&checked.replay_key, checked.replay_until, now)
            .await?
        {
            return Err(SessionError::Proof(ProofError::Replayed));
        }
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
        let mut meta = record.meta.clone();
        meta.binding = Some(KeyBinding::Dbsc {
            jwk: checked.key.canonical_json(),
            jkt: checked.jkt.clone(),
        });
        let request = RotateRequest {
            user: record.user.clone(),
            id: record.id.clone(),
            expected_generation: presented.generation,
            expected_hash: presented.secret.hash_bound(None),
            new_hash: successor.hash_bound(Some(&checked.jkt)),
            now,
            idle_cutoff: self.idle_cutoff(now),
            seen: self.seen_from(ctx, now).map(|(seen, _)| seen),
        };
        match self
            .inner
            .store
            .rotate_refresh_binding(request, meta)
            .await?
        {
            RotateOutcome::Rotated(bound) => {
                self.emit(self.event(
                    now,
                    EventKind::SessionKeyBound {
                        binding: "dbsc".to_owned(),
                    },
                    None,
                    Some(&bound),
                ));
                self.issue_refreshed(bound, &successor, now, false)
            }
            // A refresh, revocation or other registration won the race.
            RotateOutcome::Unchanged(_) => Err(registration("the session changed meanwhile")),
        }
    }

    /// The DBSC refresh of the session of refresh token `token`: without
    /// `jwt`, or with one over a stale or used challenge, the answer is a
    /// challenge to sign; with the device key's signature over a live
    /// challenge, the refresh token rotates (as [`SessionManager::refresh_with`]
    /// with the key proven) and new tokens come back.
    /// `session_identifier` is the browser's `Sec-Secure-Session-Id`; one
    /// that is not this session's is refused.
    ///
    /// # Errors
    /// Any error means the browser's device-bound session is over (answer
    /// `{"continue": false}`), except [`SessionError::Store`]:
    /// [`SessionError::Proof`] for a session that is not device-bound or a
    /// JWT by another key or with a bad signature (an
    /// `authn_key_proof_failed` event, and by policy the session's end);
    /// the errors of [`SessionManager::refresh_with`].
    pub async fn refresh_device_bound(
        &self,
        token: &RefreshToken,
        session_identifier: Option<&str>,
        jwt: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<DeviceRefresh, SessionError> {
        let now = self.now();
        let (presented, record) = self.device_session(token, now).await?;
        let Some(KeyBinding::Dbsc { jwk, .. }) = &record.meta.binding else {
            return Err(registration("the session has no device key"));
        };
        if session_identifier.is_some_and(|label| label != self.dbsc_session_identifier(&record)) {
            return Err(self.reject(now, TokenRejection::UnknownSession, Some(&record.user)));
        }
        // A forged secret proves nothing: no challenge, no alarm.
        if self.chain_secret(&presented, &record).is_none() {
            return Err(self.reject(now, TokenRejection::UnknownRefreshToken, Some(&record.user)));
        }
        let challenge = || DeviceRefresh::Challenge {
            challenge: self.dbsc_refresh_challenge(&record),
            session_identifier: self.dbsc_session_identifier(&record),
        };
        let Some(jwt) = jwt else {
            return Ok(challenge());
        };
        let key = stored_key(jwk).map_err(SessionError::Proof)?;
        let subject = DbscSubject {
            user: &record.user,
            id: &record.id,
            purpose: ChallengePurpose::Refresh,
        };
        let checked = match self.check_dbsc(jwt, Some(&key), subject, now) {
            Ok(checked) => checked,
            Err(DbscRefusal::Challenge) => return Ok(challenge()),
            Err(DbscRefusal::Proof(e)) => {
                return Err(self
                    .proof_refused(&record.user, &record.id, Some(&record), e, now)
                    .await);
            }
        };
        if !self
            .inner
            .replay
            .first_use(&checked.replay_key, checked.replay_until, now)
            .await?
        {
            // Signed by the key, but a challenge already answered: a
            // captured response played again. Logged; a fresh challenge.
            let _ = self
                .proof_refused(
                    &record.user,
                    &record.id,
                    Some(&record),
                    ProofError::Replayed,
                    now,
                )
                .await;
            return Ok(challenge());
        }
        let ctx = ctx.clone().with_proven_key(&checked.jkt);
        self.refresh_with(token, &ctx)
            .await
            .map(DeviceRefresh::Refreshed)
    }

    /// The parsed token and its session, which must be active.
    async fn device_session(
        &self,
        token: &RefreshToken,
        now: Timestamp,
    ) -> Result<(ParsedRefresh, SessionRecord), SessionError> {
        let presented =
            parse_refresh(token.expose_secret()).map_err(|why| self.reject(now, why, None))?;
        let Some(record) = self.inner.store.get(&presented.user, &presented.id).await? else {
            return Err(self.reject(now, TokenRejection::UnknownSession, Some(&presented.user)));
        };
        if let Some(reason) = record.inactive_reason(now, self.idle_cutoff(now)) {
            return Err(self.ended(now, reason, &record));
        }
        Ok((presented, record))
    }

    fn check_dbsc(
        &self,
        jwt: &str,
        stored: Option<&crate::binding::PublicJwk>,
        subject: DbscSubject<'_>,
        now: Timestamp,
    ) -> Result<crate::binding::CheckedDbsc, DbscRefusal> {
        verify_dbsc(
            jwt,
            stored,
            &self.inner.dbsc_keys,
            subject,
            self.inner.policy.dbsc(),
            self.inner.tokens.max_clock_skew,
            now,
        )
    }
}

fn registration(why: &'static str) -> SessionError {
    SessionError::Proof(ProofError::Registration(why))
}
