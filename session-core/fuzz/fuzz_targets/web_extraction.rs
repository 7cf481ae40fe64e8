//! Cookie and header extraction of the HTTP adapters, through the
//! framework-neutral `sessionward_core::web` layer both adapters use.
//!
//! Input layout: byte 0 picks the method and transport (bearer or cookies);
//! the rest is split at newlines into `Cookie` header values (up to three),
//! an `Authorization` value, an `X-CSRF-Token` value, an `Origin` value and a
//! query string (lossy UTF-8). The placeholder `@ACCESS@` is replaced by the
//! start-up session's genuine access token so the deep paths run.
//!
//! Properties checked besides "never panics":
//! - `cookie_value` returns a substring of one of the cookie headers;
//! - `token_from_query` returns only signed-token characters;
//! - a request is authenticated only as the fuzz user, and a cookie-authenticated
//!   state-changing request only with a CSRF header.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sessionward_core::web::{
    AdapterConfig, AuthOutcome, HeaderSource, SessionApi, TokenTransport, cookie_value,
    token_from_query,
};
use sessionward_fuzz::{USER, fixture};

struct Headers(Vec<(&'static str, Vec<u8>)>);

impl HeaderSource for Headers {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

fn apis() -> &'static [SessionApi; 2] {
    static APIS: OnceLock<[SessionApi; 2]> = OnceLock::new();
    APIS.get_or_init(|| {
        let m = fixture().manager.clone();
        [
            SessionApi::new(
                m.clone(),
                AdapterConfig::new().with_transport(TokenTransport::Bearer),
            )
            .expect("config"),
            SessionApi::new(
                m,
                AdapterConfig::new().with_transport(TokenTransport::Cookies),
            )
            .expect("config"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let genuine = fx.login.tokens.access_token.expose_secret();
    let text = String::from_utf8_lossy(rest).replace("@ACCESS@", genuine);
    let mut parts = text.split('\n');
    let mut next = || parts.next().unwrap_or("").to_owned();
    let cookies = [next(), next(), next()];
    let (authorization, csrf, origin, query) = (next(), next(), next(), next());

    for c in &cookies {
        if let Some(v) = cookie_value([c.as_str()], "__Host-sw_access") {
            assert!(c.contains(v), "cookie value is not from the header");
        }
    }
    if let Some(t) = token_from_query(Some(&query)) {
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        );
    }

    let mut headers: Vec<(&'static str, Vec<u8>)> = cookies
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| ("cookie", c.as_bytes().to_vec()))
        .collect();
    for (name, value) in [
        ("authorization", &authorization),
        ("x-csrf-token", &csrf),
        ("origin", &origin),
    ] {
        if !value.is_empty() {
            headers.push((name, value.as_bytes().to_vec()));
        }
    }
    let headers = Headers(headers);
    let method = ["GET", "POST", "DELETE", "HEAD"][usize::from(selector & 3)];
    let api = &apis()[usize::from((selector >> 2) & 1)];
    let _ = api.request_context(None, &headers);
    if let AuthOutcome::Authenticated(s) = fx.block_on(api.authenticate(method, &headers)) {
        assert_eq!(s.user.as_str(), USER, "authenticated as someone else");
        let cookie_auth = (selector >> 2) & 1 == 1 && authorization.is_empty();
        if cookie_auth && method != "GET" && method != "HEAD" {
            assert!(
                !csrf.is_empty(),
                "state-changing cookie request accepted without a CSRF header"
            );
        }
    }
});
