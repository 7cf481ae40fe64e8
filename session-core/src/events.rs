//! Security events: typed, serde-serializable, named after the OWASP
//! Logging Vocabulary, delivered through an [`EventSink`].
//!
//! No event carries a raw token or a raw session id: sessions appear as a
//! keyed hash ([`SessionHash`]). Free text (User-Agent) is sanitised against
//! log injection before it gets here, and JSON output escapes the rest.

use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{SessionId, UserId};
use crate::policy::{LimitKind, OnLimit};
use crate::record::{Inactive, RevokeReason};
use crate::secret::{hex_encode, random_bytes};
use crate::time::Timestamp;
use crate::tokens::TokenRejection;

/// Severity, following the OWASP vocabulary's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Routine lifecycle.
    Info,
    /// Worth a look (limits, rejections, risky logins).
    Warn,
    /// Probable attack (token reuse, use after revocation).
    Critical,
}

/// A session id as it appears in events: HMAC-SHA256 under a per-deployment
/// key, first 16 bytes in hex. Correlates events of one session without
/// revealing its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionHash(String);

impl SessionHash {
    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Computes [`SessionHash`]es. Give every instance the same key to correlate
/// across instances and restarts; the default is random per process.
#[derive(Clone)]
pub struct SessionHasher([u8; 32]);

impl fmt::Debug for SessionHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionHasher([redacted])")
    }
}

impl Default for SessionHasher {
    fn default() -> Self {
        SessionHasher(random_bytes())
    }
}

impl SessionHasher {
    /// A hasher with a fixed key.
    pub fn new(key: [u8; 32]) -> Self {
        SessionHasher(key)
    }

    /// The event form of `id`.
    pub fn hash(&self, id: &SessionId) -> SessionHash {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(id.as_str().as_bytes());
        SessionHash(hex_encode(&mac.finalize().into_bytes()[..16]))
    }
}

/// Weight and reason of a risk-signal event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalDetail {
    /// Points the signal added.
    pub weight: u32,
    /// Human-readable reason.
    pub detail: String,
}

impl EventKind {
    /// The event for a named risk signal, if the name is one of ours.
    pub fn for_signal(signal: &crate::record::RiskSignal) -> Option<Self> {
        let d = SignalDetail {
            weight: signal.weight,
            detail: signal.reason.clone(),
        };
        Some(match signal.name.as_str() {
            "new_device" => EventKind::NewDevice(d),
            "new_country" => EventKind::NewCountry(d),
            "new_asn" => EventKind::NewAsn(d),
            "impossible_travel" => EventKind::ImpossibleTravel(d),
            "many_sessions" => EventKind::ManySessions(d),
            "login_burst" => EventKind::LoginBurst(d),
            "anonymous_ip" => EventKind::AnonymousIp(d),
            _ => return None,
        })
    }
}

/// One mid-session anomaly signal and what was done about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyDetail {
    /// The signal's weight.
    pub weight: u32,
    /// Why it fired ("signed in on Chrome on Windows, now used from Firefox on Linux").
    pub reason: String,
    /// The request's total score.
    pub score: u32,
    /// The action for the score: `allow`, `notify`, `step_up` or `revoke`.
    pub action: String,
    /// Shadow mode: the action was logged, not applied.
    pub shadow: bool,
    /// The device and place before ("Chrome 131 on Windows 10, London, United Kingdom").
    pub before: String,
    /// The device and place of this request.
    pub after: String,
}

