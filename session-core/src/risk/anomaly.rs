//! Mid-session anomalies: a session used the way a stolen one is, checked
//! on refresh and on the throttled activity write (feature `risk`).
//!
//! Clients without a key (cookies without DBSC, bearer tokens without
//! DPoP) cannot prove that a request comes from the device that signed
//! in, but a thief's requests usually look different. Each request that
//! records where the session was used is compared with the session:
//!
//! | signal | weight | fires when |
//! |---|---|---|
//! | `device_changed` | 60 | the browser family, OS or device class differs from the login's |
//! | `impossible_travel` | 50 | the place moved further than [`MidSessionConfig::max_speed_kmh`] allows since the last recorded use (at least [`MidSessionConfig::min_distance_km`]) |
//! | `network_alternation` | 30 | the session came back to a network it left within [`MidSessionConfig::alternation_window`] (two networks taking turns; IPv4 against IPv6 and keyed-hash pseudonyms never count) |
//!
//! The score (the sum) maps to an action at the configured thresholds:
//! allow, notify the user, refuse the odd client, or end the session. In
//! shadow mode, the default, every signal is logged and shown in the
//! session list and nothing else happens: watch what the checks would do
//! on your traffic first, then set [`MidSessionConfig::shadow`] to `false`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::travel::distance_km;
use crate::privacy::{is_pseudonym, network};
use crate::record::{DeviceClass, RiskSignal, SessionRecord};
use crate::seen::SeenFrom;

/// Signal names, as events and the session list carry them.
pub const DEVICE_CHANGED: &str = "device_changed";
/// See [`DEVICE_CHANGED`].
pub const IMPOSSIBLE_TRAVEL: &str = "impossible_travel";
/// See [`DEVICE_CHANGED`].
pub const NETWORK_ALTERNATION: &str = "network_alternation";

/// What to do about a session used the way a stolen one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MidSessionAction {
    /// Record the signals only.
    Allow,
    /// Also tell the user (the risk engine's notifier).
    Notify,
    /// Refuse the request ([`crate::SessionError::SuspiciousUse`]: 401
    /// `invalid_token`, reason `suspicious_use`, the client wiped) and
    /// write no activity, so every request that looks like it is refused:
    /// that client must sign in again (a new session). Requests that look
    /// like the session's own go on.
    StepUp,
    /// End the session (`anomaly`) and tell the user.
    Revoke,
}

impl MidSessionAction {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MidSessionAction::Allow => "allow",
            MidSessionAction::Notify => "notify",
            MidSessionAction::StepUp => "step_up",
            MidSessionAction::Revoke => "revoke",
        }
    }
}

/// Mid-session anomaly settings of a [`crate::RiskEngine`].
///
/// ```
/// use sessionward_core::risk::{MidSessionAction, MidSessionConfig};
/// let c = MidSessionConfig::default();
/// assert_eq!(c.action_for(60), MidSessionAction::StepUp);
/// assert_eq!(c.action_for(110), MidSessionAction::Revoke);
/// assert_eq!(c.action_for(30), MidSessionAction::Notify);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MidSessionConfig {
    /// Whether requests are compared at all.
    pub enabled: bool,
    /// Log signals and their action without applying it (the default, so
    /// that turning a risk engine on never signs anyone out unannounced).
    pub shadow: bool,
    /// Weight of [`DEVICE_CHANGED`].
    pub device_changed: u32,
    /// Weight of [`IMPOSSIBLE_TRAVEL`].
    pub impossible_travel: u32,
    /// Weight of [`NETWORK_ALTERNATION`].
    pub network_alternation: u32,
    /// Scores from here notify.
    pub notify_at: u32,
    /// Scores from here require signing in again.
    pub step_up_at: u32,
    /// Scores from here end the session.
    pub revoke_at: u32,
    /// Fastest plausible travel, km/h.
    pub max_speed_kmh: f64,
    /// Moves shorter than this never count (location accuracy).
    pub min_distance_km: f64,
    /// How recent the network a session returns to must be.
    pub alternation_window: Duration,
}

impl Default for MidSessionConfig {
    fn default() -> Self {
        MidSessionConfig {
            enabled: true,
            shadow: true,
            device_changed: 60,
            impossible_travel: 50,
            network_alternation: 30,
            notify_at: 30,
            step_up_at: 60,
            revoke_at: 100,
            max_speed_kmh: 1000.0,
            min_distance_km: 200.0,
            alternation_window: Duration::from_secs(15 * 60),
        }
    }
}

