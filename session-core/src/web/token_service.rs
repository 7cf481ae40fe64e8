//! Token introspection (RFC 7662) and revocation (RFC 7009) for sibling
//! services: `POST <prefix>/introspect` and `POST <prefix>/revoke`, served
//! only when [`super::AdapterConfig::with_token_service`] names who may
//! call them.
//!
//! Both take `application/x-www-form-urlencoded` bodies with one `token`
//! (an access or refresh token of ours; `token_type_hint` is accepted and
//! not needed, the two kinds never look alike) and need the calling
//! service to authenticate, before anything about the token is read:
//! [`ServiceClients`] checks HTTP Basic client credentials (RFC 6749
//! §2.3.1), or the host supplies its own [`ServiceAuthenticator`].
//! Browsers never call these routes, so neither needs the CSRF token; a
//! cross-site form cannot send an `Authorization` header.

use std::fmt;
use std::net::IpAddr;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::secret::TokenHash;

use super::HeaderSource;
use super::api::SessionApi;
use super::api::text;
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;
use super::routes::{Route, RouteRequest};

/// Where the introspection route is served, under the prefix.
pub(super) const INTROSPECT_PATH: &str = "/introspect";
/// Where the revocation route is served, under the prefix.
pub(super) const REVOKE_PATH: &str = "/revoke";

/// Shortest client secret [`ClientSecret::new`] takes: a service secret is
/// generated, never chosen, so 32 characters cost nothing.
pub const MIN_CLIENT_SECRET_LEN: usize = 32;

/// The calling service, as [`ServiceAuthenticator::authenticate`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct ServiceCall<'a> {
    /// The raw `Authorization` header, when there is exactly one.
    pub authorization: Option<&'a [u8]>,
    /// The TCP peer address, when known.
    pub peer: Option<IpAddr>,
}

/// Decides which services may introspect and revoke tokens. Implemented by
/// [`ServiceClients`]; a host with its own service identity (mTLS behind a
/// proxy, signed service tokens) implements it instead.
#[async_trait]
pub trait ServiceAuthenticator: Send + Sync + 'static {
    /// The calling service's client id, or `None` to refuse the call with
    /// `401 invalid_client`.
    async fn authenticate(&self, call: &ServiceCall<'_>) -> Option<String>;

    /// The `WWW-Authenticate` challenge of a refused call.
    fn challenge(&self) -> &str {
        "Basic realm=\"sessionward\""
    }
}

/// A service's client secret, kept only as its SHA-256 hash (a generated
/// secret of at least [`MIN_CLIENT_SECRET_LEN`] characters needs no slow
/// hash) and compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(TokenHash);

/// Why [`ClientSecret::new`] refused a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a client secret needs at least {MIN_CLIENT_SECRET_LEN} characters (got {0})")]
pub struct WeakClientSecret(pub usize);

impl ClientSecret {
    /// Hashes `secret`.
    ///
    /// # Errors
    /// [`WeakClientSecret`] when it is shorter than [`MIN_CLIENT_SECRET_LEN`].
    pub fn new(secret: &str) -> Result<Self, WeakClientSecret> {
        if secret.chars().count() < MIN_CLIENT_SECRET_LEN {
            return Err(WeakClientSecret(secret.chars().count()));
        }
        Ok(ClientSecret(TokenHash::of(secret.as_bytes())))
    }

    /// A secret already hashed (SHA-256 of the secret), as kept in a
    /// configuration file.
    pub fn from_hash(hash: TokenHash) -> Self {
        ClientSecret(hash)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Services that authenticate with HTTP Basic client credentials
/// (RFC 6749 §2.3.1: the id and secret form-urlencoded, joined by `:`,
/// base64).
///
/// ```
/// use sessionward_core::web::{ClientSecret, ServiceClients};
/// let clients = ServiceClients::new()
///     .with_client("billing", ClientSecret::new("hV3u2-generated-secret-of-32-chars-at-least").unwrap());
/// assert!(ClientSecret::new("short").is_err());
/// # let _ = clients;
/// ```
#[derive(Clone, Default)]
pub struct ServiceClients {
    clients: Vec<(String, ClientSecret)>,
}

impl fmt::Debug for ServiceClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.clients.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("ServiceClients")
            .field("clients", &ids)
            .finish()
    }
}

