//! User-Agent parsing: browser, OS and device facts plus a [`DeviceClass`].
//!
//! `UapParser` (feature `user-agent`) uses the uap project's `ua-parser`
//! crate with the vendored uap-core 0.18.0 regexes; [`CachedParser`] puts a bounded cache in front of
//! any [`UserAgentParser`]. Every parser truncates its input to
//! [`MAX_USER_AGENT_LEN`] bytes (and replaces control characters) before
//! matching, so a hostile header costs at most one bounded regex pass.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::record::{DeviceClass, DeviceInfo, MAX_USER_AGENT_LEN, sanitize_text};

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

#[cfg(feature = "user-agent")]
mod uap;
#[cfg(feature = "user-agent")]
#[cfg_attr(docsrs, doc(cfg(feature = "user-agent")))]
pub use uap::{BackgroundUapParser, UaParserError, UapParser};

/// Sanitises and truncates to [`MAX_USER_AGENT_LEN`] bytes.
fn bounded(ua: &str) -> String {
    sanitize_text(ua, MAX_USER_AGENT_LEN)
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
