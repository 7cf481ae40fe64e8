//! Shared test support: service URLs, isolated schemas/databases, and
//! checks every backend runs.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use sessionward_core::testing::{Harness, fresh_user};
use sessionward_core::{
    Clock, CreateRequest, RequestContext, RevokeReason, RotateRequest, SessionId, SessionPolicy,
    SessionRecord, SessionStore, StoreError, SystemClock, TokenHash, TouchRequest,
};
use sessionward_sqlx::StoreOptions;

/// The operation timeout of the conformance stores. The suite's 200-way
/// login races of one user serialize on that user's lock by design, so the
/// last of them waits for all the others: longer than the 2 s default on a
/// loaded 2-core machine. The deadline itself is tested by the outage
/// tests, with the default and with a short one.
pub const RACE_DEADLINE: Duration = Duration::from_secs(60);

/// The operation timeout of the silent-database tests.
pub const SILENT_BOUND: Duration = Duration::from_millis(500);

/// Options of a proxied store for the restart tests: 4 connections, the
/// given ping setting.
pub fn pinging_options(ping: bool) -> StoreOptions {
    StoreOptions::new()
        .with_max_connections(4)
        .with_acquire_timeout(Duration::from_millis(800))
        .with_test_before_acquire(ping)
}

/// Options of a proxied store for [`silent_database_fails_closed_then_recovers`]:
/// 3 connections, [`SILENT_BOUND`] as the operation timeout, server-side
/// timeouts below it.
pub fn silent_options() -> StoreOptions {
    StoreOptions::new()
        .with_max_connections(3)
        .with_operation_timeout(SILENT_BOUND)
        .with_statement_timeout(Duration::from_millis(400))
        .with_lock_timeout(Duration::from_millis(300))
}

/// A harness on `store`, a fresh user logged in, and the stored record of
/// that login.
pub async fn logged_in(
    store: Arc<dyn SessionStore>,
) -> (Harness, sessionward_core::LoginSuccess, SessionRecord) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    let l = h.manager.login(&fresh_user(), &ctx).await.unwrap();
    let rec = store
        .get(&l.session.user, &l.session.id)
        .await
        .unwrap()
        .unwrap();
    (h, l, rec)
}

/// Serialises one-time setup (schema/database creation, migrations) across
/// the tests of one binary, which run on separate runtimes.
pub static SETUP: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

