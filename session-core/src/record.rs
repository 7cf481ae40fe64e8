//! What a store keeps for one session, and the request facts that feed it.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::enrich::ClientHints;
use crate::ids::{SessionId, UserId};
use crate::secret::TokenHash;
use crate::seen::SeenLog;
use crate::time::Timestamp;

/// Coarse device category, used for per-class limits and in listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    /// Desktop or laptop browser.
    Desktop,
    /// Phone.
    Mobile,
    /// Tablet.
    Tablet,
    /// Crawler, bot or scripted HTTP client.
    Bot,
    /// Anything not recognised.
    Other,
}

impl DeviceClass {
    /// Stable lower-case name, as stored by backends.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Bot => "bot",
            DeviceClass::Other => "other",
        }
    }

    /// Parses [`DeviceClass::as_str`] output; unknown text is `Other`.
    pub fn parse(text: &str) -> Self {
        match text {
            "desktop" => DeviceClass::Desktop,
            "mobile" => DeviceClass::Mobile,
            "tablet" => DeviceClass::Tablet,
            "bot" => DeviceClass::Bot,
            _ => DeviceClass::Other,
        }
    }
}

impl fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session was ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevokeReason {
    /// The user logged out of this session.
    Logout,
    /// The user ended the session from their session list.
    User,
    /// An administrator ended it.
    Admin,
    /// A newer login pushed it out under the concurrent-session limit.
    Evicted,
    /// An already-rotated refresh token was presented again.
    RefreshTokenReuse,
    /// The user changed a password or another authentication factor.
    PasswordChange,
    /// The account was disabled or deleted.
    AccountDisabled,
    /// The user re-authenticated; the new session replaced this one.
    Reauthenticated,
    /// The user said a login was not theirs ("this wasn't me").
    NotMe,
    /// A risk decision ended it.
    Risk,
    /// The session's tokens were used without a proof by the key it is
    /// bound to, and the policy ends such sessions
    /// ([`crate::binding::DpopPolicy::revoke_on_failure`]).
    KeyProofFailed,
    /// The request context changed mid-session the way a stolen session's
    /// does, and the policy ends such sessions (`crate::risk::anomaly`).
    Anomaly,
    /// The identity provider said the user signed out there (OpenID
    /// Connect Back-Channel Logout).
    ProviderLogout,
    /// A login found it idle past the idle timeout and ended it in the same
    /// atomic step, so a late activity write cannot revive it (the idle
    /// judgement is durable; see [`SessionRecord::inactive_reason`]).
    IdleTimeout,
}

impl RevokeReason {
    /// Stable snake_case name, as stored by backends and written in events.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::User => "user",
            RevokeReason::Admin => "admin",
            RevokeReason::Evicted => "evicted",
            RevokeReason::RefreshTokenReuse => "refresh_token_reuse",
            RevokeReason::PasswordChange => "password_change",
            RevokeReason::AccountDisabled => "account_disabled",
            RevokeReason::Reauthenticated => "reauthenticated",
            RevokeReason::NotMe => "not_me",
            RevokeReason::Risk => "risk",
            RevokeReason::KeyProofFailed => "key_proof_failed",
            RevokeReason::Anomaly => "anomaly",
            RevokeReason::ProviderLogout => "provider_logout",
            RevokeReason::IdleTimeout => "idle_timeout",
        }
    }

    /// Parses [`RevokeReason::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "logout" => RevokeReason::Logout,
            "user" => RevokeReason::User,
            "admin" => RevokeReason::Admin,
            "evicted" => RevokeReason::Evicted,
            "refresh_token_reuse" => RevokeReason::RefreshTokenReuse,
            "password_change" => RevokeReason::PasswordChange,
            "account_disabled" => RevokeReason::AccountDisabled,
            "reauthenticated" => RevokeReason::Reauthenticated,
            "not_me" => RevokeReason::NotMe,
            "risk" => RevokeReason::Risk,
            "key_proof_failed" => RevokeReason::KeyProofFailed,
            "anomaly" => RevokeReason::Anomaly,
            "provider_logout" => RevokeReason::ProviderLogout,
            "idle_timeout" => RevokeReason::IdleTimeout,
            _ => return None,
        })
    }
}

