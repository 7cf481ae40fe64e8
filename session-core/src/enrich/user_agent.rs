//! User-Agent parsing: browser, OS and device facts plus a [`DeviceClass`].
//!
//! [`UapParser`] uses the uap project's `ua-parser` crate with the vendored
//! uap-core 0.18.0 regexes; [`CachedParser`] puts a bounded cache in front of
//! any [`UserAgentParser`]. Every parser truncates its input to
//! [`MAX_USER_AGENT_LEN`] bytes (and replaces control characters) before
//! matching, so a hostile header costs at most one bounded regex pass.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use crate::record::{DeviceClass, DeviceInfo, MAX_USER_AGENT_LEN, sanitize_text};

/// The uap-core 0.18.0 `regexes.yaml`, converted once to JSON (see
/// `session-core/data/README.md`).
static EMBEDDED_REGEXES: &[u8] = include_bytes!("../../data/uap-regexes.json");

/// What a [`UserAgentParser`] extracts from one User-Agent header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUserAgent {
    /// Browser, OS and device facts; fields the parser could not tell are `None`.
    pub device: DeviceInfo,
    /// Coarse device category.
    pub class: DeviceClass,
}

impl Default for ParsedUserAgent {
    fn default() -> Self {
        Self {
            device: DeviceInfo::default(),
            class: DeviceClass::Other,
        }
    }
}

/// Turns a User-Agent header into device facts.
///
/// Implementations must be cheap to call concurrently, must never panic on
/// any input and must bound their work (truncate to [`MAX_USER_AGENT_LEN`]).
/// Wrap an implementation in [`CachedParser`] to memoise results.
pub trait UserAgentParser: Send + Sync {
    /// Parses `ua`. Unknown or empty input gives empty [`DeviceInfo`] fields
    /// and [`DeviceClass::Other`].
    fn parse(&self, ua: &str) -> ParsedUserAgent;
}

impl<P: UserAgentParser + ?Sized> UserAgentParser for Arc<P> {
    fn parse(&self, ua: &str) -> ParsedUserAgent {
        (**self).parse(ua)
    }
}

/// Why a uap regex set could not be turned into a parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UaParserError {
    /// The JSON document does not have the uap-core `regexes.yaml` shape.
    #[error("invalid uap regexes document: {0}")]
    Format(String),
    /// A regex in the document could not be compiled.
    #[error("cannot compile uap regexes: {0}")]
    Compile(String),
}

/// [`UserAgentParser`] backed by the `ua-parser` crate and uap-core regexes.
///
/// Building one deserialises and compiles about 1,200 regexes and their
/// prefilter: roughly 0.4 s of CPU in a release build (longer in debug) and
/// a few megabytes of memory. Build it once per process (for example with
/// [`UapParser::shared_embedded`]) and share it behind an [`Arc`]; a parse
/// then takes tens of microseconds, and a [`CachedParser`] hit about one.
///
/// ```
/// use sessionward_core::DeviceClass;
/// use sessionward_core::enrich::{UapParser, UserAgentParser};
///
/// let parser = UapParser::shared_embedded()?;
/// let parsed = parser.parse(
///     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
///      (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
/// );
/// assert_eq!(parsed.device.browser.as_deref(), Some("Chrome"));
/// assert_eq!(parsed.class, DeviceClass::Desktop);
/// # Ok::<(), sessionward_core::enrich::UaParserError>(())
/// ```
pub struct UapParser {
    extractor: ua_parser::Extractor<'static>,
}

impl fmt::Debug for UapParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UapParser").finish_non_exhaustive()
    }
}

impl UapParser {
    /// Builds a parser from the embedded uap-core 0.18.0 regexes.
    ///
    /// This compiles the full regex set each time it is called (see the
    /// type-level docs for the cost); prefer [`UapParser::shared_embedded`]
    /// unless you need a separate instance.
    pub fn embedded() -> Result<Self, UaParserError> {
        Self::from_json(EMBEDDED_REGEXES)
    }