/// What happened. The serialized `event` field carries the OWASP-style name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A login created a session (`session_created`).
    SessionCreated,
    /// A refresh rotated the tokens (`session_renewed`).
    SessionRenewed {
        /// The new refresh generation.
        generation: u64,
        /// Whether this was a grace-window replay returning the same successor.
        grace_replay: bool,
    },
    /// A session was ended (`authn_token_revoked`).
    #[serde(rename = "authn_token_revoked")]
    SessionRevoked {
        /// Why.
        reason: RevokeReason,
    },
    /// A token of a session that timed out (idle or absolute) was presented;
    /// it is refused (`session_expired`).
    SessionExpired {
        /// Idle or absolute.
        reason: Inactive,
    },
    /// A login ran into a limit (`session_limit_reached`). Not a failed login.
    SessionLimitReached {
        /// Which limit.
        limit: LimitKind,
        /// What was done about it.
        action: OnLimit,
    },
    /// A rotated refresh token was presented again; the session was
    /// revoked (`authn_token_reuse`, CRITICAL).
    #[serde(rename = "authn_token_reuse")]
    TokenReuse {
        /// The generation presented.
        presented_generation: u64,
        /// The session's current generation.
        current_generation: u64,
    },
    /// A token was refused (`authn_token_rejected`).
    #[serde(rename = "authn_token_rejected")]
    TokenRejected {
        /// Why.
        why: TokenRejection,
    },
    /// A token of a revoked session was used (`session_use_after_expire`).
    SessionUseAfterExpire {
        /// How the session ended.
        reason: Inactive,
    },
    /// A login from a device never seen for the user (`authn_new_device`).
    #[serde(rename = "authn_new_device")]
    NewDevice(SignalDetail),
    /// A login from a country never seen for the user (`authn_new_country`).
    #[serde(rename = "authn_new_country")]
    NewCountry(SignalDetail),
    /// A login from a network (ASN) never seen for the user (`authn_new_asn`).
    #[serde(rename = "authn_new_asn")]
    NewAsn(SignalDetail),
    /// Travel from the previous login faster than possible (`authn_impossible_travel`).
    #[serde(rename = "authn_impossible_travel")]
    ImpossibleTravel(SignalDetail),
    /// Many sessions already active at login (`authn_many_sessions`).
    #[serde(rename = "authn_many_sessions")]
    ManySessions(SignalDetail),
    /// Many logins from one IP in a short time (`authn_login_burst`).
    #[serde(rename = "authn_login_burst")]
    LoginBurst(SignalDetail),
    /// A login through an anonymising network (`authn_anonymous_ip`).
    #[serde(rename = "authn_anonymous_ip")]
    AnonymousIp(SignalDetail),
    /// The risk decision for a login (`authn_login_risk`).
    #[serde(rename = "authn_login_risk")]
    LoginRisk {
        /// Total score.
        score: u32,
        /// Level.
        level: crate::risk::RiskLevel,
        /// The policy's action.
        action: crate::risk::RiskAction,
        /// Shadow mode: the action was logged, not applied.
        shadow: bool,
    },
    /// The user reported a login as not theirs and every session was ended
    /// (`authn_not_me`, CRITICAL).
    #[serde(rename = "authn_not_me")]
    NotMe {
        /// Sessions ended.
        revoked: usize,
    },
    /// A key proof (DPoP) was refused for a session bound to a key
    /// (`authn_key_proof_failed`): someone holds the session's tokens but
    /// not its key, or the client's clock or code is broken.
    #[serde(rename = "authn_key_proof_failed")]
    KeyProofFailed {
        /// The refusal, as [`crate::binding::ProofError`] names it.
        error: String,
        /// Whether the policy ended the session for it.
        revoked: bool,
    },
    /// A session was bound to a key its client holds after sign-in
    /// (`authn_session_key_bound`): a browser registered a DBSC device key.
    #[serde(rename = "authn_session_key_bound")]
    SessionKeyBound {
        /// The binding, as [`crate::binding::KeyBinding::kind`] names it
        /// (`dbsc`).
        binding: String,
    },
    /// A session changed browser, OS or device class mid-session
    /// (`authn_session_device_changed`).
    #[serde(rename = "authn_session_device_changed")]
    SessionDeviceChanged(AnomalyDetail),
    /// A session moved faster than travel allows
    /// (`authn_session_impossible_travel`).
    #[serde(rename = "authn_session_impossible_travel")]
    SessionImpossibleTravel(AnomalyDetail),
    /// A session was used from two networks taking turns
    /// (`authn_session_network_alternation`).
    #[serde(rename = "authn_session_network_alternation")]
    SessionNetworkAlternation(AnomalyDetail),
    /// One network signed in to many accounts within the detection window
    /// (`authn_credential_stuffing`; [`crate::detect::DetectingSink`]).
    #[serde(rename = "authn_credential_stuffing")]
    CredentialStuffing(crate::detect::PatternDetail),
    /// One account was used from many networks within the detection window
    /// (`authn_account_many_networks`; [`crate::detect::DetectingSink`]).
    #[serde(rename = "authn_account_many_networks")]
    AccountManyNetworks(crate::detect::PatternDetail),
    /// Many refresh-token reuses across accounts within the detection
    /// window (`authn_token_reuse_burst`; [`crate::detect::DetectingSink`]).
    #[serde(rename = "authn_token_reuse_burst")]
    TokenReuseBurst(crate::detect::PatternDetail),
    /// A new-login notice could not be delivered (`notification_failed`).
    NotificationFailed {
        /// What went wrong.
        detail: String,
    },
    /// An identity provider's back-channel logout token was refused
    /// (`provider_token_rejected`): forged, for another audience, stale,
    /// replayed, or not a logout token.
    ProviderTokenRejected {
        /// The configured provider it claimed to come from.
        issuer: String,
        /// Why.
        why: crate::provider::ProviderTokenError,
    },
}

