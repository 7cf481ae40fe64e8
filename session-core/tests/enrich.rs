//! Request enrichment: User-Agent parsing, GeoIP, client IP extraction.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sessionward_core::enrich::{
    AnonymousIp, CachedParser, Describe, Enricher, GeoResolver, IpCidr, MAX_FORWARDED_HEADER_LEN,
    MaxMindResolver, NoGeo, ParsedUserAgent, ProxyHeader, TrustedProxies, UapParser,
    UserAgentParser, client_ip,
};
use sessionward_core::record::MAX_USER_AGENT_LEN;
use sessionward_core::{DeviceClass, Location, RequestContext};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn parser() -> Arc<UapParser> {
    UapParser::shared_embedded().unwrap()
}

fn parse(ua: &str) -> ParsedUserAgent {
    parser().parse(ua)
}

// ---------------------------------------------------------------- User-Agent

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1";
const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 \
    (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
    (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
const CHROME_ANDROID_PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
const CHROME_ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 13; SM-X700) \
    AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const DALVIK: &str = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.230803.041)";
const OKHTTP: &str = "okhttp/4.12.0";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const CHROMEOS: &str = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

#[test]
fn chrome_on_windows_is_desktop() {
    let p = parse(CHROME_WINDOWS);
    assert_eq!(p.class, DeviceClass::Desktop);
    assert_eq!(p.device.browser.as_deref(), Some("Chrome"));
    assert_eq!(p.device.browser_version.as_deref(), Some("131.0"));
    assert_eq!(p.device.os.as_deref(), Some("Windows"));
    assert_eq!(p.device.os_version.as_deref(), Some("10"));
    assert_eq!(p.device.describe(), "Chrome 131 on Windows 10");
}

#[test]
fn safari_on_iphone_is_mobile() {
    let p = parse(SAFARI_IPHONE);
    assert_eq!(p.class, DeviceClass::Mobile);
    assert_eq!(p.device.browser.as_deref(), Some("Mobile Safari"));
    assert_eq!(p.device.os.as_deref(), Some("iOS"));
    assert_eq!(p.device.os_version.as_deref(), Some("17.1.2"));
    assert_eq!(p.device.device_family.as_deref(), Some("iPhone"));
    assert_eq!(p.device.device_brand.as_deref(), Some("Apple"));
}

#[test]
fn ipad_is_tablet() {
    let p = parse(SAFARI_IPAD);
    assert_eq!(p.class, DeviceClass::Tablet);
    assert_eq!(p.device.device_family.as_deref(), Some("iPad"));
}

#[test]
fn firefox_on_linux_is_desktop() {
    let p = parse(FIREFOX_LINUX);
    assert_eq!(p.class, DeviceClass::Desktop);
    assert_eq!(p.device.browser.as_deref(), Some("Firefox"));
    assert_eq!(p.device.os.as_deref(), Some("Linux"));
    assert_eq!(p.device.describe(), "Firefox 128 on Linux");
}

#[test]
fn other_desktops() {
    let mac = parse(SAFARI_MAC);
    assert_eq!(mac.class, DeviceClass::Desktop);
    assert_eq!(mac.device.describe(), "Safari 17 on Mac OS X 10.15.7");
    assert_eq!(parse(CHROMEOS).class, DeviceClass::Desktop);
    // Windows touch laptops say "Tablet PC"; they are not tablets.
    let touch =
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; Tablet PC 2.0; rv:11.0) like Gecko";
    assert_eq!(parse(touch).class, DeviceClass::Desktop);
}

#[test]
fn android_phone_and_tablet() {
    let phone = parse(CHROME_ANDROID_PHONE);
    assert_eq!(phone.class, DeviceClass::Mobile);
    assert_eq!(phone.device.browser.as_deref(), Some("Chrome Mobile"));
    assert_eq!(phone.device.device_model.as_deref(), Some("Pixel 8"));
    // Android browser without the "Mobile" token: a tablet by Google's convention.
    assert_eq!(parse(CHROME_ANDROID_TABLET).class, DeviceClass::Tablet);
}

