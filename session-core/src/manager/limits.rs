//! Resolving each login's limits ([`crate::limits`]).

use crate::error::SessionError;
use crate::ids::{AppId, TenantId, UserId};
use crate::limits::{LimitQuery, RESOLVE_TIMEOUT, ResolvedLimits};
use crate::record::RequestContext;

use super::SessionManager;

impl SessionManager {
    /// The limits for `user`'s login to `app` from `ctx`: the configured
    /// [`crate::LimitResolver`]'s answer, or the policy's fixed limits.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use sessionward_core::tokens::{SigningKey, TokenConfig};
    /// use sessionward_core::{MemoryStore, RequestContext, SessionManager, SessionPolicy, UserId};
    ///
    /// let tokens = TokenConfig::builder("https://id.example", "example")
    ///     .signing_key(SigningKey::hs256("k1", &[7; 32]).unwrap())
    ///     .refresh_key([2; 32])
    ///     .build()
    ///     .unwrap();
    /// let manager = SessionManager::builder(SessionPolicy::default(), tokens, Arc::new(MemoryStore::new()))
    ///     .build()
    ///     .unwrap();
    /// let alice = UserId::new("alice").unwrap();
    /// let resolved = manager.resolve_limits(&alice, None, &RequestContext::new()).await.unwrap();
    /// assert_eq!(resolved.limits.per_user, Some(5));
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`SessionError::LimitsUnavailable`] when the resolver fails, takes
    /// longer than [`RESOLVE_TIMEOUT`], or answers with a zero limit.
    pub async fn resolve_limits(
        &self,
        user: &UserId,
        app: Option<&AppId>,
        ctx: &RequestContext,
    ) -> Result<ResolvedLimits, SessionError> {
        self.resolve_limits_in(user, app, None, ctx).await
    }

    /// [`SessionManager::resolve_limits`] for a login under `tenant`.
    ///
    /// # Errors
    /// As [`SessionManager::resolve_limits`]; also
    /// [`SessionError::LimitsUnavailable`] when a per-tenant limit applies
    /// and the store cannot count a tenant's sessions
    /// ([`crate::SessionStore::counts_tenants`]).
    pub async fn resolve_limits_in(
        &self,
        user: &UserId,
        app: Option<&AppId>,
        tenant: Option<&TenantId>,
        ctx: &RequestContext,
    ) -> Result<ResolvedLimits, SessionError> {
        let policy = self.inner.policy.limits();
        let resolved = match &self.inner.limit_resolver {
            None => ResolvedLimits::new(policy.clone()),
            Some(resolver) => {
                self.ask(
                    resolver.as_ref(),
                    LimitQuery::new(user, app, ctx, policy).in_tenant(tenant),
                )
                .await?
            }
        };
        if resolved.limits.per_tenant.is_some()
            && tenant.is_some()
            && !self.inner.store.counts_tenants()
        {
            return Err(SessionError::LimitsUnavailable(
                "this session store cannot count sessions across a tenant's users".into(),
            ));
        }
        Ok(resolved)
    }

    /// The resolver's answer to `query`, bounded and checked.
    async fn ask(
        &self,
        resolver: &dyn crate::limits::LimitResolver,
        query: LimitQuery<'_>,
    ) -> Result<ResolvedLimits, SessionError> {
        let resolved = match tokio::time::timeout(RESOLVE_TIMEOUT, resolver.resolve(&query)).await {
            Ok(Ok(resolved)) => resolved,
            Ok(Err(e)) => return Err(SessionError::LimitsUnavailable(e)),
            Err(elapsed) => return Err(SessionError::LimitsUnavailable(Box::new(elapsed))),
        };
        resolved
            .limits
            .validate()
            .map_err(|e| SessionError::LimitsUnavailable(Box::new(e)))?;
        Ok(resolved)
    }

    /// The limits that would apply to `user`'s next login to `app`, in
    /// words ([`ResolvedLimits::describe`]): "Plan Pro: … at most 2 active
    /// sessions at once in app mobile".
    ///
    /// # Errors
    /// As [`SessionManager::resolve_limits`].
    pub async fn describe_limits(
        &self,
        user: &UserId,
        app: Option<&AppId>,
        ctx: &RequestContext,
    ) -> Result<String, SessionError> {
        Ok(self.resolve_limits(user, app, ctx).await?.describe(app))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;

    use crate::limits::{LimitQuery, LimitResolver, ResolvedLimits};
    use crate::store::BoxError;
    use crate::testing::{Harness, fresh_user};
    use crate::time::{Clock as _, ManualClock, SystemClock};
    use crate::{MemoryStore, RequestContext, SessionError, SessionPolicy};

    /// Answers after `delay`, with `answer`'s limits.
    struct Resolver {
        delay: Duration,
        answer: fn(&LimitQuery<'_>) -> Result<ResolvedLimits, BoxError>,
    }

    #[async_trait]
    impl LimitResolver for Resolver {
        async fn resolve(&self, login: &LimitQuery<'_>) -> Result<ResolvedLimits, BoxError> {
            tokio::time::sleep(self.delay).await;
            (self.answer)(login)
        }
    }

    fn harness(resolver: Resolver) -> Harness {
        let resolver: Arc<dyn LimitResolver> = Arc::new(resolver);
        Harness::customised(
            Arc::new(MemoryStore::new()),
            SessionPolicy::default(),
            ManualClock::new(SystemClock.now()),
            |b| b.limit_resolver(resolver),
        )
    }

    /// A resolver that fails, answers a zero limit, or does not answer in
    /// time fails the login closed: nothing is created, and the error reads
    /// as unavailable (503).
    #[tokio::test(start_paused = true)]
    async fn undecided_limits_fail_the_login_closed() {
        let cases: [Resolver; 3] = [
            Resolver {
                delay: Duration::ZERO,
                answer: |_| Err("the plan database is down".into()),
            },
            Resolver {
                delay: Duration::ZERO,
                answer: |q| {
                    let mut limits = q.policy.clone();
                    limits.per_app = Some(0);
                    Ok(ResolvedLimits::new(limits))
                },
            },
            Resolver {
                delay: Duration::from_secs(60),
                answer: |q| Ok(ResolvedLimits::new(q.policy.clone())),
            },
        ];
        for resolver in cases {
            let h = harness(resolver);
            let user = fresh_user();
            let err = h
                .manager
                .login(&user, &RequestContext::new())
                .await
                .unwrap_err();
            assert!(matches!(err, SessionError::LimitsUnavailable(_)), "{err:?}");
            assert!(err.is_unavailable());
            let web = crate::web::WebError::from(&err);
            assert_eq!(web.status(), 503);
            assert!(h.manager.list(&user, None).await.unwrap().is_empty());
        }
    }

    /// A resolver within its time is waited for, and its answer used.
    #[tokio::test(start_paused = true)]
    async fn a_slow_but_timely_resolver_decides() {
        let h = harness(Resolver {
            delay: Duration::from_millis(1500),
            answer: |q| {
                let mut limits = q.policy.clone();
                limits.per_user = Some(1);
                Ok(ResolvedLimits::for_plan("Solo", limits))
            },
        });
        let user = fresh_user();
        let first = h
            .manager
            .login(&user, &RequestContext::new())
            .await
            .unwrap();
        let second = h
            .manager
            .login(&user, &RequestContext::new())
            .await
            .unwrap();
        assert_eq!(second.evicted, vec![first.session.id]);
    }
}
