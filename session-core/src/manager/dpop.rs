//! DPoP in the session flows: binding at login, the proof on refresh and
//! on every request of a bound session, and what a refusal does.

use crate::binding::{DpopMode, DpopRequest, KeyBinding, ProofError, verify_dpop};
use crate::error::SessionError;
use crate::events::EventKind;
use crate::ids::{SessionId, UserId};
use crate::record::{RequestContext, RevokeReason, SessionRecord};
use crate::time::Timestamp;

use super::SessionManager;

impl SessionManager {
    /// The DPoP server nonce to hand out now (`DPoP-Nonce`), when the
    /// policy asks for nonces.
    pub fn dpop_nonce(&self) -> Option<String> {
        let policy = self.inner.policy.dpop();
        policy
            .nonces
            .then(|| self.inner.nonces.issue(self.now(), policy.nonce_lifetime))
    }

    /// Verifies `request` for `access_token` (resource requests) and
    /// records its `jti`; returns the key's thumbprint.
    pub(super) async fn check_proof(
        &self,
        request: &DpopRequest,
        access_token: Option<&str>,
        expected_jkt: Option<&str>,
        now: Timestamp,
    ) -> Result<String, ProofErrorOrStore> {
        let checked = verify_dpop(
            self.inner.policy.dpop(),
            self.inner.tokens.max_clock_skew,
            &self.inner.nonces,
            request,
            access_token,
            now,
        )?;
        if expected_jkt.is_some_and(|jkt| jkt != checked.jkt) {
            return Err(ProofError::KeyMismatch.into());
        }
        // The write comes last, so a proof that fails any other check
        // costs no store round trip.
        if !self
            .inner
            .replay
            .first_use(&checked.replay_key, checked.replay_until, now)
            .await
            .map_err(ProofErrorOrStore::Store)?
        {
            return Err(ProofError::Replayed.into());
        }
        Ok(checked.jkt)
    }

