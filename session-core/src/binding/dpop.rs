//! DPoP proofs (RFC 9449): policy, request facts, URI normalisation,
//! server nonces, and the checks of §4.3 short of the replay record.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ProofError;
use super::proof;
use super::replay::ReplayKey;
use crate::time::Timestamp;

/// Header `typ` of DPoP proofs.
pub const DPOP_TYP: &str = "dpop+jwt";

/// The algorithms accepted in proofs, as `WWW-Authenticate: DPoP algs=…`
/// lists them.
pub const DPOP_ALGORITHMS: &str = "ES256 EdDSA";

/// Longest `jti` accepted, in bytes.
pub const MAX_DPOP_JTI_LEN: usize = 256;

/// Longest `htu` or request URI accepted, in bytes.
const MAX_URI_LEN: usize = 2048;

/// Whether sessions may or must be bound to a DPoP key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DpopMode {
    /// Proofs are ignored; sessions are never bound.
    Off,
    /// A login or refresh with a proof binds the session; sessions without
    /// one work as plain bearer sessions. Bound sessions always need the key.
    #[default]
    Optional,
    /// Every login, refresh and request needs a proof.
    Required,
}

/// DPoP settings of a [`crate::SessionPolicy`].
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::binding::{DpopMode, DpopPolicy};
/// let p = DpopPolicy::default();
/// assert_eq!(p.mode, DpopMode::Optional);
/// assert_eq!(p.proof_lifetime, Duration::from_secs(60));
/// assert!(!p.nonces);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpopPolicy {
    /// Off, optional or required.
    pub mode: DpopMode,
    /// How old a proof's `iat` may be (and, with the token clock skew, how
    /// long its `jti` is remembered).
    pub proof_lifetime: Duration,
    /// Whether proofs must carry a server nonce (`DPoP-Nonce`, RFC 9449 §8),
    /// which bounds a proof made ahead of time by a thief holding the key
    /// for a moment.
    pub nonces: bool,
    /// How long one nonce is handed out; the previous one stays accepted for
    /// as long again.
    pub nonce_lifetime: Duration,
    /// Whether a bound session whose tokens come without a valid proof by
    /// its key (no proof, a proof by another key, a signature that does
    /// not verify) is ended at once, as a theft. Other refusals (stale or
    /// replayed proofs, a wrong URI or method, missing nonces), which an
    /// honest client's clock, proxy or retry can cause, never end it. Off
    /// by default: the refusal and its `authn_key_proof_failed` event then
    /// leave the owner signed in.
    pub revoke_on_failure: bool,
}

impl Default for DpopPolicy {
    fn default() -> Self {
        DpopPolicy {
            mode: DpopMode::Optional,
            proof_lifetime: Duration::from_secs(60),
            nonces: false,
            nonce_lifetime: Duration::from_secs(300),
            revoke_on_failure: false,
        }
    }
}

/// A DPoP proof with the request it came with: the `DPoP` header, the
/// method, and the request's absolute URI as the client addressed it
/// (`https://api.example.com/orders`; the adapters build it from the
/// configured public origin and the path).
#[derive(Clone, PartialEq, Eq)]
pub struct DpopRequest {
    pub(crate) proof: String,
    pub(crate) method: String,
    pub(crate) uri: String,
}

impl DpopRequest {
    /// The proof `proof` on a `method` request to `uri`.
    pub fn new(
        proof: impl Into<String>,
        method: impl Into<String>,
        uri: impl Into<String>,
    ) -> Self {
        DpopRequest {
            proof: proof.into(),
            method: method.into(),
            uri: uri.into(),
        }
    }

    /// The request's method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

impl fmt::Debug for DpopRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopRequest")
            .field("proof", &"[redacted]")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .finish()
    }
}

/// The base64url SHA-256 of an access token: a proof's `ath`.
pub(crate) fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// `uri` normalised for comparison (RFC 9449 §4.3 step 9 and RFC 3986
/// §6.2.2–6.2.3): scheme and host lower-cased, the default port dropped,
/// percent-escapes upper-cased and unreserved ones decoded, dot segments
/// removed, an empty path made `/`, query and fragment dropped. `None` for
/// anything but an absolute `http`/`https` URI without user information.
pub(crate) fn normalize_uri(uri: &str) -> Option<String> {
    if uri.len() > MAX_URI_LEN || !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let without_fragment = uri.split('#').next().unwrap_or("");
    let without_query = without_fragment.split('?').next().unwrap_or("");
    let (scheme, rest) = without_query.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal's colons are inside the brackets.
        Some((h, p)) if !p.contains(']') => (h, p),
        _ => (authority, ""),
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let port = port.trim_start_matches('0');
    let authority = if port.is_empty() || port == default_port {
        host
    } else {
        format!("{host}:{port}")
    };
    let path = remove_dot_segments(&normalize_escapes(path)?);
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    Some(format!("{scheme}://{authority}{path}"))
}

/// Upper-cases percent-escapes and decodes those of unreserved characters.
fn normalize_escapes(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(hex, 16).ok()?;
            if value.is_ascii_alphanumeric() || b"-._~".contains(&value) {
                out.push(char::from(value));
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            out.push(char::from(bytes[i]));
            i += 1;
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4 on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match *segment {
            "." => {
                if last {
                    segments.push("");
                }
            }
            ".." => {
                segments.pop();
                if last {
                    segments.push("");
                }
            }
            s => segments.push(s),
        }
    }
    if path.is_empty() {
        return String::new();
    }
    format!("/{}", segments.join("/"))
}

/// The server-nonce key: nonces are HMACs of a time bucket, so every
/// instance sharing the refresh key issues and accepts the same ones with
/// no shared state.
#[derive(Clone)]
pub(crate) struct NonceKey([u8; 32]);

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey([redacted])")
    }
}

