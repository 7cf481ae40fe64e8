//! Encoding script and command arguments, and decoding the numbers that
//! come back: the one place that decides how a time, a duration, an
//! optional limit or a limit mode is written to Redis.

use std::time::Duration;

use sessionward_core::{OnLimit, StoreError, Timestamp};

use crate::error::RedisStoreError;

pub(crate) fn mode_arg(on_limit: OnLimit) -> &'static str {
    match on_limit {
        OnLimit::EvictOldest => "oldest",
        OnLimit::EvictLeastRecentlyUsed => "lru",
        OnLimit::RejectNew => "reject",
    }
}

pub(crate) fn opt_arg(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

pub(crate) fn millis(t: Timestamp) -> String {
    t.unix_millis().to_string()
}

pub(crate) fn duration_millis(d: Duration) -> String {
    d.as_millis().to_string()
}

pub(crate) fn parse_millis(text: &str) -> Result<Timestamp, StoreError> {
    text.parse()
        .map(Timestamp::from_unix_millis)
        .map_err(|_| StoreError::Corrupt(format!("not a timestamp: {text:?}")))
}

pub(crate) fn unexpected() -> StoreError {
    StoreError::Backend(Box::new(RedisStoreError::UnexpectedReply))
}
