//! Key layout: every key of one user shares one `{hash tag}`, so every
//! per-user operation touches a single Redis Cluster slot.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sessionward_core::{SessionId, Timestamp, UserId};
use sha2::{Digest, Sha256};

/// Number of Redis Cluster hash slots.
pub const CLUSTER_SLOTS: u16 = 16384;

/// Characters a key prefix may not contain: braces would move the hash tag,
/// glob metacharacters would break the `SCAN MATCH` pattern of purges.
const FORBIDDEN_PREFIX_CHARS: &[char] = &['{', '}', '*', '?', '[', ']', '\\'];

/// Whether `prefix` can be used as a key prefix.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= 64
        && !prefix.chars().any(|c| c.is_control() || c.is_whitespace())
        && !prefix.contains(FORBIDDEN_PREFIX_CHARS)
}

/// The hash tag of a user: base64url (no padding) of SHA-256 of the user id,
/// 43 characters from `[A-Za-z0-9_-]`.
///
/// User ids may contain `{`, `}` or any other printable text; hashing keeps
/// them out of the key (no tag injection, no personal data in key names) and
/// gives every user a fixed-length tag. A collision would need a SHA-256
/// collision.
pub fn user_tag(user: &UserId) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(user.as_str().as_bytes()))
}

/// The hash holding all sessions of `user`: `<prefix>{<user tag>}:s`.
pub(crate) fn sessions_key(prefix: &str, user: &UserId) -> String {
    format!("{prefix}{{{}}}:s", user_tag(user))
}

/// The hash holding the login history of `user` for risk scoring:
/// `<prefix>{<user tag>}:h`, in the same slot as the session hash.
pub(crate) fn history_key(prefix: &str, user: &UserId) -> String {
    format!("{prefix}{{{}}}:h", user_tag(user))
}

/// The key naming the user whose sessions `hash_key` holds (`<stem>:u`, in
/// the same slot): the hash's name carries only a digest of the user id.
pub(crate) fn owner_key_of(hash_key: &str) -> Option<String> {
    hash_key.strip_suffix(":s").map(|stem| format!("{stem}:u"))
}

/// [`owner_key_of`] the sessions hash of `user`.
pub(crate) fn owner_key(prefix: &str, user: &UserId) -> String {
    format!("{prefix}{{{}}}:u", user_tag(user))
}

/// The sorted set of a tenant's sessions (members `<session hash key>\n<id>`,
/// scored by absolute end) that per-tenant limits count across users:
/// `<prefix>tenant:<tenant>`. It spans users' hash slots, so only a
/// standalone server counts tenants.
pub(crate) fn tenant_key(prefix: &str, tenant: &sessionward_core::TenantId) -> String {
    format!("{prefix}tenant:{tenant}")
}

/// The session directory's cross-user index: one sorted set of every
/// session, all scored 0 so `ZREVRANGEBYLEX` walks it in page order
/// (members from [`directory_member`]): `<prefix>directory`. It spans users'
/// hash slots, so only a standalone server keeps it.
pub(crate) fn directory_key(prefix: &str) -> String {
    format!("{prefix}directory")
}

/// Set once [`directory_key`] lists every session hash the server held when
/// it was built (`<prefix>directory:built`); every later create adds its own
/// entry.
pub(crate) fn directory_built_key(prefix: &str) -> String {
    format!("{prefix}directory:built")
}

/// Held (with an expiry) by the one instance building [`directory_key`]:
/// `<prefix>directory:building`.
pub(crate) fn directory_building_key(prefix: &str) -> String {
    format!("{prefix}directory:building")
}

/// A session's entry in the directory index: its creation time (16 hex
/// digits of the Unix milliseconds with the sign bit flipped, so bytes sort
/// as numbers do), the user id, a NUL byte, and the session id. User ids
/// hold no control characters, so byte order of entries is the order of
/// `(created_at, user, id)` that directory pages use.
pub(crate) fn directory_member(created_at: Timestamp, user: &UserId, id: &SessionId) -> String {
    let ordered = (created_at.unix_millis() as u64) ^ (1 << 63);
    format!("{ordered:016x}{}\0{}", user.as_str(), id.as_str())
}

/// The `(created_at, user, id)` of a [`directory_member`]; `None` for
/// anything else.
pub(crate) fn parse_directory_member(member: &str) -> Option<(Timestamp, UserId, SessionId)> {
    let (time, rest) = (member.get(..16)?, member.get(16..)?);
    let ordered = u64::from_str_radix(time, 16).ok()?;
    let (user, id) = rest.split_once('\0')?;
    Some((
        Timestamp::from_unix_millis((ordered ^ (1 << 63)) as i64),
        UserId::new(user).ok()?,
        SessionId::parse(id).ok()?,
    ))
}

/// The four keys of a user's sessions, from their common stem
/// `<prefix>{<user tag>}`: the hash (`…:s`), the sorted sets indexing its
/// unrevoked (`…:a`) and revoked (`…:r`) entries by absolute end, and the
/// user's "not before" mark (`…:nb`, Unix milliseconds, no expiry).
fn session_keys_from_stem(stem: &str) -> [String; 4] {
    [
        format!("{stem}:s"),
        format!("{stem}:a"),
        format!("{stem}:r"),
        format!("{stem}:nb"),
    ]
}

/// [`session_keys_from_stem`] of `user`.
pub(crate) fn session_keys(prefix: &str, user: &UserId) -> [String; 4] {
    session_keys_from_stem(&format!("{prefix}{{{}}}", user_tag(user)))
}

