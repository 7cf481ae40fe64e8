//! Replica acknowledgement of revoking writes
//! ([`RedisStoreConfig::with_replica_acks`]) against a private primary +
//! replica pair of `redis-server` processes: a revocation that returned
//! survives killing the primary and promoting the replica, and a revocation
//! the replicas did not acknowledge fails closed instead of returning.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::PrivateRedis;
use sessionward_core::testing::{Harness, fresh_user};
use sessionward_core::{
    Clock, Inactive, LoginOptions, LoginSuccess, OnLimit, RefreshToken, RequestContext,
    RevokeReason, SessionError, SessionPolicy, SessionStore, StoreError,
};
use sessionward_redis::{RedisStore, RedisStoreConfig, RedisStoreError};

fn ctx() -> RequestContext {
    RequestContext::new()
        .with_user_agent("test/desktop/GB")
        .with_ip("81.2.69.142".parse().unwrap())
}

/// A primary and a replica whose link is up, or `None` (skip) without
/// `redis-server`.
struct Pair {
    primary: PrivateRedis,
    replica: PrivateRedis,
}

fn start_pair() -> Option<Pair> {
    let primary = PrivateRedis::start(&[])?;
    let port = primary.port.to_string();
    let replica = PrivateRedis::start(&["--replicaof", "127.0.0.1", &port])?;
    common::wait_for_info(
        &replica,
        redis::cmd("INFO").arg("replication"),
        "master_link_status:up",
    );
    Some(Pair { primary, replica })
}

impl Pair {
    /// SIGKILLs the primary at once and promotes the replica
    /// (`REPLICAOF NO ONE`), as a failover would.
    fn fail_over(&mut self) {
        self.primary.stop();
        let _: () = redis::cmd("REPLICAOF")
            .arg("NO")
            .arg("ONE")
            .query(&mut self.replica.admin())
            .unwrap();
    }
}

fn acks_config(replicas: u32, timeout: Duration) -> RedisStoreConfig {
    common::test_config().with_replica_acks(replicas, timeout)
}

async fn harness(
    server: &PrivateRedis,
    config: RedisStoreConfig,
    policy: SessionPolicy,
) -> Harness {
    let store = RedisStore::connect(&server.url(), config).await.unwrap();
    Harness::new(Arc::new(store), policy)
}

async fn assert_refused(h: &Harness, login: &LoginSuccess, reason: RevokeReason) {
    let access = h
        .manager
        .authenticate(login.tokens.access_token.expose_secret())
        .await;
    assert!(
        matches!(&access, Err(SessionError::SessionEnded(Inactive::Revoked(r))) if *r == reason),
        "access token after failover: {access:?}"
    );
    assert_refresh_ended(h, &login.tokens.refresh_token).await;
}

async fn assert_refresh_ended(h: &Harness, token: &RefreshToken) {
    let refresh = h.manager.refresh(token).await;
    assert!(
        matches!(refresh, Err(SessionError::SessionEnded(_))),
        "refresh token after failover: {:?}",
        refresh.map(|_| "refreshed")
    );
}

async fn assert_accepted(h: &Harness, login: &LoginSuccess) {
    h.manager
        .authenticate(login.tokens.access_token.expose_secret())
        .await
        .expect("the session is active after the failover");
}

/// `revoke` with one replica acknowledgement: after the failover the
/// replica refuses the revoked session and still accepts the other one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_revoke_survives_failover() {
    let Some(mut pair) = start_pair() else { return };
    let config = acks_config(1, Duration::from_secs(1));
    let h = harness(&pair.primary, config.clone(), SessionPolicy::default()).await;
    let user = fresh_user();
    let revoked = h.manager.login(&user, &ctx()).await.unwrap();
    let kept = h.manager.login(&user, &ctx()).await.unwrap();
    h.manager
        .authenticate(revoked.tokens.access_token.expose_secret())
        .await
        .unwrap();
    // The revoking script is sent pipelined with `CLIENT ID`: it must load
    // itself again after a `SCRIPT FLUSH` like a plain invocation does.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut pair.primary.admin())
        .unwrap();
    h.manager
        .revoke(&user, &revoked.session.id, RevokeReason::Admin)
        .await
        .unwrap();
    pair.fail_over();

    let after = harness(&pair.replica, config, SessionPolicy::default()).await;
    assert_refused(&after, &revoked, RevokeReason::Admin).await;
    assert_accepted(&after, &kept).await;
}

