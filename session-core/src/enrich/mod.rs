//! Request enrichment: what device and roughly where a request comes from.
//!
//! - [`user_agent`]: User-Agent → [`DeviceInfo`] + [`DeviceClass`]
//!   (`UapParser` with feature `user-agent`, [`CachedParser`]).
//! - [`geo`]: IP → [`Location`] (`MaxMindResolver` with feature `geoip`,
//!   [`NoGeo`]).
//! - [`client_ip`](mod@client_ip): the client address behind trusted
//!   reverse proxies.
//! - [`Enricher`] combines a parser and a resolver; [`Describe`] renders the
//!   results for people ("Chrome 131 on Windows 10", "London, United
//!   Kingdom").
//!
//! With feature `bundled-test-data`:
//! ```
//! # #[cfg(feature = "bundled-test-data")] {
//! use sessionward_core::DeviceClass;
//! use sessionward_core::enrich::{Describe, Enricher};
//!
//! let enricher = Enricher::bundled()?; // bundled GeoIP data is TEST data
//! let e = enricher.enrich(
//!     Some("81.2.69.142".parse().unwrap()),
//!     Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
//!           (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
//! );
//! assert_eq!(e.class, DeviceClass::Desktop);
//! assert_eq!(e.device.describe(), "Chrome 131 on Windows 10");
//! assert_eq!(e.location.describe(), "London, United Kingdom");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::record::{DeviceClass, DeviceInfo, Location, RequestContext};

pub mod client_hints;
pub mod client_ip;
pub mod geo;
pub mod user_agent;

pub use client_hints::{ACCEPT_CH, ClientHints};
pub use client_ip::{
    CidrError, IpCidr, MAX_FORWARDED_HEADER_LEN, MAX_FORWARDED_HOPS, ProxyHeader, TrustedProxies,
    client_ip,
};
pub use geo::{AnonymousIp, GeoResolver, NoGeo, is_public_ip};
#[cfg(feature = "geoip")]
pub use geo::{DatabaseInfo, DbSource, GeoError, MaxMindResolver};
#[cfg(feature = "user-agent")]
pub use user_agent::{BackgroundUapParser, UaParserError, UapParser};
pub use user_agent::{CachedParser, ParsedUserAgent, UserAgentParser};

/// Why [`Enricher::bundled`] failed (only if the embedded data is corrupt).
#[cfg(feature = "bundled-test-data")]
#[cfg_attr(docsrs, doc(cfg(feature = "bundled-test-data")))]
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The embedded uap regexes could not be compiled.
    #[error(transparent)]
    UserAgent(#[from] UaParserError),
    /// The embedded GeoIP test databases could not be read.
    #[error(transparent)]
    Geo(#[from] GeoError),
}

/// Device and location facts of one request: what a [`LoginEnricher`]
/// gives the manager at login, and what [`Enricher::enrich`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// Parsed User-Agent facts.
    pub device: DeviceInfo,
    /// Device class (for per-class limits).
    pub class: DeviceClass,
    /// Approximate location of the client IP.
    pub location: Location,
    /// Whether the IP is a known anonymising network (VPN, proxy, hosting,
    /// Tor), per [`GeoResolver::is_anonymous`].
    pub anonymous_ip: bool,
}

impl Default for Enrichment {
    fn default() -> Self {
        Self {
            device: DeviceInfo::default(),
            class: DeviceClass::Other,
            location: Location::default(),
            anonymous_ip: false,
        }
    }
}

/// Turns request facts into device and location facts at login
/// (User-Agent parsing, GeoIP); plugged into the manager with
/// `SessionManagerBuilder::enricher`. Must be fast and must not fail:
/// unknown input gives empty facts. [`Enricher`] is the implementation
/// built from a parser and a resolver.
pub trait LoginEnricher: Send + Sync + 'static {
    /// Facts about the request.
    fn enrich(&self, ctx: &RequestContext) -> Enrichment;
}

/// Combines a [`UserAgentParser`] and a [`GeoResolver`]. Cheap to clone.
#[derive(Clone)]
pub struct Enricher {
    user_agent: Arc<dyn UserAgentParser>,
    geo: Arc<dyn GeoResolver>,
}

impl fmt::Debug for Enricher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enricher").finish_non_exhaustive()
    }
}

