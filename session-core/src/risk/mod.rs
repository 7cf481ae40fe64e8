//! Risk scoring at login (feature `risk`; the levels, actions and the
//! [`RiskStore`] history contract are always here): named signals with documented weights, a score,
//! a level, and the action the policy maps that level to.
//!
//! | signal | default weight | fires when |
//! |---|---|---|
//! | `new_device` | 20 | no fingerprint of this login was seen for the user |
//! | `new_country` | 40 | the country was never seen for the user |
//! | `new_asn` | 10 | the network (ASN) was never seen for the user |
//! | `impossible_travel` | 60 | distance from the previous login ÷ time since > `max_travel_speed_kmh` (900 km/h) |
//! | `many_sessions` | 15 | the user already has ≥ `many_sessions_threshold` (4) active sessions |
//! | `login_burst` | 30 | ≥ `burst_logins` (10) logins from this IP within `burst_window` (10 min) |
//! | `anonymous_ip` | 30 | the IP is a known VPN/proxy/hosting/Tor address (needs an Anonymous-IP database) |
//!
//! A user's very first login raises no novelty signals (there is nothing to
//! compare with). Levels: `low` below 30, `medium` from 30, `high` from 60.
//! Default actions: low → allow, medium → allow and notify, high → require
//! step-up. In shadow mode the decision is logged but every login is allowed.

#[cfg(feature = "risk")]
#[cfg_attr(docsrs, doc(cfg(feature = "risk")))]
pub mod anomaly;
#[cfg(feature = "risk")]
mod engine;
mod history;
#[cfg(feature = "risk")]
mod scoring;
#[cfg(feature = "risk")]
mod travel;

use serde::{Deserialize, Serialize};

use crate::record::RiskSummary;
use crate::secret::ActionToken;
use crate::time::Timestamp;

#[cfg(feature = "risk")]
#[cfg_attr(docsrs, doc(cfg(feature = "risk")))]
pub use anomaly::{MidSessionAction, MidSessionAssessment, MidSessionConfig};
#[cfg(feature = "risk")]
#[cfg_attr(docsrs, doc(cfg(feature = "risk")))]
pub use engine::{NoticeLinks, RiskEngine};
pub use history::{LoginFacts, PreviousLogin, PriorHistory, RiskStore};
#[cfg(feature = "risk")]
#[cfg_attr(docsrs, doc(cfg(feature = "risk")))]
pub use scoring::{LoginSignals, NotifyWhen, RiskAssessment, RiskConfig, RiskWeights};
#[cfg(feature = "risk")]
#[cfg_attr(docsrs, doc(cfg(feature = "risk")))]
pub use travel::distance_km;

/// Coarse risk level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Below the medium threshold.
    Low,
    /// At or above the medium threshold.
    Medium,
    /// At or above the high threshold.
    High,
}

impl RiskLevel {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

/// What to do with a login at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskAction {
    /// Let it in.
    Allow,
    /// Let it in and send a new-login notice.
    Notify,
    /// Refuse until the host completes a second factor
    /// ([`crate::SessionError::StepUpRequired`], then
    /// [`crate::SessionManager::complete_step_up`]).
    StepUp,
    /// Refuse it.
    Deny,
}

/// A login that needs a second factor first.
#[derive(Debug, Clone)]
pub struct StepUpChallenge {
    /// Single-use token to pass to `SessionManager::complete_step_up` (feature `risk`)
    /// once the second factor checked out.
    pub token: ActionToken,
    /// Why.
    pub risk: RiskSummary,
    /// When the token expires.
    pub expires_at: Timestamp,
}
