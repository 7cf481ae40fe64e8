//! [`MemoryStore`]: an in-process store for tests, demos and single-process apps.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::directory::{MatchingRevocation, SessionDirectory, SessionPage, SessionQuery};
use crate::ids::{SessionId, UserId};
use crate::record::{RefreshState, Revocation, RevokeReason, SessionMeta, SessionRecord};
use crate::risk::{LoginFacts, PreviousLogin, PriorHistory, RiskStore};
use crate::store::{
    CreateOutcome, CreateRequest, FeedEvent, RevocationFeed, RotateOutcome, RotateRequest,
    SessionStore, StoreError, TouchRequest,
};
use crate::time::Timestamp;

/// Capacity of each feed subscriber's queue; a subscriber that falls this
/// far behind is dropped and must resubscribe (the manager then checks the
/// store on every request until it has).
const FEED_QUEUE: usize = 4096;

/// Records are boxed: a record is over a kilobyte inline, and a user's map
/// allocates room for several entries, so a single-session user would pay
/// for four records (issue 18: 5 KB per session).
type Sessions = HashMap<UserId, HashMap<SessionId, Box<SessionRecord>>>;

/// Sessions kept in process memory behind one mutex. Every operation is one
/// critical section, so each decision is atomic. Data is lost on restart,
/// so use it for tests, demos and single-process apps that accept that.
///
/// Its [`RevocationFeed`] is exact: revocations are delivered in process.
/// As a risk store it keeps the 128 most recent logins per IP address (as
/// the Redis store does by default), so the `login_burst` count saturates
/// there: keep `RiskConfig::burst_logins` below it.
///
/// ```
/// use std::sync::Arc;
/// use sessionward_core::{MemoryStore, SessionStore};
/// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
/// assert!(store.revocation_feed().is_some());
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: Mutex<Sessions>,
    // Guarded by the `sessions` lock's critical sections (taken inside them).
    not_before: Mutex<HashMap<UserId, Timestamp>>,
    subscribers: Mutex<Vec<mpsc::Sender<FeedEvent>>>,
    risk: Mutex<RiskData>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored records (revoked tombstones included).
    pub fn len(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Sessions> {
        // A panic while holding the lock cannot leave a half-applied decision
        // (each section mutates at the end), so a poisoned map is still sound.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn marks(&self) -> MutexGuard<'_, HashMap<UserId, Timestamp>> {
        self.inner
            .not_before
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn mark(&self, user: &UserId) -> Option<Timestamp> {
        self.marks().get(user).copied()
    }

    /// Announces `revoked` (the records before revocation) ended at `at`.
    fn publish(&self, revoked: &[SessionRecord], at: Timestamp) {
        if revoked.is_empty() {
            return;
        }
        let mut subs = self
            .inner
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        subs.retain(|tx| {
            revoked.iter().all(|r| {
                tx.try_send(FeedEvent::Revoked {
                    user: r.user.clone(),
                    id: r.id.clone(),
                    at: Some(at),
                })
                .is_ok()
            })
        });
    }
}

fn revoke_in_place(
    record: &mut SessionRecord,
    reason: RevokeReason,
    at: Timestamp,
) -> Option<SessionRecord> {
    if record.revoked.is_some() {
        return None;
    }
    let before = record.clone();
    record.revoked = Some(Revocation { at, reason });
    Some(before)
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, req: CreateRequest) -> Result<CreateOutcome, StoreError> {
        let now = req.now;
        let (outcome, revoked) = {
            let mut all = self.lock();
            // The mark is read under the sessions lock, which `revoke_all`
            // also holds while it raises the mark.
            let not_before = self.mark(&req.session.user);
            // The one lock covers every user: the tenant's count is exact.
            let tenant_others = req.counted_tenant().map_or(0, |tenant| {
                all.iter()
                    .filter(|(user, _)| **user != req.session.user)
                    .flat_map(|(_, sessions)| sessions.values())
                    .filter(|s| s.meta.tenant.as_ref() == Some(tenant))
                    .filter(|s| s.is_active(req.now, req.idle_cutoff))
                    .count() as u64
            });
            let sessions = all.entry(req.session.user.clone()).or_default();
            if sessions.contains_key(&req.session.id) {
                // A continuation ticket redeemed twice: its id is taken.
                return Err(StoreError::IdTaken);
            }
            let existing: Vec<SessionRecord> = sessions.values().map(|r| (**r).clone()).collect();
            let decision = req.decide_in_tenant(existing, not_before, tenant_others);
            let mut revoked = Vec::new();
            for (victim, reason) in decision.revocations() {
                if let Some(before) = sessions
                    .get_mut(&victim.id)
                    .and_then(|r| revoke_in_place(r, reason, req.now))
                {
                    revoked.push(before);
                }
            }
            if decision.admits() {
                let session = req.session;
                sessions.insert(session.id.clone(), Box::new(session));
            }
            (decision.into_outcome(), revoked)
        };
        self.publish(&revoked, now);
        Ok(outcome)
    }

    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .lock()
            .get(user)
            .and_then(|s| s.get(id))
            .map(|r| (**r).clone()))
    }

    async fn touch(&self, req: TouchRequest) -> Result<bool, StoreError> {
        let mut all = self.lock();
        let Some(r) = all.get_mut(&req.user).and_then(|s| s.get_mut(&req.id)) else {
            return Ok(false);
        };
        if r.is_active(req.at, req.idle_cutoff) && req.at > r.last_seen_at {
            if let Some(seen) = req.seen {
                if r.last_seen_at == seen.read_last_seen_at {
                    r.seen.places = seen.places;
                }
                r.seen.last = Some(Box::new(seen.last));
            }
            r.last_seen_at = req.at;
            return Ok(true);
        }
        Ok(false)
    }

    async fn rotate_refresh(&self, req: RotateRequest) -> Result<RotateOutcome, StoreError> {
        self.rotate(req, None)
    }

    async fn rotate_refresh_binding(
        &self,
        req: RotateRequest,
        meta: SessionMeta,
    ) -> Result<RotateOutcome, StoreError> {
        self.rotate(req, Some(meta))
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let before = {
            let mut all = self.lock();
            all.get_mut(user)
                .and_then(|s| s.get_mut(id))
                .and_then(|r| revoke_in_place(r, reason, at))
        };
        if let Some(b) = &before {
            self.publish(std::slice::from_ref(b), at);
        }
        Ok(before)
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let revoked: Vec<SessionRecord> = {
            let mut all = self.lock();
            if reason.raises_not_before() {
                let mut marks = self.marks();
                let mark = marks.entry(user.clone()).or_insert(at);
                *mark = (*mark).max(at);
            }
            match all.get_mut(user) {
                Some(sessions) => sessions
                    .values_mut()
                    .filter(|r| Some(&r.id) != except)
                    .filter_map(|r| revoke_in_place(r, reason, at))
                    .collect(),
                None => Vec::new(),
            }
        };
        self.publish(&revoked, at);
        Ok(revoked)
    }

    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.mark(user))
    }

    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(self
            .lock()
            .get(user)
            .map(|s| s.values().map(|r| (**r).clone()).collect())
            .unwrap_or_default())
    }

    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
        let mut all = self.lock();
        Ok(all.remove(user).map_or(0, |s| s.len() as u64))
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut all = self.lock();
        let mut purged = 0u64;
        all.retain(|_, sessions| {
            let n = sessions.len();
            sessions.retain(|_, r| r.expires_at > before);
            purged += (n - sessions.len()) as u64;
            !sessions.is_empty()
        });
        Ok(purged)
    }

    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        Some(Arc::new(self.clone()))
    }

    fn replay_store(&self) -> Option<Arc<dyn crate::binding::ReplayStore>> {
        Some(crate::binding::replay_via(Arc::new(self.clone())))
    }

    fn directory(&self) -> Option<Arc<dyn crate::directory::SessionDirectory>> {
        Some(Arc::new(self.clone()))
    }

    fn counts_tenants(&self) -> bool {
        true
    }
}

