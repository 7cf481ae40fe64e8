//! Checking an access token on every request.

use std::sync::Arc;
use std::time::Duration;

use crate::admission::FIRST_USE_RESOLUTION;
use crate::binding::{DpopMode, DpopRequest, ProofError};
use crate::error::SessionError;
use crate::events::EventKind;
use crate::ids::{SessionId, UserId};
use crate::record::{Inactive, RequestContext, SessionRecord};
use crate::seen::{SeenUpdate, keep_since};
use crate::store::TouchRequest;
use crate::time::Timestamp;
use crate::tokens::{ACCESS_TOKEN_TYP, AccessClaims, TokenRejection};

use super::SessionManager;
use super::cache::Lookup;

/// A verified request: the token checked out and its session is active.
#[derive(Debug, Clone)]
pub struct AuthenticatedSession {
    /// The user.
    pub user: UserId,
    /// The session.
    pub session_id: SessionId,
    /// The verified claims.
    pub claims: AccessClaims,
    /// The session as the store (or the fresh cached view) has it.
    pub session: Arc<SessionRecord>,
}

impl AuthenticatedSession {
    /// Time of the last full authentication of this session.
    pub fn auth_time(&self) -> Timestamp {
        self.session.auth_time
    }

    /// Requires the last full authentication to be at most `max_age` before
    /// `now` (ASVS 7.5.1/7.5.2: re-authenticate before sensitive changes).
    ///
    /// # Errors
    /// [`SessionError::ReauthenticationRequired`] when it is older.
    pub fn require_recent_auth(
        &self,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<(), SessionError> {
        if now.since(self.auth_time()) > max_age {
            Err(SessionError::ReauthenticationRequired)
        } else {
            Ok(())
        }
    }
}

impl SessionManager {
    /// Verifies an access token and checks that its session is still active.
    ///
    /// The JWT must be one we issued (pinned algorithm per `kid`, `typ`
    /// `at+jwt`, our `iss`/`aud`, inside `nbf`..`exp`). Then the session is
    /// checked in the store (strict mode) or the pushed view (cached mode):
    /// a revoked, idle or expired session is refused even though its JWT is
    /// unexpired. Activity is written at most once per touch interval.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`], [`SessionError::SessionEnded`], or
    /// [`SessionError::Store`] (fail closed) when the store cannot answer.
    ///
    /// A token bound to a DPoP key (`cnf.jkt`) is refused here, having no
    /// proof: use [`SessionManager::authenticate_with`] with
    /// [`RequestContext::with_dpop`].
    pub async fn authenticate(&self, token: &str) -> Result<AuthenticatedSession, SessionError> {
        self.authenticate_from(token, None, None).await
    }

