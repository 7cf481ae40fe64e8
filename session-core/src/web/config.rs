//! Adapter configuration.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::DEFAULT_MAX_CREDENTIAL_LEN;

/// How tokens travel between client and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenTransport {
    /// `Authorization: Bearer <jwt>`; login and refresh answer with JSON
    /// tokens, the refresh route reads `{"refresh_token": "…"}`. For SPAs
    /// that keep tokens themselves and for mobile apps. No CSRF check is
    /// needed: browsers never attach the header on their own.
    Bearer,
    /// `__Host-sw_access` and `__Secure-sw_refresh` cookies (`Secure`,
    /// `HttpOnly`), so scripts never see a token. The default, recommended
    /// for browsers. State-changing requests need CSRF protection.
    #[default]
    Cookies,
}

/// The `SameSite` attribute of the session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their
    /// sub-requests or cross-site POSTs. The default.
    #[default]
    Lax,
    /// Never sent on requests started by another site.
    Strict,
}

impl SameSite {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
        }
    }
}

/// CSRF protection for state-changing requests authenticated by cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfProtection {
    /// Double submit (the default): the `X-CSRF-Token` header must equal the
    /// `__Host-sw_csrf` cookie set at login. Client scripts read the cookie
    /// and copy it into the header.
    DoubleSubmit,
    /// The `Origin` header must be present and equal (ASCII
    /// case-insensitively) one of these origins, e.g.
    /// `https://app.example.com`. Modern browsers send `Origin` on every
    /// non-GET request.
    Origin(Vec<String>),
    /// Both checks must pass.
    DoubleSubmitAndOrigin(Vec<String>),
    /// No CSRF check at all. Only safe when something else already blocks
    /// cross-site requests (for example a custom-header requirement at a proxy).
    DangerousDisabled,
}

impl CsrfProtection {
    pub(super) fn double_submit(&self) -> bool {
        matches!(
            self,
            CsrfProtection::DoubleSubmit | CsrfProtection::DoubleSubmitAndOrigin(_)
        )
    }

    pub(super) fn origins(&self) -> Option<&[String]> {
        match self {
            CsrfProtection::Origin(o) | CsrfProtection::DoubleSubmitAndOrigin(o) => Some(o),
            _ => None,
        }
    }
}

/// Finds the client's IP address for a request.
///
/// The default, [`PeerAddrOnly`], uses the TCP peer address. Behind a
/// reverse proxy, plug in a resolver that trusts `Forwarded` /
/// `X-Forwarded-For` only when the peer is a known proxy.
pub trait ClientIpResolver: Send + Sync + 'static {
    /// The client address given the TCP peer (if the framework knows it)
    /// and the raw `Forwarded` and `X-Forwarded-For` headers.
    fn client_ip(
        &self,
        peer: Option<IpAddr>,
        forwarded: Option<&str>,
        x_forwarded_for: Option<&str>,
    ) -> Option<IpAddr>;
}

/// The default [`ClientIpResolver`]: the TCP peer address, ignoring every
/// forwarding header (which any client can forge).
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerAddrOnly;

impl ClientIpResolver for PeerAddrOnly {
    fn client_ip(&self, peer: Option<IpAddr>, _: Option<&str>, _: Option<&str>) -> Option<IpAddr> {
        peer
    }
}

/// A configuration value was refused by [`crate::web::SessionApi::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The route prefix must be empty or start with `/`, not end with `/`,
    /// and hold only URL path characters.
    #[error("route prefix must be empty or like `/auth` (no trailing slash, path characters only)")]
    BadPrefix,
    /// An allowed origin is not `scheme://host[:port]`.
    #[error("allowed origin `{0}` must look like `https://app.example.com` (no path)")]
    BadOrigin(String),
    /// Origin checking was asked for with no allowed origins.
    #[error("origin-based CSRF protection needs at least one allowed origin")]
    NoOrigins,
    /// A zero re-authentication window would refuse every session change.
    #[error("the recent-authentication window must be above zero")]
    ZeroReauthWindow,
}

