//! Conformance cases for [`SsfStore`]: the transmitter's streams and
//! outbox. Each case uses fresh random stream ids and deletes its streams,
//! so stores may share one database between cases and runs.
// A test kit: a failed step is a panic, as in a test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::secret::{hex_encode, random_bytes};
use crate::ssf::{Delivery, OutboxItem, SsfStore, StreamRecord, StreamStatus, StreamWrite};
use crate::store::StoreError;
use crate::time::{Clock, Timestamp};

/// Expands to one `#[tokio::test]` per [`SsfStore`] case, each calling
/// `$factory().await` (`None` skips the case).
#[macro_export]
macro_rules! ssf_store_conformance_tests {
    ($factory:path) => {
        $crate::store_conformance_tests!(@cases $factory;
            ssf_streams_are_versioned,
            ssf_outbox_queues_each_set_once_in_order,
            ssf_claims_lease_each_set,
            ssf_concurrent_claims_never_share_a_set,
            ssf_retry_is_conditional_on_the_claim,
            ssf_remove_expire_and_delete,
        );
    };
}

/// When this process's cases start: times are relative to it, so a
/// shared database can drop what earlier runs left (see
/// [`SSF_LEFTOVER_AGE`]).
static BASE: std::sync::LazyLock<Timestamp> =
    std::sync::LazyLock::new(|| crate::time::SystemClock.now());

/// Streams a case leaves behind when it fails are older than this on the
/// next run; a shared database's factory may delete streams created
/// longer ago than this before handing out the store.
pub const SSF_LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(BASE.unix_millis() + ms)
}

fn new_stream(created: Timestamp) -> StreamRecord {
    StreamRecord {
        id: hex_encode(&random_bytes::<16>()),
        receiver: "conformance".into(),
        audience: "https://receiver.example".into(),
        events_requested: vec![crate::ssf::CAEP_SESSION_REVOKED.into()],
        delivery: Delivery::Poll,
        description: Some("conformance \"case\" ✓".into()),
        status: StreamStatus::Enabled,
        status_reason: None,
        created_at: created,
        last_verification_at: None,
        version: 1,
    }
}

fn item(stream: &str, jti: &str, created: Timestamp) -> OutboxItem {
    OutboxItem {
        stream: stream.to_owned(),
        jti: jti.to_owned(),
        set: format!("eyJhbGciOiJFZERTQSJ9.{jti}.sig"),
        created_at: created,
        available_at: created,
        attempts: 0,
    }
}

/// A new stream in `store` with the SETs `queued` (`jti`, queued at ms).
async fn stream_holding(store: &Arc<dyn SsfStore>, queued: &[(&str, i64)]) -> StreamRecord {
    let stream = new_stream(at(0));
    store.create_stream(&stream).await.unwrap();
    let items: Vec<OutboxItem> = queued
        .iter()
        .map(|(jti, ms)| item(&stream.id, jti, at(*ms)))
        .collect();
    store.enqueue(&items).await.unwrap();
    stream
}

fn jtis(items: &[OutboxItem]) -> Vec<&str> {
    items.iter().map(|i| i.jti.as_str()).collect()
}