#[test]
fn android_app_clients() {
    // Dalvik names an Android device: a native app on a handheld.
    let dalvik = parse(DALVIK);
    assert_eq!(dalvik.class, DeviceClass::Mobile);
    assert_eq!(dalvik.device.os.as_deref(), Some("Android"));
    assert_eq!(dalvik.device.device_model.as_deref(), Some("Pixel 8"));
    assert_eq!(dalvik.device.describe(), "Android 14");
    // A bare okhttp UA names no device at all (it also runs on servers).
    let okhttp = parse(OKHTTP);
    assert_eq!(okhttp.class, DeviceClass::Other);
    assert_eq!(okhttp.device.browser.as_deref(), Some("okhttp"));
}

#[test]
fn bots_and_scripted_clients() {
    let google = parse(GOOGLEBOT);
    assert_eq!(google.class, DeviceClass::Bot);
    assert_eq!(google.device.browser.as_deref(), Some("Googlebot"));
    for ua in [
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Go-http-client/1.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
         HeadlessChrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    ] {
        assert_eq!(parse(ua).class, DeviceClass::Bot, "{ua}");
    }
    // A phone brand containing "bot" is not a bot.
    let cubot = "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 \
                 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
    assert_eq!(parse(cubot).class, DeviceClass::Mobile);
}

#[test]
fn empty_and_unknown_are_other() {
    for ua in ["", "   ", "hello", "Mozilla/5.0"] {
        let p = parse(ua);
        assert_eq!(p.class, DeviceClass::Other, "{ua:?}");
        assert_eq!(p.device.os, None, "{ua:?}");
    }
    assert_eq!(parse("").device.describe(), "Unknown device");
}

#[test]
fn garbage_and_binary_input_do_not_panic() {
    let p = parser();
    // 10 KB of pseudo-random printable garbage with parser-hostile fragments.
    let mut seed: u32 = 0x1234_5678;
    let mut garbage = String::with_capacity(10 * 1024);
    while garbage.len() < 10 * 1024 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let c = char::from(b' ' + ((seed >> 16) % 95) as u8);
        garbage.push(c);
        if seed.is_multiple_of(97) {
            garbage.push_str("Mozilla/5.0 (((Android ;;;; Chrome/ iPhone OS _");
        }
    }
    let out = p.parse(&garbage);
    assert_ne!(out.class, DeviceClass::Desktop);

    // Invalid UTF-8 as a lossy string, control characters, NULs, long runs.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10 * 1024).collect();
    let lossy = String::from_utf8_lossy(&bytes);
    p.parse(&lossy);
    p.parse(&"\0".repeat(10_000));
    p.parse(&"(".repeat(10_000));
    p.parse(&"a".repeat(100_000));
    p.parse(&format!(
        "Mozilla/5.0 {}",
        "\u{202e}\u{fffd}é漢".repeat(2_000)
    ));

    let cached = CachedParser::new(p, 8);
    cached.parse(&garbage);
    cached.parse(&lossy);
}

#[test]
fn long_user_agents_are_truncated_before_parsing() {
    let long = format!("{CHROME_WINDOWS} {}", "x".repeat(4 * MAX_USER_AGENT_LEN));
    assert_eq!(parse(&long).device.browser.as_deref(), Some("Chrome"));
    // Only the first MAX_USER_AGENT_LEN bytes count: a marker past them is invisible.
    let padded = format!("{}curl/8.5.0", "x".repeat(MAX_USER_AGENT_LEN));
    assert_ne!(parse(&padded).class, DeviceClass::Bot);
}