impl EventKind {
    /// The OWASP-style event name.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SessionCreated => "session_created",
            EventKind::SessionRenewed { .. } => "session_renewed",
            EventKind::SessionRevoked { .. } => "authn_token_revoked",
            EventKind::SessionExpired { .. } => "session_expired",
            EventKind::SessionLimitReached { .. } => "session_limit_reached",
            EventKind::TokenReuse { .. } => "authn_token_reuse",
            EventKind::TokenRejected { .. } => "authn_token_rejected",
            EventKind::SessionUseAfterExpire { .. } => "session_use_after_expire",
            EventKind::NewDevice(_) => "authn_new_device",
            EventKind::NewCountry(_) => "authn_new_country",
            EventKind::NewAsn(_) => "authn_new_asn",
            EventKind::ImpossibleTravel(_) => "authn_impossible_travel",
            EventKind::ManySessions(_) => "authn_many_sessions",
            EventKind::LoginBurst(_) => "authn_login_burst",
            EventKind::AnonymousIp(_) => "authn_anonymous_ip",
            EventKind::LoginRisk { .. } => "authn_login_risk",
            EventKind::NotMe { .. } => "authn_not_me",
            EventKind::NotificationFailed { .. } => "notification_failed",
            EventKind::ProviderTokenRejected { .. } => "provider_token_rejected",
            EventKind::KeyProofFailed { .. } => "authn_key_proof_failed",
            EventKind::SessionKeyBound { .. } => "authn_session_key_bound",
            EventKind::SessionDeviceChanged(_) => "authn_session_device_changed",
            EventKind::SessionImpossibleTravel(_) => "authn_session_impossible_travel",
            EventKind::SessionNetworkAlternation(_) => "authn_session_network_alternation",
            EventKind::CredentialStuffing(_) => "authn_credential_stuffing",
            EventKind::AccountManyNetworks(_) => "authn_account_many_networks",
            EventKind::TokenReuseBurst(_) => "authn_token_reuse_burst",
        }
    }

    /// The default severity of this kind.
    pub fn level(&self) -> Level {
        match self {
            EventKind::SessionCreated
            | EventKind::SessionKeyBound { .. }
            | EventKind::SessionRenewed { .. }
            | EventKind::SessionExpired { .. } => Level::Info,
            EventKind::SessionRevoked { reason } => match reason {
                RevokeReason::RefreshTokenReuse
                | RevokeReason::NotMe
                | RevokeReason::Risk
                | RevokeReason::KeyProofFailed
                | RevokeReason::Anomaly => Level::Warn,
                _ => Level::Info,
            },
            EventKind::SessionLimitReached { .. }
            | EventKind::TokenRejected { .. }
            | EventKind::NewDevice(_)
            | EventKind::NewCountry(_)
            | EventKind::NewAsn(_)
            | EventKind::ImpossibleTravel(_)
            | EventKind::ManySessions(_)
            | EventKind::LoginBurst(_)
            | EventKind::AnonymousIp(_)
            | EventKind::NotificationFailed { .. }
            | EventKind::ProviderTokenRejected { .. } => Level::Warn,
            EventKind::SessionDeviceChanged(d)
            | EventKind::SessionImpossibleTravel(d)
            | EventKind::SessionNetworkAlternation(d) => {
                if d.action == "revoke" || d.action == "step_up" {
                    Level::Critical
                } else {
                    Level::Warn
                }
            }
            EventKind::LoginRisk { level, .. } => {
                if *level == crate::risk::RiskLevel::Low {
                    Level::Info
                } else {
                    Level::Warn
                }
            }
            EventKind::NotMe { .. } | EventKind::KeyProofFailed { .. } => Level::Critical,
            EventKind::AccountManyNetworks(_) => Level::Warn,
            EventKind::CredentialStuffing(_) | EventKind::TokenReuseBurst(_) => Level::Critical,
            EventKind::SessionUseAfterExpire { .. } => Level::Warn,
            EventKind::TokenReuse { .. } => Level::Critical,
        }
    }
}

/// One security event: who, what, when (UTC), where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// When (RFC 3339, UTC).
    pub at: Timestamp,
    /// Severity.
    pub level: Level,
    /// What happened (flattened: carries the `event` name and its fields).
    #[serde(flatten)]
    pub kind: EventKind,
    /// The user, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserId>,
    /// The session, hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionHash>,
    /// Client IP, when known: the request's, or the session's login
    /// address for session events (as the policy lets users see it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Sanitised User-Agent, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// For session events: the address the session was last used from,
    /// when a use after login recorded one (see [`crate::SeenLog`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ip: Option<IpAddr>,
    /// For session events: when the session was last used from
    /// `last_seen_ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<Timestamp>,
}

