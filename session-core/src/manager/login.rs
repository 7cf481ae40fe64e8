//! Login and re-authentication.

use crate::binding::KeyBinding;
use crate::error::{LimitReached, SessionError};
use crate::events::EventKind;
use crate::ids::{AppId, SessionId, TenantId, UserId};
use crate::policy::OnLimit;
use crate::record::{
    RefreshState, RequestContext, RevokeReason, RiskSummary, SessionMeta, SessionRecord,
    sanitize_text,
};
use crate::secret::TokenHash;
use crate::seen::{SeenFrom, SeenLog};
use crate::store::{CreateOutcome, CreateRequest};
use crate::time::Timestamp;
use crate::tokens::{RefreshSecret, format_refresh};
use crate::view::SessionView;

use super::{SessionManager, TokenPair};
use crate::enrich::Enrichment;

/// Options for [`SessionManager::login_with`].
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// Re-authentication: the session this login replaces. It is revoked
    /// with reason `reauthenticated` in the same atomic step and does not
    /// count towards limits.
    pub replaces: Option<SessionId>,
    /// When the host verified the user's credential (the password check,
    /// the passkey assertion). Defaults to the time of the login call (or
    /// just after a mark this instance raised, when the login starts after
    /// that revocation returned within the same millisecond). The store
    /// refuses the login with [`SessionError::CredentialsRevoked`] when
    /// the user's "not before" mark (a password change, a disabled account
    /// or "this wasn't me", see [`crate::RevokeReason::raises_not_before`])
    /// is at or after it, so a login that passed the old password's check
    /// just before the change cannot complete after it. It also becomes
    /// the session's `auth_time` (capped at the login time).
    pub credential_verified_at: Option<Timestamp>,
    /// How the user signed in ("password", "passkey", "sso", …), shown in
    /// the session's detail view; sanitised and cut to 64 bytes.
    pub sign_in_method: Option<String>,
    /// The app or client the user signs in to: the session records it, the
    /// [`crate::LimitResolver`] is told it, and
    /// [`crate::SessionLimits::per_app`] counts by it.
    pub app: Option<AppId>,
    /// The tenant (customer organisation) the user signs in under: the
    /// session records it, the [`crate::LimitResolver`] is told it, and
    /// [`crate::SessionLimits::per_tenant`] counts by it across the
    /// tenant's users.
    pub tenant: Option<TenantId>,
    /// The identity provider session the user signed in through (the ID
    /// token's `iss`, `sub`, `sid`): the session records it, and that
    /// provider's back-channel logout ends it
    /// ([`SessionManager::back_channel_logout`]).
    pub provider: Option<crate::record::ProviderSession>,
}

impl LoginOptions {
    /// Options naming only the sign-in method.
    ///
    /// ```
    /// use sessionward_core::LoginOptions;
    /// let options = LoginOptions::signed_in_with("password");
    /// assert_eq!(options.sign_in_method.as_deref(), Some("password"));
    /// ```
    pub fn signed_in_with(method: impl AsRef<str>) -> Self {
        LoginOptions {
            sign_in_method: Some(sanitize_text(method.as_ref(), MAX_METHOD_LEN)),
            ..LoginOptions::default()
        }
    }

    /// The options of a re-authentication of `current`: it replaces
    /// `current` and keeps its app, tenant and sign-in method, so the new
    /// session counts where the old one did (a seat is moved, not freed).
    pub fn replacing(current: &super::AuthenticatedSession) -> Self {
        let meta = &current.session.meta;
        LoginOptions {
            replaces: Some(current.session_id.clone()),
            sign_in_method: meta.sign_in_method.clone(),
            app: meta.app.clone(),
            tenant: meta.tenant.clone(),
            ..LoginOptions::default()
        }
    }

    /// These options, signing in to `app`.
    ///
    /// ```
    /// use sessionward_core::{AppId, LoginOptions};
    /// let options = LoginOptions::signed_in_with("password").in_app(AppId::new("mobile").unwrap());
    /// assert_eq!(options.app.unwrap().as_str(), "mobile");
    /// ```
    pub fn in_app(mut self, app: AppId) -> Self {
        self.app = Some(app);
        self
    }

    /// These options, signing in under `tenant`.
    ///
    /// ```
    /// use sessionward_core::{LoginOptions, TenantId};
    /// let options = LoginOptions::default().in_tenant(TenantId::new("acme").unwrap());
    /// assert_eq!(options.tenant.unwrap().as_str(), "acme");
    /// ```
    pub fn in_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// These options, for a sign-in through an OpenID Connect provider.
    ///
    /// ```
    /// use sessionward_core::{LoginOptions, ProviderSession};
    /// let options = LoginOptions::signed_in_with("sso")
    ///     .via_provider(ProviderSession::new("https://idp.example.com", "248289761001").with_sid("08a5019c"));
    /// assert_eq!(options.provider.unwrap().sid.as_deref(), Some("08a5019c"));
    /// ```
    pub fn via_provider(mut self, provider: crate::record::ProviderSession) -> Self {
        self.provider = Some(provider);
        self
    }
}