/// How an adapter authenticates requests and serves the session routes.
///
/// Secure by default: cookie transport with `SameSite=Lax`, double-submit
/// CSRF, re-authentication within 15 minutes before ending sessions, and
/// the peer address as client IP.
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::web::{AdapterConfig, CsrfProtection, SameSite, TokenTransport};
///
/// let config = AdapterConfig::new()
///     .with_transport(TokenTransport::Cookies)
///     .with_same_site(SameSite::Strict)
///     .with_route_prefix("/account/auth")
///     .with_csrf(CsrfProtection::DoubleSubmitAndOrigin(vec!["https://app.example.com".into()]))
///     .with_recent_auth(Duration::from_secs(300));
/// assert_eq!(config.refresh_cookie_path(), "/account/auth");
/// ```
#[derive(Clone)]
pub struct AdapterConfig {
    pub(super) transport: TokenTransport,
    pub(super) same_site: SameSite,
    pub(super) prefix: String,
    pub(super) csrf: CsrfProtection,
    pub(super) recent_auth: Option<Duration>,
    pub(super) device_cookie: bool,
    pub(super) max_credential_len: usize,
    pub(super) resolver: Arc<dyn ClientIpResolver>,
    pub(super) openapi_route: bool,
    pub(super) jwks_route: bool,
    pub(super) token_service: Option<Arc<dyn super::ServiceAuthenticator>>,
    pub(super) admin: Option<Arc<dyn super::AdminAuthorizer>>,
    pub(super) identity_provider: Option<Arc<crate::provider::IdentityProvider>>,
    pub(super) transmitter: Option<crate::ssf::Transmitter>,
    pub(super) client_hints: bool,
    pub(super) public_origin: Option<String>,
}

impl fmt::Debug for AdapterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterConfig")
            .field("transport", &self.transport)
            .field("same_site", &self.same_site)
            .field("prefix", &self.prefix)
            .field("csrf", &self.csrf)
            .field("recent_auth", &self.recent_auth)
            .field("device_cookie", &self.device_cookie)
            .field("max_credential_len", &self.max_credential_len)
            .field("openapi_route", &self.openapi_route)
            .field("jwks_route", &self.jwks_route)
            .field("token_service", &self.token_service.is_some())
            .field("identity_provider", &self.identity_provider)
            .field("transmitter", &self.transmitter)
            .field("client_hints", &self.client_hints)
            .field("public_origin", &self.public_origin)
            .finish_non_exhaustive()
    }
}

impl Default for AdapterConfig {
    fn default() -> Self {
        AdapterConfig {
            transport: TokenTransport::Cookies,
            same_site: SameSite::Lax,
            prefix: "/auth".to_owned(),
            csrf: CsrfProtection::DoubleSubmit,
            recent_auth: Some(Duration::from_secs(15 * 60)),
            device_cookie: true,
            max_credential_len: DEFAULT_MAX_CREDENTIAL_LEN,
            resolver: Arc::new(PeerAddrOnly),
            openapi_route: false,
            jwks_route: false,
            token_service: None,
            admin: None,
            identity_provider: None,
            transmitter: None,
            client_hints: true,
            public_origin: None,
        }
    }
}

impl AdapterConfig {
    /// The secure defaults (see the type docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Token transport (default [`TokenTransport::Cookies`]).
    pub fn with_transport(mut self, transport: TokenTransport) -> Self {
        self.transport = transport;
        self
    }

    /// `SameSite` of the session cookies (default [`SameSite::Lax`]).
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The path the session routes are mounted under (default `/auth`).
    /// The refresh cookie is scoped to this path (both `<prefix>/refresh`
    /// and `<prefix>/logout` need it), so this must match where the host
    /// mounts the routes.
    pub fn with_route_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// CSRF protection for cookie transport (default [`CsrfProtection::DoubleSubmit`]).
    pub fn with_csrf(mut self, csrf: CsrfProtection) -> Self {
        self.csrf = csrf;
        self
    }