/// Creates, reads, replaces (conditionally) and deletes streams.
pub async fn ssf_streams_are_versioned(store: Arc<dyn SsfStore>) {
    let first = new_stream(at(0));
    let second = new_stream(at(1));
    store.create_stream(&first).await.unwrap();
    store.create_stream(&second).await.unwrap();
    assert!(matches!(
        store.create_stream(&first).await,
        Err(StoreError::IdTaken)
    ));
    assert_eq!(store.stream(&first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.stream("no-such-stream").await.unwrap(), None);
    let listed: Vec<String> = store
        .streams()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .filter(|id| *id == first.id || *id == second.id)
        .collect();
    assert_eq!(
        listed,
        [first.id.clone(), second.id.clone()],
        "creation order"
    );

    let mut changed = first.clone();
    changed.status = StreamStatus::Paused;
    changed.status_reason = Some("maintenance".into());
    changed.version = 2;
    assert_eq!(
        store.replace_stream(&changed, 1).await.unwrap(),
        StreamWrite::Done
    );
    let read = store.stream(&first.id).await.unwrap().unwrap();
    assert_eq!((read.version, read.status), (2, StreamStatus::Paused));
    assert_eq!(read.status_reason.as_deref(), Some("maintenance"));
    // A writer that read version 1 lost the race: nothing changes.
    let mut stale = first.clone();
    stale.description = None;
    stale.version = 2;
    assert_eq!(
        store.replace_stream(&stale, 1).await.unwrap(),
        StreamWrite::Stale
    );
    assert_eq!(store.stream(&first.id).await.unwrap(), Some(read));
    let mut ghost = new_stream(at(2));
    ghost.version = 2;
    assert_eq!(
        store.replace_stream(&ghost, 1).await.unwrap(),
        StreamWrite::Stale
    );

    assert!(store.delete_stream(&first.id).await.unwrap());
    assert!(!store.delete_stream(&first.id).await.unwrap());
    assert_eq!(store.stream(&first.id).await.unwrap(), None);
    assert!(store.delete_stream(&second.id).await.unwrap());
}

/// Queued SETs come back oldest first; a duplicate `jti` and a SET for a
/// stream that does not exist are not queued.
pub async fn ssf_outbox_queues_each_set_once_in_order(store: Arc<dyn SsfStore>) {
    let stream = new_stream(at(0));
    store.create_stream(&stream).await.unwrap();
    let (a, b, c) = (
        item(&stream.id, "a1", at(10)),
        item(&stream.id, "b2", at(20)),
        item(&stream.id, "c3", at(30)),
    );
    store
        .enqueue(&[c.clone(), a.clone(), b.clone()])
        .await
        .unwrap();
    let mut again = a.clone();
    again.set = "changed".into();
    store
        .enqueue(&[again, item("no-such-stream", "z9", at(5))])
        .await
        .unwrap();
    let pending = store.pending(&stream.id, 10).await.unwrap();
    assert_eq!(pending, [a.clone(), b.clone(), c]);
    assert_eq!(
        jtis(&store.pending(&stream.id, 2).await.unwrap()),
        ["a1", "b2"]
    );
    assert!(
        store
            .pending("no-such-stream", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.delete_stream(&stream.id).await.unwrap());
}

/// A claim leases the due SETs until the lease ends; leased SETs are not
/// claimed again before then, and are after.
pub async fn ssf_claims_lease_each_set(store: Arc<dyn SsfStore>) {
    let stream = new_stream(at(0));
    store.create_stream(&stream).await.unwrap();
    let mut later = item(&stream.id, "d4", at(40));
    later.available_at = at(1_000);
    store
        .enqueue(&[
            item(&stream.id, "a1", at(10)),
            item(&stream.id, "b2", at(20)),
            item(&stream.id, "c3", at(30)),
            later,
        ])
        .await
        .unwrap();
    let now = at(100);
    let lease = at(500);
    let first = store.claim_due(&stream.id, now, lease, 2).await.unwrap();
    assert_eq!(jtis(&first), ["a1", "b2"]);
    assert!(
        first
            .iter()
            .all(|i| i.available_at == lease && i.attempts == 0)
    );
    assert_eq!(first[0].created_at, at(10));
    assert_eq!(
        jtis(&store.claim_due(&stream.id, now, lease, 10).await.unwrap()),
        ["c3"]
    );
    assert!(
        store
            .claim_due(&stream.id, now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The leases end: the three are due again; "d4" is not yet.
    let again = store
        .claim_due(&stream.id, at(500), at(900), 10)
        .await
        .unwrap();
    assert_eq!(
        jtis(&again).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from(["a1", "b2", "c3"])
    );
    // What a poll sees is every queued SET, leased or not.
    assert_eq!(store.pending(&stream.id, 10).await.unwrap().len(), 4);
    assert!(store.delete_stream(&stream.id).await.unwrap());
}

/// Instances claiming the same stream at once never get the same SET.
pub async fn ssf_concurrent_claims_never_share_a_set(store: Arc<dyn SsfStore>) {
    let stream = new_stream(at(0));
    store.create_stream(&stream).await.unwrap();
    let items: Vec<OutboxItem> = (0..60)
        .map(|n| item(&stream.id, &format!("j{n:03}"), at(n)))
        .collect();
    store.enqueue(&items).await.unwrap();
    let claimers = (0..4).map(|_| {
        let store = store.clone();
        let id = stream.id.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim_due(&id, at(100), at(10_000), 3).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|i| i.jti));
            }
        })
    });
    let mut seen = BTreeSet::new();
    for claimer in claimers {
        for jti in claimer.await.unwrap() {
            assert!(seen.insert(jti.clone()), "{jti} was leased twice");
        }
    }
    assert_eq!(seen.len(), 60, "every SET leased once");
    assert!(store.delete_stream(&stream.id).await.unwrap());
}

