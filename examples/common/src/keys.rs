//! Token keys: from `SESSIONWARD_SIGNING_KEY` / `SESSIONWARD_REFRESH_KEY`
//! (hex) or random at startup.
//!
//! Random keys mean every restart logs everybody out (tokens no longer
//! verify), which suits a demo. Several instances behind one load balancer
//! must share the same keys.

use sessionward_core::tokens::{SigningKey, TokenConfig};

/// Issuer claim of the example apps' tokens.
pub const ISSUER: &str = "http://sessionward.example";
/// Audience claim of the example apps' tokens.
pub const AUDIENCE: &str = "sessionward-example";

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

fn random_32() -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no system randomness: {e}"))?;
    Ok(key)
}

fn key_from_env(
    name: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    match env(name) {
        None => Ok(None),
        Some(v) => match decode_hex(&v) {
            Some(bytes) if bytes.len() >= 32 => Ok(Some(bytes)),
            _ => Err(format!(
                "{name} must be at least 32 bytes of hex (64+ hex digits)"
            )),
        },
    }
}

/// Builds the token configuration; the flag says whether keys were random.
///
/// # Errors
/// A message when a key variable is malformed.
pub fn token_config(env: impl Fn(&str) -> Option<String>) -> Result<(TokenConfig, bool), String> {
    let signing = key_from_env("SESSIONWARD_SIGNING_KEY", &env)?;
    let refresh = key_from_env("SESSIONWARD_REFRESH_KEY", &env)?;
    let random = signing.is_none() || refresh.is_none();
    let signing = match signing {
        Some(k) => k,
        None => random_32()?.to_vec(),
    };
    let refresh: [u8; 32] = match refresh {
        Some(k) => {
            let mut out = [0u8; 32];
            out.copy_from_slice(&k[..32]);
            out
        }
        None => random_32()?,
    };
    let key = SigningKey::hs256("example-1", &signing).map_err(|e| e.to_string())?;
    let config = TokenConfig::builder(ISSUER, AUDIENCE)
        .signing_key(key)
        .refresh_key(refresh)
        .build()
        .map_err(|e| e.to_string())?;
    Ok((config, random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_keys() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0g"), None);
        let k = "ab".repeat(32);
        let env = |n: &str| (n.starts_with("SESSIONWARD_")).then(|| k.clone());
        let (_, random) = token_config(env).unwrap();
        assert!(!random);
        let (_, random) = token_config(|_| None).unwrap();
        assert!(random);
        assert!(token_config(|_| Some("abcd".into())).is_err());
    }
}
