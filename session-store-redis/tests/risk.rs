//! The core [`RiskStore`] conformance suite against the shared Redis, an
//! end-to-end risk check through the real `SessionManager`, and the memory
//! of one user's login history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use sessionward_core::risk::{LoginFacts, RiskConfig, RiskStore};
use sessionward_core::testing::{TestEnricher, fresh_user, test_tokens};
use sessionward_core::{
    Clock, ManualClock, RequestContext, RiskEngine, SessionManager, SessionPolicy, SystemClock,
};
use sessionward_redis::{RedisStore, key_slot};

async fn redis_risk_store() -> Option<Arc<dyn RiskStore>> {
    Some(Arc::new(common::store().await?))
}

sessionward_core::risk_store_conformance_tests!(redis_risk_store);

fn manager(store: &RedisStore, clock: &ManualClock) -> SessionManager {
    let engine = RiskEngine::new(RiskConfig::default(), Arc::new(store.clone()));
    let policy = SessionPolicy::builder()
        .idle_timeout(Duration::from_secs(4 * 3600))
        .build()
        .unwrap();
    SessionManager::builder(policy, test_tokens(), Arc::new(store.clone()))
        .clock(Arc::new(clock.clone()))
        .enricher(Arc::new(TestEnricher))
        .risk(engine)
        .build()
        .unwrap()
}

fn ctx(ua: &str, ip: &str) -> RequestContext {
    RequestContext::new()
        .with_user_agent(ua)
        .with_ip(ip.parse().unwrap())
}

#[tokio::test]
async fn second_login_from_new_device_raises_new_device() {
    let Some(store) = common::store().await else {
        return;
    };
    let clock = ManualClock::new(SystemClock.now());
    let manager = manager(&store, &clock);
    let user = fresh_user();

    let first = manager
        .login(&user, &ctx("test/desktop/GB", "192.0.2.77"))
        .await
        .unwrap();
    assert!(
        first.session.meta.risk.signals.is_empty(),
        "nothing to compare with"
    );

    clock.advance(Duration::from_secs(600));
    let same = manager
        .login(&user, &ctx("test/desktop/GB", "192.0.2.77"))
        .await
        .unwrap();
    assert!(same.session.meta.risk.signals.is_empty(), "known device");

    clock.advance(Duration::from_secs(600));
    let phone = manager
        .login(&user, &ctx("test/mobile/GB", "192.0.2.77"))
        .await
        .unwrap();
    let names: Vec<_> = phone
        .session
        .meta
        .risk
        .signals
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["new_device"]);
    assert_eq!(phone.session.meta.risk.score, 20);

    // The history lives next to the sessions, in the user's slot.
    let keys = store.keys_for_user(&user);
    assert_eq!(keys.len(), 6, "with the owner key");
    assert!(keys[1].ends_with(":h"));
    let slot = key_slot(keys[0].as_bytes());
    assert!(keys.iter().all(|k| key_slot(k.as_bytes()) == slot));
    assert!(store.history_memory_usage(&user).await.unwrap().is_some());
}

fn login(
    fp: &str,
    country: &str,
    asn: u32,
    ip: &str,
    at: sessionward_core::Timestamp,
) -> LoginFacts {
    LoginFacts {
        fingerprints: vec![
            "ua:Chrome|Windows|desktop".to_owned(),
            format!(
                "id:{}",
                sessionward_core::TokenHash::of(fp.as_bytes()).to_hex()
            ),
        ],
        country: Some(country.to_owned()),
        asn: Some(asn),
        ip: Some(ip.parse().unwrap()),
        latitude: Some(51.5142),
        longitude: Some(-0.0931),
        at,
    }
}