impl RevokeReason {
    /// Whether revoking every session for this reason also raises the
    /// user's "not before" mark: a password change, a disabled account or
    /// "this wasn't me" (the credential is known to be compromised) must
    /// also refuse any later session whose credential was checked before
    /// the revocation (see [`crate::CreateRequest::credential_verified_at`]).
    ///
    /// ```
    /// use sessionward_core::RevokeReason;
    /// assert!(RevokeReason::PasswordChange.raises_not_before());
    /// assert!(RevokeReason::AccountDisabled.raises_not_before());
    /// assert!(RevokeReason::NotMe.raises_not_before());
    /// assert!(!RevokeReason::User.raises_not_before());
    /// ```
    pub fn raises_not_before(self) -> bool {
        matches!(
            self,
            RevokeReason::PasswordChange | RevokeReason::AccountDisabled | RevokeReason::NotMe
        )
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When and why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When it was revoked.
    pub at: Timestamp,
    /// Why.
    pub reason: RevokeReason,
}

/// The current refresh-token state of a session. Only the hash is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshState {
    /// SHA-256 of the current refresh secret.
    pub hash: TokenHash,
    /// Monotonic rotation counter: 0 at login, +1 per rotation.
    pub generation: u64,
    /// When the current token was issued.
    pub rotated_at: Timestamp,
}

/// Parsed User-Agent facts shown in session lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceInfo {
    /// Browser family, e.g. "Chrome".
    pub browser: Option<String>,
    /// Browser version, e.g. "131.0".
    pub browser_version: Option<String>,
    /// Operating-system family, e.g. "Windows".
    pub os: Option<String>,
    /// Operating-system version, e.g. "10".
    pub os_version: Option<String>,
    /// Device family, e.g. "iPhone".
    pub device_family: Option<String>,
    /// Device brand, e.g. "Apple".
    pub device_brand: Option<String>,
    /// Device model, e.g. "iPhone".
    pub device_model: Option<String>,
}

/// Approximate location of an IP address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: Option<String>,
    /// Country name in English.
    pub country_name: Option<String>,
    /// First subdivision (region/state) name.
    pub region: Option<String>,
    /// City name.
    pub city: Option<String>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// Accuracy radius in kilometres.
    pub accuracy_radius_km: Option<u16>,
    /// Autonomous system number, when an ASN database is configured.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub asn_org: Option<String>,
}

/// One named risk signal raised for a login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSignal {
    /// Stable signal name, e.g. `new_device`.
    pub name: String,
    /// Points this signal contributed.
    pub weight: u32,
    /// Human-readable reason, e.g. "first login from Sweden".
    pub reason: String,
}

/// Outcome of risk scoring, kept on the session so listings can flag it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskSummary {
    /// Total score.
    pub score: u32,
    /// Level name (e.g. `low`, `medium`, `high`).
    pub level: String,
    /// The signals raised.
    pub signals: Vec<RiskSignal>,
}

/// Where a federated session came from: the provider's ID token claims
/// (`iss`, `sub`, and `sid` when the provider sends one), kept in the
/// session's metadata so a logout token can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSession {
    /// The provider's issuer (`iss`).
    pub issuer: String,
    /// The user at the provider (`sub`).
    pub subject: String,
    /// The provider's session (`sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl ProviderSession {
    /// A session of `subject` at `issuer`.
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        ProviderSession {
            issuer: issuer.into(),
            subject: subject.into(),
            sid: None,
        }
    }

    /// The provider's session id, from the ID token's `sid`.
    pub fn with_sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }
}