/// `revoke_all` for a password change: every session refused after the
/// failover, and the not-before mark survived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_password_change_survives_failover() {
    let Some(mut pair) = start_pair() else { return };
    let config = acks_config(1, Duration::from_secs(1));
    let h = harness(&pair.primary, config.clone(), SessionPolicy::default()).await;
    let (user, other) = (fresh_user(), fresh_user());
    let a = h.manager.login(&user, &ctx()).await.unwrap();
    let b = h.manager.login(&user, &ctx()).await.unwrap();
    let bystander = h.manager.login(&other, &ctx()).await.unwrap();
    h.manager
        .authenticate(a.tokens.access_token.expose_secret())
        .await
        .unwrap();
    let n = h
        .manager
        .revoke_all(&user, RevokeReason::PasswordChange)
        .await
        .unwrap();
    assert_eq!(n, 2);
    pair.fail_over();

    let after = harness(&pair.replica, config, SessionPolicy::default()).await;
    for login in [&a, &b] {
        assert_refused(&after, login, RevokeReason::PasswordChange).await;
    }
    assert!(
        after.store.not_before(&user).await.unwrap().is_some(),
        "the not-before mark survived"
    );
    assert_accepted(&after, &bystander).await;
}

/// A login that evicts the oldest session waits too: the eviction survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_eviction_survives_failover() {
    let Some(mut pair) = start_pair() else { return };
    let config = acks_config(1, Duration::from_secs(1));
    let policy = || {
        SessionPolicy::builder()
            .max_sessions_per_user(1)
            .on_limit(OnLimit::EvictOldest)
            .build()
            .unwrap()
    };
    let h = harness(&pair.primary, config.clone(), policy()).await;
    let user = fresh_user();
    let evicted = h.manager.login(&user, &ctx()).await.unwrap();
    let newer = h.manager.login(&user, &ctx()).await.unwrap();
    pair.fail_over();

    let after = harness(&pair.replica, config, policy()).await;
    assert_refused(&after, &evicted, RevokeReason::Evicted).await;
    assert_accepted(&after, &newer).await;
}

/// [`missing_acks`] of a manager error.
fn manager_missing_acks(err: &SessionError) -> Option<(u32, u64)> {
    match err {
        SessionError::Store(e) => missing_acks(e),
        _ => None,
    }
}

fn missing_acks(err: &StoreError) -> Option<(u32, u64)> {
    let StoreError::Unavailable(source) = err else {
        return None;
    };
    match source.downcast_ref::<RedisStoreError>()? {
        RedisStoreError::ReplicaAcksMissing { wanted, got } => Some((*wanted, *got)),
        _ => None,
    }
}

/// More acknowledgements wanted than replicas exist: `revoke` answers
/// `Unavailable` after the `WAIT` timeout and within the operation timeout,
/// naming the acknowledgements it missed; the manager fails closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_acks_fail_closed_within_the_operation_timeout() {
    let Some(pair) = start_pair() else { return };
    let operation_timeout = Duration::from_millis(800);
    let config = RedisStoreConfig::default()
        .with_response_timeout(Duration::from_millis(500))
        .with_operation_timeout(operation_timeout)
        .with_replica_acks(2, Duration::from_millis(200));
    let store = RedisStore::connect(&pair.primary.url(), config)
        .await
        .unwrap();
    let h = Harness::new(Arc::new(store.clone()), SessionPolicy::default());
    let user = fresh_user();
    // A login that revokes nothing does not wait.
    let started = Instant::now();
    let login = h.manager.login(&user, &ctx()).await.unwrap();
    let login_took = started.elapsed();
    assert!(login_took < Duration::from_millis(200), "{login_took:?}");

    let started = Instant::now();
    let err = store
        .revoke(&user, &login.session.id, RevokeReason::Admin, h.clock.now())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(missing_acks(&err), Some((2, 1)), "{err:?}");
    assert!(
        took >= Duration::from_millis(200) && took < operation_timeout,
        "{took:?}"
    );
    let source = err.source().unwrap().to_string();
    assert!(source.contains("1 of the 2 replicas"), "{source}");
    println!("revoke with 1 of 2 replicas: Unavailable after {took:?} ({source})");

    // Through the manager: errors adapters answer with 503, for every kind
    // of revoking write. A password change that revoked nothing still
    // raised the mark, so it waits too.
    let err = h
        .manager
        .revoke_all(&fresh_user(), RevokeReason::PasswordChange)
        .await
        .unwrap_err();
    assert_eq!(manager_missing_acks(&err), Some((2, 1)), "{err:?}");
    let err = h
        .manager
        .revoke_all(&user, RevokeReason::PasswordChange)
        .await
        .unwrap_err();
    assert_eq!(manager_missing_acks(&err), Some((2, 1)), "{err:?}");
    // A login refused by the mark it raised.
    let before_mark = LoginOptions {
        credential_verified_at: Some(h.clock.now().minus(Duration::from_secs(60))),
        ..LoginOptions::default()
    };
    let err = h
        .manager
        .login_with(&user, &ctx(), before_mark)
        .await
        .unwrap_err();
    assert_eq!(manager_missing_acks(&err), Some((2, 1)), "{err:?}");
    // A login that evicts a session.
    let limited = SessionPolicy::builder()
        .max_sessions_per_user(1)
        .on_limit(OnLimit::EvictOldest)
        .build()
        .unwrap();
    let h = Harness::new(Arc::new(store), limited);
    let other = fresh_user();
    h.manager.login(&other, &ctx()).await.unwrap();
    let err = h.manager.login(&other, &ctx()).await.unwrap_err();
    assert_eq!(manager_missing_acks(&err), Some((2, 1)), "{err:?}");
}

