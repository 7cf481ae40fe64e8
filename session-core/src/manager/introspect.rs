//! Asking about a token on behalf of another service: is it ours, and is
//! its session alive (RFC 7662 introspection), and ending the session a
//! token belongs to (RFC 7009 revocation).
//!
//! Both are read from the store itself, whatever the revocation mode: the
//! caller asks precisely because it cannot see the revocation feed.

use serde::Serialize;

use crate::error::SessionError;
use crate::ids::{SessionId, UserId};
use crate::record::SessionRecord;
use crate::secret::RefreshToken;
use crate::time::Timestamp;
use crate::tokens::{REFRESH_PREFIX, TokenRejection, parse_refresh};

use super::{LogoutOutcome, LogoutProof, SessionManager};

/// Which of our tokens an introspected token is (RFC 7662 `token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntrospectedKind {
    /// An access token (JWT).
    AccessToken,
    /// The session's current refresh token.
    RefreshToken,
}

/// What RFC 7662 lets an introspection answer say about an active token.
/// Times are Unix seconds, as in JWT claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveToken {
    /// Access or refresh token (sent as `token_kind`; RFC 7662's
    /// `token_type` is the RFC 6749 §5.1 type of an access token: `Bearer`,
    /// or `DPoP` for a key-bound one).
    #[serde(rename = "token_kind")]
    pub token_type: IntrospectedKind,
    /// Our issuer.
    pub iss: String,
    /// The audience: the access token's `aud`; for a refresh token our
    /// own audience (it is redeemed only here).
    pub aud: String,
    /// The user.
    pub sub: String,
    /// The session.
    pub sid: String,
    /// When the token stops working by itself: the access token's `exp`;
    /// for a refresh token, the session's absolute end (idle time may end
    /// it sooner).
    pub exp: i64,
    /// When the token was issued.
    pub iat: i64,
    /// When the user last fully authenticated.
    pub auth_time: i64,
    /// The access token's `jti`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The DPoP key thumbprint a bound access token needs a proof by
    /// (RFC 9449 §6.2): the asking service checks the proof itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::tokens::Confirmation>,
}

/// The answer to [`SessionManager::introspect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspection {
    /// Ours, authentic, unexpired, and its session is active.
    Active(Box<ActiveToken>),
    /// Anything else: forged, foreign, expired, a rotated refresh token, an
    /// ended session. RFC 7662 §2.2 tells the caller no more than that.
    Inactive,
}

impl Introspection {
    /// Whether the token is active.
    pub fn is_active(&self) -> bool {
        matches!(self, Introspection::Active(_))
    }

    /// The RFC 7662 §2.2 response body: `{"active":false}`, or
    /// `"active":true` with the members of [`ActiveToken`].
    ///
    /// ```
    /// use sessionward_core::Introspection;
    /// assert_eq!(Introspection::Inactive.to_json(), serde_json::json!({"active": false}));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Introspection::Inactive => serde_json::json!({ "active": false }),
            Introspection::Active(token) => {
                // Never a bare `active: true`: a body that does not build is inactive.
                let Ok(mut body) = serde_json::to_value(token) else {
                    return serde_json::json!({ "active": false });
                };
                body["active"] = serde_json::Value::Bool(true);
                if token.token_type == IntrospectedKind::AccessToken {
                    let scheme = if token.cnf.is_some() {
                        "DPoP"
                    } else {
                        "Bearer"
                    };
                    body["token_type"] = serde_json::Value::from(scheme);
                }
                body
            }
        }
    }
}

/// Whether `token` has the shape of our refresh tokens (else it is read as
/// an access token): the two never overlap, so the RFC 7009/7662
/// `token_type_hint` is not needed.
fn is_refresh_shaped(token: &str) -> bool {
    token
        .strip_prefix(REFRESH_PREFIX)
        .is_some_and(|rest| rest.starts_with('.'))
}