/// A failed push counts an attempt and sets the next try, but only on the
/// SET as it was claimed: not after it was removed or leased again.
pub async fn ssf_retry_is_conditional_on_the_claim(store: Arc<dyn SsfStore>) {
    let stream = stream_holding(&store, &[("a1", 10), ("b2", 20)]).await;
    let claimed = store
        .claim_due(&stream.id, at(100), at(200), 2)
        .await
        .unwrap();
    let (a, b) = (&claimed[0], &claimed[1]);
    assert_eq!(
        store.retry_later(a, at(300)).await.unwrap(),
        StreamWrite::Done
    );
    // The same claim again: the SET changed since, so nothing happens.
    assert_eq!(
        store.retry_later(a, at(999)).await.unwrap(),
        StreamWrite::Stale
    );
    let after = store.pending(&stream.id, 10).await.unwrap();
    assert_eq!((after[0].attempts, after[0].available_at), (1, at(300)));
    // "b2"'s lease ended; "a1" waits for its retry.
    let b_again = store
        .claim_due(&stream.id, at(250), at(400), 10)
        .await
        .unwrap();
    assert_eq!(jtis(&b_again), ["b2"]);
    let retried = store
        .claim_due(&stream.id, at(300), at(400), 10)
        .await
        .unwrap();
    assert_eq!(jtis(&retried), ["a1"]);
    assert_eq!(retried[0].attempts, 1);
    // "b2" was claimed again meanwhile: the first claim's failure is stale.
    assert_eq!(
        store.retry_later(b, at(999)).await.unwrap(),
        StreamWrite::Stale
    );
    assert_eq!(store.remove(&stream.id, &["a1".into()]).await.unwrap(), 1);
    assert_eq!(
        store.retry_later(&retried[0], at(999)).await.unwrap(),
        StreamWrite::Stale
    );
    assert!(store.delete_stream(&stream.id).await.unwrap());
}

/// Acknowledged SETs go; so do SETs older than the retention; deleting a
/// stream drops its queue, even for a stream created again with its id.
pub async fn ssf_remove_expire_and_delete(store: Arc<dyn SsfStore>) {
    let stream = stream_holding(&store, &[("a1", 10), ("b2", 20), ("c3", 30), ("d4", 40)]).await;
    let removed = store
        .remove(&stream.id, &["b2".into(), "not-queued".into()])
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(store.remove_older(&stream.id, at(30)).await.unwrap(), 1);
    assert_eq!(
        jtis(&store.pending(&stream.id, 10).await.unwrap()),
        ["c3", "d4"]
    );
    assert!(store.delete_stream(&stream.id).await.unwrap());
    store.create_stream(&stream).await.unwrap();
    assert!(store.pending(&stream.id, 10).await.unwrap().is_empty());
    assert!(
        store
            .claim_due(&stream.id, at(100), at(200), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.delete_stream(&stream.id).await.unwrap());
}
