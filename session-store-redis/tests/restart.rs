//! Redis goes away and comes back: calls fail closed with `Unavailable`
//! within a bounded time, then succeed again without rebuilding anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessionward_core::testing::{Harness, fresh_user};
use sessionward_core::{
    Clock, ManualClock, RequestContext, RevocationMode, SessionPolicy, SessionStore, SystemClock,
};
use sessionward_redis::{RedisStore, RedisStoreConfig};

fn ctx() -> RequestContext {
    RequestContext::new()
        .with_user_agent("test/desktop/GB")
        .with_ip("81.2.69.142".parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_fails_closed_then_recovers() {
    let Some(mut server) = common::PrivateRedis::start(&[]) else {
        return;
    };
    let config = RedisStoreConfig::default()
        .with_operation_timeout(Duration::from_millis(800))
        .with_connection_timeout(Duration::from_millis(300))
        .with_response_timeout(Duration::from_millis(300))
        .with_feed_heartbeat(Duration::from_millis(200));
    let store = RedisStore::connect(&server.url(), config).await.unwrap();
    let dyn_store: Arc<dyn SessionStore> = Arc::new(store.clone());
    let clock = ManualClock::new(SystemClock.now());
    let strict = Harness::with_mode(
        dyn_store.clone(),
        SessionPolicy::default(),
        RevocationMode::Strict,
        clock.clone(),
    );
    let cached = Harness::with_mode(
        dyn_store.clone(),
        SessionPolicy::default(),
        RevocationMode::cached(),
        clock.clone(),
    );
    let user = fresh_user();
    let login = strict.manager.login(&user, &ctx()).await.unwrap();
    let token = login.tokens.access_token.expose_secret().to_owned();
    strict.manager.authenticate(&token).await.unwrap();
    wait_until(|| cached.manager.is_cache_live(), "cache live at start").await;
    cached.manager.authenticate(&token).await.unwrap();

    server.stop();
    // Every call fails closed, quickly, with a typed Unavailable.
    for round in 0..3 {
        let started = Instant::now();
        let err = strict.manager.authenticate(&token).await.unwrap_err();
        let took = started.elapsed();
        assert!(err.is_unavailable(), "round {round}: {err:?}");
        assert!(took < Duration::from_secs(2), "round {round} took {took:?}");
        let started = Instant::now();
        let err = store.get(&user, &login.session.id).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let err = strict.manager.login(&user, &ctx()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        println!("round {round}: authenticate failed with Unavailable after {took:?}");
    }
    // The cached manager notices the feed loss and stops trusting its view.
    wait_until(
        || !cached.manager.is_cache_live(),
        "cache drops when the feed dies",
    )
    .await;
    let err = cached.manager.authenticate(&token).await.unwrap_err();
    assert!(
        err.is_unavailable(),
        "cached mode fails closed too: {err:?}"
    );

    server.spawn();
    let restarted = Instant::now();
    // The server kept nothing (no persistence): the same store and managers
    // work again once the connection manager has reconnected.
    let mut recovered = None;
    while restarted.elapsed() < Duration::from_secs(15) {
        match strict.manager.login(&user, &ctx()).await {
            Ok(l) => {
                recovered = Some(l);
                break;
            }
            Err(e) => assert!(e.is_unavailable(), "{e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = recovered.expect("store recovered after restart");
    println!("recovered {:?} after restart", restarted.elapsed());
    strict
        .manager
        .authenticate(again.tokens.access_token.expose_secret())
        .await
        .unwrap();
    assert!(
        strict.manager.authenticate(&token).await.is_err(),
        "the old session is gone with the data"
    );
    wait_until(|| cached.manager.is_cache_live(), "feed resubscribed").await;
    cached
        .manager
        .authenticate(again.tokens.access_token.expose_secret())
        .await
        .unwrap();
}

async fn wait_until(cond: impl Fn() -> bool, what: &str) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
