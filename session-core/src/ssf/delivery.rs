//! Push delivery (RFC 8935): lease due SETs, send them, and retry with
//! backoff until the receiver takes them.

use std::time::Duration;

use async_trait::async_trait;

use super::PUSH_BATCH;
use super::stream::{Delivery, PushAuthorization, StreamRecord, StreamStatus};
use super::transmitter::Transmitter;
use crate::secret::random_bytes;
use crate::store::StoreError;

/// SETs leased by one claim: a lease covers pushing each of them once.
const CLAIM_BATCH: usize = 8;

/// What a push came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The receiver took it (`202`, or any `2xx`).
    Accepted,
    /// The receiver refused it for good: `400` with RFC 8935 §2.3's
    /// `invalid_request`, `invalid_issuer` or `invalid_audience` (or no
    /// `err`), `413` or `415`. It is dropped, not retried.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The `err` code, when the answer had one.
        err: Option<String>,
    },
    /// Not delivered this time: no answer, a timeout, `invalid_key`,
    /// `authentication_failed` or `access_denied` (a key rotation, or a
    /// credential the receiver may fix), any other `4xx`, a `5xx`. Retried
    /// later, until the retention.
    Failed(String),
}

/// Whether `stream`'s SETs are pushed now.
fn pushes_now(stream: &StreamRecord) -> bool {
    stream.status == StreamStatus::Enabled && matches!(stream.delivery, Delivery::Push { .. })
}

/// RFC 8935 §2.3 errors that sending the same SET again cannot fix.
const FINAL_ERRS: [&str; 3] = ["invalid_request", "invalid_issuer", "invalid_audience"];

impl PushOutcome {
    /// The outcome an HTTP answer means (RFC 8935 §2.2, §2.3).
    ///
    /// ```
    /// use sessionward_core::ssf::PushOutcome;
    /// assert_eq!(PushOutcome::from_response(202, b""), PushOutcome::Accepted);
    /// assert_eq!(
    ///     PushOutcome::from_response(400, br#"{"err":"invalid_audience","description":"?"}"#),
    ///     PushOutcome::Refused { status: 400, err: Some("invalid_audience".into()) },
    /// );
    /// // A key the receiver does not hold yet (it rotates): tried again.
    /// assert!(matches!(
    ///     PushOutcome::from_response(400, br#"{"err":"invalid_key"}"#),
    ///     PushOutcome::Failed(_)
    /// ));
    /// assert!(matches!(PushOutcome::from_response(503, b""), PushOutcome::Failed(_)));
    /// assert!(matches!(PushOutcome::from_response(404, b""), PushOutcome::Failed(_)));
    /// ```
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let err = || {
            serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["err"].as_str().map(str::to_owned))
                .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_graphic()))
        };
        match status {
            200..=299 => PushOutcome::Accepted,
            400 => match err() {
                Some(e) if !FINAL_ERRS.contains(&e.as_str()) => {
                    PushOutcome::Failed(format!("the receiver answered 400 {e}"))
                }
                err => PushOutcome::Refused { status, err },
            },
            413 | 415 => PushOutcome::Refused { status, err: err() },
            _ => PushOutcome::Failed(format!("the receiver answered {status}")),
        }
    }
}

/// Sends one SET to a receiver's push endpoint: `POST endpoint_url` with
/// `Content-Type: application/secevent+jwt`, `Accept: application/json`,
/// the `Authorization` header when given, and the SET as the body. Map the
/// answer with [`PushOutcome::from_response`]. The transmitter bounds each
/// call by [`super::TransmitterConfig::push_timeout`].
///
/// ```
/// use async_trait::async_trait;
/// use sessionward_core::ssf::{PushAuthorization, PushOutcome, SetPusher};
///
/// /// Wraps the app's HTTP client (reqwest, hyper, awc, …).
/// struct AppPusher;
///
/// #[async_trait]
/// impl SetPusher for AppPusher {
///     async fn push(&self, url: &str, auth: Option<&PushAuthorization>, set: &str) -> PushOutcome {
///         // let answer = client.post(url).header("content-type", "application/secevent+jwt")
///         //     .header("accept", "application/json").body(set.to_owned()).send().await;
///         let (status, body) = (202, Vec::new());
///         PushOutcome::from_response(status, &body)
///     }
/// }
/// ```
#[async_trait]
pub trait SetPusher: Send + Sync + 'static {
    /// Pushes `set` to `endpoint_url`.
    async fn push(
        &self,
        endpoint_url: &str,
        authorization: Option<&PushAuthorization>,
        set: &str,
    ) -> PushOutcome;
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// SETs receivers took.
    pub delivered: usize,
    /// SETs receivers refused for good (dropped).
    pub refused: usize,
    /// Pushes that failed and wait for a retry.
    pub retrying: usize,
    /// SETs dropped as older than the retention.
    pub expired: usize,
}

