//! Operators' routes: find active sessions across users, end what matches,
//! end one user's sessions, export a user. Served only when
//! [`super::AdapterConfig::with_admin`] names who may call them, and every
//! call asks that [`AdminAuthorizer`] before it reads or changes a session
//! (a POST body is parsed first, so a malformed one is a `400`).
//!
//! | route | does |
//! |---|---|
//! | `GET <prefix>/admin/sessions?network=…&limit=…&after=…` | a page of [`crate::SessionManager::find_sessions`] |
//! | `POST <prefix>/admin/sessions/revoke` `{"filter": {…}, "dry_run": true}` | [`crate::SessionManager::revoke_matching`] |
//! | `POST <prefix>/admin/users/revoke` `{"user": "…", "reason": "admin"}` | [`crate::SessionManager::revoke_all`]; with `"session": "<id>"`, [`crate::SessionManager::revoke`] of that one (`404` when it is not active) |
//! | `GET <prefix>/admin/users/export?user=…` | [`crate::SessionManager::export_user`] |
//!
//! The list's query parameters are the filter's: `user`, `network` (an
//! address or CIDR block), `asn`, `country`, `device_class`, `app`,
//! `created_after`, `created_before`, `seen_after`, `seen_before` (RFC
//! 3339), `min_risk` (`low`, `medium`, `high`), with `limit` (1-1000) and
//! `after` (the previous page's `next`). An unknown or repeated parameter
//! is refused (`400`), never ignored, and so is an unknown member of the
//! revoke body: a misspelt criterion must not widen what is ended.
//! "Revoke matching" refuses a filter that matches every session (empty,
//! a `/0` network, the lowest risk level alone) and needs `dry_run` stated.
//!
//! A browser operator authenticates with the app's own session (so
//! cookie calls pass the CSRF check like every session route); a service
//! can be let in by its `Authorization` header. Each call is logged with
//! the operator's name and its target (`sessionward::admin`), and each
//! ended session is an `authn_token_revoked` event.
//!
//! A service let in by its `Authorization` header must not use the
//! `Bearer` scheme with bearer transport: that header is read as an access
//! token first (and refused).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::directory::{IpNetwork, PageCursor, SessionFilter, TimeWindow};
use crate::ids::{AppId, UserId};
use crate::manager::{AuthenticatedSession, MatchingMode};
use crate::record::{DeviceClass, RevokeReason};
use crate::risk::RiskLevel;
use crate::time::Timestamp;

use super::HeaderSource;
use super::api::SessionApi;
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;
use super::routes::{Route, RouteRequest};

/// `GET`: find sessions.
pub(super) const ADMIN_SESSIONS_PATH: &str = "/admin/sessions";
/// `POST`: revoke matching.
pub(super) const ADMIN_REVOKE_MATCHING_PATH: &str = "/admin/sessions/revoke";
/// `POST`: end one user's sessions.
pub(super) const ADMIN_REVOKE_USER_PATH: &str = "/admin/users/revoke";
/// `GET`: export a user.
pub(super) const ADMIN_EXPORT_USER_PATH: &str = "/admin/users/export";

/// What an operator asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminAction {
    /// List sessions across users.
    FindSessions,
    /// End (or, in a dry run, list) every session matching a filter.
    RevokeMatching {
        /// Whether nothing is ended.
        dry_run: bool,
    },
    /// End every session of one user.
    RevokeUser,
    /// Read everything stored about one user's sessions.
    ExportUser,
}

/// The call an [`AdminAuthorizer`] decides on.
#[derive(Debug, Clone, Copy)]
pub struct AdminCall<'a> {
    /// What is asked.
    pub action: AdminAction,
    /// The caller's own session in the app, when the request carried a
    /// valid one (and passed the CSRF check).
    pub session: Option<&'a AuthenticatedSession>,
    /// The raw `Authorization` header, when there is exactly one.
    pub authorization: Option<&'a [u8]>,
    /// The TCP peer address, when known.
    pub peer: Option<IpAddr>,
    /// The manager's current time.
    pub now: Timestamp,
}

/// An [`AdminAuthorizer`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminDecision {
    /// Go ahead; the operator's name, for the audit log.
    Allow(String),
    /// Refused: `403 forbidden` (`401 missing_token` when the call carried
    /// no session and no `Authorization` header).
    Deny,
    /// The operator must sign in again first: `401 reauthentication_required`.
    Reauthenticate,
}

