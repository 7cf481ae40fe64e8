//! Client IP extraction behind reverse proxies.
//!
//! The TCP peer is the client unless the peer is one of your
//! [`TrustedProxies`]. Only then are forwarding headers read, from the right
//! (the hop your proxy appended) to the left, skipping trusted hops; the
//! first address that is not a trusted proxy is the client. Everything left
//! of it was written by the client and is ignored, so a spoofed
//! `X-Forwarded-For` cannot choose the result.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Forwarding headers longer than this many bytes are ignored entirely.
pub const MAX_FORWARDED_HEADER_LEN: usize = 4096;

/// At most this many hops are examined, counting from the right.
pub const MAX_FORWARDED_HOPS: usize = 32;

/// An IP network in CIDR notation, e.g. `10.0.0.0/8` or `2001:db8::/32`.
///
/// A bare address is a single-host network (`/32` or `/128`). IPv4-mapped
/// IPv6 addresses (`::ffff:10.0.0.1`) are matched as IPv4.
///
/// ```
/// use sessionward_core::enrich::IpCidr;
/// let net: IpCidr = "10.0.0.0/8".parse()?;
/// assert!(net.contains("10.20.30.40".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// # Ok::<(), sessionward_core::enrich::CidrError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpCidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a CIDR string or prefix was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The address part is not an IP address.
    #[error("invalid IP address in {0:?}")]
    Address(String),
    /// The prefix length is not a number within the address width.
    #[error("invalid prefix length in {0:?}")]
    Prefix(String),
}

impl IpCidr {
    /// A network from an address and prefix length; host bits are cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let addr = addr.to_canonical();
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > max {
            return Err(CidrError::Prefix(format!("{addr}/{prefix}")));
        }
        let addr = match addr {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask32(prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask128(prefix))),
        };
        Ok(Self { addr, prefix })
    }

    /// A single-host network.
    pub fn host(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for IpCidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.split_once('/') {
            None => s
                .parse::<IpAddr>()
                .map(Self::host)
                .map_err(|_| CidrError::Address(s.to_owned())),
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(|_| CidrError::Address(s.to_owned()))?;
                if prefix.is_empty()
                    || prefix.len() > 3
                    || !prefix.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(CidrError::Prefix(s.to_owned()));
                }
                let prefix: u8 = prefix
                    .parse()
                    .map_err(|_| CidrError::Prefix(s.to_owned()))?;
                Self::new(addr, prefix)
            }
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl From<IpAddr> for IpCidr {
    fn from(addr: IpAddr) -> Self {
        Self::host(addr)
    }
}

/// Which forwarding header [`client_ip`] reads.
///
/// Read the header your proxy **appends to or overwrites**. A header your
/// proxy merely passes through is entirely client-controlled; that is why
/// the default reads only `X-Forwarded-For` (what nginx, HAProxy, AWS ALB,
/// Cloudflare and most others write) and not `Forwarded`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` only.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded` (`for=` parameters) only.
    Forwarded,
    /// `Forwarded` when present, else `X-Forwarded-For`. Only safe when every
    /// trusted proxy writes `Forwarded` *and* strips it from client requests.
    PreferForwarded,
}

/// The reverse proxies whose forwarding headers are believed.
///
/// Empty by default: the TCP peer is always the client.
///
/// ```
/// use sessionward_core::enrich::{TrustedProxies, client_ip};
///
/// let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1")?;
/// let peer = "10.0.0.5".parse().unwrap();
/// let ip = client_ip(peer, None, Some("6.6.6.6, 81.2.69.142"), &trusted);
/// assert_eq!(ip.to_string(), "81.2.69.142");
/// # Ok::<(), sessionward_core::enrich::CidrError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpCidr>,
    header: ProxyHeader,
}

impl TrustedProxies {
    /// No trusted proxies: forwarding headers are never read.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts the given networks.
    pub fn new(nets: impl IntoIterator<Item = IpCidr>) -> Self {
        Self {
            nets: nets.into_iter().collect(),
            header: ProxyHeader::default(),
        }
    }