/// A replica cut off from the primary (pointed at a dead address, as in a
/// partition) acknowledges nothing. Without acks `revoke` returns success
/// and the revocation is lost with the primary; with acks it fails closed.
/// After the failover the replica accepts both tokens: the one the caller
/// was told is revoked (acks off) and the one the caller was told is not
/// (acks on, `Unavailable`, to be retried).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_revoke_fails_closed_and_would_be_lost() {
    let Some(mut pair) = start_pair() else { return };
    let acked = acks_config(1, Duration::from_millis(300));
    let h = harness(&pair.primary, acked.clone(), SessionPolicy::default()).await;
    let unacked = harness(
        &pair.primary,
        common::test_config(),
        SessionPolicy::default(),
    )
    .await;
    let user = fresh_user();
    let told_revoked = h.manager.login(&user, &ctx()).await.unwrap();
    let told_failed = h.manager.login(&user, &ctx()).await.unwrap();
    // Both logins reach the replica (the replication stream is ordered),
    // then it leaves the primary.
    let (got,): (i64,) = redis::pipe()
        .cmd("SET")
        .arg("barrier")
        .arg(1)
        .ignore()
        .cmd("WAIT")
        .arg(1)
        .arg(2000)
        .query(&mut pair.primary.admin())
        .unwrap();
    assert_eq!(got, 1);
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(nowhere)
        .query(&mut pair.replica.admin())
        .unwrap();

    unacked
        .manager
        .revoke(&user, &told_revoked.session.id, RevokeReason::Admin)
        .await
        .expect("without acks the revocation returns");
    let err = h
        .manager
        .revoke(&user, &told_failed.session.id, RevokeReason::Admin)
        .await
        .unwrap_err();
    assert_eq!(manager_missing_acks(&err), Some((1, 0)), "{err:?}");
    pair.fail_over();

    let after = harness(&pair.replica, acked, SessionPolicy::default()).await;
    assert_accepted(&after, &told_revoked).await;
    assert_accepted(&after, &told_failed).await;
}

/// On a cluster the `WAIT` is routed to the primary of the user's slot
/// (redis-rs 1.8 would send a bare `WAIT` to every primary and keep the
/// minimum). A single-node cluster without replicas answers 0, so the
/// revocation fails closed while the login, which revokes nothing, does not
/// wait. (With one node this cannot tell slot routing from fan-out; it
/// proves the routed path answers and is counted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_waits_on_the_users_primary() {
    let Some(server) = common::start_cluster() else {
        return;
    };
    let config = acks_config(1, Duration::from_millis(200));
    let store = RedisStore::connect_cluster([server.url()], config)
        .await
        .unwrap();
    let h = Harness::new(Arc::new(store), SessionPolicy::default());
    let user = fresh_user();
    let login = h.manager.login(&user, &ctx()).await.unwrap();
    let err = h
        .manager
        .revoke(&user, &login.session.id, RevokeReason::Admin)
        .await
        .unwrap_err();
    assert_eq!(manager_missing_acks(&err), Some((1, 0)), "{err:?}");
    // The revocation is applied on the primary all the same; only its
    // survival of a failover is unconfirmed.
    let plain = harness_cluster(&server).await;
    let access = plain
        .manager
        .authenticate(login.tokens.access_token.expose_secret())
        .await;
    assert!(
        matches!(access, Err(SessionError::SessionEnded(_))),
        "{access:?}"
    );
}

async fn harness_cluster(server: &PrivateRedis) -> Harness {
    let store = RedisStore::connect_cluster([server.url()], common::test_config())
        .await
        .unwrap();
    Harness::new(Arc::new(store), SessionPolicy::default())
}
