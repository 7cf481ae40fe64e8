//! Refresh-token parsing and rotation: `SessionManager::refresh`.
//!
//! The first input byte picks a mode, the rest is the payload:
//!
//! - `0`: the payload itself, as (lossy UTF-8) token text.
//! - `1`: the current genuine refresh token of a live session, edited by
//!   the payload (see `sessionward_fuzz::mutate`).
//!
//! The target keeps one live refresh family: when a refresh succeeds, its
//! successor becomes the "current" token; if the family ends (revoked,
//! reuse detected), the fuzz user logs in again for a new one.
//!
//! Properties checked besides "never panics":
//! - only tokens this process was issued are ever accepted (an edited token
//!   never refreshes);
//! - a successful refresh returns a token for the same user and session.
#![no_main]

use std::collections::HashSet;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use sessionward_core::RefreshToken;
use sessionward_fuzz::{fixture, mutate};

/// The live family's current token and every refresh token issued so far.
struct Family {
    current: String,
    issued: HashSet<String>,
}

static FAMILY: Mutex<Option<Family>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let mut guard = FAMILY.lock().unwrap_or_else(|e| e.into_inner());
    let family = guard.get_or_insert_with(|| {
        let first = fx.login.tokens.refresh_token.expose_secret().to_owned();
        Family {
            issued: HashSet::from([first.clone()]),
            current: first,
        }
    });

    let token = match mode % 2 {
        0 => String::from_utf8_lossy(payload).into_owned(),
        _ => mutate(&family.current, payload),
    };

    match fx.block_on(fx.manager.refresh(&RefreshToken::new(token.clone()))) {
        Ok(refreshed) => {
            assert!(
                family.issued.contains(&token),
                "a refresh token that was never issued was accepted: {token:?}"
            );
            let next = refreshed.tokens.refresh_token.expose_secret().to_owned();
            let auth = fx
                .block_on(
                    fx.manager
                        .authenticate(refreshed.tokens.access_token.expose_secret()),
                )
                .expect("the access token of a successful refresh authenticates");
            assert_eq!(auth.user, fx.user);
            family.issued.insert(next.clone());
            family.current = next;
        }
        Err(_) if token == family.current => {
            // The genuine current token was refused: the family has ended
            // (for instance reuse was detected). Start a new one.
            let next = fx
                .login_again()
                .tokens
                .refresh_token
                .expose_secret()
                .to_owned();
            family.issued.insert(next.clone());
            family.current = next;
        }
        Err(_) => {}
    }
});
