//! "Sign out a device and continue": the ticket a login refused at a limit
//! carries, and its redemption.
//!
//! The ticket is a signed JWT (our token keys, its own `typ`) naming the
//! pending login: the user, the app, when the credential was checked, the
//! sessions offered for ending, and what the client looked like (its
//! address, User-Agent, device cookie and DPoP key, as hashes or
//! thumbprints). A redemption refused at the limit again gets a fresh
//! ticket with the same deadline, so a chain of tickets never outlives the
//! first one. Its `jti` is the id the new session will have, fixed at
//! issue: the store refuses an id it already holds, so the ticket is
//! single-use without a separate "used" record, inside the same atomic
//! create that ends the chosen sessions and counts the limits again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Continuation, SessionError};
use crate::ids::{AppId, SessionId, TenantId, UserId};
use crate::record::{RequestContext, RiskSummary, SessionRecord};
use crate::secret::{ContinuationTicket, TokenHash};
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::tokens::TokenRejection;
use crate::view::SessionView;

use super::SessionManager;
use super::login::{LoginOptions, LoginPlan, LoginSuccess};

/// The JOSE `typ` of continuation tickets, so no other token of ours
/// (access, action) is accepted as one, nor one of them as another.
pub const CONTINUATION_TICKET_TYP: &str = "sessionward-continue+jwt";

/// How long a continuation ticket is valid: 5 minutes (or the policy's
/// absolute lifetime, if shorter, so the session a ticket created is still
/// stored, as a tombstone at least, for as long as the ticket could be
/// replayed).
pub const CONTINUATION_TTL: Duration = Duration::from_secs(5 * 60);

/// Most sessions one ticket may offer (and end).
const MAX_OFFERED: usize = 64;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContinuationClaims {
    iss: String,
    aud: String,
    sub: String,
    /// The new session's id.
    jti: String,
    iat: i64,
    exp: i64,
    /// When the credential behind the refused login was verified (ms).
    vat: i64,
    /// The sessions offered for ending.
    end: Vec<String>,
    /// SHA-256 (hex) of the client's User-Agent.
    uah: String,
    /// SHA-256 (hex) of the client's address, when the login had one: the
    /// redemption comes from where the refused login was assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iph: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app: Option<AppId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tnt: Option<TenantId>,
    /// SHA-256 (hex) of the device cookie, when the login carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dvh: Option<String>,
    /// The DPoP key thumbprint the login proved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jkt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sim: Option<String>,
    /// The identity provider session of a federated sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prv: Option<crate::record::ProviderSession>,
}

fn fingerprint(label: &str, value: &str) -> String {
    TokenHash::of(format!("sessionward-continue-{label}:{value}").as_bytes()).to_hex()
}