/// The session keys of the hash `hash_key` (a `SCAN` hit of
/// [`sessions_pattern`]); `None` for a key that is not a session hash.
pub(crate) fn session_keys_of(hash_key: &str) -> Option<[String; 4]> {
    hash_key.strip_suffix(":s").map(session_keys_from_stem)
}

/// Every key that per-user operations on `user` touch under `prefix`: the
/// session hash (first), the login-history hash, the two indexes of the
/// session hash (unrevoked, revoked), the "not before" mark, then the owner
/// key (the user id, for the session directory). All carry the user's hash
/// tag, so they share one cluster slot. (The cross-user keys of risk scoring, per IP
/// address and per single-use token id, are not per-user and live in their
/// own slots.)
pub fn keys_for_user(prefix: &str, user: &UserId) -> Vec<String> {
    let [hash, active, revoked, mark] = session_keys(prefix, user);
    vec![
        hash,
        history_key(prefix, user),
        active,
        revoked,
        mark,
        owner_key(prefix, user),
    ]
}

/// base64url (no padding) of the first 16 bytes of SHA-256 of `parts`
/// (22 characters from `[A-Za-z0-9_-]`).
fn short_digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    URL_SAFE_NO_PAD.encode(&h.finalize()[..16])
}

/// The sorted set of recent logins from `ip` (any user):
/// `<prefix>ip:{<digest of the IP>}`, its own slot. The address is hashed so
/// no IP address appears in a key name; IPv4-mapped IPv6 addresses count as
/// their IPv4 address.
pub(crate) fn ip_key(prefix: &str, ip: std::net::IpAddr) -> String {
    let ip = ip.to_canonical().to_string();
    format!("{prefix}ip:{{{}}}", short_digest(&[b"ip\0", ip.as_bytes()]))
}

/// The marker of a used single-use token id:
/// `<prefix>once:{<SHA-256 of the id, base64url>}`, its own slot.
pub(crate) fn once_key(prefix: &str, token_id: &str) -> String {
    format!(
        "{prefix}once:{{{}}}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(token_id.as_bytes()))
    )
}

/// The history-hash field of a device fingerprint: `fp:` and a 128-bit
/// digest, so fields stay short (the hash keeps its compact listpack
/// encoding) whatever the fingerprint text is.
pub(crate) fn fingerprint_field(fingerprint: &str) -> String {
    format!("fp:{}", short_digest(&[fingerprint.as_bytes()]))
}

/// `SCAN MATCH` pattern for all per-user session hashes under `prefix`
/// (the prefix is validated to contain no glob metacharacters).
pub(crate) fn sessions_pattern(prefix: &str) -> String {
    format!("{prefix}{{*}}:s")
}

/// The pub/sub channel revocations are published on.
pub(crate) fn revoked_channel(prefix: &str) -> String {
    format!("{prefix}revoked")
}

/// The Redis Cluster hash slot of `key`: CRC16/XMODEM of the hash tag (the
/// text between the first `{` and the next `}`, when non-empty) or of the
/// whole key, modulo 16384. Same rule as the server's `CLUSTER KEYSLOT`.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|b| *b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|b| *b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16_xmodem(hashed) % CLUSTER_SLOTS
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_redis_reference_values() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }

    #[test]
    fn session_keys_share_the_hash_and_its_slot() {
        let user = UserId::new("alice").unwrap();
        let keys = session_keys("sw:", &user);
        assert_eq!(keys[0], sessions_key("sw:", &user));
        assert_eq!(session_keys_of(&keys[0]), Some(keys.clone()));
        assert!(keys[1].ends_with(":a") && keys[2].ends_with(":r") && keys[3].ends_with(":nb"));
        let slot = key_slot(keys[0].as_bytes());
        assert!(keys.iter().all(|k| key_slot(k.as_bytes()) == slot));
        assert_eq!(session_keys_of("sw:{x}:h"), None);
    }

    #[test]
    fn directory_members_sort_as_pages_do() {
        let id = |n: u8| SessionId::parse(&format!("{:0>22}", n)).unwrap();
        let member = |ms: i64, user: &str, n: u8| {
            directory_member(
                Timestamp::from_unix_millis(ms),
                &UserId::new(user).unwrap(),
                &id(n),
            )
        };
        // Ascending (created_at, user bytes, id bytes), a prefix user first.
        let ordered = [
            member(-5, "zed", 9),
            member(0, "a", 1),
            member(0, "a", 2),
            member(0, "ab", 1),
            member(1, "a", 1),
            member(i64::MAX, "a", 1),
        ];
        assert!(ordered.windows(2).all(|w| w[0] < w[1]), "{ordered:?}");
        let (at, user, sid) = parse_directory_member(&ordered[0]).unwrap();
        assert_eq!((at.unix_millis(), user.as_str(), sid), (-5, "zed", id(9)));
        assert_eq!(parse_directory_member("short"), None);
        assert_eq!(parse_directory_member("00000000000000zzalice\0x"), None);
    }

    #[test]
    fn prefixes_cannot_move_the_hash_tag() {
        assert!(valid_prefix("sw:"));
        assert!(valid_prefix(""));
        for bad in ["a{b", "a}", "x*", "a b", "a\n", "[x]"] {
            assert!(!valid_prefix(bad), "{bad:?} accepted");
        }
    }
}
