//! The admission decision a store runs inside its atomic create operation.
//!
//! Stores call [`plan_admission`] while they hold the user's lock (a SQL
//! transaction with row locks, the memory store's mutex) so the check and
//! the evictions cannot race with another login. Stores that cannot run Rust
//! inside their atomic step (Redis runs Lua) must implement the same rules;
//! the conformance suite checks that they do.
//!
//! The rules, in order:
//! 1. Only *active* sessions count: not revoked, before their absolute end,
//!    and seen after the idle cutoff. The session being replaced by a
//!    re-authentication, and those the user chose to end to make room
//!    ([`crate::CreateRequest::ends`]), do not count.
//! 2. Limits are checked in the order per-user, per-tenant, per-app,
//!    per-IP, per-device-class, countries; the first one the new session
//!    would exceed is the one reported. The per-tenant count adds the
//!    tenant's other users' active sessions, which the store counts under
//!    the tenant's lock ([`AdmissionScope::tenant_others`]); they are never
//!    evicted, so a tenant full of them refuses the login in every mode.
//! 3. With [`OnLimit::RejectNew`] that limit is returned and nothing changes.
//! 4. Otherwise one session is evicted and the checks repeat until the new
//!    session fits. The session evicted is the first in eviction order
//!    (oldest login for `EvictOldest`, least recent use for
//!    `EvictLeastRecentlyUsed`, ties broken by recorded activity, then
//!    session id) that falls in the scope of *every* limit exceeded at that
//!    point; when no session does, the first in the scope of the first
//!    exceeded limit. So when a login exceeds two limits at once (the
//!    account's and an app's: Keycloak #38016), one eviction from the app
//!    settles both, instead of ending the account's oldest session in
//!    another app and then one in this app too.
//!
//! # What "least recently used" means
//! Activity is written throttled: a login and every refresh record their
//! exact time; an access-token use records its time when the last record
//! is at least the policy's touch interval old, or when it is the first
//! use at least [`FIRST_USE_RESOLUTION`] after a login or refresh. So a
//! session's true last use lies within one bound of what the store has:
//! within [`FIRST_USE_RESOLUTION`] of a login or refresh that no use
//! followed, within the touch interval of a later recorded use.
//! [`latest_possible_use`] is that bound, and LRU eviction ends the session
//! whose latest possible use is earliest: a session used since its login is
//! never evicted ahead of one left unused since a later login, and two used
//! sessions are told apart when their last uses differ by more than the
//! touch interval.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::ids::SessionId;
use crate::policy::{LimitKind, OnLimit, SessionLimits};
use crate::record::SessionRecord;
use crate::time::Timestamp;

/// What a store must do with a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Insert it after revoking these sessions (reason `evicted`).
    Admit {
        /// Sessions to revoke first, in eviction order.
        evict: Vec<SessionId>,
        /// The first limit that required evictions, if any.
        limit: Option<LimitKind>,
    },
    /// Refuse it: this limit would be exceeded.
    Reject {
        /// The limit.
        limit: LimitKind,
    },
}