/// What a login creates beyond its options: for a redeemed continuation
/// ticket, the session id fixed in the ticket and the sessions the user
/// chose to end.
#[derive(Debug, Clone, Default)]
pub(super) struct LoginPlan {
    pub(super) options: LoginOptions,
    pub(super) id: Option<SessionId>,
    pub(super) ends: Vec<SessionId>,
    /// When a refusal's fresh ticket must expire at the latest.
    pub(super) deadline: Option<Timestamp>,
}

impl From<LoginOptions> for LoginPlan {
    fn from(options: LoginOptions) -> Self {
        LoginPlan {
            options,
            ..LoginPlan::default()
        }
    }
}

/// Longest sign-in method name kept, in bytes.
const MAX_METHOD_LEN: usize = 64;

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// The new session.
    pub session: SessionRecord,
    /// Its tokens.
    pub tokens: TokenPair,
    /// Sessions ended to make room for it: evicted by the limit, or chosen
    /// by the user ([`SessionManager::continue_login`]).
    pub evicted: Vec<SessionId>,
}

impl SessionManager {
    /// Creates a session for `user`, who the host app has just authenticated.
    ///
    /// Enforces the policy's limits atomically in the store. With
    /// [`OnLimit::RejectNew`] a full account gets
    /// [`SessionError::LimitReached`] (not a failed login); with eviction the
    /// oldest or least recently used sessions are revoked (`evicted`).
    ///
    /// # Errors
    /// [`SessionError::LimitReached`], or [`SessionError::Store`] when the
    /// store fails (nothing is created then).
    pub async fn login(
        &self,
        user: &UserId,
        ctx: &RequestContext,
    ) -> Result<LoginSuccess, SessionError> {
        self.login_with(user, ctx, LoginOptions::default()).await
    }

    /// Re-authentication: a new session (new id, new tokens) replacing
    /// `current`, which is revoked in the same step (ASVS 7.2.4).
    ///
    /// # Errors
    /// As [`SessionManager::login`].
    pub async fn reauthenticate(
        &self,
        current: &super::AuthenticatedSession,
        ctx: &RequestContext,
    ) -> Result<LoginSuccess, SessionError> {
        // `current` was authenticated on this request, a bound one with a
        // proof by its key: the replacement keeps that key.
        let ctx = match &current.claims.cnf {
            Some(cnf) => ctx.clone().with_proven_key(&cnf.jkt),
            None => ctx.clone(),
        };
        self.login_with(&current.user, &ctx, LoginOptions::replacing(current))
            .await
    }

    /// [`SessionManager::login`] with options.
    ///
    /// # Errors
    /// As [`SessionManager::login`].
    pub async fn login_with(
        &self,
        user: &UserId,
        ctx: &RequestContext,
        options: LoginOptions,
    ) -> Result<LoginSuccess, SessionError> {
        let now = self.now();
        let ctx = &self.prove_login_key(ctx, now).await?;
        let enrichment = self.enrich(ctx);
        #[cfg(feature = "risk")]
        if let Some(risk) = self.inner.risk.clone() {
            return self
                .login_with_risk(&risk, user, ctx, enrichment, options, now)
                .await;
        }
        self.create_session(
            user,
            ctx,
            enrichment,
            options.into(),
            RiskSummary::default(),
            now,
        )
        .await
    }

