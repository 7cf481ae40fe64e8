//! Differential test of the create script against the core's reference
//! (`MemoryStore`, which runs `sessionward_core::admission::plan_admission`):
//! hundreds of random users with random limits, ties, revoked, idle and
//! expired sessions, IPs, classes, countries and `replaces`. Both stores must
//! give the same outcome (limit, evictions in order, replaced session,
//! reported active sessions) and end in the same state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use sessionward_core::testing::fresh_user;
use sessionward_core::{
    AppId, CreateOutcome, CreateRequest, DeviceClass, MemoryStore, OnLimit, RefreshState,
    Revocation, RevokeReason, SessionId, SessionLimits, SessionMeta, SessionRecord, SessionStore,
    Timestamp, TokenHash, UserId,
};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

const T: i64 = 1_767_225_600_000;

fn ts(offset_s: i64) -> Timestamp {
    Timestamp::from_unix_millis(T + offset_s * 1000)
}

fn random_record(rng: &mut Rng, user: &UserId) -> SessionRecord {
    // Few distinct times, so ties (broken by session id) are common.
    let created = ts(-(rng.below(5) as i64) * 100);
    let last_seen = ts(-(rng.below(8) as i64) * 100).max(created);
    let revoked = (rng.below(5) == 0).then(|| Revocation {
        at: ts(-1),
        reason: RevokeReason::Admin,
    });
    SessionRecord {
        user: user.clone(),
        id: SessionId::generate(),
        created_at: created,
        last_seen_at: last_seen,
        expires_at: ts(rng.pick(&[-50, 0, 1000, 3600])),
        auth_time: created,
        refresh: RefreshState {
            hash: TokenHash::of(&rng.next().to_le_bytes()),
            generation: 0,
            rotated_at: created,
        },
        revoked,
        ip: rng
            .pick(&[None, Some("10.0.0.1"), Some("10.0.0.2")])
            .map(|ip| ip.parse().unwrap()),
        device_class: rng.pick(&[
            DeviceClass::Desktop,
            DeviceClass::Mobile,
            DeviceClass::Tablet,
        ]),
        country: rng
            .pick(&[None, Some("GB"), Some("SE"), Some("US")])
            .map(str::to_owned),
        meta: SessionMeta {
            app: rng
                .pick(&[None, None, Some("web"), Some("mobile")])
                .map(|a| AppId::new(a).unwrap()),
            ..SessionMeta::default()
        },
        seen: Default::default(),
    }
}

fn random_limits(rng: &mut Rng) -> SessionLimits {
    SessionLimits {
        per_user: rng.pick(&[None, Some(1), Some(2), Some(3), Some(5)]),
        per_app: rng.pick(&[None, None, Some(1), Some(2)]),
        per_tenant: None,
        per_ip: rng.pick(&[None, None, Some(1), Some(2)]),
        per_device_class: rng.pick(&[
            vec![],
            vec![(DeviceClass::Mobile, 1)],
            vec![(DeviceClass::Desktop, 2), (DeviceClass::Mobile, 1)],
        ]),
        max_countries: rng.pick(&[None, None, Some(1), Some(2)]),
        on_limit: rng.pick(&[
            OnLimit::RejectNew,
            OnLimit::EvictOldest,
            OnLimit::EvictLeastRecentlyUsed,
        ]),
    }
}

/// The comparable part of an outcome.
fn summary(outcome: &CreateOutcome) -> String {
    match outcome {
        CreateOutcome::Created {
            limit,
            evicted,
            replaced,
            ended,
        } => format!(
            "created limit={limit:?} evicted={:?} replaced={:?} ended={:?}",
            evicted.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            replaced.as_ref().map(|r| r.id.as_str()),
            ended.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ),
        CreateOutcome::LimitReached { limit, active } => {
            let mut ids: Vec<_> = active.iter().map(|r| r.id.as_str()).collect();
            ids.sort();
            format!("rejected limit={limit:?} active={ids:?}")
        }
        CreateOutcome::CredentialsRevoked { not_before } => format!("not before {not_before:?}"),
    }
}