impl ServiceClients {
    /// No client yet: every call is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets client `id` call the routes with `secret` (replacing an earlier
    /// secret of the same id).
    pub fn with_client(mut self, id: impl Into<String>, secret: ClientSecret) -> Self {
        let id = id.into();
        self.clients.retain(|(known, _)| *known != id);
        self.clients.push((id, secret));
        self
    }

    /// The client id that `authorization` (an `Authorization` header)
    /// proves, if any.
    pub fn verify(&self, authorization: &[u8]) -> Option<&str> {
        let (id, secret) = basic_credentials(authorization)?;
        let presented = ClientSecret(TokenHash::of(secret.as_bytes()));
        // An unknown id still costs a comparison, so timing tells nothing.
        let unknown = ClientSecret(TokenHash::of(b""));
        let (known, expected) = match self.clients.iter().find(|(k, _)| *k == id) {
            Some((k, s)) => (Some(k.as_str()), s),
            None => (None, &unknown),
        };
        let matches = presented == *expected;
        known.filter(|_| matches)
    }
}

#[async_trait]
impl ServiceAuthenticator for ServiceClients {
    async fn authenticate(&self, call: &ServiceCall<'_>) -> Option<String> {
        self.verify(call.authorization?).map(str::to_owned)
    }
}

/// The (id, secret) of a `Basic` `Authorization` header.
fn basic_credentials(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// Decodes one `application/x-www-form-urlencoded` name or value.
pub(super) fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The `token` of a form body (see [`form_param`]).
fn form_token(body: &[u8]) -> Option<String> {
    form_param(body, "token")
}

/// Parameter `wanted` of an `application/x-www-form-urlencoded` body:
/// present once and not empty; no parameter repeated (RFC 6749 §3.1);
/// unknown ones ignored.
pub(super) fn form_param(body: &[u8], wanted: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let mut seen: Vec<String> = Vec::new();
    let mut token = None;
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decode(name)?;
        if seen.contains(&name) {
            return None;
        }
        if name == wanted {
            token = Some(form_decode(value)?);
        }
        seen.push(name);
    }
    token.filter(|t| !t.is_empty())
}

