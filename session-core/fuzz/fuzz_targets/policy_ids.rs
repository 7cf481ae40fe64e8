//! Identifier and timestamp parsing: `UserId::new`, `SessionId::parse`,
//! `Timestamp::parse_rfc3339`, on arbitrary (lossy UTF-8) text.
//!
//! Properties checked besides "never panics":
//! - an accepted id is returned unchanged, non-empty and without control
//!   characters (`UserId`) or as 22 base64url characters (`SessionId`);
//! - an accepted timestamp round-trips: formatting it with `to_rfc3339`
//!   and parsing that again gives the same instant (timestamps are stored
//!   and exchanged in that form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessionward_core::ids::SESSION_ID_LEN;
use sessionward_core::{SessionId, Timestamp, UserId};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    if let Ok(user) = UserId::new(text.as_ref()) {
        assert_eq!(user.as_str(), text, "user id altered");
        assert!(!user.as_str().is_empty());
        assert!(!user.as_str().chars().any(char::is_control));
    }

    if let Ok(id) = SessionId::parse(&text) {
        assert_eq!(id.as_str(), text, "session id altered");
        assert_eq!(id.as_str().len(), SESSION_ID_LEN);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    if let Some(t) = Timestamp::parse_rfc3339(&text) {
        let formatted = t.to_rfc3339();
        assert_eq!(
            Timestamp::parse_rfc3339(&formatted),
            Some(t),
            "{text:?} parsed to {formatted:?}, which does not parse back"
        );
    }
});