    /// Ending sessions (`DELETE /sessions/{id}`, `revoke-others`,
    /// `revoke-all`) requires the last full authentication to be at most
    /// `max_age` old (ASVS 7.5.2; default 15 minutes). Older sessions get
    /// `401 reauthentication_required`; the host then re-authenticates the
    /// user with [`crate::web::SessionApi::reauthenticate`].
    pub fn with_recent_auth(mut self, max_age: Duration) -> Self {
        self.recent_auth = Some(max_age);
        self
    }

    /// Lets any authenticated session end sessions without a recent
    /// authentication. Weakens ASVS 7.5.2: a stolen session can then log the
    /// real user out everywhere.
    pub fn dangerous_without_recent_auth(mut self) -> Self {
        self.recent_auth = None;
        self
    }

    /// Whether to read the stable device-id cookie (`__Host-sw_device`) into
    /// the request context, and set it at login with cookie transport when
    /// absent (default `true`).
    pub fn with_device_cookie(mut self, enabled: bool) -> Self {
        self.device_cookie = enabled;
        self
    }

    /// Longest `Authorization` header, or sum of `Cookie` header lengths,
    /// accepted (default 8 KiB); longer ones are refused as `invalid_token`
    /// without being parsed.
    pub fn with_max_credential_len(mut self, len: usize) -> Self {
        self.max_credential_len = len;
        self
    }

