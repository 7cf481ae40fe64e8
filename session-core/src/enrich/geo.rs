//! IP geolocation: [`GeoResolver`], the MaxMind-DB backed
//! `MaxMindResolver` (feature `geoip`) and the no-op [`NoGeo`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::record::Location;

#[cfg(feature = "geoip")]
mod maxmind;
#[cfg(feature = "geoip")]
#[cfg_attr(docsrs, doc(cfg(feature = "geoip")))]
pub use maxmind::{DatabaseInfo, DbSource, GeoError, MaxMindResolver};

/// Maps an IP address to an approximate [`Location`].
///
/// Never fails: addresses that are not globally routable (see
/// [`is_public_ip`]) and addresses the data does not know give
/// [`Location::default()`].
pub trait GeoResolver: Send + Sync {
    /// The approximate location of `ip`.
    fn locate(&self, ip: IpAddr) -> Location;

    /// Anonymiser facts (VPN, hosting, Tor, proxy) for `ip`.
    ///
    /// `None` when the resolver has no such data or `ip` is not public;
    /// `Some` with every flag `false` when the data lists nothing against
    /// `ip`. The default implementation has no data.
    fn is_anonymous(&self, ip: IpAddr) -> Option<AnonymousIp> {
        let _ = ip;
        None
    }
}

impl<G: GeoResolver + ?Sized> GeoResolver for Arc<G> {
    fn locate(&self, ip: IpAddr) -> Location {
        (**self).locate(ip)
    }

    fn is_anonymous(&self, ip: IpAddr) -> Option<AnonymousIp> {
        (**self).is_anonymous(ip)
    }
}

/// A resolver that knows nothing: every address is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoGeo;

impl GeoResolver for NoGeo {
    fn locate(&self, _ip: IpAddr) -> Location {
        Location::default()
    }
}

/// Anonymiser facts from a GeoIP2 Anonymous IP database. Every flag is
/// `false` when the database does not set it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnonymousIp {
    /// Any of the flags below is set.
    pub anonymous: bool,
    /// A VPN provider's address.
    pub vpn: bool,
    /// A hosting or cloud provider's address.
    pub hosting: bool,
    /// A public proxy.
    pub public_proxy: bool,
    /// A residential proxy.
    pub residential_proxy: bool,
    /// A Tor exit node.
    pub tor_exit: bool,
}

/// Whether `ip` is a globally routable unicast address worth looking up.
///
/// `false` for unspecified, loopback, private (RFC 1918, IPv6 ULA),
/// shared (100.64.0.0/10), link-local, documentation, benchmarking,
/// multicast, broadcast and reserved ranges. IPv4-mapped IPv6 addresses are
/// judged as IPv4.
///
/// ```
/// use sessionward_core::enrich::is_public_ip;
/// assert!(is_public_ip("81.2.69.142".parse().unwrap()));
/// assert!(!is_public_ip("10.1.2.3".parse().unwrap()));
/// assert!(!is_public_ip("::ffff:127.0.0.1".parse().unwrap()));
/// assert!(!is_public_ip("2001:db8::1".parse().unwrap()));
/// ```
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_documentation()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || (s[0] == 0x2001 && s[1] < 0x0200 && s[1] != 0) // IETF special purpose, except Teredo
        || s[0] == 0) // ::/16: IPv4-compatible and other reserved forms
}
