//! "This wasn't me" action tokens: `SessionManager::redeem_not_me`.
//!
//! The fixture manager has a `RiskEngine` (memory risk store), so action
//! tokens are verified and their `jti` burned. The first input byte picks
//! a mode, the rest is the payload:
//!
//! - `0`: the payload itself, as (lossy UTF-8) token text.
//! - `1`: a genuine `not_me` token (minted here with the manager's signing
//!   key, as the engine mints them for new-login notices), edited by the
//!   payload (see `sessionward_fuzz::mutate`). Its `jti` cycles through a
//!   small set so the burned-id store stays bounded and the "already used"
//!   path is exercised too.
//! - `2`: the payload as a JSON claims document (placeholders `$SUB`/`$SID`
//!   filled in), correctly signed with header `typ` `swr-action+jwt`.
//!
//! Properties checked besides "never panics":
//! - an accepted token is a `not_me` token with our `iss`/`aud`, unexpired;
//! - in mode `1` only the unedited genuine token is accepted.
#![no_main]

use std::sync::atomic::{AtomicU32, Ordering};

use libfuzzer_sys::fuzz_target;
use sessionward_core::{ACTION_TOKEN_TYP, ActionToken};
use sessionward_fuzz::{AUDIENCE, ISSUER, fill_placeholders, fixture, mutate};

/// Distinct `jti`s used by mode 1 (bounds the burned-id store).
const JTI_CYCLE: u32 = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let tokens = fx.manager.tokens();
    let now = fx.manager.now().unix_seconds();
    let (token, genuine, claims) = match mode % 3 {
        0 => (String::from_utf8_lossy(payload).into_owned(), None, None),
        1 => {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let jti = NEXT.fetch_add(1, Ordering::Relaxed) % JTI_CYCLE;
            let claims = serde_json::json!({
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": fx.user.as_str(),
                "jti": format!("fuzz-not-me-{jti}"),
                "iat": now,
                "exp": now + 7200,
                "act": "not_me",
                "sid": fx.login.session.id.as_str(),
            });
            let genuine = tokens
                .sign_jwt(ACTION_TOKEN_TYP, &claims)
                .expect("signing works");
            (mutate(&genuine, payload), Some(genuine), Some(claims))
        }
        _ => {
            let text = fill_placeholders(&String::from_utf8_lossy(payload), fx);
            let Ok(claims) = serde_json::from_str::<serde_json::Value>(&text) else {
                return;
            };
            let Ok(token) = tokens.sign_jwt(ACTION_TOKEN_TYP, &claims) else {
                return;
            };
            (token, None, Some(claims))
        }
    };

    if fx
        .block_on(fx.manager.redeem_not_me(&ActionToken::new(token.clone())))
        .is_err()
    {
        return;
    }
    // Accepted: it must be one of ours and valid right now.
    if let Some(genuine) = genuine {
        assert_eq!(token, genuine, "an edited action token was accepted");
    }
    // Mode 0 can replay a seed minted by another process with the same key;
    // its claims are not known here.
    let Some(claims) = claims else {
        return;
    };
    assert_eq!(claims["iss"], ISSUER, "accepted a foreign issuer");
    assert_eq!(claims["aud"], AUDIENCE, "accepted a foreign audience");
    assert_eq!(claims["act"], "not_me", "accepted another action");
    let exp = claims["exp"].as_i64().expect("accepted a non-integer exp");
    assert!(now < exp, "accepted an expired action token");
});
