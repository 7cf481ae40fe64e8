//! What a user sees of their sessions: no secrets, ready for JSON.

use serde::Serialize;

use crate::binding::KeyBinding;
use crate::enrich::{Describe, describe_place};
use crate::ids::SessionId;
use crate::privacy::IpPrivacy;
use crate::record::{
    DeviceClass, DeviceInfo, Inactive, Location, RevokeReason, RiskSummary, SessionRecord,
};
use crate::seen::SeenFrom;
use crate::time::Timestamp;

/// One session as shown in a session list. Holds no token or hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionView {
    /// Session id (use it to end the session).
    pub id: SessionId,
    /// Login time.
    pub created_at: Timestamp,
    /// Last recorded activity.
    pub last_seen_at: Timestamp,
    /// Absolute end.
    pub expires_at: Timestamp,
    /// Client address at login, as the policy shows it
    /// ([`crate::privacy::IpDisplay`]): `"81.2.69.142"`, `"81.2.69.0/24"`,
    /// or `None` when hidden.
    pub ip: Option<String>,
    /// User-Agent at login.
    pub user_agent: Option<String>,
    /// Device class.
    pub device_class: DeviceClass,
    /// Parsed device facts.
    pub device: DeviceInfo,
    /// The device for people, e.g. "Chrome 131 on Windows 11".
    pub device_name: String,
    /// Sessions with the same value are from the same browser (its
    /// device-id cookie); `None` when unknown.
    pub device_group: Option<String>,
    /// How the user signed in, as the host named it.
    pub sign_in_method: Option<String>,
    /// Approximate location at login.
    pub location: Location,
    /// Risk assessment at login.
    pub risk: RiskSummary,
    /// Whether this is the session making the request.
    pub current: bool,
    /// Where it was signed in from, for people ([`describe_place`]:
    /// the location, "This computer", "Local network" or "Unknown location").
    pub place: String,
    /// Where it was last used, when a use after login recorded it.
    pub last_seen: Option<SeenView>,
    /// The distinct places it was used from, login included, newest first.
    pub places: Vec<PlaceView>,
    /// What the session's tokens are bound to (`"dpop"`: a key on the
    /// device, so copied tokens are useless elsewhere), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<&'static str>,
    /// The binding in words ("Bound to a key on this device").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding_text: Option<&'static str>,
    /// The app or client it signed in to, when the host named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<crate::ids::AppId>,
    /// The tenant it signed in under, when the host named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<crate::ids::TenantId>,
}

/// The latest use of a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeenView {
    /// When.
    pub at: Timestamp,
    /// The address as the policy shows it.
    pub ip: Option<String>,
    /// Where, for people.
    pub place: String,
    /// Approximate location.
    pub location: Location,
    /// The device for people.
    pub device_name: String,
    /// Mid-session anomaly signals this use raised (`device_changed`,
    /// `impossible_travel`, `network_alternation`): the page highlights
    /// the session.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
}

/// One place a session was used from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaceView {
    /// The latest time it was seen there.
    pub at: Timestamp,
    /// The address as the policy shows it.
    pub ip: Option<String>,
    /// Where, for people.
    pub place: String,
    /// Approximate location.
    pub location: Location,
}

impl SessionView {
    /// The view of `record`, marking it current if its id is `current`,
    /// showing addresses as `privacy` allows.
    pub fn from_record(
        record: &SessionRecord,
        current: Option<&SessionId>,
        privacy: &IpPrivacy,
    ) -> Self {
        let login = login_place(record);
        SessionView {
            id: record.id.clone(),
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            expires_at: record.expires_at,
            ip: privacy.show(record.ip),
            user_agent: record.meta.user_agent.clone(),
            device_class: record.device_class,
            device: record.meta.device.clone(),
            device_name: record.meta.device.describe(),
            device_group: record.meta.device_group.clone(),
            sign_in_method: record.meta.sign_in_method.clone(),
            location: record.meta.location.clone(),
            risk: record.meta.risk.clone(),
            current: Some(&record.id) == current,
            binding: record.meta.binding.as_ref().map(KeyBinding::kind),
            binding_text: record.meta.binding.as_ref().map(KeyBinding::describe),
            app: record.meta.app.clone(),
            tenant: record.meta.tenant.clone(),
            place: describe_place(record.ip, &record.meta.location),
            last_seen: record.seen.last.as_ref().map(|s| SeenView {
                at: s.at,
                ip: privacy.show(s.ip),
                place: describe_place(s.ip, &s.location),
                location: s.location.clone(),
                device_name: s.device.describe(),
                anomalies: s.anomalies.clone(),
            }),
            places: record
                .seen
                .recent_places(&login)
                .into_iter()
                .map(|s| PlaceView {
                    at: s.at,
                    ip: privacy.show(s.ip),
                    place: describe_place(s.ip, &s.location),
                    location: s.location,
                })
                .collect(),
        }
    }
}

