//! User-Agent enrichment: the embedded uap-core parser behind the bounded
//! `CachedParser`, on arbitrary (lossy UTF-8) User-Agent strings.
//!
//! Properties checked besides "never panics":
//! - the cache never changes an answer: a cached parse equals a direct
//!   parse of the same input, and a repeated parse returns the same result.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sessionward_core::enrich::{CachedParser, UapParser, UserAgentParser};

/// Small capacity so the "clear when full" path runs often.
const CACHE_CAPACITY: usize = 64;

fn parser() -> &'static CachedParser<Arc<UapParser>> {
    static PARSER: OnceLock<CachedParser<Arc<UapParser>>> = OnceLock::new();
    PARSER.get_or_init(|| {
        let uap = UapParser::shared_embedded().expect("embedded regexes compile");
        CachedParser::new(uap, CACHE_CAPACITY)
    })
}

fuzz_target!(|data: &[u8]| {
    let ua = String::from_utf8_lossy(data);
    let cached = parser();
    let first = cached.parse(&ua);
    assert!(
        cached.len() <= CACHE_CAPACITY,
        "cache grew past its capacity"
    );
    assert_eq!(cached.parse(&ua), first, "repeated parse changed");
    assert_eq!(cached.inner().parse(&ua), first, "cache changed the answer");
});
