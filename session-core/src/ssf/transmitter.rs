//! The transmitter: streams managed by receivers, and SETs queued for them.

use std::fmt;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::config::{TransmitterConfig, TransmitterConfigError};
use super::delivery::SetPusher;
use super::receivers::{Receiver, ReceiverAuthorizer};
use super::set::{CHANGE_TYPES, CREDENTIAL_TYPES, SetEvent, new_jti};
use super::store::{OutboxItem, SsfStore, StreamWrite};
use super::stream::{
    Delivery, PushAuthorization, StreamRecord, StreamRequest, StreamStatus, short_text,
};
use super::{
    EVENTS_SUPPORTED, MAX_STREAMS, MAX_STREAMS_PER_RECEIVER, POLL_DELIVERY, PUSH_DELIVERY, SET_TYP,
    SSF_SPEC_VERSION,
};
use crate::ids::UserId;
use crate::record::{RevokeReason, SessionRecord};
use crate::secret::{hex_encode, random_bytes};
use crate::signals::SessionSignals;
use crate::store::StoreError;
use crate::time::{Clock, SystemClock, Timestamp};
use crate::tokens::{JwtAlgorithm, TokenConfig};

/// A queued SET older than this is signed again as it goes out.
const RESIGN_AFTER_SECS: i64 = 60;

/// How often a conditional stream write is tried before `409`.
const WRITE_ATTEMPTS: usize = 3;

/// Why a receiver's request, or a host call, was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SsfError {
    /// The request is malformed or asks for something not supported
    /// (`400`); the text says what.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// No such stream of this receiver (`404`).
    #[error("no such stream")]
    NotFound,
    /// The receiver has its streams' maximum, or the stream changed under
    /// a concurrent write more than a few times, or is disabled (`409`).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A verification sooner than the minimum interval (`429`).
    #[error("too many verification requests")]
    TooManyRequests,
    /// The outbox store failed (`503`); nothing was changed that the
    /// answer does not say.
    #[error("the transmitter's store failed: {0}")]
    Store(#[from] StoreError),
    /// Signing a SET failed (a broken key).
    #[error("signing a security event token failed")]
    Signing,
}

/// A Shared Signals transmitter. Cheap to clone (one shared state).
#[derive(Clone)]
pub struct Transmitter {
    inner: Arc<Inner>,
}

struct Inner {
    config: TransmitterConfig,
    tokens: TokenConfig,
    store: Arc<dyn SsfStore>,
    receivers: Arc<dyn ReceiverAuthorizer>,
    pusher: Option<Arc<dyn SetPusher>>,
    clock: Arc<dyn Clock>,
    /// Woken when this instance queues a SET (delivery and long polls).
    queued: Arc<Notify>,
}

impl fmt::Debug for Transmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmitter")
            .field("issuer", &self.inner.config.issuer)
            .field("push", &self.inner.pusher.is_some())
            .finish_non_exhaustive()
    }
}

/// Builder for [`Transmitter`].
pub struct TransmitterBuilder {
    config: TransmitterConfig,
    tokens: TokenConfig,
    store: Arc<dyn SsfStore>,
    receivers: Arc<dyn ReceiverAuthorizer>,
    pusher: Option<Arc<dyn SetPusher>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TransmitterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransmitterBuilder")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl TransmitterBuilder {
    /// Pushes SETs through `pusher`; without one, only poll streams can
    /// be created.
    pub fn pusher(mut self, pusher: Arc<dyn SetPusher>) -> Self {
        self.pusher = Some(pusher);
        self
    }

    /// The clock (default: the system clock; give the manager's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the transmitter.
    ///
    /// # Errors
    /// [`TransmitterConfigError::SymmetricKey`] when the token signing key
    /// is HS256: receivers could not verify the SETs without the secret.
    pub fn build(self) -> Result<Transmitter, TransmitterConfigError> {
        if self.tokens.keys.signing.algorithm() == JwtAlgorithm::HS256 {
            return Err(TransmitterConfigError::SymmetricKey);
        }
        Ok(Transmitter {
            inner: Arc::new(Inner {
                config: self.config,
                tokens: self.tokens,
                store: self.store,
                receivers: self.receivers,
                pusher: self.pusher,
                clock: self.clock,
                queued: Arc::new(Notify::new()),
            }),
        })
    }
}

