//! Memory per session, measured with `MEMORY USAGE`, and the guarantee that
//! dead entries do not outlive one purge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use sessionward_core::testing::fresh_user;
use sessionward_core::{
    CreateOutcome, CreateRequest, DeviceClass, DeviceInfo, Location, OnLimit, RefreshState,
    RevokeReason, RiskSignal, RiskSummary, SessionId, SessionLimits, SessionMeta, SessionRecord,
    SessionStore, Timestamp, TokenHash, UserId,
};

fn record(user: &UserId, now: Timestamp, rich: bool) -> SessionRecord {
    let meta = if rich {
        SessionMeta {
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36".into()),
            device: DeviceInfo {
                browser: Some("Chrome".into()),
                browser_version: Some("131.0".into()),
                os: Some("Windows".into()),
                os_version: Some("10".into()),
                device_family: Some("Other".into()),
                ..DeviceInfo::default()
            },
            location: Location {
                country_code: Some("GB".into()),
                country_name: Some("United Kingdom".into()),
                city: Some("London".into()),
                latitude: Some(51.5142),
                longitude: Some(-0.0931),
                accuracy_radius_km: Some(10),
                ..Location::default()
            },
            risk: RiskSummary {
                score: 20,
                level: "low".into(),
                signals: vec![RiskSignal {
                    name: "new_device".into(),
                    weight: 20,
                    reason: "first login from this device".into(),
                }],
            },
        }
    } else {
        SessionMeta::default()
    };
    SessionRecord {
        user: user.clone(),
        id: SessionId::generate(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus(Duration::from_secs(12 * 3600)),
        auth_time: now,
        refresh: RefreshState {
            hash: TokenHash::of(SessionId::generate().as_str().as_bytes()),
            generation: 0,
            rotated_at: now,
        },
        revoked: None,
        ip: Some("81.2.69.142".parse().unwrap()),
        device_class: DeviceClass::Desktop,
        country: Some("GB".into()),
        meta,
    }
}

fn unlimited() -> SessionLimits {
    SessionLimits {
        per_user: None,
        per_ip: None,
        per_device_class: Vec::new(),
        max_countries: None,
        on_limit: OnLimit::RejectNew,
    }
}

async fn create(store: &dyn SessionStore, r: SessionRecord, now: Timestamp) {
    let out = store
        .create(CreateRequest {
            session: r,
            limits: unlimited(),
            now,
            idle_cutoff: now.minus(Duration::from_secs(1800)),
            replaces: None,
        })
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::Created { .. }));
}

#[tokio::test]
async fn memory_per_session() {
    let Some(store) = common::store().await else {
        return;
    };
    // Real time: the purge test in this process uses fixed 2026-01-01 times
    // and purges everything that ended by 2026-01-02.
    let now = sessionward_core::Clock::now(&sessionward_core::SystemClock);
    for rich in [false, true] {
        let user = fresh_user();
        let mut usage = Vec::new();
        for n in 1..=20 {
            create(&store, record(&user, now, rich), now).await;
            if [1, 5, 20].contains(&n) {
                let bytes = store.memory_usage(&user).await.unwrap().unwrap();
                usage.push((n, bytes));
            }
        }
        let kind = if rich { "rich" } else { "bare" };
        for (n, bytes) in &usage {
            println!(
                "{kind}: {n:>2} sessions -> MEMORY USAGE {bytes} bytes = {} bytes/session (key included)",
                bytes / n
            );
        }
        let marginal = (usage[2].1 - usage[1].1) / 15;
        println!("{kind}: marginal {marginal} bytes/session (5 -> 20)");
        assert!(usage[1].1 / 5 < 1024, "well under 1 KB per session");
    }
}

#[tokio::test]
async fn dead_entries_do_not_outlive_one_purge() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let now = Timestamp::from_unix_millis(1_767_225_600_000);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = record(&user, now, false);
        ids.push(r.id.clone());
        create(&store, r, now).await;
    }
    store
        .revoke(&user, &ids[0], RevokeReason::User, now)
        .await
        .unwrap();
    assert_eq!(store.list(&user).await.unwrap().len(), 5, "tombstone kept");
    // A later, longer session keeps the user's hash alive past the others.
    let later = now.plus(Duration::from_secs(6 * 3600));
    create(&store, record(&user, later, false), later).await;
    let after = now.plus(Duration::from_secs(12 * 3600));
    let purged = store.purge_expired(after).await.unwrap();
    assert!(purged >= 5, "purged {purged}");
    let left = store.list(&user).await.unwrap();
    assert_eq!(left.len(), 1, "only the live session is left");
    assert!(left.iter().all(|r| r.expires_at > after));
    // Creating past the end of every other entry also drops them.
    let user2 = fresh_user();
    create(&store, record(&user2, now, false), now).await;
    create(&store, record(&user2, after, false), after).await;
    assert_eq!(store.list(&user2).await.unwrap().len(), 1);
}
