//! Login and re-authentication.

use crate::error::{LimitReached, SessionError};
use crate::events::EventKind;
use crate::ids::{SessionId, UserId};
use crate::policy::OnLimit;
use crate::record::{
    DeviceClass, RefreshState, RequestContext, RevokeReason, SessionMeta, SessionRecord,
};
use crate::store::{CreateOutcome, CreateRequest};
use crate::tokens::{RefreshSecret, format_refresh};
use crate::view::SessionView;

use super::{SessionManager, TokenPair};

/// Options for [`SessionManager::login_with`].
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// Re-authentication: the session this login replaces. It is revoked
    /// with reason `reauthenticated` in the same atomic step and does not
    /// count towards limits.
    pub replaces: Option<SessionId>,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// The new session.
    pub session: SessionRecord,
    /// Its tokens.
    pub tokens: TokenPair,
    /// Sessions ended to make room for it.
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
        self.login_with(
            &current.user,
            ctx,
            LoginOptions {
                replaces: Some(current.session_id.clone()),
            },
        )
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
        let secret = RefreshSecret::random();
        let record = self.new_record(user, ctx, &secret, now);
        let request = CreateRequest {
            session: record.clone(),
            limits: self.inner.policy.limits().clone(),
            now,
            idle_cutoff: self.idle_cutoff(now),
            replaces: options.replaces,
        };
        match self.inner.store.create(request).await? {
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
                event.ip = ctx.ip();
                event.user_agent = ctx.user_agent().map(str::to_owned);
                self.emit(event);
                let mut active: Vec<SessionView> = active
                    .iter()
                    .map(|r| SessionView::from_record(r, None))
                    .collect();
                active.sort_by_key(|v| std::cmp::Reverse(v.last_seen_at));
                Err(SessionError::LimitReached(Box::new(LimitReached {
                    limit,
                    active,
                })))
            }
            CreateOutcome::Created {
                limit,
                evicted,
                replaced,
            } => {
                if let Some(limit) = limit {
                    self.emit(self.event(
                        now,
                        EventKind::SessionLimitReached {
                            limit,
                            action: self.inner.policy.limits().on_limit,
                        },
                        Some(user),
                        Some(&record),
                    ));
                }
                for (gone, reason) in evicted
                    .iter()
                    .map(|r| (r, RevokeReason::Evicted))
                    .chain(replaced.iter().map(|r| (r, RevokeReason::Reauthenticated)))
                {
                    self.forget(&gone.id, now);
                    self.emit(self.event(
                        now,
                        EventKind::SessionRevoked { reason },
                        None,
                        Some(gone),
                    ));
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
                    evicted: evicted.into_iter().map(|r| r.id).collect(),
                    session: record,
                    tokens,
                })
            }
        }
    }

    fn new_record(
        &self,
        user: &UserId,
        ctx: &RequestContext,
        secret: &RefreshSecret,
        now: crate::Timestamp,
    ) -> SessionRecord {
        let enrichment = self
            .inner
            .enricher
            .as_ref()
            .map(|e| e.enrich(ctx))
            .unwrap_or_default();
        let country = enrichment.location.country_code.clone();
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
            ip: ctx.ip(),
            device_class: enrichment.class.unwrap_or(DeviceClass::Other),
            country,
            meta: SessionMeta {
                user_agent: ctx.user_agent().map(str::to_owned),
                device: enrichment.device,
                location: enrichment.location,
                risk: Default::default(),
            },
        }
    }
}