/// Whether any limit in `limits` applies to `new`: a per-user limit, a
/// per-IP limit when `new` has an IP address, a limit for its device class,
/// or a country limit when it has a country.
///
/// When none does, [`plan_admission`] admits `new` without evicting anything
/// whatever else the user has stored, so a store may skip reading the user's
/// sessions (only a `replaces` session still matters).
///
/// ```
/// use sessionward_core::admission::limits_apply;
/// use sessionward_core::{
///     DeviceClass, OnLimit, RefreshState, SessionId, SessionLimits, SessionMeta, SessionRecord,
///     Timestamp, TokenHash, UserId,
/// };
///
/// let now = Timestamp::from_unix_millis(1_767_225_600_000);
/// let new = SessionRecord {
///     user: UserId::new("alice").unwrap(),
///     id: SessionId::generate(),
///     created_at: now,
///     last_seen_at: now,
///     expires_at: now.plus(std::time::Duration::from_secs(3600)),
///     auth_time: now,
///     refresh: RefreshState { hash: TokenHash::of(b"r"), generation: 0, rotated_at: now },
///     revoked: None,
///     ip: None,
///     device_class: DeviceClass::Desktop,
///     country: None,
///     meta: SessionMeta::default(),
///     seen: Default::default(),
/// };
/// let mut limits = SessionLimits {
///     per_user: None,
///     per_app: None,
///     per_tenant: None,
///     per_ip: Some(2),
///     per_device_class: vec![(DeviceClass::Mobile, 1)],
///     max_countries: Some(2),
///     on_limit: OnLimit::RejectNew,
/// };
/// // No IP, no country, and no limit for desktops: nothing to count.
/// assert!(!limits_apply(&new, &limits));
/// limits.per_user = Some(5);
/// assert!(limits_apply(&new, &limits));
/// ```
pub fn limits_apply(new: &SessionRecord, limits: &SessionLimits) -> bool {
    limits.per_user.is_some()
        || (limits.per_app.is_some() && new.meta.app.is_some())
        || (limits.per_tenant.is_some() && new.meta.tenant.is_some())
        || (limits.per_ip.is_some() && new.ip.is_some())
        || limits.for_class(new.device_class).is_some()
        || (limits.max_countries.is_some() && new.country.is_some())
}

/// How long after a login or refresh a first use may go unrecorded: the
/// manager writes activity on the first access-token use at least this long
/// after the last login or refresh, so "never used since" is known to this
/// resolution.
pub const FIRST_USE_RESOLUTION: Duration = Duration::from_secs(1);

/// The latest time `s` may have been used, from what the store records
/// (see the module docs): its recorded activity plus
/// [`FIRST_USE_RESOLUTION`] when that is its last login or refresh, plus
/// `touch_interval` when it is a throttled use.
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::admission::{FIRST_USE_RESOLUTION, latest_possible_use};
/// # use sessionward_core::{DeviceClass, RefreshState, SessionId, SessionMeta, SessionRecord, Timestamp, TokenHash, UserId};
/// # let t0 = Timestamp::from_unix_millis(1_767_225_600_000);
/// # let mut s = SessionRecord {
/// #     user: UserId::new("alice").unwrap(), id: SessionId::generate(), created_at: t0,
/// #     last_seen_at: t0, expires_at: t0.plus(Duration::from_secs(3600)), auth_time: t0,
/// #     refresh: RefreshState { hash: TokenHash::of(b"r"), generation: 0, rotated_at: t0 },
/// #     revoked: None, ip: None, device_class: DeviceClass::Desktop, country: None,
/// #     meta: SessionMeta::default(),
/// #     seen: Default::default(),
/// # };
/// let minute = Duration::from_secs(60);
/// // Never used since login: known to the first-use resolution.
/// assert_eq!(latest_possible_use(&s, minute), t0.plus(FIRST_USE_RESOLUTION));
/// // A throttled use 10 s after login: it may have been used up to a minute later.
/// s.last_seen_at = t0.plus(Duration::from_secs(10));
/// assert_eq!(latest_possible_use(&s, minute), t0.plus(Duration::from_secs(70)));
/// ```
pub fn latest_possible_use(s: &SessionRecord, touch_interval: Duration) -> Timestamp {
    let unrecorded = if s.last_seen_at == s.refresh.rotated_at {
        FIRST_USE_RESOLUTION
    } else {
        touch_interval.max(FIRST_USE_RESOLUTION)
    };
    s.last_seen_at.plus(unrecorded)
}

/// Decides whether `new` fits next to `existing` (the user's stored
/// sessions, in any order, active or not; only the active ones count, so a
/// store may pass just those).
///
/// The plan is deterministic: the same inputs always give the same answer.
pub fn plan_admission(
    existing: &[SessionRecord],
    new: &SessionRecord,
    limits: &SessionLimits,
    now: Timestamp,
    idle_cutoff: Timestamp,
    touch_interval: Duration,
    replaces: Option<&SessionId>,
) -> Admission {
    let scope = AdmissionScope {
        excluded: &replaces.into_iter().collect::<Vec<_>>(),
        tenant_others: 0,
    };
    plan_admission_scoped(
        existing,
        new,
        limits,
        now,
        idle_cutoff,
        touch_interval,
        &scope,
    )
}