/// Stored state, ignoring entries past their end (Redis drops those on create).
async fn state(store: &dyn SessionStore, user: &UserId, now: Timestamp) -> Vec<String> {
    let mut v: Vec<String> = store
        .list(user)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.expires_at > now)
        .map(|r| format!("{} {:?} {:?}", r.id, r.revoked, r.last_seen_at))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn create_script_matches_plan_admission() {
    let Some(redis) = common::store().await else {
        return;
    };
    let mut rng = Rng(0x5E55_1014_D00D_F00D);
    let now = ts(0);
    let cutoff = now.minus(Duration::from_secs(500));
    let (mut created, mut rejected, mut evicting, mut refused) = (0, 0, 0, 0);
    for case in 0..400 {
        let memory = MemoryStore::new();
        let user = fresh_user();
        let existing: Vec<SessionRecord> = (0..rng.below(9))
            .map(|_| random_record(&mut rng, &user))
            .collect();
        // Some users changed their password before: a mark the request's
        // credential time may predate.
        let marked = rng.below(4) == 0;
        if marked {
            for store in [&redis as &dyn SessionStore, &memory] {
                store
                    .revoke_all(&user, None, RevokeReason::PasswordChange, ts(-10))
                    .await
                    .unwrap();
            }
        }
        for r in &existing {
            for store in [&redis as &dyn SessionStore, &memory] {
                let out = store
                    .create(CreateRequest {
                        session: r.clone(),
                        limits: common::unlimited(),
                        now: Timestamp::from_unix_millis(0),
                        idle_cutoff: Timestamp::from_unix_millis(-1),
                        replaces: None,
                        ends: Vec::new(),
                        credential_verified_at: ts(10_000),
                        touch_interval: Duration::from_secs(60),
                        keep_ended_for: std::time::Duration::ZERO,
                    })
                    .await
                    .unwrap();
                assert!(matches!(out, CreateOutcome::Created { .. }));
            }
        }
        let mut new = random_record(&mut rng, &user);
        new.revoked = None;
        new.created_at = now;
        new.last_seen_at = now;
        new.expires_at = ts(7200);
        let replaces = match rng.below(4) {
            0 if !existing.is_empty() => Some(rng.pick(&existing).id),
            1 => Some(SessionId::generate()),
            _ => None,
        };
        // Some logins end sessions the user chose ("sign out a device and
        // continue"), unknown ids among them.
        let ends = match rng.below(4) {
            0 => existing
                .iter()
                .filter(|_| rng.below(2) == 0)
                .map(|r| r.id.clone())
                .chain(std::iter::once(SessionId::generate()))
                .collect(),
            _ => Vec::new(),
        };
        let request = CreateRequest {
            session: new,
            limits: random_limits(&mut rng),
            now,
            idle_cutoff: cutoff,
            replaces,
            ends,
            credential_verified_at: ts(rng.pick(&[-20, -10, 0])),
            touch_interval: Duration::from_secs(rng.pick(&[60, 300])),
            keep_ended_for: std::time::Duration::ZERO,
        };
        let want = memory.create(request.clone()).await.unwrap();
        let got = redis.create(request.clone()).await.unwrap();
        assert_eq!(
            summary(&got),
            summary(&want),
            "case {case}: {:?}\nexisting: {existing:#?}",
            request.limits
        );
        assert_eq!(
            state(&redis, &user, now).await,
            state(&memory, &user, now).await,
            "case {case}: stored state differs"
        );
        match &want {
            CreateOutcome::Created { evicted, .. } => {
                created += 1;
                if !evicted.is_empty() {
                    evicting += 1;
                }
            }
            CreateOutcome::CredentialsRevoked { .. } => refused += 1,
            _ => rejected += 1,
        }
    }
    println!(
        "400 cases: {created} created ({evicting} with evictions), {rejected} rejected, {refused} refused by the mark"
    );
    assert!(
        evicting > 20 && rejected > 20 && refused > 10,
        "the generator covers all paths"
    );
}
