//! The concurrent-session policy: limits, behaviour at a limit, timeouts.
//!
//! Build one with [`SessionPolicy::builder`]; render it for auditors with
//! [`SessionPolicy::describe`] (ASVS 7.1.1 and 7.1.2 ask for exactly that
//! document).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::binding::{DbscMode, DbscPolicy, DpopMode, DpopPolicy};
use crate::privacy::{IpDisplay, IpStorage, describe_ip_rules};
use crate::record::DeviceClass;

/// What happens when a new login would exceed a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnLimit {
    /// Refuse the new login with [`crate::SessionError::LimitReached`], which
    /// lists the active sessions so the app can offer to end one.
    RejectNew,
    /// Revoke the session(s) with the oldest login time.
    EvictOldest,
    /// Revoke the least recently used session(s): the earliest latest
    /// possible use given the recorded activity
    /// ([`crate::admission::latest_possible_use`]).
    EvictLeastRecentlyUsed,
}

impl OnLimit {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OnLimit::RejectNew => "reject_new",
            OnLimit::EvictOldest => "evict_oldest",
            OnLimit::EvictLeastRecentlyUsed => "evict_least_recently_used",
        }
    }
}

/// Which limit a login ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LimitKind {
    /// Active sessions per user.
    PerUser,
    /// Active sessions of one user in one app ([`SessionLimits::per_app`]).
    PerApp,
    /// Active sessions of every user of one tenant
    /// ([`SessionLimits::per_tenant`]).
    PerTenant,
    /// Active sessions of one user from one IP address.
    PerIp,
    /// Active sessions of one user on one device class.
    PerDeviceClass {
        /// The class whose limit was hit.
        class: DeviceClass,
    },
    /// Distinct countries one user is logged in from at once.
    Countries,
}

impl LimitKind {
    /// Stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            LimitKind::PerUser => "per_user",
            LimitKind::PerApp => "per_app",
            LimitKind::PerTenant => "per_tenant",
            LimitKind::PerIp => "per_ip",
            LimitKind::PerDeviceClass { .. } => "per_device_class",
            LimitKind::Countries => "countries",
        }
    }
}

/// The limits a store enforces atomically when it creates a session.
///
/// All limits are scoped to one user, so every decision touches one user's
/// data only (one row lock, one Redis hash slot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLimits {
    /// Most active sessions per user; `None` is unlimited.
    pub per_user: Option<u32>,
    /// Most active sessions of one user in the app the new session signs
    /// in to ([`crate::LoginOptions::app`]); logins without an app are not
    /// counted by it.
    #[serde(default)]
    pub per_app: Option<u32>,
    /// Most active sessions of all users of the tenant the new session
    /// signs in under ([`crate::LoginOptions::tenant`]): seats, counted
    /// across users under the tenant's lock. It never evicts another
    /// user's session: a full tenant refuses the login unless this user's
    /// own sessions in it can make room.
    #[serde(default)]
    pub per_tenant: Option<u32>,
    /// Most active sessions of one user from one IP address.
    pub per_ip: Option<u32>,
    /// Most active sessions of one user per device class.
    pub per_device_class: Vec<(DeviceClass, u32)>,
    /// Most distinct countries at once (sessions with unknown country do not count).
    pub max_countries: Option<u32>,
    /// Behaviour at any limit.
    pub on_limit: OnLimit,
}

