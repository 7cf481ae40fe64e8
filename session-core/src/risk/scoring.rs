//! Scoring: signals, weights, levels and the login assessment (feature
//! `risk`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::travel::distance_km;
use super::{LoginFacts, PriorHistory, RiskAction, RiskLevel};
use crate::record::{RiskSignal, RiskSummary};

/// Points per signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskWeights {
    /// `new_device`.
    pub new_device: u32,
    /// `new_country`.
    pub new_country: u32,
    /// `new_asn`.
    pub new_asn: u32,
    /// `impossible_travel`.
    pub impossible_travel: u32,
    /// `many_sessions`.
    pub many_sessions: u32,
    /// `login_burst`.
    pub login_burst: u32,
    /// `anonymous_ip`.
    pub anonymous_ip: u32,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            new_device: 20,
            new_country: 40,
            new_asn: 10,
            impossible_travel: 60,
            many_sessions: 15,
            login_burst: 30,
            anonymous_ip: 30,
        }
    }
}

/// When to send a new-login notice (independently of the level's action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyWhen {
    /// On a login from a new device.
    pub new_device: bool,
    /// On a login from a new country.
    pub new_country: bool,
    /// On any login at medium level or above.
    pub risky: bool,
    /// On every login.
    pub every_login: bool,
}

impl Default for NotifyWhen {
    fn default() -> Self {
        NotifyWhen {
            new_device: true,
            new_country: true,
            risky: true,
            every_login: false,
        }
    }
}

/// The risk policy. `RiskConfig::default()` documents every default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskConfig {
    /// Points per signal.
    pub weights: RiskWeights,
    /// Speed above which travel between two logins is impossible.
    pub max_travel_speed_kmh: f64,
    /// Distance below which travel is never flagged (GeoIP is approximate).
    pub min_travel_distance_km: f64,
    /// Active sessions at which `many_sessions` fires.
    pub many_sessions_threshold: u32,
    /// Logins from one IP within `burst_window` at which `login_burst` fires.
    pub burst_logins: u32,
    /// Window for `login_burst`.
    pub burst_window: Duration,
    /// Score at which the level is medium.
    pub medium_at: u32,
    /// Score at which the level is high.
    pub high_at: u32,
    /// Action for low.
    pub on_low: RiskAction,
    /// Action for medium.
    pub on_medium: RiskAction,
    /// Action for high.
    pub on_high: RiskAction,
    /// Log decisions but allow every login.
    pub shadow: bool,
    /// When to notify.
    pub notify: NotifyWhen,
    /// How long login history is kept.
    pub history_retention: Duration,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            weights: RiskWeights::default(),
            max_travel_speed_kmh: 900.0,
            min_travel_distance_km: 200.0,
            many_sessions_threshold: 4,
            burst_logins: 10,
            burst_window: Duration::from_secs(600),
            medium_at: 30,
            high_at: 60,
            on_low: RiskAction::Allow,
            on_medium: RiskAction::Notify,
            on_high: RiskAction::StepUp,
            shadow: false,
            notify: NotifyWhen::default(),
            history_retention: Duration::from_secs(180 * 86_400),
        }
    }
}

/// The outcome of scoring one login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAssessment {
    /// Total score.
    pub score: u32,
    /// Level.
    pub level: RiskLevel,
    /// Signals raised.
    pub signals: Vec<RiskSignal>,
    /// What the policy says to do (before shadow mode).
    pub action: RiskAction,
    /// Whether a notice is due.
    pub notify: bool,
}

impl RiskAssessment {
    /// Whether the named signal fired.
    pub fn has(&self, name: &str) -> bool {
        self.signals.iter().any(|s| s.name == name)
    }

    /// The summary kept on the session.
    pub fn summary(&self) -> RiskSummary {
        RiskSummary {
            score: self.score,
            level: self.level.as_str().to_owned(),
            signals: self.signals.clone(),
        }
    }
}