/// Decides who may use the admin routes. The host implements it with its
/// own roles; [`AdminUsers`] is a fixed list of operator accounts.
#[async_trait]
pub trait AdminAuthorizer: Send + Sync + 'static {
    /// Whether `call` may proceed.
    async fn authorize(&self, call: &AdminCall<'_>) -> AdminDecision;
}

/// Operators named by user id, who must have signed in fully within
/// `max_auth_age` (ASVS 7.5: re-authenticate before sensitive actions).
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::UserId;
/// use sessionward_core::web::{AdapterConfig, AdminUsers};
/// let operators = AdminUsers::new(Duration::from_secs(15 * 60))
///     .with_user(UserId::new("oncall@example.com").unwrap());
/// let config = AdapterConfig::new().with_admin(std::sync::Arc::new(operators));
/// assert!(config.admin().is_some());
/// ```
#[derive(Debug, Clone)]
pub struct AdminUsers {
    users: HashSet<UserId>,
    max_auth_age: Duration,
}

impl AdminUsers {
    /// No operator yet: every call is refused.
    pub fn new(max_auth_age: Duration) -> Self {
        AdminUsers {
            users: HashSet::new(),
            max_auth_age,
        }
    }

    /// Lets `user` operate.
    pub fn with_user(mut self, user: UserId) -> Self {
        self.users.insert(user);
        self
    }
}

#[async_trait]
impl AdminAuthorizer for AdminUsers {
    async fn authorize(&self, call: &AdminCall<'_>) -> AdminDecision {
        match call.session {
            Some(s) if self.users.contains(&s.user) => {
                if s.require_recent_auth(call.now, self.max_auth_age).is_ok() {
                    AdminDecision::Allow(s.user.as_str().to_owned())
                } else {
                    AdminDecision::Reauthenticate
                }
            }
            _ => AdminDecision::Deny,
        }
    }
}

/// Reasons an operator may give.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OperatorReason {
    #[default]
    Admin,
    Risk,
    PasswordChange,
    AccountDisabled,
    NotMe,
}

impl From<OperatorReason> for RevokeReason {
    fn from(r: OperatorReason) -> Self {
        match r {
            OperatorReason::Admin => RevokeReason::Admin,
            OperatorReason::Risk => RevokeReason::Risk,
            OperatorReason::PasswordChange => RevokeReason::PasswordChange,
            OperatorReason::AccountDisabled => RevokeReason::AccountDisabled,
            OperatorReason::NotMe => RevokeReason::NotMe,
        }
    }
}

/// The body of `POST <prefix>/admin/sessions/revoke`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeMatchingBody {
    filter: SessionFilter,
    dry_run: bool,
    #[serde(default)]
    reason: OperatorReason,
}

/// The body of `POST <prefix>/admin/users/revoke`: every session of the
/// user, or with `session` that one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeUserBody {
    user: UserId,
    #[serde(default)]
    session: Option<crate::ids::SessionId>,
    #[serde(default)]
    reason: OperatorReason,
}

/// The parameters of a query string: each once, percent-decoded.
fn query_params(query: Option<&str>) -> Option<Vec<(String, String)>> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = super::token_service::form_decode(name)?;
        if params.iter().any(|(n, _)| *n == name) {
            return None;
        }
        params.push((name, super::token_service::form_decode(value)?));
    }
    Some(params)
}

/// What the list route's parameters ask for.
struct FindParams {
    filter: SessionFilter,
    limit: usize,
    after: Option<PageCursor>,
}

