//! The Shared Signals transmitter's routes, served when
//! [`super::AdapterConfig::with_ssf_transmitter`] names a transmitter. Every
//! route but the metadata needs a receiver's `Authorization` header; no
//! browser is involved, so no CSRF token is needed.

use serde_json::json;

use crate::ssf::{SsfError, Transmitter};

use super::HeaderSource;
use super::api::SessionApi;
use super::response::WebResponse;
use super::routes::{Route, RouteMatch, RouteRequest};

/// Under the prefix: stream configuration.
pub(super) const STREAM_PATH: &str = "/ssf/stream";
/// Under the prefix: stream status.
pub(super) const STATUS_PATH: &str = "/ssf/status";
/// Under the prefix: verification requests.
pub(super) const VERIFY_PATH: &str = "/ssf/verify";
/// Under the prefix: the public keys that verify our SETs.
pub(super) const SSF_JWKS_PATH: &str = "/ssf/jwks";
/// Under the prefix, then `/<stream_id>`: RFC 8936 polls.
pub(super) const POLL_PATH: &str = "/ssf/poll/";

/// One of the transmitter's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SsfRoute {
    /// `GET /.well-known/ssf-configuration`.
    Metadata,
    /// `GET <prefix>/ssf/jwks`: the keys that verify the SETs.
    Jwks,
    /// `GET <prefix>/ssf/stream[?stream_id=]`.
    ReadStreams,
    /// `POST <prefix>/ssf/stream`.
    CreateStream,
    /// `PATCH <prefix>/ssf/stream`.
    UpdateStream,
    /// `PUT <prefix>/ssf/stream`.
    ReplaceStream,
    /// `DELETE <prefix>/ssf/stream?stream_id=`.
    DeleteStream,
    /// `GET <prefix>/ssf/status?stream_id=`.
    ReadStatus,
    /// `POST <prefix>/ssf/status`.
    UpdateStatus,
    /// `POST <prefix>/ssf/verify`.
    Verify,
    /// `POST <prefix>/ssf/poll/<stream_id>`.
    Poll(String),
}

impl SsfRoute {
    /// Whether serving it reads the body.
    pub(super) fn reads_body(&self) -> bool {
        !matches!(
            self,
            SsfRoute::Metadata
                | SsfRoute::Jwks
                | SsfRoute::ReadStreams
                | SsfRoute::DeleteStream
                | SsfRoute::ReadStatus
        )
    }
}

/// The transmitter route `method` + `path` names (the metadata path is
/// outside the prefix; `rest` is the path after the prefix, if under it).
pub(super) fn ssf_route(
    transmitter: &Transmitter,
    method: &str,
    path: &str,
    rest: Option<&str>,
) -> Option<RouteMatch> {
    let route = |r: SsfRoute| Some(RouteMatch::Route(Route::Ssf(r)));
    let is_get = method == "GET" || method == "HEAD";
    if path == transmitter.config().well_known_path() {
        return if is_get {
            route(SsfRoute::Metadata)
        } else {
            Some(RouteMatch::MethodNotAllowed("GET, HEAD"))
        };
    }
    match (rest?, method) {
        (SSF_JWKS_PATH, _) if is_get => route(SsfRoute::Jwks),
        (SSF_JWKS_PATH, _) => Some(RouteMatch::MethodNotAllowed("GET, HEAD")),
        (STREAM_PATH, _) if is_get => route(SsfRoute::ReadStreams),
        (STREAM_PATH, "POST") => route(SsfRoute::CreateStream),
        (STREAM_PATH, "PATCH") => route(SsfRoute::UpdateStream),
        (STREAM_PATH, "PUT") => route(SsfRoute::ReplaceStream),
        (STREAM_PATH, "DELETE") => route(SsfRoute::DeleteStream),
        (STREAM_PATH, _) => Some(RouteMatch::MethodNotAllowed(
            "GET, HEAD, POST, PATCH, PUT, DELETE",
        )),
        (STATUS_PATH, _) if is_get => route(SsfRoute::ReadStatus),
        (STATUS_PATH, "POST") => route(SsfRoute::UpdateStatus),
        (STATUS_PATH, _) => Some(RouteMatch::MethodNotAllowed("GET, HEAD, POST")),
        (VERIFY_PATH, "POST") => route(SsfRoute::Verify),
        (VERIFY_PATH, _) => Some(RouteMatch::MethodNotAllowed("POST")),
        (other, _) => {
            let id = other.strip_prefix(POLL_PATH)?;
            if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            if method == "POST" {
                route(SsfRoute::Poll(id.to_owned()))
            } else {
                Some(RouteMatch::MethodNotAllowed("POST"))
            }
        }
    }
}

