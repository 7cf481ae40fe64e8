//! The command line: global options, commands, and the filter flags.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sessionward_core::directory::{IpNetwork, SessionFilter, TimeWindow};
use sessionward_core::record::DeviceClass;
use sessionward_core::risk::RiskLevel;
use sessionward_core::{AppId, RevokeReason, Timestamp, UserId};

/// Find, end, purge and export sessionward sessions straight from the
/// store. Prints JSON on standard output; security events (one per ended
/// session) go to standard error.
#[derive(Debug, Parser)]
#[command(name = "sessionward-admin", version)]
pub(crate) struct Cli {
    /// The store: `sqlite://path.db`, `postgres://…`, `mysql://…` or
    /// `redis://…` (the same one the app uses).
    #[arg(long, env = "SESSIONWARD_STORE", hide_env_values = true, global = true)]
    pub(crate) store: Option<String>,
    /// The app's Redis key prefix.
    #[arg(long, env = "SESSIONWARD_REDIS_PREFIX", default_value = sessionward_redis::DEFAULT_KEY_PREFIX, global = true)]
    pub(crate) redis_prefix: String,
    /// The app's idle timeout: sessions unused this long are not active
    /// (`90s`, `30m`, `12h`, `7d`). `list` assumes 30m; `revoke-matching`
    /// needs it stated (a session the app still accepts must not be left
    /// out as idle).
    #[arg(long, value_parser = duration, global = true)]
    pub(crate) idle_timeout: Option<Duration>,
    /// How long the app keeps ended sessions listed (what `purge` keeps;
    /// the policy's default 30d when not given).
    #[arg(long, value_parser = duration, global = true)]
    pub(crate) history_retention: Option<Duration>,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Active sessions of every user that match the filter, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Sessions per page (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Continue after this cursor (a page's `next`).
        #[arg(long, allow_hyphen_values = true)]
        after: Option<String>,
        /// Every page, not one.
        #[arg(long, conflicts_with = "after")]
        all: bool,
    },
    /// One stored session, ended or not.
    Show {
        /// Its user.
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// Its id.
        #[arg(allow_hyphen_values = true)]
        session: String,
    },
    /// End one session of one user (a stolen laptop's, found with `list`).
    RevokeSession {
        /// Its user.
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// Its id.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// Why.
        #[arg(long, value_enum, default_value_t = Reason::Admin)]
        reason: Reason,
    },
    /// End every session of one user.
    RevokeUser {
        /// The user.
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// Why: `password-change`, `account-disabled` and `not-me` also
        /// refuse logins whose credential was checked before now.
        #[arg(long, value_enum, default_value_t = Reason::Admin)]
        reason: Reason,
    },
    /// End every active session that matches the filter, one atomic step
    /// per user. Needs `--dry-run` (list only) or `--yes`.
    RevokeMatching {
        #[command(flatten)]
        filter: FilterArgs,
        /// Only list what would be ended.
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
        /// End them.
        #[arg(long)]
        yes: bool,
        /// Why.
        #[arg(long, value_enum, default_value_t = Reason::Admin)]
        reason: Reason,
    },
    /// Delete sessions that ended more than the history retention ago.
    Purge {
        /// Delete them (required).
        #[arg(long)]
        yes: bool,
    },
    /// Everything stored about one user's sessions (data subject access).
    Export {
        /// The user.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
}

/// Revocation reasons an operator may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Reason {
    /// An administrator ended it.
    Admin,
    /// A risk decision (an incident) ended it.
    Risk,
    /// The password or another factor changed.
    PasswordChange,
    /// The account was disabled.
    AccountDisabled,
    /// The user said a login was not theirs.
    NotMe,
}

impl From<Reason> for RevokeReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::Admin => RevokeReason::Admin,
            Reason::Risk => RevokeReason::Risk,
            Reason::PasswordChange => RevokeReason::PasswordChange,
            Reason::AccountDisabled => RevokeReason::AccountDisabled,
            Reason::NotMe => RevokeReason::NotMe,
        }
    }
}

/// Device classes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Class {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Other,
}

/// Risk levels on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Risk {
    Low,
    Medium,
    High,
}

