//! Cross-account detectors over the event stream: patterns no single
//! session shows. [`DetectingSink`] watches the events the manager emits
//! (in process, in memory bounded by [`DetectionPolicy::max_tracked`], over
//! a sliding [`DetectionPolicy::window`] of event time, so the injected
//! clock drives it), passes every event on, and adds one when a pattern
//! crosses its threshold:
//!
//! | event | fires when, within the window |
//! |---|---|
//! | `authn_credential_stuffing` | one network (an IPv4 /24 or IPv6 /48 by default) signed in to [`accounts_per_network`](DetectionPolicy::accounts_per_network) distinct accounts |
//! | `authn_account_many_networks` | one account signed in or refreshed from [`networks_per_account`](DetectionPolicy::networks_per_account) distinct networks (shared credentials, or a takeover) |
//! | `authn_token_reuse_burst` | refresh-token reuses in [`reuse_detections`](DetectionPolicy::reuse_detections) distinct accounts (a stolen token store being replayed) |
//!
//! Each fires once per key and window (again only after a full window
//! without it), and counts `sessionward_detections_total{detector}` with
//! feature `metrics`. A detection is a signal for people and SIEMs: it
//! ends nothing itself (operators do, see `docs/operations.md`).
//!
//! ```
//! use std::sync::Arc;
//! use sessionward_core::detect::{DetectingSink, DetectionPolicy};
//! use sessionward_core::events::TracingSink;
//! let sink = DetectingSink::new(Arc::new(TracingSink), DetectionPolicy::default());
//! // SessionManager::builder(policy, tokens, store).events(Arc::new(sink))
//! # let _ = sink;
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::events::{EventKind, EventSink, SecurityEvent};
use crate::ids::UserId;
use crate::time::Timestamp;

/// Thresholds and bounds of the detectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectionPolicy {
    /// How far back each count looks (default 10 minutes).
    pub window: Duration,
    /// Distinct accounts one network may sign in to within the window
    /// before `authn_credential_stuffing` (default 20; 0 turns it off).
    pub accounts_per_network: u32,
    /// Distinct networks one account may be used from within the window
    /// before `authn_account_many_networks` (default 4; 0 turns it off).
    pub networks_per_account: u32,
    /// Accounts whose refresh tokens were reused within the window before
    /// `authn_token_reuse_burst` (default 5; 0 turns it off).
    pub reuse_detections: u32,
    /// The IPv4 prefix that makes one network (default 24).
    pub ipv4_prefix: u8,
    /// The IPv6 prefix that makes one network (default 48).
    pub ipv6_prefix: u8,
    /// Most networks, and most accounts, tracked at once (default 100,000
    /// each, at least 1): past it the least recently seen is forgotten, so
    /// a flood of addresses costs bounded memory: at most this many keys,
    /// each with up to its threshold of members (an account id or an
    /// address, and a time).
    pub max_tracked: usize,
}

impl Default for DetectionPolicy {
    fn default() -> Self {
        DetectionPolicy {
            window: Duration::from_secs(10 * 60),
            accounts_per_network: 20,
            networks_per_account: 4,
            reuse_detections: 5,
            ipv4_prefix: 24,
            ipv6_prefix: 48,
            max_tracked: 100_000,
        }
    }
}

/// What a cross-account detection saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternDetail {
    /// How many distinct accounts, networks or reuses were counted.
    pub count: u32,
    /// The threshold it reached.
    pub threshold: u32,
    /// The window, in seconds.
    pub window_secs: u64,
    /// The network (CIDR), for the per-network and per-account detectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// Distinct members seen per key within the window, each with its latest
/// time; bounded per key by the threshold (more than that adds nothing).
#[derive(Debug)]
struct Tally<M> {
    members: Vec<(M, Timestamp)>,
    last: Timestamp,
    alerted: Option<Timestamp>,
}

impl<M> Default for Tally<M> {
    fn default() -> Self {
        Tally {
            members: Vec::new(),
            last: Timestamp::EPOCH,
            alerted: None,
        }
    }
}

impl<M: PartialEq> Tally<M> {
    /// Notes `member` at `at`; the distinct count within `window` after it.
    fn note(&mut self, member: M, at: Timestamp, window: Duration, cap: usize) -> usize {
        let since = at.minus(window);
        self.members.retain(|(_, t)| *t > since);
        let room = self.members.len() < cap;
        match self.members.iter_mut().find(|(m, _)| *m == member) {
            Some((_, t)) => *t = (*t).max(at),
            None if room => self.members.push((member, at)),
            None => {}
        }
        self.last = self.last.max(at);
        self.members.len()
    }

