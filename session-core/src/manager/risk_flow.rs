//! Risk scoring at login, step-up completion, new-login notices and the
//! "this wasn't me" action.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::enrich::Describe;
use crate::error::SessionError;
use crate::events::EventKind;
use crate::ids::{SessionId, UserId};
use crate::notify::{NewLoginNotice, Notifier};
use crate::record::{RequestContext, RevokeReason, RiskSummary};
use crate::risk::{
    LoginFacts, LoginSignals, NoticeLinks, RiskAction, RiskAssessment, RiskEngine, StepUpChallenge,
};
use crate::secret::{ActionToken, TokenHash};
use crate::time::Timestamp;
use crate::tokens::TokenRejection;

use super::{LoginOptions, LoginSuccess, SessionManager};
use crate::enrich::Enrichment;

/// Header `typ` of action tokens ("this wasn't me", step-up).
pub const ACTION_TOKEN_TYP: &str = "swr-action+jwt";

const ACT_NOT_ME: &str = "not_me";
const ACT_STEP_UP: &str = "step_up";

/// How long a notifier may take before the login goes on without it.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionClaims {
    iss: String,
    aud: String,
    sub: String,
    jti: String,
    iat: i64,
    exp: i64,
    act: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    risk: Option<RiskSummary>,
    /// Step-up: the app the login signs in to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app: Option<crate::ids::AppId>,
    /// Step-up: the tenant the login signs in under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<crate::ids::TenantId>,
    /// Step-up: the sign-in method the host named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sim: Option<String>,
    /// Step-up: when the login's credential was checked (Unix ms), so a
    /// password change before the second factor still refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vat: Option<i64>,
    /// Step-up: the identity provider session of a federated sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prv: Option<crate::record::ProviderSession>,
}

/// What an action token carries beyond its kind, user and times.
#[derive(Default)]
struct ActionFacts {
    sid: Option<String>,
    risk: Option<RiskSummary>,
    app: Option<crate::ids::AppId>,
    tenant: Option<crate::ids::TenantId>,
    sim: Option<String>,
    vat: Option<i64>,
    prv: Option<crate::record::ProviderSession>,
}

impl SessionManager {
    /// The login path with a risk engine: assess, then deny, challenge or
    /// create (and notify).
    pub(super) async fn login_with_risk(
        &self,
        risk: &RiskEngine,
        user: &UserId,
        ctx: &RequestContext,
        enrichment: Enrichment,
        options: LoginOptions,
        now: Timestamp,
    ) -> Result<LoginSuccess, SessionError> {
        let (assessment, facts) = self.assess_login(risk, user, ctx, &enrichment, now).await?;
        if !risk.config.shadow {
            match assessment.action {
                RiskAction::Deny => return Err(SessionError::LoginDenied(assessment.summary())),
                RiskAction::StepUp => {
                    return Err(self.step_up_challenge(risk, user, &assessment, &options, now)?);
                }
                RiskAction::Allow | RiskAction::Notify => {}
            }
        }
        let success = self
            .create_session(
                user,
                ctx,
                enrichment,
                options.into(),
                assessment.summary(),
                now,
            )
            .await?;
        self.after_login(risk, &success, &facts, assessment.notify, now)
            .await?;
        Ok(success)
    }

    /// Scores a login and emits its signal events.
    pub(super) async fn assess_login(
        &self,
        risk: &RiskEngine,
        user: &UserId,
        ctx: &RequestContext,
        enrichment: &Enrichment,
        now: Timestamp,
    ) -> Result<(RiskAssessment, LoginFacts), SessionError> {
        let class = enrichment.class;
        let d = &enrichment.device;
        let mut fingerprints = vec![format!(
            "ua:{}|{}|{}",
            d.browser.as_deref().unwrap_or("?"),
            d.os.as_deref().unwrap_or("?"),
            class
        )];
        if let Some(id) = ctx.device_id() {
            fingerprints.push(format!("id:{}", TokenHash::of(id.as_bytes()).to_hex()));
        }
        let loc = &enrichment.location;
        let facts = LoginFacts {
            fingerprints,
            country: loc.country_code.clone(),
            asn: loc.asn,
            ip: self.inner.privacy.store_opt(ctx.ip()),
            latitude: loc.latitude,
            longitude: loc.longitude,
            at: now,
        };
        // Two independent reads, sent together: one round trip of waiting
        // instead of two (the history and the sessions may live apart).
        let (prior, sessions) = tokio::try_join!(
            risk.store
                .login_history(user, &facts, now.minus(risk.config.burst_window)),
            self.inner.store.list(user),
        )?;
        let cutoff = self.idle_cutoff(now);
        let active = sessions.iter().filter(|r| r.is_active(now, cutoff)).count();
        let assessment = risk.config.assess(
            &LoginSignals {
                facts: &facts,
                country_name: loc.country_name.as_deref(),
                device_text: &d.describe(),
                active_sessions: u32::try_from(active).unwrap_or(u32::MAX),
                anonymous_ip: enrichment.anonymous_ip,
            },
            &prior,
        );
        for signal in &assessment.signals {
            if let Some(kind) = EventKind::for_signal(signal) {
                self.emit(self.login_event(now, kind, user, ctx));
            }
        }
        let decision = EventKind::LoginRisk {
            score: assessment.score,
            level: assessment.level,
            action: assessment.action,
            shadow: risk.config.shadow,
        };
        self.emit(self.login_event(now, decision, user, ctx));
        Ok((assessment, facts))
    }