    /// Parses a comma- or whitespace-separated list of addresses and CIDRs.
    pub fn parse(list: &str) -> Result<Self, CidrError> {
        let nets = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<IpCidr>, _>>()?;
        Ok(Self::new(nets))
    }

    /// Trusts loopback (`127.0.0.0/8`, `::1`): a proxy on the same host.
    pub fn loopback() -> Self {
        Self::new([
            IpCidr {
                addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            IpCidr::host(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ])
    }

    /// Trusts loopback and private networks (RFC 1918, IPv6 ULA and
    /// link-local): a proxy inside your network. Do not use this when
    /// untrusted clients can reach the app from a private network.
    pub fn private_networks() -> Self {
        let v4 = |a, b, p| IpCidr {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, 0, 0)),
            prefix: p,
        };
        let v6 = |seg, p| IpCidr {
            addr: IpAddr::V6(Ipv6Addr::new(seg, 0, 0, 0, 0, 0, 0, 0)),
            prefix: p,
        };
        let mut out = Self::loopback();
        out.nets.extend([
            v4(10, 0, 8),
            v4(172, 16, 12),
            v4(192, 168, 16),
            v6(0xfc00, 7),
            v6(0xfe80, 10),
        ]);
        out
    }

    /// Adds a network.
    pub fn with(mut self, net: IpCidr) -> Self {
        self.nets.push(net);
        self
    }

    /// Selects the forwarding header to read (default
    /// [`ProxyHeader::XForwardedFor`]).
    pub fn with_header(mut self, header: ProxyHeader) -> Self {
        self.header = header;
        self
    }

    /// The forwarding header read.
    pub fn header(&self) -> ProxyHeader {
        self.header
    }

    /// The trusted networks.
    pub fn networks(&self) -> &[IpCidr] {
        &self.nets
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

/// The client's IP address for a request.
///
/// - If `peer` (the TCP peer) is not a trusted proxy, it is the client and
///   the headers are ignored.
/// - Otherwise the header selected by [`TrustedProxies::with_header`] is
///   walked right to left (at most [`MAX_FORWARDED_HOPS`] hops); the first
///   address that is not trusted is returned. If every hop is trusted, the
///   leftmost examined one is returned.
/// - A malformed hop (not an IP, `unknown`, an obfuscated `_id`, a
///   `Forwarded` element without `for=`, an empty list item) stops the walk:
///   the result is the last address that was checked and found trusted
///   (the peer, if it is the rightmost hop). Nothing left of a hop that
///   cannot be verified is believed.
/// - A header longer than [`MAX_FORWARDED_HEADER_LEN`] bytes is ignored and
///   the peer is returned.
///
/// Accepted address forms: `1.2.3.4`, `1.2.3.4:8080`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`, each optionally in double quotes.
/// IPv4-mapped IPv6 results are returned as IPv4. When a request carries a
/// header several times, join the values with `", "` in order before
/// calling.
///
/// ```
/// use sessionward_core::enrich::{ProxyHeader, TrustedProxies, client_ip};
///
/// let trusted = TrustedProxies::loopback().with_header(ProxyHeader::Forwarded);
/// let ip = client_ip(
///     "127.0.0.1".parse().unwrap(),
///     Some(r#"for="[2001:db8:cafe::17]:4711";proto=https"#),
///     None,
///     &trusted,
/// );
/// assert_eq!(ip.to_string(), "2001:db8:cafe::17");
/// ```
pub fn client_ip(
    peer: IpAddr,
    forwarded: Option<&str>,
    x_forwarded_for: Option<&str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let (header, is_forwarded) = match trusted.header {
        ProxyHeader::XForwardedFor => (present(x_forwarded_for), false),
        ProxyHeader::Forwarded => (present(forwarded), true),
        ProxyHeader::PreferForwarded => match present(forwarded) {
            Some(f) => (Some(f), true),
            None => (present(x_forwarded_for), false),
        },
    };
    let Some(header) = header else {
        return peer;
    };
    if header.len() > MAX_FORWARDED_HEADER_LEN {
        return peer;
    }

    let mut last_trusted = peer;
    for item in split_list(header)
        .into_iter()
        .rev()
        .take(MAX_FORWARDED_HOPS)
    {
        let hop = if is_forwarded {
            forwarded_for(item).and_then(parse_node)
        } else {
            parse_node(item)
        };
        let Some(ip) = hop else {
            return last_trusted;
        };
        if !trusted.contains(ip) {
            return ip;
        }
        last_trusted = ip;
    }
    last_trusted
}

/// Splits a header list on commas outside double-quoted strings.
fn split_list(header: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, b) in header.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                items.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&header[start..]);
    items
}

