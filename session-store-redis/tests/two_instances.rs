//! Two app instances (two stores, two managers) on one Redis: a revocation on
//! A is refused by B on its next call (strict) or within milliseconds (cached).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessionward_core::testing::{Harness, fresh_user};
use sessionward_core::{
    Clock, ManualClock, RequestContext, RevocationMode, RevokeReason, SessionPolicy, SessionStore,
    SystemClock,
};

fn ctx() -> RequestContext {
    RequestContext::new()
        .with_user_agent("test/desktop/GB")
        .with_ip("81.2.69.142".parse().unwrap())
}

async fn two(mode: RevocationMode) -> Option<(Harness, Harness)> {
    let a: Arc<dyn SessionStore> = Arc::new(common::store().await?);
    let b: Arc<dyn SessionStore> = Arc::new(common::store().await?);
    let clock = ManualClock::new(SystemClock.now());
    Some((
        Harness::with_mode(a, SessionPolicy::default(), mode, clock.clone()),
        Harness::with_mode(b, SessionPolicy::default(), mode, clock),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_other_instance_rejects_on_next_call() {
    let Some((a, b)) = two(RevocationMode::Strict).await else {
        return;
    };
    let user = fresh_user();
    let l = a.manager.login(&user, &ctx()).await.unwrap();
    let token = l.tokens.access_token.expose_secret();
    b.manager.authenticate(token).await.unwrap();
    a.manager
        .revoke(&user, &l.session.id, RevokeReason::User)
        .await
        .unwrap();
    let started = Instant::now();
    assert!(b.manager.authenticate(token).await.is_err());
    assert!(b.manager.refresh(&l.tokens.refresh_token).await.is_err());
    println!(
        "strict: B refused on its very next call ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_mode_other_instance_rejects_within_milliseconds() {
    let Some((a, b)) = two(RevocationMode::cached()).await else {
        return;
    };
    let started = Instant::now();
    while !(a.manager.is_cache_live() && b.manager.is_cache_live()) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "feeds never connected"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut samples = Vec::new();
    for _ in 0..20 {
        let user = fresh_user();
        let l = a.manager.login(&user, &ctx()).await.unwrap();
        let token = l.tokens.access_token.expose_secret();
        // Warm B's cache so it would accept without a store read.
        b.manager.authenticate(token).await.unwrap();
        b.manager.authenticate(token).await.unwrap();
        let revoked_at = Instant::now();
        a.manager
            .revoke(&user, &l.session.id, RevokeReason::User)
            .await
            .unwrap();
        let revoke_returned = revoked_at.elapsed();
        loop {
            if b.manager.authenticate(token).await.is_err() {
                break;
            }
            assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "B never saw the revocation"
            );
            tokio::task::yield_now().await;
        }
        samples.push((revoke_returned, revoked_at.elapsed()));
    }
    let mut total: Vec<Duration> = samples.iter().map(|s| s.1).collect();
    total.sort();
    println!(
        "cached: revoke on A -> refused on B: median {:?}, max {:?} (revoke call itself median {:?})",
        total[total.len() / 2],
        total[total.len() - 1],
        {
            let mut r: Vec<Duration> = samples.iter().map(|s| s.0).collect();
            r.sort();
            r[r.len() / 2]
        }
    );
    assert!(total[total.len() - 1] < Duration::from_millis(500));
}