    fn login_event(
        &self,
        now: Timestamp,
        kind: EventKind,
        user: &UserId,
        ctx: &RequestContext,
    ) -> crate::SecurityEvent {
        let mut e = self.event(now, kind, Some(user), None);
        e.ip = self.event_ip(self.inner.privacy.store_opt(ctx.ip()));
        e.user_agent = ctx.user_agent().map(str::to_owned);
        e
    }

    /// Records the login in the history and sends a notice if due.
    pub(super) async fn after_login(
        &self,
        risk: &RiskEngine,
        success: &LoginSuccess,
        facts: &LoginFacts,
        notify: bool,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        risk.store
            .record_login(
                &success.session.user,
                facts,
                now.minus(risk.config.history_retention),
            )
            .await?;
        if notify && let Some((notifier, links)) = &risk.notifier {
            self.send_notice(risk, notifier.as_ref(), links, success, now)
                .await?;
        }
        Ok(())
    }

    /// Builds and delivers a notice; retries once, then reports failure as an event.
    async fn send_notice(
        &self,
        risk: &RiskEngine,
        notifier: &dyn Notifier,
        links: &NoticeLinks,
        success: &LoginSuccess,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        let s = &success.session;
        let not_me_url = self.not_me_url(risk, links, s, now)?;
        let notice = NewLoginNotice {
            user: s.user.clone(),
            session_id: s.id.clone(),
            device: s.meta.device.describe(),
            location: crate::enrich::describe_place(s.ip, &s.meta.location),
            ip: self.event_ip(s.ip),
            at: now,
            reasons: s.meta.risk.signals.clone(),
            sessions_url: links.sessions_url.clone(),
            not_me_url,
            anomaly: None,
        };
        self.deliver(notifier, &notice, s, now).await;
        Ok(())
    }