impl SessionLimits {
    /// Checks that no limit is zero (a zero limit would refuse every
    /// login): [`SessionPolicyBuilder::build`] runs it on the policy's
    /// limits, and the manager on every set a
    /// [`crate::LimitResolver`] returns.
    ///
    /// ```
    /// use sessionward_core::{PolicyError, SessionPolicy};
    /// let mut limits = SessionPolicy::default().limits().clone();
    /// assert!(limits.validate().is_ok());
    /// limits.per_app = Some(0);
    /// assert_eq!(limits.validate(), Err(PolicyError::ZeroLimit("max_sessions_per_app")));
    /// ```
    ///
    /// # Errors
    /// [`PolicyError::ZeroLimit`] naming the limit.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let zero = [
            ("max_sessions_per_user", self.per_user),
            ("max_sessions_per_app", self.per_app),
            ("max_sessions_per_tenant", self.per_tenant),
            ("max_sessions_per_ip", self.per_ip),
            ("max_countries", self.max_countries),
        ];
        if let Some(&(name, _)) = zero.iter().find(|(_, n)| *n == Some(0)) {
            return Err(PolicyError::ZeroLimit(name));
        }
        if self.per_device_class.iter().any(|(_, n)| *n == 0) {
            return Err(PolicyError::ZeroLimit("max_sessions_per_device_class"));
        }
        Ok(())
    }

    /// The limits as Markdown list items, one per limit in force.
    ///
    /// ```
    /// use sessionward_core::SessionPolicy;
    /// let mut limits = SessionPolicy::default().limits().clone();
    /// limits.per_app = Some(2);
    /// let text = limits.describe_lines();
    /// assert!(text.contains("at most 5 active sessions at once"));
    /// assert!(text.contains("at most 2 active sessions in any one app"));
    /// ```
    pub fn describe_lines(&self) -> String {
        let mut out = String::new();
        match self.per_user {
            Some(n) => out.push_str(&format!(
                "- One account may have at most {n} active sessions at once.\n"
            )),
            None => out.push_str("- There is no limit on active sessions per account.\n"),
        }
        if let Some(n) = self.per_app {
            out.push_str(&format!(
                "- One account may have at most {n} active sessions in any one app.\n"
            ));
        }
        if let Some(n) = self.per_tenant {
            out.push_str(&format!(
                "- A tenant's users may have at most {n} active sessions together (seats); a full tenant refuses new sign-ins rather than sign out another user.\n"
            ));
        }
        if let Some(n) = self.per_ip {
            out.push_str(&format!(
                "- At most {n} active sessions of one account may come from one IP address.\n"
            ));
        }
        for (class, n) in &self.per_device_class {
            out.push_str(&format!(
                "- At most {n} active sessions of one account may be on {class} devices.\n"
            ));
        }
        if let Some(n) = self.max_countries {
            out.push_str(&format!(
                "- One account may be logged in from at most {n} countries at once.\n"
            ));
        }
        out
    }

    /// The limit for `class`, if one is set.
    pub fn for_class(&self, class: DeviceClass) -> Option<u32> {
        self.per_device_class
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, n)| *n)
    }
}

/// Default idle timeout: 30 minutes (NIST 800-63B-4 AAL2 SHOULD ≤ 1 h; Rev. 3 AAL2 SHALL ≤ 30 min).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default absolute lifetime: 12 hours (800-63B-4 AAL2 SHOULD ≤ 24 h; AAL3 SHALL ≤ 12 h).
pub const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Default access-token lifetime: 5 minutes.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// Default grace window for the immediate predecessor of a refresh token: 5 seconds.
pub const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(5);
/// Default minimum interval between last-activity writes: 60 seconds.
pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// Default [`SessionPolicy::history_retention`]: 30 days.
pub const DEFAULT_HISTORY_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// Default per-user session limit.
pub const DEFAULT_MAX_SESSIONS_PER_USER: u32 = 5;