#[tokio::test]
async fn old_entries_are_trimmed_and_last_login_kept() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let t0 = SystemClock.now();
    let day = Duration::from_secs(86_400);
    store
        .record_login(
            &user,
            &login("dev-a", "GB", 1, "192.0.2.1", t0),
            t0.minus(day),
        )
        .await
        .unwrap();
    // Ten days later with a one-week retention: the first login's device,
    // country and ASN are gone, the previous login is still reported.
    let t1 = t0.plus(10 * day);
    let week = 7 * day;
    store
        .record_login(
            &user,
            &login("dev-b", "SE", 2, "192.0.2.1", t1),
            t1.minus(week),
        )
        .await
        .unwrap();
    let probe = login("dev-a", "GB", 1, "192.0.2.1", t1.plus(day));
    let prior = store.login_history(&user, &probe, t1).await.unwrap();
    assert!(!prior.first_login);
    // The shared `ua:` fingerprint was re-stamped by the second login.
    assert!(prior.known_device);
    assert!(!prior.known_country && !prior.known_asn, "{prior:?}");
    assert_eq!(prior.previous.as_ref().map(|p| p.at), Some(t1));
    // A late record of an older login does not replace `previous`.
    store
        .record_login(
            &user,
            &login("dev-c", "FR", 3, "192.0.2.1", t1.minus(day)),
            t1.minus(week),
        )
        .await
        .unwrap();
    let prior = store.login_history(&user, &probe, t1).await.unwrap();
    assert_eq!(prior.previous.as_ref().map(|p| p.at), Some(t1));
    assert_eq!(
        prior.previous.and_then(|p| p.country).as_deref(),
        Some("SE")
    );
}

#[tokio::test]
async fn history_key_expires_after_retention() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let now = SystemClock.now();
    let retention = RiskConfig::default().history_retention;
    store
        .record_login(
            &user,
            &login("d", "GB", 1, "192.0.2.200", now),
            now.minus(retention),
        )
        .await
        .unwrap();
    let client = redis::Client::open(common::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = &store.keys_for_user(&user)[1];
    let ttl: i64 = redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let retention_ms = i64::try_from(retention.as_millis()).unwrap();
    assert!(
        ttl > retention_ms - 60_000 && ttl <= retention_ms,
        "ttl {ttl} ms"
    );
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(encoding, "listpack", "small history stays compact");
}

#[tokio::test]
async fn burst_set_is_capped() {
    let Some(store) =
        common::store_with(sessionward_redis::RedisStoreConfig::default().with_ip_login_cap(3))
            .await
    else {
        return;
    };
    let now = SystemClock.now();
    let ip = format!("203.0.113.{}", (now.unix_millis() % 250) + 1);
    for i in 0..6 {
        let at = now.plus(Duration::from_millis(i));
        store
            .record_login(
                &fresh_user(),
                &login("x", "GB", 1, &ip, at),
                now.minus(Duration::from_secs(60)),
            )
            .await
            .unwrap();
    }
    let probe = login("x", "GB", 1, &ip, now);
    let prior = store
        .login_history(&fresh_user(), &probe, now.minus(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(prior.recent_logins_from_ip, 3, "saturates at the cap");
}

/// `MEMORY USAGE` of one user's history after 5 logins (2 devices, each
/// with a device-id cookie, 2 countries, 2 networks), as in the docs.
#[tokio::test]
async fn memory_per_history() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let now = SystemClock.now();
    let keep = now.minus(RiskConfig::default().history_retention);
    let logins = [
        ("laptop", "GB", 5089),
        ("laptop", "GB", 5089),
        ("phone", "GB", 2856),
        ("laptop", "SE", 3301),
        ("phone", "GB", 2856),
    ];
    for (i, (dev, country, asn)) in logins.into_iter().enumerate() {
        let at = now.plus(Duration::from_secs(3600 * i as u64));
        let mut facts = login(dev, country, asn, "81.2.69.142", at);
        if dev == "phone" {
            facts.fingerprints[0] = "ua:Mobile Safari|iOS|mobile".to_owned();
        }
        store.record_login(&user, &facts, keep).await.unwrap();
        let bytes = store.history_memory_usage(&user).await.unwrap().unwrap();
        println!("history after {} logins: MEMORY USAGE {bytes} bytes", i + 1);
    }
    let bytes = store.history_memory_usage(&user).await.unwrap().unwrap();
    assert!(bytes < 512, "{bytes} bytes for 5 logins");
}
