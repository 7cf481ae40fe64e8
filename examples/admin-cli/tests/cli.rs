//! `sessionward-admin` driven end to end, as an operator runs it, against a
//! SQLite file and a Redis server that an app's manager wrote to.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sessionward_core::testing::{Harness, fresh_user, service_unavailable};
use sessionward_core::{
    AppId, Clock, LoginOptions, ManualClock, RequestContext, SessionId, SessionPolicy,
    SessionStore, SystemClock, UserId,
};
use sessionward_redis::{RedisStore, RedisStoreConfig};
use sessionward_sqlx::SqliteStore;

/// Runs the binary on `store` (and `prefix` for Redis).
fn admin(store: &str, prefix: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessionward-admin"))
        .args(["--store", store, "--redis-prefix", prefix])
        .args(args)
        .env("RUST_LOG", "sessionward=info")
        .output()
        .expect("the binary runs")
}

/// Its JSON output; panics (with its stderr) when it failed.
fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn session_ids(value: &Value) -> Vec<String> {
    value["sessions"]
        .as_array()
        .expect("a sessions array")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

fn context(ip: &str) -> RequestContext {
    RequestContext::new().with_ip(ip.parse::<IpAddr>().unwrap())
}

/// The incident: a hostile network 192.0.2.0/24 holds sessions of two
/// users; the operator lists, pages, dry-runs, ends them, checks, ends a
/// third user's sessions, exports, purges, and gets clear errors for bad
/// input.
async fn operator_walkthrough(store: Arc<dyn SessionStore>, url: &str, prefix: &str) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let app = AppId::new(format!("cli-{}", &SessionId::generate().as_str()[..10])).unwrap();
    let (alice, bob, carol) = (fresh_user(), fresh_user(), fresh_user());
    let mut hostile = Vec::new();
    for (user, ip) in [
        (&alice, "192.0.2.10"),
        (&alice, "192.0.2.10"),
        (&alice, "198.51.100.1"),
        (&bob, "192.0.2.11"),
        (&carol, "198.51.100.2"),
    ] {
        h.clock.advance(Duration::from_millis(5));
        let login = h
            .manager
            .login_with(
                user,
                &context(ip),
                LoginOptions::default().in_app(app.clone()),
            )
            .await
            .unwrap();
        if ip.starts_with("192.0.2.") {
            hostile.push(login.session.id.as_str().to_owned());
        }
    }
    let app_flag = ["--app", app.as_str()];
    let net = [&app_flag[..], &["--network", "192.0.2.0/24"]].concat();

    let listed = json(&admin(url, prefix, &[&["list"], &net[..]].concat()));
    let mut found = session_ids(&listed);
    found.sort();
    let mut expected = hostile.clone();
    expected.sort();
    assert_eq!(found, expected, "list finds the network's sessions");
    assert!(listed["next"].is_null());
    assert_eq!(listed["sessions"][0]["ip"], "192.0.2.11", "newest first");

    let first = json(&admin(
        url,
        prefix,
        &[&["list", "--limit", "2"], &app_flag[..]].concat(),
    ));
    assert_eq!(session_ids(&first).len(), 2);
    let cursor = first["next"].as_str().expect("a next cursor").to_owned();
    let rest = json(&admin(
        url,
        prefix,
        &[&["list", "--after", &cursor], &app_flag[..]].concat(),
    ));
    assert_eq!(session_ids(&rest).len(), 3);
    let all = json(&admin(
        url,
        prefix,
        &[&["list", "--all"], &app_flag[..]].concat(),
    ));
    assert_eq!(session_ids(&all).len(), 5);

    let dry = json(&admin(
        url,
        prefix,
        &[
            &["revoke-matching", "--dry-run", "--idle-timeout", "30m"],
            &net[..],
        ]
        .concat(),
    ));
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["users"].as_u64()),
        (Some(true), Some(2))
    );
    assert_eq!(session_ids(&dry).len(), 3);
    let still = json(&admin(url, prefix, &[&["list"], &net[..]].concat()));
    assert_eq!(session_ids(&still).len(), 3, "a dry run ends nothing");

    let unconfirmed = admin(
        url,
        prefix,
        &[&["revoke-matching", "--idle-timeout", "30m"], &net[..]].concat(),
    );
    assert!(!unconfirmed.status.success());
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--dry-run or --yes"));
    for everyone in [
        &["revoke-matching", "--yes", "--idle-timeout", "30m"][..],
        &[
            "revoke-matching",
            "--yes",
            "--idle-timeout",
            "30m",
            "--network",
            "0.0.0.0/0",
        ],
        &[
            "revoke-matching",
            "--yes",
            "--idle-timeout",
            "30m",
            "--min-risk",
            "low",
        ],
    ] {
        let out = admin(url, prefix, everyone);
        assert!(
            !out.status.success(),
            "{everyone:?}: a filter matching everything is refused"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("narrows"));
    }
    let no_timeout = admin(
        url,
        prefix,
        &[&["revoke-matching", "--yes"], &net[..]].concat(),
    );
    assert!(String::from_utf8_lossy(&no_timeout.stderr).contains("--idle-timeout"));

    let done = admin(
        url,
        prefix,
        &[
            &["revoke-matching", "--yes", "--idle-timeout", "30m"],
            &net[..],
        ]
        .concat(),
    );
    let report = json(&done);
    assert_eq!(
        (report["dry_run"].as_bool(), report["users"].as_u64()),
        (Some(false), Some(2))
    );
    assert_eq!(session_ids(&report).len(), 3);
    let events = String::from_utf8_lossy(&done.stderr);
    assert_eq!(
        events.matches("\"event\":\"authn_token_revoked\"").count(),
        3,
        "{events}"
    );
    assert!(session_ids(&json(&admin(url, prefix, &[&["list"], &net[..]].concat()))).is_empty());
    for id in &hostile[..2] {
        let shown = json(&admin(url, prefix, &["show", alice.as_str(), id]));
        assert_eq!(shown["revoked"]["reason"], "admin");
        assert_eq!(shown["user"], alice.as_str());
    }
    assert_eq!(
        session_ids(&json(&admin(
            url,
            prefix,
            &[&["list", "--user", alice.as_str()], &app_flag[..]].concat()
        )))
        .len(),
        1,
        "alice's other session goes on"
    );

    // One session by its id; a second time it is not active any more.
    let alice_other = session_ids(&json(&admin(
        url,
        prefix,
        &[&["list", "--user", alice.as_str()], &app_flag[..]].concat(),
    )))
    .pop()
    .unwrap();
    let one = json(&admin(
        url,
        prefix,
        &["revoke-session", alice.as_str(), &alice_other],
    ));
    assert_eq!(one["revoked"], 1);
    let again = admin(
        url,
        prefix,
        &["revoke-session", alice.as_str(), &alice_other],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no active session"));

    let carol_out = json(&admin(
        url,
        prefix,
        &[
            "revoke-user",
            carol.as_str(),
            "--reason",
            "account-disabled",
        ],
    ));
    assert_eq!(carol_out["revoked"], 1);
    assert!(
        store.not_before(&carol).await.unwrap().is_some(),
        "account-disabled raises the mark"
    );

    let export = json(&admin(url, prefix, &["export", alice.as_str()]));
    assert_eq!(export["sessions"].as_array().unwrap().len(), 3);
    let first_exported = &export["sessions"][0];
    assert!(first_exported["refresh_generation"].is_u64());
    assert!(
        first_exported.get("refresh").is_none() && first_exported.get("hash").is_none(),
        "no refresh-token hash in an export: {first_exported}"
    );

    // A session that ended 40 days ago is purged; today's stay.
    let long_ago = ManualClock::new(SystemClock.now().minus(Duration::from_secs(40 * 86_400)));
    let old = Harness::customised(store.clone(), SessionPolicy::default(), long_ago, |b| b);
    let dave = fresh_user();
    let stale = old
        .manager
        .login(&dave, &context("198.51.100.3"))
        .await
        .unwrap();
    let unconfirmed = admin(url, prefix, &["purge"]);
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"));
    assert!(
        store.get(&dave, &stale.session.id).await.unwrap().is_some(),
        "purge without --yes deletes nothing"
    );
    let purged = json(&admin(url, prefix, &["purge", "--yes"]));
    assert!(purged["purged"].as_u64().unwrap() >= 1);
    assert!(store.get(&dave, &stale.session.id).await.unwrap().is_none());
    assert!(
        store
            .get(&alice, &SessionId::parse(&hostile[0]).unwrap())
            .await
            .unwrap()
            .is_some()
    );

    for bad in [
        &["list", "--network", "192.0.2.0/33"][..],
        &["list", "--country", "Germany"],
        &["list", "--after", "not-a-cursor"],
        &["show", alice.as_str(), "not-a-session-id"],
        &["show", alice.as_str(), SessionId::generate().as_str()],
        &["list", "--created-after", "yesterday"],
        &["purge", "--yes", "--history-retention", "forever"],
    ] {
        let out = admin(url, prefix, bad);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(out.stdout.is_empty(), "{bad:?} printed a result");
        assert!(!out.stderr.is_empty(), "{bad:?} said nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_walkthrough_on_sqlite() {
    let path = std::env::temp_dir().join(format!(
        "sessionward-admin-{}.db",
        SessionId::generate().as_str()
    ));
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    operator_walkthrough(Arc::new(store), &url, "").await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_walkthrough_on_redis() {
    let url = std::env::var("SESSIONWARD_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("swcli:{}:", SessionId::generate().as_str());
    let config = RedisStoreConfig::default().with_key_prefix(prefix.as_str());
    let store = match RedisStore::connect(&url, config).await {
        Ok(store) => store,
        Err(e) => {
            service_unavailable::<()>("Redis", &url, e);
            return;
        }
    };
    operator_walkthrough(Arc::new(store), &url, &prefix).await;
}

#[test]
fn a_store_that_does_not_exist_is_an_error() {
    let out = admin("sqlite:///nonexistent/sessions.db", "", &["list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SQLite database"));
    let out = admin("ftp://example", "", &["list"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--store must start with"));
    let _: Option<UserId> = None;
}