/// Errors building a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A limit of zero would make every login fail.
    #[error("limit `{0}` must be at least 1")]
    ZeroLimit(&'static str),
    /// A duration that must be positive was zero.
    #[error("`{0}` must be greater than zero")]
    ZeroDuration(&'static str),
    /// Two settings contradict each other.
    #[error("{0}")]
    Inconsistent(&'static str),
}

/// The whole session policy. Construct with [`SessionPolicy::builder`].
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::{OnLimit, SessionPolicy};
///
/// let policy = SessionPolicy::builder()
///     .max_sessions_per_user(3)
///     .on_limit(OnLimit::EvictOldest)
///     .idle_timeout(Duration::from_secs(15 * 60))
///     .build()
///     .unwrap();
/// assert_eq!(policy.limits().per_user, Some(3));
/// assert!(policy.describe().contains("at most 3 active sessions"));
/// ```
///
/// The defaults are pinned here so a change is a visible decision:
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::{OnLimit, SessionPolicy};
///
/// let p = SessionPolicy::default();
/// assert_eq!(p.idle_timeout(), Duration::from_secs(30 * 60));
/// assert_eq!(p.absolute_lifetime(), Duration::from_secs(12 * 3600));
/// assert_eq!(p.access_token_ttl(), Duration::from_secs(5 * 60));
/// assert_eq!(p.refresh_grace(), Duration::from_secs(5));
/// assert_eq!(p.limits().per_user, Some(5));
/// assert_eq!(p.limits().on_limit, OnLimit::EvictLeastRecentlyUsed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    limits: SessionLimits,
    idle_timeout: Duration,
    absolute_lifetime: Duration,
    access_token_ttl: Duration,
    refresh_grace: Duration,
    touch_interval: Duration,
    #[serde(default)]
    ip_storage: IpStorage,
    #[serde(default)]
    ip_display: IpDisplay,
    #[serde(default = "default_history_retention")]
    history_retention: Duration,
    #[serde(default)]
    dpop: DpopPolicy,
    #[serde(default)]
    dbsc: DbscPolicy,
}

fn default_history_retention() -> Duration {
    DEFAULT_HISTORY_RETENTION
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            limits: SessionLimits {
                per_user: Some(DEFAULT_MAX_SESSIONS_PER_USER),
                per_app: None,
                per_tenant: None,
                per_ip: None,
                per_device_class: Vec::new(),
                max_countries: None,
                on_limit: OnLimit::EvictLeastRecentlyUsed,
            },
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_lifetime: DEFAULT_ABSOLUTE_LIFETIME,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_grace: DEFAULT_REFRESH_GRACE,
            touch_interval: DEFAULT_TOUCH_INTERVAL,
            ip_storage: IpStorage::Full,
            ip_display: IpDisplay::Full,
            history_retention: DEFAULT_HISTORY_RETENTION,
            dpop: DpopPolicy::default(),
            dbsc: DbscPolicy::default(),
        }
    }
}

impl SessionPolicy {
    /// A builder starting from the secure defaults.
    pub fn builder() -> SessionPolicyBuilder {
        SessionPolicyBuilder {
            policy: SessionPolicy::default(),
        }
    }

    /// The limits enforced at login.
    pub fn limits(&self) -> &SessionLimits {
        &self.limits
    }

    /// Inactivity after which a session ends.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Time after login at which a session ends regardless of activity.
    pub fn absolute_lifetime(&self) -> Duration {
        self.absolute_lifetime
    }

    /// Lifetime of each access token.
    pub fn access_token_ttl(&self) -> Duration {
        self.access_token_ttl
    }

    /// How long the immediate predecessor of a refresh token still yields
    /// the same successor (concurrent tabs) instead of counting as reuse.
    pub fn refresh_grace(&self) -> Duration {
        self.refresh_grace
    }

    /// Minimum time between last-activity writes to the store.
    pub fn touch_interval(&self) -> Duration {
        self.touch_interval
    }

    /// What the store keeps of client IP addresses (default: in full).
    pub fn ip_storage(&self) -> IpStorage {
        self.ip_storage
    }

    /// What users see of client IP addresses (default: in full).
    pub fn ip_display(&self) -> IpDisplay {
        self.ip_display
    }

    /// How long ended sessions (tombstones) are kept after their absolute
    /// end, and recent places after they were last seen (default 30
    /// days): the "Signed out" list of the session page reaches this far.
    pub fn history_retention(&self) -> Duration {
        self.history_retention
    }

    /// DPoP (RFC 9449) settings: whether sessions may or must be bound to a
    /// key the client holds.
    pub fn dpop(&self) -> &DpopPolicy {
        &self.dpop
    }

    /// Device Bound Session Credentials settings: whether browsers are
    /// offered a device-bound cookie session.
    pub fn dbsc(&self) -> &DbscPolicy {
        &self.dbsc
    }

