//! User-Agent Client Hints (`Sec-CH-UA-*`): what Chromium browsers send
//! instead of the detail their frozen User-Agent string no longer carries.
//!
//! The User-Agent of Chrome on Windows 11 still says "Windows NT 10.0" and
//! on Android says "K" instead of the phone model; the hints tell them
//! apart. A browser sends the high-entropy hints only to a site that asked
//! for them with [`ACCEPT_CH`] (the adapters send it on every response).
//!
//! ```
//! use sessionward_core::enrich::ClientHints;
//! use sessionward_core::DeviceInfo;
//!
//! let hints = ClientHints::from_headers(|name| match name {
//!     "sec-ch-ua-platform" => Some("\"Windows\""),
//!     "sec-ch-ua-platform-version" => Some("\"15.0.0\""),
//!     _ => None,
//! });
//! let mut device = DeviceInfo {
//!     browser: Some("Chrome".into()),
//!     os: Some("Windows".into()),
//!     os_version: Some("10".into()),
//!     ..DeviceInfo::default()
//! };
//! hints.refine(&mut device);
//! assert_eq!(device.os_version.as_deref(), Some("11"));
//! ```

use crate::record::{DeviceInfo, sanitize_text};

/// The `Accept-CH` value the adapters send: the high-entropy hints used by
/// [`ClientHints::refine`].
pub const ACCEPT_CH: &str =
    "Sec-CH-UA-Platform-Version, Sec-CH-UA-Model, Sec-CH-UA-Full-Version-List";

/// The request headers [`ClientHints::from_headers`] reads, lower-case.
pub const CLIENT_HINT_HEADERS: [&str; 5] = [
    "sec-ch-ua-platform",
    "sec-ch-ua-platform-version",
    "sec-ch-ua-model",
    "sec-ch-ua-mobile",
    "sec-ch-ua-full-version-list",
];

/// Longest hint value kept, in bytes.
const MAX_HINT_LEN: usize = 128;

/// The client hints of one request, parsed and sanitised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHints {
    /// `Sec-CH-UA-Platform`, e.g. "Windows", "macOS", "Android".
    pub platform: Option<String>,
    /// `Sec-CH-UA-Platform-Version`, e.g. "15.0.0".
    pub platform_version: Option<String>,
    /// `Sec-CH-UA-Model`, e.g. "Pixel 7" (empty on desktops).
    pub model: Option<String>,
    /// `Sec-CH-UA-Mobile`: `?1` or `?0`.
    pub mobile: Option<bool>,
    /// `Sec-CH-UA-Full-Version-List` as (brand, version) pairs.
    pub brands: Vec<(String, String)>,
}

impl ClientHints {
    /// Reads the hints through `header`, which answers a lower-case header
    /// name with its value. Malformed values are ignored.
    pub fn from_headers<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Self {
        let string = |name: &str| header(name).and_then(sf_string);
        ClientHints {
            platform: string("sec-ch-ua-platform"),
            platform_version: string("sec-ch-ua-platform-version"),
            model: string("sec-ch-ua-model"),
            mobile: header("sec-ch-ua-mobile").and_then(|v| match v.trim() {
                "?1" => Some(true),
                "?0" => Some(false),
                _ => None,
            }),
            brands: header("sec-ch-ua-full-version-list")
                .map(brand_list)
                .unwrap_or_default(),
        }
    }

    /// Whether the request carried any hint.
    pub fn is_empty(&self) -> bool {
        *self == ClientHints::default()
    }

    /// Refines User-Agent facts with what the hints know better: the
    /// Windows release (platform version 13 and up is Windows 11), the
    /// macOS and Android versions, the phone model, and the browser's full
    /// version. Hints naming another platform than the User-Agent change
    /// nothing (a spoofed or mismatched header is not trusted over it).
    pub fn refine(&self, device: &mut DeviceInfo) {
        let Some(platform) = self.platform.as_deref() else {
            return;
        };
        let os = device.os.as_deref().unwrap_or("");
        let same_os = os.is_empty()
            || os.eq_ignore_ascii_case(platform)
            || (platform == "macOS" && os.starts_with("Mac"));
        if !same_os {
            return;
        }
        if device.os.is_none() {
            device.os = Some(platform.to_owned());
        }
        if let Some(version) = self.platform_version.as_deref().filter(|v| !v.is_empty()) {
            let release = match platform {
                "Windows" => windows_release(version),
                _ => Some(short_version(version)),
            };
            if let Some(release) = release {
                device.os_version = Some(release);
            }
        }
        if let Some(model) = self.model.as_deref().filter(|m| !m.is_empty()) {
            device.device_model = Some(model.to_owned());
            if device
                .device_family
                .as_deref()
                .is_none_or(is_generic_family)
            {
                device.device_family = Some(model.to_owned());
            }
        }
        if let Some(browser) = device.browser.as_deref()
            && let Some((_, version)) = self.brands.iter().find(|(b, _)| brand_is(b, browser))
        {
            device.browser_version = Some(version.clone());
        }
    }
}

