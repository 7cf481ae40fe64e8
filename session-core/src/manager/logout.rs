//! Logout by proof of possession: ends the session whose access token
//! (live or expired) or refresh token the caller presents.
//!
//! [`SessionManager::logout`] needs an [`AuthenticatedSession`], that is a
//! live access token. A client usually logs out when its access token has
//! already run out (it lives minutes; the tab stayed open), so that alone
//! would leave the session and its refresh token working until the absolute
//! lifetime. [`SessionManager::logout_with_proof`] accepts any credential
//! that proves the caller holds the session:
//! - an access token that is authentic (our signature under the algorithm
//!   pinned by its `kid`, `typ` `at+jwt`, our `iss` and `aud`, past `nbf`)
//!   even if expired, as long as it expired less than the policy's absolute
//!   lifetime ago (no session outlives that, so older tokens cannot name a
//!   live session);
//! - a refresh token of the session: the current one, or one of its rotated
//!   predecessors (recognised through the refresh-key chain, as refresh
//!   does; a forged secret proves nothing).
//!
//! [`AuthenticatedSession`]: super::AuthenticatedSession

use crate::error::SessionError;
use crate::ids::{SessionId, UserId};
use crate::record::RevokeReason;
use crate::secret::RefreshToken;
use crate::time::Timestamp;
use crate::tokens::{ACCESS_TOKEN_TYP, AccessClaims, TokenRejection, parse_refresh};

use super::SessionManager;

/// The credentials a client presents at logout. Any one that proves a
/// session is enough; absent or refused ones are simply ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogoutProof<'a> {
    /// The access token (JWT), live or expired.
    pub access_token: Option<&'a str>,
    /// The refresh token.
    pub refresh_token: Option<&'a RefreshToken>,
}

/// What [`SessionManager::logout_with_proof`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutOutcome {
    /// A proven session was active (or timed out but not yet revoked) and
    /// is now revoked: its access and refresh tokens are refused from the
    /// next request on.
    Ended,
    /// The credentials were authentic but their session had already been
    /// revoked.
    AlreadyEnded,
    /// Nothing presented proved a session (absent, forged, foreign, or too
    /// old); nothing was revoked. Each refusal emitted `authn_token_rejected`.
    NoProof,
}

/// A session the caller proved it holds, and the reason to revoke it with.
struct Proven {
    user: UserId,
    id: SessionId,
    reason: RevokeReason,
}