/// The value of the `for` parameter of one `Forwarded` element, if there is
/// exactly one.
fn forwarded_for(element: &str) -> Option<&str> {
    let mut found = None;
    for pair in element.split(';') {
        let (key, value) = pair.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None;
            }
            found = Some(value.trim());
        }
    }
    found
}

/// Parses one node: an address with optional port, brackets and quotes.
fn parse_node(node: &str) -> Option<IpAddr> {
    let mut node = node.trim();
    if node.len() >= 2 && node.starts_with('"') && node.ends_with('"') {
        node = &node[1..node.len() - 1];
    }
    if node.contains(['"', '\\']) {
        return None;
    }
    let ip = if let Some(rest) = node.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(addr.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(ip) = node.parse::<IpAddr>() {
        ip
    } else {
        let (addr, port) = node.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(addr.parse::<Ipv4Addr>().ok()?)
    };
    Some(ip.to_canonical())
}

fn present(header: Option<&str>) -> Option<&str> {
    header.filter(|v| !v.trim().is_empty())
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes() {
        let ok = |s: &str, want: &str| assert_eq!(parse_node(s), want.parse().ok(), "{s}");
        ok("1.2.3.4", "1.2.3.4");
        ok(" 1.2.3.4:80 ", "1.2.3.4");
        ok("\"[2001:db8::1]:4711\"", "2001:db8::1");
        ok("[2001:db8::1]", "2001:db8::1");
        ok("2001:db8::1", "2001:db8::1");
        ok("::ffff:1.2.3.4", "1.2.3.4");
        for bad in [
            "",
            "unknown",
            "_hidden",
            "1.2.3.4:",
            "1.2.3.4:x",
            "[::1",
            "[::1]x",
            "1.2.3.4:1:2",
            "\"1.2.3.4",
            "[fe80::1%eth0]",
        ] {
            assert_eq!(parse_node(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidr() {
        let n: IpCidr = "192.168.0.0/16".parse().unwrap();
        assert!(n.contains("192.168.255.1".parse().unwrap()));
        assert!(n.contains("::ffff:192.168.1.1".parse().unwrap()));
        assert!(!n.contains("192.169.0.1".parse().unwrap()));
        let all: IpCidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let v6: IpCidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert_eq!(
            "10.1.2.3/8".parse::<IpCidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!("10.0.0.0/33".parse::<IpCidr>().is_err());
        assert!("10.0.0.0/".parse::<IpCidr>().is_err());
        assert!("10.0.0.0/+8".parse::<IpCidr>().is_err());
        assert!("nope/8".parse::<IpCidr>().is_err());
    }

    #[test]
    fn forwarded_pairs() {
        assert_eq!(forwarded_for("for=1.2.3.4;proto=https"), Some("1.2.3.4"));
        assert_eq!(
            forwarded_for("proto=https;For=\"[::1]\""),
            Some("\"[::1]\"")
        );
        assert_eq!(forwarded_for("proto=https"), None);
        assert_eq!(forwarded_for("for=1.2.3.4;for=5.6.7.8"), None);
        assert_eq!(
            split_list(r#"for="a,b", for=c"#),
            vec![r#"for="a,b""#, " for=c"]
        );
    }
}
