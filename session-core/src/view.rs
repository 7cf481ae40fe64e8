//! What a user sees of their sessions: no secrets, ready for JSON.

use std::net::IpAddr;

use serde::Serialize;

use crate::ids::SessionId;
use crate::record::{DeviceClass, DeviceInfo, Location, RiskSummary, SessionRecord};
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
    /// Client IP at login.
    pub ip: Option<IpAddr>,
    /// User-Agent at login.
    pub user_agent: Option<String>,
    /// Device class.
    pub device_class: DeviceClass,
    /// Parsed device facts.
    pub device: DeviceInfo,
    /// Approximate location at login.
    pub location: Location,
    /// Risk assessment at login.
    pub risk: RiskSummary,
    /// Whether this is the session making the request.
    pub current: bool,
    /// Where it was signed in from, for people ([`crate::enrich::describe_place`]:
    /// the location, "This computer", "Local network" or "Unknown location").
    pub place: String,
}

impl SessionView {
    /// The view of `record`, marking it current if its id is `current`.
    pub fn from_record(record: &SessionRecord, current: Option<&SessionId>) -> Self {
        SessionView {
            id: record.id.clone(),
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            expires_at: record.expires_at,
            ip: record.ip,
            user_agent: record.meta.user_agent.clone(),
            device_class: record.device_class,
            device: record.meta.device.clone(),
            location: record.meta.location.clone(),
            risk: record.meta.risk.clone(),
            current: Some(&record.id) == current,
            place: crate::enrich::describe_place(record.ip, &record.meta.location),
        }
    }
}
