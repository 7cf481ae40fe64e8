//! Poll delivery (RFC 8936): the receiver acknowledges what it took and
//! asks for more in one `POST`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::MAX_POLL_EVENTS;
use super::receivers::Receiver;
use super::stream::{Delivery, StreamStatus};
use super::transmitter::{SsfError, Transmitter};

/// Most acknowledgements (and errors) one poll may carry.
const MAX_ACKS: usize = 1000;
/// Default `maxEvents`.
const DEFAULT_POLL_EVENTS: usize = 32;
/// How often a waiting poll looks at the store again, for SETs queued by
/// other instances.
const POLL_RECHECK: Duration = Duration::from_secs(1);

/// An RFC 8936 §2.4 poll request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PollRequest {
    #[serde(default)]
    max_events: Option<u64>,
    #[serde(default)]
    return_immediately: Option<bool>,
    #[serde(default)]
    ack: Vec<String>,
    #[serde(default)]
    set_errs: BTreeMap<String, SetErr>,
}

/// One `setErrs` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetErr {
    err: String,
    #[serde(default)]
    description: Option<String>,
}

impl Transmitter {
    /// Serves one poll of the receiver's poll stream `id` (RFC 8936 §2.4):
    /// removes the acknowledged SETs (and those reported in `setErrs`,
    /// which are logged), then answers up to `maxEvents` (default 32, at
    /// most [`MAX_POLL_EVENTS`]) unacknowledged SETs, oldest first, with
    /// `moreAvailable`. Without `returnImmediately`, an empty answer waits
    /// up to [`super::TransmitterConfig::poll_wait`] for one. A SET is
    /// handed out again until acknowledged; a paused stream answers none.
    ///
    /// # Errors
    /// [`SsfError::InvalidRequest`] (malformed, or not a poll stream),
    /// [`SsfError::NotFound`], [`SsfError::Store`].
    pub async fn poll(
        &self,
        receiver: &Receiver,
        id: &str,
        body: &[u8],
    ) -> Result<Value, SsfError> {
        let request: PollRequest = if body.iter().all(u8::is_ascii_whitespace) {
            PollRequest::default()
        } else {
            super::transmitter::parse(body)?
        };
        if request.ack.len() + request.set_errs.len() > MAX_ACKS {
            return Err(SsfError::InvalidRequest(
                "at most 1000 acknowledgements per poll",
            ));
        }
        let stream = match self.store().stream(id).await? {
            Some(s) if s.receiver == receiver.id => s,
            _ => return Err(SsfError::NotFound),
        };
        if stream.delivery != Delivery::Poll {
            return Err(SsfError::InvalidRequest("the stream is not a poll stream"));
        }
        for (jti, e) in &request.set_errs {
            tracing::warn!(
                target: "sessionward::ssf",
                stream = %id, jti = %jti.chars().take(64).collect::<String>(),
                err = %e.err.chars().take(64).collect::<String>(),
                description = %e.description.as_deref().unwrap_or("").chars().take(255).collect::<String>(),
                "the receiver reported a security event token it could not take"
            );
        }
        let done: Vec<String> = request
            .ack
            .iter()
            .chain(request.set_errs.keys())
            .cloned()
            .collect();
        if !done.is_empty() {
            self.store().remove(id, &done).await?;
        }
        let max = request
            .max_events
            .map_or(DEFAULT_POLL_EVENTS, |m| {
                usize::try_from(m).unwrap_or(usize::MAX)
            })
            .min(MAX_POLL_EVENTS);
        if max == 0 || stream.status != StreamStatus::Enabled {
            return Ok(json!({ "sets": {}, "moreAvailable": false }));
        }
        let deadline = tokio::time::Instant::now()
            + if request.return_immediately.unwrap_or(false) {
                Duration::ZERO
            } else {
                self.config().poll_wait
            };
        loop {
            let queued = self.queued();
            let waiting = queued.notified();
            let mut pending = self.store().pending(id, max + 1).await?;
            let now = tokio::time::Instant::now();
            if !pending.is_empty() || now >= deadline {
                let more = pending.len() > max;
                pending.truncate(max);
                let sets: serde_json::Map<String, Value> = pending
                    .into_iter()
                    .map(|item| (item.jti, Value::String(self.as_sent(&item.set))))
                    .collect();
                return Ok(json!({ "sets": sets, "moreAvailable": more }));
            }
            let _ = tokio::time::timeout((deadline - now).min(POLL_RECHECK), waiting).await;
        }
    }
}
