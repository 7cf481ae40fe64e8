//! Limits that vary: per plan, per user, per app.
//!
//! A product rarely sells one limit to everyone: a free plan gets two
//! devices, a paid one five, a mobile app one session at a time. A
//! [`LimitResolver`] answers, before each login, which [`SessionLimits`]
//! apply to it. The manager consults it *outside* the store (it may read
//! the host's plan database), then hands the answer to the store's atomic
//! create, which counts and evicts in one step as always. Without a
//! resolver the policy's fixed limits apply.
//!
//! ```
//! use async_trait::async_trait;
//! use sessionward_core::limits::{LimitQuery, LimitResolver, ResolvedLimits};
//! use sessionward_core::store::BoxError;
//!
//! /// "pro-*" users get 5 sessions, 2 at once in any one app; others 2.
//! struct Plans;
//!
//! #[async_trait]
//! impl LimitResolver for Plans {
//!     async fn resolve(&self, login: &LimitQuery<'_>) -> Result<ResolvedLimits, BoxError> {
//!         let mut limits = login.policy.clone();
//!         let plan = if login.user.as_str().starts_with("pro-") {
//!             limits.per_user = Some(5);
//!             limits.per_app = Some(2);
//!             "Pro"
//!         } else {
//!             limits.per_user = Some(2);
//!             "Free"
//!         };
//!         Ok(ResolvedLimits::for_plan(plan, limits))
//!     }
//! }
//! ```

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::ids::{AppId, TenantId, UserId};
use crate::policy::{OnLimit, SessionLimits};
use crate::record::RequestContext;
use crate::store::BoxError;

/// How long the manager waits for a [`LimitResolver`] before failing the
/// login closed (503): 2 seconds.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a [`LimitResolver`] is asked about: one pending login.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LimitQuery<'a> {
    /// The user logging in.
    pub user: &'a UserId,
    /// The app or client they sign in to, if the host named one
    /// ([`crate::LoginOptions::app`]).
    pub app: Option<&'a AppId>,
    /// The tenant they sign in under, if the host named one
    /// ([`crate::LoginOptions::tenant`]).
    pub tenant: Option<&'a TenantId>,
    /// The login's request (IP, User-Agent, device cookie).
    pub context: &'a RequestContext,
    /// The policy's fixed limits, a starting point to adjust.
    pub policy: &'a SessionLimits,
}

impl<'a> LimitQuery<'a> {
    /// A query for `user`'s login to `app` with `context`, starting from
    /// the `policy` limits (no tenant; see [`LimitQuery::in_tenant`]).
    pub fn new(
        user: &'a UserId,
        app: Option<&'a AppId>,
        context: &'a RequestContext,
        policy: &'a SessionLimits,
    ) -> Self {
        LimitQuery {
            user,
            app,
            tenant: None,
            context,
            policy,
        }
    }

    /// This query, for a login under `tenant`.
    pub fn in_tenant(mut self, tenant: Option<&'a TenantId>) -> Self {
        self.tenant = tenant;
        self
    }
}

/// The limits that apply to one login, and the plan they come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedLimits {
    /// The plan or tier's display name ("Pro"), if there is one.
    pub plan: Option<String>,
    /// The limits, including the behaviour at a limit.
    pub limits: SessionLimits,
}

impl ResolvedLimits {
    /// Limits with no plan name.
    pub fn new(limits: SessionLimits) -> Self {
        ResolvedLimits { plan: None, limits }
    }

    /// Limits of the plan named `plan`.
    pub fn for_plan(plan: impl Into<String>, limits: SessionLimits) -> Self {
        ResolvedLimits {
            plan: Some(plan.into()),
            limits,
        }
    }

    /// The limits in words, for a user or an auditor: the plan, every limit
    /// in force (naming `app` for the per-app one when given), and what
    /// happens at a limit.
    ///
    /// ```
    /// use sessionward_core::limits::ResolvedLimits;
    /// use sessionward_core::{AppId, SessionPolicy};
    ///
    /// let mut limits = SessionPolicy::default().limits().clone();
    /// limits.per_app = Some(2);
    /// let app = AppId::new("mobile").unwrap();
    /// let text = ResolvedLimits::for_plan("Pro", limits).describe(Some(&app));
    /// assert!(text.starts_with("Plan Pro:"));
    /// assert!(text.contains("at most 5 active sessions at once"));
    /// assert!(text.contains("at most 2 active sessions at once in app mobile"));
    /// ```
    pub fn describe(&self, app: Option<&AppId>) -> String {
        let mut out = match &self.plan {
            Some(plan) => format!("Plan {plan}:\n"),
            None => String::from("Limits:\n"),
        };
        let mut lines = self.limits.describe_lines();
        if let (Some(app), Some(n)) = (app, self.limits.per_app) {
            lines = lines.replace(
                &format!("at most {n} active sessions in any one app"),
                &format!("at most {n} active sessions at once in app {app}"),
            );
        }
        out.push_str(&lines);
        out.push_str(match self.limits.on_limit {
            OnLimit::RejectNew => {
                "- At a limit, a new sign-in is refused until the user signs out a device (they can pick one and continue).\n"
            }
            OnLimit::EvictOldest => {
                "- At a limit, a new sign-in signs out the device that signed in longest ago.\n"
            }
            OnLimit::EvictLeastRecentlyUsed => {
                "- At a limit, a new sign-in signs out the device used least recently.\n"
            }
        });
        out
    }
}

/// Decides the limits of each login (per plan, per user, per app).
///
/// Object-safe, so the manager holds an `Arc<dyn LimitResolver>`
/// ([`crate::SessionManagerBuilder::limit_resolver`]). Called once per
/// login, before the store's atomic create and outside it; keep it fast (a
/// cached plan lookup). An error, a zero limit, or no answer within
/// [`RESOLVE_TIMEOUT`] fails the login closed with
/// [`crate::SessionError::LimitsUnavailable`] (503 in the adapters):
/// a login never proceeds under limits nobody decided.
#[async_trait]
pub trait LimitResolver: Send + Sync {
    /// The limits for `login`.
    ///
    /// # Errors
    /// Any failure to decide (the plan database is down): the login fails.
    async fn resolve(&self, login: &LimitQuery<'_>) -> Result<ResolvedLimits, BoxError>;
}

/// The default resolver: the policy's fixed limits for everyone.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedLimits;

#[async_trait]
impl LimitResolver for FixedLimits {
    async fn resolve(&self, login: &LimitQuery<'_>) -> Result<ResolvedLimits, BoxError> {
        Ok(ResolvedLimits::new(login.policy.clone()))
    }
}