/// An SSF error answer: `{"error", "error_description"}` with its status.
fn ssf_error(error: &SsfError) -> WebResponse {
    let (status, code) = match error {
        SsfError::InvalidRequest(_) => (400, "invalid_request"),
        SsfError::NotFound => (404, "not_found"),
        SsfError::Conflict(_) => (409, "conflict"),
        SsfError::TooManyRequests => (429, "too_many_requests"),
        SsfError::Store(_) => (503, "temporarily_unavailable"),
        _ => (500, "server_error"),
    };
    let description = match error {
        SsfError::Store(_) => "the transmitter's store did not answer".to_owned(),
        other => other.to_string(),
    };
    WebResponse::json(
        status,
        json!({ "error": code, "error_description": description }).to_string(),
    )
}

/// The one `stream_id` of a query string.
fn stream_id_param(query: Option<&str>) -> Option<String> {
    super::token_service::form_param(query.unwrap_or("").as_bytes(), "stream_id")
}

impl SessionApi {
    /// Serves one transmitter route.
    pub(super) async fn ssf_route<H: HeaderSource>(
        &self,
        route: &SsfRoute,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let Some(transmitter) = self.config().ssf_transmitter() else {
            return WebResponse::empty(404);
        };
        let prefix = self.config().route_prefix();
        match route {
            SsfRoute::Metadata => {
                return WebResponse::json(200, transmitter.metadata(prefix).to_string());
            }
            SsfRoute::Jwks => return WebResponse::json(200, transmitter.jwks().to_string()),
            _ => {}
        }
        let authorization = req
            .headers
            .header("authorization")
            .and_then(|v| std::str::from_utf8(v).ok());
        let Some(receiver) = transmitter.authorize(authorization).await else {
            tracing::debug!(target: "sessionward::ssf", "an SSF request without valid receiver credentials");
            return WebResponse::json(
                401,
                json!({ "error": "invalid_token", "error_description": "receiver credentials required" })
                    .to_string(),
            )
            .with_header("www-authenticate", "Bearer");
        };
        let stream_id = || {
            stream_id_param(req.query).ok_or(SsfError::InvalidRequest("one stream_id is required"))
        };
        let answer = match route {
            SsfRoute::ReadStreams => match stream_id_param(req.query) {
                id if req.query.is_some_and(|q| !q.is_empty()) && id.is_none() => {
                    Err(SsfError::InvalidRequest("one stream_id is expected"))
                }
                id => transmitter
                    .read_streams(&receiver, id.as_deref(), prefix)
                    .await
                    .map(|v| WebResponse::json(200, v.to_string())),
            },
            SsfRoute::CreateStream => transmitter
                .create_stream(&receiver, req.body, prefix)
                .await
                .map(|v| WebResponse::json(201, v.to_string())),
            SsfRoute::UpdateStream | SsfRoute::ReplaceStream => transmitter
                .update_stream(
                    &receiver,
                    req.body,
                    *route == SsfRoute::ReplaceStream,
                    prefix,
                )
                .await
                .map(|v| WebResponse::json(200, v.to_string())),
            SsfRoute::DeleteStream => match stream_id() {
                Ok(id) => transmitter
                    .delete_stream(&receiver, &id)
                    .await
                    .map(|()| WebResponse::empty(204)),
                Err(e) => Err(e),
            },
            SsfRoute::ReadStatus => match stream_id() {
                Ok(id) => transmitter
                    .stream_status(&receiver, &id)
                    .await
                    .map(|v| WebResponse::json(200, v.to_string())),
                Err(e) => Err(e),
            },
            SsfRoute::UpdateStatus => transmitter
                .set_stream_status(&receiver, req.body)
                .await
                .map(|v| WebResponse::json(200, v.to_string())),
            SsfRoute::Verify => transmitter
                .request_verification(&receiver, req.body)
                .await
                .map(|()| WebResponse::empty(204)),
            SsfRoute::Poll(id) => transmitter
                .poll(&receiver, id, req.body)
                .await
                .map(|v| WebResponse::json(200, v.to_string())),
            SsfRoute::Metadata | SsfRoute::Jwks => return WebResponse::empty(404),
        };
        answer.unwrap_or_else(|e| {
            tracing::debug!(target: "sessionward::ssf", receiver = %receiver.id, error = %e, "SSF request refused");
            ssf_error(&e)
        })
    }
}