/// A stream id: 128 random bits in hex.
fn new_stream_id() -> String {
    hex_encode(&random_bytes::<16>())
}

/// A request body: one JSON object of the expected members (an array in
/// field order, which serde would take for a struct, is refused).
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, SsfError> {
    let bad = || SsfError::InvalidRequest("the body is not the expected JSON object");
    match serde_json::from_slice::<Value>(body) {
        Ok(object @ Value::Object(_)) => serde_json::from_value(object).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// `{"stream_id": …, "status": …, "reason": …}` of a status update.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    stream_id: String,
    status: StreamStatus,
    #[serde(default)]
    reason: Option<String>,
}

/// `{"stream_id": …, "state": …}` of a verification request.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    stream_id: String,
    #[serde(default)]
    state: Option<String>,
}

impl Transmitter {
    /// Starts a transmitter that signs with `tokens`' current key, keeps
    /// streams and queued SETs in `store`, and lets the receivers
    /// `receivers` authenticates manage their streams.
    pub fn builder(
        config: TransmitterConfig,
        tokens: TokenConfig,
        store: Arc<dyn SsfStore>,
        receivers: Arc<dyn ReceiverAuthorizer>,
    ) -> TransmitterBuilder {
        TransmitterBuilder {
            config,
            tokens,
            store,
            receivers,
            pusher: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The issuer (`iss` of every SET).
    pub fn issuer(&self) -> &str {
        &self.inner.config.issuer
    }

    /// The settings.
    pub fn config(&self) -> &TransmitterConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Arc<dyn SsfStore> {
        &self.inner.store
    }

    pub(crate) fn pusher(&self) -> Option<&Arc<dyn SetPusher>> {
        self.inner.pusher.as_ref()
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub(crate) fn queued(&self) -> Arc<Notify> {
        self.inner.queued.clone()
    }

    pub(crate) fn downgrade(&self) -> WeakTransmitter {
        WeakTransmitter(Arc::downgrade(&self.inner))
    }

    /// The receiver the request's `Authorization` header proves.
    pub async fn authorize(&self, authorization: Option<&str>) -> Option<Receiver> {
        self.inner.receivers.authorize(authorization).await
    }

    /// The public keys that verify our SETs (RFC 7517): the token
    /// configuration's, current and retired, served at
    /// `<prefix>/ssf/jwks` (the metadata's `jwks_uri`).
    pub fn jwks(&self) -> Value {
        self.inner.tokens.jwks()
    }

    /// An endpoint's absolute URL: the issuer's origin, the route prefix,
    /// then `path`.
    fn endpoint(&self, prefix: &str, path: &str) -> String {
        format!("{}{prefix}{path}", self.inner.config.origin)
    }

    /// The transmitter configuration metadata (SSF 1.0 §7.1), for
    /// `GET /.well-known/ssf-configuration`.
    pub fn metadata(&self, prefix: &str) -> Value {
        let mut methods = vec![POLL_DELIVERY];
        if self.inner.pusher.is_some() {
            methods.insert(0, PUSH_DELIVERY);
        }
        json!({
            "spec_version": SSF_SPEC_VERSION,
            "issuer": self.issuer(),
            "jwks_uri": self.endpoint(prefix, "/ssf/jwks"),
            "delivery_methods_supported": methods,
            "configuration_endpoint": self.endpoint(prefix, "/ssf/stream"),
            "status_endpoint": self.endpoint(prefix, "/ssf/status"),
            "verification_endpoint": self.endpoint(prefix, "/ssf/verify"),
            "authorization_schemes": [{ "spec_urn": "urn:ietf:rfc:6750" }],
            "default_subjects": "ALL",
        })
    }

    fn wire(&self, prefix: &str, stream: &StreamRecord) -> Value {
        let poll_url = self.endpoint(prefix, &format!("/ssf/poll/{}", stream.id));
        stream.to_wire(
            self.issuer(),
            &poll_url,
            self.inner.config.min_verification_interval.as_secs(),
        )
    }

    /// The receiver's stream `id`; another receiver's is not found.
    async fn owned(&self, receiver: &Receiver, id: &str) -> Result<StreamRecord, SsfError> {
        match self.inner.store.stream(id).await? {
            Some(s) if s.receiver == receiver.id => Ok(s),
            _ => Err(SsfError::NotFound),
        }
    }

    /// The delivery a receiver asked for, checked.
    fn delivery(&self, request: &StreamRequest) -> Result<Delivery, SsfError> {
        let Some(d) = &request.delivery else {
            return Ok(Delivery::Poll);
        };
        match d.method.as_str() {
            POLL_DELIVERY if d.authorization_header.is_none() => Ok(Delivery::Poll),
            PUSH_DELIVERY if self.inner.pusher.is_some() => {
                let url = d
                    .endpoint_url
                    .as_deref()
                    .filter(|u| self.inner.config.push_url_allowed(u))
                    .ok_or(SsfError::InvalidRequest(
                        "push needs an https endpoint_url on an allowed host",
                    ))?;
                let authorization_header = match &d.authorization_header {
                    None => None,
                    Some(h) => Some(PushAuthorization::new(h.as_str()).ok_or(
                        SsfError::InvalidRequest("authorization_header must be a header value"),
                    )?),
                };
                Ok(Delivery::Push {
                    endpoint_url: url.to_owned(),
                    authorization_header,
                })
            }
            _ => Err(SsfError::InvalidRequest("unsupported delivery method")),
        }
    }

    /// Creates a stream for `receiver` from its request body (SSF 1.0
    /// §8.1.1.1); the stream configuration, for a `201`.
    ///
    /// # Errors
    /// [`SsfError::InvalidRequest`], [`SsfError::Conflict`] at
    /// [`MAX_STREAMS_PER_RECEIVER`], [`SsfError::Store`].
    pub async fn create_stream(
        &self,
        receiver: &Receiver,
        body: &[u8],
        prefix: &str,
    ) -> Result<Value, SsfError> {
        let request: StreamRequest = parse(body)?;
        let untaken = request.stream_id.is_none()
            && request.iss.is_none()
            && request.aud.is_none()
            && request.events_supported.is_none()
            && request.events_delivered.is_none()
            && request.min_verification_interval.is_none();
        if !untaken {
            return Err(SsfError::InvalidRequest(
                "a new stream takes only events_requested, delivery and description",
            ));
        }
        let delivery = self.delivery(&request)?;
        let events_requested = request
            .events()
            .map_err(SsfError::InvalidRequest)?
            .unwrap_or_else(|| EVENTS_SUPPORTED.map(str::to_owned).to_vec());
        let description = request.description().map_err(SsfError::InvalidRequest)?;
        let all = self.inner.store.streams().await?;
        if all.len() >= MAX_STREAMS
            || all.iter().filter(|s| s.receiver == receiver.id).count() >= MAX_STREAMS_PER_RECEIVER
        {
            return Err(SsfError::Conflict("no more streams for this receiver"));
        }
        let stream = StreamRecord {
            id: new_stream_id(),
            receiver: receiver.id.clone(),
            audience: receiver.audience.clone(),
            events_requested,
            delivery,
            description,
            status: StreamStatus::Enabled,
            status_reason: None,
            created_at: self.now(),
            last_verification_at: None,
            version: 1,
        };
        self.inner.store.create_stream(&stream).await?;
        tracing::info!(target: "sessionward::ssf", receiver = %receiver.id, stream = %stream.id, method = stream.delivery.method(), "stream created");
        Ok(self.wire(prefix, &stream))
    }

    /// The receiver's stream `id`, or all of its streams (an array) when
    /// `id` is `None` (SSF 1.0 §8.1.1.2).
    ///
    /// # Errors
    /// [`SsfError::NotFound`], [`SsfError::Store`].
    pub async fn read_streams(
        &self,
        receiver: &Receiver,
        id: Option<&str>,
        prefix: &str,
    ) -> Result<Value, SsfError> {
        match id {
            Some(id) => Ok(self.wire(prefix, &self.owned(receiver, id).await?)),
            None => {
                let mine: Vec<Value> = self
                    .inner
                    .store
                    .streams()
                    .await?
                    .iter()
                    .filter(|s| s.receiver == receiver.id)
                    .map(|s| self.wire(prefix, s))
                    .collect();
                Ok(Value::Array(mine))
            }
        }
    }

    /// Reads stream `id` of `receiver`, applies `change`, and writes it
    /// back if nobody changed it meanwhile (a few tries).
    async fn change_stream<F>(
        &self,
        receiver: &Receiver,
        id: &str,
        mut change: F,
    ) -> Result<StreamRecord, SsfError>
    where
        F: FnMut(&mut StreamRecord) -> Result<(), SsfError>,
    {
        for _ in 0..WRITE_ATTEMPTS {
            let read = self.owned(receiver, id).await?;
            let mut next = read.clone();
            change(&mut next)?;
            next.version = read.version + 1;
            if self.inner.store.replace_stream(&next, read.version).await? == StreamWrite::Done {
                return Ok(next);
            }
        }
        Err(SsfError::Conflict(
            "the stream changed concurrently; try again",
        ))
    }

    /// Updates (`replace` false, PATCH: members present change) or
    /// replaces (PUT: members absent take their defaults) a stream
    /// (SSF 1.0 §8.1.1.3, §8.1.1.4).
    ///
    /// # Errors
    /// [`SsfError::InvalidRequest`] (no `stream_id`, or a
    /// transmitter-supplied member that differs), [`SsfError::NotFound`],
    /// [`SsfError::Conflict`], [`SsfError::Store`].
    pub async fn update_stream(
        &self,
        receiver: &Receiver,
        body: &[u8],
        replace: bool,
        prefix: &str,
    ) -> Result<Value, SsfError> {
        let request: StreamRequest = parse(body)?;
        let id = request
            .stream_id
            .clone()
            .ok_or(SsfError::InvalidRequest("stream_id is required"))?;
        let events = request.events().map_err(SsfError::InvalidRequest)?;
        let description = request.description().map_err(SsfError::InvalidRequest)?;
        let delivery = match (&request.delivery, replace) {
            (None, false) => None,
            _ => Some(self.delivery(&request)?),
        };
        let updated = self
            .change_stream(receiver, &id, |stream| {
                if !request.transmitter_members_match(&self.wire(prefix, stream)) {
                    return Err(SsfError::InvalidRequest(
                        "transmitter-supplied members cannot be changed",
                    ));
                }
                if let Some(d) = &delivery {
                    stream.delivery = d.clone();
                }
                match (&events, replace) {
                    (Some(e), _) => stream.events_requested = e.clone(),
                    (None, true) => {
                        stream.events_requested = EVENTS_SUPPORTED.map(str::to_owned).to_vec();
                    }
                    (None, false) => {}
                }
                if replace || description.is_some() {
                    stream.description = description.clone();
                }
                Ok(())
            })
            .await?;
        Ok(self.wire(prefix, &updated))
    }

    /// Deletes the receiver's stream `id` and its queued SETs.
    ///
    /// # Errors
    /// [`SsfError::NotFound`], [`SsfError::Store`].
    pub async fn delete_stream(&self, receiver: &Receiver, id: &str) -> Result<(), SsfError> {
        self.owned(receiver, id).await?;
        if !self.inner.store.delete_stream(id).await? {
            return Err(SsfError::NotFound);
        }
        tracing::info!(target: "sessionward::ssf", receiver = %receiver.id, stream = %id, "stream deleted");
        Ok(())
    }

    /// The status of the receiver's stream `id` (SSF 1.0 §8.1.2.1).
    ///
    /// # Errors
    /// [`SsfError::NotFound`], [`SsfError::Store`].
    pub async fn stream_status(&self, receiver: &Receiver, id: &str) -> Result<Value, SsfError> {
        Ok(status_wire(&self.owned(receiver, id).await?))
    }

    /// Sets a stream's status (SSF 1.0 §8.1.2.2). Disabling drops its
    /// queued SETs; pausing keeps them for later.
    ///
    /// # Errors
    /// [`SsfError::InvalidRequest`], [`SsfError::NotFound`],
    /// [`SsfError::Conflict`], [`SsfError::Store`].
    pub async fn set_stream_status(
        &self,
        receiver: &Receiver,
        body: &[u8],
    ) -> Result<Value, SsfError> {
        let request: StatusRequest = parse(body)?;
        short_text(
            request.reason.as_deref(),
            "reason must be at most 255 bytes of text",
        )
        .map_err(SsfError::InvalidRequest)?;
        let updated = self
            .change_stream(receiver, &request.stream_id, |stream| {
                stream.status = request.status;
                stream.status_reason = request.reason.clone();
                Ok(())
            })
            .await?;
        if updated.status == StreamStatus::Disabled {
            // A store may drop a bounded batch per call.
            let everything = Timestamp::from_unix_millis(i64::MAX);
            while self
                .inner
                .store
                .remove_older(&updated.id, everything)
                .await?
                > 0
            {}
        }
        if updated.status == StreamStatus::Enabled {
            self.inner.queued.notify_waiters();
        }
        tracing::info!(target: "sessionward::ssf", receiver = %receiver.id, stream = %updated.id, status = updated.status.as_str(), "stream status changed");
        Ok(status_wire(&updated))
    }

    /// Queues a verification event for the receiver's stream (SSF 1.0
    /// §8.1.4.2), echoing its `state`.
    ///
    /// # Errors
    /// [`SsfError::TooManyRequests`] sooner than the minimum interval
    /// after the last one, [`SsfError::Conflict`] for a disabled stream,
    /// [`SsfError::InvalidRequest`], [`SsfError::NotFound`],
    /// [`SsfError::Store`].
    pub async fn request_verification(
        &self,
        receiver: &Receiver,
        body: &[u8],
    ) -> Result<(), SsfError> {
        let request: VerifyRequest = parse(body)?;
        short_text(
            request.state.as_deref(),
            "state must be at most 255 bytes of text",
        )
        .map_err(SsfError::InvalidRequest)?;
        let now = self.now();
        let interval = self.inner.config.min_verification_interval;
        let stream = self
            .change_stream(receiver, &request.stream_id, |stream| {
                if stream.status == StreamStatus::Disabled {
                    return Err(SsfError::Conflict("the stream is disabled"));
                }
                if stream
                    .last_verification_at
                    .is_some_and(|last| now < last.plus(interval))
                {
                    return Err(SsfError::TooManyRequests);
                }
                stream.last_verification_at = Some(now);
                Ok(())
            })
            .await?;
        let event = SetEvent::Verification {
            state: request.state,
        };
        let item = self.item(&stream, &event, now)?;
        self.inner.store.enqueue(&[item]).await?;
        self.inner.queued.notify_waiters();
        Ok(())
    }

    /// One signed SET of `event` for `stream`, due at once.
    fn item(
        &self,
        stream: &StreamRecord,
        event: &SetEvent,
        now: Timestamp,
    ) -> Result<OutboxItem, SsfError> {
        let jti = new_jti();
        let claims = event.claims(self.issuer(), &stream.audience, &stream.id, &jti, now);
        let set = self
            .inner
            .tokens
            .sign_jwt(SET_TYP, &claims)
            .map_err(|_| SsfError::Signing)?;
        Ok(OutboxItem {
            stream: stream.id.clone(),
            jti,
            set,
            created_at: now,
            available_at: now,
            attempts: 0,
        })
    }

    /// `set` as it goes out now: signed again with a fresh `iat` by the
    /// current key (same `jti`, same event) when it was signed over a
    /// minute ago or by another key, so a receiver that refuses old or
    /// retired-key tokens still takes a SET that waited out an outage.
    /// Only a SET our keys verify is signed again: a row written into the
    /// outbox by someone else never gets our signature.
    pub(crate) fn as_sent(&self, set: &str) -> String {
        let Ok(mut claims) = self.inner.tokens.verify_jwt::<Value>(SET_TYP, set) else {
            return set.to_owned();
        };
        let current_kid = self.inner.tokens.keys.signing.kid();
        let kid = jsonwebtoken::decode_header(set).ok().and_then(|h| h.kid);
        let now = self.now().unix_seconds();
        let recent = claims["iat"]
            .as_i64()
            .is_some_and(|iat| now - iat < RESIGN_AFTER_SECS);
        if recent && kid.as_deref() == Some(current_kid) {
            return set.to_owned();
        }
        claims["iat"] = json!(now);
        self.inner
            .tokens
            .sign_jwt(SET_TYP, &claims)
            .unwrap_or_else(|_| set.to_owned())
    }

    /// Queues `events` for every stream that takes their type; how many
    /// SETs were queued.
    async fn queue(&self, events: &[SetEvent]) -> Result<usize, SsfError> {
        if events.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        let streams = self.inner.store.streams().await?;
        let mut items = Vec::new();
        for stream in &streams {
            for event in events.iter().filter(|e| stream.takes(e.kind())) {
                items.push(self.item(stream, event, now)?);
            }
        }
        if items.is_empty() {
            return Ok(0);
        }
        self.inner.store.enqueue(&items).await?;
        self.inner.queued.notify_waiters();
        #[cfg(feature = "metrics")]
        crate::metrics::ssf_queued(items.len());
        Ok(items.len())
    }

    /// Tells receivers that a credential of `user` changed (CAEP 1.0
    /// §3.3): `credential_type` one of CAEP's (`password`, `pin`, `x509`,
    /// `fido2-platform`, `fido2-roaming`, `fido-u2f`,
    /// `verifiable-credential`, `phone-voice`, `phone-sms`, `app`),
    /// `change_type` `create`, `revoke`, `update` or `delete`. Returns how
    /// many SETs were queued. Call it after the change is stored; ending
    /// the user's sessions is a separate call
    /// ([`crate::SessionManager::revoke_all`]), which sends its own
    /// `session-revoked` events.
    ///
    /// # Errors
    /// [`SsfError::InvalidRequest`] for a type CAEP does not define,
    /// [`SsfError::Store`] (nothing queued).
    pub async fn credential_changed(
        &self,
        user: &UserId,
        credential_type: &str,
        change_type: &str,
    ) -> Result<usize, SsfError> {
        if !CREDENTIAL_TYPES.contains(&credential_type) {
            return Err(SsfError::InvalidRequest(
                "credential_type is not one CAEP defines",
            ));
        }
        if !CHANGE_TYPES.contains(&change_type) {
            return Err(SsfError::InvalidRequest(
                "change_type is not one CAEP defines",
            ));
        }
        self.queue(&[SetEvent::CredentialChange {
            user: user.as_str().to_owned(),
            credential_type: credential_type.to_owned(),
            change_type: change_type.to_owned(),
            at: self.now(),
        }])
        .await
    }
}

fn status_wire(stream: &StreamRecord) -> Value {
    let mut wire = json!({ "stream_id": stream.id, "status": stream.status.as_str() });
    if let Some(reason) = &stream.status_reason {
        wire["reason"] = json!(reason);
    }
    wire
}

/// A transmitter that does not keep the shared state alive (the delivery
/// task holds one).
pub(crate) struct WeakTransmitter(Weak<Inner>);

impl WeakTransmitter {
    pub(crate) fn upgrade(&self) -> Option<Transmitter> {
        self.0.upgrade().map(|inner| Transmitter { inner })
    }
}

#[async_trait]
impl SessionSignals for Transmitter {
    async fn sessions_ended(&self, at: Timestamp, reason: RevokeReason, ended: &[SessionRecord]) {
        let events: Vec<SetEvent> = ended
            .iter()
            .map(|r| SetEvent::SessionRevoked {
                user: r.user.as_str().to_owned(),
                session: r.id.as_str().to_owned(),
                reason,
                at,
            })
            .collect();
        if let Err(e) = self.queue(&events).await {
            tracing::error!(
                target: "sessionward::ssf",
                error = %e, sessions = ended.len(),
                "session-revoked events could not be queued"
            );
            #[cfg(feature = "metrics")]
            crate::metrics::ssf_queue_failed(events.len());
        }
    }
}
