//! [`SessionFilter`]: which active sessions an operator asks about.

use serde::{Deserialize, Serialize};

use super::IpNetwork;
use crate::ids::{AppId, UserId};
use crate::record::{DeviceClass, SessionRecord};
use crate::risk::RiskLevel;
use crate::time::Timestamp;

/// A half-open time range: `from` included, `until` excluded; an open end
/// is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// The first instant in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// The first instant after the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl TimeWindow {
    /// Whether `t` is in the window.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|from| t >= from) && self.until.is_none_or(|until| t < until)
    }

    /// Whether both ends are open.
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.until.is_none()
    }
}

/// Which active sessions to find or end, across users. Every criterion
/// that is set must hold; an empty filter matches every active session.
///
/// A session is active while it is unrevoked, before its absolute end and
/// not idle (see [`SessionRecord::is_active`]); ended sessions never match.
///
/// ```
/// use sessionward_core::directory::SessionFilter;
/// use sessionward_core::record::DeviceClass;
/// let filter = SessionFilter::default()
///     .from_network("203.0.113.0/24".parse().unwrap())
///     .in_country("de")
///     .on_device_class(DeviceClass::Mobile);
/// assert_eq!(filter.country.as_deref(), Some("DE"));
/// ```
///
/// Deserialising refuses unknown members: a misspelt criterion must not
/// widen what an operator ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SessionFilter {
    /// Only this user's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserId>,
    /// Signed in from an address in this block (the login's address, as
    /// the privacy policy stored it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<IpNetwork>,
    /// Signed in from this autonomous system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Signed in from this country (ISO 3166-1 alpha-2, upper case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// On this class of device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_class: Option<DeviceClass>,
    /// Scoped to this app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppId>,
    /// Created in this window.
    #[serde(default, skip_serializing_if = "TimeWindow::is_unbounded")]
    pub created: TimeWindow,
    /// Last used in this window.
    #[serde(default, skip_serializing_if = "TimeWindow::is_unbounded")]
    pub last_seen: TimeWindow,
    /// Scored at this risk level or above at login (an unscored session
    /// counts as low).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_risk: Option<RiskLevel>,
}

impl SessionFilter {
    /// Only `user`'s sessions.
    pub fn of_user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// Signed in from `network`.
    pub fn from_network(mut self, network: IpNetwork) -> Self {
        self.network = Some(network);
        self
    }

    /// Signed in from autonomous system `asn`.
    pub fn from_asn(mut self, asn: u32) -> Self {
        self.asn = Some(asn);
        self
    }

    /// Signed in from `country` (any case; kept upper case).
    pub fn in_country(mut self, country: &str) -> Self {
        self.country = Some(country.trim().to_ascii_uppercase());
        self
    }

    /// On `class` of device.
    pub fn on_device_class(mut self, class: DeviceClass) -> Self {
        self.device_class = Some(class);
        self
    }

    /// Scoped to `app`.
    pub fn in_app(mut self, app: AppId) -> Self {
        self.app = Some(app);
        self
    }

    /// Created in `window`.
    pub fn created_in(mut self, window: TimeWindow) -> Self {
        self.created = window;
        self
    }

    /// Last used in `window`.
    pub fn last_seen_in(mut self, window: TimeWindow) -> Self {
        self.last_seen = window;
        self
    }

    /// Scored at `level` or above.
    pub fn at_risk(mut self, level: RiskLevel) -> Self {
        self.min_risk = Some(level);
        self
    }

    /// Whether no criterion narrows: the filter matches every active
    /// session (it is empty, or names only a `/0` network or the lowest
    /// risk level). "Revoke matching" refuses such a filter.
    ///
    /// ```
    /// use sessionward_core::directory::SessionFilter;
    /// use sessionward_core::risk::RiskLevel;
    /// assert!(SessionFilter::default().selects_everything());
    /// assert!(SessionFilter::default().from_network("::/0".parse().unwrap()).selects_everything());
    /// assert!(SessionFilter::default().at_risk(RiskLevel::Low).selects_everything());
    /// assert!(!SessionFilter::default().from_network("10.0.0.0/8".parse().unwrap()).selects_everything());
    /// ```
    pub fn selects_everything(&self) -> bool {
        self.user.is_none()
            && self.network.is_none_or(|n| n.prefix() == 0)
            && self.asn.is_none()
            && self.country.is_none()
            && self.device_class.is_none()
            && self.app.is_none()
            && self.created.is_unbounded()
            && self.last_seen.is_unbounded()
            && self.min_risk.is_none_or(|r| r == RiskLevel::Low)
    }

    /// Whether `record` is active at `now` (see [`SessionRecord::is_active`])
    /// and meets every criterion. Every store decides with this, whatever it
    /// narrows down first, so every backend answers alike.
    pub fn matches(&self, record: &SessionRecord, now: Timestamp, idle_cutoff: Timestamp) -> bool {
        record.is_active(now, idle_cutoff)
            && self.user.as_ref().is_none_or(|u| *u == record.user)
            && self
                .network
                .is_none_or(|net| record.ip.is_some_and(|ip| net.contains(ip)))
            && self
                .asn
                .is_none_or(|asn| record.meta.location.asn == Some(asn))
            && self.country.as_ref().is_none_or(|c| {
                record
                    .country
                    .as_ref()
                    .is_some_and(|rc| rc.eq_ignore_ascii_case(c))
            })
            && self.device_class.is_none_or(|d| d == record.device_class)
            && self
                .app
                .as_ref()
                .is_none_or(|a| record.meta.app.as_ref() == Some(a))
            && self.created.contains(record.created_at)
            && self.last_seen.contains(record.last_seen_at)
            && self.min_risk.is_none_or(|min| risk_level(record) >= min)
    }
}

/// The level a login was scored at; unscored or unknown text is low.
fn risk_level(record: &SessionRecord) -> RiskLevel {
    match record.meta.risk.level.as_str() {
        "high" => RiskLevel::High,
        "medium" => RiskLevel::Medium,
        _ => RiskLevel::Low,
    }
}
