//! The ready-made session routes, matched and served once for every
//! adapter: the adapters' layer/middleware hands over any request under the
//! configured prefix that [`SessionApi::route`] recognises, so an app never
//! mounts them itself or repeats the prefix.

use std::net::IpAddr;

use super::admin::{
    ADMIN_EXPORT_USER_PATH, ADMIN_REVOKE_MATCHING_PATH, ADMIN_REVOKE_USER_PATH, ADMIN_SESSIONS_PATH,
};
use super::api::{AuthOutcome, SessionApi};
use super::backchannel::{BACKCHANNEL_LOGOUT_PATH, SECURITY_EVENTS_PATH};
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;
use super::token_service::{INTROSPECT_PATH, REVOKE_PATH};
use super::{HeaderSource, MAX_BODY_LEN, TokenTransport};

/// One of the session routes (paths relative to the route prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// `POST /refresh`.
    Refresh,
    /// `POST /logout`.
    Logout,
    /// `GET /sessions`.
    List,
    /// `DELETE /sessions/{id}`.
    EndOne(String),
    /// `POST /sessions/revoke-others`.
    EndOthers,
    /// `POST /sessions/revoke-all`.
    EndAll,
    /// `GET /sessions/not-me?token=…` (the confirmation page; feature
    /// `risk`).
    #[cfg(feature = "risk")]
    NotMePage,
    /// `POST /sessions/not-me?token=…` (feature `risk`).
    #[cfg(feature = "risk")]
    NotMe,
    /// `POST /dbsc/register`: a browser registers its DBSC device key
    /// (cookie transport).
    DbscRegister,
    /// `POST /dbsc/refresh`: a browser renews a device-bound session's
    /// cookies (cookie transport).
    DbscRefresh,
    /// `POST /login/continue`: finishes a login refused at a session limit
    /// by ending the sessions the user chose (the `409`'s ticket).
    ContinueLogin,
    /// `GET /openapi.json`, when [`super::AdapterConfig::with_openapi_route`]
    /// is on.
    OpenApi,
    /// `GET /jwks`: the public token keys, when
    /// [`super::AdapterConfig::with_jwks_route`] is on.
    Jwks,
    /// `POST /introspect` (RFC 7662), when
    /// [`super::AdapterConfig::with_token_service`] is set.
    Introspect,
    /// `POST /revoke` (RFC 7009), when
    /// [`super::AdapterConfig::with_token_service`] is set.
    RevokeToken,
    /// `POST /backchannel-logout` (OpenID Connect Back-Channel Logout), when
    /// [`super::AdapterConfig::with_identity_provider`] is set.
    BackChannelLogout,
    /// `POST /security-events` (RFC 8935 push), when
    /// [`super::AdapterConfig::with_identity_provider`] is set.
    SecurityEvents,
    /// `GET /admin/sessions`, when [`super::AdapterConfig::with_admin`] is set.
    AdminSessions,
    /// `POST /admin/sessions/revoke`, when [`super::AdapterConfig::with_admin`] is set.
    AdminRevokeMatching,
    /// `POST /admin/users/revoke`, when [`super::AdapterConfig::with_admin`] is set.
    AdminRevokeUser,
    /// `GET /admin/users/export`, when [`super::AdapterConfig::with_admin`] is set.
    AdminExportUser,
    /// A Shared Signals transmitter route, when
    /// [`super::AdapterConfig::with_ssf_transmitter`] is set.
    Ssf(super::ssf::SsfRoute),
}

/// Where the key set is served, under the prefix.
pub(super) const JWKS_PATH: &str = "/jwks";

/// How long clients may keep the key set.
const JWKS_CACHE_CONTROL: &str = "public, max-age=300";

impl Route {
    /// Whether serving it needs the request body (at most
    /// [`MAX_BODY_LEN`] bytes).
    pub fn reads_body(&self) -> bool {
        if let Route::Ssf(route) = self {
            return route.reads_body();
        }
        matches!(
            self,
            Route::Refresh
                | Route::Logout
                | Route::ContinueLogin
                | Route::Introspect
                | Route::RevokeToken
                | Route::BackChannelLogout
                | Route::SecurityEvents
                | Route::AdminRevokeMatching
                | Route::AdminRevokeUser
        )
    }
}

