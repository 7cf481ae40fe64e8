//! Conformance cases for the session directory: cross-user queries, paging,
//! and "revoke matching" (dry run and for real), on every backend.
//!
//! Stores share one database between cases, so each case scopes its
//! sessions by an app id of its own and every query names it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use crate::directory::{MAX_PAGE, PageCursor, SessionFilter, TimeWindow};
use crate::ids::{AppId, SessionId, UserId};
use crate::manager::{DirectoryEntry, LoginOptions, MatchingMode};
use crate::policy::SessionPolicy;
use crate::record::{DeviceClass, RequestContext, RevokeReason};
use crate::store::SessionStore;
use crate::testing::{Harness, fresh_user};
use crate::time::Clock;

fn case_app() -> AppId {
    AppId::new(format!("dir-{}", &SessionId::generate().as_str()[..12])).unwrap()
}

fn context(ip: &str, class: &str, country: &str) -> RequestContext {
    RequestContext::new()
        .with_ip(ip.parse::<IpAddr>().unwrap())
        .with_user_agent(format!("test/{class}/{country}"))
}

/// Every page of `filter`, `per_page` at a time, in order.
async fn all_pages(h: &Harness, filter: &SessionFilter, per_page: usize) -> Vec<DirectoryEntry> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = h
            .manager
            .find_sessions(filter, after, per_page)
            .await
            .unwrap();
        assert!(page.sessions.len() <= per_page);
        out.extend(page.sessions);
        match page.next {
            Some(next) => after = Some(PageCursor::parse(&next).unwrap()),
            None => return out,
        }
    }
}

fn ids(entries: &[DirectoryEntry]) -> HashSet<SessionId> {
    entries.iter().map(|e| e.session.id.clone()).collect()
}

/// The ids on every page of `filter`.
async fn found(h: &Harness, filter: &SessionFilter, per_page: usize) -> HashSet<SessionId> {
    ids(&all_pages(h, filter, per_page).await)
}

fn set(ids: &[SessionId]) -> HashSet<SessionId> {
    ids.iter().cloned().collect()
}

/// Three users signed in from two networks, on two device classes, in two
/// countries; one session ended. Each filter finds exactly its sessions
/// across users, pages walk them newest first without repeats or gaps
/// (a page size that does not divide the count), and ended sessions never
/// show.
pub async fn directory_finds_sessions_across_users(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let app = case_app();
    let users = [fresh_user(), fresh_user(), fresh_user()];
    let mut office = Vec::new();
    let mut mobile_se = Vec::new();
    let mut all = Vec::new();
    for (u, user) in users.iter().enumerate() {
        for i in 0..4 {
            h.clock.advance(Duration::from_millis(7));
            let (ctx, in_office) = if i < 3 {
                (
                    context(&format!("203.0.113.{}", 10 + u), "desktop", "DE"),
                    true,
                )
            } else {
                (context(&format!("2001:db8:{u}::1"), "mobile", "SE"), false)
            };
            let login = h
                .manager
                .login_with(user, &ctx, LoginOptions::default().in_app(app.clone()))
                .await
                .unwrap();
            let id = login.session.id;
            if in_office {
                office.push(id.clone());
            } else {
                mobile_se.push(id.clone());
            }
            all.push(id);
        }
    }
    let ended = office.remove(0);
    h.manager
        .revoke(&users[0], &ended, RevokeReason::User)
        .await
        .unwrap();
    all.retain(|id| *id != ended);

    let scoped = SessionFilter::default().in_app(app.clone());
    let everything = all_pages(&h, &scoped, 5).await;
    assert_eq!(everything.len(), 11, "every active session of the app once");
    assert_eq!(ids(&everything), all.iter().cloned().collect());
    let order: Vec<_> = everything
        .iter()
        .map(|e| {
            (
                e.session.created_at,
                e.user.as_str().to_owned(),
                e.session.id.as_str().to_owned(),
            )
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] > w[1]),
        "newest first, strictly: {order:?}"
    );

    let network = scoped
        .clone()
        .from_network("203.0.113.0/24".parse().unwrap());
    assert_eq!(found(&h, &network, 100).await, set(&office));
    let host = scoped.clone().from_network("203.0.113.11".parse().unwrap());
    assert_eq!(
        all_pages(&h, &host, 100).await.len(),
        3,
        "one address: user 1's office logins"
    );
    let v6 = scoped
        .clone()
        .from_network("2001:db8::/32".parse().unwrap());
    assert_eq!(found(&h, &v6, 2).await, set(&mobile_se));
    let swedish_phones = scoped
        .clone()
        .in_country("se")
        .on_device_class(DeviceClass::Mobile);
    assert_eq!(found(&h, &swedish_phones, 100).await, set(&mobile_se));
    let one_user = scoped.clone().of_user(users[2].clone());
    let theirs = all_pages(&h, &one_user, 100).await;
    assert_eq!(theirs.len(), 4);
    assert!(theirs.iter().all(|e| e.user == users[2]));
    let newest = everything[0].session.created_at;
    let recent = scoped.clone().created_in(TimeWindow {
        from: Some(newest),
        until: None,
    });
    assert_eq!(
        all_pages(&h, &recent, 100).await.len(),
        1,
        "created window, from inclusive"
    );
    let nowhere = scoped
        .clone()
        .from_network("198.51.100.0/24".parse().unwrap());
    assert!(all_pages(&h, &nowhere, 100).await.is_empty());

    // Many users signed in within one millisecond: the ids decide the order,
    // and pages of two still show each session once.
    let burst = case_app();
    let mut same_instant = HashSet::new();
    for _ in 0..7 {
        let login = h
            .manager
            .login_with(
                &fresh_user(),
                &context("203.0.113.50", "desktop", "DE"),
                LoginOptions::default().in_app(burst.clone()),
            )
            .await
            .unwrap();
        same_instant.insert(login.session.id);
    }
    let burst_pages = all_pages(&h, &SessionFilter::default().in_app(burst), 2).await;
    assert_eq!(burst_pages.len(), 7, "no session twice");
    assert_eq!(ids(&burst_pages), same_instant);

    // Idle sessions are not active: two idle timeouts later nothing shows.
    h.clock.advance(SessionPolicy::default().idle_timeout() * 2);
    assert!(
        all_pages(&h, &scoped, 100).await.is_empty(),
        "idle sessions never show"
    );
}

