//! A framework-neutral HTTP response.

use std::fmt;

/// What an adapter sends back: status, headers (lower-case names, repeated
/// for `set-cookie`) and an optional JSON body.
///
/// `Debug` redacts `set-cookie` values and the body, which may hold tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct WebResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers in order; names are lower case.
    pub headers: Vec<(&'static str, String)>,
    /// JSON body (`content-type: application/json` is already in `headers`).
    pub body: Option<String>,
}

impl fmt::Debug for WebResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if *n == "set-cookie" {
                    (*n, "[redacted]")
                } else {
                    (*n, v.as_str())
                }
            })
            .collect();
        f.debug_struct("WebResponse")
            .field("status", &self.status)
            .field("headers", &headers)
            .field("body", &self.body.as_ref().map(|b| b.len()))
            .finish()
    }
}

impl WebResponse {
    /// A response with `status`, `cache-control: no-store` and no body.
    pub fn empty(status: u16) -> Self {
        WebResponse {
            status,
            headers: vec![("cache-control", super::CACHE_CONTROL_NO_STORE.to_owned())],
            body: None,
        }
    }

    /// A JSON response with `status` and `cache-control: no-store`.
    pub fn json(status: u16, body: String) -> Self {
        let mut r = Self::empty(status);
        r.headers
            .push(("content-type", "application/json".to_owned()));
        r.body = Some(body);
        r
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first header whose name or value could not go on the wire (a
    /// name outside RFC 9110 token characters, a value with a control
    /// character such as CR/LF), or `None` when every header is sound.
    pub fn invalid_header(&self) -> Option<&'static str> {
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        let value_ok = |v: &str| v.bytes().all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t');
        self.headers
            .iter()
            .find(|(n, v)| !name_ok(n) || !value_ok(v))
            .map(|(n, _)| *n)
    }

    /// `self`, or `500 internal_error` (logged) when a header could not be
    /// sent: a response is never sent with a header silently missing (a
    /// dropped `Set-Cookie` would leave a client holding a dead session).
    pub fn checked(self) -> WebResponse {
        match self.invalid_header() {
            None => self,
            Some(name) => {
                tracing::error!(
                    target: "sessionward::web",
                    header = name,
                    "a response header cannot be sent; answering 500 instead"
                );
                Self::internal_error()
            }
        }
    }

    /// The fixed `500 internal_error` answer.
    pub fn internal_error() -> WebResponse {
        let code = super::ErrorCode::InternalError;
        WebResponse::json(
            code.status(),
            format!("{{\"error\":\"{}\"}}", code.as_str()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::WebResponse;

    #[test]
    fn a_header_that_cannot_be_sent_is_a_500_not_a_gap() {
        let ok = WebResponse::empty(204).with_header("set-cookie", "a=b; Path=/\tx");
        assert_eq!(ok.invalid_header(), None);
        assert_eq!(ok.clone().checked(), ok);
        for bad in [
            WebResponse::empty(204).with_header("set-cookie", "a=b\r\nx: y"),
            WebResponse::empty(204).with_header("set-cookie", "a=\u{7f}"),
            WebResponse::empty(204).with_header("bad name", "v"),
            WebResponse::empty(204).with_header("", "v"),
        ] {
            assert!(bad.invalid_header().is_some());
            let r = bad.checked();
            assert_eq!(r.status, 500);
            assert_eq!(r.body.as_deref(), Some("{\"error\":\"internal_error\"}"));
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }
    }
}
