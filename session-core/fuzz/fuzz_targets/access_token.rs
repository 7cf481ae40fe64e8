//! Access-token verification: `SessionManager::authenticate(&str)`.
//!
//! The first input byte picks a mode, the rest is the payload:
//!
//! - `0`: the payload itself, as (lossy UTF-8) token text.
//! - `1`: the genuine start-up access token, edited by the payload
//!   (see `sessionward_fuzz::mutate`).
//! - `2`: the payload as a JSON claims document (placeholders `$SUB`/`$SID`
//!   filled in), **correctly signed** with header `typ` `at+jwt`: explores
//!   claim validation behind a valid signature.
//! - `3`: like `2`, but the first payload line is the header `typ`.
//! - `4`: the payload split at its first newline into raw header bytes and
//!   raw claims bytes (placeholders filled in), **correctly signed** as they
//!   are (`sessionward_fuzz::sign_raw`): explores the strict JSON parsing
//!   (objects only, no duplicate members) behind a valid signature.
//!
//! Properties checked besides "never panics":
//! - an accepted token always has our `iss`/`aud`, is before `exp`, has
//!   `nbf` and `iat` no later than now plus the configured clock-skew
//!   allowance (`MAX_CLOCK_SKEW_SECS`), and names the session that was
//!   returned;
//! - in mode `1` only the unedited genuine token is accepted (no signature
//!   or encoding malleability);
//! - in mode `4` an accepted header and claims set are JSON objects.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use sessionward_core::ACTION_TOKEN_TYP;
use sessionward_core::tokens::ACCESS_TOKEN_TYP;
use sessionward_fuzz::{
    AUDIENCE, ISSUER, MAX_CLOCK_SKEW_SECS, fill_placeholders, fixture, mutate, sign_raw,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let genuine = fx.login.tokens.access_token.expose_secret();
    let token = match mode % 5 {
        0 => String::from_utf8_lossy(payload).into_owned(),
        1 => mutate(genuine, payload),
        2 => match sign(ACCESS_TOKEN_TYP, &String::from_utf8_lossy(payload)) {
            Some(t) => t,
            None => return,
        },
        3 => {
            let text = String::from_utf8_lossy(payload);
            let (typ, claims) = text.split_once('\n').unwrap_or((ACTION_TOKEN_TYP, &text));
            match sign(typ, claims) {
                Some(t) => t,
                None => return,
            }
        }
        _ => {
            let at = payload
                .iter()
                .position(|b| *b == b'\n')
                .unwrap_or(payload.len());
            let (header, claims) = payload.split_at(at);
            let claims = claims.strip_prefix(b"\n").unwrap_or(claims);
            let claims = fill_placeholders(&String::from_utf8_lossy(claims), fx);
            sign_raw(header, claims.as_bytes())
        }
    };

    let Ok(session) = fx.block_on(fx.manager.authenticate(&token)) else {
        return;
    };
    let now = fx.manager.now().unix_seconds();
    let c = &session.claims;
    assert_eq!(c.iss, ISSUER, "accepted a foreign issuer");
    assert_eq!(c.aud, AUDIENCE, "accepted a foreign audience");
    assert!(now < c.exp, "accepted an expired token");
    // Skew moves the start earlier only: `nbf`/`iat` may be up to the
    // allowance ahead of now (a genuine token from a clock running ahead).
    let latest_start = now + MAX_CLOCK_SKEW_SECS as i64;
    assert!(c.nbf <= latest_start, "accepted a token before nbf - skew");
    assert!(
        c.iat <= latest_start,
        "accepted a token issued in the future"
    );
    assert_eq!(c.sub, session.user.as_str());
    assert_eq!(c.sid, session.session_id.as_str());
    assert_eq!(
        session.session.user, session.user,
        "session of another user"
    );
    assert_eq!(session.session.id, session.session_id);
    if mode % 5 == 1 {
        assert_eq!(token, genuine, "an edited access token was accepted");
    }
    if mode % 5 == 4 {
        for part in token.split('.').take(2) {
            let json = URL_SAFE_NO_PAD.decode(part).expect("accepted base64url");
            let value: serde_json::Value =
                serde_json::from_slice(&json).expect("accepted header and claims are JSON");
            assert!(value.is_object(), "accepted a non-object header or claims");
        }
    }
});

/// Signs `claims` (JSON text with placeholders) as a JWT with header `typ`.
fn sign(typ: &str, claims: &str) -> Option<String> {
    let fx = fixture();
    let value: serde_json::Value = serde_json::from_str(&fill_placeholders(claims, fx)).ok()?;
    fx.manager.tokens().sign_jwt(typ, &value).ok()
}