/// The filter flags; every flag given must hold.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct FilterArgs {
    /// Only this user's sessions.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) user: Option<String>,
    /// Signed in from this address or block (`203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`).
    #[arg(long, value_parser = network)]
    pub(crate) network: Option<IpNetwork>,
    /// Signed in from this autonomous system number.
    #[arg(long)]
    pub(crate) asn: Option<u32>,
    /// Signed in from this country (ISO 3166-1 alpha-2).
    #[arg(long)]
    pub(crate) country: Option<String>,
    /// On this class of device.
    #[arg(long, value_enum)]
    pub(crate) device_class: Option<Class>,
    /// Scoped to this app.
    #[arg(long)]
    pub(crate) app: Option<String>,
    /// Created at or after (RFC 3339).
    #[arg(long, value_parser = instant)]
    pub(crate) created_after: Option<Timestamp>,
    /// Created before (RFC 3339).
    #[arg(long, value_parser = instant)]
    pub(crate) created_before: Option<Timestamp>,
    /// Last used at or after (RFC 3339).
    #[arg(long, value_parser = instant)]
    pub(crate) seen_after: Option<Timestamp>,
    /// Last used before (RFC 3339).
    #[arg(long, value_parser = instant)]
    pub(crate) seen_before: Option<Timestamp>,
    /// Scored at this risk level or above at login.
    #[arg(long, value_enum)]
    pub(crate) min_risk: Option<Risk>,
}

impl FilterArgs {
    /// The filter, or why the flags do not make one.
    pub(crate) fn to_filter(&self) -> Result<SessionFilter, String> {
        let mut filter = SessionFilter::default();
        if let Some(user) = &self.user {
            filter =
                filter.of_user(UserId::new(user.as_str()).map_err(|e| format!("--user: {e}"))?);
        }
        if let Some(network) = self.network {
            filter = filter.from_network(network);
        }
        if let Some(asn) = self.asn {
            filter = filter.from_asn(asn);
        }
        if let Some(country) = &self.country {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err("--country: two letters (ISO 3166-1 alpha-2)".into());
            }
            filter = filter.in_country(country);
        }
        if let Some(class) = self.device_class {
            filter = filter.on_device_class(match class {
                Class::Desktop => DeviceClass::Desktop,
                Class::Mobile => DeviceClass::Mobile,
                Class::Tablet => DeviceClass::Tablet,
                Class::Bot => DeviceClass::Bot,
                Class::Other => DeviceClass::Other,
            });
        }
        if let Some(app) = &self.app {
            filter = filter.in_app(AppId::new(app.as_str()).map_err(|e| format!("--app: {e}"))?);
        }
        filter = filter
            .created_in(TimeWindow {
                from: self.created_after,
                until: self.created_before,
            })
            .last_seen_in(TimeWindow {
                from: self.seen_after,
                until: self.seen_before,
            });
        if let Some(risk) = self.min_risk {
            filter = filter.at_risk(match risk {
                Risk::Low => RiskLevel::Low,
                Risk::Medium => RiskLevel::Medium,
                Risk::High => RiskLevel::High,
            });
        }
        Ok(filter)
    }
}

fn network(text: &str) -> Result<IpNetwork, String> {
    text.parse().map_err(|e| format!("{e}"))
}

fn instant(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| "an RFC 3339 time, e.g. 2026-12-04T09:30:00Z".into())
}

/// `90s`, `30m`, `12h`, `7d`: a whole number and one unit.
fn duration(text: &str) -> Result<Duration, String> {
    let bad = || "a whole number and a unit: 90s, 30m, 12h or 7d".to_owned();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds)
        .filter(|s| *s > 0 && *s <= 10 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| "between 1 second and 10 years".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_one_unit() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in [
            "",
            "m",
            "30",
            "30 m",
            "-3m",
            "0s",
            "99999999999999999999d",
            "1w",
        ] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filters_refuse_bad_values() {
        let bad_country = FilterArgs {
            country: Some("Germany".into()),
            ..FilterArgs::default()
        };
        assert!(bad_country.to_filter().is_err());
        let bad_user = FilterArgs {
            user: Some(String::new()),
            ..FilterArgs::default()
        };
        assert!(bad_user.to_filter().is_err());
        assert_eq!(
            FilterArgs::default().to_filter(),
            Ok(SessionFilter::default())
        );
    }
}