impl SecurityEvent {
    /// A new event at `at` with the kind's default level and no subject.
    pub fn new(at: Timestamp, kind: EventKind) -> Self {
        SecurityEvent {
            at,
            level: kind.level(),
            kind,
            user: None,
            session: None,
            ip: None,
            user_agent: None,
            last_seen_ip: None,
            last_seen_at: None,
        }
    }

    /// The event as one JSON line (no trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| format!("{{\"event\":\"{}\"}}", self.kind.name()))
    }
}

/// Receives security events. Called on the request path: implementations
/// must not block (buffer and hand IO to another task).
pub trait EventSink: Send + Sync + 'static {
    /// Takes one event.
    fn record(&self, event: &SecurityEvent);
}

/// Writes events through `tracing` at target `sessionward::security`
/// (the default sink): INFO/WARN/ERROR by level, the event as JSON in `event_json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

impl EventSink for TracingSink {
    fn record(&self, event: &SecurityEvent) {
        // Serialised only if a subscriber takes the event: tracing formats
        // a field when it is recorded, and no subscriber means no work.
        let json = LazyJson(event);
        let name = event.kind.name();
        match event.level {
            Level::Info => {
                tracing::info!(target: "sessionward::security", event = name, event_json = %json)
            }
            Level::Warn => {
                tracing::warn!(target: "sessionward::security", event = name, event_json = %json)
            }
            Level::Critical => {
                tracing::error!(target: "sessionward::security", event = name, event_json = %json)
            }
        }
    }
}

/// An event's JSON, produced when displayed.
struct LazyJson<'a>(&'a SecurityEvent);

impl fmt::Display for LazyJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_json())
    }
}

/// Writes one JSON object per line to a writer (file, stdout, socket), for SIEM ingestion.
pub struct JsonLinesSink<W: Write + Send + 'static>(Mutex<W>);

impl<W: Write + Send + 'static> JsonLinesSink<W> {
    /// Wraps a writer.
    pub fn new(writer: W) -> Self {
        JsonLinesSink(Mutex::new(writer))
    }
}

impl<W: Write + Send + 'static> fmt::Debug for JsonLinesSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonLinesSink")
    }
}

impl<W: Write + Send + 'static> EventSink for JsonLinesSink<W> {
    fn record(&self, event: &SecurityEvent) {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // A failing log writer must not fail authentication; report it once per event.
        if writeln!(w, "{}", event.to_json()).is_err() {
            tracing::error!(target: "sessionward::security", "failed to write security event");
        }
    }
}

/// Sends every event to several sinks.
#[derive(Clone, Default)]
pub struct FanoutSink(Vec<Arc<dyn EventSink>>);

impl fmt::Debug for FanoutSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FanoutSink({} sinks)", self.0.len())
    }
}

impl FanoutSink {
    /// A fan-out over `sinks`.
    pub fn new(sinks: Vec<Arc<dyn EventSink>>) -> Self {
        FanoutSink(sinks)
    }

    /// Adds a sink.
    pub fn with(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.0.push(sink);
        self
    }
}

impl EventSink for FanoutSink {
    fn record(&self, event: &SecurityEvent) {
        for sink in &self.0 {
            sink.record(event);
        }
    }
}

/// Keeps events in memory (bounded; oldest dropped first), for tests and demos.
///
/// ```
/// use sessionward_core::events::{EventKind, EventSink, MemorySink, SecurityEvent};
/// use sessionward_core::Timestamp;
/// let sink = MemorySink::new(100);
/// sink.record(&SecurityEvent::new(Timestamp::EPOCH, EventKind::SessionCreated));
/// assert_eq!(sink.names(), vec!["session_created"]);
/// ```
#[derive(Debug)]
pub struct MemorySink {
    events: Mutex<std::collections::VecDeque<SecurityEvent>>,
    capacity: usize,
}

impl MemorySink {
    /// A sink keeping at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        MemorySink {
            events: Mutex::new(std::collections::VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// A copy of the kept events, oldest first.
    pub fn events(&self) -> Vec<SecurityEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The kept events' names, oldest first.
    pub fn names(&self) -> Vec<&'static str> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|e| e.kind.name())
            .collect()
    }

    /// Removes all kept events.
    pub fn clear(&self) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl EventSink for MemorySink {
    fn record(&self, event: &SecurityEvent) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if events.len() == self.capacity {
            events.pop_front();
        }
        events.push_back(event.clone());
    }
}
