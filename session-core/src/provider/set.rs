//! Security Event Tokens (RFC 8417) from the provider, pushed to us
//! (RFC 8935) as the Shared Signals Framework 1.0 and CAEP 1.0 define
//! them: a session at the provider was revoked, or a user's credential
//! changed.

use serde_json::Value;

use super::{IdentityProvider, ProviderTokenError, seconds, text_claim, time_claim};
use crate::time::Timestamp;

/// The explicit `typ` of Security Event Tokens (RFC 8417 §2.3), required.
pub const SET_TYP: &str = "secevent+jwt";
/// CAEP 1.0 §3.1: the subject's session was revoked at the transmitter.
pub const CAEP_SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// SSF 1.0 §8.1.4: a verification event, taken without action.
pub const SSF_VERIFICATION: &str =
    "https://schemas.openid.net/secevent/ssf/event-type/verification";
/// CAEP 1.0 §3.3: a credential of the subject was created, changed,
/// revoked or deleted.
pub const CAEP_CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";

/// What a provider event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderSignal {
    /// End the sessions signed in through this provider user (and that
    /// provider session, when named).
    SessionRevoked {
        /// The provider user (`sub` of an `iss_sub` subject).
        subject: String,
        /// The provider session, from a `complex` subject's `session`.
        sid: Option<String>,
    },
    /// A credential of the provider user changed.
    CredentialChange {
        /// The provider user.
        subject: String,
        /// `credential_type` (`password`, `fido2-roaming`, …).
        credential_type: String,
        /// `change_type`: `create`, `revoke`, `update` or `delete`.
        change_type: String,
    },
    /// The transmitter checks that the stream works (SSF 1.0 §8.1.4): no
    /// action beyond taking it.
    Verification {
        /// The stream (the `opaque` subject).
        stream: String,
        /// The `state` the receiver asked the transmitter to echo.
        state: Option<String>,
    },
}

impl ProviderSignal {
    /// The provider user it concerns (for a verification, the stream).
    pub fn subject(&self) -> &str {
        match self {
            ProviderSignal::SessionRevoked { subject, .. }
            | ProviderSignal::CredentialChange { subject, .. } => subject,
            ProviderSignal::Verification { stream, .. } => stream,
        }
    }
}

/// A valid Security Event Token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The token's `jti`.
    pub jti: String,
    /// When the provider issued it.
    pub issued_at: Timestamp,
    /// What it says.
    pub signal: ProviderSignal,
}

