//! Streams (SSF 1.0 §8.1.1): what a receiver asked for, how SETs reach
//! it, and whether they flow.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{EVENTS_SUPPORTED, POLL_DELIVERY, PUSH_DELIVERY};
use crate::time::Timestamp;

/// Whether a stream's events flow (SSF 1.0 §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamStatus {
    /// Events are sent.
    Enabled,
    /// Events are kept and sent once enabled again.
    Paused,
    /// Events are neither sent nor kept.
    Disabled,
}

impl StreamStatus {
    /// The SSF name.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Enabled => "enabled",
            StreamStatus::Paused => "paused",
            StreamStatus::Disabled => "disabled",
        }
    }
}

/// The `Authorization` header value a receiver asked the transmitter to
/// send with each push: a credential of the receiver's, kept to be sent
/// (so not hashed), never shown back, logged or printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PushAuthorization(String);

impl PushAuthorization {
    /// Takes a header value of visible ASCII and spaces, at most 4 KiB.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 4096
            && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
        ok.then_some(PushAuthorization(value))
    }

    /// The header value, to send.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PushAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushAuthorization([redacted])")
    }
}

/// How a stream's SETs reach the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method")]
pub enum Delivery {
    /// RFC 8935: the transmitter `POST`s each SET to the receiver.
    #[serde(rename = "urn:ietf:rfc:8935")]
    Push {
        /// The receiver's endpoint.
        endpoint_url: String,
        /// Sent as `Authorization` with each push.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authorization_header: Option<PushAuthorization>,
    },
    /// RFC 8936: the receiver `POST`s to the transmitter's poll endpoint.
    #[serde(rename = "urn:ietf:rfc:8936")]
    Poll,
}

impl Delivery {
    /// The `method` URN.
    pub fn method(&self) -> &'static str {
        match self {
            Delivery::Push { .. } => PUSH_DELIVERY,
            Delivery::Poll => POLL_DELIVERY,
        }
    }
}

/// One stream as the transmitter keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// `stream_id`: 32 hex digits, chosen by the transmitter.
    pub id: String,
    /// The receiver that owns it ([`super::Receiver::id`]).
    pub receiver: String,
    /// `aud` of its SETs: the receiver's audience.
    pub audience: String,
    /// `events_requested`.
    pub events_requested: Vec<String>,
    /// How SETs reach the receiver.
    pub delivery: Delivery,
    /// `description`, when given.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether events flow.
    pub status: StreamStatus,
    /// The reason given with the last status change.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When the receiver last asked for a verification event.
    #[serde(default)]
    pub last_verification_at: Option<Timestamp>,
    /// Bumped by each change; a write names the version it read.
    pub version: u64,
}

impl StreamRecord {
    /// `events_delivered`: the requested events the transmitter supports.
    pub fn events_delivered(&self) -> Vec<&str> {
        EVENTS_SUPPORTED
            .into_iter()
            .filter(|e| self.events_requested.iter().any(|r| r == e))
            .collect()
    }

    /// Whether SETs of `event` are queued for it now.
    pub fn takes(&self, event: &str) -> bool {
        self.status != StreamStatus::Disabled && self.events_delivered().contains(&event)
    }

    /// The stream configuration a receiver is shown (SSF 1.0 §8.1.1); the
    /// push authorization header is never shown back.
    pub(crate) fn to_wire(
        &self,
        issuer: &str,
        poll_url: &str,
        min_verification_secs: u64,
    ) -> Value {
        let delivery = match &self.delivery {
            Delivery::Push { endpoint_url, .. } => {
                json!({ "method": PUSH_DELIVERY, "endpoint_url": endpoint_url })
            }
            Delivery::Poll => json!({ "method": POLL_DELIVERY, "endpoint_url": poll_url }),
        };
        let mut wire = json!({
            "stream_id": self.id,
            "iss": issuer,
            "aud": self.audience,
            "events_supported": EVENTS_SUPPORTED,
            "events_requested": self.events_requested,
            "events_delivered": self.events_delivered(),
            "delivery": delivery,
            "min_verification_interval": min_verification_secs,
        });
        if let Some(d) = &self.description {
            wire["description"] = json!(d);
        }
        wire
    }
}

/// The receiver-supplied members of a stream configuration, as sent to
/// create, update or replace one. Transmitter-supplied members may be
/// present (a receiver often sends back what it read); they are checked
/// against the stream, never taken.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamRequest {
    pub stream_id: Option<String>,
    pub iss: Option<Value>,
    pub aud: Option<Value>,
    pub events_supported: Option<Value>,
    pub events_requested: Option<Vec<String>>,
    pub events_delivered: Option<Value>,
    pub delivery: Option<DeliveryRequest>,
    pub description: Option<String>,
    pub min_verification_interval: Option<Value>,
}

/// The `delivery` member a receiver sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryRequest {
    pub method: String,
    pub endpoint_url: Option<String>,
    pub authorization_header: Option<String>,
}

/// Most entries in `events_requested`.
pub(crate) const MAX_EVENTS_REQUESTED: usize = 32;
/// Longest `description`, or event type URI.
pub(crate) const MAX_TEXT: usize = 255;

impl StreamRequest {
    /// Checks the transmitter-supplied members it carries against what
    /// the transmitter would send for `current` (absent members pass).
    pub(super) fn transmitter_members_match(&self, current: &Value) -> bool {
        let same = |mine: &Option<Value>, name: &str| {
            mine.as_ref().is_none_or(|v| match (v, &current[name]) {
                (Value::Array(a), Value::String(s)) => a.len() == 1 && a[0] == *s,
                (v, c) => v == c,
            })
        };
        same(&self.iss, "iss")
            && same(&self.aud, "aud")
            && same(&self.events_supported, "events_supported")
            && same(&self.events_delivered, "events_delivered")
            && self
                .min_verification_interval
                .as_ref()
                .is_none_or(|v| *v == current["min_verification_interval"])
    }

    /// `events_requested`, checked: URIs of at most 255 bytes, at most 32.
    pub(super) fn events(&self) -> Result<Option<Vec<String>>, &'static str> {
        let Some(events) = &self.events_requested else {
            return Ok(None);
        };
        if events.len() > MAX_EVENTS_REQUESTED
            || events.iter().any(|e| {
                e.is_empty() || e.len() > MAX_TEXT || !e.bytes().all(|b| b.is_ascii_graphic())
            })
        {
            return Err("events_requested must be at most 32 event type URIs");
        }
        let mut unique = events.clone();
        unique.sort();
        unique.dedup();
        Ok(Some(unique))
    }

    /// `description`, checked.
    pub(super) fn description(&self) -> Result<Option<String>, &'static str> {
        short_text(
            self.description.as_deref(),
            "description must be at most 255 bytes of text",
        )?;
        Ok(self.description.clone())
    }
}

/// `Err(refusal)` when `text` is over 255 bytes or holds control
/// characters (a description, a reason, a state a receiver sends).
pub(super) fn short_text(text: Option<&str>, refusal: &'static str) -> Result<(), &'static str> {
    match text {
        Some(t) if t.len() > MAX_TEXT || t.chars().any(char::is_control) => Err(refusal),
        _ => Ok(()),
    }
}