    /// A human-readable Markdown document of the whole policy: limits,
    /// behaviour at a limit, timeouts and token lifetimes.
    pub fn describe(&self) -> String {
        let l = &self.limits;
        let mut out = String::from("# Session policy\n\n## Concurrent sessions\n\n");
        out.push_str(&l.describe_lines());
        out.push_str("\nWhen a new login would exceed a limit: ");
        out.push_str(match l.on_limit {
            OnLimit::RejectNew => {
                "the new login is refused with a `LimitReached` error listing the active sessions, so the user can end one first. The refusal is logged as `session_limit_reached`, not as a failed login.\n"
            }
            OnLimit::EvictOldest => {
                "the sessions with the oldest login time are ended (reason `evicted`) until the new one fits; their tokens are refused on their next request.\n"
            }
            OnLimit::EvictLeastRecentlyUsed => {
                "the least recently used sessions are ended (reason `evicted`) until the new one fits; their tokens are refused on their next request.\n"
            }
        });
        if l.on_limit == OnLimit::EvictLeastRecentlyUsed {
            out.push_str(&format!(
                "\"Recently used\" counts logins, refreshes and requests. Logins and refreshes are recorded exactly; a request is recorded when it is the first one a second or more after a login or refresh, and otherwise at most every {}. A session used since its login is never ended ahead of one left unused since a later login; two used sessions are told apart when their last uses are more than {} apart.\n",
                human(self.touch_interval),
                human(self.touch_interval)
            ));
        }
        if l.on_limit != OnLimit::RejectNew {
            out.push_str("When one login exceeds two limits at once (say the account's and an app's), the session ended is the least recent one that counts towards both, so one eviction settles both where it can.\n");
        }
        out.push_str("The check and any eviction happen in one atomic store operation. Sessions that the check finds idle are ended in the same operation, so activity recorded later cannot bring them back.\n");
        out.push_str("\n## Timeouts\n\n");
        out.push_str(&format!(
            "- Idle timeout: {}. Any authenticated request resets it (activity is recorded at most every {}).\n",
            human(self.idle_timeout),
            human(self.touch_interval)
        ));
        out.push_str(&format!(
            "- Absolute lifetime: {} after login, whatever the activity; refreshing cannot extend it. Logging in again starts a new session.\n",
            human(self.absolute_lifetime)
        ));
        out.push_str(
            "- NIST SP 800-63B-4 (AAL2) recommends an inactivity timeout of at most 1 hour and an overall timeout of at most 24 hours.\n",
        );
        out.push_str("\n## Tokens\n\n");
        out.push_str(&format!(
            "- Access tokens are signed JWTs valid for {}; every request also checks the session in the store (or the pushed revocation view), so a revoked session is refused before its token expires.\n",
            human(self.access_token_ttl)
        ));
        out.push_str(&format!(
            "- Refresh tokens are opaque, 256-bit, stored only as SHA-256, and rotated on every use. Presenting an already-rotated refresh token ends the whole session and raises `authn_token_reuse`, except the immediate predecessor within {} (parallel tabs), which receives the same successor.\n",
            human(self.refresh_grace)
        ));
        out.push_str("\n## Ending sessions\n\n- Users can list their sessions and end one, all others, or all.\n- Logout revokes the session on the server and tells the browser to clear its tokens.\n");
        out.push_str(&describe_dpop(&self.dpop));
        out.push_str(&describe_dbsc(&self.dbsc));
        out.push_str("\n## Privacy\n\n");
        out.push_str(&describe_ip_rules(self.ip_storage, self.ip_display));
        out.push_str(&format!(
            "- Each session remembers where it was last used (address, approximate location, device) and up to {} distinct recent places; a place not seen again for {} is dropped at the session's next recorded use.\n- Ended sessions stay listed (\"Signed out\") and are deleted {} after their absolute end.\n- A user's session data can be exported as JSON and is erased with the account.\n",
            crate::seen::MAX_RECENT_PLACES,
            human(self.history_retention),
            human(self.history_retention)
        ));
        out
    }
}