    /// The process-wide parser built from the embedded regexes: the first
    /// call builds it, later calls return the same [`Arc`].
    pub fn shared_embedded() -> Result<Arc<Self>, UaParserError> {
        static SHARED: OnceLock<Result<Arc<UapParser>, UaParserError>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::embedded().map(Arc::new))
            .clone()
    }

    /// Builds a parser from a uap-core `regexes.yaml` document converted to
    /// JSON (top-level keys `user_agent_parsers`, `os_parsers`,
    /// `device_parsers`). Use this to ship a newer regex set than the
    /// embedded one.
    pub fn from_json(bytes: &[u8]) -> Result<Self, UaParserError> {
        let regexes: ua_parser::Regexes<'static> =
            serde_json::from_slice(bytes).map_err(|e| UaParserError::Format(e.to_string()))?;
        let extractor = ua_parser::Extractor::try_from(regexes)
            .map_err(|e| UaParserError::Compile(e.to_string()))?;
        Ok(Self { extractor })
    }
}

impl UserAgentParser for UapParser {
    fn parse(&self, ua: &str) -> ParsedUserAgent {
        let ua = bounded(ua);
        let ua = ua.trim();
        if ua.is_empty() {
            return ParsedUserAgent::default();
        }
        let (browser, os, dev) = self.extractor.extract(ua);
        let mut device = DeviceInfo::default();
        if let Some(b) = browser {
            device.browser = known(&b.family);
            device.browser_version = join_version(&[b.major, b.minor]);
        }
        if let Some(o) = os {
            device.os = known(&o.os);
            device.os_version =
                join_version(&[o.major.as_deref(), o.minor.as_deref(), o.patch.as_deref()]);
        }
        if let Some(d) = dev {
            device.device_family = known(&d.device);
            device.device_brand = d.brand.as_deref().and_then(known);
            device.device_model = d.model.as_deref().and_then(known);
        }
        let class = classify(ua, &device);
        ParsedUserAgent { device, class }
    }
}

/// Sanitises and truncates to [`MAX_USER_AGENT_LEN`] bytes.
fn bounded(ua: &str) -> String {
    sanitize_text(ua, MAX_USER_AGENT_LEN)
}

/// uap reports unknown values as "Other"; we report them as `None`.
fn known(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() || value == "Other" {
        None
    } else {
        Some(value.to_owned())
    }
}

/// Joins the leading present, non-empty version parts with dots.
fn join_version(parts: &[Option<&str>]) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Some(p) if !p.is_empty() => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(p);
            }
            _ => break,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Lower-case fragments of scripted HTTP clients and crawlers that uap-core
/// does not report as the "Spider" device. Matched case-insensitively as
/// substrings of the (truncated) User-Agent.
const BOT_MARKERS: &[&str] = &[
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp/",
    "go-http-client",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "lwp::simple",
    "node-fetch",
    "axios/",
    "undici",
    "postmanruntime",
    "insomnia/",
    "httpie/",
    "scrapy",
    "headlesschrome",
    "phantomjs",
    "bot/",
    "bot;",
    "bot)",
    "crawler",
    "spider",
];

/// OS families (as uap-core names them) that mean a desktop or laptop.
const DESKTOP_OS: &[&str] = &[
    "Windows",
    "Mac OS X",
    "Linux",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Red Hat",
    "SUSE",
    "openSUSE",
    "Mint",
    "Arch Linux",
    "Gentoo",
    "CentOS",
    "Chrome OS",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
];

/// OS families that only run on phones or other handhelds.
const MOBILE_OS: &[&str] = &[
    "iOS",
    "Windows Phone",
    "BlackBerry OS",
    "KaiOS",
    "Firefox OS",
    "Symbian OS",
    "Tizen",
    "HarmonyOS",
];