/// A dry run lists what matches and ends nothing; the real run ends
/// exactly those sessions across users (their tokens refused at once, a
/// `session_revoked` event each), leaves every other session and the
/// users' "not before" marks alone, and a second run ends nothing.
pub async fn revoke_matching_ends_exactly_what_matches(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let app = case_app();
    let (a, b) = (fresh_user(), fresh_user());
    let mut hostile = Vec::new();
    let mut kept = Vec::new();
    for user in [&a, &b] {
        for ip in ["192.0.2.66", "192.0.2.67", "198.51.100.5"] {
            h.clock.advance(Duration::from_millis(3));
            let login = h
                .manager
                .login_with(
                    user,
                    &context(ip, "desktop", "DE"),
                    LoginOptions::default().in_app(app.clone()),
                )
                .await
                .unwrap();
            if ip.starts_with("192.0.2.") {
                hostile.push(login);
            } else {
                kept.push(login);
            }
        }
    }
    let filter = SessionFilter::default()
        .in_app(app.clone())
        .from_network("192.0.2.64/30".parse().unwrap());

    let dry = h
        .manager
        .revoke_matching(&filter, RevokeReason::Admin, MatchingMode::DryRun)
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!((dry.sessions.len(), dry.users), (4, 2));
    for login in hostile.iter().chain(&kept) {
        h.manager
            .authenticate(login.tokens.access_token.expose_secret())
            .await
            .unwrap();
    }

    let done = h
        .manager
        .revoke_matching(&filter, RevokeReason::Admin, MatchingMode::Revoke)
        .await
        .unwrap();
    assert!(!done.dry_run);
    assert_eq!((done.sessions.len(), done.users), (4, 2));
    assert_eq!(
        ids(&done.sessions),
        hostile.iter().map(|l| l.session.id.clone()).collect()
    );
    for login in &hostile {
        assert!(
            h.manager
                .authenticate(login.tokens.access_token.expose_secret())
                .await
                .is_err()
        );
        let stored = store
            .get(&login.session.user, &login.session.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.revoked.map(|r| r.reason), Some(RevokeReason::Admin));
    }
    for login in &kept {
        h.manager
            .authenticate(login.tokens.access_token.expose_secret())
            .await
            .unwrap();
    }
    assert_eq!(store.not_before(&a).await.unwrap(), None, "no mark raised");
    let revoked_events = h
        .events
        .names()
        .into_iter()
        .filter(|name| *name == "authn_token_revoked")
        .count();
    assert_eq!(revoked_events, 4);

    let again = h
        .manager
        .revoke_matching(&filter, RevokeReason::Admin, MatchingMode::Revoke)
        .await
        .unwrap();
    assert!(again.sessions.is_empty());
}