impl NonceKey {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        NonceKey(key)
    }

    fn mac(&self, bucket: i64) -> [u8; 16] {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(b"sessionward-dpop-nonce:");
        mac.update(&bucket.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    fn bucket(now: Timestamp, lifetime: Duration) -> i64 {
        let secs = i64::try_from(lifetime.as_secs().max(1)).unwrap_or(i64::MAX);
        now.unix_seconds().div_euclid(secs)
    }

    /// The nonce to hand out at `now`.
    pub(crate) fn issue(&self, now: Timestamp, lifetime: Duration) -> String {
        let bucket = Self::bucket(now, lifetime);
        let mut raw = bucket.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.mac(bucket));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` is the current or the previous bucket's.
    pub(crate) fn accepts(&self, nonce: &str, now: Timestamp, lifetime: Duration) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Ok(raw) = <[u8; 24]>::try_from(raw.as_slice()) else {
            return false;
        };
        let mut bucket_bytes = [0u8; 8];
        bucket_bytes.copy_from_slice(&raw[..8]);
        let bucket = i64::from_be_bytes(bucket_bytes);
        let current = Self::bucket(now, lifetime);
        (bucket == current || Some(bucket) == current.checked_sub(1))
            && bool::from(self.mac(bucket).ct_eq(&raw[8..]))
    }
}

/// A proof that passed every check but the replay record.
#[derive(Debug, Clone)]
pub(crate) struct CheckedDpop {
    /// The key's thumbprint.
    pub(crate) jkt: String,
    /// The replay-cache entry to claim.
    pub(crate) replay_key: ReplayKey,
    /// Until when the entry must be kept.
    pub(crate) replay_until: Timestamp,
}

/// Checks `request` (RFC 9449 §4.3) at `now`; `access_token` is the token
/// the proof must be for (`ath`), on resource requests.
pub(crate) fn verify_dpop(
    policy: &DpopPolicy,
    max_clock_skew: Duration,
    nonces: &NonceKey,
    request: &DpopRequest,
    access_token: Option<&str>,
    now: Timestamp,
) -> Result<CheckedDpop, ProofError> {
    let proof = proof::verify(&request.proof, DPOP_TYP, proof::KeySource::Header)?;
    let jti = proof.text("jti", MAX_DPOP_JTI_LEN)?;
    if proof.text("htm", 16)? != request.method {
        return Err(ProofError::MethodMismatch);
    }
    let htu = normalize_uri(proof.text("htu", MAX_URI_LEN)?).ok_or(ProofError::Claim("htu"))?;
    match normalize_uri(&request.uri) {
        Some(uri) if uri == htu => {}
        _ => return Err(ProofError::UriMismatch),
    }
    let iat = Timestamp::from_unix_millis(proof.seconds("iat")?.saturating_mul(1000));
    let oldest = now.minus(policy.proof_lifetime).minus(max_clock_skew);
    let newest = now.plus(max_clock_skew);
    if iat < oldest || iat > newest {
        return Err(ProofError::Stale);
    }
    if let Some(token) = access_token {
        let expected = access_token_hash(token);
        match proof
            .optional_text("ath")
            .map_err(|_| ProofError::AccessTokenHash)?
        {
            Some(ath) if bool::from(ath.as_bytes().ct_eq(expected.as_bytes())) => {}
            _ => return Err(ProofError::AccessTokenHash),
        }
    }
    if policy.nonces {
        let fresh = || ProofError::UseNonce(nonces.issue(now, policy.nonce_lifetime));
        match proof.optional_text("nonce").map_err(|_| fresh())? {
            Some(n) if nonces.accepts(n, now, policy.nonce_lifetime) => {}
            _ => return Err(fresh()),
        }
    }
    let jkt = proof.key.thumbprint();
    Ok(CheckedDpop {
        replay_key: ReplayKey::new("dpop", &jkt, jti),
        jkt,
        // Accepted while `iat` is at most lifetime + skew old, and `iat` may
        // be up to skew ahead: remember the `jti` that long after `now`,
        // plus one skew more for an instance whose clock is behind ours.
        replay_until: now.plus(policy.proof_lifetime).plus(max_clock_skew * 3),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_normalised_as_rfc3986_says() {
        let n = |u: &str| normalize_uri(u);
        assert_eq!(
            n("HTTPS://Server.Example.COM:443/a/./b/../c?q=1#f").as_deref(),
            Some("https://server.example.com/a/c")
        );
        assert_eq!(n("http://h:80").as_deref(), Some("http://h/"));
        assert_eq!(n("http://h:8080/x").as_deref(), Some("http://h:8080/x"));
        assert_eq!(
            n("https://h/%7euser/%2f").as_deref(),
            Some("https://h/~user/%2F")
        );
        assert_eq!(
            n("http://[::1]:3000/p").as_deref(),
            Some("http://[::1]:3000/p")
        );
        assert_eq!(n("http://[::1]/p").as_deref(), Some("http://[::1]/p"));
        for bad in [
            "ftp://h/",
            "/relative",
            "https://user@h/",
            "https://h:x/",
            "https://h/%zz",
            "https://h/ sp",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonces_last_two_buckets_and_are_keyed() {
        let key = NonceKey::new([7; 32]);
        let life = Duration::from_secs(300);
        let t = Timestamp::from_unix_millis(1_800_000_000_000);
        let nonce = key.issue(t, life);
        assert!(key.accepts(&nonce, t, life));
        assert!(key.accepts(&nonce, t.plus(life), life));
        assert!(!key.accepts(&nonce, t.plus(life * 2), life));
        assert!(!NonceKey::new([8; 32]).accepts(&nonce, t, life));
        assert!(!key.accepts("garbage", t, life));
    }
}