/// Windows release from the platform version (Microsoft's documented
/// mapping: 1–10 is Windows 10, 13 and up is Windows 11; 0 is older).
fn windows_release(version: &str) -> Option<String> {
    let major: u32 = version.split('.').next()?.parse().ok()?;
    match major {
        0 => None,
        1..=12 => Some("10".to_owned()),
        _ => Some("11".to_owned()),
    }
}

/// "14.5.0" → "14.5", "14.0.0" → "14": trailing zero parts dropped.
fn short_version(version: &str) -> String {
    let mut parts: Vec<&str> = version.split('.').collect();
    while parts.len() > 1
        && parts
            .last()
            .is_some_and(|p| p.trim_start_matches('0').is_empty())
    {
        parts.pop();
    }
    parts.join(".")
}

/// Families the User-Agent parser gives when the model is unknown.
fn is_generic_family(family: &str) -> bool {
    matches!(
        family,
        "K" | "Generic Smartphone" | "Generic Tablet" | "Other"
    )
}

fn brand_is(brand: &str, browser: &str) -> bool {
    match browser {
        "Chrome" | "Chrome Mobile" => brand == "Google Chrome",
        "Edge" => brand == "Microsoft Edge",
        "Opera" => brand == "Opera",
        "Chromium" => brand == "Chromium",
        _ => brand == browser,
    }
}

/// An RFC 8941 sf-string (`"text"`), unescaped and sanitised.
fn sf_string(value: &str) -> Option<String> {
    let inner = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    let unescaped = inner.replace("\\\"", "\"").replace("\\\\", "\\");
    Some(sanitize_text(&unescaped, MAX_HINT_LEN))
}

/// `"Brand";v="1.2", "Other";v="3"` → pairs; malformed members are skipped.
fn brand_list(value: &str) -> Vec<(String, String)> {
    value
        .split(',')
        .take(8)
        .filter_map(|member| {
            let (brand, params) = member.split_once(';')?;
            let version = params.trim().strip_prefix("v=")?;
            Some((sf_string(brand)?, sf_string(version)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(pairs: &[(&'static str, &'static str)]) -> ClientHints {
        ClientHints::from_headers(|name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    #[test]
    fn phone_model_and_android_version_come_from_hints() {
        let h = hints(&[
            ("sec-ch-ua-platform", "\"Android\""),
            ("sec-ch-ua-platform-version", "\"14.0.0\""),
            ("sec-ch-ua-model", "\"Pixel 7\""),
            ("sec-ch-ua-mobile", "?1"),
            (
                "sec-ch-ua-full-version-list",
                "\"Not_A Brand\";v=\"8.0.0.0\", \"Chromium\";v=\"131.0.6778.86\", \"Google Chrome\";v=\"131.0.6778.86\"",
            ),
        ]);
        assert_eq!(h.mobile, Some(true));
        let mut d = DeviceInfo {
            browser: Some("Chrome Mobile".into()),
            browser_version: Some("131.0.0".into()),
            os: Some("Android".into()),
            os_version: Some("10".into()),
            device_family: Some("K".into()),
            ..DeviceInfo::default()
        };
        h.refine(&mut d);
        assert_eq!(d.os_version.as_deref(), Some("14"));
        assert_eq!(d.device_model.as_deref(), Some("Pixel 7"));
        assert_eq!(d.device_family.as_deref(), Some("Pixel 7"));
        assert_eq!(d.browser_version.as_deref(), Some("131.0.6778.86"));
    }

    #[test]
    fn windows_ten_stays_ten_and_mismatched_platform_changes_nothing() {
        let ten = hints(&[
            ("sec-ch-ua-platform", "\"Windows\""),
            ("sec-ch-ua-platform-version", "\"10.0.0\""),
        ]);
        let mut d = DeviceInfo {
            os: Some("Windows".into()),
            os_version: Some("10".into()),
            ..DeviceInfo::default()
        };
        ten.refine(&mut d);
        assert_eq!(d.os_version.as_deref(), Some("10"));
        let liar = hints(&[
            ("sec-ch-ua-platform", "\"Windows\""),
            ("sec-ch-ua-platform-version", "\"15.0.0\""),
        ]);
        let mut mac = DeviceInfo {
            os: Some("Mac OS X".into()),
            os_version: Some("10.15".into()),
            ..DeviceInfo::default()
        };
        liar.refine(&mut mac);
        assert_eq!(mac.os_version.as_deref(), Some("10.15"));
    }

    #[test]
    fn malformed_and_hostile_values_are_ignored_or_sanitised() {
        let h = hints(&[
            ("sec-ch-ua-platform", "Windows"),
            ("sec-ch-ua-model", "\"evil\u{7}\nmodel\""),
            ("sec-ch-ua-mobile", "yes"),
            ("sec-ch-ua-full-version-list", "garbage, ;;, \"x\";q=1"),
        ]);
        assert_eq!(h.platform, None);
        assert_eq!(h.model.as_deref(), Some("evil\u{FFFD}\u{FFFD}model"));
        assert_eq!(h.mobile, None);
        assert!(h.brands.is_empty());
        let long = "\"".to_owned() + &"a".repeat(1000) + "\"";
        let long: &'static str = Box::leak(long.into_boxed_str());
        assert!(hints(&[("sec-ch-ua-model", long)]).model.unwrap().len() <= MAX_HINT_LEN);
    }
}