/// Descriptive facts about a session; stores persist it as one JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionMeta {
    /// The User-Agent header at login, sanitised and truncated.
    pub user_agent: Option<String>,
    /// Parsed device facts.
    pub device: DeviceInfo,
    /// Approximate location at login.
    pub location: Location,
    /// Risk assessment at login.
    pub risk: RiskSummary,
    /// How the user signed in ("password", "passkey", …), as the host
    /// named it in [`crate::LoginOptions::sign_in_method`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_method: Option<String>,
    /// Groups sessions of one browser: a short hash of the device-id cookie
    /// (never the cookie itself), when the request carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_group: Option<String>,
    /// The key the session is bound to (DPoP), fixed at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<crate::binding::KeyBinding>,
    /// The app or client the user signed in to
    /// ([`crate::LoginOptions::app`]), which per-app limits count by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<crate::ids::AppId>,
    /// The tenant (customer organisation) the user signed in under
    /// ([`crate::LoginOptions::tenant`]), which per-tenant limits count by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<crate::ids::TenantId>,
    /// The identity provider session the user signed in through
    /// ([`crate::LoginOptions::via_provider`]), which its back-channel
    /// logout ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderSession>,
}

/// Everything a store keeps about one session.
///
/// Contains no raw secret: the refresh token is present only as a hash.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// Owner.
    pub user: UserId,
    /// Session id.
    pub id: SessionId,
    /// Login time.
    pub created_at: Timestamp,
    /// Last recorded activity (throttled; see the policy's touch interval).
    pub last_seen_at: Timestamp,
    /// Absolute end of the session, fixed at login.
    pub expires_at: Timestamp,
    /// Time of the last full authentication (login or step-up).
    pub auth_time: Timestamp,
    /// Refresh-token state.
    pub refresh: RefreshState,
    /// Set once the session is revoked; revoked records stay as tombstones
    /// until they are purged after expiry.
    pub revoked: Option<Revocation>,
    /// Client IP at login.
    pub ip: Option<IpAddr>,
    /// Device class at login.
    pub device_class: DeviceClass,
    /// Country code at login, when known.
    pub country: Option<String>,
    /// Descriptive facts (UA, device, location, risk).
    pub meta: SessionMeta,
    /// Where it was used after login (the latest use and recent places).
    pub seen: SeenLog,
}

impl SessionRecord {
    /// The DPoP key thumbprint its access tokens must carry in `cnf.jkt`
    /// (`None` for unbound and DBSC-bound sessions, whose access tokens
    /// are bearer tokens).
    pub fn access_thumbprint(&self) -> Option<&str> {
        self.meta
            .binding
            .as_ref()
            .and_then(crate::binding::KeyBinding::access_thumbprint)
    }

    /// The thumbprint of the key the session is bound to, of either kind.
    pub fn bound_thumbprint(&self) -> Option<&str> {
        self.meta
            .binding
            .as_ref()
            .map(crate::binding::KeyBinding::thumbprint)
    }
}

/// Why a session is not usable at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inactive {
    /// It was revoked.
    Revoked(RevokeReason),
    /// The idle timeout passed without activity.
    IdleTimeout,
    /// The absolute lifetime ended.
    AbsoluteTimeout,
}

impl SessionRecord {
    /// Whether the session may be used at `now`, given the idle cutoff
    /// (`now - idle_timeout`): not revoked, before its absolute end, and
    /// seen after the cutoff.
    pub fn is_active(&self, now: Timestamp, idle_cutoff: Timestamp) -> bool {
        self.inactive_reason(now, idle_cutoff).is_none()
    }

    /// Why the session is not usable at `now`, or `None` if it is.
    pub fn inactive_reason(&self, now: Timestamp, idle_cutoff: Timestamp) -> Option<Inactive> {
        if let Some(r) = self.revoked {
            // A durable idle judgement reads as the timeout it records.
            return Some(match r.reason {
                RevokeReason::IdleTimeout => Inactive::IdleTimeout,
                reason => Inactive::Revoked(reason),
            });
        }
        if now >= self.expires_at {
            return Some(Inactive::AbsoluteTimeout);
        }
        if self.last_seen_at <= idle_cutoff {
            return Some(Inactive::IdleTimeout);
        }
        None
    }
}

/// Longest User-Agent kept, in bytes; longer ones are cut at a char boundary.
pub const MAX_USER_AGENT_LEN: usize = 512;