impl Default for Enricher {
    /// Same as [`Enricher::none`].
    fn default() -> Self {
        Self::none()
    }
}

/// A parser that recognises nothing.
struct NoParser;

impl UserAgentParser for NoParser {
    fn parse(&self, _ua: &str) -> ParsedUserAgent {
        ParsedUserAgent::default()
    }
}

impl Enricher {
    /// Combines the given parser and resolver.
    pub fn new(user_agent: Arc<dyn UserAgentParser>, geo: Arc<dyn GeoResolver>) -> Self {
        Self { user_agent, geo }
    }

    /// The embedded uap-core regexes (process-wide parser from
    /// [`UapParser::shared_embedded`], behind a [`CachedParser`] of default
    /// capacity) and the bundled MaxMind **test** databases
    /// ([`MaxMindResolver::bundled_test_data`]).
    ///
    /// For demos and tests: real addresses resolve to unknown with the test
    /// databases. In production use [`Enricher::new`] with a
    /// [`MaxMindResolver::open`] on a real database.
    #[cfg(feature = "bundled-test-data")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bundled-test-data")))]
    pub fn bundled() -> Result<Self, EnrichError> {
        let parser = CachedParser::with_default_capacity(UapParser::shared_embedded()?);
        let geo = MaxMindResolver::bundled_test_data()?;
        Ok(Self::new(Arc::new(parser), Arc::new(geo)))
    }

    /// Recognises nothing: every request is [`DeviceClass::Other`] at an
    /// unknown location.
    pub fn none() -> Self {
        Self::new(Arc::new(NoParser), Arc::new(NoGeo))
    }

    /// Replaces the User-Agent parser.
    pub fn with_user_agent_parser(mut self, parser: Arc<dyn UserAgentParser>) -> Self {
        self.user_agent = parser;
        self
    }

    /// Replaces the geo resolver.
    pub fn with_geo(mut self, geo: Arc<dyn GeoResolver>) -> Self {
        self.geo = geo;
        self
    }

    /// The User-Agent parser.
    pub fn user_agent_parser(&self) -> &Arc<dyn UserAgentParser> {
        &self.user_agent
    }

    /// The geo resolver (also answers [`GeoResolver::is_anonymous`]).
    pub fn geo(&self) -> &Arc<dyn GeoResolver> {
        &self.geo
    }

    /// Enriches one request: device facts, location and the anonymiser
    /// flag. Missing inputs give empty facts; this never fails.
    pub fn enrich(&self, ip: Option<IpAddr>, user_agent: Option<&str>) -> Enrichment {
        let parsed = user_agent
            .map(|ua| self.user_agent.parse(ua))
            .unwrap_or_default();
        let location = ip.map(|ip| self.geo.locate(ip)).unwrap_or_default();
        let anonymous_ip = ip
            .and_then(|ip| self.geo.is_anonymous(ip))
            .is_some_and(|a| a.anonymous);
        Enrichment {
            device: parsed.device,
            class: parsed.class,
            location,
            anonymous_ip,
        }
    }

    /// Enriches the IP and User-Agent of a [`RequestContext`].
    pub fn enrich_context(&self, ctx: &RequestContext) -> Enrichment {
        self.enrich(ctx.ip(), ctx.user_agent())
    }
}

/// Plugs an [`Enricher`] into the session engine:
/// `SessionManager::builder(..).enricher(Arc::new(enricher))`.
///
/// ```
/// # #[cfg(feature = "bundled-test-data")] {
/// use sessionward_core::{DeviceClass, Enricher, LoginEnricher, RequestContext};
///
/// let enricher = Enricher::bundled()?;
/// let ctx = RequestContext::new()
///     .with_ip("81.2.69.142".parse().unwrap())
///     .with_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
/// let e = LoginEnricher::enrich(&enricher, &ctx);
/// assert_eq!(e.class, DeviceClass::Desktop);
/// assert_eq!(e.location.city.as_deref(), Some("London"));
/// assert!(e.anonymous_ip); // listed in the bundled Anonymous-IP test database
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl LoginEnricher for Enricher {
    fn enrich(&self, ctx: &RequestContext) -> Enrichment {
        self.enrich_context(ctx)
    }
}

/// Short human-readable descriptions for notifications and session lists.
pub trait Describe {
    /// E.g. "Chrome 131 on Windows 10" or "London, United Kingdom".
    fn describe(&self) -> String;
}