pub fn postgres_url() -> String {
    std::env::var("SESSIONWARD_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn mysql_url() -> String {
    std::env::var("SESSIONWARD_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// A name no other test run uses.
pub fn unique_name(prefix: &str) -> String {
    let id = sessionward_core::SessionId::generate();
    let tail: String = id
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect();
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        tail.to_ascii_lowercase()
    )
}

/// Login, revoke, then reopen through `reopen`: the revoked session stays dead
/// and an untouched one stays alive.
pub async fn restart_keeps_revocations(
    first: Arc<dyn SessionStore>,
    close: impl AsyncFnOnce(),
    reopen: impl AsyncFnOnce() -> Arc<dyn SessionStore>,
) {
    let h = Harness::new(first, SessionPolicy::default());
    let user = fresh_user();
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    let dead = h.manager.login(&user, &ctx).await.unwrap();
    let alive = h.manager.login(&user, &ctx).await.unwrap();
    h.manager
        .revoke(&user, &dead.session.id, RevokeReason::User)
        .await
        .unwrap();
    drop(h);
    close().await;

    let h2 = Harness::new(reopen().await, SessionPolicy::default());
    assert!(
        h2.manager
            .authenticate(dead.tokens.access_token.expose_secret())
            .await
            .is_err(),
        "a revoked session came back after a restart"
    );
    assert!(
        h2.manager
            .refresh(&dead.tokens.refresh_token)
            .await
            .is_err()
    );
    h2.manager
        .authenticate(alive.tokens.access_token.expose_secret())
        .await
        .expect("an untouched session survives a restart");
}

/// The shared loopback forwarder of the core test kit.
pub use sessionward_core::testing::TcpProxy as Proxy;
#[allow(unused_imports)] // not every test binary routes through a proxy
pub use sessionward_core::testing::{socket_of, url_via};

/// Calls every store operation once on `rec`'s user (creating, rotating
/// and revoking other sessions than `rec`, which stays active) and returns
/// each one's name, duration and result.
pub async fn every_operation(
    store: &dyn SessionStore,
    rec: &SessionRecord,
) -> Vec<(&'static str, Duration, Result<(), StoreError>)> {
    let now = SystemClock.now();
    let mut other = rec.clone();
    other.id = SessionId::generate();
    let mut done = Vec::new();
    macro_rules! call {
        ($name:literal, $call:expr) => {{
            let started = Instant::now();
            let result = $call.await.map(drop);
            done.push(($name, started.elapsed(), result));
        }};
    }
    call!(
        "create",
        store.create(CreateRequest {
            session: other.clone(),
            limits: SessionPolicy::default().limits().clone(),
            now,
            idle_cutoff: now.minus(Duration::from_secs(3600)),
            replaces: None,
            ends: Vec::new(),
            credential_verified_at: now,
            touch_interval: Duration::from_secs(60),
            keep_ended_for: std::time::Duration::ZERO,
        })
    );
    call!("get", store.get(&rec.user, &rec.id));
    call!(
        "touch",
        store.touch(TouchRequest {
            user: rec.user.clone(),
            id: rec.id.clone(),
            at: now,
            idle_cutoff: now.minus(Duration::from_secs(3600)),
            seen: None,
        })
    );
    call!("not_before", store.not_before(&rec.user));
    call!(
        "rotate_refresh",
        store.rotate_refresh(RotateRequest {
            user: other.user.clone(),
            id: other.id.clone(),
            expected_generation: other.refresh.generation,
            expected_hash: other.refresh.hash,
            new_hash: TokenHash::of(b"next"),
            now,
            idle_cutoff: now.minus(Duration::from_secs(3600)),
            seen: None,
        })
    );
    call!(
        "revoke",
        store.revoke(&other.user, &other.id, RevokeReason::User, now)
    );
    call!(
        "revoke_all",
        store.revoke_all(&rec.user, Some(&rec.id), RevokeReason::User, now)
    );
    call!("list", store.list(&rec.user));
    let stranger = sessionward_core::UserId::new("erase-probe").unwrap();
    call!("erase_user", store.erase_user(&stranger));
    call!(
        "purge_expired",
        store.purge_expired(sessionward_core::Timestamp::from_unix_millis(1))
    );
    done
}

/// A database that stops answering while keeping its connections open
/// (the proxy [stalls](Proxy::stall)): no server-side timeout can fire, so
/// only the store's operation timeout ([`SILENT_BOUND`]) ends the calls. Every
/// operation must fail closed with `Unavailable` after about `bound`; the
/// connections abandoned mid-operation must be closed (the pool's size,
/// from `pool_stats` as (size, idle), drops to 0) rather than kept for a
/// later call; and once the proxy forwards again the same store must work:
/// every operation succeeds, with no error but (on a loaded machine, while
/// new connections are opened) the deadline's own.
pub async fn silent_database_fails_closed_then_recovers(
    store: Arc<dyn SessionStore>,
    proxy: &Proxy,
    pool_stats: impl Fn() -> (u32, usize),
) {
    let bound = SILENT_BOUND;
    let pool_size = || pool_stats().0;
    let (h, l, rec) = logged_in(store.clone()).await;
    for (name, _, result) in every_operation(&*store, &rec).await {
        result.unwrap_or_else(|e| panic!("{name} before the stall: {e:?}"));
    }
    // Wait for sqlx's check of each released connection (a ping, off the
    // call's path, with no time limit of its own): one under way when the
    // database goes silent would stay out of the pool until it answers.
    let started = Instant::now();
    while pool_stats().1 < pool_size() as usize {
        assert!(started.elapsed() < Duration::from_secs(3), "release check");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(pool_size() > 0);

    proxy.stall();
    let slack = Duration::from_millis(2500);
    for (name, elapsed, result) in every_operation(&*store, &rec).await {
        println!("silent database: {name} failed after {elapsed:?}");
        let err = result.expect_err(name);
        assert!(err.is_unavailable(), "{name}: {err:?}");
        assert!(elapsed < bound + slack, "{name} took {elapsed:?}");
        // The proxy really was silent: it was the deadline that ended it.
        assert!(elapsed >= bound.mul_f64(0.9), "{name} took {elapsed:?}");
    }
    let started = Instant::now();
    while pool_size() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{} abandoned connection(s) still held by the pool",
            pool_size()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "silent database: abandoned connections closed {:?} after the last call",
        started.elapsed()
    );
    assert!(
        h.manager
            .authenticate(l.tokens.access_token.expose_secret())
            .await
            .is_err(),
        "fails closed while the database is silent"
    );

    proxy.resume();
    let resumed = Instant::now();
    let mut late = 0;
    loop {
        let results = every_operation(&*store, &rec).await;
        if results.iter().all(|(_, _, r)| r.is_ok()) {
            for (name, elapsed, _) in results {
                println!("silent database: {name} after the resume took {elapsed:?}");
            }
            break;
        }
        for (name, _, result) in results {
            let Err(e) = result else { continue };
            // Only the deadline may still end a call: a broken connection
            // handed out again would fail differently.
            let deadline = std::error::Error::source(&e).is_some_and(|s| {
                s.to_string()
                    .contains("did not finish the operation within")
            });
            assert!(deadline, "{name} after the resume: {e:?}");
            late += 1;
        }
        assert!(
            resumed.elapsed() < Duration::from_secs(5),
            "never recovered"
        );
    }
    println!("silent database: {late} call(s) ran out of time after the resume");
    h.manager
        .authenticate(l.tokens.access_token.expose_secret())
        .await
        .expect("recovered without a restart");
}

/// A database "restart" while the pool's connections sit idle: the proxy
/// cuts every connection and comes straight back, with no call in between.
///
/// With `test_before_acquire` off (the [`sessionward_sqlx::StoreOptions`]
/// default) a call may get a dead pooled connection: it must fail closed
/// (`Unavailable`, never an accepted token) and the store must recover
/// within a few calls. With the ping on, the first call already succeeds.
pub async fn stale_connections_fail_closed_then_recover(
    store: Arc<dyn SessionStore>,
    proxy: &mut Proxy,
    ping: bool,
) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    let l = h.manager.login(&user, &ctx).await.unwrap();
    let token = l.tokens.access_token.expose_secret().to_owned();
    h.manager.authenticate(&token).await.unwrap();
    // Let sqlx's release check finish so the connections are idle in the pool.
    tokio::time::sleep(Duration::from_millis(100)).await;

    proxy.up().await;

    let mut failures = 0;
    loop {
        match store.get(&user, &l.session.id).await {
            Ok(found) => {
                assert!(found.is_some());
                break;
            }
            Err(e) => {
                assert!(
                    e.is_unavailable(),
                    "a stale connection must fail closed: {e:?}"
                );
                failures += 1;
                assert!(failures <= 4, "never recovered after {failures} failures");
            }
        }
    }
    if ping {
        assert_eq!(failures, 0, "the ping replaces dead connections before use");
    }
    println!("test_before_acquire={ping}: {failures} failed call(s) after the restart");
    h.manager
        .authenticate(&token)
        .await
        .expect("recovered after the restart");
}
