//! The OpenAPI 3.1 description of the session routes, built from the same
//! configuration the routes run with (prefix, transport), so it cannot
//! describe routes that are not served. The layer serves it at
//! `GET <prefix>/openapi.json` when [`AdapterConfig::with_openapi_route`]
//! is on; with feature `utoipa`, [`SessionApi::openapi`] gives it as a
//! [`utoipa::openapi::OpenApi`] to merge into the app's own document.
//!
//! [`AdapterConfig::with_openapi_route`]: super::AdapterConfig::with_openapi_route

use serde_json::{Map, Value, json};

use super::api::SessionApi;
use super::config::TokenTransport;
use super::error::ErrorCode;

/// The path of the document under the route prefix.
pub const OPENAPI_PATH: &str = "/openapi.json";

fn error_response(description: &str, codes: &[ErrorCode]) -> Value {
    let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    json!({
        "description": format!("{description} (`error`: {})", names.join(", ")),
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn responses(ok: (&str, Value), errors: &[(u16, &str, &[ErrorCode])]) -> Value {
    let mut map = Map::new();
    map.insert(ok.0.to_owned(), ok.1);
    for (status, description, codes) in errors {
        map.insert(status.to_string(), error_response(description, codes));
    }
    Value::Object(map)
}

fn json_body(schema: &str, description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

const UNAUTHENTICATED: (u16, &str, &[ErrorCode]) = (
    401,
    "no valid session; `Clear-Site-Data` when it ended",
    &[ErrorCode::MissingToken, ErrorCode::InvalidToken],
);
const CSRF: (u16, &str, &[ErrorCode]) = (403, "CSRF check failed", &[ErrorCode::CsrfRejected]);
const UNAVAILABLE: (u16, &str, &[ErrorCode]) = (
    503,
    "the session store is unreachable (fail closed)",
    &[ErrorCode::Unavailable],
);
const REAUTH: (u16, &str, &[ErrorCode]) = (
    401,
    "no valid session, or the last full login is older than the recent-authentication window",
    &[
        ErrorCode::MissingToken,
        ErrorCode::InvalidToken,
        ErrorCode::ReauthenticationRequired,
    ],
);

impl SessionApi {
    /// The introspection and revocation routes, for services.
    fn token_service_paths(&self, paths: &mut Map<String, Value>) {
        let p = self.config().route_prefix();
        let form = json!({ "required": true, "content": { "application/x-www-form-urlencoded": { "schema": {
            "type": "object", "required": ["token"], "properties": {
                "token": { "type": "string", "description": "an access or refresh token of ours" },
                "token_type_hint": { "type": "string", "description": "accepted, not needed" } } } } } });
        let refused = [
            (
                400,
                "not a form with one `token`",
                &[ErrorCode::InvalidRequest][..],
            ),
            (
                401,
                "the calling service did not authenticate (`WWW-Authenticate` says how)",
                &[ErrorCode::InvalidClient][..],
            ),
            UNAVAILABLE,
        ];
        let introspection = json!({ "description": "`{\"active\": false}`, or `active: true` with `token_kind` (`access_token`, `refresh_token`), `token_type` (`Bearer` or `DPoP`, access tokens), `iss`, `aud`, `sub`, `sid`, `exp`, `iat`, `auth_time`, and for access tokens `jti` and a bound token's `cnf`",
            "content": { "application/json": { "schema": { "type": "object", "required": ["active"], "properties": { "active": { "type": "boolean" } } } } } });
        paths.insert(
            format!("{p}{}", super::token_service::INTROSPECT_PATH),
            json!({ "post": {
                "operationId": "sessionward_introspect",
                "security": [{ "serviceClient": [] }],
                "summary": "Whether a token is active (RFC 7662), for an authenticated service",
                "requestBody": form.clone(),
                "responses": responses(("200", introspection), &refused),
            }}),
        );
        paths.insert(
            format!("{p}{}", super::token_service::REVOKE_PATH),
            json!({ "post": {
                "operationId": "sessionward_revoke_token",
                "security": [{ "serviceClient": [] }],
                "summary": "End the session a token belongs to (RFC 7009), for an authenticated service",
                "requestBody": form,
                "responses": responses(("200", json!({ "description": "revoked, or the token named no session" })), &refused),
            }}),
        );
    }

    /// The operators' routes, behind the host's `AdminAuthorizer`.
    fn admin_paths(&self, paths: &mut Map<String, Value>) {
        let p = self.config().route_prefix();
        let refused: [(u16, &str, &[ErrorCode]); 5] = [
            (
                400,
                "an unknown, repeated or malformed parameter or member, or an empty filter",
                &[ErrorCode::InvalidRequest],
            ),
            (
                401,
                "no valid session, or the operator must sign in again",
                &[
                    ErrorCode::MissingToken,
                    ErrorCode::InvalidToken,
                    ErrorCode::ReauthenticationRequired,
                ],
            ),
            (
                403,
                "the authorizer refused the caller, or the CSRF check failed",
                &[ErrorCode::Forbidden, ErrorCode::CsrfRejected],
            ),
            UNAVAILABLE,
            (
                500,
                "the store has no session directory",
                &[ErrorCode::InternalError],
            ),
        ];
        let query = |name: &str, description: &str| {
            json!({ "name": name, "in": "query", "required": false,
                    "description": description, "schema": { "type": "string" } })
        };
        let filter_params = vec![
            query("user", "only this user's sessions"),
            query("network", "signed in from this address or CIDR block"),
            query("asn", "signed in from this autonomous system"),
            query(
                "country",
                "signed in from this country (ISO 3166-1 alpha-2)",
            ),
            query("device_class", "desktop, mobile, tablet, bot or other"),
            query("app", "scoped to this app"),
            query("created_after", "created at or after (RFC 3339)"),
            query("created_before", "created before (RFC 3339)"),
            query("seen_after", "last used at or after (RFC 3339)"),
            query("seen_before", "last used before (RFC 3339)"),
            query("min_risk", "scored low, medium or high or above"),
            query("limit", "sessions per page, 1-1000 (default 100)"),
            query("after", "the previous page's `next`"),
        ];
        let object = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": { "type": "object" } } } });
        paths.insert(
            format!("{p}{}", super::admin::ADMIN_SESSIONS_PATH),
            json!({ "get": {
                "operationId": "sessionward_admin_find_sessions",
                "summary": "Active sessions of every user matching the filter, newest first (operators)",
                "parameters": filter_params,
                "responses": responses(("200", object("`sessions` (each with `user`) and `next`, the cursor of the next page or null")), &refused),
            }}),
        );
        paths.insert(
            format!("{p}{}", super::admin::ADMIN_REVOKE_MATCHING_PATH),
            json!({ "post": {
                "operationId": "sessionward_admin_revoke_matching",
                "summary": "End every active session matching the filter, one atomic step per user, or list them (`dry_run`) (operators)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["filter", "dry_run"], "additionalProperties": false, "properties": {
                        "filter": { "type": "object", "description": "`user`, `network`, `asn`, `country`, `device_class`, `app`, `created` and `last_seen` (`{from, until}`), `min_risk`; not empty" },
                        "dry_run": { "type": "boolean" },
                        "reason": { "type": "string", "enum": ["admin", "risk", "password_change", "account_disabled", "not_me"] } } } } } },
                "responses": responses(("200", object("`dry_run`, `sessions` ended (or that would be), `users`")), &refused),
            }}),
        );
        paths.insert(
            format!("{p}{}", super::admin::ADMIN_REVOKE_USER_PATH),
            json!({ "post": {
                "operationId": "sessionward_admin_revoke_user",
                "summary": "End every session of one user, or one of them (operators)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["user"], "additionalProperties": false, "properties": {
                        "user": { "type": "string" },
                        "session": { "type": "string", "description": "only this session (404 when it is not active)" },
                        "reason": { "type": "string", "enum": ["admin", "risk", "password_change", "account_disabled", "not_me"] } } } } } },
                "responses": responses(("200", object("`revoked`: how many ended")), &refused),
            }}),
        );
        paths.insert(
            format!("{p}{}", super::admin::ADMIN_EXPORT_USER_PATH),
            json!({ "get": {
                "operationId": "sessionward_admin_export_user",
                "summary": "Everything stored about one user's sessions (operators)",
                "parameters": [{ "name": "user", "in": "query", "required": true, "schema": { "type": "string" } }],
                "responses": responses(("200", object("the user's export: `user`, `exported_at`, `not_before`, `sessions`")), &refused),
            }}),
        );
    }

    /// The Shared Signals transmitter's routes (SSF 1.0, RFC 8936), for
    /// receivers holding credentials the host's `ReceiverAuthorizer` takes.
    fn ssf_paths(&self, paths: &mut Map<String, Value>, transmitter: &crate::ssf::Transmitter) {
        use super::ssf::{POLL_PATH, SSF_JWKS_PATH, STATUS_PATH, STREAM_PATH, VERIFY_PATH};
        let p = self.config().route_prefix();
        let object = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": { "type": "object" } } } });
        let body = |description: &str| json!({ "required": true, "description": description, "content": { "application/json": { "schema": { "type": "object" } } } });
        let stream_id = json!({ "name": "stream_id", "in": "query", "required": true, "schema": { "type": "string" } });
        let error = |description: &str| object(description);
        let refused = |extra: &[(&str, &str)]| {
            let mut r = Map::new();
            r.insert(
                "400".into(),
                error("a malformed request: `error` invalid_request, `error_description` says why"),
            );
            r.insert(
                "401".into(),
                error("no valid receiver credentials (`WWW-Authenticate: Bearer`)"),
            );
            r.insert("404".into(), error("no such stream of this receiver"));
            r.insert(
                "503".into(),
                error("the transmitter's store did not answer"),
            );
            for (status, description) in extra {
                r.insert((*status).into(), error(description));
            }
            r
        };
        let with = |ok: (&str, Value), extra: &[(&str, &str)]| {
            let mut r = refused(extra);
            r.insert(ok.0.into(), ok.1);
            Value::Object(r)
        };
        let security = json!([{ "ssfReceiver": [] }]);
        paths.insert(
            transmitter.config().well_known_path().to_owned(),
            json!({ "get": {
                "operationId": "sessionward_ssf_configuration",
                "summary": "The transmitter configuration metadata (SSF 1.0 §7.1)",
                "security": [],
                "responses": { "200": object("issuer, jwks_uri, delivery methods and the endpoints") },
            }}),
        );
        paths.insert(
            format!("{p}{SSF_JWKS_PATH}"),
            json!({ "get": {
                "operationId": "sessionward_ssf_jwks",
                "summary": "The public keys that verify the transmitter's Security Event Tokens (RFC 7517)",
                "security": [],
                "responses": { "200": object("a JSON Web Key Set") },
            }}),
        );
        paths.insert(
            format!("{p}{STREAM_PATH}"),
            json!({
                "get": {
                    "operationId": "sessionward_ssf_read_streams",
                    "summary": "One stream's configuration (`stream_id`), or all of the receiver's (SSF 1.0 §8.1.1.2)",
                    "security": security,
                    "parameters": [{ "name": "stream_id", "in": "query", "required": false, "schema": { "type": "string" } }],
                    "responses": with(("200", object("the stream configuration, or an array of them")), &[]),
                },
                "post": {
                    "operationId": "sessionward_ssf_create_stream",
                    "summary": "Create a stream: `events_requested`, `delivery`, `description` (SSF 1.0 §8.1.1.1)",
                    "security": security,
                    "requestBody": body("receiver-supplied members only"),
                    "responses": with(("201", object("the stream configuration")), &[("409", "the receiver has its maximum of streams")]),
                },
                "patch": {
                    "operationId": "sessionward_ssf_update_stream",
                    "summary": "Change the members named (SSF 1.0 §8.1.1.3)",
                    "security": security,
                    "requestBody": body("`stream_id` and the members to change"),
                    "responses": with(("200", object("the stream configuration")), &[("409", "changed concurrently; try again")]),
                },
                "put": {
                    "operationId": "sessionward_ssf_replace_stream",
                    "summary": "Replace the receiver-supplied members (SSF 1.0 §8.1.1.4)",
                    "security": security,
                    "requestBody": body("`stream_id` and every receiver-supplied member"),
                    "responses": with(("200", object("the stream configuration")), &[("409", "changed concurrently; try again")]),
                },
                "delete": {
                    "operationId": "sessionward_ssf_delete_stream",
                    "summary": "Delete a stream and its undelivered events (SSF 1.0 §8.1.1.5)",
                    "security": security,
                    "parameters": [stream_id.clone()],
                    "responses": with(("204", json!({ "description": "deleted" })), &[]),
                },
            }),
        );
        paths.insert(
            format!("{p}{STATUS_PATH}"),
            json!({
                "get": {
                    "operationId": "sessionward_ssf_read_status",
                    "summary": "A stream's status (SSF 1.0 §8.1.2.1)",
                    "security": security,
                    "parameters": [stream_id],
                    "responses": with(("200", object("`stream_id`, `status`, `reason`")), &[]),
                },
                "post": {
                    "operationId": "sessionward_ssf_update_status",
                    "summary": "Enable, pause (events are kept) or disable (events are dropped) a stream (SSF 1.0 §8.1.2.2)",
                    "security": security,
                    "requestBody": body("`stream_id`, `status`, optional `reason`"),
                    "responses": with(("200", object("`stream_id`, `status`, `reason`")), &[("409", "changed concurrently; try again")]),
                },
            }),
        );
        paths.insert(
            format!("{p}{VERIFY_PATH}"),
            json!({ "post": {
                "operationId": "sessionward_ssf_verify",
                "summary": "Ask for a verification event echoing `state` (SSF 1.0 §8.1.4.2)",
                "security": security,
                "requestBody": body("`stream_id`, optional `state`"),
                "responses": with(("204", json!({ "description": "queued" })), &[("409", "the stream is disabled"), ("429", "sooner than min_verification_interval after the last one")]),
            }}),
        );
        paths.insert(
            format!("{p}{POLL_PATH}{{stream_id}}"),
            json!({ "post": {
                "operationId": "sessionward_ssf_poll",
                "summary": "Acknowledge SETs and take the next ones (RFC 8936 poll delivery)",
                "security": security,
                "parameters": [{ "name": "stream_id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "requestBody": body("`ack`, `setErrs`, `maxEvents`, `returnImmediately` (all optional)"),
                "responses": with(("200", object("`sets` (jti → SET) and `moreAvailable`")), &[]),
            }}),
        );
    }

    /// The two Device Bound Session Credentials routes (cookie transport),
    /// which browsers call themselves.
    fn dbsc_paths(&self, paths: &mut Map<String, Value>) {
        let p = self.config().route_prefix();
        let header = |name: &str, description: &str| {
            json!({ "name": name, "in": "header", "required": false,
                    "description": description, "schema": { "type": "string" } })
        };
        let jwt = header(
            "Secure-Session-Response",
            "the browser's `dbsc+jwt` over the challenge (`Sec-Session-Response` is accepted too)",
        );
        let instructions = json!({ "description": "the session instructions JSON, with the new cookies and a `Secure-Session-Challenge` for the next refresh",
            "content": { "application/json": { "schema": { "type": "object" } } } });
        paths.insert(
            format!("{p}/dbsc/register"),
            json!({ "post": {
                "operationId": "sessionward_dbsc_register",
                "summary": "Bind the cookie session to the browser's device key (DBSC)",
                "description": "Called by the browser after a sign-in's `Secure-Session-Registration` offer; needs the refresh cookie and a JWT over this sign-in's challenge, signed by the new key, which it carries.",
                "parameters": [jwt],
                "responses": {
                    "200": instructions,
                    "400": error_response("no signed JWT", &[ErrorCode::InvalidRequest]),
                    "401": error_response("no refresh cookie, or an ended session", &[ErrorCode::MissingToken, ErrorCode::InvalidToken]),
                    "403": { "description": "the registration is refused; the browser keeps plain cookies" },
                    "503": error_response(UNAVAILABLE.1, UNAVAILABLE.2),
                }
            }}),
        );
        paths.insert(
            format!("{p}/dbsc/refresh"),
            json!({ "post": {
                "operationId": "sessionward_dbsc_refresh",
                "summary": "Renew a device-bound session's bound cookie (DBSC)",
                "description": "Called by the browser when the bound access cookie is gone: `403` with `Secure-Session-Challenge` until it signs a challenge with the session's key, then new cookies. `{\"continue\": false}` ends the browser's device-bound session.",
                "parameters": [jwt, header("Sec-Secure-Session-Id", "the session identifier from the instructions (`Sec-Session-Id` is accepted too)")],
                "responses": {
                    "200": instructions,
                    "403": { "description": "sign this challenge first", "headers": { "Secure-Session-Challenge": { "schema": { "type": "string" } } } },
                    "503": error_response(UNAVAILABLE.1, UNAVAILABLE.2),
                }
            }}),
        );
    }

    /// The OpenAPI 3.1 document of the session routes this configuration
    /// serves, as JSON.
    pub fn openapi_json(&self) -> Value {
        let config = self.config();
        let p = config.route_prefix();
        let bearer = config.transport() == TokenTransport::Bearer;
        // DPoP proofs are read only on the bearer transport with a public origin.
        let dpop = bearer
            && config.public_origin().is_some()
            && self.manager().policy().dpop().mode != crate::binding::DpopMode::Off;
        let security = match (bearer, dpop) {
            (true, true) => json!([{ "bearer": [] }, { "bearer": [], "dpopProof": [] }]),
            (true, false) => json!([{ "bearer": [] }]),
            _ => json!([{ "accessCookie": [], "csrfHeader": [] }]),
        };
        let wipe = json!({
            "Clear-Site-Data": {
                "description": "`\"cache\", \"cookies\", \"storage\"`: the client drops what it stored",
                "schema": { "type": "string" }
            }
        });
        let tokens = if bearer {
            "BearerTokens"
        } else {
            "CookieTokens"
        };
        let mut refresh = json!({
            "operationId": "sessionward_refresh",
            "summary": "Rotate the refresh token",
            "description": if bearer {
                "Takes `{\"refresh_token\": …}`; answers new tokens. A rotated token presented again revokes the session."
            } else {
                "Takes the refresh cookie (path: the route prefix); sets new cookies. Needs the CSRF header."
            },
            "responses": responses(
                ("200", json_body(tokens, "rotated tokens")),
                &[
                    if dpop {
                        (
                            400,
                            "malformed body, or a DPoP proof missing or refused (RFC 9449 §5; `use_dpop_nonce` comes with a `DPoP-Nonce` header)",
                            &[
                                ErrorCode::InvalidRequest,
                                ErrorCode::InvalidDpopProof,
                                ErrorCode::UseDpopNonce,
                            ],
                        )
                    } else {
                        (400, "malformed body", &[ErrorCode::InvalidRequest])
                    },
                    UNAUTHENTICATED,
                    CSRF,
                    UNAVAILABLE,
                ],
            ),
        });
        if dpop {
            refresh["parameters"] = json!([{
                "name": "DPoP", "in": "header",
                "required": self.manager().policy().dpop().mode == crate::binding::DpopMode::Required,
                "description": "a DPoP proof (RFC 9449) for this request; required for a session bound to a key",
                "schema": { "type": "string" }
            }]);
        }
        if bearer {
            refresh["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RefreshRequest" } } }
            });
        }
        let mut paths = Map::new();
        paths.insert(format!("{p}/refresh"), json!({ "post": refresh }));
        paths.insert(
            format!("{p}/logout"),
            json!({ "post": {
                "operationId": "sessionward_logout",
                "summary": "End this session on the server",
                "description": "Ends the session proven by the access token (live, or expired but authentic) or the refresh token, then tells the client to wipe. Without a proof it ends nothing and still wipes.",
                "requestBody": { "required": false, "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/RefreshRequest" } } } },
                "responses": {
                    "204": { "description": "ended (or nothing to end); the client wipes", "headers": wipe },
                    "400": error_response("malformed body", &[ErrorCode::InvalidRequest]),
                    "403": error_response(CSRF.1, CSRF.2),
                    "503": error_response(UNAVAILABLE.1, UNAVAILABLE.2),
                }
            }}),
        );
        paths.insert(
            format!("{p}/sessions"),
            json!({ "get": {
                "operationId": "sessionward_list_sessions",
                "summary": "The user's active and recently ended sessions",
                "security": security,
                "responses": responses(
                    ("200", json_body("SessionList", "most recent first; the caller's own has `current: true`")),
                    &[UNAUTHENTICATED, UNAVAILABLE],
                ),
            }}),
        );
        paths.insert(
            format!("{p}/sessions/{{id}}"),
            json!({ "delete": {
                "operationId": "sessionward_end_session",
                "summary": "End one of the user's sessions",
                "security": security,
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": {
                    "204": { "description": "ended; the client wipes when it was its own session", "headers": wipe },
                    "401": error_response(REAUTH.1, REAUTH.2),
                    "403": error_response(CSRF.1, CSRF.2),
                    "404": error_response("no such session of this user", &[ErrorCode::NotFound]),
                    "503": error_response(UNAVAILABLE.1, UNAVAILABLE.2),
                }
            }}),
        );
        for (path, id, summary) in [
            (
                "revoke-others",
                "sessionward_end_other_sessions",
                "End every other session of the user",
            ),
            (
                "revoke-all",
                "sessionward_end_all_sessions",
                "End every session of the user, this one included",
            ),
        ] {
            paths.insert(
                format!("{p}/sessions/{path}"),
                json!({ "post": {
                    "operationId": id,
                    "summary": summary,
                    "security": security,
                    "responses": responses(
                        ("200", json_body("Revoked", "how many ended")),
                        &[REAUTH, CSRF, UNAVAILABLE],
                    ),
                }}),
            );
        }
        #[cfg(feature = "risk")]
        {
            let token = json!([{ "name": "token", "in": "query", "required": true, "schema": { "type": "string" } }]);
            let page = |description: &str| json!({ "description": description, "content": { "text/html": { "schema": { "type": "string" } } } });
            paths.insert(
                format!("{p}/sessions/not-me"),
                json!({
                    "get": {
                        "operationId": "sessionward_not_me_page",
                        "summary": "The \"this wasn't me\" confirmation page (changes nothing)",
                        "parameters": token,
                        "responses": { "200": page("the confirmation page"), "400": page("an incomplete link") }
                    },
                    "post": {
                        "operationId": "sessionward_not_me",
                        "summary": "Redeem a \"this wasn't me\" link: every session of the account ends",
                        "parameters": token,
                        "responses": {
                            "200": page("signed out everywhere"),
                            "400": page("an invalid, expired or used link"),
                            "503": page("the store is unreachable; nothing changed")
                        }
                    }
                }),
            );
        }
        paths.insert(
            format!("{p}/login/continue"),
            json!({ "post": {
                "operationId": "sessionward_continue_login",
                "summary": "Sign out the chosen devices and finish a login refused at a session limit",
                "description": "Takes the `ticket` of a `409 session_limit_reached` and the ids of the listed sessions to end (`end`), as `application/json`. Ending them and signing in are one atomic step, in which the limits are counted again; the ticket works once, for a few minutes, from the client (address, browser, device cookie, DPoP key) that got it. No CSRF header is needed.",
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/ContinueRequest" } } } },
                "responses": responses(
                    ("200", json_body(tokens, "signed in; `evicted` lists the sessions that ended")),
                    &[
                        (400, "malformed body, or a session the ticket did not offer", &[ErrorCode::InvalidRequest]),
                        (401, "a forged, expired, used or foreign ticket, or a credential checked before a password change", &[ErrorCode::InvalidToken, ErrorCode::ReauthenticationRequired]),
                        (403, "sent from another site (`Sec-Fetch-Site: cross-site`, or an `Origin` outside the configured ones)", &[ErrorCode::CsrfRejected]),
                        (409, "still at the limit (another login took the seat): a fresh list and ticket", &[ErrorCode::SessionLimitReached]),
                        UNAVAILABLE,
                    ],
                ),
            }}),
        );
        if !bearer {
            self.dbsc_paths(&mut paths);
        }
        if config.token_service().is_some() {
            self.token_service_paths(&mut paths);
        }
        if config.admin().is_some() {
            self.admin_paths(&mut paths);
        }
        if let Some(transmitter) = config.ssf_transmitter() {
            self.ssf_paths(&mut paths, transmitter);
        }
        if config.identity_provider().is_some() {
            paths.insert(
                format!("{p}{}", super::backchannel::BACKCHANNEL_LOGOUT_PATH),
                json!({ "post": {
                    "operationId": "sessionward_backchannel_logout",
                    "summary": "An identity provider's back-channel logout (OpenID Connect Back-Channel Logout 1.0)",
                    "description": "The form's `logout_token`, signed by the configured provider, ends the sessions signed in through that provider session (`sid`) or user (`sub`). No other authentication and no CSRF header.",
                    "security": [],
                    "requestBody": { "required": true, "content": { "application/x-www-form-urlencoded": { "schema": {
                        "type": "object", "required": ["logout_token"], "properties": { "logout_token": { "type": "string" } } } } } },
                    "responses": {
                        "200": { "description": "the named sessions ended (or none was left)" },
                        "400": { "description": "a refused token (`error_description` says why) or a store that did not answer",
                            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                    }
                }}),
            );
            paths.insert(
                format!("{p}{}", super::backchannel::SECURITY_EVENTS_PATH),
                json!({ "post": {
                    "operationId": "sessionward_security_events",
                    "summary": "A Security Event Token pushed by the identity provider (RFC 8935; CAEP session-revoked, credential-change)",
                    "security": [],
                    "requestBody": { "required": true, "content": { "application/secevent+jwt": { "schema": { "type": "string" } } } },
                    "responses": {
                        "202": { "description": "acted on (a duplicate is acknowledged again)" },
                        "400": { "description": "refused: `err` is invalid_request, invalid_key, invalid_issuer or invalid_audience (RFC 8935 §2.3), `description` says why",
                            "content": { "application/json": { "schema": { "type": "object", "required": ["err"], "properties": {
                                "err": { "type": "string" }, "description": { "type": "string" } } } } } },
                        "503": error_response(UNAVAILABLE.1, UNAVAILABLE.2)
                    }
                }}),
            );
        }
        if config.jwks_route() {
            paths.insert(
                format!("{p}{}", super::routes::JWKS_PATH),
                json!({ "get": {
                    "operationId": "sessionward_jwks",
                    "summary": "The public keys that verify our access tokens (RFC 7517; empty with HS256 keys)",
                    "responses": { "200": { "description": "A JSON Web Key Set", "content": { "application/json": { "schema": { "type": "object", "required": ["keys"], "properties": { "keys": { "type": "array", "items": { "type": "object" } } } } } } } }
                }}),
            );
        }
        if config.openapi_route() {
            paths.insert(
                format!("{p}{OPENAPI_PATH}"),
                json!({ "get": {
                    "operationId": "sessionward_openapi",
                    "summary": "This document",
                    "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } } }
                }}),
            );
        }
        let timestamp = json!({ "type": "string", "format": "date-time" });
        // Apart, so the document's `json!` stays within the macro recursion limit.
        let error_schema = json!({ "type": "object", "required": ["error"], "properties": {
            "error": { "type": "string" },
            "reason": { "type": "string", "description": "why the session ended (idle_timeout, evicted, logout, …)" },
            "error_description": { "type": "string", "description": "why a DPoP proof was refused (invalid_dpop_proof, use_dpop_nonce)" },
            "limit": { "type": "string", "description": "session_limit_reached: which limit (per_user, per_app, per_ip, per_device_class, countries)" },
            "active": { "type": "array", "items": { "type": "object" }, "description": "session_limit_reached: the user's active sessions" },
            "ticket": { "type": "string", "description": "session_limit_reached: the single-use ticket for `login/continue`" },
            "ticket_expires_at": timestamp
        }});
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {
                "title": "sessionward session routes",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Refresh, logout and session management, served by the sessionward layer. Every answer carries `Cache-Control: no-store`; a session path called with the wrong method is `405 method_not_allowed` with `Allow`."
            },
            "paths": Value::Object(paths),
            "components": {
                "securitySchemes": {
                    "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
                    "dpopProof": { "type": "apiKey", "in": "header", "name": "DPoP",
                        "description": "RFC 9449: a proof for this request, with the token sent as `Authorization: DPoP <jwt>` (the `DPoP` scheme, not `Bearer`) for a session bound to a key; refusals are `401` with `WWW-Authenticate: DPoP error=\"invalid_dpop_proof\"` (or `use_dpop_nonce` and a `DPoP-Nonce` header)" },
                    "accessCookie": { "type": "apiKey", "in": "cookie", "name": super::ACCESS_COOKIE },
                    "csrfHeader": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                        "description": "equal to the `__Host-sw_csrf` cookie on state-changing requests" }
                },
                "schemas": {
                    "Error": error_schema,
                    "RefreshRequest": { "type": "object", "properties": { "refresh_token": { "type": "string" } } },
                    "BearerTokens": { "type": "object", "required": ["access_token", "refresh_token", "session_id"], "properties": {
                        "token_type": { "type": "string", "enum": ["Bearer", "DPoP"], "description": "DPoP when the login or refresh carried a DPoP proof and the session is bound to its key" },
                        "access_token": { "type": "string" },
                        "expires_in": { "type": "integer", "minimum": 0 },
                        "access_expires_at": timestamp,
                        "refresh_token": { "type": "string" },
                        "refresh_expires_at": timestamp,
                        "session_id": { "type": "string" }
                    }},
                    "CookieTokens": { "type": "object", "required": ["session_id"], "properties": {
                        "expires_in": { "type": "integer", "minimum": 0 },
                        "access_expires_at": timestamp,
                        "refresh_expires_at": timestamp,
                        "session_id": { "type": "string" }
                    }},
                    "Revoked": { "type": "object", "required": ["revoked"], "properties": { "revoked": { "type": "integer", "minimum": 0 } } },
                    "SessionList": { "type": "object", "required": ["sessions", "ended"], "properties": {
                        "sessions": { "type": "array", "description": "active sessions, the caller's own first, then the most recently used",
                            "items": { "$ref": "#/components/schemas/Session" } },
                        "ended": { "type": "array", "description": "sessions that ended within the history retention, most recently ended first",
                            "items": { "$ref": "#/components/schemas/EndedSession" } }
                    }},
                    "Session": { "type": "object", "required": ["id", "created_at", "last_seen_at", "expires_at", "current", "device_name", "place", "places"], "properties": {
                        "id": { "type": "string" },
                        "created_at": timestamp,
                        "last_seen_at": timestamp,
                        "expires_at": timestamp,
                        "ip": { "type": ["string", "null"], "description": "login address as the policy shows it: full, network (\"81.2.69.0/24\") or null" },
                        "user_agent": { "type": ["string", "null"] },
                        "device_class": { "type": "string" },
                        "device": { "type": "object" },
                        "device_name": { "type": "string", "description": "e.g. \"Chrome 131 on Windows 11\"" },
                        "device_group": { "type": ["string", "null"], "description": "equal for sessions of one browser" },
                        "sign_in_method": { "type": ["string", "null"] },
                        "binding": { "type": "string", "enum": ["dpop"], "description": "What the tokens are bound to; absent for bearer sessions." },
                        "binding_text": { "type": "string" },
                        "location": { "type": "object" },
                        "risk": { "type": "object" },
                        "current": { "type": "boolean" },
                        "place": { "type": "string", "description": "the login's location, \"This computer\", \"Local network\" or \"Unknown location\"" },
                        "last_seen": { "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/LastSeen" }] },
                        "places": { "type": "array", "description": "distinct places it was used from, newest first",
                            "items": { "$ref": "#/components/schemas/Place" } }
                    }},
                    "LastSeen": { "type": "object", "required": ["at", "place", "device_name"], "properties": {
                        "at": timestamp,
                        "ip": { "type": ["string", "null"] },
                        "place": { "type": "string" },
                        "location": { "type": "object" },
                        "device_name": { "type": "string" },
                        "anomalies": { "type": "array", "items": { "type": "string", "enum": ["device_changed", "impossible_travel", "network_alternation"] },
                            "description": "mid-session anomaly signals this use raised" }
                    }},
                    "Place": { "type": "object", "required": ["at", "place"], "properties": {
                        "at": timestamp,
                        "ip": { "type": ["string", "null"] },
                        "place": { "type": "string" },
                        "location": { "type": "object" }
                    }},
                    "EndedSession": { "allOf": [{ "$ref": "#/components/schemas/Session" }, {
                        "type": "object", "required": ["ended_at", "ended_reason", "ended_text"], "properties": {
                            "ended_at": timestamp,
                            "ended_reason": { "type": "string", "description": "a revoke reason, idle_timeout or absolute_timeout" },
                            "ended_text": { "type": "string", "description": "how it ended, for people" }
                        }
                    }]}
                }
            }
        });
        if !dpop && let Some(schemes) = doc["components"]["securitySchemes"].as_object_mut() {
            schemes.remove("dpopProof");
        }
        if config.token_service().is_some() {
            doc["components"]["securitySchemes"]["serviceClient"] = json!({ "type": "http", "scheme": "basic",
                "description": "the calling service's client credentials (RFC 6749 §2.3.1), or what the host's `ServiceAuthenticator` takes" });
        }
        if config.ssf_transmitter().is_some() {
            doc["components"]["securitySchemes"]["ssfReceiver"] = json!({ "type": "http", "scheme": "bearer",
                "description": "a Shared Signals receiver's credentials, as the host's `ReceiverAuthorizer` takes them" });
        }
        doc["components"]["schemas"]["ContinueRequest"] = json!({
            "type": "object", "required": ["ticket"], "properties": {
                "ticket": { "type": "string", "description": "the `ticket` of the 409 answer" },
                "end": { "type": "array", "items": { "type": "string" }, "description": "ids of listed sessions to end" }
            }
        });
        for schema in ["BearerTokens", "CookieTokens"] {
            doc["components"]["schemas"][schema]["properties"]["evicted"] = json!({
                "type": "array", "items": { "type": "string" },
                "description": "on a login: the ids of the sessions it ended to make room"
            });
        }
        doc
    }

    /// The document as utoipa's model, to merge into the app's own
    /// (`app_doc.merge(api.openapi())`).
    ///
    /// # Errors
    /// Never in practice: the JSON is ours; an error would mean it no
    /// longer matches utoipa's model (a test guards that).
    #[cfg(feature = "utoipa")]
    #[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
    pub fn openapi(&self) -> Result<utoipa::openapi::OpenApi, serde_json::Error> {
        serde_json::from_value(self.openapi_json())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::OPENAPI_PATH;
    use crate::testing::Harness;
    use crate::web::{AdapterConfig, RouteMatch, SessionApi, TokenTransport};

    fn api(config: AdapterConfig) -> SessionApi {
        let h = Harness::new(
            std::sync::Arc::new(crate::MemoryStore::new()),
            crate::SessionPolicy::default(),
        );
        SessionApi::new(h.manager, config).unwrap()
    }

    /// Every (method, path template) in the document.
    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        out
    }

    /// Every `$ref` in `value`.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_lists_exactly_the_routes_served() {
        for (transport, openapi_route, prefix, jwks_route, token_service) in [
            (TokenTransport::Cookies, false, "/auth", false, false),
            (TokenTransport::Bearer, true, "/api/session", true, true),
            (TokenTransport::Cookies, true, "", false, true),
            (TokenTransport::Cookies, false, "/auth", true, false),
        ] {
            // The provider and admin routes come with the service ones here.
            let mut config = AdapterConfig::new()
                .with_transport(transport)
                .with_route_prefix(prefix)
                .with_openapi_route(openapi_route)
                .with_jwks_route(jwks_route);
            if token_service {
                config = config
                    .with_token_service(std::sync::Arc::new(crate::web::ServiceClients::new()));
                let idp = crate::testing::provider::TestProvider::new();
                let receiver = idp.receiver(std::sync::Arc::new(crate::MemoryStore::new()));
                config = config.with_identity_provider(std::sync::Arc::new(receiver));
                let operators = crate::web::AdminUsers::new(std::time::Duration::from_secs(900));
                config = config.with_admin(std::sync::Arc::new(operators));
                config = config.with_ssf_transmitter(crate::testing::web::test_transmitter());
            }
            let api = api(config);
            let doc = api.openapi_json();
            assert_eq!(doc["openapi"], "3.1.0");
            let found = operations(&doc);
            let mut expected: BTreeSet<(String, String)> = [
                ("POST", "/refresh"),
                ("POST", "/logout"),
                ("GET", "/sessions"),
                ("DELETE", "/sessions/{id}"),
                ("POST", "/sessions/revoke-others"),
                ("POST", "/sessions/revoke-all"),
                ("GET", "/sessions/not-me"),
                ("POST", "/sessions/not-me"),
                ("POST", "/login/continue"),
            ]
            .into_iter()
            .map(|(m, p)| (m.to_owned(), format!("{prefix}{p}")))
            .collect();
            if openapi_route {
                expected.insert(("GET".to_owned(), format!("{prefix}{OPENAPI_PATH}")));
            }
            if jwks_route {
                expected.insert(("GET".to_owned(), format!("{prefix}/jwks")));
            }
            if token_service {
                for path in [
                    "/introspect",
                    "/revoke",
                    "/backchannel-logout",
                    "/security-events",
                ] {
                    expected.insert(("POST".to_owned(), format!("{prefix}{path}")));
                }
                for (method, path) in [
                    ("GET", "/admin/sessions"),
                    ("POST", "/admin/sessions/revoke"),
                    ("POST", "/admin/users/revoke"),
                    ("GET", "/admin/users/export"),
                    ("GET", "/ssf/jwks"),
                    ("GET", "/ssf/stream"),
                    ("POST", "/ssf/stream"),
                    ("PATCH", "/ssf/stream"),
                    ("PUT", "/ssf/stream"),
                    ("DELETE", "/ssf/stream"),
                    ("GET", "/ssf/status"),
                    ("POST", "/ssf/status"),
                    ("POST", "/ssf/verify"),
                    ("POST", "/ssf/poll/{stream_id}"),
                ] {
                    expected.insert((method.to_owned(), format!("{prefix}{path}")));
                }
                expected.insert((
                    "GET".to_owned(),
                    "/.well-known/ssf-configuration".to_owned(),
                ));
            }
            if transport == TokenTransport::Cookies {
                for path in ["/dbsc/register", "/dbsc/refresh"] {
                    expected.insert(("POST".to_owned(), format!("{prefix}{path}")));
                }
            }
            assert_eq!(found, expected);
            // Each documented operation is one the layer serves, and its
            // operation id is unique.
            let mut ids = BTreeSet::new();
            for (method, path) in &found {
                let concrete = path
                    .replace("{id}", "some-session-id")
                    .replace("{stream_id}", "0123abcd");
                assert!(
                    matches!(api.route(method, &concrete), Some(RouteMatch::Route(_))),
                    "{method} {concrete} is documented but not served"
                );
                let op = &doc["paths"][path][method.to_ascii_lowercase()];
                assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()));
                assert!(!op["responses"].as_object().unwrap().is_empty());
            }
            // Every reference resolves.
            let mut all = Vec::new();
            refs(&doc, &mut all);
            for r in all {
                let name = r.strip_prefix("#/components/schemas/").unwrap();
                assert!(doc["components"]["schemas"].get(name).is_some(), "{r}");
            }
            assert_eq!(
                api.route("GET", &format!("{prefix}{OPENAPI_PATH}"))
                    .is_some(),
                openapi_route,
                "the document is served only when asked for"
            );
            assert_eq!(
                api.route("GET", &format!("{prefix}/jwks")).is_some(),
                jwks_route,
                "the key set is served only when asked for"
            );
            assert_eq!(
                api.route("POST", &format!("{prefix}/introspect")).is_some(),
                token_service,
                "introspection is served only when asked for"
            );
        }
    }

    #[cfg(feature = "utoipa")]
    #[test]
    fn utoipa_reads_it_as_an_openapi_document() {
        let api = api(AdapterConfig::new().with_openapi_route(true));
        let doc = api.openapi().unwrap();
        // Nine session paths, the two DBSC ones (cookies), the document.
        assert_eq!(doc.paths.paths.len(), 11);
        // And back: nothing is lost on the way through utoipa's model.
        let again = serde_json::to_value(&doc).unwrap();
        assert_eq!(operations(&again), operations(&api.openapi_json()));
    }

    /// DPoP is documented where proofs are read: bearer transport with a
    /// public origin (the scheme, the refresh header, its 400 codes), and
    /// nowhere else.
    #[test]
    fn dpop_is_documented_where_proofs_are_read() {
        let bearer = AdapterConfig::new().with_transport(TokenTransport::Bearer);
        let doc = api(bearer.clone().with_public_origin("https://api.example.com")).openapi_json();
        assert_eq!(
            doc["components"]["securitySchemes"]["dpopProof"]["name"],
            "DPoP"
        );
        let refresh = &doc["paths"]["/auth/refresh"]["post"];
        assert_eq!(refresh["parameters"][0]["name"], "DPoP");
        let bad = refresh["responses"]["400"]["description"].as_str().unwrap();
        assert!(
            bad.contains("invalid_dpop_proof") && bad.contains("use_dpop_nonce"),
            "{bad}"
        );
        let list = &doc["paths"]["/auth/sessions"]["get"];
        assert!(list["security"].to_string().contains("dpopProof"), "{list}");
        #[cfg(feature = "utoipa")]
        {
            let dpop_api = api(AdapterConfig::new()
                .with_transport(TokenTransport::Bearer)
                .with_public_origin("https://api.example.com"));
            assert!(
                dpop_api.openapi().is_ok(),
                "utoipa reads the DPoP parts too"
            );
        }
        let plain = api(bearer).openapi_json();
        assert!(
            plain["paths"]["/auth/refresh"]["post"]
                .get("parameters")
                .is_none()
        );
        assert!(!plain.to_string().contains("dpopProof"));
    }
}