    /// Whether a detection at `at` is new (none within the last window).
    fn first_alert(&mut self, at: Timestamp, window: Duration) -> bool {
        if self.alerted.is_some_and(|t| at.since(t) < window) {
            return false;
        }
        self.alerted = Some(at);
        true
    }
}

#[derive(Debug, Default)]
struct State {
    by_network: HashMap<IpAddr, Tally<UserId>>,
    by_account: HashMap<UserId, Tally<IpAddr>>,
    reuses: VecDeque<(Timestamp, Option<UserId>)>,
    reuse_alerted: Option<Timestamp>,
}

/// Forgets the least recently seen keys once `map` holds more than `max`.
fn bound<K: Clone + Eq + std::hash::Hash, M>(map: &mut HashMap<K, Tally<M>>, max: usize) {
    if map.len() <= max {
        return;
    }
    // Drop the oldest tenth at once, so the scan is rare.
    let mut ages: Vec<(Timestamp, K)> = map.iter().map(|(k, t)| (t.last, k.clone())).collect();
    let drop = (map.len() - max).max(max / 10).min(ages.len());
    ages.select_nth_unstable_by_key(drop.saturating_sub(1), |(t, _)| *t);
    for (_, k) in ages.into_iter().take(drop) {
        map.remove(&k);
    }
}

/// An [`EventSink`] that passes every event to `inner` and adds the
/// cross-account detections (see the [module docs](self)).
pub struct DetectingSink {
    inner: Arc<dyn EventSink>,
    policy: DetectionPolicy,
    state: Mutex<State>,
}

impl std::fmt::Debug for DetectingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectingSink")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl DetectingSink {
    /// Watches the events on their way to `inner`.
    pub fn new(inner: Arc<dyn EventSink>, mut policy: DetectionPolicy) -> Self {
        // Tracking nothing would switch every detector off unsaid.
        policy.max_tracked = policy.max_tracked.max(1);
        DetectingSink {
            inner,
            policy,
            state: Mutex::new(State::default()),
        }
    }

    /// The network `ip` belongs to, by the policy's prefixes.
    pub fn network_of(&self, ip: IpAddr) -> IpAddr {
        let ip = ip.to_canonical();
        let prefix = if ip.is_ipv4() {
            self.policy.ipv4_prefix.min(32)
        } else {
            self.policy.ipv6_prefix.min(128)
        };
        crate::directory::IpNetwork::new(ip, prefix).map_or(ip, |n| n.addr())
    }

    fn cidr(&self, network: IpAddr) -> String {
        let prefix = if network.is_ipv4() {
            self.policy.ipv4_prefix.min(32)
        } else {
            self.policy.ipv6_prefix.min(128)
        };
        format!("{network}/{prefix}")
    }

    /// The detections `event` completes.
    fn observe(&self, event: &SecurityEvent) -> Vec<SecurityEvent> {
        let p = &self.policy;
        let at = event.at;
        let mut found = Vec::new();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let detail = |count: usize, threshold: u32, network: Option<String>| PatternDetail {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            threshold,
            window_secs: p.window.as_secs(),
            network,
        };
        match (&event.kind, &event.user, event.ip) {
            (EventKind::SessionCreated, Some(user), Some(ip)) => {
                let network = self.network_of(ip);
                if p.accounts_per_network > 0 {
                    let cap = p.accounts_per_network as usize;
                    let tally = state.by_network.entry(network).or_default();
                    let n = tally.note(user.clone(), at, p.window, cap);
                    if n >= cap && tally.first_alert(at, p.window) {
                        let mut alert = SecurityEvent::new(
                            at,
                            EventKind::CredentialStuffing(detail(
                                n,
                                p.accounts_per_network,
                                Some(self.cidr(network)),
                            )),
                        );
                        alert.ip = Some(ip);
                        found.push(alert);
                    }
                    bound(&mut state.by_network, p.max_tracked);
                }
                self.note_account(&mut state, user, network, event, &mut found);
            }
            // A refresh is use from where it came (the session's latest
            // use), else from where it signed in.
            (EventKind::SessionRenewed { .. }, Some(user), ip) => {
                if let Some(ip) = event.last_seen_ip.or(ip) {
                    let network = self.network_of(ip);
                    self.note_account(&mut state, user, network, event, &mut found);
                }
            }
            (EventKind::TokenReuse { .. }, user, _) if p.reuse_detections > 0 => {
                let since = at.minus(p.window);
                state.reuses.retain(|(t, _)| *t > since);
                // One entry per account: a burst is many accounts' tokens.
                state.reuses.retain(|(_, u)| u.is_none() || u != user);
                state.reuses.push_back((at, user.clone()));
                let cap = p.reuse_detections as usize;
                while state.reuses.len() > cap {
                    state.reuses.pop_front();
                }
                let fresh = state.reuse_alerted.is_none_or(|t| at.since(t) >= p.window);
                if state.reuses.len() >= cap && fresh {
                    state.reuse_alerted = Some(at);
                    found.push(SecurityEvent::new(
                        at,
                        EventKind::TokenReuseBurst(detail(cap, p.reuse_detections, None)),
                    ));
                }
            }
            _ => {}
        }
        found
    }

    fn note_account(
        &self,
        state: &mut State,
        user: &UserId,
        network: IpAddr,
        event: &SecurityEvent,
        found: &mut Vec<SecurityEvent>,
    ) {
        let p = &self.policy;
        if p.networks_per_account == 0 {
            return;
        }
        let cap = p.networks_per_account as usize;
        let tally = state.by_account.entry(user.clone()).or_default();
        let n = tally.note(network, event.at, p.window, cap);
        if n >= cap && tally.first_alert(event.at, p.window) {
            let detail = PatternDetail {
                count: u32::try_from(n).unwrap_or(u32::MAX),
                threshold: p.networks_per_account,
                window_secs: p.window.as_secs(),
                network: Some(self.cidr(network)),
            };
            let mut alert = SecurityEvent::new(event.at, EventKind::AccountManyNetworks(detail));
            alert.user = Some(user.clone());
            alert.ip = event.ip;
            found.push(alert);
        }
        bound(&mut state.by_account, p.max_tracked);
    }

    /// How many networks and accounts are tracked now (for tests and
    /// capacity checks).
    pub fn tracked(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (state.by_network.len(), state.by_account.len())
    }
}

