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
}
