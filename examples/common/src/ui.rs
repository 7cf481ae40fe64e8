//! The static front-end (`examples/web-ui/`), embedded into both apps.

use sessionward_core::web::WebResponse;

/// `index.html`.
pub const INDEX_HTML: &str = include_str!("../../web-ui/index.html");
/// `app.js`.
pub const APP_JS: &str = include_str!("../../web-ui/app.js");
/// `style.css`.
pub const STYLE_CSS: &str = include_str!("../../web-ui/style.css");

/// The Content-Security-Policy of every page: scripts and styles only from
/// the app itself, no framing.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The asset at `path` (`/`, `/index.html`, `/app.js`, `/style.css`).
pub fn asset(path: &str) -> Option<WebResponse> {
    let (body, content_type) = match path {
        "/" | "/index.html" => (INDEX_HTML, "text/html; charset=utf-8"),
        "/app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "/style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return None,
    };
    let mut r = WebResponse::empty(200)
        .with_header("content-type", content_type)
        .with_header("content-security-policy", CSP)
        .with_header("x-content-type-options", "nosniff")
        .with_header("referrer-policy", "no-referrer");
    r.body = Some(body.to_owned());
    Some(r)
}
