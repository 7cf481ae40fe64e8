//! What a transmitter is told: where it lives, how it retries, which push
//! endpoints it may call.

use std::time::Duration;

use super::DEFAULT_RETENTION;

/// Settings of a [`super::Transmitter`].
#[derive(Debug, Clone)]
pub struct TransmitterConfig {
    pub(crate) issuer: String,
    /// `scheme://host[:port]` of the issuer: the endpoints are under it.
    pub(crate) origin: String,
    /// [`TransmitterConfig::well_known_path`], made once: every request
    /// through the layer is compared with it.
    pub(crate) well_known: String,
    pub(crate) retention: Duration,
    pub(crate) first_retry: Duration,
    pub(crate) max_retry: Duration,
    pub(crate) push_timeout: Duration,
    pub(crate) min_verification_interval: Duration,
    pub(crate) poll_wait: Duration,
    pub(crate) allow_http_loopback: bool,
    pub(crate) push_hosts: PushHosts,
}

/// Which hosts a receiver may name as its push endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushHosts {
    /// None (the default): push needs [`TransmitterConfig::push_hosts`].
    Unset,
    /// These names (lower case).
    Only(Vec<String>),
    /// Any host ([`TransmitterConfig::any_push_host`]).
    Any,
}

/// Longest push timeout and poll wait taken (longer ones are cut to it).
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Why a transmitter setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransmitterConfigError {
    /// The issuer is not an `https://` URL without query, fragment or user
    /// information.
    #[error("the issuer must be an https URL without query, fragment or user information")]
    BadIssuer,
    /// A duration that must be above zero is zero, or a retry ceiling is
    /// below the first retry.
    #[error("the retry, timeout and retention settings must be above zero and ordered")]
    BadDuration,
    /// The token signing key is HS256: receivers could not verify SETs
    /// without the shared secret. Sign with EdDSA or ES256.
    #[error("security event tokens need an asymmetric signing key (EdDSA or ES256)")]
    SymmetricKey,
}

/// The parts of an absolute `http(s)` URL we check: scheme, authority
/// (`host[:port]`), host, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
    pub host: &'a str,
    pub path: &'a str,
}

/// Splits `url` when it is an absolute `http` or `https` URL with a host,
/// no user information, no fragment, and only visible ASCII.
pub(crate) fn split_url(url: &str) -> Option<UrlParts<'_>> {
    if url.is_empty() || url.len() > 2048 || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme == "https" || scheme == "http") || url.contains('#') {
        return None;
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']')?;
        &authority[..close + 2]
    } else {
        authority.split(':').next()?
    };
    let port = &authority[host.len()..];
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0)
        });
    (port_ok && !host.is_empty()).then_some(UrlParts {
        scheme,
        authority,
        host,
        path,
    })
}

