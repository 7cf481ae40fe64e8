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
//! reuse detected) or has rotated [`MAX_ROTATIONS`] times, every session is
//! purged from the store and the fuzz user logs in again for a new one.
//! Both bounds keep the cost and memory of an input from growing over a
//! run: an edited token with a lower generation makes the manager walk the
//! HMAC chain up to the current generation (up to `MAX_CHAIN_WALK` = 4096
//! steps), the memory store keeps revoked sessions (never expired under the
//! frozen clock) and reads them all on every login, and the set of issued
//! tokens grew with every rotation.
//!
//! Properties checked besides "never panics":
//! - only tokens of the live family are ever accepted (an edited token
//!   never refreshes; the tokens of earlier families name purged sessions);
//! - a successful refresh returns a token for the same user and session.
#![no_main]

use std::collections::HashSet;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use sessionward_core::RefreshToken;
use sessionward_fuzz::{fixture, mutate};

/// Rotations after which the live family is replaced by a new one (bounds
/// the chain walk of every later input to this many steps).
const MAX_ROTATIONS: u32 = 64;

/// The live family's current token, every refresh token issued in it, and
/// how often it has rotated.
struct Family {
    current: String,
    issued: HashSet<String>,
    rotations: u32,
}

impl Family {
    fn starting_with(first: String) -> Self {
        Family {
            issued: HashSet::from([first.clone()]),
            current: first,
            rotations: 0,
        }
    }
}

/// Purges every session and logs the fuzz user in: a new, empty family.
fn new_family() -> Family {
    let fx = fixture();
    fx.purge_sessions();
    Family::starting_with(
        fx.login_again()
            .tokens
            .refresh_token
            .expose_secret()
            .to_owned(),
    )
}

static FAMILY: Mutex<Option<Family>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let mut guard = FAMILY.lock().unwrap_or_else(|e| e.into_inner());
    let family = guard.get_or_insert_with(|| {
        Family::starting_with(fx.login.tokens.refresh_token.expose_secret().to_owned())
    });

    let token = match mode % 2 {
        0 => String::from_utf8_lossy(payload).into_owned(),
        _ => mutate(&family.current, payload),
    };

    match fx.block_on(fx.manager.refresh(&RefreshToken::new(token.clone()))) {
        Ok(refreshed) => {
            assert!(
                family.issued.contains(&token),
                "a refresh token not issued in the live family was accepted: {token:?}"
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
            if !refreshed.grace_replay {
                family.rotations += 1;
            }
            if family.rotations >= MAX_ROTATIONS {
                *family = new_family();
            }
        }
        Err(_) if token == family.current => {
            // The genuine current token was refused: the family has ended
            // (for instance reuse was detected). Start a new one.
            *family = new_family();
        }
        Err(_) => {}
    }
});