    /// How the client IP is found (default [`PeerAddrOnly`]). Behind a
    /// reverse proxy, pass a resolver that trusts forwarding headers only
    /// from the proxy's addresses.
    pub fn with_client_ip_resolver(mut self, resolver: Arc<dyn ClientIpResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Also serve the OpenAPI 3.1 description of the session routes at
    /// `GET <prefix>/openapi.json` (default off: it tells a visitor which
    /// routes exist). [`super::SessionApi::openapi_json`] gives it without
    /// serving it.
    pub fn with_openapi_route(mut self, enabled: bool) -> Self {
        self.openapi_route = enabled;
        self
    }

    /// Also serve the public token keys as a JSON Web Key Set at
    /// `GET <prefix>/jwks` ([`crate::tokens::TokenConfig::jwks`]), so another
    /// service can verify our EdDSA or ES256 access tokens itself (default
    /// off; with HS256 keys the set is empty, as a shared secret is never
    /// published). Cached by clients for 5 minutes: publish a new key as a
    /// verification key at least that long before signing with it.
    pub fn with_jwks_route(mut self, enabled: bool) -> Self {
        self.jwks_route = enabled;
        self
    }

    /// Also serve token introspection (RFC 7662) at `POST <prefix>/introspect`
    /// and token revocation (RFC 7009) at `POST <prefix>/revoke`, for the
    /// services `authenticator` admits (default off). Another service asks
    /// whether an access or refresh token of ours is active (read from the
    /// store, whatever the revocation mode), or ends the session a token
    /// belongs to (as logout does with that token).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sessionward_core::web::{AdapterConfig, ClientSecret, ServiceClients};
    /// let secret = std::env::var("BILLING_CLIENT_SECRET")
    ///     .unwrap_or_else(|_| "a-generated-secret-of-at-least-32-chars".into());
    /// let clients = ServiceClients::new().with_client("billing", ClientSecret::new(&secret).unwrap());
    /// let config = AdapterConfig::new().with_token_service(Arc::new(clients));
    /// assert!(config.token_service().is_some());
    /// ```
    pub fn with_token_service(
        mut self,
        authenticator: Arc<dyn super::ServiceAuthenticator>,
    ) -> Self {
        self.token_service = Some(authenticator);
        self
    }

    /// Serve the operators' routes under `<prefix>/admin/` (default off):
    /// find sessions across users, end what matches a filter (with a dry
    /// run), end one user's sessions, export a user (see
    /// [`super::AdminAuthorizer`] for the routes). `authorizer` decides on
    /// every call; nothing else lets a caller in.
    pub fn with_admin(mut self, authorizer: Arc<dyn super::AdminAuthorizer>) -> Self {
        self.admin = Some(authorizer);
        self
    }

    /// Who may call the admin routes, when served.
    pub fn admin(&self) -> Option<&Arc<dyn super::AdminAuthorizer>> {
        self.admin.as_ref()
    }

    /// Take signals from the OpenID Connect provider users sign in through
    /// (default off): its back-channel logout tokens at
    /// `POST <prefix>/backchannel-logout` (register
    /// `https://<host><prefix>/backchannel-logout` as the client's
    /// `backchannel_logout_uri`), and the Security Event Tokens it pushes
    /// (CAEP session-revoked, credential-change; RFC 8935) at
    /// `POST <prefix>/security-events` (the stream's push endpoint). Sign
    /// users in with [`crate::LoginOptions::via_provider`].
    pub fn with_identity_provider(
        mut self,
        provider: Arc<crate::provider::IdentityProvider>,
    ) -> Self {
        self.identity_provider = Some(provider);
        self
    }

    /// Serve the Shared Signals transmitter's endpoints (default off):
    /// `GET /.well-known/ssf-configuration` (after the issuer's path, if
    /// any), and under the prefix `/ssf/stream` (`GET`, `POST`, `PATCH`,
    /// `PUT`, `DELETE`), `/ssf/status` (`GET`, `POST`), `POST /ssf/verify`,
    /// `POST /ssf/poll/<stream_id>`, and `GET /ssf/jwks` (the SET keys).
    /// See [`crate::ssf`].
    pub fn with_ssf_transmitter(mut self, transmitter: crate::ssf::Transmitter) -> Self {
        self.transmitter = Some(transmitter);
        self
    }

    /// The transmitter whose endpoints are served, when configured.
    pub fn ssf_transmitter(&self) -> Option<&crate::ssf::Transmitter> {
        self.transmitter.as_ref()
    }

    /// The provider whose signals are taken, when configured.
    pub fn identity_provider(&self) -> Option<&Arc<crate::provider::IdentityProvider>> {
        self.identity_provider.as_ref()
    }

    /// Who may call the introspection and revocation routes, when served.
    pub fn token_service(&self) -> Option<&Arc<dyn super::ServiceAuthenticator>> {
        self.token_service.as_ref()
    }

    /// Ask browsers for User-Agent Client Hints (default on): every
    /// response through the layer carries `Accept-CH:`
    /// [`crate::enrich::ACCEPT_CH`], so Chromium browsers send the Windows
    /// release and phone model the frozen User-Agent no longer tells, and
    /// session lists name devices precisely.
    pub fn with_client_hints(mut self, enabled: bool) -> Self {
        self.client_hints = enabled;
        self
    }

    /// The origin clients address this app at (`https://api.example.com`),
    /// as DPoP proofs name it in `htu`: a proof's URI must be this origin
    /// plus the request's path. Without it DPoP proofs are not read, so no
    /// session is bound and a bound token is refused. It is configured, not
    /// taken from `Host`, so a proof made for another server cannot pass
    /// here. A trailing `/` is ignored.
    ///
    /// ```
    /// use sessionward_core::web::AdapterConfig;
    /// let config = AdapterConfig::new().with_public_origin("https://api.example.com/");
    /// assert_eq!(config.public_origin(), Some("https://api.example.com"));
    /// ```
    pub fn with_public_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        self.public_origin = Some(origin.trim_end_matches('/').to_owned());
        self
    }

    /// The origin DPoP proofs are checked against, if configured.
    pub fn public_origin(&self) -> Option<&str> {
        self.public_origin.as_deref()
    }

