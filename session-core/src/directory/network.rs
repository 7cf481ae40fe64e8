//! [`IpNetwork`]: an address block in CIDR notation.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 address block, `203.0.113.0/24` or `2001:db8::/32`; a
/// bare address is its own block (`/32`, `/128`).
///
/// The address is kept masked to its prefix, so two spellings of one block
/// compare equal. IPv4-mapped IPv6 addresses (`::ffff:203.0.113.9`) count
/// as their IPv4 address, on both sides of [`IpNetwork::contains`].
///
/// ```
/// use sessionward_core::directory::IpNetwork;
/// let net: IpNetwork = "203.0.113.77/24".parse().unwrap();
/// assert_eq!(net.to_string(), "203.0.113.0/24");
/// assert!(net.contains("203.0.113.9".parse().unwrap()));
/// assert!(net.contains("::ffff:203.0.113.9".parse().unwrap()));
/// assert!(!net.contains("198.51.100.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

/// Why a text is not an [`IpNetwork`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The part before `/` is not an IP address.
    #[error("not an IP address")]
    Address,
    /// The prefix length is not a number within the address's bits.
    #[error("the prefix length must be 0-32 for IPv4 and 0-128 for IPv6")]
    Prefix,
}

impl IpNetwork {
    /// The block of `prefix` leading bits of `addr`.
    ///
    /// # Errors
    /// [`NetworkError::Prefix`] when `prefix` exceeds the address's bits.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, NetworkError> {
        let addr = addr.to_canonical();
        if prefix > bits(addr) {
            return Err(NetworkError::Prefix);
        }
        Ok(IpNetwork {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// The one-address block of `addr`.
    pub fn host(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        IpNetwork {
            addr,
            prefix: bits(addr),
        }
    }

    /// The first address of the block.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The address, when the block holds exactly one.
    pub fn single(&self) -> Option<IpAddr> {
        (self.prefix == bits(self.addr)).then_some(self.addr)
    }

    /// Whether `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn bits(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

impl FromStr for IpNetwork {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| NetworkError::Address)?;
        match prefix {
            None => Ok(IpNetwork::host(addr)),
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                let p: u8 = p.parse().map_err(|_| NetworkError::Prefix)?;
                IpNetwork::new(addr, p)
            }
            Some(_) => Err(NetworkError::Prefix),
        }
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl serde::Serialize for IpNetwork {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IpNetwork {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let v6: IpNetwork = "2001:db8:aa::1/48".parse().unwrap();
        assert_eq!(v6.to_string(), "2001:db8:aa::/48");
        assert!(v6.contains(ip("2001:db8:aa:ffff::9")));
        assert!(!v6.contains(ip("2001:db8:ab::1")));
        assert!(!v6.contains(ip("203.0.113.1")));
        let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("198.51.100.7")) && !all.contains(ip("::1")));
        let host: IpNetwork = "198.51.100.7".parse().unwrap();
        assert_eq!(host.single(), Some(ip("198.51.100.7")));
        assert!(host.contains(ip("198.51.100.7")) && !host.contains(ip("198.51.100.8")));
        let mapped: IpNetwork = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(mapped, host);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for (text, err) in [
            ("", NetworkError::Address),
            ("10.0.0/8", NetworkError::Address),
            ("10.0.0.0/", NetworkError::Prefix),
            ("10.0.0.0/33", NetworkError::Prefix),
            ("10.0.0.0/+8", NetworkError::Prefix),
            ("10.0.0.0/0008", NetworkError::Prefix),
            ("::/129", NetworkError::Prefix),
            ("::/99999999999", NetworkError::Prefix),
        ] {
            assert_eq!(text.parse::<IpNetwork>(), Err(err), "{text:?}");
        }
    }
}