pub(super) fn is_form<H: HeaderSource>(headers: &H) -> bool {
    headers
        .header("content-type")
        .and_then(text)
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The only value of header `name`, if there is exactly one.
fn single<'h, H: HeaderSource>(headers: &'h H, name: &'h str) -> Option<&'h [u8]> {
    let mut all = headers.header_all(name);
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

impl SessionApi {
    /// The authenticated client and the token of a service call, or the
    /// refusal: `401 invalid_client` before the body is read, then
    /// `400 invalid_request` for anything but a form with one `token`.
    async fn service_call<H: HeaderSource>(
        &self,
        req: &RouteRequest<'_, H>,
    ) -> Result<(String, String), WebResponse> {
        let Some(auth) = self.config().token_service() else {
            return Err(self.error_response(&WebError::new(ErrorCode::NotFound)));
        };
        let call = ServiceCall {
            authorization: single(req.headers, "authorization"),
            peer: req.peer,
        };
        let Some(client) = auth.authenticate(&call).await else {
            tracing::warn!(target: "sessionward::web", peer = ?req.peer, "token service call refused: client not authenticated");
            let mut r = self.error_response(&WebError::new(ErrorCode::InvalidClient));
            r.headers
                .push(("www-authenticate", auth.challenge().to_owned()));
            return Err(r);
        };
        match (is_form(req.headers), form_token(req.body)) {
            (true, Some(token)) => Ok((client, token)),
            _ => Err(self.error_response(&WebError::new(ErrorCode::InvalidRequest))),
        }
    }

    /// `POST <prefix>/introspect` (RFC 7662): `200` with
    /// [`crate::Introspection::to_json`], `503` when the store cannot
    /// answer (the caller must then treat the token as inactive).
    /// `POST <prefix>/revoke` (RFC 7009): `200` with no body whether or not
    /// the token named a session (§2.2), `503` when the store cannot answer
    /// (nothing may have been revoked; §2.2.1).
    pub(super) async fn token_service_route<H: HeaderSource>(
        &self,
        route: &Route,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let (client, token) = match self.service_call(req).await {
            Ok(call) => call,
            Err(refusal) => return refusal,
        };
        let manager = self.manager();
        let answer = if *route == Route::RevokeToken {
            manager.revoke_token(&token).await.map(|outcome| {
                tracing::info!(target: "sessionward::web", client, ?outcome, "token revocation requested");
                WebResponse::empty(200)
            })
        } else {
            manager.introspect(&token).await.map(|answer| {
                tracing::debug!(target: "sessionward::web", client, active = answer.is_active(), "token introspected");
                WebResponse::json(200, answer.to_json().to_string())
            })
        };
        answer.unwrap_or_else(|e| self.error_response(&WebError::from(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))).into_bytes()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn basic_credentials_are_checked_exactly() {
        let clients =
            ServiceClients::new().with_client("billing", ClientSecret::new(SECRET).unwrap());
        assert_eq!(clients.verify(&basic("billing", SECRET)), Some("billing"));
        // Form-encoded per RFC 6749 §2.3.1, any scheme case.
        let encoded = format!("basic {}", STANDARD.encode(format!("bill%69ng:{SECRET}")));
        assert_eq!(clients.verify(encoded.as_bytes()), Some("billing"));
        for refused in [
            basic("billing", &format!("{SECRET}x")),
            basic("other", SECRET),
            basic("", SECRET),
            basic("billing", ""),
            format!("Bearer {SECRET}").into_bytes(),
            b"Basic not-base64!".to_vec(),
            format!("Basic {}", STANDARD.encode("no-colon")).into_bytes(),
            format!("Basic {}", STANDARD.encode(format!("billing:{SECRET}%zz"))).into_bytes(),
            vec![0xff, 0xfe],
        ] {
            assert_eq!(
                clients.verify(&refused),
                None,
                "{:?}",
                String::from_utf8_lossy(&refused)
            );
        }
        assert!(
            ServiceClients::new()
                .verify(&basic("billing", SECRET))
                .is_none()
        );
    }

    #[test]
    fn a_replaced_secret_stops_working() {
        let other = "fedcba9876543210fedcba9876543210";
        let clients = ServiceClients::new()
            .with_client("billing", ClientSecret::new(SECRET).unwrap())
            .with_client("billing", ClientSecret::new(other).unwrap());
        assert_eq!(clients.verify(&basic("billing", SECRET)), None);
        assert_eq!(clients.verify(&basic("billing", other)), Some("billing"));
        assert!(!format!("{clients:?}").contains(other));
        assert_eq!(
            format!("{:?}", ClientSecret::new(other).unwrap()),
            "ClientSecret(<redacted>)"
        );
    }

    #[test]
    fn weak_secrets_are_refused() {
        assert_eq!(ClientSecret::new("short"), Err(WeakClientSecret(5)));
        assert!(ClientSecret::new(&"é".repeat(MIN_CLIENT_SECRET_LEN)).is_ok());
    }

    #[test]
    fn the_form_needs_one_token() {
        assert_eq!(form_token(b"token=abc.def"), Some("abc.def".into()));
        assert_eq!(
            form_token(b"token_type_hint=refresh_token&token=a%2Eb+c"),
            Some("a.b c".into())
        );
        assert_eq!(form_token(b"token=a&extra=1&"), Some("a".into()));
        for bad in [
            &b""[..],
            b"token=",
            b"token",
            b"tok=a",
            b"token=a&token=b",
            b"token=a&token_type_hint=x&token_type_hint=y",
            b"token=%zz",
            b"token=%+f",
            b"token=\xff",
        ] {
            assert_eq!(form_token(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