fn find_params(params: Vec<(String, String)>) -> Result<FindParams, &'static str> {
    let mut out = FindParams {
        filter: SessionFilter::default(),
        limit: crate::directory::DEFAULT_PAGE,
        after: None,
    };
    let time = |v: &str| Timestamp::parse_rfc3339(v).ok_or("a time is RFC 3339");
    let (mut created, mut seen) = (TimeWindow::default(), TimeWindow::default());
    for (name, value) in params {
        let f = std::mem::take(&mut out.filter);
        out.filter = match name.as_str() {
            "user" => f.of_user(UserId::new(value).map_err(|_| "invalid user")?),
            "network" => f.from_network(
                value
                    .parse::<IpNetwork>()
                    .map_err(|_| "network is an address or CIDR block")?,
            ),
            "asn" => f.from_asn(value.parse().map_err(|_| "asn is a number")?),
            "country" if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) => {
                f.in_country(&value)
            }
            "device_class" => f.on_device_class(match value.as_str() {
                "desktop" => DeviceClass::Desktop,
                "mobile" => DeviceClass::Mobile,
                "tablet" => DeviceClass::Tablet,
                "bot" => DeviceClass::Bot,
                "other" => DeviceClass::Other,
                _ => return Err("unknown device_class"),
            }),
            "app" => f.in_app(AppId::new(value).map_err(|_| "invalid app")?),
            "min_risk" => f.at_risk(match value.as_str() {
                "low" => RiskLevel::Low,
                "medium" => RiskLevel::Medium,
                "high" => RiskLevel::High,
                _ => return Err("min_risk is low, medium or high"),
            }),
            "created_after" => {
                created.from = Some(time(&value)?);
                f
            }
            "created_before" => {
                created.until = Some(time(&value)?);
                f
            }
            "seen_after" => {
                seen.from = Some(time(&value)?);
                f
            }
            "seen_before" => {
                seen.until = Some(time(&value)?);
                f
            }
            "limit" => {
                out.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=crate::directory::MAX_PAGE).contains(n))
                    .ok_or("limit is 1 to 1000")?;
                f
            }
            "after" => {
                out.after = Some(PageCursor::parse(&value).map_err(|_| "malformed cursor")?);
                f
            }
            _ => return Err("unknown or malformed parameter"),
        };
    }
    out.filter = std::mem::take(&mut out.filter)
        .created_in(created)
        .last_seen_in(seen);
    Ok(out)
}