/// The inputs of [`RiskConfig::assess`] besides the history.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSignals<'a> {
    /// Facts of this login.
    pub facts: &'a LoginFacts,
    /// Country name for messages, when known.
    pub country_name: Option<&'a str>,
    /// Device text for messages ("Chrome on Windows").
    pub device_text: &'a str,
    /// Active sessions of the user before this login.
    pub active_sessions: u32,
    /// Whether the IP is anonymous (VPN, proxy, hosting, Tor).
    pub anonymous_ip: bool,
}

impl RiskConfig {
    /// Scores a login. Pure: the same inputs give the same assessment.
    pub fn assess(&self, input: &LoginSignals<'_>, prior: &PriorHistory) -> RiskAssessment {
        let w = &self.weights;
        let mut signals = Vec::new();
        let mut add = |name: &str, weight: u32, reason: String| {
            if weight > 0 {
                signals.push(RiskSignal {
                    name: name.to_owned(),
                    weight,
                    reason,
                });
            }
        };
        let facts = input.facts;
        let place = input
            .country_name
            .or(facts.country.as_deref())
            .unwrap_or("an unknown country");
        if !prior.first_login {
            if !prior.known_device {
                add(
                    "new_device",
                    w.new_device,
                    format!("first login from {}", input.device_text),
                );
            }
            if !prior.known_country {
                add(
                    "new_country",
                    w.new_country,
                    format!("first login from {place}"),
                );
            }
            if !prior.known_asn {
                add(
                    "new_asn",
                    w.new_asn,
                    format!("first login from network AS{}", facts.asn.unwrap_or(0)),
                );
            }
        }
        if let Some((km, hours)) = self.travel(facts, prior) {
            add(
                "impossible_travel",
                w.impossible_travel,
                format!("{km:.0} km from the previous login in {:.1} h", hours),
            );
        }
        if input.active_sessions >= self.many_sessions_threshold {
            add(
                "many_sessions",
                w.many_sessions,
                format!("{} sessions already active", input.active_sessions),
            );
        }
        if prior.recent_logins_from_ip + 1 >= self.burst_logins {
            add(
                "login_burst",
                w.login_burst,
                format!(
                    "{} logins from this IP address recently",
                    prior.recent_logins_from_ip + 1
                ),
            );
        }
        if input.anonymous_ip {
            add(
                "anonymous_ip",
                w.anonymous_ip,
                "login through an anonymising network".to_owned(),
            );
        }
        let score = signals.iter().map(|s| s.weight).sum();
        let level = if score >= self.high_at {
            RiskLevel::High
        } else if score >= self.medium_at {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        };
        let action = match level {
            RiskLevel::Low => self.on_low,
            RiskLevel::Medium => self.on_medium,
            RiskLevel::High => self.on_high,
        };
        let has = |n: &str| signals.iter().any(|s| s.name == n);
        let n = &self.notify;
        let notify = n.every_login
            || action == RiskAction::Notify
            || (n.new_device && has("new_device"))
            || (n.new_country && has("new_country"))
            || (n.risky && level >= RiskLevel::Medium);
        RiskAssessment {
            score,
            level,
            signals,
            action,
            notify,
        }
    }

    /// Distance and hours to the previous login when the implied speed is impossible.
    fn travel(&self, facts: &LoginFacts, prior: &PriorHistory) -> Option<(f64, f64)> {
        let prev = prior.previous.as_ref()?;
        let (lat1, lon1, lat2, lon2) = (
            prev.latitude?,
            prev.longitude?,
            facts.latitude?,
            facts.longitude?,
        );
        let km = distance_km(lat1, lon1, lat2, lon2);
        if km < self.min_travel_distance_km {
            return None;
        }
        let hours = facts.at.since(prev.at).as_secs_f64() / 3600.0;
        (hours <= 0.0 || km / hours > self.max_travel_speed_kmh).then_some((km, hours))
    }
}