/// Derives the device class.
///
/// In order: `Bot` when uap reports the "Spider" device or the UA contains a
/// known scripted-client marker; `Tablet` for iPads, Kindles, devices whose
/// family or UA says "Tablet" (not Windows' "Tablet PC"), and Android *browsers* (`Mozilla/…`) without
/// the "Mobile" token (Google's convention); `Mobile` for iPhones/iPods,
/// handheld operating systems, Android app clients (`Dalvik`) and UAs with
/// "Mobile"/"Mobi"; `Desktop` for desktop operating systems; else `Other`
/// (including bare library UAs such as `okhttp/4.12.0`, which reveal no
/// device).
fn classify(ua: &str, device: &DeviceInfo) -> DeviceClass {
    let lower = ua.to_ascii_lowercase();
    let family = device.device_family.as_deref().unwrap_or("");
    let os = device.os.as_deref().unwrap_or("");

    if family == "Spider" || BOT_MARKERS.iter().any(|m| lower.contains(m)) {
        return DeviceClass::Bot;
    }

    let mobile_token = lower.contains("mobi");
    let family_lower = family.to_ascii_lowercase();
    let is_android = os == "Android" || lower.contains("android");
    if family == "iPad"
        || family_lower.contains("tablet")
        || family_lower.contains("kindle")
        || (lower.contains("tablet") && !lower.contains("tablet pc"))
        || lower.contains("ipad")
        || (is_android && lower.starts_with("mozilla/") && !mobile_token)
    {
        return DeviceClass::Tablet;
    }

    if family == "iPhone"
        || family == "iPod"
        || family_lower.starts_with("ipod")
        || MOBILE_OS.contains(&os)
        || is_android
        || mobile_token
    {
        return DeviceClass::Mobile;
    }

    if DESKTOP_OS.contains(&os) {
        return DeviceClass::Desktop;
    }
    DeviceClass::Other
}

/// A [`UserAgentParser`] that memoises another one in a bounded cache.
///
/// Keys are the sanitised, truncated User-Agent (at most
/// [`MAX_USER_AGENT_LEN`] bytes), so the cache holds at most `capacity`
/// entries of bounded size. When it is full, the next miss **clears the
/// whole cache** and starts again: no per-entry bookkeeping, and a flood of
/// distinct User-Agents cannot grow memory. Real traffic has few distinct
/// User-Agents, so hot entries come back after a clear within a few
/// requests. A capacity of 0 disables caching.
///
/// ```
/// use sessionward_core::enrich::{CachedParser, UapParser, UserAgentParser};
///
/// let parser = CachedParser::new(UapParser::shared_embedded()?, 10_000);
/// let first = parser.parse("curl/8.5.0");
/// assert_eq!(parser.parse("curl/8.5.0"), first);
/// assert_eq!(parser.len(), 1);
/// # Ok::<(), sessionward_core::enrich::UaParserError>(())
/// ```
pub struct CachedParser<P> {
    inner: P,
    capacity: usize,
    cache: Mutex<HashMap<String, ParsedUserAgent>>,
}

impl<P> fmt::Debug for CachedParser<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedParser")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<P> CachedParser<P> {
    /// Default capacity used by [`CachedParser::with_default_capacity`].
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// Wraps `inner` with a cache of at most `capacity` entries.
    pub fn new(inner: P, capacity: usize) -> Self {
        Self {
            inner,
            capacity,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Wraps `inner` with a cache of [`Self::DEFAULT_CAPACITY`] entries
    /// (about 4 MB worst case with maximal User-Agents).
    pub fn with_default_capacity(inner: P) -> Self {
        Self::new(inner, Self::DEFAULT_CAPACITY)
    }

    /// The wrapped parser.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Maximum number of cached entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of cached entries right now.
    pub fn len(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every cached entry.
    pub fn clear(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }
}

impl<P: UserAgentParser> UserAgentParser for CachedParser<P> {
    fn parse(&self, ua: &str) -> ParsedUserAgent {
        let key = bounded(ua);
        if self.capacity == 0 {
            return self.inner.parse(&key);
        }
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.get(&key)
        {
            return hit.clone();
        }
        // Parse outside the lock so a slow parse never blocks other threads.
        let parsed = self.inner.parse(&key);
        // A poisoned lock only means another thread panicked mid-insert;
        // skip caching rather than propagate.
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= self.capacity {
                cache.clear();
            }
            cache.insert(key, parsed.clone());
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_join_stops_at_gap() {
        assert_eq!(
            join_version(&[Some("1"), None, Some("3")]).as_deref(),
            Some("1")
        );
        assert_eq!(join_version(&[None]), None);
        assert_eq!(
            join_version(&[Some("17"), Some("1")]).as_deref(),
            Some("17.1")
        );
    }

    #[test]
    fn cache_clears_when_full() {
        struct Count;
        impl UserAgentParser for Count {
            fn parse(&self, _ua: &str) -> ParsedUserAgent {
                ParsedUserAgent::default()
            }
        }
        let p = CachedParser::new(Count, 2);
        p.parse("a");
        p.parse("b");
        assert_eq!(p.len(), 2);
        p.parse("c");
        assert_eq!(p.len(), 1);
        p.parse("c");
        assert_eq!(p.len(), 1);
    }
}