    /// Inserts the session through the store's atomic create and mints its tokens.
    pub(super) async fn create_session(
        &self,
        user: &UserId,
        ctx: &RequestContext,
        enrichment: Enrichment,
        plan: LoginPlan,
        risk: RiskSummary,
        now: Timestamp,
    ) -> Result<LoginSuccess, SessionError> {
        let LoginPlan {
            options,
            id,
            ends,
            deadline,
        } = plan;
        let resolved = self
            .resolve_limits_in(user, options.app.as_ref(), options.tenant.as_ref(), ctx)
            .await?;
        let binding = self.login_binding(ctx, now).await?;
        let secret = RefreshSecret::random();
        let verified_at = options
            .credential_verified_at
            .unwrap_or_else(|| self.default_credential_time(now));
        let mut record = self.new_record(user, ctx, enrichment, risk, &secret, now);
        if let Some(id) = id {
            record.id = id;
        }
        record.meta.sign_in_method = options
            .sign_in_method
            .as_deref()
            .map(|m| sanitize_text(m, MAX_METHOD_LEN));
        record.meta.app = options.app.clone();
        record.meta.tenant = options.tenant.clone();
        record.meta.provider = options.provider.clone();
        record.auth_time = verified_at.min(now);
        record.refresh.hash = secret.hash_bound(binding.as_ref().map(KeyBinding::thumbprint));
        record.meta.binding = binding;
        let on_limit = resolved.limits.on_limit;
        let request = CreateRequest {
            session: record.clone(),
            limits: resolved.limits,
            now,
            idle_cutoff: self.idle_cutoff(now),
            replaces: options.replaces.clone(),
            ends,
            credential_verified_at: verified_at,
            touch_interval: self.inner.policy.touch_interval(),
            keep_ended_for: self.inner.policy.history_retention(),
        };
        match self.inner.store.create(request).await? {
            CreateOutcome::CredentialsRevoked { .. } => Err(SessionError::CredentialsRevoked),
            CreateOutcome::LimitReached { limit, active } => {
                let mut event = self.event(
                    now,
                    EventKind::SessionLimitReached {
                        limit,
                        action: OnLimit::RejectNew,
                    },
                    Some(user),
                    None,
                );
                event.ip = self.event_ip(self.inner.privacy.store_opt(ctx.ip()));
                event.user_agent = ctx.user_agent().map(str::to_owned);
                self.emit(event);
                let mut active: Vec<SessionView> = active
                    .iter()
                    .map(|r| SessionView::from_record(r, None, &self.inner.privacy))
                    .collect();
                active.sort_by_key(|v| std::cmp::Reverse(v.last_seen_at));
                let continuation = self.continuation_ticket(
                    ctx,
                    &options,
                    &record,
                    verified_at,
                    deadline,
                    &active,
                    now,
                )?;
                Err(SessionError::LimitReached(Box::new(LimitReached {
                    limit,
                    active,
                    continuation,
                })))
            }
            CreateOutcome::Created {
                limit,
                evicted,
                replaced,
                ended,
            } => {
                if let Some(limit) = limit {
                    self.emit(self.event(
                        now,
                        EventKind::SessionLimitReached {
                            limit,
                            action: on_limit,
                        },
                        Some(user),
                        Some(&record),
                    ));
                }
                for (gone, reason) in [
                    (evicted.as_slice(), RevokeReason::Evicted),
                    (ended.as_slice(), RevokeReason::User),
                    (replaced.as_slice(), RevokeReason::Reauthenticated),
                ] {
                    self.revoked(now, reason, gone).await;
                }
                self.emit(self.event(now, EventKind::SessionCreated, None, Some(&record)));
                let (access_token, access_expires_at) = self.mint_access(&record, now)?;
                let tokens = TokenPair {
                    access_token,
                    access_expires_at,
                    refresh_token: format_refresh(user, &record.id, 0, &secret),
                    refresh_expires_at: record.expires_at,
                };
                Ok(LoginSuccess {
                    evicted: evicted.into_iter().chain(ended).map(|r| r.id).collect(),
                    session: record,
                    tokens,
                })
            }
        }
    }

    /// Device and location facts for `ctx` (empty without an enricher),
    /// with the device refined by the request's client hints.
    pub(super) fn enrich(&self, ctx: &RequestContext) -> Enrichment {
        let mut enrichment = self
            .inner
            .enricher
            .as_ref()
            .map(|e| e.enrich(ctx))
            .unwrap_or_default();
        ctx.client_hints().refine(&mut enrichment.device);
        enrichment
    }

    /// Where a request after login came from, as the session records it
    /// (`None` when the context carries nothing to record), with the
    /// request's device class.
    pub(super) fn seen_from(
        &self,
        ctx: &RequestContext,
        now: Timestamp,
    ) -> Option<(SeenFrom, crate::record::DeviceClass)> {
        if ctx.is_empty() {
            return None;
        }
        let enrichment = self.enrich(ctx);
        let seen = SeenFrom {
            at: now,
            ip: self.inner.privacy.store_opt(ctx.ip()),
            location: enrichment.location,
            device: enrichment.device,
            anomalies: Vec::new(),
        };
        Some((seen, enrichment.class))
    }

    fn new_record(
        &self,
        user: &UserId,
        ctx: &RequestContext,
        enrichment: Enrichment,
        risk: RiskSummary,
        secret: &RefreshSecret,
        now: Timestamp,
    ) -> SessionRecord {
        SessionRecord {
            user: user.clone(),
            id: SessionId::generate(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus(self.inner.policy.absolute_lifetime()),
            auth_time: now,
            refresh: RefreshState {
                hash: secret.hash(),
                generation: 0,
                rotated_at: now,
            },
            revoked: None,
            ip: self.inner.privacy.store_opt(ctx.ip()),
            device_class: enrichment.class,
            country: enrichment.location.country_code.clone(),
            meta: SessionMeta {
                user_agent: ctx.user_agent().map(str::to_owned),
                device: enrichment.device,
                location: enrichment.location,
                risk,
                sign_in_method: None,
                device_group: ctx.device_id().map(device_group),
                binding: None,
                app: None,
                tenant: None,
                provider: None,
            },
            seen: SeenLog::default(),
        }
    }
}

/// The group key of a device-id cookie: the first 16 hex digits of its
/// SHA-256, so sessions of one browser can be shown together without the
/// cookie value ever being stored.
fn device_group(device_id: &str) -> String {
    let mut hex =
        TokenHash::of(format!("sessionward-device-group:{device_id}").as_bytes()).to_hex();
    hex.truncate(16);
    hex
}