/// Scans every session under the lock: a memory store is small enough.
#[async_trait]
impl SessionDirectory for MemoryStore {
    async fn find(&self, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        let all = self.lock();
        let candidates = match &query.filter.user {
            Some(user) => all
                .get(user)
                .into_iter()
                .flat_map(HashMap::values)
                .collect::<Vec<_>>(),
            None => all.values().flat_map(HashMap::values).collect(),
        };
        Ok(query.page_of(candidates.into_iter().map(|r| &**r)))
    }

    async fn revoke_matching(
        &self,
        user: &UserId,
        request: &MatchingRevocation,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let revoked: Vec<SessionRecord> = {
            let mut all = self.lock();
            match all.get_mut(user) {
                Some(sessions) => sessions
                    .values_mut()
                    .filter(|r| request.matches(r))
                    .filter_map(|r| revoke_in_place(r, request.reason, request.at))
                    .collect(),
                None => Vec::new(),
            }
        };
        self.publish(&revoked, request.at);
        Ok(revoked)
    }
}

#[async_trait]
impl RevocationFeed for MemoryStore {
    async fn subscribe(&self) -> Result<mpsc::Receiver<FeedEvent>, StoreError> {
        let (tx, rx) = mpsc::channel(FEED_QUEUE);
        // Cannot fail: the queue is new and empty.
        let _ = tx.try_send(FeedEvent::Connected);
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        Ok(rx)
    }

