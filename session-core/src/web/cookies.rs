//! Cookie names and exact `Set-Cookie` strings.

use super::config::AdapterConfig;

/// The access-token cookie. `__Host-`: `Secure`, `Path=/`, no `Domain`, so
/// no sibling subdomain can set or overwrite it.
pub const ACCESS_COOKIE: &str = "__Host-sw_access";

/// The refresh-token cookie. `__Secure-` because it is scoped to the
/// session routes' prefix (the `__Host-` prefix requires `Path=/`), so that
/// both `<prefix>/refresh` and `<prefix>/logout` receive it and ordinary
/// requests never carry it.
pub const REFRESH_COOKIE: &str = "__Secure-sw_refresh";

/// The double-submit CSRF cookie, readable by scripts (no `HttpOnly`).
pub const CSRF_COOKIE: &str = "__Host-sw_csrf";

/// The stable device-id cookie.
pub const DEVICE_COOKIE: &str = "__Host-sw_device";

/// Lifetime of the device-id cookie: 400 days, the most browsers keep.
pub const DEVICE_COOKIE_MAX_AGE: u64 = 400 * 24 * 60 * 60;

/// The value of cookie `name` in one or more `Cookie` header values
/// (`a=1; b=2`). The first match wins.
///
/// ```
/// use sessionward_core::web::cookie_value;
/// let headers = ["theme=dark; __Host-sw_access=abc", "x=1"];
/// assert_eq!(cookie_value(headers, "__Host-sw_access"), Some("abc"));
/// assert_eq!(cookie_value(headers, "missing"), None);
/// ```
pub fn cookie_value<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    headers.into_iter().find_map(|h| {
        h.split(';').find_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n.trim() == name).then(|| v.trim().trim_matches('"'))
        })
    })
}

/// `Set-Cookie` for a session cookie of `name` with `value`.
pub(super) fn set_cookie(
    config: &AdapterConfig,
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    http_only: bool,
) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; Secure;{} SameSite={}",
        if http_only { " HttpOnly;" } else { "" },
        config.same_site.as_str()
    )
}

/// `Set-Cookie` deleting a refresh cookie left at `<prefix>/refresh`, its
/// path before it moved to `<prefix>`. Browsers send the cookie with the
/// longer path first, so a leftover would shadow the current refresh token
/// on the refresh route (and then count as a reused token); every answer
/// that sets or clears the refresh cookie also deletes it.
pub(super) fn expire_legacy_refresh(config: &AdapterConfig) -> String {
    let legacy = format!("{}/refresh", config.route_prefix());
    set_cookie(config, REFRESH_COOKIE, "", &legacy, 0, true)
}

/// `Set-Cookie` strings that delete every session cookie (not the device id).
pub(super) fn expire_all(config: &AdapterConfig) -> [String; 4] {
    [
        set_cookie(config, ACCESS_COOKIE, "", "/", 0, true),
        set_cookie(
            config,
            REFRESH_COOKIE,
            "",
            &config.refresh_cookie_path(),
            0,
            true,
        ),
        expire_legacy_refresh(config),
        set_cookie(config, CSRF_COOKIE, "", "/", 0, false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::SameSite;

    #[test]
    fn exact_strings() {
        let c = AdapterConfig::new();
        assert_eq!(
            set_cookie(&c, ACCESS_COOKIE, "t", "/", 300, true),
            "__Host-sw_access=t; Path=/; Max-Age=300; Secure; HttpOnly; SameSite=Lax"
        );
        let c = c.with_same_site(SameSite::Strict);
        assert_eq!(
            expire_all(&c),
            [
                "__Host-sw_access=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
                "__Secure-sw_refresh=; Path=/auth; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
                "__Secure-sw_refresh=; Path=/auth/refresh; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
                "__Host-sw_csrf=; Path=/; Max-Age=0; Secure; SameSite=Strict",
            ]
        );
    }
}