/// The per-user step decides on the records as stored when it writes, not
/// on what the operator read before: a session used since that read (now
/// outside the last-seen window) or idle at the time of the write is left
/// alone.
pub async fn revoke_matching_rechecks_at_the_write(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let app = case_app();
    let user = fresh_user();
    let ctx = context("192.0.2.10", "desktop", "DE");
    let first = h
        .manager
        .login_with(&user, &ctx, LoginOptions::default().in_app(app.clone()))
        .await
        .unwrap();
    let second = h
        .manager
        .login_with(&user, &ctx, LoginOptions::default().in_app(app.clone()))
        .await
        .unwrap();
    let read_at = h.clock.now();
    // Sessions last used before the read, as the operator saw them.
    let quiet = SessionFilter::default()
        .in_app(app.clone())
        .last_seen_in(TimeWindow {
            from: None,
            until: Some(read_at.plus(Duration::from_millis(1))),
        });
    let seen = h.manager.find_sessions(&quiet, None, 10).await.unwrap();
    assert_eq!(seen.sessions.len(), 2);
    // Then the second session is used: it no longer matches.
    h.clock
        .advance(SessionPolicy::default().touch_interval() + Duration::from_secs(1));
    h.manager
        .authenticate(second.tokens.access_token.expose_secret())
        .await
        .unwrap();
    let directory = store.directory().expect("every store has a directory");
    let now = h.clock.now();
    let request = crate::directory::MatchingRevocation {
        filter: quiet,
        reason: RevokeReason::Admin,
        at: now,
        idle_cutoff: now.minus(SessionPolicy::default().idle_timeout()),
    };
    let ended = directory.revoke_matching(&user, &request).await.unwrap();
    assert_eq!(
        ended.iter().map(|r| &r.id).collect::<Vec<_>>(),
        vec![&first.session.id]
    );
    assert!(
        store
            .get(&user, &second.session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked
            .is_none()
    );
    // An idle judgement at the write: nothing active is left to match.
    let later = now.plus(SessionPolicy::default().idle_timeout() * 2);
    let idle = crate::directory::MatchingRevocation {
        filter: SessionFilter::default().in_app(app),
        reason: RevokeReason::Admin,
        at: later,
        idle_cutoff: later.minus(SessionPolicy::default().idle_timeout()),
    };
    assert!(
        directory
            .revoke_matching(&user, &idle)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .get(&user, &second.session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked
            .is_none()
    );
}

/// How many sessions [`directory_pages_a_large_seed`] seeds.
pub const LARGE_SEED: usize = 100_000;

/// 100,000 sessions of 10,000 users: the first page of the whole seed,
/// a page of one network, and a dry run of one user come back complete
/// and in order. Prints how long each query took (the figure
/// `docs/benchmarks.md` states comes from the benchmark, not from here).
pub async fn directory_pages_a_large_seed(store: Arc<dyn SessionStore>) {
    // No limit: each seed login is one plain insert.
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .build()
        .unwrap();
    let h = Harness::new(store.clone(), policy);
    let app = case_app();
    let users: Vec<UserId> = (0..LARGE_SEED / 10).map(|_| fresh_user()).collect();
    let started = Instant::now();
    let manager = &h.manager;
    let app_ref = &app;
    let logins = futures_util::stream::iter(
        users
            .iter()
            .enumerate()
            .flat_map(|(u, user)| (0..10).map(move |i| (u, i, user))),
    )
    .map(|(u, i, user)| async move {
        let ip = format!("10.{}.{}.{}", u % 200, i, u % 250);
        manager
            .login_with(
                user,
                &context(&ip, "desktop", "DE"),
                LoginOptions::default().in_app(app_ref.clone()),
            )
            .await
            .map(|login| (u, i, login.session.id))
    });
    let results: Vec<_> = logins.buffer_unordered(32).collect().await;
    let seeded_ids: Vec<(usize, usize, SessionId)> = results
        .into_iter()
        .map(|r| r.expect("every seed login succeeds"))
        .collect();
    let seeded = started.elapsed();

    let scoped = SessionFilter::default().in_app(app.clone());
    let t = Instant::now();
    let first = h
        .manager
        .find_sessions(&scoped, None, MAX_PAGE)
        .await
        .unwrap();
    let first_page = t.elapsed();
    assert_eq!(first.sessions.len(), MAX_PAGE);
    assert!(first.next.is_some());
    let network = scoped.clone().from_network("10.7.3.0/24".parse().unwrap());
    let t = Instant::now();
    let in_network = all_pages(&h, &network, MAX_PAGE).await;
    let network_query = t.elapsed();
    // Users u with u % 200 == 7 log in from 10.7.3.x as their fourth session.
    let expected: HashSet<SessionId> = seeded_ids
        .iter()
        .filter(|(u, i, _)| u % 200 == 7 && *i == 3)
        .map(|(_, _, id)| id.clone())
        .collect();
    assert_eq!(expected.len(), users.len() / 200);
    assert_eq!(ids(&in_network), expected);
    let one = scoped.clone().of_user(users[123].clone());
    let t = Instant::now();
    let dry = h
        .manager
        .revoke_matching(&one, RevokeReason::Admin, MatchingMode::DryRun)
        .await
        .unwrap();
    let user_query = t.elapsed();
    assert_eq!(dry.sessions.len(), 10);
    println!(
        "directory seed: {LARGE_SEED} sessions in {seeded:?}; first page of {MAX_PAGE}: {first_page:?}; \
         one /24 ({} sessions): {network_query:?}; one user: {user_query:?}",
        in_network.len()
    );
    for user in &users {
        store.erase_user(user).await.unwrap();
    }
}