    /// The key a new session is bound to: the proof's, when the policy
    /// allows DPoP and the login carries one.
    pub(super) async fn login_binding(
        &self,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<Option<KeyBinding>, SessionError> {
        let mode = self.inner.policy.dpop().mode;
        if let (false, Some(jkt)) = (mode == DpopMode::Off, ctx.proven_key()) {
            return Ok(Some(KeyBinding::Dpop {
                jkt: jkt.to_owned(),
            }));
        }
        match (mode, ctx.dpop()) {
            (DpopMode::Off, _) => Ok(None),
            (DpopMode::Required, None) => Err(SessionError::Proof(ProofError::Missing)),
            (DpopMode::Optional, None) => Ok(None),
            (_, Some(request)) => {
                let jkt = self
                    .check_proof(request, None, None, now)
                    .await
                    .map_err(SessionError::from)?;
                Ok(Some(KeyBinding::Dpop { jkt }))
            }
        }
    }

    /// `ctx` with its login proof verified up front (and marked proven), so
    /// a refused proof, or a nonce to retry with, costs nothing else: no
    /// risk scoring, no spent step-up challenge.
    pub(super) async fn prove_login_key(
        &self,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<RequestContext, SessionError> {
        Ok(match self.login_binding(ctx, now).await? {
            Some(binding) => ctx.clone().with_proven_key(binding.thumbprint()),
            None => ctx.clone(),
        })
    }

    /// The thumbprint a refresh proves, if it carries a proof (checked
    /// whatever the mode, so bound sessions keep needing their key).
    pub(super) async fn refresh_thumbprint(
        &self,
        ctx: Option<&RequestContext>,
        now: Timestamp,
    ) -> Result<Option<String>, SessionError> {
        if let Some(jkt) = ctx.and_then(RequestContext::proven_key) {
            return Ok(Some(jkt.to_owned()));
        }
        match ctx.and_then(RequestContext::dpop) {
            Some(request) => Ok(Some(
                self.check_proof(request, None, None, now)
                    .await
                    .map_err(SessionError::from)?,
            )),
            None if self.inner.policy.dpop().mode == DpopMode::Required => {
                Err(SessionError::Proof(ProofError::Missing))
            }
            None => Ok(None),
        }
    }

    /// The proof of a request with an access token bound to `jkt`.
    pub(super) async fn check_request_proof(
        &self,
        user: &UserId,
        id: &SessionId,
        token: &str,
        jkt: &str,
        proof: Option<&DpopRequest>,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        let result = match proof {
            None => Err(ProofError::Missing.into()),
            Some(request) => self
                .check_proof(request, Some(token), Some(jkt), now)
                .await
                .map(drop),
        };
        match result {
            Ok(()) => Ok(()),
            Err(ProofErrorOrStore::Store(e)) => Err(e.into()),
            Err(ProofErrorOrStore::Proof(e)) => {
                Err(self.proof_refused(user, id, None, e, now).await)
            }
        }
    }

    /// A bound session's tokens came without a valid proof: emits
    /// `authn_key_proof_failed` and, when the policy says so and the
    /// refusal is one an honest client does not cause, ends the session.
    pub(super) async fn proof_refused(
        &self,
        user: &UserId,
        id: &SessionId,
        record: Option<&SessionRecord>,
        error: ProofError,
        now: Timestamp,
    ) -> SessionError {
        if matches!(error, ProofError::UseNonce(_)) {
            // The nonce flow, not a failure: the client retries with it.
            return SessionError::Proof(error);
        }
        // Only what a key holder never causes ends the session: no proof, a
        // proof by another key, a signature that does not verify. A stale
        // or replayed proof, a rewritten path or a client bug do not. A
        // DBSC browser refreshes without a proof as the protocol's first
        // step (and its page may call the plain refresh route), so there a
        // missing proof is no theft.
        let dbsc = matches!(
            record.and_then(|r| r.meta.binding.as_ref()),
            Some(KeyBinding::Dbsc { .. })
        );
        let (revokes, theft) = if dbsc {
            (
                self.inner.policy.dbsc().revoke_on_failure,
                matches!(error, ProofError::KeyMismatch | ProofError::BadSignature),
            )
        } else {
            (
                self.inner.policy.dpop().revoke_on_failure,
                matches!(
                    error,
                    ProofError::Missing | ProofError::KeyMismatch | ProofError::BadSignature
                ),
            )
        };
        let mut revoked = None;
        if revokes && theft {
            match self
                .inner
                .store
                .revoke(user, id, RevokeReason::KeyProofFailed, now)
                .await
            {
                Ok(before) => revoked = before,
                Err(e) => return e.into(),
            }
        }
        let mut event = self.event(
            now,
            EventKind::KeyProofFailed {
                error: error.to_string(),
                revoked: revoked.is_some(),
            },
            Some(user),
            record.or(revoked.as_ref()),
        );
        if event.session.is_none() {
            event.session = Some(self.session_hash(id));
        }
        self.emit(event);
        if let Some(before) = revoked {
            self.revoked(
                now,
                RevokeReason::KeyProofFailed,
                std::slice::from_ref(&before),
            )
            .await;
        }
        SessionError::Proof(error)
    }
}

/// A refused proof, or a replay record that could not be written.
#[derive(Debug)]
pub(super) enum ProofErrorOrStore {
    Proof(ProofError),
    Store(crate::store::StoreError),
}

impl From<ProofError> for ProofErrorOrStore {
    fn from(e: ProofError) -> Self {
        ProofErrorOrStore::Proof(e)
    }
}

impl From<ProofErrorOrStore> for SessionError {
    fn from(e: ProofErrorOrStore) -> Self {
        match e {
            ProofErrorOrStore::Proof(e) => SessionError::Proof(e),
            ProofErrorOrStore::Store(e) => e.into(),
        }
    }
}