impl SessionManager {
    /// Logs out the session(s) proven by `proof` (see the module docs):
    /// revokes them with [`RevokeReason::Logout`] and emits
    /// `authn_token_revoked`. A rotated refresh token other than the
    /// immediate predecessor inside the grace window is handled as refresh
    /// handles it: `authn_token_reuse`, then revocation with
    /// [`RevokeReason::RefreshTokenReuse`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sessionward_core::{LogoutOutcome, LogoutProof, ManualClock, MemoryStore, RequestContext, SessionManager, SessionPolicy, UserId};
    /// use sessionward_core::tokens::{SigningKey, TokenConfig};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let tokens = TokenConfig::builder("https://auth.example.com", "example-api")
    ///     .signing_key(SigningKey::hs256("k1", &[1u8; 32]).unwrap())
    ///     .refresh_key([2u8; 32])
    ///     .build()
    ///     .unwrap();
    /// let clock = ManualClock::new(sessionward_core::Timestamp::from_unix_millis(1_800_000_000_000));
    /// let manager = SessionManager::builder(SessionPolicy::default(), tokens, Arc::new(MemoryStore::new()))
    ///     .clock(Arc::new(clock.clone()))
    ///     .build()
    ///     .unwrap();
    /// let login = manager.login(&UserId::new("alice").unwrap(), &RequestContext::new()).await.unwrap();
    ///
    /// // The access token ran out; it still proves the session at logout.
    /// clock.advance(std::time::Duration::from_secs(3600));
    /// let access = login.tokens.access_token.expose_secret();
    /// let proof = LogoutProof { access_token: Some(access), refresh_token: None };
    /// assert_eq!(manager.logout_with_proof(proof).await.unwrap(), LogoutOutcome::Ended);
    /// // The refresh token died with the session.
    /// assert!(manager.refresh(&login.tokens.refresh_token).await.is_err());
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store cannot answer; nothing may
    /// have been revoked then, so the caller should retry.
    pub async fn logout_with_proof(
        &self,
        proof: LogoutProof<'_>,
    ) -> Result<LogoutOutcome, SessionError> {
        let now = self.now();
        let mut proven: Vec<Proven> = Vec::with_capacity(2);
        if let Some(token) = proof.access_token
            && let Some(p) = self.prove_by_access(token, now)
        {
            proven.push(p);
        }
        if let Some(token) = proof.refresh_token
            && let Some(p) = self.prove_by_refresh(token, now).await?
            && !proven.iter().any(|q| q.user == p.user && q.id == p.id)
        {
            proven.push(p);
        }
        let mut outcome = LogoutOutcome::NoProof;
        for p in proven {
            match self.revoke(&p.user, &p.id, p.reason).await {
                Ok(()) => outcome = LogoutOutcome::Ended,
                Err(SessionError::NotFound) => {
                    if outcome == LogoutOutcome::NoProof {
                        outcome = LogoutOutcome::AlreadyEnded;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(outcome)
    }

    /// The session named by an authentic access token, expired or not.
    fn prove_by_access(&self, token: &str, now: Timestamp) -> Option<Proven> {
        let tokens = &self.inner.tokens;
        let claims = tokens
            .verify_jwt::<AccessClaims>(ACCESS_TOKEN_TYP, token)
            .and_then(|c| {
                tokens
                    .check_access_claims_expired_up_to(
                        &c,
                        now.unix_seconds(),
                        self.inner.policy.absolute_lifetime(),
                    )
                    .map(|()| c)
            });
        let claims = match claims {
            Ok(c) => c,
            Err(why) => {
                self.reject(now, why, None);
                return None;
            }
        };
        match (UserId::new(claims.sub), SessionId::parse(&claims.sid)) {
            (Ok(user), Ok(id)) => Some(Proven {
                user,
                id,
                reason: RevokeReason::Logout,
            }),
            _ => {
                self.reject(now, TokenRejection::BadClaims, None);
                None
            }
        }
    }

    /// The session of a refresh token that is its current one or one of
    /// its predecessors.
    async fn prove_by_refresh(
        &self,
        token: &RefreshToken,
        now: Timestamp,
    ) -> Result<Option<Proven>, SessionError> {
        let presented = match parse_refresh(token.expose_secret()) {
            Ok(p) => p,
            Err(why) => {
                self.reject(now, why, None);
                return Ok(None);
            }
        };
        let Some(record) = self.inner.store.get(&presented.user, &presented.id).await? else {
            self.reject(now, TokenRejection::UnknownSession, Some(&presented.user));
            return Ok(None);
        };
        let current = record.refresh.generation;
        if self.chain_secret(&presented, &record).is_none() {
            self.reject(
                now,
                TokenRejection::UnknownRefreshToken,
                Some(&presented.user),
            );
            return Ok(None);
        }
        let reason = if presented.generation == current
            || record.revoked.is_some()
            || self.in_refresh_grace(presented.generation, &record, now)
        {
            RevokeReason::Logout
        } else {
            self.emit_reuse(presented.generation, &record, now);
            RevokeReason::RefreshTokenReuse
        };
        Ok(Some(Proven {
            user: record.user,
            id: record.id,
            reason,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::memory::MemoryStore;
    use crate::policy::SessionPolicy;
    use crate::record::RequestContext;
    use crate::testing::Harness;

    fn json_lines(events: &crate::events::MemorySink) -> String {
        let lines: Vec<String> = events.events().iter().map(|e| e.to_json()).collect();
        lines.join("\n")
    }

    fn harness() -> Harness {
        Harness::new(Arc::new(MemoryStore::new()), SessionPolicy::default())
    }

    fn access(t: &crate::LoginSuccess) -> LogoutProof<'_> {
        LogoutProof {
            access_token: Some(t.tokens.access_token.expose_secret()),
            refresh_token: None,
        }
    }

    async fn logout_refresh(h: &Harness, t: &RefreshToken) -> LogoutOutcome {
        let proof = LogoutProof {
            access_token: None,
            refresh_token: Some(t),
        };
        h.manager.logout_with_proof(proof).await.unwrap()
    }

    async fn log_in(h: &Harness) -> crate::LoginSuccess {
        let alice = UserId::new("alice").unwrap();
        h.manager
            .login(&alice, &RequestContext::new())
            .await
            .unwrap()
    }

    async fn access_works(h: &Harness, login: &crate::LoginSuccess) -> bool {
        let token = login.tokens.access_token.expose_secret();
        h.manager.authenticate(token).await.is_ok()
    }

    #[tokio::test]
    async fn expired_access_token_ends_the_session() {
        let h = harness();
        let login = log_in(&h).await;
        h.clock.advance(Duration::from_secs(5 * 60 + 1));
        assert!(!access_works(&h, &login).await);
        let out = h.manager.logout_with_proof(access(&login)).await.unwrap();
        assert_eq!(out, LogoutOutcome::Ended);
        assert!(
            h.manager
                .refresh(&login.tokens.refresh_token)
                .await
                .is_err()
        );
        assert!(h.events.names().contains(&"authn_token_revoked"));
        // Idempotent.
        let out = h.manager.logout_with_proof(access(&login)).await.unwrap();
        assert_eq!(out, LogoutOutcome::AlreadyEnded);
    }

    #[tokio::test]
    async fn too_old_or_foreign_access_tokens_prove_nothing() {
        let h = harness();
        let login = log_in(&h).await;
        // Expired longer ago than any session can live.
        h.clock
            .advance(SessionPolicy::default().absolute_lifetime() + Duration::from_secs(5 * 60));
        h.events.clear();
        let out = h.manager.logout_with_proof(access(&login)).await.unwrap();
        assert_eq!(out, LogoutOutcome::NoProof);
        assert!(json_lines(&h.events).contains("\"why\":\"expired\""));

        // Another issuer's keys: the signature does not verify.
        let h = harness();
        let login = log_in(&h).await;
        let other = harness_with_key([7u8; 32]);
        h.events.clear();
        let out = other
            .manager
            .logout_with_proof(access(&login))
            .await
            .unwrap();
        assert_eq!(out, LogoutOutcome::NoProof);
        // The session is untouched.
        assert!(h.manager.refresh(&login.tokens.refresh_token).await.is_ok());
    }

    fn harness_with_key(key: [u8; 32]) -> Harness {
        let mut h = harness();
        let tokens = crate::tokens::TokenConfig::builder(
            h.manager.tokens().issuer(),
            h.manager.tokens().audience(),
        )
        .signing_key(crate::tokens::SigningKey::hs256("conformance-1", &key).unwrap())
        .refresh_key(key)
        .build()
        .unwrap();
        h.manager = crate::SessionManager::builder(
            SessionPolicy::default(),
            tokens,
            h.manager.store().clone(),
        )
        .clock(Arc::new(h.clock.clone()))
        .events(h.events.clone())
        .build()
        .unwrap();
        h
    }

    #[tokio::test]
    async fn refresh_token_ends_the_session_forgery_does_not() {
        let h = harness();
        let login = log_in(&h).await;
        let token = login.tokens.refresh_token.expose_secret();
        // Same session, same generation, another secret: a forgery.
        let (head, _) = token.rsplit_once('.').unwrap();
        let forged = RefreshToken::new(format!("{head}.{}", "A".repeat(43)));
        let out = logout_refresh(&h, &forged).await;
        assert_eq!(out, LogoutOutcome::NoProof);
        let out = logout_refresh(&h, &login.tokens.refresh_token).await;
        assert_eq!(out, LogoutOutcome::Ended);
        assert!(!access_works(&h, &login).await);
    }

    #[tokio::test]
    async fn old_rotated_refresh_token_is_reuse() {
        let h = harness();
        let login = log_in(&h).await;
        h.clock.advance(Duration::from_secs(60));
        let next = h
            .manager
            .refresh(&login.tokens.refresh_token)
            .await
            .unwrap();
        h.clock.advance(Duration::from_secs(60));
        let _ = h.manager.refresh(&next.tokens.refresh_token).await.unwrap();
        let out = logout_refresh(&h, &login.tokens.refresh_token).await;
        assert_eq!(out, LogoutOutcome::Ended);
        let names = h.events.names();
        assert!(names.contains(&"authn_token_reuse"), "{names:?}");
        assert!(json_lines(&h.events).contains("\"reason\":\"refresh_token_reuse\""));
    }

    #[tokio::test]
    async fn store_down_is_an_error() {
        let store = crate::testing::web::FlakyStore::default();
        let h = Harness::new(Arc::new(store.clone()), SessionPolicy::default());
        let login = log_in(&h).await;
        store.set_down(true);
        let proof = LogoutProof {
            access_token: Some(login.tokens.access_token.expose_secret()),
            refresh_token: Some(&login.tokens.refresh_token),
        };
        assert!(matches!(
            h.manager.logout_with_proof(proof).await,
            Err(SessionError::Store(_))
        ));
        store.set_down(false);
        assert_eq!(
            h.manager.logout_with_proof(proof).await.unwrap(),
            LogoutOutcome::Ended
        );
    }
}
