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
//!    re-authentication does not count.
//! 2. Limits are checked in the order per-user, per-IP, per-device-class,
//!    countries; the first one the new session would exceed is the one reported.
//! 3. With [`OnLimit::RejectNew`] that limit is returned and nothing changes.
//! 4. Otherwise the first session in eviction order (oldest login for
//!    `EvictOldest`, oldest activity for `EvictLeastRecentlyUsed`, ties broken
//!    by session id) that falls in the exceeded limit's scope is evicted,
//!    and the checks repeat until the new session fits.

use std::collections::BTreeSet;

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

/// Decides whether `new` fits next to `existing` (the user's stored
/// sessions, in any order, active or not).
///
/// The plan is deterministic: the same inputs always give the same answer.
pub fn plan_admission(
    existing: &[SessionRecord],
    new: &SessionRecord,
    limits: &SessionLimits,
    now: Timestamp,
    idle_cutoff: Timestamp,
    replaces: Option<&SessionId>,
) -> Admission {
    let mut active: Vec<&SessionRecord> = existing
        .iter()
        .filter(|s| s.is_active(now, idle_cutoff) && Some(&s.id) != replaces && s.id != new.id)
        .collect();
    match limits.on_limit {
        OnLimit::EvictOldest => {
            active.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
        }
        OnLimit::EvictLeastRecentlyUsed | OnLimit::RejectNew => {
            active.sort_by(|a, b| (a.last_seen_at, &a.id).cmp(&(b.last_seen_at, &b.id)))
        }
    }
    let mut evicted = vec![false; active.len()];
    let mut first_limit = None;
    loop {
        let remaining = active
            .iter()
            .zip(&evicted)
            .filter(|(_, gone)| !**gone)
            .map(|(s, _)| *s);
        let Some(limit) = exceeded_limit(remaining, new, limits) else {
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
        let victim = active
            .iter()
            .zip(&evicted)
            .position(|(s, gone)| !*gone && in_scope(s, new, limit));
        match victim {
            Some(i) => evicted[i] = true,
            // Unreachable for consistent limits (a violated limit always has a
            // session in scope); refusing is the fail-closed answer.
            None => return Admission::Reject { limit },
        }
    }
}

/// The first limit `new` would exceed next to `remaining`.
fn exceeded_limit<'a>(
    remaining: impl Iterator<Item = &'a SessionRecord> + Clone,
    new: &SessionRecord,
    limits: &SessionLimits,
) -> Option<LimitKind> {
    let count = |kind: LimitKind| remaining.clone().filter(|s| in_scope(s, new, kind)).count();
    let over = |count: usize, max: u32| count as u64 + 1 > u64::from(max);
    if let Some(max) = limits.per_user
        && over(count(LimitKind::PerUser), max)
    {
        return Some(LimitKind::PerUser);
    }
    if let (Some(max), Some(_)) = (limits.per_ip, new.ip)
        && over(count(LimitKind::PerIp), max)
    {
        return Some(LimitKind::PerIp);
    }
    let class = new.device_class;
    if let Some(max) = limits.for_class(class) {
        let kind = LimitKind::PerDeviceClass { class };
        if over(count(kind), max) {
            return Some(kind);
        }
    }
    if let (Some(max), Some(country)) = (limits.max_countries, new.country.as_deref()) {
        let mut countries: BTreeSet<&str> =
            remaining.filter_map(|s| s.country.as_deref()).collect();
        countries.insert(country);
        if countries.len() as u64 > u64::from(max) {
            return Some(LimitKind::Countries);
        }
    }
    None
}

/// Whether evicting `s` helps the new session fit under `limit`.
fn in_scope(s: &SessionRecord, new: &SessionRecord, limit: LimitKind) -> bool {
    match limit {
        LimitKind::PerUser => true,
        LimitKind::PerIp => s.ip.is_some() && s.ip == new.ip,
        LimitKind::PerDeviceClass { class } => s.device_class == class,
        LimitKind::Countries => s.country.is_some() && s.country != new.country,
    }
}