    /// A "this wasn't me" link for `session`'s user.
    pub(super) fn not_me_url(
        &self,
        risk: &RiskEngine,
        links: &NoticeLinks,
        session: &crate::record::SessionRecord,
        now: Timestamp,
    ) -> Result<String, SessionError> {
        let facts = ActionFacts {
            sid: Some(session.id.as_str().to_owned()),
            ..ActionFacts::default()
        };
        let token =
            self.mint_action(&session.user, ACT_NOT_ME, facts, now, risk.action_token_ttl)?;
        let sep = if links.not_me_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!(
            "{}{sep}token={}",
            links.not_me_url,
            token.expose_secret()
        ))
    }

    /// Delivers `notice` about `s`; retries once, then records
    /// `notification_failed`.
    pub(super) async fn deliver(
        &self,
        notifier: &dyn Notifier,
        notice: &NewLoginNotice,
        s: &crate::record::SessionRecord,
        now: Timestamp,
    ) {
        let mut failure = String::new();
        for _ in 0..2 {
            match tokio::time::timeout(NOTIFY_TIMEOUT, notifier.notify(notice)).await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => failure = e.to_string(),
                Err(_) => failure = "notifier timed out".to_owned(),
            }
        }
        self.emit(self.event(
            now,
            EventKind::NotificationFailed { detail: failure },
            None,
            Some(s),
        ));
    }

    /// A challenge for a login that needs a second factor.
    pub(super) fn step_up_challenge(
        &self,
        risk: &RiskEngine,
        user: &UserId,
        assessment: &RiskAssessment,
        options: &LoginOptions,
        now: Timestamp,
    ) -> Result<SessionError, SessionError> {
        let summary = assessment.summary();
        // The login's options come back with the second factor.
        let verified_at = options
            .credential_verified_at
            .unwrap_or_else(|| self.default_credential_time(now));
        let facts = ActionFacts {
            risk: Some(summary.clone()),
            app: options.app.clone(),
            tenant: options.tenant.clone(),
            sim: options.sign_in_method.clone(),
            vat: Some(verified_at.unix_millis()),
            prv: options.provider.clone(),
            ..ActionFacts::default()
        };
        let token = self.mint_action(user, ACT_STEP_UP, facts, now, risk.step_up_ttl)?;
        Ok(SessionError::StepUpRequired(Box::new(StepUpChallenge {
            token,
            risk: summary,
            expires_at: now.plus(risk.step_up_ttl),
        })))
    }

    /// Finishes a login that returned [`SessionError::StepUpRequired`], once
    /// the host has verified the second factor. The challenge token is
    /// single-use.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`] for a bad, expired or reused challenge;
    /// otherwise as [`SessionManager::login`].
    pub async fn complete_step_up(
        &self,
        challenge: &ActionToken,
        ctx: &RequestContext,
    ) -> Result<LoginSuccess, SessionError> {
        let now = self.now();
        let risk = self
            .inner
            .risk
            .clone()
            .ok_or(SessionError::InvalidInput("no risk engine configured"))?;
        // Before the single-use challenge is spent: a proof to redo must
        // not cost the user the whole login.
        let ctx = &self.prove_login_key(ctx, now).await?;
        let (user, claims) = self
            .redeem_action(&risk, challenge, ACT_STEP_UP, now)
            .await?;
        let enrichment = self.enrich(ctx);
        let (_, facts) = self
            .assess_login(&risk, &user, ctx, &enrichment, now)
            .await?;
        let summary = claims.risk.unwrap_or_default();
        let options = LoginOptions {
            credential_verified_at: claims.vat.map(Timestamp::from_unix_millis),
            sign_in_method: claims.sim,
            app: claims.app,
            tenant: claims.tenant,
            replaces: None,
            provider: claims.prv,
        };
        let success = self
            .create_session(&user, ctx, enrichment, options.into(), summary, now)
            .await?;
        self.after_login(&risk, &success, &facts, true, now).await?;
        Ok(success)
    }

    /// Redeems a "this wasn't me" token: ends every session of its user.
    /// Single-use; returns how many sessions were ended.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`] when the token is forged, expired, of
    /// another kind, or already used; [`SessionError::Store`].
    pub async fn redeem_not_me(&self, token: &ActionToken) -> Result<usize, SessionError> {
        let now = self.now();
        let risk = self
            .inner
            .risk
            .clone()
            .ok_or(SessionError::InvalidInput("no risk engine configured"))?;
        let (user, _) = self.redeem_action(&risk, token, ACT_NOT_ME, now).await?;
        let revoked = self.revoke_all(&user, RevokeReason::NotMe).await?;
        self.emit(self.event(now, EventKind::NotMe { revoked }, Some(&user), None));
        Ok(revoked)
    }

    fn mint_action(
        &self,
        user: &UserId,
        act: &str,
        facts: ActionFacts,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<ActionToken, SessionError> {
        let claims = ActionClaims {
            iss: self.inner.tokens.issuer().to_owned(),
            aud: self.inner.tokens.audience().to_owned(),
            sub: user.as_str().to_owned(),
            jti: SessionId::generate().into(),
            iat: now.unix_seconds(),
            exp: now.plus(ttl).unix_seconds(),
            act: act.to_owned(),
            sid: facts.sid,
            risk: facts.risk,
            app: facts.app,
            tenant: facts.tenant,
            sim: facts.sim,
            vat: facts.vat,
            prv: facts.prv,
        };
        let token = self
            .inner
            .tokens
            .sign_jwt(ACTION_TOKEN_TYP, &claims)
            .map_err(SessionError::Signing)?;
        Ok(ActionToken::new(token))
    }

    /// The user a step-up challenge belongs to, so the host knows whose
    /// second factor to check. Verifies the token without using it up.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`] for a forged, expired or other-kind token.
    pub fn step_up_user(&self, challenge: &ActionToken) -> Result<UserId, SessionError> {
        self.verify_action(challenge, ACT_STEP_UP, self.now())
            .map(|(user, _)| user)
    }

    /// Verifies an action token of kind `act` (signature, `typ`, issuer,
    /// audience, expiry) without using it up.
    fn verify_action(
        &self,
        token: &ActionToken,
        act: &str,
        now: Timestamp,
    ) -> Result<(UserId, ActionClaims), SessionError> {
        let tokens = &self.inner.tokens;
        let claims: ActionClaims = tokens
            .verify_jwt(ACTION_TOKEN_TYP, token.expose_secret())
            .map_err(|why| self.reject(now, why, None))?;
        let why = if claims.act != act {
            Some(TokenRejection::WrongType)
        } else {
            self.standard_claims(&claims.iss, &claims.aud, claims.exp, now)
        };
        if let Some(why) = why {
            return Err(self.reject(now, why, None));
        }
        let user = UserId::new(claims.sub.clone())
            .map_err(|_| self.reject(now, TokenRejection::BadClaims, None))?;
        Ok((user, claims))
    }

    /// Verifies an action token of kind `act` and burns its id.
    async fn redeem_action(
        &self,
        risk: &RiskEngine,
        token: &ActionToken,
        act: &str,
        now: Timestamp,
    ) -> Result<(UserId, ActionClaims), SessionError> {
        let (user, claims) = self.verify_action(token, act, now)?;
        // `exp` is within `claim_seconds`' range (checked above): no overflow.
        let expires = Timestamp::from_unix_millis(claims.exp * 1000);
        if !risk.store.consume_once(&claims.jti, expires, now).await? {
            return Err(self.reject(now, TokenRejection::AlreadyUsed, Some(&user)));
        }
        Ok((user, claims))
    }
}
