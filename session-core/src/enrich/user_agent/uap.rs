//! [`UapParser`]: the uap project's `ua-parser` crate with the vendored
//! uap-core regexes (feature `user-agent`).

use std::fmt;
use std::sync::{Arc, Once, OnceLock};

use super::{ParsedUserAgent, UserAgentParser, bounded};
use crate::record::{DeviceClass, DeviceInfo};

/// The uap-core 0.18.0 `regexes.yaml`, converted once to JSON (see
/// `session-core/data/README.md`).
static EMBEDDED_REGEXES: &[u8] = include_bytes!("../../../data/uap-regexes.json");

/// The process-wide parser of [`UapParser::shared_embedded`], shared with
/// [`BackgroundUapParser`].
static SHARED_EMBEDDED: OnceLock<Result<Arc<UapParser>, UaParserError>> = OnceLock::new();

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
/// then takes tens of microseconds, and a [`CachedParser`](super::CachedParser) hit about one.
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
    /// call builds it, later calls return the same [`Arc`]. A call made
    /// while another thread builds it waits for that build.
    pub fn shared_embedded() -> Result<Arc<Self>, UaParserError> {
        SHARED_EMBEDDED
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

/// [`UserAgentParser`] over the embedded regexes that compiles them on a
/// background thread, so that building it costs nothing at startup.
///
/// [`UapParser::shared_embedded`] compiles about 1,200 regexes before it
/// returns: 0.4 s in a release build, several seconds in a debug one. An app
/// that builds its enricher at startup would not serve anything meanwhile.
/// This parser returns at once and starts that compile on its own thread;
/// a [`parse`](UserAgentParser::parse) that comes before the compile has
/// finished waits for it (typically the first login after a start), and
/// nothing else does. The compiled parser is
/// the process-wide one of [`UapParser::shared_embedded`]: it is built once,
/// however many of these are created.
///
/// The wait blocks the calling thread. On an async runtime that is a worker
/// thread for the rest of the compile (up to a few seconds in a debug
/// build), and with actix-web's single-threaded workers every connection of
/// that worker waits too. Where a login arriving in the first seconds
/// after a start must not hold a worker, call [`BackgroundUapParser::wait`]
/// from `tokio::task::spawn_blocking` before serving, or build
/// [`UapParser::shared_embedded`] at startup.
///
/// The embedded regexes are tested to compile, so the compile cannot fail in
/// a released build; if it ever did, [`BackgroundUapParser::wait`] returns
/// the error (use it in a readiness check) and each parse returns an
/// unknown device ([`ParsedUserAgent::default`]) and logs the error.
///
/// ```
/// use sessionward_core::DeviceClass;
/// use sessionward_core::enrich::{BackgroundUapParser, UserAgentParser};
///
/// let parser = BackgroundUapParser::embedded(); // returns at once
/// let parsed = parser.parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) \
///     AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1");
/// assert_eq!(parsed.class, DeviceClass::Mobile);
/// assert!(parser.is_ready());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BackgroundUapParser {
    _started: (),
}

impl BackgroundUapParser {
    /// Starts compiling the embedded regexes on a background thread (unless
    /// they are compiled or compiling already) and returns at once.
    pub fn embedded() -> Self {
        // One compile thread per process, however many parsers are made.
        static SPAWN: Once = Once::new();
        SPAWN.call_once(|| {
            if SHARED_EMBEDDED.get().is_none() {
                // A failed spawn (no threads left) only means the first parse
                // compiles the regexes itself.
                let _ = std::thread::Builder::new()
                    .name("sessionward-uap-compile".into())
                    .spawn(|| {
                        let _ = UapParser::shared_embedded();
                    });
            }
        });
        Self { _started: () }
    }

    /// Whether the compile has finished, so that a parse does not wait
    /// (also after a failed compile: [`BackgroundUapParser::wait`] tells which).
    pub fn is_ready(&self) -> bool {
        SHARED_EMBEDDED.get().is_some()
    }

    /// Waits until the regexes are compiled and returns the parser, or the
    /// error if they could not be compiled.
    pub fn wait(&self) -> Result<Arc<UapParser>, UaParserError> {
        UapParser::shared_embedded()
    }
}

impl UserAgentParser for BackgroundUapParser {
    fn parse(&self, ua: &str) -> ParsedUserAgent {
        match self.wait() {
            Ok(parser) => parser.parse(ua),
            Err(error) => {
                // Once: the same error would otherwise be logged per login.
                static LOGGED: Once = Once::new();
                LOGGED.call_once(|| {
                    tracing::error!(%error, "the embedded uap regexes did not compile: User-Agents are not parsed");
                });
                ParsedUserAgent::default()
            }
        }
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

#[cfg(test)]
mod tests {
    use super::join_version;

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
}