impl IdentityProvider {
    /// Validates a Security Event Token at `now`: `typ` `secevent+jwt`,
    /// signed by the provider, `iss` the provider, `aud` naming us, `iat`
    /// not in the future nor older than [`IdentityProvider::with_event_max_age`],
    /// `exp` (if any) not passed, a `jti`, exactly one event in `events`,
    /// of a kind we act on, about an `iss_sub` subject of this provider
    /// (SSF 1.0 `sub_id`, or the event's own `subject`). No replay check
    /// ([`crate::SessionManager::security_event`] makes it).
    ///
    /// # Errors
    /// The first [`ProviderTokenError`] found.
    pub fn validate_set(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<ProviderEvent, ProviderTokenError> {
        let claims =
            self.verified_claims_typed(token, &[SET_TYP, "application/secevent+jwt"], true)?;
        self.check_issuer_and_audience(&claims)?;
        let iat = time_claim(&claims, "iat")?;
        let now_s = now.unix_seconds();
        if iat > now_s + seconds(self.leeway) || now_s - iat > seconds(self.event_max_age) {
            return Err(ProviderTokenError::BadIssueTime);
        }
        if claims.get("exp").is_some()
            && now_s >= time_claim(&claims, "exp")? + seconds(self.leeway)
        {
            return Err(ProviderTokenError::Expired);
        }
        let jti = text_claim(&claims, "jti")?.ok_or(ProviderTokenError::MissingJti)?;
        let events = claims["events"].as_object().filter(|e| e.len() == 1);
        let Some((kind, event)) = events.and_then(|e| e.iter().next()) else {
            return Err(ProviderTokenError::NotASecurityEvent);
        };
        if !event.is_object() {
            return Err(ProviderTokenError::NotASecurityEvent);
        }
        let subject_id = claims.get("sub_id").or_else(|| event.get("subject"));
        if kind == SSF_VERIFICATION {
            let stream = subject_id
                .filter(|id| id["format"] == "opaque")
                .and_then(|id| id["id"].as_str())
                .filter(|v| !v.is_empty() && v.len() <= 255)
                .ok_or(ProviderTokenError::UnsupportedSubject)?;
            let state = match event.get("state") {
                None => None,
                Some(Value::String(s)) if s.len() <= 255 => Some(s.clone()),
                Some(_) => return Err(ProviderTokenError::BadClaims),
            };
            return Ok(ProviderEvent {
                jti: jti.to_owned(),
                issued_at: Timestamp::from_unix_millis(iat * 1000),
                signal: ProviderSignal::Verification {
                    stream: stream.to_owned(),
                    state,
                },
            });
        }
        let (subject, sid) = self.subject_of(subject_id)?;
        let signal = match kind.as_str() {
            CAEP_SESSION_REVOKED => ProviderSignal::SessionRevoked { subject, sid },
            CAEP_CREDENTIAL_CHANGE => {
                let member = |name: &str| {
                    event[name]
                        .as_str()
                        .filter(|v| !v.is_empty() && v.len() <= 64)
                        .map(str::to_owned)
                        .ok_or(ProviderTokenError::BadClaims)
                };
                let change_type = member("change_type")?;
                if !["create", "revoke", "update", "delete"].contains(&change_type.as_str()) {
                    return Err(ProviderTokenError::BadClaims);
                }
                ProviderSignal::CredentialChange {
                    subject,
                    credential_type: member("credential_type")?,
                    change_type,
                }
            }
            _ => return Err(ProviderTokenError::UnsupportedEvent),
        };
        Ok(ProviderEvent {
            jti: jti.to_owned(),
            issued_at: Timestamp::from_unix_millis(iat * 1000),
            signal,
        })
    }

    /// The provider user (and session) a subject identifier (RFC 9493)
    /// names: `iss_sub` with our provider's issuer, or `complex` with such a
    /// `user` and an optional `opaque` `session`.
    fn subject_of(
        &self,
        id: Option<&Value>,
    ) -> Result<(String, Option<String>), ProviderTokenError> {
        let id = id.ok_or(ProviderTokenError::NoSubject)?;
        let iss_sub = |v: &Value| {
            (v["format"] == "iss_sub" && v["iss"].as_str() == Some(self.issuer.as_str()))
                .then(|| v["sub"].as_str())
                .flatten()
                .filter(|s| !s.is_empty() && s.len() <= 255)
                .map(str::to_owned)
        };
        match id["format"].as_str() {
            Some("iss_sub") => iss_sub(id)
                .map(|s| (s, None))
                .ok_or(ProviderTokenError::UnsupportedSubject),
            Some("complex") => {
                let user = iss_sub(&id["user"]).ok_or(ProviderTokenError::UnsupportedSubject)?;
                let sid = match id.get("session") {
                    None => None,
                    Some(s) if s["format"] == "opaque" => Some(
                        s["id"]
                            .as_str()
                            .filter(|v| !v.is_empty() && v.len() <= 255)
                            .ok_or(ProviderTokenError::UnsupportedSubject)?
                            .to_owned(),
                    ),
                    Some(_) => return Err(ProviderTokenError::UnsupportedSubject),
                };
                Ok((user, sid))
            }
            _ => Err(ProviderTokenError::UnsupportedSubject),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::MemoryStore;
    use crate::testing::provider::{IDP_ISSUER, TestProvider};

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000)
    }

    fn revoked(now: Timestamp) -> Value {
        json!({ "event_timestamp": now.unix_seconds() })
    }

    #[test]
    fn caep_events_are_read() {
        let idp = TestProvider::new();
        let r = idp.receiver(Arc::new(MemoryStore::new()));
        let claims = idp.set_claims(now(), CAEP_SESSION_REVOKED, "u-1", revoked(now()));
        let event = r.validate_set(&idp.sign_set(&claims), now()).unwrap();
        assert_eq!(
            event.signal,
            ProviderSignal::SessionRevoked {
                subject: "u-1".into(),
                sid: None
            }
        );
        // A complex subject names the provider session too, and the older
        // placement of the subject inside the event is read.
        let mut claims = idp.set_claims(now(), CAEP_SESSION_REVOKED, "u-1", json!({}));
        claims.as_object_mut().unwrap().remove("sub_id");
        claims["events"][CAEP_SESSION_REVOKED]["subject"] = json!({ "format": "complex",
            "user": { "format": "iss_sub", "iss": IDP_ISSUER, "sub": "u-1" },
            "session": { "format": "opaque", "id": "sid-9" } });
        let event = r.validate_set(&idp.sign_set(&claims), now()).unwrap();
        assert_eq!(
            event.signal,
            ProviderSignal::SessionRevoked {
                subject: "u-1".into(),
                sid: Some("sid-9".into())
            }
        );
        let change = json!({ "credential_type": "password", "change_type": "update" });
        let claims = idp.set_claims(now(), CAEP_CREDENTIAL_CHANGE, "u-1", change);
        let event = r.validate_set(&idp.sign_set(&claims), now()).unwrap();
        assert_eq!(event.signal.subject(), "u-1");
        assert!(
            matches!(event.signal, ProviderSignal::CredentialChange { ref change_type, .. } if change_type == "update")
        );
    }

    #[test]
    fn every_invalid_set_is_refused_for_its_reason() {
        let idp = TestProvider::new();
        let r = idp.receiver(Arc::new(MemoryStore::new()));
        let good = idp.set_claims(now(), CAEP_SESSION_REVOKED, "u-1", revoked(now()));
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = good.clone();
            f(&mut c);
            idp.sign_set(&c)
        };
        let stale = now().minus(Duration::from_secs(3601)).unix_seconds();
        let cases = [
            // A logout token is not a SET: explicit typing keeps them apart.
            (
                idp.logout_token(now(), Some("u-1"), None),
                ProviderTokenError::UnsupportedHeader,
            ),
            (
                idp.sign(&json!({ "typ": null }), &good),
                ProviderTokenError::UnsupportedHeader,
            ),
            (
                idp.sign_with_other_key(&json!({ "typ": SET_TYP }), &good),
                ProviderTokenError::UnknownKey,
            ),
            (
                with(&|c| c["iss"] = json!("https://evil.example")),
                ProviderTokenError::WrongIssuer,
            ),
            (
                with(&|c| c["aud"] = json!("other")),
                ProviderTokenError::WrongAudience,
            ),
            (
                with(&|c| c["iat"] = json!(stale)),
                ProviderTokenError::BadIssueTime,
            ),
            (
                with(&|c| c["exp"] = json!(now().minus(Duration::from_secs(120)).unix_seconds())),
                ProviderTokenError::Expired,
            ),
            (
                with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
                ProviderTokenError::MissingJti,
            ),
            (
                with(&|c| c["events"] = json!({})),
                ProviderTokenError::NotASecurityEvent,
            ),
            (
                with(&|c| c["events"]["https://example.com/other"] = json!({})),
                ProviderTokenError::NotASecurityEvent,
            ),
            (
                with(
                    &|c| c["events"] = json!({ "https://schemas.openid.net/secevent/caep/event-type/token-claims-change": {} }),
                ),
                ProviderTokenError::UnsupportedEvent,
            ),
            (
                with(&|c| {
                    c.as_object_mut().unwrap().remove("sub_id");
                }),
                ProviderTokenError::NoSubject,
            ),
            (
                with(&|c| c["sub_id"] = json!({ "format": "email", "email": "a@example.com" })),
                ProviderTokenError::UnsupportedSubject,
            ),
            (
                with(&|c| c["sub_id"]["iss"] = json!("https://other-idp.example")),
                ProviderTokenError::UnsupportedSubject,
            ),
            (
                with(
                    &|c| c["events"] = json!({ CAEP_CREDENTIAL_CHANGE: { "credential_type": "password", "change_type": "rotate" } }),
                ),
                ProviderTokenError::BadClaims,
            ),
        ];
        for (token, why) in cases {
            assert_eq!(r.validate_set(&token, now()), Err(why), "{token:.60}");
        }
    }
}