impl SessionManager {
    /// The ticket for a login refused at a limit (expiring at `deadline`
    /// at the latest, for a refused redemption); `None` when the refusal
    /// offers nothing to end or the login replaced a session.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn continuation_ticket(
        &self,
        ctx: &RequestContext,
        options: &LoginOptions,
        pending: &SessionRecord,
        verified_at: Timestamp,
        deadline: Option<Timestamp>,
        active: &[SessionView],
        now: Timestamp,
    ) -> Result<Option<Continuation>, SessionError> {
        if active.is_empty() || options.replaces.is_some() {
            return Ok(None);
        }
        let ttl = CONTINUATION_TTL.min(self.inner.policy.absolute_lifetime());
        let until = deadline.map_or(now.plus(ttl), |d| d.min(now.plus(ttl)));
        // On the JWT's own (second) scale, so the reported end is the real one.
        let expires_at = Timestamp::from_unix_millis(until.unix_seconds() * 1000);
        let claims = ContinuationClaims {
            iss: self.inner.tokens.issuer().to_owned(),
            aud: self.inner.tokens.audience().to_owned(),
            sub: pending.user.as_str().to_owned(),
            jti: pending.id.as_str().to_owned(),
            iat: now.unix_seconds(),
            exp: expires_at.unix_seconds(),
            vat: verified_at.unix_millis(),
            end: active
                .iter()
                .take(MAX_OFFERED)
                .map(|v| v.id.as_str().to_owned())
                .collect(),
            uah: fingerprint("ua", ctx.user_agent().unwrap_or("")),
            iph: ctx.ip().map(|ip| fingerprint("ip", &ip.to_string())),
            app: options.app.clone(),
            tnt: options.tenant.clone(),
            dvh: ctx.device_id().map(|d| fingerprint("device", d)),
            jkt: ctx.proven_key().map(str::to_owned),
            sim: pending.meta.sign_in_method.clone(),
            prv: options.provider.clone(),
        };
        let ticket = self
            .inner
            .tokens
            .sign_jwt(CONTINUATION_TICKET_TYP, &claims)
            .map_err(SessionError::Signing)?;
        Ok(Some(Continuation {
            ticket: ContinuationTicket::new(ticket),
            expires_at,
        }))
    }

    /// Finishes a login refused with [`SessionError::LimitReached`] by
    /// ending the sessions the user picked from the refusal's list
    /// ("sign out a device and continue").
    ///
    /// Ending `end` and creating the new session are one atomic store
    /// step, in which the limits are counted again: two devices racing for
    /// the last seat cannot both get in, and when the chosen sessions do
    /// not make room (another login took the seat) nothing is ended and
    /// the answer is a fresh [`SessionError::LimitReached`]. The ticket is
    /// single-use, expires after [`CONTINUATION_TTL`] (a fresh ticket from
    /// a refused redemption keeps the first one's deadline), and only works
    /// from the client it was issued to (same address, User-Agent, device
    /// cookie and DPoP key). With a risk engine the redemption is assessed
    /// again: a denial refuses it, and its history and new-device notice
    /// are recorded as the login's would have been (best-effort: the
    /// session exists once the store created it). The ended sessions are
    /// revoked with reason `user`, so their holders are told they were
    /// signed out from another device.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`] for a forged, expired, used or
    /// foreign ticket ([`TokenRejection::AlreadyUsed`] once redeemed);
    /// [`SessionError::InvalidInput`] when `end` names a session the ticket
    /// did not offer; otherwise as [`SessionManager::login`].
    pub async fn continue_login(
        &self,
        ticket: &ContinuationTicket,
        end: &[SessionId],
        ctx: &RequestContext,
    ) -> Result<LoginSuccess, SessionError> {
        let now = self.now();
        let ctx = &self.prove_login_key(ctx, now).await?;
        let (user, claims) = self.verify_continuation(ticket, ctx, now)?;
        if end.len() > MAX_OFFERED
            || end
                .iter()
                .any(|id| !claims.end.iter().any(|o| o == id.as_str()))
        {
            return Err(SessionError::InvalidInput(
                "a session to end was not offered by the ticket",
            ));
        }
        let id = SessionId::parse(&claims.jti)
            .map_err(|_| self.reject(now, TokenRejection::BadClaims, Some(&user)))?;
        let plan = LoginPlan {
            options: LoginOptions {
                credential_verified_at: Some(Timestamp::from_unix_millis(claims.vat)),
                sign_in_method: claims.sim,
                app: claims.app,
                tenant: claims.tnt,
                replaces: None,
                provider: claims.prv,
            },
            id: Some(id),
            ends: end.to_vec(),
            // `exp` is within `claim_seconds`' range (checked): no overflow.
            deadline: Some(Timestamp::from_unix_millis(claims.exp * 1000)),
        };
        let enrichment = self.enrich(ctx);
        #[cfg(feature = "risk")]
        if let Some(engine) = self.inner.risk.clone() {
            let (assessment, facts) = self
                .assess_login(&engine, &user, ctx, &enrichment, now)
                .await?;
            // The same client, from the same address, passed this login's
            // check (with a second factor if one was asked); a denial now
            // still stands.
            if !engine.config.shadow && assessment.action == crate::risk::RiskAction::Deny {
                return Err(SessionError::LoginDenied(assessment.summary()));
            }
            let success = self
                .create_continued(&user, ctx, enrichment, plan, assessment.summary(), now)
                .await?;
            if let Err(e) = self
                .after_login(&engine, &success, &facts, assessment.notify, now)
                .await
            {
                // The chosen sessions ended and this one exists: the ticket
                // is spent, so the tokens must still reach the client.
                tracing::warn!(target: "sessionward::risk", error = %e, "login history or notice not recorded for a continued login");
            }
            return Ok(success);
        }
        self.create_continued(&user, ctx, enrichment, plan, RiskSummary::default(), now)
            .await
    }

    /// [`SessionManager::create_session`], where a taken id means the
    /// ticket was already redeemed.
    async fn create_continued(
        &self,
        user: &UserId,
        ctx: &RequestContext,
        enrichment: crate::enrich::Enrichment,
        plan: LoginPlan,
        risk: RiskSummary,
        now: Timestamp,
    ) -> Result<LoginSuccess, SessionError> {
        match self
            .create_session(user, ctx, enrichment, plan, risk, now)
            .await
        {
            Err(SessionError::Store(StoreError::IdTaken)) => {
                Err(self.reject(now, TokenRejection::AlreadyUsed, Some(user)))
            }
            other => other,
        }
    }

    /// Why a signed token of ours with these claims is refused at `now`
    /// (wrong issuer or audience, an out-of-range or past `exp`), if it is.
    pub(super) fn standard_claims(
        &self,
        iss: &str,
        aud: &str,
        exp: i64,
        now: Timestamp,
    ) -> Option<TokenRejection> {
        let tokens = &self.inner.tokens;
        if iss != tokens.issuer() {
            Some(TokenRejection::WrongIssuer)
        } else if aud != tokens.audience() {
            Some(TokenRejection::WrongAudience)
        } else if let Err(why) = crate::tokens::claim_seconds(exp) {
            Some(why)
        } else if now.unix_seconds() >= exp {
            Some(TokenRejection::Expired)
        } else {
            None
        }
    }

    /// Verifies a ticket's signature, `typ`, issuer, audience, expiry and
    /// client binding.
    fn verify_continuation(
        &self,
        ticket: &ContinuationTicket,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Result<(UserId, ContinuationClaims), SessionError> {
        let claims: ContinuationClaims = self
            .inner
            .tokens
            .verify_jwt(CONTINUATION_TICKET_TYP, ticket.expose_secret())
            .map_err(|why| self.reject(now, why, None))?;
        let user = UserId::new(claims.sub.clone())
            .map_err(|_| self.reject(now, TokenRejection::BadClaims, None))?;
        let why = self
            .standard_claims(&claims.iss, &claims.aud, claims.exp, now)
            .or_else(|| {
                let same_client = claims.uah == fingerprint("ua", ctx.user_agent().unwrap_or(""))
                    && claims.iph.as_ref().is_none_or(|h| {
                        ctx.ip()
                            .map(|ip| fingerprint("ip", &ip.to_string()))
                            .as_ref()
                            == Some(h)
                    })
                    && claims.dvh.as_ref().is_none_or(|h| {
                        ctx.device_id().map(|d| fingerprint("device", d)).as_ref() == Some(h)
                    })
                    && claims
                        .jkt
                        .as_deref()
                        .is_none_or(|k| ctx.proven_key() == Some(k));
                (!same_client).then_some(TokenRejection::BadClaims)
            });
        match why {
            Some(why) => Err(self.reject(now, why, Some(&user))),
            None => Ok((user, claims)),
        }
    }
}