#[test]
fn cached_parser_matches_and_is_bounded() {
    let cached = CachedParser::new(parser(), 3);
    let first = cached.parse(SAFARI_IPHONE);
    assert_eq!(cached.parse(SAFARI_IPHONE), first);
    assert_eq!(first, parse(SAFARI_IPHONE));
    assert_eq!(cached.len(), 1);
    for ua in [CHROME_WINDOWS, FIREFOX_LINUX, GOOGLEBOT, OKHTTP, DALVIK] {
        cached.parse(ua);
        assert!(cached.len() <= 3);
    }
    // Keys are truncated, so variants past the limit share one entry.
    cached.clear();
    let base = "y".repeat(MAX_USER_AGENT_LEN);
    cached.parse(&format!("{base}1"));
    cached.parse(&format!("{base}2"));
    assert_eq!(cached.len(), 1);

    let uncached = CachedParser::new(parser(), 0);
    assert_eq!(uncached.parse(GOOGLEBOT).class, DeviceClass::Bot);
    assert!(uncached.is_empty());
}

#[test]
fn cached_parser_is_shareable_across_threads() {
    let cached = Arc::new(CachedParser::with_default_capacity(parser()));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let cached = Arc::clone(&cached);
            std::thread::spawn(move || {
                for ua in [CHROME_WINDOWS, SAFARI_IPHONE, SAFARI_IPAD, GOOGLEBOT] {
                    let want = if i % 2 == 0 { ua } else { ua.trim() };
                    assert_eq!(cached.parse(want), parse(want));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(cached.len(), 4);
}

#[test]
fn from_json_rejects_bad_documents() {
    assert!(UapParser::from_json(b"not json").is_err());
    assert!(UapParser::from_json(b"{}").is_err());
    let bad_regex =
        br#"{"user_agent_parsers":[{"regex":"("}],"os_parsers":[],"device_parsers":[]}"#;
    assert!(UapParser::from_json(bad_regex).is_err());
    let tiny =
        br#"{"user_agent_parsers":[{"regex":"(Foo)/(\\d+)"}],"os_parsers":[],"device_parsers":[]}"#;
    let p = UapParser::from_json(tiny).unwrap();
    let out = p.parse("Foo/7");
    assert_eq!(out.device.browser.as_deref(), Some("Foo"));
    assert_eq!(out.device.browser_version.as_deref(), Some("7"));
}

// ---------------------------------------------------------------- GeoIP

fn geo() -> MaxMindResolver {
    MaxMindResolver::bundled_test_data().unwrap()
}

#[test]
fn known_test_addresses() {
    let g = geo();
    let cases = [
        ("81.2.69.142", "GB", "United Kingdom", "London"),
        ("2.125.160.216", "GB", "United Kingdom", "Boxford"),
        ("89.160.20.128", "SE", "Sweden", "Linköping"),
        ("216.160.83.56", "US", "United States", "Milton"),
        ("175.16.199.0", "CN", "China", "Changchun"),
    ];
    for (addr, code, country, city) in cases {
        let loc = g.locate(ip(addr));
        assert_eq!(loc.country_code.as_deref(), Some(code), "{addr}");
        assert_eq!(loc.country_name.as_deref(), Some(country), "{addr}");
        assert_eq!(loc.city.as_deref(), Some(city), "{addr}");
        assert!(loc.latitude.is_some() && loc.longitude.is_some(), "{addr}");
        assert!(loc.accuracy_radius_km.is_some(), "{addr}");
    }
    let london = g.locate(ip("81.2.69.142"));
    assert_eq!(london.region.as_deref(), Some("England"));
    assert_eq!(london.describe(), "London, United Kingdom");
    assert_eq!(
        g.locate(ip("216.160.83.56")).region.as_deref(),
        Some("Washington")
    );
    // IPv4-mapped IPv6 is looked up as IPv4.
    assert_eq!(g.locate(ip("::ffff:81.2.69.142")), london);
    // An IPv6 entry.
    assert_eq!(
        g.locate(ip("2001:218::1")).country_code.as_deref(),
        Some("JP")
    );
}

#[test]
fn non_public_and_unknown_addresses_are_unknown() {
    let g = geo();
    for addr in [
        "10.0.0.1",
        "127.0.0.1",
        "::1",
        "0.0.0.0",
        "::",
        "169.254.1.1",
        "fe80::1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "fd00::1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "2001:db8::1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "::ffff:10.0.0.1",
        "8.8.8.8", // public but not in the test database
    ] {
        assert_eq!(g.locate(ip(addr)), Location::default(), "{addr}");
    }
    assert_eq!(NoGeo.locate(ip("81.2.69.142")), Location::default());
    assert_eq!(NoGeo.is_anonymous(ip("81.2.69.142")), None);
    assert_eq!(Location::default().describe(), "Unknown location");
}

#[test]
fn asn_lookup() {
    let g = geo();
    let se = g.locate(ip("89.160.20.128"));
    assert_eq!(se.asn, Some(29518));
    assert_eq!(se.asn_org.as_deref(), Some("Bredband2 AB"));
    // ASN data without city data.
    let au = g.locate(ip("1.128.0.0"));
    assert_eq!(au.asn, Some(1221));
    assert_eq!(au.asn_org.as_deref(), Some("Telstra Pty Ltd"));
    assert_eq!(au.country_code, None);
    // A City-only resolver leaves ASN fields empty.
    let city_only = MaxMindResolver::from_bytes(test_db("GeoIP2-City-Test.mmdb")).unwrap();
    assert_eq!(city_only.locate(ip("89.160.20.128")).asn, None);
}

#[test]
fn anonymous_ip_lookup() {
    let g = geo();
    let flagged = g.is_anonymous(ip("81.2.69.142")).unwrap();
    assert!(flagged.anonymous && flagged.vpn && flagged.tor_exit);
    let vpn_only = g.is_anonymous(ip("1.2.0.0")).unwrap();
    assert_eq!(
        vpn_only,
        AnonymousIp {
            anonymous: true,
            vpn: true,
            ..AnonymousIp::default()
        }
    );
    assert_eq!(g.is_anonymous(ip("8.8.8.8")), Some(AnonymousIp::default()));
    assert_eq!(g.is_anonymous(ip("10.0.0.1")), None);
    let city_only = MaxMindResolver::from_bytes(test_db("GeoIP2-City-Test.mmdb")).unwrap();
    assert_eq!(city_only.is_anonymous(ip("81.2.69.142")), None);
}

fn test_db(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/geoip")
        .join(name);
    std::fs::read(path).unwrap()
}

fn temp_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sessionward-enrich-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn open_from_files_and_reload() {
    let city = temp_path("city.mmdb");
    let asn = temp_path("asn.mmdb");
    std::fs::write(&city, test_db("GeoIP2-City-Test.mmdb")).unwrap();
    std::fs::write(&asn, test_db("GeoLite2-ASN-Test.mmdb")).unwrap();
    let g = MaxMindResolver::open(&city)
        .unwrap()
        .with_asn(asn.clone())
        .unwrap();
    assert_eq!(g.database_info()[0].database_type, "GeoIP2-City");
    assert_eq!(g.locate(ip("89.160.20.128")).asn, Some(29518));

    // Swap the file for the GeoLite2 flavour and reload without restarting.
    std::fs::write(&city, test_db("GeoLite2-City-Test.mmdb")).unwrap();
    g.reload().unwrap();
    assert_eq!(g.database_info()[0].database_type, "GeoLite2-City");
    assert_eq!(g.locate(ip("81.2.69.142")).city.as_deref(), Some("London"));

    // A broken file fails the reload and keeps the databases in use.
    std::fs::write(&city, b"not a database").unwrap();
    assert!(g.reload().is_err());
    assert_eq!(g.database_info()[0].database_type, "GeoLite2-City");
    assert_eq!(
        g.locate(ip("81.2.69.142")).country_code.as_deref(),
        Some("GB")
    );

    // So does a missing file.
    std::fs::remove_file(&city).unwrap();
    assert!(g.reload().is_err());
    assert_eq!(
        g.locate(ip("81.2.69.142")).country_code.as_deref(),
        Some("GB")
    );

    assert!(MaxMindResolver::open(temp_path("missing.mmdb")).is_err());
    assert!(MaxMindResolver::from_bytes(b"garbage".to_vec()).is_err());
}

#[test]
fn reload_while_reading() {
    let city = temp_path("city.mmdb");
    std::fs::write(&city, test_db("GeoIP2-City-Test.mmdb")).unwrap();
    let g = Arc::new(MaxMindResolver::open(&city).unwrap());
    let reader = {
        let g = Arc::clone(&g);
        std::thread::spawn(move || {
            for _ in 0..2_000 {
                assert_eq!(
                    g.locate(ip("81.2.69.142")).country_code.as_deref(),
                    Some("GB")
                );
            }
        })
    };
    for _ in 0..20 {
        g.reload().unwrap();
    }
    reader.join().unwrap();
}

// ---------------------------------------------------------------- client IP

/// (peer, Forwarded, X-Forwarded-For, trusted, expected, what)
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a TrustedProxies,
    &'a str,
    &'a str,
);

#[test]
fn client_ip_table() {
    let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1 ::1").unwrap();
    let fwd = proxies.clone().with_header(ProxyHeader::Forwarded);
    let none = TrustedProxies::none();

    let cases: &[Case<'_>] = &[
        (
            "81.2.69.142",
            None,
            None,
            &none,
            "81.2.69.142",
            "direct peer",
        ),
        (
            "81.2.69.142",
            None,
            Some("1.1.1.1"),
            &none,
            "81.2.69.142",
            "no trusted proxies",
        ),
        (
            "81.2.69.142",
            None,
            Some("1.1.1.1"),
            &proxies,
            "81.2.69.142",
            "untrusted peer, spoofed XFF",
        ),
        (
            "10.0.0.5",
            None,
            None,
            &proxies,
            "10.0.0.5",
            "trusted peer, no header",
        ),
        (
            "10.0.0.5",
            None,
            Some(""),
            &proxies,
            "10.0.0.5",
            "trusted peer, empty header",
        ),
        (
            "10.0.0.5",
            None,
            Some("81.2.69.142"),
            &proxies,
            "81.2.69.142",
            "one hop",
        ),
        (
            "10.0.0.5",
            None,
            Some("6.6.6.6, 81.2.69.142"),
            &proxies,
            "81.2.69.142",
            "rightmost untrusted wins over spoofed left entry",
        ),
        (
            "10.0.0.5",
            None,
            Some("6.6.6.6, 89.160.20.128, 192.168.1.1, 10.1.1.1"),
            &proxies,
            "89.160.20.128",
            "chain of trusted proxies",
        ),
        (
            "10.0.0.5",
            None,
            Some("10.9.9.9,192.168.1.1"),
            &proxies,
            "10.9.9.9",
            "all hops trusted: leftmost",
        ),
        (
            "10.0.0.5",
            None,
            Some("81.2.69.142:51234"),
            &proxies,
            "81.2.69.142",
            "XFF with port",
        ),
        (
            "::1",
            None,
            Some("2001:db8::7, [2001:db8::8]:443"),
            &proxies,
            "2001:db8::8",
            "XFF IPv6 bare and bracketed",
        ),
        (
            "::ffff:10.0.0.5",
            None,
            Some("::ffff:81.2.69.142"),
            &proxies,
            "81.2.69.142",
            "IPv4-mapped peer and hop",
        ),
        (
            "10.0.0.5",
            None,
            Some("81.2.69.142, garbage, 10.1.1.1"),
            &proxies,
            "10.1.1.1",
            "malformed hop stops at last trusted",
        ),
        (
            "10.0.0.5",
            None,
            Some("81.2.69.142, not-an-ip"),
            &proxies,
            "10.0.0.5",
            "malformed rightmost hop: peer",
        ),
        (
            "10.0.0.5",
            None,
            Some("81.2.69.142,,10.1.1.1"),
            &proxies,
            "10.1.1.1",
            "empty list item",
        ),
        (
            "10.0.0.5",
            None,
            Some("\u{0}\u{fffd}\\\"[[::"),
            &proxies,
            "10.0.0.5",
            "binary garbage",
        ),
        (
            "10.0.0.5",
            Some("for=81.2.69.142"),
            None,
            &proxies,
            "10.0.0.5",
            "Forwarded ignored when reading XFF",
        ),
        (
            "10.0.0.5",
            Some(r#"for="[2001:db8::1]:4711""#),
            None,
            &fwd,
            "2001:db8::1",
            "Forwarded IPv6 with port, quoted",
        ),
        (
            "10.0.0.5",
            Some(r#"for=6.6.6.6, For="81.2.69.142:80";proto=https;by=10.0.0.5, for=10.1.1.1"#),
            Some("7.7.7.7"),
            &fwd,
            "81.2.69.142",
            "Forwarded chain, mixed case, extra params",
        ),
        (
            "10.0.0.5",
            Some("for=unknown"),
            None,
            &fwd,
            "10.0.0.5",
            "Forwarded unknown",
        ),
        (
            "10.0.0.5",
            Some("for=_hidden, for=10.1.1.1"),
            None,
            &fwd,
            "10.1.1.1",
            "Forwarded obfuscated identifier",
        ),
        (
            "10.0.0.5",
            Some("proto=https"),
            None,
            &fwd,
            "10.0.0.5",
            "Forwarded element without for",
        ),
        (
            "10.0.0.5",
            Some(r#"for="2001:db8::1"#),
            None,
            &fwd,
            "10.0.0.5",
            "Forwarded unterminated quote",
        ),
        (
            "10.0.0.5",
            Some("for=;;;==,,\"\""),
            None,
            &fwd,
            "10.0.0.5",
            "Forwarded garbage",
        ),
    ];
    for (peer, forwarded, xff, trusted, want, what) in cases {
        let got = client_ip(ip(peer), *forwarded, *xff, trusted);
        assert_eq!(got, ip(want), "{what}");
    }
}

#[test]
fn client_ip_header_preference() {
    let prefer = TrustedProxies::parse("10.0.0.0/8")
        .unwrap()
        .with_header(ProxyHeader::PreferForwarded);
    let peer = ip("10.0.0.5");
    assert_eq!(
        client_ip(
            peer,
            Some("for=81.2.69.142"),
            Some("89.160.20.128"),
            &prefer
        ),
        ip("81.2.69.142")
    );
    assert_eq!(
        client_ip(peer, None, Some("89.160.20.128"), &prefer),
        ip("89.160.20.128")
    );
    assert_eq!(
        client_ip(peer, Some("  "), Some("89.160.20.128"), &prefer),
        ip("89.160.20.128")
    );
}

#[test]
fn client_ip_bounds() {
    let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
    let peer = ip("10.0.0.5");

    // Oversized header: ignored entirely.
    let mut big = "81.2.69.142, ".repeat(MAX_FORWARDED_HEADER_LEN / 13 + 1);
    big.push_str("89.160.20.128");
    assert!(big.len() > MAX_FORWARDED_HEADER_LEN);
    assert_eq!(client_ip(peer, None, Some(&big), &proxies), peer);

    // Too many trusted hops: the walk stops after 32 and returns the last one.
    let mut hops: Vec<String> = vec!["81.2.69.142".into()];
    hops.extend((0..40).map(|i| format!("10.0.1.{i}")));
    let header = hops.join(",");
    assert!(header.len() <= MAX_FORWARDED_HEADER_LEN);
    assert_eq!(
        client_ip(peer, None, Some(&header), &proxies),
        ip("10.0.1.8")
    );
    // Within the bound the client is found.
    let header = hops[..20].join(",");
    assert_eq!(
        client_ip(peer, None, Some(&header), &proxies),
        ip("81.2.69.142")
    );
}

#[test]
fn trusted_proxies_presets() {
    let lo = TrustedProxies::loopback();
    assert!(lo.contains(ip("127.1.2.3")) && lo.contains(ip("::1")));
    assert!(!lo.contains(ip("10.0.0.1")));
    let private = TrustedProxies::private_networks();
    for a in [
        "10.1.1.1",
        "172.31.0.1",
        "192.168.0.1",
        "fd12::1",
        "fe80::1",
        "127.0.0.1",
    ] {
        assert!(private.contains(ip(a)), "{a}");
    }
    for a in ["172.32.0.1", "81.2.69.142", "2001:db8::1"] {
        assert!(!private.contains(ip(a)), "{a}");
    }
    assert!(TrustedProxies::none().is_empty());
    assert!(TrustedProxies::parse("10.0.0.0/8, nope").is_err());
    let t = TrustedProxies::none().with("203.0.113.0/24".parse::<IpCidr>().unwrap());
    assert!(t.contains(ip("203.0.113.77")));
}

// ---------------------------------------------------------------- Enricher

#[test]
fn enricher_bundled() {
    let e = Enricher::bundled().unwrap();
    let out = e.enrich(Some(ip("81.2.69.142")), Some(CHROME_WINDOWS));
    assert_eq!(out.class, DeviceClass::Desktop);
    assert_eq!(out.device.browser.as_deref(), Some("Chrome"));
    assert_eq!(out.location.country_code.as_deref(), Some("GB"));
    assert_eq!(
        out.describe(),
        "Chrome 131 on Windows 10 in London, United Kingdom"
    );

    let ctx = RequestContext::new()
        .with_ip(ip("89.160.20.128"))
        .with_user_agent(SAFARI_IPHONE);
    let out = e.enrich_context(&ctx);
    assert_eq!(out.class, DeviceClass::Mobile);
    assert_eq!(out.location.city.as_deref(), Some("Linköping"));

    let nothing = e.enrich(None, None);
    assert_eq!(nothing.class, DeviceClass::Other);
    assert_eq!(nothing.location, Location::default());
    assert_eq!(nothing.describe(), "Unknown device");

    let private = e.enrich(Some(ip("192.168.0.10")), Some(FIREFOX_LINUX));
    assert_eq!(private.describe(), "Firefox 128 on Linux");
}

#[test]
fn enricher_none_and_custom() {
    let e = Enricher::none();
    let out = e.enrich(Some(ip("81.2.69.142")), Some(CHROME_WINDOWS));
    assert_eq!(out.class, DeviceClass::Other);
    assert_eq!(out.location, Location::default());

    let custom = Enricher::none().with_user_agent_parser(parser());
    let out = custom.enrich(Some(ip("81.2.69.142")), Some(GOOGLEBOT));
    assert_eq!(out.class, DeviceClass::Bot);
    assert_eq!(out.location, Location::default());
    assert_eq!(custom.geo().is_anonymous(ip("81.2.69.142")), None);

    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["class"], "bot");
}

#[test]
fn enricher_as_login_enricher() {
    use sessionward_core::LoginEnricher;
    let e = Enricher::bundled().unwrap();
    let ctx = RequestContext::new()
        .with_ip(ip("89.160.20.128"))
        .with_user_agent(SAFARI_IPAD);
    let out = LoginEnricher::enrich(&e, &ctx);
    assert_eq!(out.class, DeviceClass::Tablet);
    assert_eq!(out.location.country_code.as_deref(), Some("SE"));
    assert!(!out.anonymous_ip);
    let vpn = RequestContext::new().with_ip(ip("1.2.0.0"));
    assert!(LoginEnricher::enrich(&e, &vpn).anonymous_ip);
    let none = LoginEnricher::enrich(&Enricher::none(), &ctx);
    assert_eq!(none.class, DeviceClass::Other);
    assert!(!none.anonymous_ip);
}