    /// [`SessionManager::authenticate`] that also records where the request
    /// came from: when the throttled activity write is due, the same store
    /// write sets the session's last-seen address, place and device
    /// ([`crate::SeenLog`]). A token bound to a DPoP key needs the
    /// context's proof ([`RequestContext::with_dpop`]) for this very token
    /// (`ath`), signed by that key. The adapters call this.
    ///
    /// # Errors
    /// As [`SessionManager::authenticate`], and [`SessionError::Proof`]
    /// when a bound token's proof is missing or refused.
    pub async fn authenticate_with(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<AuthenticatedSession, SessionError> {
        self.authenticate_from(token, ctx.dpop(), Some(&|| ctx.clone()))
            .await
    }

    /// [`SessionManager::authenticate_with`] that builds the context only
    /// when the activity write is due (the web layer's per-request path).
    #[cfg(feature = "web")]
    pub(crate) async fn authenticate_seen(
        &self,
        token: &str,
        proof: Option<&DpopRequest>,
        ctx: &(dyn Fn() -> RequestContext + Sync),
    ) -> Result<AuthenticatedSession, SessionError> {
        self.authenticate_from(token, proof, Some(ctx)).await
    }

    async fn authenticate_from(
        &self,
        token: &str,
        proof: Option<&DpopRequest>,
        ctx: Option<&(dyn Fn() -> RequestContext + Sync)>,
    ) -> Result<AuthenticatedSession, SessionError> {
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let result = self.authenticate_token(token, proof, ctx).await;
        #[cfg(feature = "metrics")]
        crate::metrics::authenticated(
            started.elapsed(),
            match &result {
                Ok(_) => "ok",
                Err(SessionError::Store(_)) => "error",
                Err(_) => "refused",
            },
        );
        result
    }

    async fn authenticate_token(
        &self,
        token: &str,
        proof: Option<&DpopRequest>,
        ctx: Option<&(dyn Fn() -> RequestContext + Sync)>,
    ) -> Result<AuthenticatedSession, SessionError> {
        let now = self.now();
        let claims = self.verify_access(token, now)?;
        let (user, id) = match (
            UserId::new(claims.sub.clone()),
            SessionId::parse(&claims.sid),
        ) {
            (Ok(u), Ok(s)) => (u, s),
            _ => return Err(self.reject(now, TokenRejection::BadClaims, None)),
        };
        let record = self.current_state(&user, &id, now).await?;
        let Some(record) = record else {
            return Err(self.reject(now, TokenRejection::UnknownSession, Some(&user)));
        };
        if let Some(reason) = record.inactive_reason(now, self.idle_cutoff(now)) {
            return Err(self.ended(now, reason, &record));
        }
        // After the session check, so the proof of a request that an ended
        // session refuses is not spent (a refresh may still carry it), and
        // before the activity write.
        // The stored binding must agree with the token's: a bearer token of
        // a session bound since (or the reverse) is refused.
        let bound = record.access_thumbprint();
        if claims.cnf.as_ref().map(|c| c.jkt.as_str()) != bound {
            return Err(SessionError::Proof(ProofError::KeyMismatch));
        }
        match &claims.cnf {
            Some(cnf) => {
                self.check_request_proof(&user, &id, token, &cnf.jkt, proof, now)
                    .await?;
            }
            None if self.inner.policy.dpop().mode == DpopMode::Required => {
                return Err(SessionError::Proof(ProofError::Missing));
            }
            None => {}
        }
        let record = self.touch_if_due(record, now, ctx).await?;
        Ok(AuthenticatedSession {
            user,
            session_id: id,
            claims,
            session: record,
        })
    }

    pub(super) fn verify_access(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, SessionError> {
        let tokens = &self.inner.tokens;
        tokens
            .verify_jwt::<AccessClaims>(ACCESS_TOKEN_TYP, token)
            .and_then(|c| {
                tokens
                    .check_access_claims(&c, now.unix_seconds())
                    .map(|()| c)
            })
            .map_err(|why| self.reject(now, why, None))
    }

    /// Emits `authn_token_rejected` and returns the matching error.
    pub(super) fn reject(
        &self,
        now: Timestamp,
        why: TokenRejection,
        user: Option<&UserId>,
    ) -> SessionError {
        self.emit(self.event(now, EventKind::TokenRejected { why }, user, None));
        SessionError::InvalidToken(why)
    }

    /// Emits `session_expired` (timeouts) or `session_use_after_expire`
    /// (a revoked session's token came back) and returns the matching error.
    pub(super) fn ended(
        &self,
        now: Timestamp,
        reason: Inactive,
        record: &SessionRecord,
    ) -> SessionError {
        let kind = match reason {
            Inactive::Revoked(_) => EventKind::SessionUseAfterExpire { reason },
            Inactive::IdleTimeout | Inactive::AbsoluteTimeout => {
                EventKind::SessionExpired { reason }
            }
        };
        self.emit(self.event(now, kind, None, Some(record)));
        SessionError::SessionEnded(reason)
    }

    /// The session state: from the fresh cached view when allowed, else the store.
    async fn current_state(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<Arc<SessionRecord>>, SessionError> {
        let Some(cache) = &self.inner.cache else {
            return Ok(self.inner.store.get(user, id).await?.map(Arc::new));
        };
        match cache.lookup(id, now) {
            // A cached record counts only for its owner, and an idle-looking
            // one is re-read: another instance may have seen activity.
            Lookup::Live(r)
                if &r.user == user && r.inactive_reason(now, self.idle_cutoff(now)).is_none() =>
            {
                return Ok(Some(r));
            }
            Lookup::Revoked => {
                // The tombstone says revoked; the store has the reason.
            }
            _ => {}
        }
        let epoch = cache.epoch();
        let record = self.inner.store.get(user, id).await?.map(Arc::new);
        if let Some(r) = &record
            && r.revoked.is_none()
        {
            cache.insert_live(r.clone(), now, epoch);
        }
        Ok(record)
    }

    /// Writes activity once per touch interval, conditionally on the
    /// session still being active as this request judged it: a touch that
    /// lands after another decision ended the session changes nothing.
    async fn touch_if_due(
        &self,
        record: Arc<SessionRecord>,
        now: Timestamp,
        ctx: Option<&(dyn Fn() -> RequestContext + Sync)>,
    ) -> Result<Arc<SessionRecord>, SessionError> {
        if !touch_due(&record, now, self.inner.policy.touch_interval()) {
            return Ok(record);
        }
        let keep_since = keep_since(now, Some(self.inner.policy.history_retention()));
        let seen = match ctx.and_then(|ctx| self.seen_from(&ctx(), now)) {
            Some((mut last, class)) => {
                // A refusal here writes no activity, so the next request is
                // compared (and refused) again.
                #[cfg(feature = "risk")]
                self.check_mid_session(&record, &mut last, class, now)
                    .await?;
                #[cfg(not(feature = "risk"))]
                let _ = (&mut last, class);
                Some(SeenUpdate {
                    places: record.seen.places_with(&last, keep_since),
                    read_last_seen_at: record.last_seen_at,
                    last,
                })
            }
            None => None,
        };
        let request = TouchRequest {
            user: record.user.clone(),
            id: record.id.clone(),
            at: now,
            idle_cutoff: self.idle_cutoff(now),
            seen: seen.clone(),
        };
        let written = self.inner.store.touch(request).await?;
        if let Some(cache) = &self.inner.cache {
            // The cached copy has the old activity time (or the session has
            // just been ended elsewhere); re-read it next time.
            cache.remove_live(&record.id);
        }
        if !written {
            return Ok(record);
        }
        let mut updated = (*record).clone();
        updated.last_seen_at = now;
        if let Some(seen) = seen {
            updated.seen.places = seen.places;
            updated.seen.last = Some(Box::new(seen.last));
        }
        Ok(Arc::new(updated))
    }

    /// Drops `id` from the cached view after a local revocation.
    pub(super) fn forget(&self, id: &SessionId, now: Timestamp) {
        if let Some(cache) = &self.inner.cache {
            cache.mark_revoked(id, now);
        }
    }
}

/// Whether a use at `now` writes activity: once per touch interval, and on
/// the first use [`FIRST_USE_RESOLUTION`] after a login or refresh, so
/// least-recently-used eviction can tell a used session from an unused one
/// ([`crate::admission::latest_possible_use`]).
fn touch_due(record: &SessionRecord, now: Timestamp, touch_interval: Duration) -> bool {
    let since = now.since(record.last_seen_at);
    since >= touch_interval
        || (record.last_seen_at == record.refresh.rotated_at && since >= FIRST_USE_RESOLUTION)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::memory::MemoryStore;
    use crate::policy::SessionPolicy;
    use crate::testing::Harness;
    use crate::time::Clock;

    /// A memory-store harness with one login of `alice`.
    async fn logged_in() -> (Harness, UserId, crate::LoginSuccess) {
        let h = Harness::new(Arc::new(MemoryStore::new()), SessionPolicy::default());
        let alice = UserId::new("alice").unwrap();
        let login = h
            .manager
            .login(&alice, &RequestContext::new())
            .await
            .unwrap();
        (h, alice, login)
    }

    /// `require_recent_auth` allows exactly `max_age`, not a millisecond more.
    #[tokio::test]
    async fn recent_auth_allows_exactly_max_age() {
        let (h, _, login) = logged_in().await;
        let token = login.tokens.access_token.expose_secret();
        let session = h.manager.authenticate(token).await.unwrap();
        let at = session.auth_time();
        assert_eq!(at, login.session.auth_time);
        let max = Duration::from_secs(300);
        assert!(session.require_recent_auth(at, max).is_ok());
        assert!(session.require_recent_auth(at.plus(max), max).is_ok());
        let late = at.plus(max + Duration::from_millis(1));
        assert!(matches!(
            session.require_recent_auth(late, max),
            Err(SessionError::ReauthenticationRequired)
        ));
    }

    /// The session returned by `authenticate` carries the activity time the
    /// request wrote, and the stored one when no write was due.
    #[tokio::test]
    async fn authenticated_session_shows_written_activity() {
        let (h, alice, login) = logged_in().await;
        let token = login.tokens.access_token.expose_secret();
        let fresh = h.manager.authenticate(token).await.unwrap();
        assert_eq!(fresh.session.last_seen_at, login.session.last_seen_at);
        h.clock.advance(h.manager.policy().touch_interval());
        let touched = h.manager.authenticate(token).await.unwrap();
        assert_eq!(touched.session.last_seen_at, h.clock.now());
        let stored = h
            .manager
            .store()
            .get(&alice, &login.session.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.last_seen_at, h.clock.now());
    }
}
