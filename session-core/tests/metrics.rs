//! The documented metrics (feature `metrics`), read back from a recorder:
//! each one moves when, and only when, its event happens.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use sessionward_core::metrics::{
    AUTHENTICATE_SECONDS, EVICTIONS, FEED_CONNECTED, FEED_EVENTS, FEED_LAG_SECONDS, LIMIT_HITS,
    LOGINS, REFRESHES, REJECTIONS, REUSE_DETECTIONS, REVOCATIONS, STORE_ERRORS,
};
use sessionward_core::testing::web::FlakyStore;
use sessionward_core::testing::{Harness, fresh_user};
use sessionward_core::{
    Clock, ManualClock, MemoryStore, OnLimit, RequestContext, RevocationMode, RevokeReason,
    SessionPolicy, SystemClock,
};

/// A metric's total so far.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Counter(u64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

/// Totals read from the recorder. Each snapshot drains what was recorded
/// since the last one, so every read folds it into running totals.
struct Meter {
    snapshotter: Snapshotter,
    seen: HashMap<(String, Vec<(String, String)>), Seen>,
}

impl Meter {
    fn read(&mut self, name: &str, labels: &[(&str, &str)]) -> Option<Seen> {
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let key = key.key();
            let mut key_labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            key_labels.sort();
            let entry = self.seen.entry((key.name().to_owned(), key_labels));
            match (entry, value) {
                (Entry::Occupied(mut o), DebugValue::Counter(n)) => {
                    if let Seen::Counter(total) = o.get_mut() {
                        *total += n;
                    }
                }
                (Entry::Occupied(mut o), DebugValue::Histogram(v)) => {
                    if let Seen::Histogram(all) = o.get_mut() {
                        all.extend(v.into_iter().map(|x| x.into_inner()));
                    }
                }
                (Entry::Occupied(mut o), DebugValue::Gauge(g)) => {
                    o.insert(Seen::Gauge(g.into_inner()));
                }
                (Entry::Vacant(e), DebugValue::Counter(n)) => {
                    e.insert(Seen::Counter(n));
                }
                (Entry::Vacant(e), DebugValue::Gauge(g)) => {
                    e.insert(Seen::Gauge(g.into_inner()));
                }
                (Entry::Vacant(e), DebugValue::Histogram(v)) => {
                    e.insert(Seen::Histogram(
                        v.into_iter().map(|x| x.into_inner()).collect(),
                    ));
                }
            }
        }
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        self.seen.get(&(name.to_owned(), want)).cloned()
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.read(name, labels) {
            Some(Seen::Counter(n)) => n,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }

    fn samples(&mut self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.read(name, labels) {
            Some(Seen::Histogram(v)) => v,
            None => Vec::new(),
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
        }
    }
}

// One test: the recorder is process-global, and the counters are read as
// differences around each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_metric_moves_with_its_event() {
    let recorder = DebuggingRecorder::new();
    let mut s = Meter {
        snapshotter: recorder.snapshotter(),
        seen: HashMap::new(),
    };
    recorder.install().unwrap();

    let policy = SessionPolicy::builder()
        .max_sessions_per_user(2)
        .on_limit(OnLimit::EvictLeastRecentlyUsed)
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let h = Harness::new(store.clone(), policy.clone());
    let (m, ctx, alice) = (&h.manager, RequestContext::new(), fresh_user());

    // Logins, the limit, the eviction.
    let first = m.login(&alice, &ctx).await.unwrap();
    h.clock.advance(Duration::from_secs(2));
    let second = m.login(&alice, &ctx).await.unwrap();
    h.clock.advance(Duration::from_secs(2));
    assert_eq!(s.counter(LOGINS, &[]), 2);
    assert_eq!(s.counter(EVICTIONS, &[]), 0);
    let third = m.login(&alice, &ctx).await.unwrap();
    assert_eq!(s.counter(LOGINS, &[]), 3);
    let hit = [
        ("limit", "per_user"),
        ("action", "evict_least_recently_used"),
    ];
    assert_eq!(s.counter(LIMIT_HITS, &hit), 1);
    assert_eq!(s.counter(EVICTIONS, &[]), 1);
    assert_eq!(s.counter(REVOCATIONS, &[("reason", "evicted")]), 1);

    // Authentication: ok, refused (ended, garbage), each timed.
    m.authenticate(third.tokens.access_token.expose_secret())
        .await
        .unwrap();
    assert_eq!(
        s.samples(AUTHENTICATE_SECONDS, &[("outcome", "ok")]).len(),
        1
    );
    assert!(
        m.authenticate(first.tokens.access_token.expose_secret())
            .await
            .is_err()
    );
    assert_eq!(s.counter(REJECTIONS, &[("reason", "session_ended")]), 1);
    assert!(m.authenticate("not a token").await.is_err());
    assert_eq!(s.counter(REJECTIONS, &[("reason", "malformed")]), 1);
    assert_eq!(
        s.samples(AUTHENTICATE_SECONDS, &[("outcome", "refused")])
            .len(),
        2
    );

    // Rotation, then the rotated token again: reuse revokes the session.
    m.refresh(&second.tokens.refresh_token).await.unwrap();
    assert_eq!(s.counter(REFRESHES, &[]), 1);
    h.clock.advance(Duration::from_secs(60));
    assert!(m.refresh(&second.tokens.refresh_token).await.is_err());
    assert_eq!(s.counter(REUSE_DETECTIONS, &[]), 1);
    assert_eq!(
        s.counter(REVOCATIONS, &[("reason", "refresh_token_reuse")]),
        1
    );

    // A store that stops answering: counted by kind, and authenticate as an error.
    let flaky = FlakyStore::default();
    let down = Harness::new(Arc::new(flaky.clone()), policy.clone());
    let bob = fresh_user();
    let login = down.manager.login(&bob, &ctx).await.unwrap();
    flaky.set_down(true);
    assert!(
        down.manager
            .authenticate(login.tokens.access_token.expose_secret())
            .await
            .is_err()
    );
    assert_eq!(s.counter(STORE_ERRORS, &[("kind", "unavailable")]), 1);
    assert_eq!(
        s.samples(AUTHENTICATE_SECONDS, &[("outcome", "error")])
            .len(),
        1
    );

    // The feed of a cached-mode manager: connection state, messages, lag.
    let cached = Harness::with_mode(
        store.clone(),
        policy,
        RevocationMode::cached(),
        ManualClock::new(SystemClock.now()),
    );
    for _ in 0..200 {
        if cached.manager.is_cache_live() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cached.manager.is_cache_live());
    assert_eq!(s.read(FEED_CONNECTED, &[]), Some(Seen::Gauge(1.0)));
    assert_eq!(s.counter(FEED_EVENTS, &[("kind", "connected")]), 1);
    m.revoke(&alice, &third.session.id, RevokeReason::User)
        .await
        .unwrap();
    for _ in 0..200 {
        if s.counter(FEED_EVENTS, &[("kind", "revoked")]) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.counter(FEED_EVENTS, &[("kind", "revoked")]), 1);
    let lag = s.samples(FEED_LAG_SECONDS, &[]);
    assert_eq!(
        lag.len(),
        1,
        "the memory store's message carries the revocation time"
    );
    assert!(lag[0] >= 0.0);
    assert_eq!(s.counter(REVOCATIONS, &[("reason", "user")]), 1);
}