/// What a login's admission counts beyond the user's own stored sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdmissionScope<'a> {
    /// Sessions left uncounted (replaced, or chosen to end).
    pub excluded: &'a [&'a SessionId],
    /// Active sessions of the new session's tenant that belong to other
    /// users (for [`SessionLimits::per_tenant`]).
    pub tenant_others: u64,
}

/// [`plan_admission`] with the full [`AdmissionScope`]: sessions left
/// uncounted (the replaced one, those the user chose to end) and the
/// tenant's other users' sessions. A per-tenant limit
/// counts `tenant_others` plus the user's own sessions in the tenant; only
/// the user's own sessions can be evicted for it, so a tenant full of
/// other users' sessions refuses the login in every mode.
pub fn plan_admission_scoped(
    existing: &[SessionRecord],
    new: &SessionRecord,
    limits: &SessionLimits,
    now: Timestamp,
    idle_cutoff: Timestamp,
    touch_interval: Duration,
    scope: &AdmissionScope<'_>,
) -> Admission {
    let excluded = scope.excluded;
    let mut active: Vec<&SessionRecord> = existing
        .iter()
        .filter(|s| s.is_active(now, idle_cutoff) && !excluded.contains(&&s.id) && s.id != new.id)
        .collect();
    match limits.on_limit {
        OnLimit::EvictOldest => {
            active.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
        }
        OnLimit::EvictLeastRecentlyUsed | OnLimit::RejectNew => active.sort_by_cached_key(|s| {
            (
                latest_possible_use(s, touch_interval),
                s.last_seen_at,
                s.id.clone(),
            )
        }),
    }
    let mut evicted = vec![false; active.len()];
    let mut first_limit = None;
    loop {
        let remaining = active
            .iter()
            .zip(&evicted)
            .filter(|(_, gone)| !**gone)
            .map(|(s, _)| *s);
        let exceeded = exceeded_limits(remaining, new, limits, scope.tenant_others);
        let Some(&limit) = exceeded.first() else {
            let evict = active
                .iter()
                .zip(&evicted)
                .filter(|(_, gone)| **gone)
                .map(|(s, _)| s.id.clone())
                .collect();
            return Admission::Admit {
                evict,
                limit: first_limit,
            };
        };
        if limits.on_limit == OnLimit::RejectNew {
            return Admission::Reject { limit };
        }
        first_limit.get_or_insert(limit);
        let first_where = |fits: &dyn Fn(&SessionRecord) -> bool| {
            active
                .iter()
                .zip(&evicted)
                .position(|(s, gone)| !*gone && fits(s))
        };
        let victim = first_where(&|s| exceeded.iter().all(|k| in_scope(s, new, *k)))
            .or_else(|| first_where(&|s| in_scope(s, new, limit)));
        match victim {
            Some(i) => evicted[i] = true,
            // Unreachable for consistent limits (a violated limit always has a
            // session in scope); refusing is the fail-closed answer.
            None => return Admission::Reject { limit },
        }
    }
}

/// Every limit `new` would exceed next to `remaining`, in checking order.
fn exceeded_limits<'a>(
    remaining: impl Iterator<Item = &'a SessionRecord> + Clone,
    new: &SessionRecord,
    limits: &SessionLimits,
    tenant_others: u64,
) -> Vec<LimitKind> {
    let count = |kind: LimitKind| {
        let own = remaining.clone().filter(|s| in_scope(s, new, kind)).count() as u64;
        match kind {
            LimitKind::PerTenant => own.saturating_add(tenant_others),
            _ => own,
        }
    };
    let over = |count: u64, max: u32| count.saturating_add(1) > u64::from(max);
    let mut exceeded = Vec::new();
    let mut check = |max: Option<u32>, applies: bool, kind: LimitKind| {
        if let Some(max) = max
            && applies
            && over(count(kind), max)
        {
            exceeded.push(kind);
        }
    };
    check(limits.per_user, true, LimitKind::PerUser);
    check(
        limits.per_tenant,
        new.meta.tenant.is_some(),
        LimitKind::PerTenant,
    );
    check(limits.per_app, new.meta.app.is_some(), LimitKind::PerApp);
    check(limits.per_ip, new.ip.is_some(), LimitKind::PerIp);
    let class = new.device_class;
    check(
        limits.for_class(class),
        true,
        LimitKind::PerDeviceClass { class },
    );
    if let (Some(max), Some(country)) = (limits.max_countries, new.country.as_deref()) {
        let mut countries: BTreeSet<&str> =
            remaining.filter_map(|s| s.country.as_deref()).collect();
        countries.insert(country);
        if countries.len() as u64 > u64::from(max) {
            exceeded.push(LimitKind::Countries);
        }
    }
    exceeded
}

