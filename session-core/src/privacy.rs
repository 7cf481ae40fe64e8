//! How client IP addresses are kept and shown.
//!
//! Two independent choices in the [`crate::SessionPolicy`]:
//! - [`IpStorage`]: what the store keeps (on the session, in its recent
//!   places, in the login-burst history) and what events carry;
//! - [`IpDisplay`]: what a user sees in the session list.
//!
//! Location and device are looked up from the real address when the
//! request arrives, before it is reduced, so truncating or hashing costs
//! nothing in what the session page can say about a place.
//!
//! ```
//! use sessionward_core::privacy::{IpDisplay, IpHashKey, IpPrivacy, IpStorage};
//!
//! let ip = "81.2.69.142".parse().unwrap();
//! let truncated = IpPrivacy::new(IpStorage::Truncated, IpDisplay::Full, None).unwrap();
//! assert_eq!(truncated.store(ip).to_string(), "81.2.69.0");
//! assert_eq!(truncated.show(Some(truncated.store(ip))).as_deref(), Some("81.2.69.0/24"));
//!
//! let key = IpHashKey::new([7; 32]);
//! let keyed = IpPrivacy::new(IpStorage::KeyedHash, IpDisplay::Full, Some(key)).unwrap();
//! let pseudonym = keyed.store(ip);
//! assert_eq!(pseudonym, keyed.store(ip)); // stable: per-IP limits still count
//! assert!(keyed.show(Some(pseudonym)).is_none()); // never shown as an address
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::enrich::geo::is_public_ip;

/// What the store keeps of a client IP address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpStorage {
    /// The full address (the default: per-IP limits and the session page
    /// work at full precision).
    #[default]
    Full,
    /// The network only: the first 24 bits of an IPv4 address, the first
    /// 48 of an IPv6 one (`81.2.69.0`, `2001:db8:1::`). Per-IP limits and
    /// the login-burst check then count per network.
    Truncated,
    /// A keyed hash (HMAC-SHA-256 under the manager's
    /// [`IpHashKey`]) of a public address, kept as an address inside the
    /// discard-only prefix `100::/64` (RFC 6666) so per-IP limits still
    /// count; never shown to users. Loopback and private addresses, which
    /// name no one outside the operator's network, are truncated instead, so
    /// they still read "This computer" / "Local network".
    KeyedHash,
}

/// What a user sees of a stored client IP address in the session list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpDisplay {
    /// The stored address as it is (the default).
    #[default]
    Full,
    /// The network, with its prefix length: `81.2.69.0/24`, `2001:db8:1::/48`.
    Truncated,
    /// No address at all.
    Hidden,
}

/// The secret key of [`IpStorage::KeyedHash`]. Keep it stable: a new key
/// gives every address a new pseudonym. `Debug` never prints it.
#[derive(Clone)]
pub struct IpHashKey([u8; 32]);

impl IpHashKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        IpHashKey(bytes)
    }
}

impl fmt::Debug for IpHashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IpHashKey(<redacted>)")
    }
}

/// The error of [`IpPrivacy::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("IpStorage::KeyedHash needs an IpHashKey (SessionManagerBuilder::ip_hash_key)")]
pub struct MissingIpHashKey;

/// Bits of an IPv4 address kept by truncation.
pub const TRUNCATED_V4_BITS: u8 = 24;
/// Bits of an IPv6 address kept by truncation.
pub const TRUNCATED_V6_BITS: u8 = 48;

/// The first segment of the prefix pseudonyms live in (`100::/64`).
const PSEUDONYM_PREFIX: u16 = 0x0100;

/// The storage and display rules together, with the hash key.
#[derive(Debug, Clone, Default)]
pub struct IpPrivacy {
    storage: IpStorage,
    display: IpDisplay,
    key: Option<IpHashKey>,
}

impl IpPrivacy {
    /// The rules; `key` is required for [`IpStorage::KeyedHash`].
    ///
    /// # Errors
    /// [`MissingIpHashKey`] when the storage is keyed and no key is given.
    pub fn new(
        storage: IpStorage,
        display: IpDisplay,
        key: Option<IpHashKey>,
    ) -> Result<Self, MissingIpHashKey> {
        if storage == IpStorage::KeyedHash && key.is_none() {
            return Err(MissingIpHashKey);
        }
        Ok(IpPrivacy {
            storage,
            display,
            key,
        })
    }