/// The only value of header `name`, if there is exactly one.
fn single<'h, H: HeaderSource>(headers: &'h H, name: &'h str) -> Option<&'h [u8]> {
    let mut all = headers.header_all(name);
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

impl SessionApi {
    /// Asks the authorizer; the operator's name, or the refusal.
    async fn operator<H: HeaderSource>(
        &self,
        action: AdminAction,
        req: &RouteRequest<'_, H>,
    ) -> Result<String, WebResponse> {
        let Some(authorizer) = self.config().admin() else {
            return Err(self.error_response(&WebError::new(ErrorCode::NotFound)));
        };
        // A refused credential (forged, ended, failed CSRF) is answered as such.
        if let super::api::AuthOutcome::Rejected(e) = req.outcome {
            return Err(self.error_response(e));
        }
        let call = AdminCall {
            action,
            session: req.outcome.session().map(|s| &**s),
            authorization: single(req.headers, "authorization"),
            peer: req.peer,
            now: self.manager().now(),
        };
        match authorizer.authorize(&call).await {
            AdminDecision::Allow(operator) => Ok(operator),
            AdminDecision::Reauthenticate => {
                Err(self.error_response(&WebError::new(ErrorCode::ReauthenticationRequired)))
            }
            AdminDecision::Deny => {
                tracing::warn!(target: "sessionward::admin", ?action, peer = ?req.peer, "admin call refused");
                let code = if call.session.is_none() && call.authorization.is_none() {
                    ErrorCode::MissingToken
                } else {
                    ErrorCode::Forbidden
                };
                Err(self.error_response(&WebError::new(code)))
            }
        }
    }

    /// Serves one admin route.
    pub(super) async fn admin_route<H: HeaderSource>(
        &self,
        route: &Route,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let bad = |why: &'static str| {
            tracing::debug!(target: "sessionward::admin", why, "admin request refused");
            self.error_response(&WebError::new(ErrorCode::InvalidRequest))
        };
        let manager = self.manager();
        let answer = match route {
            Route::AdminSessions => {
                let operator = match self.operator(AdminAction::FindSessions, req).await {
                    Ok(o) => o,
                    Err(r) => return r,
                };
                let params = match query_params(req.query).ok_or("repeated parameter") {
                    Ok(p) => find_params(p),
                    Err(why) => Err(why),
                };
                let params = match params {
                    Ok(p) => p,
                    Err(why) => return bad(why),
                };
                manager
                    .find_sessions(&params.filter, params.after, params.limit)
                    .await
                    .map(|page| {
                        tracing::info!(target: "sessionward::admin", operator, filter = ?params.filter, found = page.sessions.len(), "sessions listed");
                        WebResponse::json(200, json_text(&page))
                    })
            }
            Route::AdminRevokeMatching => {
                let Ok(body) = serde_json::from_slice::<RevokeMatchingBody>(req.body) else {
                    return bad("malformed body");
                };
                let action = AdminAction::RevokeMatching {
                    dry_run: body.dry_run,
                };
                let operator = match self.operator(action, req).await {
                    Ok(o) => o,
                    Err(r) => return r,
                };
                if body.filter.selects_everything() {
                    return bad("the filter matches every session");
                }
                let mode = if body.dry_run {
                    MatchingMode::DryRun
                } else {
                    MatchingMode::Revoke
                };
                manager
                    .revoke_matching(&body.filter, body.reason.into(), mode)
                    .await
                    .map(|report| {
                        tracing::info!(target: "sessionward::admin", operator, filter = ?body.filter, dry_run = report.dry_run, sessions = report.sessions.len(), users = report.users, "revoke matching");
                        WebResponse::json(200, json_text(&report))
                    })
            }
            Route::AdminRevokeUser => {
                let Ok(body) = serde_json::from_slice::<RevokeUserBody>(req.body) else {
                    return bad("malformed body");
                };
                let operator = match self.operator(AdminAction::RevokeUser, req).await {
                    Ok(o) => o,
                    Err(r) => return r,
                };
                let ended = match &body.session {
                    // Not found (ended, or another user's) is a 404.
                    Some(id) => manager
                        .revoke(&body.user, id, body.reason.into())
                        .await
                        .map(|()| 1),
                    None => manager.revoke_all(&body.user, body.reason.into()).await,
                };
                ended.map(|n| {
                    tracing::info!(target: "sessionward::admin", operator, user = body.user.as_str(), one_session = body.session.is_some(), revoked = n, "user's sessions revoked");
                    WebResponse::json(200, serde_json::json!({ "revoked": n }).to_string())
                })
            }
            Route::AdminExportUser => {
                let operator = match self.operator(AdminAction::ExportUser, req).await {
                    Ok(o) => o,
                    Err(r) => return r,
                };
                let user = query_params(req.query).and_then(|p| match p.as_slice() {
                    [(name, value)] if name == "user" => UserId::new(value.as_str()).ok(),
                    _ => None,
                });
                let Some(user) = user else {
                    return bad("export takes one user");
                };
                manager.export_user(&user).await.map(|export| {
                    tracing::info!(target: "sessionward::admin", operator, user = user.as_str(), sessions = export.sessions.len(), "user exported");
                    WebResponse::json(200, json_text(&export))
                })
            }
            _ => return self.error_response(&WebError::new(ErrorCode::NotFound)),
        };
        answer.unwrap_or_else(|e| self.error_response(&WebError::from(&e)))
    }
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    // Our own types serialise infallibly (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Result<FindParams, &'static str> {
        find_params(query_params(Some(q)).ok_or("repeated")?)
    }

    #[test]
    fn list_parameters_are_read_strictly() {
        let p = params("network=203.0.113.0%2F24&country=de&device_class=mobile&limit=20&min_risk=high&created_after=2026-12-01T00:00:00Z").unwrap();
        assert_eq!(p.limit, 20);
        assert_eq!(p.filter.country.as_deref(), Some("DE"));
        assert_eq!(
            p.filter.network.map(|n| n.to_string()).as_deref(),
            Some("203.0.113.0/24")
        );
        assert_eq!(p.filter.device_class, Some(DeviceClass::Mobile));
        assert!(p.filter.created.from.is_some() && p.filter.created.until.is_none());
        for bad in [
            "netwrok=203.0.113.0/24",
            "network=10.0.0.0/33",
            "limit=0",
            "limit=1001",
            "country=Germany",
            "device_class=fridge",
            "min_risk=extreme",
            "after=xyz",
            "created_after=yesterday",
            "asn=-1",
            "user=",
        ] {
            assert!(params(bad).is_err(), "{bad} accepted");
        }
        assert!(
            query_params(Some("asn=1&asn=2")).is_none(),
            "repeats refused"
        );
        assert_eq!(params("").unwrap().filter, SessionFilter::default());
    }

    #[test]
    fn revoke_bodies_refuse_unknown_members() {
        let ok: RevokeMatchingBody =
            serde_json::from_str(r#"{"filter":{"network":"192.0.2.0/24"},"dry_run":true}"#)
                .unwrap();
        assert!(ok.dry_run && ok.filter.network.is_some());
        for bad in [
            r#"{"filter":{"netwrok":"192.0.2.0/24"},"dry_run":false}"#,
            r#"{"filter":{"network":"192.0.2.0/24"}}"#,
            r#"{"filter":{"network":"192.0.2.0/24"},"dry_run":false,"extra":1}"#,
            r#"{"filter":{"network":"192.0.2.0/24"},"dry_run":false,"reason":"logout"}"#,
            r#"{"filter":{"created":{"form":"2026-12-01T00:00:00Z"}},"dry_run":false}"#,
        ] {
            assert!(
                serde_json::from_str::<RevokeMatchingBody>(bad).is_err(),
                "{bad} accepted"
            );
        }
    }
}
