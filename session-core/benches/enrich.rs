//! Request-enrichment benchmarks: User-Agent parsing (uncached and cached),
//! GeoIP lookup and a whole `Enricher::enrich` call.
//!
//! `cargo bench -p sessionward-core --bench enrich -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use sessionward_core::enrich::{
    CachedParser, Enricher, GeoResolver, MaxMindResolver, UapParser, UserAgentParser,
};

const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 \
     (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
];

fn bench(c: &mut Criterion) {
    let parser = UapParser::shared_embedded().expect("embedded regexes");

    c.bench_function("ua_parser_build_embedded", |b| {
        b.iter(|| black_box(UapParser::embedded().expect("embedded regexes")))
    });

    let mut group = c.benchmark_group("ua_parse");
    group.bench_function("uncached_mix6", |b| {
        b.iter(|| {
            for ua in UAS {
                black_box(parser.parse(black_box(ua)));
            }
        })
    });
    let cached = CachedParser::with_default_capacity(Arc::clone(&parser));
    group.bench_function("cached_mix6", |b| {
        b.iter(|| {
            for ua in UAS {
                black_box(cached.parse(black_box(ua)));
            }
        })
    });
    group.finish();

    let geo = MaxMindResolver::bundled_test_data().expect("test databases");
    let london: IpAddr = "81.2.69.142".parse().expect("ip");
    let linkoping: IpAddr = "89.160.20.128".parse().expect("ip");
    let unknown: IpAddr = "8.8.8.8".parse().expect("ip");
    let mut group = c.benchmark_group("geo_locate");
    group.bench_function("city_only_hit", |b| {
        b.iter(|| black_box(geo.locate(black_box(london))))
    });
    group.bench_function("city_and_asn_hit", |b| {
        b.iter(|| black_box(geo.locate(black_box(linkoping))))
    });
    group.bench_function("miss", |b| {
        b.iter(|| black_box(geo.locate(black_box(unknown))))
    });
    group.finish();

    let enricher = Enricher::bundled().expect("bundled enricher");
    c.bench_function("enrich_cached_ua_plus_geo", |b| {
        b.iter(|| black_box(enricher.enrich(black_box(Some(linkoping)), black_box(Some(UAS[0])))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