/// What [`SessionApi::route`] found for a path under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    /// A session route, to [`SessionApi::serve`].
    Route(Route),
    /// A session path with a method it does not take: answer
    /// [`SessionApi::method_not_allowed`].
    MethodNotAllowed(&'static str),
}

/// The parts of a request a session route reads.
#[derive(Debug)]
pub struct RouteRequest<'a, H> {
    /// Upper-case method.
    pub method: &'a str,
    /// The TCP peer address, when known (the client-IP resolver reads it).
    pub peer: Option<IpAddr>,
    /// The request headers.
    pub headers: &'a H,
    /// The request path (DPoP proofs name the URI; `None` leaves them
    /// unread).
    pub path: Option<&'a str>,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The body, when [`Route::reads_body`] (empty otherwise).
    pub body: &'a [u8],
    /// What authenticating the request found.
    pub outcome: &'a AuthOutcome,
}

fn method_is(method: &str, allowed: &str) -> bool {
    method == allowed || (allowed == "GET" && method == "HEAD")
}

impl SessionApi {
    /// The session route `method` + `path` names, `None` when the path is
    /// not one of them (the app serves it).
    pub fn route(&self, method: &str, path: &str) -> Option<RouteMatch> {
        let prefix = self.config().route_prefix();
        if let Some(transmitter) = self.config().ssf_transmitter() {
            let rest = path.strip_prefix(prefix);
            if let Some(found) = super::ssf::ssf_route(transmitter, method, path, rest) {
                return Some(found);
            }
        }
        let rest = path.strip_prefix(prefix)?;
        let admin = self.config().admin().is_some();
        let pick = |allow: &'static str, route: Route| {
            Some(if method_is(method, allow) {
                RouteMatch::Route(route)
            } else {
                RouteMatch::MethodNotAllowed(allow)
            })
        };
        match rest {
            "/refresh" => pick("POST", Route::Refresh),
            "/logout" => pick("POST", Route::Logout),
            "/sessions" => pick("GET", Route::List),
            "/sessions/revoke-others" => pick("POST", Route::EndOthers),
            "/sessions/revoke-all" => pick("POST", Route::EndAll),
            super::continuation::CONTINUE_PATH => pick("POST", Route::ContinueLogin),
            super::dbsc::REGISTER_PATH if self.config().transport() == TokenTransport::Cookies => {
                pick("POST", Route::DbscRegister)
            }
            super::dbsc::REFRESH_PATH if self.config().transport() == TokenTransport::Cookies => {
                pick("POST", Route::DbscRefresh)
            }
            super::openapi::OPENAPI_PATH if self.config().openapi_route() => {
                pick("GET", Route::OpenApi)
            }
            JWKS_PATH if self.config().jwks_route() => pick("GET", Route::Jwks),
            INTROSPECT_PATH if self.config().token_service().is_some() => {
                pick("POST", Route::Introspect)
            }
            REVOKE_PATH if self.config().token_service().is_some() => {
                pick("POST", Route::RevokeToken)
            }
            BACKCHANNEL_LOGOUT_PATH if self.config().identity_provider().is_some() => {
                pick("POST", Route::BackChannelLogout)
            }
            SECURITY_EVENTS_PATH if self.config().identity_provider().is_some() => {
                pick("POST", Route::SecurityEvents)
            }
            ADMIN_SESSIONS_PATH if admin => pick("GET", Route::AdminSessions),
            ADMIN_REVOKE_MATCHING_PATH if admin => pick("POST", Route::AdminRevokeMatching),
            ADMIN_REVOKE_USER_PATH if admin => pick("POST", Route::AdminRevokeUser),
            ADMIN_EXPORT_USER_PATH if admin => pick("GET", Route::AdminExportUser),
            #[cfg(feature = "risk")]
            "/sessions/not-me" => match method {
                "POST" => Some(RouteMatch::Route(Route::NotMe)),
                m if method_is(m, "GET") => Some(RouteMatch::Route(Route::NotMePage)),
                _ => Some(RouteMatch::MethodNotAllowed("GET, HEAD, POST")),
            },
            _ => {
                let id = rest.strip_prefix("/sessions/")?;
                if id.is_empty() || id.contains('/') {
                    return None;
                }
                pick("DELETE", Route::EndOne(id.to_owned()))
            }
        }
    }

    /// `405` for a session path called with the wrong method.
    pub fn method_not_allowed(&self, allow: &'static str) -> WebResponse {
        let mut r = self.error_response(&WebError::new(ErrorCode::MethodNotAllowed));
        r.headers.push(("allow", allow.to_owned()));
        r
    }

    /// Serves one session route.
    pub async fn serve<H: HeaderSource>(
        &self,
        route: &Route,
        req: RouteRequest<'_, H>,
    ) -> WebResponse {
        if req.body.len() > MAX_BODY_LEN {
            return self.error_response(&WebError::new(ErrorCode::InvalidRequest));
        }
        let session = || req.outcome.required();
        match route {
            Route::Refresh => self.refresh_routed(&req).await,
            Route::Logout => self.logout(req.method, req.headers, req.body).await,
            #[cfg(feature = "risk")]
            Route::NotMePage => self.not_me_page(req.query),
            #[cfg(feature = "risk")]
            Route::NotMe => self.not_me(req.query).await,
            Route::DbscRegister => self.dbsc_register(&req).await,
            Route::DbscRefresh => self.dbsc_refresh(&req).await,
            Route::ContinueLogin => self.continue_login_routed(&req).await,
            Route::OpenApi => WebResponse::json(200, self.openapi_json().to_string()),
            Route::Jwks => {
                let mut r = WebResponse::json(200, self.manager().tokens().jwks().to_string());
                r.headers.retain(|(name, _)| *name != "cache-control");
                r.with_header("cache-control", JWKS_CACHE_CONTROL)
            }
            Route::Introspect | Route::RevokeToken => self.token_service_route(route, &req).await,
            Route::BackChannelLogout => self.back_channel_logout_route(&req).await,
            Route::SecurityEvents => self.security_event_route(&req).await,
            Route::Ssf(ssf) => self.ssf_route(ssf, &req).await,
            Route::AdminSessions
            | Route::AdminRevokeMatching
            | Route::AdminRevokeUser
            | Route::AdminExportUser => self.admin_route(route, &req).await,
            Route::List => match session() {
                Ok(s) => self.list(s).await,
                Err(e) => self.error_response(&e),
            },
            Route::EndOne(id) => match session() {
                Ok(s) => self.revoke_session(s, id).await,
                Err(e) => self.error_response(&e),
            },
            Route::EndOthers => match session() {
                Ok(s) => self.revoke_others(s).await,
                Err(e) => self.error_response(&e),
            },
            Route::EndAll => match session() {
                Ok(s) => self.revoke_all(s).await,
                Err(e) => self.error_response(&e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use crate::web::AdapterConfig;

    fn api(prefix: &str) -> SessionApi {
        let h = Harness::new(
            std::sync::Arc::new(crate::MemoryStore::new()),
            crate::SessionPolicy::default(),
        );
        SessionApi::new(h.manager, AdapterConfig::new().with_route_prefix(prefix)).unwrap()
    }

    #[test]
    fn only_session_paths_match() {
        let api = api("/auth");
        let r = |m, p| api.route(m, p);
        assert_eq!(
            r("POST", "/auth/refresh"),
            Some(RouteMatch::Route(Route::Refresh))
        );
        assert_eq!(
            r("GET", "/auth/refresh"),
            Some(RouteMatch::MethodNotAllowed("POST"))
        );
        assert_eq!(
            r("HEAD", "/auth/sessions"),
            Some(RouteMatch::Route(Route::List))
        );
        assert_eq!(
            r("DELETE", "/auth/sessions/abc"),
            Some(RouteMatch::Route(Route::EndOne("abc".into())))
        );
        assert_eq!(
            r("DELETE", "/auth/sessions/revoke-all"),
            Some(RouteMatch::MethodNotAllowed("POST"))
        );
        assert_eq!(
            r("PUT", "/auth/sessions/not-me"),
            Some(RouteMatch::MethodNotAllowed("GET, HEAD, POST"))
        );
        for not_ours in [
            "/auth",
            "/auth/",
            "/auth/login",
            "/auth/refresh/",
            "/auth/sessions/",
            "/auth/sessions/a/b",
            "/authx/refresh",
            "/refresh",
        ] {
            assert_eq!(r("POST", not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn an_empty_prefix_serves_at_the_root() {
        let api = api("");
        assert_eq!(
            api.route("POST", "/logout"),
            Some(RouteMatch::Route(Route::Logout))
        );
        assert_eq!(api.route("GET", "/"), None);
    }
}
