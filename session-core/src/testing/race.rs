//! Randomised interleavings of login, refresh, revoke and authenticate
//! across tasks, checked against the security invariants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::harness::{Harness, fresh_user};
use crate::ids::UserId;
use crate::policy::{OnLimit, SessionPolicy};
use crate::record::{RequestContext, RevokeReason};
use crate::secret::RefreshToken;
use crate::store::SessionStore;

/// Cases per store unless `SESSIONWARD_RACE_CASES` says otherwise.
const DEFAULT_CASES: u64 = 150;

/// SplitMix64: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One session as the test knows it.
struct Known {
    access: String,
    refresh: Mutex<RefreshToken>,
    id: crate::ids::SessionId,
    /// Set once a revoke covering this session has returned.
    revoked: AtomicBool,
}

struct Case {
    h: Harness,
    user: UserId,
    max: usize,
    grace: bool,
    known: Mutex<Vec<Arc<Known>>>,
    redeemed: Mutex<HashSet<String>>,
}

/// Runs `SESSIONWARD_RACE_CASES` (default 150) seeded cases; the seed of a
/// failing case is in the panic message.
pub async fn random_interleavings(store: Arc<dyn SessionStore>) {
    let cases = std::env::var("SESSIONWARD_RACE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let base = std::env::var("SESSIONWARD_RACE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5e55_1017);
    for i in 0..cases {
        run_case(store.clone(), base + i).await;
    }
}

async fn run_case(store: Arc<dyn SessionStore>, seed: u64) {
    let mut rng = Rng(seed);
    let max = 1 + rng.below(3) as usize;
    let on_limit = [
        OnLimit::RejectNew,
        OnLimit::EvictOldest,
        OnLimit::EvictLeastRecentlyUsed,
    ][rng.below(3) as usize];
    let grace = rng.below(2) == 0;
    let policy = SessionPolicy::builder()
        .max_sessions_per_user(max as u32)
        .on_limit(on_limit)
        .refresh_grace(if grace {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        })
        .build()
        .unwrap();
    let case = Arc::new(Case {
        h: Harness::new(store, policy),
        user: fresh_user(),
        max,
        grace,
        known: Mutex::new(Vec::new()),
        redeemed: Mutex::new(HashSet::new()),
    });
    let tasks = 2 + rng.below(4);
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let case = case.clone();
            let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(t));
            tokio::spawn(async move {
                for _ in 0..(3 + rng.below(6)) {
                    step(&case, &mut rng, seed).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await
            .unwrap_or_else(|e| panic!("race case seed {seed} failed: {e}"));
    }
    let active = case.h.manager.list(&case.user, None).await.unwrap().len();
    assert!(
        active <= case.max,
        "seed {seed}: {active} active sessions with a limit of {}",
        case.max
    );
}

fn pick(case: &Case, rng: &mut Rng) -> Option<Arc<Known>> {
    let known = case.known.lock().unwrap();
    (!known.is_empty()).then(|| known[rng.below(known.len() as u64) as usize].clone())
}

async fn step(case: &Case, rng: &mut Rng, seed: u64) {
    let m = &case.h.manager;
    match rng.below(10) {
        0..=2 => {
            if let Ok(l) = m.login(&case.user, &RequestContext::new()).await {
                case.known.lock().unwrap().push(Arc::new(Known {
                    access: l.tokens.access_token.expose_secret().to_owned(),
                    refresh: Mutex::new(l.tokens.refresh_token),
                    id: l.session.id,
                    revoked: AtomicBool::new(false),
                }));
            }
            let active = m.list(&case.user, None).await.unwrap().len();
            assert!(
                active <= case.max,
                "seed {seed}: limit exceeded ({active} > {})",
                case.max
            );
        }
        3..=5 => {
            let Some(k) = pick(case, rng) else { return };
            let revoked_before = k.revoked.load(Ordering::SeqCst);
            let accepted = m.authenticate(&k.access).await.is_ok();
            assert!(
                !(revoked_before && accepted),
                "seed {seed}: access token accepted after its revoke returned"
            );
        }
        6..=7 => {
            let Some(k) = pick(case, rng) else { return };
            let presented = k.refresh.lock().unwrap().clone();
            let revoked_before = k.revoked.load(Ordering::SeqCst);
            if let Ok(r) = m.refresh(&presented).await {
                assert!(
                    !revoked_before,
                    "seed {seed}: refresh accepted after its revoke returned"
                );
                // A token rotates at most once; only grace replays (immediate
                // predecessor, grace enabled) may succeed again.
                if r.grace_replay {
                    assert!(case.grace, "seed {seed}: grace replay with grace disabled");
                } else {
                    let first = case
                        .redeemed
                        .lock()
                        .unwrap()
                        .insert(presented.expose_secret().to_owned());
                    assert!(first, "seed {seed}: a refresh token was rotated twice");
                }
                *k.refresh.lock().unwrap() = r.tokens.refresh_token;
            }
        }
        8 => {
            let Some(k) = pick(case, rng) else { return };
            let _ = m.revoke(&case.user, &k.id, RevokeReason::User).await;
            k.revoked.store(true, Ordering::SeqCst);
        }
        _ => {
            let covered: Vec<Arc<Known>> = case.known.lock().unwrap().clone();
            m.revoke_all(&case.user, RevokeReason::User).await.unwrap();
            for k in covered {
                k.revoked.store(true, Ordering::SeqCst);
            }
        }
    }
}