    fn expected_latency(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// Login history of one user in the memory store.
#[derive(Default)]
struct UserHistory {
    fingerprints: HashMap<String, Timestamp>,
    countries: HashMap<String, Timestamp>,
    asns: HashMap<u32, Timestamp>,
    last: Option<PreviousLogin>,
}

/// The memory store's risk data: per-user history, logins per IP, used token ids.
#[derive(Default)]
pub(crate) struct RiskData {
    users: HashMap<UserId, UserHistory>,
    /// The most recent logins per address, oldest first, at most
    /// [`IP_LOGIN_CAP`] each.
    ip_logins: HashMap<IpAddr, VecDeque<Timestamp>>,
    used_tokens: HashMap<String, Timestamp>,
    /// Size at which expired used tokens are next dropped: pruning on every
    /// call would make each one O(n) (DPoP records one per request).
    prune_used_at: usize,
}

/// How many of the most recent logins are kept per IP address for the
/// `login_burst` signal, as the Redis store's default: the count a login
/// sees saturates here (keep `RiskConfig::burst_logins` below it). Without
/// the cap, a shared address (a NAT, an office) would make every login
/// scan every login it ever made from there.
const IP_LOGIN_CAP: usize = 128;

/// Fewest used-token entries before expired ones are dropped.
const MIN_PRUNE_AT: usize = 1024;

impl MemoryStore {
    /// The compare-and-swap of `rotate_refresh`, replacing the metadata too
    /// when `meta` is given.
    fn rotate(
        &self,
        req: RotateRequest,
        meta: Option<SessionMeta>,
    ) -> Result<RotateOutcome, StoreError> {
        let mut all = self.lock();
        let Some(r) = all.get_mut(&req.user).and_then(|s| s.get_mut(&req.id)) else {
            return Ok(RotateOutcome::Unchanged(None));
        };
        let matches =
            r.refresh.generation == req.expected_generation && r.refresh.hash == req.expected_hash;
        if !matches || !r.is_active(req.now, req.idle_cutoff) {
            return Ok(RotateOutcome::Unchanged(Some((**r).clone())));
        }
        r.refresh = RefreshState {
            hash: req.new_hash,
            generation: r.refresh.generation + 1,
            rotated_at: req.now,
        };
        if let Some(meta) = meta {
            r.meta = meta;
        }
        if req.now > r.last_seen_at {
            r.last_seen_at = req.now;
            if let Some(seen) = req.seen {
                r.seen.last = Some(Box::new(seen));
            }
        }
        Ok(RotateOutcome::Rotated((**r).clone()))
    }

    fn risk(&self) -> MutexGuard<'_, RiskData> {
        self.inner.risk.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl RiskStore for MemoryStore {
    async fn login_history(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        burst_since: Timestamp,
    ) -> Result<PriorHistory, StoreError> {
        let data = self.risk();
        let recent_logins_from_ip = facts
            .ip
            .and_then(|ip| data.ip_logins.get(&ip))
            .map(|times| times.iter().filter(|t| **t >= burst_since).count())
            .unwrap_or(0);
        let recent_logins_from_ip = u32::try_from(recent_logins_from_ip).unwrap_or(u32::MAX);
        let Some(h) = data.users.get(user) else {
            return Ok(PriorHistory {
                first_login: true,
                known_device: false,
                known_country: true,
                known_asn: true,
                previous: None,
                recent_logins_from_ip,
            });
        };
        Ok(PriorHistory {
            first_login: false,
            known_device: facts
                .fingerprints
                .iter()
                .any(|f| h.fingerprints.contains_key(f)),
            known_country: facts
                .country
                .as_ref()
                .is_none_or(|c| h.countries.contains_key(c)),
            known_asn: facts.asn.is_none_or(|a| h.asns.contains_key(&a)),
            previous: h.last.clone(),
            recent_logins_from_ip,
        })
    }

    async fn forget_user(&self, user: &UserId) -> Result<(), StoreError> {
        self.risk().users.remove(user);
        Ok(())
    }

    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError> {
        let mut data = self.risk();
        let h = data.users.entry(user.clone()).or_default();
        for f in &facts.fingerprints {
            h.fingerprints.insert(f.clone(), facts.at);
        }
        if let Some(c) = &facts.country {
            h.countries.insert(c.clone(), facts.at);
        }
        if let Some(a) = facts.asn {
            h.asns.insert(a, facts.at);
        }
        h.fingerprints.retain(|_, t| *t >= keep_since);
        h.countries.retain(|_, t| *t >= keep_since);
        h.asns.retain(|_, t| *t >= keep_since);
        h.last = Some(PreviousLogin {
            at: facts.at,
            country: facts.country.clone(),
            latitude: facts.latitude,
            longitude: facts.longitude,
        });
        if let Some(ip) = facts.ip {
            let times = data.ip_logins.entry(ip).or_default();
            while times
                .front()
                .is_some_and(|t| *t < keep_since || times.len() >= IP_LOGIN_CAP)
            {
                times.pop_front();
            }
            times.push_back(facts.at);
        }
        Ok(())
    }

    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut data = self.risk();
        // Entries past their expiry can go: the token itself is refused by then.
        if data.used_tokens.len() >= data.prune_used_at.max(MIN_PRUNE_AT) {
            data.used_tokens.retain(|_, exp| *exp > now);
            // Amortised O(1): the next prune waits until the live set doubles.
            data.prune_used_at = data.used_tokens.len().saturating_mul(2);
        }
        // An expired entry still present counts as unused, as a dropped one would.
        if data
            .used_tokens
            .get(token_id)
            .is_some_and(|exp| *exp <= now)
        {
            data.used_tokens.remove(token_id);
        }
        Ok(data
            .used_tokens
            .insert(token_id.to_owned(), expires_at)
            .is_none())
    }
}

#[cfg(all(test, feature = "risk"))]
mod tests {
    use super::*;

    fn facts(at: i64) -> LoginFacts {
        LoginFacts {
            fingerprints: vec!["ua:Firefox|Linux|desktop".into()],
            country: None,
            asn: None,
            ip: Some(IpAddr::from([203, 0, 113, 9])),
            latitude: None,
            longitude: None,
            at: Timestamp::from_unix_millis(at),
        }
    }

    /// A shared address keeps its most recent logins only: memory and the
    /// per-login work stay bounded, and the burst count saturates at the cap.
    #[tokio::test]
    async fn logins_per_address_are_capped() {
        let store = MemoryStore::new();
        let keep_since = Timestamp::from_unix_millis(0);
        for i in 0..1_000 {
            let user = UserId::new(format!("user-{i}")).unwrap();
            store
                .record_login(&user, &facts(1_000 + i), keep_since)
                .await
                .unwrap();
        }
        let kept = store
            .risk()
            .ip_logins
            .values()
            .map(VecDeque::len)
            .sum::<usize>();
        assert_eq!(kept, IP_LOGIN_CAP);
        let someone = UserId::new("someone").unwrap();
        let all = store
            .login_history(&someone, &facts(5_000), keep_since)
            .await
            .unwrap();
        assert_eq!(all.recent_logins_from_ip, IP_LOGIN_CAP as u32);
        // Only the logins since the burst window's start count.
        let recent = store
            .login_history(&someone, &facts(5_000), Timestamp::from_unix_millis(1_990))
            .await
            .unwrap();
        assert_eq!(recent.recent_logins_from_ip, 10);
        // Logins older than what is kept are dropped at the next login.
        store
            .record_login(&someone, &facts(10_000), Timestamp::from_unix_millis(1_995))
            .await
            .unwrap();
        assert_eq!(
            store
                .risk()
                .ip_logins
                .values()
                .map(VecDeque::len)
                .sum::<usize>(),
            6
        );
    }
}
