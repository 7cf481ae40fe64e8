//! Conformance cases for [`crate::risk::RiskStore`] implementations.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::harness::fresh_user;
use crate::risk::{LoginFacts, RiskStore};
use crate::time::{Clock, SystemClock, Timestamp};

fn facts(fp: &str, country: Option<&str>, ip: &str, at: Timestamp) -> LoginFacts {
    LoginFacts {
        fingerprints: vec![format!("ua:{fp}")],
        country: country.map(str::to_owned),
        asn: Some(64_500),
        ip: Some(ip.parse().unwrap()),
        latitude: Some(51.5),
        longitude: Some(-0.1),
        at,
    }
}

pub async fn risk_history_first_then_known(store: Arc<dyn RiskStore>) {
    let (alice, bob) = (fresh_user(), fresh_user());
    let now = SystemClock.now();
    let keep = now.minus(Duration::from_secs(86_400));
    let f = facts("Chrome|Windows|desktop", Some("GB"), "192.0.2.10", now);
    let prior = store.login_history(&alice, &f, now).await.unwrap();
    assert!(prior.first_login && prior.previous.is_none());
    store.record_login(&alice, &f, keep).await.unwrap();
    let later = now.plus(Duration::from_secs(60));
    let again = store
        .login_history(
            &alice,
            &facts("Chrome|Windows|desktop", Some("GB"), "192.0.2.10", later),
            now,
        )
        .await
        .unwrap();
    assert!(!again.first_login && again.known_device && again.known_country && again.known_asn);
    assert_eq!(again.previous.as_ref().map(|p| p.at), Some(now));
    assert_eq!(
        again
            .previous
            .as_ref()
            .and_then(|p| p.country.clone())
            .as_deref(),
        Some("GB")
    );
    let other = store
        .login_history(
            &alice,
            &facts("Safari|iOS|mobile", Some("SE"), "192.0.2.11", later),
            now,
        )
        .await
        .unwrap();
    assert!(!other.known_device && !other.known_country);
    let bobs = store.login_history(&bob, &f, now).await.unwrap();
    assert!(bobs.first_login, "history is per user");
}

pub async fn risk_burst_counts_logins_per_ip(store: Arc<dyn RiskStore>) {
    let now = SystemClock.now();
    let ip = format!("198.51.100.{}", (now.unix_millis() % 250) + 1);
    for i in 0..5 {
        let at = now.plus(Duration::from_secs(i));
        store
            .record_login(
                &fresh_user(),
                &facts("x", None, &ip, at),
                now.minus(Duration::from_secs(3600)),
            )
            .await
            .unwrap();
    }
    let probe = facts("x", None, &ip, now.plus(Duration::from_secs(10)));
    let since_start = store
        .login_history(&fresh_user(), &probe, now)
        .await
        .unwrap();
    assert!(since_start.recent_logins_from_ip >= 5);
    let later = store
        .login_history(&fresh_user(), &probe, now.plus(Duration::from_secs(3)))
        .await
        .unwrap();
    assert!(
        later.recent_logins_from_ip < since_start.recent_logins_from_ip,
        "the window excludes older logins"
    );
}

pub async fn risk_consume_once_is_single_use(store: Arc<dyn RiskStore>) {
    let now = SystemClock.now();
    let id = format!("jti-{}", crate::ids::SessionId::generate());
    let exp = now.plus(Duration::from_secs(600));
    let results = join_all((0..50).map(|_| {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move { store.consume_once(&id, exp, now).await.unwrap() })
    }))
    .await;
    assert_eq!(
        results.into_iter().filter(|r| *r.as_ref().unwrap()).count(),
        1,
        "exactly one redemption"
    );
    assert!(
        !store
            .consume_once(&id, exp, now.plus(Duration::from_secs(1)))
            .await
            .unwrap()
    );
}

/// Forgetting a user drops their login history (the next login is a
/// first login again) and nobody else's.
pub async fn risk_forget_user_drops_history(store: Arc<dyn RiskStore>) {
    let (alice, bob) = (fresh_user(), fresh_user());
    let now = SystemClock.now();
    let keep = now.minus(Duration::from_secs(86_400));
    let f = facts("Chrome|Windows|desktop", Some("GB"), "192.0.2.20", now);
    store.record_login(&alice, &f, keep).await.unwrap();
    store.record_login(&bob, &f, keep).await.unwrap();
    store.forget_user(&alice).await.unwrap();
    let prior = store.login_history(&alice, &f, now).await.unwrap();
    assert!(prior.first_login && prior.previous.is_none() && !prior.known_device);
    let kept = store.login_history(&bob, &f, now).await.unwrap();
    assert!(!kept.first_login && kept.known_device);
    store.forget_user(&alice).await.unwrap();
}