/// The login as a place the session was seen at.
fn login_place(record: &SessionRecord) -> SeenFrom {
    SeenFrom {
        at: record.created_at,
        ip: record.ip,
        location: record.meta.location.clone(),
        device: record.meta.device.clone(),
        anomalies: Vec::new(),
    }
}

/// A session that ended: the "Signed out" list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndedSessionView {
    /// The session as it was.
    #[serde(flatten)]
    pub session: SessionView,
    /// When it ended.
    pub ended_at: Timestamp,
    /// Why, as a stable name: a [`RevokeReason`] name, or `idle_timeout` /
    /// `absolute_timeout`.
    pub ended_reason: &'static str,
    /// Why, for people, e.g. "Signed out by you from another device".
    pub ended_text: &'static str,
}

impl EndedSessionView {
    /// The view of `record`, ended for `reason`, or `None` when it has not
    /// ended at `now` by `idle_cutoff`.
    pub fn from_record(
        record: &SessionRecord,
        now: Timestamp,
        idle_cutoff: Timestamp,
        privacy: &IpPrivacy,
    ) -> Option<Self> {
        let reason = record.inactive_reason(now, idle_cutoff)?;
        let ended_at = match reason {
            Inactive::Revoked(_) => record.revoked.map_or(now, |r| r.at),
            Inactive::IdleTimeout => record.revoked.map_or(
                record
                    .last_seen_at
                    .plus(now.since(idle_cutoff))
                    .min(record.expires_at),
                |r| r.at,
            ),
            Inactive::AbsoluteTimeout => record.expires_at,
        };
        Some(EndedSessionView {
            session: SessionView::from_record(record, None, privacy),
            ended_at,
            ended_reason: ended_reason(reason),
            ended_text: ended_text(reason),
        })
    }
}

fn ended_reason(reason: Inactive) -> &'static str {
    match reason {
        Inactive::Revoked(r) => r.as_str(),
        Inactive::IdleTimeout => "idle_timeout",
        Inactive::AbsoluteTimeout => "absolute_timeout",
    }
}

/// How a session ended, for people.
///
/// ```
/// use sessionward_core::{Inactive, RevokeReason};
/// use sessionward_core::view::ended_text;
/// assert_eq!(ended_text(Inactive::Revoked(RevokeReason::User)), "Signed out by you from another device");
/// assert_eq!(ended_text(Inactive::IdleTimeout), "Signed out after a period of inactivity");
/// ```
pub fn ended_text(reason: Inactive) -> &'static str {
    match reason {
        Inactive::Revoked(r) => match r {
            RevokeReason::Logout => "Signed out on that device",
            RevokeReason::User => "Signed out by you from another device",
            RevokeReason::Admin => "Signed out by an administrator",
            RevokeReason::Evicted => {
                "Signed out because you signed in on another device and the device limit was reached"
            }
            RevokeReason::RefreshTokenReuse => {
                "Ended because its sign-in token was used twice, which can mean it was stolen"
            }
            RevokeReason::PasswordChange => "Signed out because the password was changed",
            RevokeReason::AccountDisabled => "Signed out because the account was disabled",
            RevokeReason::Reauthenticated => "Replaced when you signed in again",
            RevokeReason::NotMe => "Ended after you reported a sign-in that wasn't you",
            RevokeReason::Risk => "Ended by a security check",
            RevokeReason::KeyProofFailed => {
                "Ended because its tokens were used without this device's key, which means they were copied"
            }
            RevokeReason::Anomaly => {
                "Ended because it was used from a different browser or place, which can mean it was stolen"
            }
            RevokeReason::IdleTimeout => "Signed out after a period of inactivity",
            RevokeReason::ProviderLogout => {
                "Signed out when you signed out at your sign-in provider"
            }
        },
        Inactive::IdleTimeout => "Signed out after a period of inactivity",
        Inactive::AbsoluteTimeout => "Signed out because the session reached its maximum age",
    }
}

/// A user's session page in one read: active sessions (the caller's own
/// first, then the most recently used) and recently ended ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionOverview {
    /// Active sessions.
    pub sessions: Vec<SessionView>,
    /// Sessions that ended within the policy's history retention, most
    /// recently ended first.
    pub ended: Vec<EndedSessionView>,
}