impl SessionManager {
    /// Whether `token` (an access or refresh token of ours) is active, for
    /// another service (RFC 7662). Reads the session from the store in
    /// either revocation mode and writes nothing: the session's activity
    /// time is the user's, not the asking service's.
    ///
    /// Active means: an authentic access token inside `nbf`..`exp` whose
    /// session is active and bound as the token says, or the current
    /// refresh token of an active session. A refused token emits what
    /// [`SessionManager::authenticate`] would (`authn_token_rejected`,
    /// `session_use_after_expire` for an ended session's token).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sessionward_core::{Introspection, MemoryStore, RequestContext, SessionManager, SessionPolicy, UserId};
    /// use sessionward_core::tokens::{SigningKey, TokenConfig};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let tokens = TokenConfig::builder("https://auth.example.com", "example-api")
    ///     .signing_key(SigningKey::hs256("k1", &[1u8; 32]).unwrap())
    ///     .refresh_key([2u8; 32])
    ///     .build()
    ///     .unwrap();
    /// let manager = SessionManager::builder(SessionPolicy::default(), tokens, Arc::new(MemoryStore::new()))
    ///     .build()
    ///     .unwrap();
    /// let login = manager.login(&UserId::new("alice").unwrap(), &RequestContext::new()).await.unwrap();
    /// let access = login.tokens.access_token.expose_secret();
    /// let Introspection::Active(token) = manager.introspect(access).await.unwrap() else { panic!() };
    /// assert_eq!(token.sub, "alice");
    ///
    /// manager.revoke_token(access).await.unwrap();
    /// assert_eq!(manager.introspect(access).await.unwrap(), Introspection::Inactive);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store cannot answer: the caller
    /// must then treat the token as inactive.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, SessionError> {
        let now = self.now();
        if is_refresh_shaped(token) {
            return self.introspect_refresh(token, now).await;
        }
        let claims = match self.verify_access(token, now) {
            Ok(c) => c,
            Err(SessionError::InvalidToken(_)) => return Ok(Introspection::Inactive),
            Err(e) => return Err(e),
        };
        let (Ok(user), Ok(id)) = (
            UserId::new(claims.sub.clone()),
            SessionId::parse(&claims.sid),
        ) else {
            self.reject(now, TokenRejection::BadClaims, None);
            return Ok(Introspection::Inactive);
        };
        let Some(record) = self.live_record(&user, &id, now).await? else {
            return Ok(Introspection::Inactive);
        };
        let bound = record.access_thumbprint();
        if claims.cnf.as_ref().map(|c| c.jkt.as_str()) != bound {
            return Ok(Introspection::Inactive);
        }
        // What authenticate refuses is not active: an unbound token when
        // the policy requires DPoP.
        if claims.cnf.is_none()
            && self.inner.policy.dpop().mode == crate::binding::DpopMode::Required
        {
            return Ok(Introspection::Inactive);
        }
        Ok(Introspection::Active(Box::new(ActiveToken {
            token_type: IntrospectedKind::AccessToken,
            iss: claims.iss,
            aud: claims.aud,
            sub: claims.sub,
            sid: claims.sid,
            exp: claims.exp,
            iat: claims.iat,
            auth_time: claims.auth_time,
            jti: Some(claims.jti),
            cnf: claims.cnf,
        })))
    }

    /// The introspection of a refresh token: only the current one of an
    /// active session is active; a rotated one is not (and reading it here
    /// is no reuse: nothing is presented to rotate).
    async fn introspect_refresh(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Introspection, SessionError> {
        let presented = match parse_refresh(token) {
            Ok(p) => p,
            Err(why) => {
                self.reject(now, why, None);
                return Ok(Introspection::Inactive);
            }
        };
        let Some(record) = self
            .live_record(&presented.user, &presented.id, now)
            .await?
        else {
            return Ok(Introspection::Inactive);
        };
        let current = presented.generation == record.refresh.generation
            && presented.secret.hash_bound(record.bound_thumbprint()) == record.refresh.hash;
        if !current {
            self.reject(now, TokenRejection::UnknownRefreshToken, Some(&record.user));
            return Ok(Introspection::Inactive);
        }
        let tokens = &self.inner.tokens;
        Ok(Introspection::Active(Box::new(ActiveToken {
            token_type: IntrospectedKind::RefreshToken,
            iss: tokens.issuer().to_owned(),
            aud: tokens.audience().to_owned(),
            sub: record.user.as_str().to_owned(),
            sid: record.id.as_str().to_owned(),
            exp: record.expires_at.unix_seconds(),
            iat: record.refresh.rotated_at.unix_seconds(),
            auth_time: record.auth_time.unix_seconds(),
            jti: None,
            cnf: None,
        })))
    }

    /// The session from the store when it is active; `None` (with the
    /// event authenticate would emit) when it is unknown or has ended.
    async fn live_record(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, SessionError> {
        let Some(record) = self.inner.store.get(user, id).await? else {
            self.reject(now, TokenRejection::UnknownSession, Some(user));
            return Ok(None);
        };
        if let Some(reason) = record.inactive_reason(now, self.idle_cutoff(now)) {
            self.ended(now, reason, &record);
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Ends the session `token` (an access or refresh token of ours)
    /// belongs to, for another service (RFC 7009): what
    /// [`SessionManager::logout_with_proof`] does with that one token, so an
    /// expired access token still names its session, and a rotated refresh
    /// token outside the grace window is a reuse. A token that proves no
    /// session changes nothing ([`LogoutOutcome::NoProof`]).
    ///
    /// # Errors
    /// [`SessionError::Store`]: nothing may have been revoked; retry.
    pub async fn revoke_token(&self, token: &str) -> Result<LogoutOutcome, SessionError> {
        if is_refresh_shaped(token) {
            let refresh = RefreshToken::new(token.to_owned());
            let proof = LogoutProof {
                access_token: None,
                refresh_token: Some(&refresh),
            };
            self.logout_with_proof(proof).await
        } else {
            let proof = LogoutProof {
                access_token: Some(token),
                refresh_token: None,
            };
            self.logout_with_proof(proof).await
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::events::EventKind;
    use crate::record::{RequestContext, RevokeReason};
    use crate::testing::Harness;
    use crate::{MemoryStore, SessionPolicy};

    fn alice() -> UserId {
        UserId::new("alice").unwrap()
    }

    async fn signed_in() -> (Harness, crate::LoginSuccess) {
        let h = Harness::new(Arc::new(MemoryStore::new()), SessionPolicy::default());
        let login = h
            .manager
            .login(&alice(), &RequestContext::new())
            .await
            .unwrap();
        (h, login)
    }

    #[test]
    fn refresh_shape_is_exact() {
        assert!(is_refresh_shaped("swrt1.YQ.x.0.y"));
        assert!(!is_refresh_shaped("swrt1"));
        assert!(!is_refresh_shaped("swrt12.a"));
        assert!(!is_refresh_shaped("eyJhbGciOi.x.y"));
    }

    #[tokio::test]
    async fn access_token_active_until_it_expires_or_its_session_ends() {
        let (h, login) = signed_in().await;
        let access = login.tokens.access_token.expose_secret().to_owned();
        let Introspection::Active(t) = h.manager.introspect(&access).await.unwrap() else {
            panic!("a fresh access token is active");
        };
        assert_eq!(t.token_type, IntrospectedKind::AccessToken);
        assert_eq!(
            (t.sub.as_str(), t.sid.as_str()),
            ("alice", login.session.id.as_str())
        );
        let body = Introspection::Active(t.clone()).to_json();
        assert_eq!(body["active"], true);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["token_kind"], "access_token");
        assert!(body.get("cnf").is_none());
        // Introspection is not the user's activity.
        let stored = h
            .manager
            .store()
            .get(&alice(), &login.session.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.last_seen_at, login.session.last_seen_at);

        // Past its own lifetime the JWT is inactive though the session lives.
        h.clock
            .advance(h.manager.policy().access_token_ttl() + Duration::from_secs(61));
        assert_eq!(
            h.manager.introspect(&access).await.unwrap(),
            Introspection::Inactive
        );
        assert!(h.manager.refresh(&login.tokens.refresh_token).await.is_ok());
    }

    #[tokio::test]
    async fn an_ended_session_makes_its_live_token_inactive_and_says_so() {
        let (h, login) = signed_in().await;
        let access = login.tokens.access_token.expose_secret();
        h.manager
            .revoke(&alice(), &login.session.id, RevokeReason::Admin)
            .await
            .unwrap();
        h.events.clear();
        assert_eq!(
            h.manager.introspect(access).await.unwrap(),
            Introspection::Inactive
        );
        let events = h.events.events();
        assert!(
            events
                .iter()
                .any(|e| matches!(e.kind, EventKind::SessionUseAfterExpire { .. })),
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn only_the_current_refresh_token_is_active() {
        let (h, login) = signed_in().await;
        let first = login.tokens.refresh_token.expose_secret().to_owned();
        let Introspection::Active(t) = h.manager.introspect(&first).await.unwrap() else {
            panic!("the current refresh token is active");
        };
        assert_eq!(t.token_type, IntrospectedKind::RefreshToken);
        assert_eq!(t.exp, login.session.expires_at.unix_seconds());
        let next = h
            .manager
            .refresh(&login.tokens.refresh_token)
            .await
            .unwrap();
        assert_eq!(
            h.manager.introspect(&first).await.unwrap(),
            Introspection::Inactive
        );
        let second = next.tokens.refresh_token.expose_secret();
        assert!(h.manager.introspect(second).await.unwrap().is_active());
        // Introspecting the rotated one was no reuse: the session lives.
        assert!(h.manager.refresh(&next.tokens.refresh_token).await.is_ok());
    }

    #[tokio::test]
    async fn garbage_and_foreign_tokens_are_inactive() {
        let h = Harness::new(Arc::new(MemoryStore::new()), SessionPolicy::default());
        // Another issuer's manager, with its own keys.
        let tokens = crate::tokens::TokenConfig::builder("https://other.example", "other-api")
            .signing_key(crate::tokens::SigningKey::hs256("other", &[7u8; 32]).unwrap())
            .refresh_key([8u8; 32])
            .build()
            .unwrap();
        let other = SessionManager::builder(
            SessionPolicy::default(),
            tokens,
            Arc::new(MemoryStore::new()),
        )
        .build()
        .unwrap();
        let foreign = other.login(&alice(), &RequestContext::new()).await.unwrap();
        for token in [
            "",
            "x",
            "swrt1.",
            "swrt1.YWxpY2U.notanid.0.AAAA",
            &"a".repeat(100_000),
            foreign.tokens.access_token.expose_secret(),
            foreign.tokens.refresh_token.expose_secret(),
        ] {
            assert_eq!(
                h.manager.introspect(token).await.unwrap(),
                Introspection::Inactive,
                "{:.40}",
                token
            );
            assert_eq!(
                h.manager.revoke_token(token).await.unwrap(),
                LogoutOutcome::NoProof
            );
        }
        // The other manager's session is untouched.
        let foreign_access = foreign.tokens.access_token.expose_secret();
        assert!(other.introspect(foreign_access).await.unwrap().is_active());
    }

    #[tokio::test]
    async fn revoking_either_token_ends_the_session() {
        let h = Harness::new(Arc::new(MemoryStore::new()), SessionPolicy::default());
        for by_refresh in [false, true] {
            let login = h
                .manager
                .login(&alice(), &RequestContext::new())
                .await
                .unwrap();
            let token = if by_refresh {
                login.tokens.refresh_token.expose_secret()
            } else {
                login.tokens.access_token.expose_secret()
            };
            assert_eq!(
                h.manager.revoke_token(token).await.unwrap(),
                LogoutOutcome::Ended
            );
            assert_eq!(
                h.manager.revoke_token(token).await.unwrap(),
                LogoutOutcome::AlreadyEnded
            );
            assert!(
                h.manager
                    .refresh(&login.tokens.refresh_token)
                    .await
                    .is_err()
            );
            assert!(
                h.manager
                    .authenticate(login.tokens.access_token.expose_secret())
                    .await
                    .is_err()
            );
        }
    }
}