impl Describe for DeviceInfo {
    /// "Browser Major on OS Version", dropping the parts that are unknown;
    /// falls back to the device family, then to "Unknown device".
    fn describe(&self) -> String {
        let browser = self.browser.as_deref().map(|b| {
            match self
                .browser_version
                .as_deref()
                .and_then(|v| v.split('.').next())
                .filter(|v| !v.is_empty())
            {
                Some(major) => format!("{b} {major}"),
                None => b.to_owned(),
            }
        });
        let os = self
            .os
            .as_deref()
            .map(|o| match self.os_version.as_deref() {
                Some(v) if !v.is_empty() => format!("{o} {v}"),
                _ => o.to_owned(),
            });
        // Android app clients (Dalvik) report the OS as the browser.
        let browser = browser.filter(|_| self.browser != self.os);
        match (browser, os) {
            (Some(b), Some(o)) => format!("{b} on {o}"),
            (Some(b), None) => b,
            (None, Some(o)) => o,
            (None, None) => self
                .device_family
                .clone()
                .unwrap_or_else(|| "Unknown device".to_owned()),
        }
    }
}

impl Describe for Location {
    /// "City, Country"; either part alone when the other is unknown (the
    /// country code stands in for a missing country name); "Unknown
    /// location" when nothing is known.
    fn describe(&self) -> String {
        let country = self
            .country_name
            .as_deref()
            .or(self.country_code.as_deref());
        match (self.city.as_deref(), country) {
            (Some(city), Some(country)) => format!("{city}, {country}"),
            (Some(city), None) => city.to_owned(),
            (None, Some(country)) => country.to_owned(),
            (None, None) => "Unknown location".to_owned(),
        }
    }
}

/// Where a request came from, for people: the location when the data knows
/// it; otherwise "This computer" for a loopback address, "Local network"
/// for a private, link-local or unique-local one (GeoIP knows neither),
/// and "Unknown location" only for a public address nobody knows.
///
/// ```
/// use sessionward_core::Location;
/// use sessionward_core::enrich::describe_place;
/// let nowhere = Location::default();
/// assert_eq!(describe_place(Some("127.0.0.1".parse().unwrap()), &nowhere), "This computer");
/// assert_eq!(describe_place(Some("::1".parse().unwrap()), &nowhere), "This computer");
/// assert_eq!(describe_place(Some("192.168.1.20".parse().unwrap()), &nowhere), "Local network");
/// assert_eq!(describe_place(Some("fd00::7".parse().unwrap()), &nowhere), "Local network");
/// assert_eq!(describe_place(Some("81.2.69.142".parse().unwrap()), &nowhere), "Unknown location");
/// assert_eq!(describe_place(None, &nowhere), "Unknown location");
/// // A stored keyed-hash pseudonym (`IpStorage::KeyedHash`) of a public address:
/// assert_eq!(describe_place(Some("100::1:2:3:4".parse().unwrap()), &nowhere), "Unknown location");
/// ```
pub fn describe_place(ip: Option<IpAddr>, location: &Location) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        _ if is_known(location) => location.describe(),
        // A keyed-hash pseudonym stands for a public address.
        Some(ip) if crate::privacy::is_pseudonym(ip) => location.describe(),
        Some(ip) if ip.is_loopback() => THIS_COMPUTER.to_owned(),
        Some(ip) if !is_public_ip(ip) && !ip.is_unspecified() => LOCAL_NETWORK.to_owned(),
        _ => location.describe(),
    }
}

/// Whether the data told anything about where `location` is.
fn is_known(location: &Location) -> bool {
    location.city.is_some() || location.country_name.is_some() || location.country_code.is_some()
}

/// [`describe_place`] for a loopback address.
pub const THIS_COMPUTER: &str = "This computer";

/// [`describe_place`] for a private, link-local or unique-local address.
pub const LOCAL_NETWORK: &str = "Local network";

impl Describe for Enrichment {
    /// "Device in Location", e.g. "Chrome 131 on Windows 10 in London,
    /// United Kingdom"; the location part is left out when unknown.
    fn describe(&self) -> String {
        let device = self.device.describe();
        if !is_known(&self.location) {
            device
        } else {
            format!("{device} in {}", self.location.describe())
        }
    }
}
