//! The Security Event Tokens we send (RFC 8417, with SSF 1.0 `sub_id` and
//! CAEP 1.0 event members).

use serde_json::{Value, json};

use super::{CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED, SSF_VERIFICATION};
use crate::record::RevokeReason;
use crate::secret::{hex_encode, random_bytes};
use crate::time::Timestamp;

/// A new `jti`: 128 random bits in hex.
pub(crate) fn new_jti() -> String {
    hex_encode(&random_bytes::<16>())
}

/// What one SET says, before it is addressed to a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetEvent {
    /// CAEP session-revoked about `user`'s session `session`.
    SessionRevoked {
        user: String,
        session: String,
        reason: RevokeReason,
        at: Timestamp,
    },
    /// CAEP credential-change about `user`.
    CredentialChange {
        user: String,
        credential_type: String,
        change_type: String,
        at: Timestamp,
    },
    /// SSF verification of a stream, echoing the receiver's `state`.
    Verification { state: Option<String> },
}

impl SetEvent {
    /// The event type URI.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            SetEvent::SessionRevoked { .. } => CAEP_SESSION_REVOKED,
            SetEvent::CredentialChange { .. } => CAEP_CREDENTIAL_CHANGE,
            SetEvent::Verification { .. } => SSF_VERIFICATION,
        }
    }

    /// The SET's claims for a stream with audience `aud` (and id
    /// `stream_id`, the subject of a verification event).
    pub(super) fn claims(
        &self,
        issuer: &str,
        aud: &str,
        stream_id: &str,
        jti: &str,
        issued_at: Timestamp,
    ) -> Value {
        let user = |sub: &str| json!({ "format": "iss_sub", "iss": issuer, "sub": sub });
        let (sub_id, event) = match self {
            SetEvent::SessionRevoked {
                user: sub,
                session,
                reason,
                at,
            } => (
                json!({
                    "format": "complex",
                    "user": user(sub),
                    "session": { "format": "opaque", "id": session },
                }),
                json!({
                    "event_timestamp": at.unix_seconds(),
                    "initiating_entity": initiating_entity(*reason),
                    "reason_admin": { "en": reason.as_str() },
                }),
            ),
            SetEvent::CredentialChange {
                user: sub,
                credential_type,
                change_type,
                at,
            } => (
                user(sub),
                json!({
                    "event_timestamp": at.unix_seconds(),
                    "credential_type": credential_type,
                    "change_type": change_type,
                }),
            ),
            SetEvent::Verification { state } => (
                json!({ "format": "opaque", "id": stream_id }),
                match state {
                    Some(state) => json!({ "state": state }),
                    None => json!({}),
                },
            ),
        };
        json!({
            "iss": issuer,
            "jti": jti,
            "iat": issued_at.unix_seconds(),
            "aud": aud,
            "sub_id": sub_id,
            "events": { self.kind(): event },
        })
    }
}

/// CAEP 1.0 §2 `initiating_entity`: who or what caused the ending.
pub(crate) fn initiating_entity(reason: RevokeReason) -> &'static str {
    match reason {
        RevokeReason::Logout
        | RevokeReason::User
        | RevokeReason::NotMe
        | RevokeReason::Reauthenticated
        | RevokeReason::PasswordChange => "user",
        RevokeReason::Admin | RevokeReason::AccountDisabled => "admin",
        RevokeReason::ProviderLogout => "system",
        _ => "policy",
    }
}

/// `credential_type` values CAEP 1.0 §3.3.1 defines.
pub(crate) const CREDENTIAL_TYPES: [&str; 10] = [
    "password",
    "pin",
    "x509",
    "fido2-platform",
    "fido2-roaming",
    "fido-u2f",
    "verifiable-credential",
    "phone-voice",
    "phone-sms",
    "app",
];

/// `change_type` values CAEP 1.0 §3.3.1 defines.
pub(crate) const CHANGE_TYPES: [&str; 4] = ["create", "revoke", "update", "delete"];