/// Whether `host` names this machine (`localhost`, `127.0.0.0/8`, `[::1]`).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl TransmitterConfig {
    /// A transmitter whose issuer (`iss` of every SET, and where
    /// `/.well-known/ssf-configuration` is served) is `issuer`, an `https`
    /// URL; the endpoints it advertises are under the issuer's origin and
    /// the adapter's route prefix.
    ///
    /// ```
    /// use sessionward_core::ssf::TransmitterConfig;
    /// assert!(TransmitterConfig::new("https://auth.example.com").is_ok());
    /// assert!(TransmitterConfig::new("http://auth.example.com").is_err());
    /// assert!(TransmitterConfig::new("https://user@auth.example.com").is_err());
    /// ```
    ///
    /// # Errors
    /// [`TransmitterConfigError::BadIssuer`].
    pub fn new(issuer: impl Into<String>) -> Result<Self, TransmitterConfigError> {
        Self::with_issuer(issuer.into(), false)
    }

    /// Like [`TransmitterConfig::new`], but also takes `http://` for a
    /// loopback issuer and loopback push endpoints, which it allows without
    /// [`TransmitterConfig::push_hosts`] (tests, local development). Never
    /// in production: SETs and receiver credentials would travel in clear.
    ///
    /// # Errors
    /// [`TransmitterConfigError::BadIssuer`].
    pub fn new_allowing_http_loopback(
        issuer: impl Into<String>,
    ) -> Result<Self, TransmitterConfigError> {
        Self::with_issuer(issuer.into(), true)
    }

    fn with_issuer(
        issuer: String,
        allow_http_loopback: bool,
    ) -> Result<Self, TransmitterConfigError> {
        let parts = split_url(&issuer).ok_or(TransmitterConfigError::BadIssuer)?;
        let scheme_ok =
            parts.scheme == "https" || (allow_http_loopback && is_loopback_host(parts.host));
        if !scheme_ok || parts.path.contains('?') {
            return Err(TransmitterConfigError::BadIssuer);
        }
        let origin = format!("{}://{}", parts.scheme, parts.authority);
        // SSF 1.0 §7.1: the issuer's path goes after the well-known name.
        let issuer_path = parts.path.trim_end_matches('/');
        let well_known = format!("/.well-known/ssf-configuration{issuer_path}");
        Ok(TransmitterConfig {
            issuer,
            origin,
            well_known,
            retention: DEFAULT_RETENTION,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(300),
            push_timeout: Duration::from_secs(10),
            min_verification_interval: Duration::from_secs(30),
            poll_wait: Duration::from_secs(10),
            allow_http_loopback,
            push_hosts: PushHosts::Unset,
        })
    }

    /// How long an undelivered SET is kept (default three days).
    ///
    /// # Errors
    /// [`TransmitterConfigError::BadDuration`] for zero.
    pub fn retention(mut self, retention: Duration) -> Result<Self, TransmitterConfigError> {
        if retention.is_zero() {
            return Err(TransmitterConfigError::BadDuration);
        }
        self.retention = retention;
        Ok(self)
    }

    /// A failed push is retried after `first`, then twice as long each
    /// time, at most `max` apart (default 1 s and 5 min).
    ///
    /// # Errors
    /// [`TransmitterConfigError::BadDuration`] for zero or `max < first`.
    pub fn retry(mut self, first: Duration, max: Duration) -> Result<Self, TransmitterConfigError> {
        if first.is_zero() || max < first {
            return Err(TransmitterConfigError::BadDuration);
        }
        self.first_retry = first;
        self.max_retry = max;
        Ok(self)
    }

    /// Longest one push may take before it counts as failed (default 10 s,
    /// at most 5 minutes).
    ///
    /// # Errors
    /// [`TransmitterConfigError::BadDuration`] for zero.
    pub fn push_timeout(mut self, timeout: Duration) -> Result<Self, TransmitterConfigError> {
        if timeout.is_zero() {
            return Err(TransmitterConfigError::BadDuration);
        }
        self.push_timeout = timeout.min(MAX_WAIT);
        Ok(self)
    }

    /// Shortest time between two verification requests on one stream
    /// (default 30 s; a sooner one gets `429`).
    pub fn min_verification_interval(mut self, interval: Duration) -> Self {
        self.min_verification_interval = interval;
        self
    }

    /// Longest a poll without `returnImmediately` waits for a SET
    /// (default 10 s, at most 5 minutes; zero answers at once).
    pub fn poll_wait(mut self, wait: Duration) -> Self {
        self.poll_wait = wait.min(MAX_WAIT);
        self
    }

    /// The hosts receivers may push to (exact, case-insensitive names).
    /// Receivers choose their push endpoint, so without this list push
    /// streams are refused: an authenticated receiver must not be able to
    /// point the transmitter at an internal service. Poll streams need
    /// nothing.
    pub fn push_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let hosts = hosts
            .into_iter()
            .map(|h| h.into().to_ascii_lowercase())
            .collect();
        self.push_hosts = PushHosts::Only(hosts);
        self
    }

    /// Lets receivers push to any `https` host. Only when every receiver
    /// is trusted not to aim the transmitter at your internal network (or
    /// the pusher's connector refuses internal addresses itself).
    pub fn any_push_host(mut self) -> Self {
        self.push_hosts = PushHosts::Any;
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The path the transmitter metadata is served at (SSF 1.0 §7.1):
    /// `/.well-known/ssf-configuration`, then the issuer's path.
    ///
    /// ```
    /// use sessionward_core::ssf::TransmitterConfig;
    /// let c = TransmitterConfig::new("https://example.com/tenant-a").unwrap();
    /// assert_eq!(c.well_known_path(), "/.well-known/ssf-configuration/tenant-a");
    /// ```
    pub fn well_known_path(&self) -> &str {
        &self.well_known
    }

    /// Whether a receiver may ask for pushes to `url`.
    pub(crate) fn push_url_allowed(&self, url: &str) -> bool {
        let Some(parts) = split_url(url) else {
            return false;
        };
        let loopback = self.allow_http_loopback && is_loopback_host(parts.host);
        let scheme_ok = parts.scheme == "https" || loopback;
        let host_ok = match &self.push_hosts {
            PushHosts::Any => true,
            PushHosts::Only(hosts) => hosts.iter().any(|h| h.eq_ignore_ascii_case(parts.host)),
            // A test or development transmitter may push to this machine.
            PushHosts::Unset => loopback,
        };
        scheme_ok && host_ok
    }
}