    /// The storage rule.
    pub fn storage(&self) -> IpStorage {
        self.storage
    }

    /// The display rule.
    pub fn display(&self) -> IpDisplay {
        self.display
    }

    /// The form of `ip` the store keeps.
    pub fn store(&self, ip: IpAddr) -> IpAddr {
        let ip = ip.to_canonical();
        match (self.storage, &self.key) {
            (IpStorage::Full, _) => ip,
            (IpStorage::KeyedHash, Some(key)) if is_public_ip(ip) => pseudonym(key, ip),
            _ => network(ip),
        }
    }

    /// [`IpPrivacy::store`] of an optional address.
    pub fn store_opt(&self, ip: Option<IpAddr>) -> Option<IpAddr> {
        ip.map(|ip| self.store(ip))
    }

    /// What a user sees of a stored address: the address, its network with
    /// the prefix length, or nothing (hidden, absent, or a pseudonym).
    pub fn show(&self, stored: Option<IpAddr>) -> Option<String> {
        let ip = stored
            .map(|ip| ip.to_canonical())
            .filter(|ip| !is_pseudonym(*ip))?;
        let truncated = self.display == IpDisplay::Truncated || self.storage != IpStorage::Full;
        match self.display {
            IpDisplay::Hidden => None,
            _ if truncated => Some(format!("{}/{}", network(ip), prefix_len(ip))),
            _ => Some(ip.to_string()),
        }
    }

    /// What an event carries of a stored address: nothing when users see
    /// nothing; a keyed-hash pseudonym as it is (it names no address, and
    /// lets a SIEM correlate); otherwise the address, reduced to its network
    /// whenever users see only that or the policy keeps only that (so a
    /// record written in full before the policy changed is reduced too).
    pub fn for_event(&self, stored: Option<IpAddr>) -> Option<IpAddr> {
        let ip = stored?.to_canonical();
        match self.display {
            IpDisplay::Hidden => None,
            _ if is_pseudonym(ip) => Some(ip),
            IpDisplay::Full if self.storage == IpStorage::Full => Some(ip),
            _ => Some(network(ip)),
        }
    }

    /// One line for [`crate::SessionPolicy::describe`].
    pub fn describe(&self) -> String {
        describe_ip_rules(self.storage, self.display)
    }
}

/// The Markdown line [`crate::SessionPolicy::describe`] gives these rules.
pub fn describe_ip_rules(storage: IpStorage, display: IpDisplay) -> String {
    let kept = match storage {
        IpStorage::Full => "in full",
        IpStorage::Truncated => "truncated to their network (/24 for IPv4, /48 for IPv6)",
        IpStorage::KeyedHash => {
            "only as a keyed hash (public addresses; private ones are truncated to their network)"
        }
    };
    let shown = match display {
        IpDisplay::Hidden => "are not shown to users",
        _ if storage == IpStorage::KeyedHash => {
            "are not shown to users (hashes are not addresses; private networks are)"
        }
        IpDisplay::Truncated => "are shown to users as their network only",
        IpDisplay::Full if storage == IpStorage::Truncated => "are shown to users as their network",
        IpDisplay::Full => "are shown to users in full",
    };
    format!("- Client IP addresses are stored {kept} and {shown}.\n")
}

/// The network of `ip`: its first 24 (IPv4) or 48 (IPv6) bits. Loopback
/// addresses are kept as they are: they name the server's own machine,
/// no one's network.
///
/// ```
/// use sessionward_core::privacy::network;
/// assert_eq!(network("81.2.69.142".parse().unwrap()).to_string(), "81.2.69.0");
/// assert_eq!(network("2001:db8:1:2::9".parse().unwrap()).to_string(), "2001:db8:1::");
/// ```
pub fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        ip if ip.is_loopback() => ip,
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(
            v4.to_bits() & (u32::MAX << (32 - TRUNCATED_V4_BITS)),
        )),
        IpAddr::V6(v6) if is_pseudonym(IpAddr::V6(v6)) => IpAddr::V6(v6),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
            v6.to_bits() & (u128::MAX << (128 - TRUNCATED_V6_BITS)),
        )),
    }
}

fn prefix_len(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => TRUNCATED_V4_BITS,
        IpAddr::V6(_) => TRUNCATED_V6_BITS,
    }
}