impl Transmitter {
    /// One delivery pass: drops SETs past the retention, then pushes the
    /// due SETs of every enabled push stream (at most [`PUSH_BATCH`] per
    /// stream), oldest first. A failed push is retried after a backoff
    /// that doubles per attempt; the stream's other due SETs wait as long,
    /// so a receiver that is down costs one timeout per pass. Safe to run
    /// on several instances at once: each SET is leased to one of them.
    ///
    /// # Errors
    /// [`StoreError`] when the outbox cannot be read or written; what was
    /// delivered before it stays delivered.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        let now = self.now();
        let streams = self.store().streams().await?;
        for stream in &streams {
            report.expired += self
                .store()
                .remove_older(&stream.id, now.minus(self.config().retention))
                .await?;
        }
        // Each stream on its own task: a slow receiver delays only itself.
        let mut pushing = tokio::task::JoinSet::new();
        for stream in streams.into_iter().filter(pushes_now) {
            let transmitter = self.clone();
            pushing.spawn(async move {
                let mut mine = DeliveryReport::default();
                let done = transmitter.push_stream(&stream.id, &mut mine).await;
                (mine, done)
            });
        }
        let mut failure = None;
        while let Some(joined) = pushing.join_next().await {
            match joined {
                Ok((mine, done)) => {
                    report.delivered += mine.delivered;
                    report.refused += mine.refused;
                    report.retrying += mine.retrying;
                    if let Err(e) = done {
                        failure.get_or_insert(e);
                    }
                }
                Err(e) => {
                    tracing::error!(target: "sessionward::ssf", error = %e, "a push task failed")
                }
            }
        }
        if report.expired > 0 {
            tracing::error!(
                target: "sessionward::ssf",
                expired = report.expired,
                "security event tokens were dropped undelivered after the retention"
            );
        }
        #[cfg(feature = "metrics")]
        crate::metrics::ssf_delivery(&report);
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Pushes up to [`PUSH_BATCH`] due SETs of stream `id`, reading the
    /// stream again before each lease so that a change (a new endpoint, a
    /// pause, a deletion) counts from the next SET on.
    async fn push_stream(&self, id: &str, report: &mut DeliveryReport) -> Result<(), StoreError> {
        let Some(pusher) = self.pusher() else {
            return Ok(());
        };
        let timeout = self.config().push_timeout;
        let mut pushed = 0;
        while pushed < PUSH_BATCH {
            let Some(stream) = self.store().stream(id).await?.filter(pushes_now) else {
                return Ok(());
            };
            let Delivery::Push {
                endpoint_url,
                authorization_header,
            } = &stream.delivery
            else {
                return Ok(());
            };
            let now = self.now();
            let lease = now.plus(timeout * (CLAIM_BATCH as u32 + 1));
            let claimed = self
                .store()
                .claim_due(&stream.id, now, lease, CLAIM_BATCH)
                .await?;
            if claimed.is_empty() {
                return Ok(());
            }
            let mut rest = claimed.iter();
            for item in rest.by_ref() {
                pushed += 1;
                let set = self.as_sent(&item.set);
                let sent = pusher.push(endpoint_url, authorization_header.as_ref(), &set);
                let outcome = tokio::time::timeout(timeout, sent)
                    .await
                    .unwrap_or_else(|_| PushOutcome::Failed("the push timed out".into()));
                match outcome {
                    PushOutcome::Accepted => {
                        self.store()
                            .remove(&stream.id, std::slice::from_ref(&item.jti))
                            .await?;
                        report.delivered += 1;
                    }
                    PushOutcome::Refused { status, err } => {
                        self.store()
                            .remove(&stream.id, std::slice::from_ref(&item.jti))
                            .await?;
                        report.refused += 1;
                        tracing::warn!(
                            target: "sessionward::ssf",
                            stream = %stream.id, jti = %item.jti, status, err = err.as_deref().unwrap_or(""),
                            "the receiver refused a security event token; it is dropped"
                        );
                    }
                    PushOutcome::Failed(why) => {
                        tracing::warn!(
                            target: "sessionward::ssf",
                            stream = %stream.id, jti = %item.jti, attempts = item.attempts + 1, %why,
                            "push failed; retrying later"
                        );
                        let retry_at = self.now().plus(self.backoff(item.attempts));
                        self.store().retry_later(item, retry_at).await?;
                        report.retrying += 1;
                        for waiting in rest.by_ref() {
                            self.store().retry_later(waiting, retry_at).await?;
                            report.retrying += 1;
                        }
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// The wait before retry number `attempts + 1`: the first retry delay
    /// doubled per attempt, at most the maximum, less up to a fifth at
    /// random so that instances and streams spread out.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let config = self.config();
        let doubled = config
            .first_retry
            .checked_mul(1u32 << attempts.min(20))
            .unwrap_or(config.max_retry);
        let full = doubled.min(config.max_retry);
        let [r] = random_bytes::<1>();
        full - full.mul_f64(f64::from(r) / 255.0 / 5.0)
    }

    /// Runs [`Transmitter::deliver_due`] every `every`, and soon after new
    /// SETs are queued, until the transmitter is dropped. Needs a Tokio
    /// runtime.
    pub fn spawn_delivery(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = self.downgrade();
        tokio::spawn(async move {
            loop {
                let Some(transmitter) = weak.upgrade() else {
                    return;
                };
                // Listening before the pass: a SET queued while it runs
                // (after its reads) starts the next one at once.
                let queued = transmitter.queued();
                let woken = queued.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                if let Err(e) = transmitter.deliver_due().await {
                    tracing::error!(target: "sessionward::ssf", error = %e, "delivery pass failed");
                }
                drop(transmitter);
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = woken => {}
                }
            }
        })
    }
}