impl MidSessionConfig {
    /// The action for a total `score`.
    pub fn action_for(&self, score: u32) -> MidSessionAction {
        if score >= self.revoke_at {
            MidSessionAction::Revoke
        } else if score >= self.step_up_at {
            MidSessionAction::StepUp
        } else if score >= self.notify_at {
            MidSessionAction::Notify
        } else {
            MidSessionAction::Allow
        }
    }
}

/// What comparing one request with its session found.
#[derive(Debug, Clone, PartialEq)]
pub struct MidSessionAssessment {
    /// The signals that fired, with their weights and reasons.
    pub signals: Vec<RiskSignal>,
    /// Their sum.
    pub score: u32,
    /// The configured action for the score.
    pub action: MidSessionAction,
}

fn differs(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b))
}

/// "Chrome on Windows", from whatever is known.
fn device_words(browser: Option<&str>, os: Option<&str>) -> String {
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => o.to_owned(),
        (None, None) => "an unknown device".to_owned(),
    }
}

/// Compares the use `new` (a device of class `class`) with `record`.
pub fn assess(
    config: &MidSessionConfig,
    record: &SessionRecord,
    new: &SeenFrom,
    class: DeviceClass,
) -> MidSessionAssessment {
    let mut signals = Vec::new();
    let login = &record.meta.device;
    let class_changed =
        class != record.device_class && ![class, record.device_class].contains(&DeviceClass::Other);
    if differs(login.browser.as_deref(), new.device.browser.as_deref())
        || differs(login.os.as_deref(), new.device.os.as_deref())
        || class_changed
    {
        signals.push(RiskSignal {
            name: DEVICE_CHANGED.to_owned(),
            weight: config.device_changed,
            reason: format!(
                "signed in on {}, now used from {}",
                device_words(login.browser.as_deref(), login.os.as_deref()),
                device_words(new.device.browser.as_deref(), new.device.os.as_deref())
            ),
        });
    }
    // The last recorded use, or the login.
    let (before_at, before_location, before_ip) = match &record.seen.last {
        Some(last) => (last.at, &last.location, last.ip),
        None => (record.created_at, &record.meta.location, record.ip),
    };
    if let (Some(lat1), Some(lon1), Some(lat2), Some(lon2)) = (
        before_location.latitude,
        before_location.longitude,
        new.location.latitude,
        new.location.longitude,
    ) {
        let km = distance_km(lat1, lon1, lat2, lon2);
        let hours = new.at.since(before_at).as_secs_f64() / 3600.0;
        if km >= config.min_distance_km && km > config.max_speed_kmh * hours {
            let name = |l: &crate::record::Location| {
                l.city
                    .clone()
                    .or_else(|| l.country_name.clone())
                    .unwrap_or_else(|| "an unknown place".to_owned())
            };
            signals.push(RiskSignal {
                name: IMPOSSIBLE_TRAVEL.to_owned(),
                weight: config.impossible_travel,
                reason: format!(
                    "used in {} and {} minutes later in {}, {:.0} km away",
                    name(before_location),
                    new.at.since(before_at).as_secs() / 60,
                    name(&new.location),
                    km
                ),
            });
        }
    }
    // Addresses of two families (a dual-stack client) or stored as
    // pseudonyms cannot be told apart as networks.
    let comparable = |a: std::net::IpAddr, b: std::net::IpAddr| {
        a.is_ipv4() == b.is_ipv4() && !is_pseudonym(a) && !is_pseudonym(b)
    };
    if let (Some(now_ip), Some(before_ip)) = (new.ip, before_ip)
        && comparable(now_ip, before_ip)
    {
        let (now_net, before_net) = (network(now_ip), network(before_ip));
        // Earlier uses, the login included.
        let earlier = record
            .seen
            .places
            .iter()
            .map(|p| (p.ip, p.at))
            .chain(std::iter::once((record.ip, record.created_at)));
        let returned = earlier
            .filter(|(_, at)| *at < before_at && new.at.since(*at) <= config.alternation_window)
            .any(|(ip, _)| ip.is_some_and(|ip| comparable(ip, now_ip) && network(ip) == now_net));
        if now_net != before_net && returned {
            signals.push(RiskSignal {
                name: NETWORK_ALTERNATION.to_owned(),
                weight: config.network_alternation,
                reason: "used from two networks taking turns".to_owned(),
            });
        }
    }
    let score = signals.iter().map(|s| s.weight).sum();
    MidSessionAssessment {
        action: config.action_for(score),
        signals,
        score,
    }
}