/// Whether `ip` is a keyed-hash pseudonym (inside `100::/64`).
pub fn is_pseudonym(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[..4] == [PSEUDONYM_PREFIX, 0, 0, 0])
}

fn pseudonym(key: &IpHashKey, ip: IpAddr) -> IpAddr {
    // HMAC accepts keys of any length; 32 bytes cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) else {
        return network(ip);
    };
    match ip {
        IpAddr::V4(v4) => mac.update(&v4.octets()),
        IpAddr::V6(v6) => mac.update(&v6.octets()),
    }
    let digest = mac.finalize().into_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&digest[..8]);
    let bits = (u128::from(PSEUDONYM_PREFIX) << 112) | u128::from(u64::from_be_bytes(low));
    IpAddr::V6(Ipv6Addr::from(bits))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// No combination of storage and display shows more than it allows.
    #[test]
    fn no_rule_shows_more_than_it_allows() {
        let key = || Some(IpHashKey::new([1; 32]));
        for storage in [IpStorage::Full, IpStorage::Truncated, IpStorage::KeyedHash] {
            for display in [IpDisplay::Full, IpDisplay::Truncated, IpDisplay::Hidden] {
                let p = IpPrivacy::new(storage, display, key()).unwrap();
                for raw in ["81.2.69.142", "2a02:ff0:3::9", "10.1.2.3", "fd00::7"] {
                    let stored = p.store(ip(raw));
                    let shown = p.show(Some(stored));
                    let event = p.for_event(Some(stored));
                    let full = storage == IpStorage::Full && display == IpDisplay::Full;
                    if !full {
                        assert_ne!(shown.as_deref(), Some(raw), "{storage:?}/{display:?}");
                        assert_ne!(event, Some(ip(raw)), "{storage:?}/{display:?} {raw}");
                    } else {
                        assert_eq!(shown.as_deref(), Some(raw));
                    }
                    if display == IpDisplay::Hidden {
                        assert!(shown.is_none() && event.is_none());
                    }
                }
            }
        }
    }

    #[test]
    fn keyed_hash_is_stable_per_key_and_private_addresses_stay_local() {
        let a = IpPrivacy::new(
            IpStorage::KeyedHash,
            IpDisplay::Full,
            Some(IpHashKey::new([1; 32])),
        )
        .unwrap();
        let b = IpPrivacy::new(
            IpStorage::KeyedHash,
            IpDisplay::Full,
            Some(IpHashKey::new([2; 32])),
        )
        .unwrap();
        let public = ip("81.2.69.142");
        assert_eq!(a.store(public), a.store(public));
        assert_ne!(a.store(public), b.store(public));
        assert_ne!(a.store(public), a.store(ip("81.2.69.143")));
        assert!(is_pseudonym(a.store(public)));
        assert_eq!(a.store(ip("192.168.1.20")), ip("192.168.1.0"));
        assert_eq!(a.store(ip("127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(a.store(ip("::1")), ip("::1"));
        assert!(
            IpPrivacy::new(IpStorage::KeyedHash, IpDisplay::Full, None).is_err(),
            "a keyed hash without a key must be refused"
        );
        assert_eq!(
            format!("{:?}", IpHashKey::new([9; 32])),
            "IpHashKey(<redacted>)"
        );
    }

    /// An address stored in full before the policy changed to truncated
    /// storage is reduced in events and views all the same.
    #[test]
    fn addresses_stored_before_a_policy_change_are_reduced() {
        let now_truncated = IpPrivacy::new(IpStorage::Truncated, IpDisplay::Full, None).unwrap();
        let old = Some(ip("81.2.69.142"));
        assert_eq!(now_truncated.for_event(old), Some(ip("81.2.69.0")));
        assert_eq!(now_truncated.show(old).as_deref(), Some("81.2.69.0/24"));
        let mapped = Some(ip("::ffff:81.2.69.142"));
        assert_eq!(now_truncated.show(mapped).as_deref(), Some("81.2.69.0/24"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_treated_as_ipv4() {
        let p = IpPrivacy::new(IpStorage::Truncated, IpDisplay::Full, None).unwrap();
        assert_eq!(p.store(ip("::ffff:81.2.69.142")), ip("81.2.69.0"));
    }
}
