//! The revocation feed: Redis pub/sub on `<prefix>revoked`.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use sessionward_core::{FeedEvent, RevocationFeed, SessionId, StoreError, UserId};
use tokio::sync::mpsc;

use crate::error::{map_err, timed_out};

/// Queue length per subscriber. A subscriber that falls this far behind is
/// disconnected (its channel closes), so the manager falls back to strict
/// checks and resubscribes; no message is silently dropped.
const FEED_QUEUE: usize = 4096;

/// The pub/sub side of a [`crate::RedisStore`]: every revoking script
/// publishes `"<id> <id> ...\n<user id>"` on `<prefix>revoked`, and each
/// subscription is a dedicated pub/sub connection.
///
/// Obtain it through [`sessionward_core::SessionStore::revocation_feed`].
#[derive(Clone)]
pub struct RedisRevocationFeed {
    clients: Vec<redis::Client>,
    channel: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    heartbeat: Duration,
}

impl std::fmt::Debug for RedisRevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocationFeed")
            .field("channel", &self.channel)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl RedisRevocationFeed {
    pub(crate) fn new(
        clients: Vec<redis::Client>,
        channel: String,
        connect_timeout: Duration,
        response_timeout: Duration,
        heartbeat: Duration,
    ) -> Self {
        RedisRevocationFeed {
            clients,
            channel,
            connect_timeout,
            response_timeout,
            heartbeat,
        }
    }

    /// The channel revocations are published on.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// Parses one published message (`<id> <id>…\n<user id>\n<revoked at, ms>`;
/// the time is absent in messages of earlier versions) into revocation
/// events.
pub(crate) fn parse_message(payload: &str) -> Vec<FeedEvent> {
    let Some((ids, rest)) = payload.split_once('\n') else {
        return Vec::new();
    };
    let (user, at) = match rest.split_once('\n') {
        Some((user, at)) => (user, crate::args::parse_millis(at).ok()),
        None => (rest, None),
    };
    let Ok(user) = UserId::new(user) else {
        return Vec::new();
    };
    ids.split(' ')
        .filter_map(|id| SessionId::parse(id).ok())
        .map(|id| FeedEvent::Revoked {
            user: user.clone(),
            id,
            at,
        })
        .collect()
}

#[async_trait]
impl RevocationFeed for RedisRevocationFeed {
    async fn subscribe(&self) -> Result<mpsc::Receiver<FeedEvent>, StoreError> {
        // Standalone: the one server. Cluster: the seed nodes in turn
        // (classic pub/sub reaches every node of a cluster).
        let mut last = timed_out("connecting the revocation feed");
        let mut connected = None;
        for client in &self.clients {
            match tokio::time::timeout(self.connect_timeout, client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => {
                    connected = Some(pubsub);
                    break;
                }
                Ok(Err(e)) => last = map_err(e),
                Err(_) => last = timed_out("connecting the revocation feed"),
            }
        }
        let Some(pubsub) = connected else {
            return Err(last);
        };
        let (mut sink, mut stream) = pubsub.split();
        // Resolves once the server confirmed the subscription.
        tokio::time::timeout(self.response_timeout, sink.subscribe(&self.channel))
            .await
            .map_err(|_| timed_out("subscribing the revocation feed"))?
            .map_err(map_err)?;
        let (tx, rx) = mpsc::channel(FEED_QUEUE);
        // Cannot fail: the queue is new and empty.
        let _ = tx.try_send(FeedEvent::Connected);
        let (heartbeat, response_timeout) = (self.heartbeat, self.response_timeout);
        tokio::spawn(async move {
            let mut ping = tokio::time::interval(heartbeat);
            ping.tick().await;
            loop {
                tokio::select! {
                    msg = stream.next() => {
                        let Some(msg) = msg else { break };
                        let Ok(payload) = msg.get_payload::<String>() else {
                            tracing::warn!(target: "sessionward::redis", "undecodable revocation message ignored");
                            continue;
                        };
                        for event in parse_message(&payload) {
                            if tx.try_send(event).is_err() {
                                // Receiver gone or too slow: close the feed so it
                                // resubscribes and re-checks the store meanwhile.
                                return;
                            }
                        }
                    }
                    _ = ping.tick() => {
                        // A half-open TCP connection never ends the stream;
                        // a missing PONG does.
                        let pong = tokio::time::timeout(response_timeout, sink.ping::<redis::Value>()).await;
                        if !matches!(pong, Ok(Ok(_))) {
                            tracing::warn!(target: "sessionward::redis", "revocation feed heartbeat failed");
                            break;
                        }
                    }
                    () = tx.closed() => return,
                }
            }
            let _ = tx.try_send(FeedEvent::Disconnected);
        });
        Ok(rx)
    }

    /// Pub/sub delivers in about one network round trip after the revoking
    /// script commits (sub-millisecond on loopback, see `docs/benchmarks-redis.md`);
    /// 50 ms covers a loaded LAN.
    fn expected_latency(&self) -> Duration {
        Duration::from_millis(50)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_messages() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        let events = parse_message(&format!("{a} {b}\nuser with spaces {{x}}"));
        assert_eq!(events.len(), 2);
        assert!(
            matches!(&events[1], FeedEvent::Revoked { user, id, at: None }
            if user.as_str() == "user with spaces {x}" && *id == b)
        );
        let events = parse_message(&format!("{a}\nalice\n1767225600123"));
        assert!(
            matches!(&events[0], FeedEvent::Revoked { id, at: Some(t), .. }
            if *id == a && t.unix_millis() == 1_767_225_600_123)
        );
        assert!(parse_message("garbage").is_empty());
        assert!(parse_message("notanid\nu").is_empty());
    }
}