/// Longest device-id cookie value accepted, in bytes.
pub const MAX_DEVICE_ID_LEN: usize = 128;

/// Facts about the HTTP request that logs in or refreshes.
///
/// Adapters build this from the request; the client IP must already have
/// gone through trusted-proxy handling.
///
/// ```
/// use sessionward_core::RequestContext;
/// let ctx = RequestContext::new()
///     .with_ip("81.2.69.142".parse().unwrap())
///     .with_user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
/// assert!(ctx.user_agent().unwrap().starts_with("Mozilla"));
/// // The device cookie binds continuation tickets: never in `Debug`.
/// let ctx = ctx.with_device_id("d3v1c3-c00k13");
/// assert!(!format!("{ctx:?}").contains("d3v1c3"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    device_id: Option<String>,
    client_hints: ClientHints,
    dpop: Option<crate::binding::DpopRequest>,
    /// The thumbprint a proof of this same request already proved (set by
    /// the web layer after authenticating a bound session), so a login or
    /// refresh on it does not spend the proof's `jti` twice.
    proven_key: Option<String>,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("device_id", &self.device_id.as_ref().map(|_| "[redacted]"))
            .field("client_hints", &self.client_hints)
            .field("dpop", &self.dpop)
            .field("proven_key", &self.proven_key)
            .finish()
    }
}

impl RequestContext {
    /// An empty context (no IP, no User-Agent).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the client IP.
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Sets the User-Agent, replacing control characters and truncating to
    /// [`MAX_USER_AGENT_LEN`] bytes so it is safe to log and store.
    pub fn with_user_agent(mut self, ua: impl AsRef<str>) -> Self {
        self.user_agent = Some(sanitize_text(ua.as_ref(), MAX_USER_AGENT_LEN));
        self
    }

    /// Sets the stable device-id cookie value; ignored if longer than
    /// [`MAX_DEVICE_ID_LEN`] or not printable ASCII.
    pub fn with_device_id(mut self, id: impl AsRef<str>) -> Self {
        let id = id.as_ref();
        if !id.is_empty()
            && id.len() <= MAX_DEVICE_ID_LEN
            && id.bytes().all(|b| b.is_ascii_graphic())
        {
            self.device_id = Some(id.to_owned());
        }
        self
    }

    /// Sets the DPoP proof the request carried, with its method and URI: a
    /// login binds the new session to the proof's key
    /// ([`crate::binding`]), a refresh and a request of a bound session
    /// need it.
    pub fn with_dpop(mut self, request: crate::binding::DpopRequest) -> Self {
        self.dpop = Some(request);
        self
    }

    /// Marks the request's proof as already verified for the key with
    /// thumbprint `jkt`.
    pub(crate) fn with_proven_key(mut self, jkt: &str) -> Self {
        self.proven_key = Some(jkt.to_owned());
        self
    }

    /// The thumbprint the request's proof already proved.
    pub(crate) fn proven_key(&self) -> Option<&str> {
        self.proven_key.as_deref()
    }

    /// The DPoP proof, if the request carried one.
    pub fn dpop(&self) -> Option<&crate::binding::DpopRequest> {
        self.dpop.as_ref()
    }

    /// Sets the User-Agent Client Hints the request carried.
    pub fn with_client_hints(mut self, hints: ClientHints) -> Self {
        self.client_hints = hints;
        self
    }

    /// The client IP.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The sanitised User-Agent.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The device-id cookie value.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The User-Agent Client Hints (empty when none were sent).
    pub fn client_hints(&self) -> &ClientHints {
        &self.client_hints
    }

    /// Whether the context carries nothing to record (no address, no
    /// User-Agent).
    pub fn is_empty(&self) -> bool {
        self.ip.is_none() && self.user_agent.is_none()
    }
}

/// Replaces control characters with U+FFFD and truncates to `max` bytes at a
/// char boundary, so the text cannot forge log lines.
pub fn sanitize_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = if c.is_control() { '\u{FFFD}' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}