impl EventSink for DetectingSink {
    fn record(&self, event: &SecurityEvent) {
        self.inner.record(event);
        for alert in self.observe(event) {
            #[cfg(feature = "metrics")]
            crate::metrics::detection(&alert);
            self.inner.record(&alert);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::MemorySink;
    use crate::policy::SessionPolicy;
    use crate::record::RequestContext;
    use crate::testing::Harness;
    use crate::{Clock, ManualClock, MemoryStore, SystemClock};

    fn watched(policy: DetectionPolicy) -> (Harness, Arc<MemorySink>, Arc<DetectingSink>) {
        let out = Arc::new(MemorySink::new(10_000));
        let sink = Arc::new(DetectingSink::new(out.clone(), policy));
        let events: Arc<dyn EventSink> = sink.clone();
        let unlimited = SessionPolicy::builder()
            .unlimited_sessions_per_user()
            .build()
            .unwrap();
        let h = Harness::customised(
            Arc::new(MemoryStore::new()),
            unlimited,
            ManualClock::new(SystemClock.now()),
            |b| b.events(events),
        );
        (h, out, sink)
    }

    fn from(ip: &str) -> RequestContext {
        RequestContext::new().with_ip(ip.parse().unwrap())
    }

    fn named(out: &MemorySink, name: &str) -> Vec<SecurityEvent> {
        out.events()
            .into_iter()
            .filter(|e| e.kind.name() == name)
            .collect()
    }

    #[tokio::test]
    async fn one_network_into_many_accounts_is_credential_stuffing() {
        let (h, out, _) = watched(DetectionPolicy::default());
        for i in 0..25 {
            h.clock.advance(Duration::from_secs(10));
            let user = UserId::new(format!("victim-{i}")).unwrap();
            h.manager
                .login(&user, &from(&format!("203.0.113.{i}")))
                .await
                .unwrap();
        }
        let alerts = named(&out, "authn_credential_stuffing");
        assert_eq!(alerts.len(), 1, "once per window");
        let EventKind::CredentialStuffing(d) = &alerts[0].kind else {
            unreachable!()
        };
        assert_eq!(
            (d.count, d.threshold, d.network.as_deref()),
            (20, 20, Some("203.0.113.0/24"))
        );
        assert_eq!(alerts[0].level, crate::events::Level::Critical);
        // A window later, a fresh wave fires again.
        h.clock.advance(Duration::from_secs(11 * 60));
        for i in 0..20 {
            let user = UserId::new(format!("second-{i}")).unwrap();
            h.manager
                .login(&user, &from(&format!("203.0.113.{i}")))
                .await
                .unwrap();
        }
        assert_eq!(named(&out, "authn_credential_stuffing").len(), 2);
    }

    #[tokio::test]
    async fn logins_spread_past_the_window_are_not_stuffing() {
        let (h, out, _) = watched(DetectionPolicy::default());
        for i in 0..40 {
            h.clock.advance(Duration::from_secs(60));
            let user = UserId::new(format!("office-{i}")).unwrap();
            h.manager
                .login(&user, &from("198.51.100.20"))
                .await
                .unwrap();
        }
        assert!(
            named(&out, "authn_credential_stuffing").is_empty(),
            "10 per window at most"
        );
        // Other networks, and the same account again, never add up.
        for n in 0..30 {
            let user = UserId::new("office-0").unwrap();
            h.manager
                .login(&user, &from(&format!("192.0.{n}.1")))
                .await
                .unwrap();
        }
        assert!(named(&out, "authn_credential_stuffing").is_empty());
    }

    #[tokio::test]
    async fn one_account_from_many_networks_at_once() {
        let (h, out, _) = watched(DetectionPolicy::default());
        let user = UserId::new("shared").unwrap();
        for net in ["192.0.2.7", "192.0.2.8", "198.51.100.1", "203.0.113.1"] {
            h.manager.login(&user, &from(net)).await.unwrap();
        }
        assert!(
            named(&out, "authn_account_many_networks").is_empty(),
            "three networks"
        );
        let login = h
            .manager
            .login(&user, &from("2001:db8:1::1"))
            .await
            .unwrap();
        let alerts = named(&out, "authn_account_many_networks");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].user.as_ref(), Some(&user));
        // Refreshes count as use from their network, and the alert is not repeated.
        h.clock.advance(Duration::from_secs(30));
        let ctx = from("2001:db8:2::1");
        h.manager
            .refresh_with(&login.tokens.refresh_token, &ctx)
            .await
            .unwrap();
        assert_eq!(named(&out, "authn_account_many_networks").len(), 1);
    }

