use std::time::Duration;

use super::*;
use crate::ids::{SessionId, UserId};
use crate::record::{RefreshState, SessionMeta, SessionRecord};
use crate::secret::TokenHash;

fn record(user: &str, created: i64, ip: &str) -> SessionRecord {
    let at = Timestamp::from_unix_millis(created);
    SessionRecord {
        user: UserId::new(user).unwrap(),
        id: SessionId::generate(),
        created_at: at,
        last_seen_at: at,
        expires_at: at.plus(Duration::from_secs(3600)),
        auth_time: at,
        refresh: RefreshState {
            hash: TokenHash::from_bytes([0; 32]),
            generation: 0,
            rotated_at: at,
        },
        revoked: None,
        ip: Some(ip.parse().unwrap()),
        device_class: crate::record::DeviceClass::Desktop,
        country: Some("DE".into()),
        meta: SessionMeta::default(),
        seen: Default::default(),
    }
}

#[test]
fn pages_walk_every_match_once_newest_first() {
    let records: Vec<SessionRecord> = (0..57)
        .map(|i| record(&format!("u{}", i % 7), 1_000 + (i % 5), "203.0.113.9"))
        .chain((0..9).map(|i| record("other", 1_000 + i, "198.51.100.1")))
        .collect();
    let now = Timestamp::from_unix_millis(2_000);
    let filter = SessionFilter::default().from_network("203.0.113.0/24".parse().unwrap());
    let mut query = SessionQuery::new(filter, now, Timestamp::EPOCH).limit(10);
    let mut seen = Vec::new();
    loop {
        let page = query.page_of(&records);
        assert!(page.sessions.len() <= 10);
        seen.extend(page.sessions);
        match page.next {
            Some(next) => query.after = Some(PageCursor::parse(&next.to_text()).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 57);
    let keys: Vec<_> = seen
        .iter()
        .map(|r| {
            (
                r.created_at,
                r.user.as_str().to_owned(),
                r.id.as_str().to_owned(),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "strictly descending, no repeats"
    );
}

#[test]
fn filters_keep_only_active_matching_sessions() {
    let now = Timestamp::from_unix_millis(2_000);
    let mut ended = record("a", 1_000, "203.0.113.9");
    ended.revoked = Some(crate::record::Revocation {
        at: now,
        reason: crate::record::RevokeReason::Admin,
    });
    let live = record("a", 1_000, "203.0.113.9");
    let all = SessionFilter::default();
    assert!(!all.matches(&ended, now, Timestamp::EPOCH));
    assert!(all.matches(&live, now, Timestamp::EPOCH));
    assert!(
        !all.matches(&live, now, Timestamp::from_unix_millis(1_000)),
        "idle"
    );
    assert!(
        SessionFilter::default()
            .in_country("de")
            .matches(&live, now, Timestamp::EPOCH)
    );
    assert!(
        !SessionFilter::default()
            .in_country("FR")
            .matches(&live, now, Timestamp::EPOCH)
    );
    assert!(
        !SessionFilter::default()
            .from_asn(64500)
            .matches(&live, now, Timestamp::EPOCH)
    );
    let window = TimeWindow {
        from: Some(Timestamp::from_unix_millis(1_001)),
        until: None,
    };
    assert!(
        !SessionFilter::default()
            .created_in(window)
            .matches(&live, now, Timestamp::EPOCH)
    );
    assert!(
        !SessionFilter::default()
            .at_risk(crate::risk::RiskLevel::Medium)
            .matches(&live, now, Timestamp::EPOCH)
    );
}

#[test]
fn a_pager_ends_short_after_its_budget_and_goes_on_from_there() {
    // 1,000 sessions of another network, then 5 of the one asked for, in
    // sort order as a store's index returns them.
    let mut rows: Vec<SessionRecord> = (0..1_000)
        .map(|i| record("noise", 10_000 - i, "198.51.100.1"))
        .chain((0..5).map(|i| record("target", 5_000 - i, "203.0.113.9")))
        .collect();
    let key = |r: &SessionRecord| {
        (
            r.created_at,
            r.user.as_str().to_owned(),
            r.id.as_str().to_owned(),
        )
    };
    rows.sort_by_key(|r| std::cmp::Reverse(key(r)));
    let read = |after: Option<&PageCursor>, chunk: usize| -> Vec<SessionRecord> {
        rows.iter()
            .filter(|r| {
                after.is_none_or(|c| {
                    key(r)
                        < (
                            c.created_at,
                            c.user.as_str().to_owned(),
                            c.id.as_str().to_owned(),
                        )
                })
            })
            .take(chunk)
            .cloned()
            .collect()
    };
    let now = Timestamp::from_unix_millis(20_000);
    let filter = SessionFilter::default().from_network("203.0.113.0/24".parse().unwrap());
    let mut query = SessionQuery::new(filter, now, Timestamp::EPOCH).limit(10);
    let mut pages = Vec::new();
    loop {
        let mut pager = query.pager_scanning(100, 300);
        while let Some((after, chunk)) = pager.next_read() {
            let batch = read(after, chunk);
            pager.take(batch);
        }
        let page = pager.finish();
        pages.push(page.sessions.len());
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        pages.iter().sum::<usize>(),
        5,
        "every match found: {pages:?}"
    );
    assert_eq!(pages[0], 0, "the first call ran out of budget in the noise");
    assert!(pages.len() >= 3, "{pages:?}");
}
