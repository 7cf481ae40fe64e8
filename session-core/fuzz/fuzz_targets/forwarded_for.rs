//! The forwarded-for parser: `sessionward_core::enrich::client_ip`.
//!
//! Input layout: byte 0 picks the TCP peer (trusted or not, IPv4, IPv6,
//! IPv4-mapped), byte 1 the header mode (`X-Forwarded-For`, `Forwarded`,
//! prefer `Forwarded`) and whether each header is present; the rest is
//! split at the first newline into the `Forwarded` and `X-Forwarded-For`
//! values (lossy UTF-8). Trusted proxies are loopback plus the private
//! networks, so the hop walk and address parsing run.
//!
//! Properties checked besides "never panics":
//! - an untrusted peer is always the answer (headers are ignored);
//! - the answer is in canonical form (IPv4-mapped IPv6 comes back as IPv4);
//! - with no header present the answer is the peer.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sessionward_core::enrich::{ProxyHeader, TrustedProxies, client_ip};

const PEERS: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
    // ::ffff:192.168.1.1, trusted once canonicalised.
    IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0101)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
    // Untrusted: headers must be ignored.
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
];

const HEADERS: [ProxyHeader; 3] = [
    ProxyHeader::XForwardedFor,
    ProxyHeader::Forwarded,
    ProxyHeader::PreferForwarded,
];

fn trusted(header: ProxyHeader) -> &'static TrustedProxies {
    static ALL: OnceLock<[TrustedProxies; 3]> = OnceLock::new();
    let all =
        ALL.get_or_init(|| HEADERS.map(|h| TrustedProxies::private_networks().with_header(h)));
    &all[HEADERS.iter().position(|h| *h == header).unwrap_or(0)]
}

fuzz_target!(|data: &[u8]| {
    let [peer_sel, mode, rest @ ..] = data else {
        return;
    };
    let peer = PEERS[usize::from(*peer_sel) % PEERS.len()];
    let header = HEADERS[usize::from(mode & 0x0f) % HEADERS.len()];
    let text = String::from_utf8_lossy(rest);
    let (fwd, xff) = text.split_once('\n').unwrap_or((&text, ""));
    let fwd = (mode & 0x10 == 0).then_some(fwd);
    let xff = (mode & 0x20 == 0).then_some(xff);
    let proxies = trusted(header);

    let ip = client_ip(peer, fwd, xff, proxies);

    let canonical_peer = peer.to_canonical();
    assert_eq!(ip, ip.to_canonical(), "answer not canonical");
    if !proxies.contains(canonical_peer) {
        assert_eq!(
            ip, canonical_peer,
            "headers believed from an untrusted peer"
        );
    }
    if fwd.is_none() && xff.is_none() {
        assert_eq!(ip, canonical_peer, "an absent header produced an address");
    }
});