    /// The `Accept-CH` value every response carries, if any.
    pub fn accept_ch(&self) -> Option<&'static str> {
        self.client_hints.then_some(crate::enrich::ACCEPT_CH)
    }

    /// Whether `GET <prefix>/openapi.json` is served.
    pub fn openapi_route(&self) -> bool {
        self.openapi_route
    }

    /// Whether `GET <prefix>/jwks` is served.
    pub fn jwks_route(&self) -> bool {
        self.jwks_route
    }

    /// The token transport.
    pub fn transport(&self) -> TokenTransport {
        self.transport
    }

    /// The `SameSite` attribute.
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// The route prefix.
    pub fn route_prefix(&self) -> &str {
        &self.prefix
    }

    /// The CSRF protection.
    pub fn csrf(&self) -> &CsrfProtection {
        &self.csrf
    }

    /// The recent-authentication window for ending sessions, if any.
    pub fn recent_auth(&self) -> Option<Duration> {
        self.recent_auth
    }

    /// Whether the device-id cookie is used.
    pub fn device_cookie(&self) -> bool {
        self.device_cookie
    }

    /// The credential size limit.
    pub fn max_credential_len(&self) -> usize {
        self.max_credential_len
    }

    /// The client-IP resolver.
    pub fn client_ip_resolver(&self) -> &Arc<dyn ClientIpResolver> {
        &self.resolver
    }

    /// `Path` of the refresh cookie: the route prefix (`/` when it is
    /// empty), so the refresh and logout routes both receive it while
    /// the app's other routes never do.
    pub fn refresh_cookie_path(&self) -> String {
        if self.prefix.is_empty() {
            "/".to_owned()
        } else {
            self.prefix.clone()
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.prefix;
        let path_char = |b: u8| b.is_ascii_alphanumeric() || b"/-._~%".contains(&b);
        if !p.is_empty() && (!p.starts_with('/') || p.ends_with('/') || !p.bytes().all(path_char)) {
            return Err(ConfigError::BadPrefix);
        }
        let origin_ok = |o: &str| {
            let rest = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            rest.is_some_and(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
            })
        };
        if let Some(origins) = self.csrf.origins() {
            if origins.is_empty() {
                return Err(ConfigError::NoOrigins);
            }
            if let Some(bad) = origins.iter().find(|o| !origin_ok(o)) {
                return Err(ConfigError::BadOrigin(bad.clone()));
            }
        }
        if let Some(o) = &self.public_origin
            && !origin_ok(o)
        {
            return Err(ConfigError::BadOrigin(o.clone()));
        }
        if self.recent_auth.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::ZeroReauthWindow);
        }
        Ok(())
    }
}

/// Trusted-proxy-aware client IP: forwarding headers count only when the
/// TCP peer is one of the configured proxies (see [`crate::enrich::client_ip()`]).
///
/// ```
/// use std::sync::Arc;
/// use sessionward_core::enrich::TrustedProxies;
/// use sessionward_core::web::{AdapterConfig, ClientIpResolver};
///
/// let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
/// let peer = "10.1.2.3".parse().ok();
/// assert_eq!(proxies.client_ip(peer, None, Some("203.0.113.9")), "203.0.113.9".parse().ok());
/// assert_eq!(proxies.client_ip("198.51.100.7".parse().ok(), None, Some("203.0.113.9")), "198.51.100.7".parse().ok());
/// let config = AdapterConfig::new().with_client_ip_resolver(Arc::new(proxies));
/// # let _ = config;
/// ```
impl ClientIpResolver for crate::enrich::TrustedProxies {
    fn client_ip(
        &self,
        peer: Option<IpAddr>,
        forwarded: Option<&str>,
        x_forwarded_for: Option<&str>,
    ) -> Option<IpAddr> {
        peer.map(|p| crate::enrich::client_ip(p, forwarded, x_forwarded_for, self))
    }
}

#[cfg(test)]
mod tests {
    use super::AdapterConfig;

    #[test]
    fn the_default_config_is_valid() {
        // `SessionApi::with_defaults` skips validation on this basis.
        assert_eq!(AdapterConfig::default().validate(), Ok(()));
    }
}