/// The "Stolen tokens" section of [`SessionPolicy::describe`].
fn describe_dpop(p: &DpopPolicy) -> String {
    let mut out = String::from("\n## Stolen tokens\n\n");
    out.push_str(match p.mode {
        DpopMode::Off => "- DPoP is off: tokens are bearer tokens, usable by whoever holds them until the session is ended.\n",
        DpopMode::Optional => "- A client that signs in with a DPoP proof (RFC 9449) binds its session to its key: its tokens are refused without a fresh proof signed by that key. Clients without a key get bearer tokens.\n",
        DpopMode::Required => "- Every sign-in, refresh and request needs a DPoP proof (RFC 9449) signed by the session's key; tokens alone are refused.\n",
    });
    if p.mode != DpopMode::Off {
        out.push_str(&format!(
            "- A proof is accepted once, within {} of being made{}.\n",
            human(p.proof_lifetime),
            if p.nonces {
                ", and only with a server nonce that changes every ".to_owned()
                    + &human(p.nonce_lifetime)
            } else {
                String::new()
            }
        ));
        out.push_str(if p.revoke_on_failure {
            "- Tokens of a bound session used without its key end the session at once.\n"
        } else {
            "- Tokens of a bound session used without its key are refused and logged as `authn_key_proof_failed`.\n"
        });
    }
    out
}

/// The device-bound cookie lines of the "Stolen tokens" section.
fn describe_dbsc(p: &DbscPolicy) -> String {
    match p.mode {
        DbscMode::Off => {
            "- Device Bound Session Credentials are off: cookies are bearer credentials.\n"
                .to_owned()
        }
        DbscMode::Offered => format!(
            "- Browsers that support Device Bound Session Credentials bind their cookie session to a device key at sign-in: the short-lived access cookie is renewed only by a refresh that signs a challenge (answered within {}) with that key, and the refresh cookie alone renews nothing.\n{}",
            human(p.challenge_lifetime),
            if p.revoke_on_failure {
                "- A refresh of a device-bound session signed by another key, or not validly signed, ends the session at once.\n"
            } else {
                "- A refresh of a device-bound session signed by another key is refused and logged as `authn_key_proof_failed`.\n"
            }
        ),
    }
}

