//! Memory per session, measured with `MEMORY USAGE`, and the guarantee that
//! dead entries do not outlive one purge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{create, record};
use sessionward_core::testing::fresh_user;
use sessionward_core::{RevokeReason, SessionStore, Timestamp};

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