    #[test]
    fn a_burst_of_reuse_across_accounts() {
        let out = Arc::new(MemorySink::new(100));
        let sink = DetectingSink::new(out.clone(), DetectionPolicy::default());
        let start = Timestamp::from_unix_millis(1_800_000_000_000);
        let reuse = |minutes: u64, user: &str| {
            let mut e = SecurityEvent::new(
                start.plus(Duration::from_secs(minutes * 60)),
                EventKind::TokenReuse {
                    presented_generation: 0,
                    current_generation: 1,
                },
            );
            e.user = Some(UserId::new(user).unwrap());
            e
        };
        for (m, u) in [(0, "a"), (3, "b"), (6, "c"), (9, "d"), (12, "e"), (15, "f")] {
            sink.record(&reuse(m, u));
        }
        assert!(
            named(&out, "authn_token_reuse_burst").is_empty(),
            "never 5 within 10 minutes"
        );
        for _ in 0..5 {
            sink.record(&reuse(16, "g"));
        }
        assert!(
            named(&out, "authn_token_reuse_burst").is_empty(),
            "one account's reuses are one"
        );
        for u in ["h", "i", "j"] {
            sink.record(&reuse(16, u));
        }
        let alerts = named(&out, "authn_token_reuse_burst");
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            out.events().len(),
            15,
            "every event passed on, plus the detection"
        );
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_a_flood_of_networks() {
        let policy = DetectionPolicy {
            max_tracked: 100,
            ..DetectionPolicy::default()
        };
        let (h, _, sink) = watched(policy);
        for i in 0..1_000u32 {
            let user = UserId::new(format!("u{i}")).unwrap();
            let ip = format!("10.{}.{}.1", i / 256, i % 256);
            h.manager.login(&user, &from(&ip)).await.unwrap();
        }
        let (networks, accounts) = sink.tracked();
        assert!(
            networks <= 100 && accounts <= 100,
            "{networks} networks, {accounts} accounts"
        );
    }

    #[test]
    fn networks_follow_the_policy_prefixes() {
        let sink = DetectingSink::new(Arc::new(MemorySink::new(1)), DetectionPolicy::default());
        assert_eq!(
            sink.network_of("203.0.113.77".parse().unwrap()),
            "203.0.113.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            sink.network_of("::ffff:203.0.113.77".parse().unwrap()),
            "203.0.113.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            sink.network_of("2001:db8:aa:bb::1".parse().unwrap()),
            "2001:db8:aa::".parse::<IpAddr>().unwrap()
        );
    }
}