/// Formats a duration as "30 minutes", "12 hours", "5 seconds".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s != 0 && s.is_multiple_of(86_400) {
        (s / 86_400, "day")
    } else if s != 0 && s.is_multiple_of(3600) {
        (s / 3600, "hour")
    } else if s != 0 && s.is_multiple_of(60) {
        (s / 60, "minute")
    } else if s != 0 {
        (s, "second")
    } else {
        (
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            "millisecond",
        )
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Builder for [`SessionPolicy`]; every setter consumes and returns it.
#[derive(Debug, Clone)]
pub struct SessionPolicyBuilder {
    policy: SessionPolicy,
}

impl SessionPolicyBuilder {
    /// Most active sessions per user (default 5).
    pub fn max_sessions_per_user(mut self, n: u32) -> Self {
        self.policy.limits.per_user = Some(n);
        self
    }

    /// Removes the per-user limit. Not recommended: ASVS 7.1.2 expects a
    /// documented limit.
    pub fn unlimited_sessions_per_user(mut self) -> Self {
        self.policy.limits.per_user = None;
        self
    }

    /// Most active sessions of one user in any one app
    /// ([`crate::LoginOptions::app`]). Logins that name no app are not
    /// counted by it; the per-user limit still counts every session.
    pub fn max_sessions_per_app(mut self, n: u32) -> Self {
        self.policy.limits.per_app = Some(n);
        self
    }

    /// Most active sessions of all users of one tenant together
    /// ([`crate::LoginOptions::tenant`]); logins that name no tenant are
    /// not counted by it.
    pub fn max_sessions_per_tenant(mut self, n: u32) -> Self {
        self.policy.limits.per_tenant = Some(n);
        self
    }

    /// Most active sessions of one user from one IP address.
    pub fn max_sessions_per_ip(mut self, n: u32) -> Self {
        self.policy.limits.per_ip = Some(n);
        self
    }

    /// Most active sessions of one user on `class` devices.
    pub fn max_sessions_per_device_class(mut self, class: DeviceClass, n: u32) -> Self {
        self.policy
            .limits
            .per_device_class
            .retain(|(c, _)| *c != class);
        self.policy.limits.per_device_class.push((class, n));
        self
    }

    /// Most distinct countries one user may be logged in from at once.
    pub fn max_countries(mut self, n: u32) -> Self {
        self.policy.limits.max_countries = Some(n);
        self
    }

    /// Behaviour at a limit (default [`OnLimit::EvictLeastRecentlyUsed`]).
    pub fn on_limit(mut self, on_limit: OnLimit) -> Self {
        self.policy.limits.on_limit = on_limit;
        self
    }

    /// Idle timeout (default 30 minutes).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.policy.idle_timeout = d;
        self
    }

    /// Absolute lifetime (default 12 hours).
    pub fn absolute_lifetime(mut self, d: Duration) -> Self {
        self.policy.absolute_lifetime = d;
        self
    }

    /// Access-token lifetime (default 5 minutes).
    pub fn access_token_ttl(mut self, d: Duration) -> Self {
        self.policy.access_token_ttl = d;
        self
    }

    /// Grace window for the immediate predecessor of a refresh token
    /// (default 5 seconds; zero disables it).
    pub fn refresh_grace(mut self, d: Duration) -> Self {
        self.policy.refresh_grace = d;
        self
    }

    /// Minimum interval between last-activity writes (default 60 seconds).
    pub fn touch_interval(mut self, d: Duration) -> Self {
        self.policy.touch_interval = d;
        self
    }

    /// What the store keeps of client IP addresses (see [`IpStorage`]).
    /// [`IpStorage::KeyedHash`] also needs
    /// `SessionManagerBuilder::ip_hash_key`.
    pub fn store_ips(mut self, storage: IpStorage) -> Self {
        self.policy.ip_storage = storage;
        self
    }

    /// What users see of client IP addresses (see [`IpDisplay`]).
    pub fn show_ips(mut self, display: IpDisplay) -> Self {
        self.policy.ip_display = display;
        self
    }

    /// How long ended sessions and recent places are kept (default 30 days).
    pub fn history_retention(mut self, d: Duration) -> Self {
        self.policy.history_retention = d;
        self
    }

    /// DPoP settings (default: [`DpopMode::Optional`], 60-second proofs, no
    /// nonces).
    pub fn dpop(mut self, dpop: DpopPolicy) -> Self {
        self.policy.dpop = dpop;
        self
    }

    /// DBSC settings (default: [`DbscMode::Offered`], 5-minute challenges,
    /// a forged refresh proof ends the session).
    pub fn dbsc(mut self, dbsc: DbscPolicy) -> Self {
        self.policy.dbsc = dbsc;
        self
    }

    /// Validates and returns the policy.
    ///
    /// # Errors
    /// [`PolicyError`] for zero limits or timeouts, or a touch interval that
    /// is not shorter than the idle timeout.
    pub fn build(self) -> Result<SessionPolicy, PolicyError> {
        let p = self.policy;
        p.limits.validate()?;
        for (name, d) in [
            ("idle_timeout", p.idle_timeout),
            ("absolute_lifetime", p.absolute_lifetime),
            ("access_token_ttl", p.access_token_ttl),
            ("history_retention", p.history_retention),
        ] {
            if d.is_zero() {
                return Err(PolicyError::ZeroDuration(name));
            }
        }
        if p.dpop.mode != DpopMode::Off
            && (p.dpop.proof_lifetime.is_zero()
                || (p.dpop.nonces && p.dpop.nonce_lifetime.is_zero()))
        {
            return Err(PolicyError::ZeroDuration("dpop proof or nonce lifetime"));
        }
        if p.dbsc.challenge_lifetime.is_zero() {
            return Err(PolicyError::ZeroDuration("dbsc challenge_lifetime"));
        }
        if p.touch_interval >= p.idle_timeout {
            return Err(PolicyError::Inconsistent(
                "touch_interval must be shorter than idle_timeout, or active sessions would time out",
            ));
        }
        Ok(p)
    }
}