/// Whether evicting `s` helps the new session fit under `limit`.
fn in_scope(s: &SessionRecord, new: &SessionRecord, limit: LimitKind) -> bool {
    match limit {
        LimitKind::PerUser => true,
        LimitKind::PerApp => s.meta.app.is_some() && s.meta.app == new.meta.app,
        LimitKind::PerTenant => s.meta.tenant.is_some() && s.meta.tenant == new.meta.tenant,
        LimitKind::PerIp => s.ip.is_some() && s.ip == new.ip,
        LimitKind::PerDeviceClass { class } => s.device_class == class,
        LimitKind::Countries => s.country.is_some() && s.country != new.country,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;
    use crate::ids::UserId;
    use crate::record::{DeviceClass, RefreshState, Revocation, RevokeReason, SessionMeta};
    use crate::secret::TokenHash;

    /// A small deterministic generator (xorshift), so failures replay.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
        fn maybe(&mut self, n: u32) -> Option<u32> {
            (self.below(2) == 0).then(|| 1 + self.below(u64::from(n)) as u32)
        }
    }

    const NOW: i64 = 1_767_225_600_000;
    const MINUTE: Duration = Duration::from_secs(60);
    const CLASSES: [DeviceClass; 3] = [
        DeviceClass::Desktop,
        DeviceClass::Mobile,
        DeviceClass::Tablet,
    ];

    fn record(rng: &mut Rng, user: &UserId) -> SessionRecord {
        let at = |ms: u64| Timestamp::from_unix_millis(NOW - 3_600_000 + ms as i64);
        let created = at(rng.below(3_000_000));
        let ip: IpAddr = ["10.0.0.1", "10.0.0.2"][rng.below(2) as usize]
            .parse()
            .unwrap();
        SessionRecord {
            user: user.clone(),
            id: SessionId::generate(),
            created_at: created,
            last_seen_at: at(rng.below(3_600_000)),
            // Some already ended.
            expires_at: at(3_000_000 + rng.below(1_200_000)),
            auth_time: created,
            refresh: RefreshState {
                hash: TokenHash::of(b"r"),
                generation: 0,
                rotated_at: created,
            },
            revoked: (rng.below(3) == 0).then_some(Revocation {
                at: created,
                reason: RevokeReason::User,
            }),
            ip: (rng.below(4) != 0).then_some(ip),
            device_class: CLASSES[rng.below(3) as usize],
            country: ["GB", "FR"]
                .get(rng.below(3) as usize)
                .map(|c| (*c).to_owned()),
            meta: SessionMeta {
                app: ["web", "mobile"]
                    .get(rng.below(3) as usize)
                    .map(|a| crate::ids::AppId::new(*a).unwrap()),
                ..SessionMeta::default()
            },
            seen: Default::default(),
        }
    }

    fn limits(rng: &mut Rng) -> SessionLimits {
        SessionLimits {
            per_user: rng.maybe(4),
            per_app: rng.maybe(2),
            per_tenant: None,
            per_ip: rng.maybe(3),
            per_device_class: CLASSES
                .iter()
                .filter_map(|c| rng.maybe(2).map(|n| (*c, n)))
                .collect(),
            max_countries: rng.maybe(2),
            on_limit: [
                OnLimit::RejectNew,
                OnLimit::EvictOldest,
                OnLimit::EvictLeastRecentlyUsed,
            ][rng.below(3) as usize],
        }
    }

    /// The two shortcuts stores take: with no limit applying, the plan is a
    /// plain admit whatever is stored; with limits, reading only the active
    /// sessions gives the same plan as reading everything.
    #[test]
    fn stores_may_read_only_what_the_plan_uses() {
        let user = UserId::new("alice").unwrap();
        let now = Timestamp::from_unix_millis(NOW);
        let cutoff = now.minus(Duration::from_secs(1800));
        let (mut unlimited_seen, mut limited_seen) = (0, 0);
        for seed in 1..=2_000u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let existing: Vec<_> = (0..rng.below(8)).map(|_| record(&mut rng, &user)).collect();
            let new = record(&mut rng, &user);
            let limits = limits(&mut rng);
            let replaces = existing.get(rng.below(10) as usize).map(|s| s.id.clone());
            let full = plan_admission(
                &existing,
                &new,
                &limits,
                now,
                cutoff,
                MINUTE,
                replaces.as_ref(),
            );
            if limits_apply(&new, &limits) {
                limited_seen += 1;
                let active: Vec<_> = existing
                    .iter()
                    .filter(|s| s.is_active(now, cutoff))
                    .cloned()
                    .collect();
                let pruned = plan_admission(
                    &active,
                    &new,
                    &limits,
                    now,
                    cutoff,
                    MINUTE,
                    replaces.as_ref(),
                );
                assert_eq!(full, pruned, "seed {seed}");
            } else {
                unlimited_seen += 1;
                let admit = Admission::Admit {
                    evict: Vec::new(),
                    limit: None,
                };
                assert_eq!(full, admit, "seed {seed}");
            }
        }
        // Both branches were exercised, not just one.
        assert!(
            unlimited_seen > 50 && limited_seen > 500,
            "{unlimited_seen} {limited_seen}"
        );
    }

    /// `limits_apply` is exact: a per-IP or country limit applies only when
    /// the new session has an IP or a country, and an IP, a country or a
    /// device class with no limit for it makes nothing apply.
    #[test]
    fn limits_apply_needs_the_limit_and_the_fact() {
        let user = UserId::new("alice").unwrap();
        let mut new = record(&mut Rng(7), &user);
        new.device_class = DeviceClass::Desktop;
        let none = SessionLimits {
            per_user: None,
            per_app: None,
            per_tenant: None,
            per_ip: None,
            per_device_class: vec![(DeviceClass::Mobile, 1)],
            max_countries: None,
            on_limit: OnLimit::RejectNew,
        };
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for (ip, country) in [
            (None, None),
            (Some(ip), None),
            (None, Some("GB")),
            (Some(ip), Some("GB")),
        ] {
            new.ip = ip;
            new.country = country.map(str::to_owned);
            assert!(!limits_apply(&new, &none), "{ip:?} {country:?}");
            let cases = [
                (
                    SessionLimits {
                        per_ip: Some(1),
                        ..none.clone()
                    },
                    ip.is_some(),
                ),
                (
                    SessionLimits {
                        max_countries: Some(1),
                        ..none.clone()
                    },
                    country.is_some(),
                ),
                (
                    SessionLimits {
                        per_device_class: vec![(DeviceClass::Desktop, 1)],
                        ..none.clone()
                    },
                    true,
                ),
            ];
            for (limits, applies) in cases {
                assert_eq!(
                    limits_apply(&new, &limits),
                    applies,
                    "{limits:?} {ip:?} {country:?}"
                );
            }
        }
    }

    /// An active session of `user` logged in `age_min` minutes before `now`.
    fn live(rng: &mut Rng, user: &UserId, now: Timestamp, age_min: u32) -> SessionRecord {
        let mut s = record(rng, user);
        s.created_at = now.minus(MINUTE * age_min);
        s.last_seen_at = s.created_at;
        s.refresh.rotated_at = s.created_at;
        s.expires_at = now.plus(Duration::from_secs(3600));
        s.revoked = None;
        s
    }

    /// Keycloak #38016: a login that exceeds the account's limit and its
    /// app's at once ends one session of that app (the oldest one counting
    /// towards both), not the account's oldest session in another app and
    /// then one of this app as well.
    #[test]
    fn two_limits_hit_at_once_end_one_session_in_both_scopes() {
        let user = UserId::new("alice").unwrap();
        let now = Timestamp::from_unix_millis(NOW);
        let cutoff = now.minus(Duration::from_secs(1800));
        let mut rng = Rng(5);
        let in_app = |rng: &mut Rng, name: &str, age_min: u32| {
            let mut s = live(rng, &user, now, age_min);
            s.meta.app = Some(crate::ids::AppId::new(name).unwrap());
            s
        };
        // Oldest first: web, then two mobile sessions.
        let existing = vec![
            in_app(&mut rng, "web", 25),
            in_app(&mut rng, "mobile", 20),
            in_app(&mut rng, "mobile", 10),
        ];
        let limits = SessionLimits {
            per_user: Some(3),
            per_app: Some(2),
            per_tenant: None,
            per_ip: None,
            per_device_class: Vec::new(),
            max_countries: None,
            on_limit: OnLimit::EvictOldest,
        };
        let roomy = SessionLimits {
            per_user: Some(10),
            ..limits.clone()
        };
        let (mobile, web) = (in_app(&mut rng, "mobile", 0), in_app(&mut rng, "web", 0));
        // (new login, limits, evicted, reported limit)
        let cases = [
            // Both exceeded: one mobile session settles both.
            (&mobile, &limits, 1, LimitKind::PerUser),
            // Only the account's (a web login): its oldest goes.
            (&web, &limits, 0, LimitKind::PerUser),
            // Only the app's.
            (&mobile, &roomy, 1, LimitKind::PerApp),
        ];
        for (new, limits, victim, limit) in cases {
            let plan = plan_admission(&existing, new, limits, now, cutoff, MINUTE, None);
            let want = Admission::Admit {
                evict: vec![existing[victim].id.clone()],
                limit: Some(limit),
            };
            assert_eq!(plan, want, "{limits:?}");
        }
        // Sessions the user chose to end are not counted.
        let rejecting = SessionLimits {
            on_limit: OnLimit::RejectNew,
            ..limits
        };
        let chosen = [&existing[2].id];
        let scope = AdmissionScope {
            excluded: &chosen,
            tenant_others: 0,
        };
        let plan =
            plan_admission_scoped(&existing, &mobile, &rejecting, now, cutoff, MINUTE, &scope);
        let admitted = Admission::Admit {
            evict: Vec::new(),
            limit: None,
        };
        assert_eq!(plan, admitted);
    }

    /// Over the country limit, the session evicted is the oldest one from
    /// *another* country than the new session's: evicting one from the new
    /// session's own country would not reduce the count.
    #[test]
    fn country_limit_evicts_another_country() {
        let user = UserId::new("alice").unwrap();
        let now = Timestamp::from_unix_millis(NOW);
        let cutoff = now.minus(Duration::from_secs(1800));
        let mut rng = Rng(11);
        let session = |rng: &mut Rng, country: &str, age_min: u32| {
            let mut s = live(rng, &user, now, age_min);
            s.country = Some(country.to_owned());
            s
        };
        // Oldest first: a session from the new one's country, then GB, then FR.
        let existing = vec![
            session(&mut rng, "SE", 25),
            session(&mut rng, "GB", 20),
            session(&mut rng, "FR", 10),
        ];
        let new = session(&mut rng, "SE", 0);
        let limits = SessionLimits {
            per_user: None,
            per_app: None,
            per_tenant: None,
            per_ip: None,
            per_device_class: Vec::new(),
            max_countries: Some(2),
            on_limit: OnLimit::EvictOldest,
        };
        let plan = plan_admission(&existing, &new, &limits, now, cutoff, MINUTE, None);
        assert_eq!(
            plan,
            Admission::Admit {
                evict: vec![existing[1].id.clone()],
                limit: Some(LimitKind::Countries),
            }
        );
    }
}
