//! What one scrape costs in each format, native histograms on: Prometheus
//! text, OpenMetrics, and the protobuf format (the HTTP histograms
//! straight from their series with their native buckets, the other
//! families read back from their OpenMetrics lines).

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use observe_core::Observe;

const NATIVE_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5";
const OPENMETRICS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0";

/// `routes x 3 statuses` GET series, each with requests of 1 to 128 µs
/// (8 of them, one per power of two: 8 native buckets, 8 spans), so the
/// native part is not the trivial one-bucket case.
fn populated(routes: usize, native: bool) -> Observe {
    let observe = Observe::builder()
        .native_histograms(native)
        .build()
        .expect("valid settings");
    for route in 0..routes {
        let route = format!("/route/{route}/{{id}}");
        for status in [200, 404, 500] {
            for power in 0..8 {
                let mut t = observe.start_request("GET", Some(&route));
                let took = Duration::from_micros(1 << power);
                let start = Instant::now();
                while start.elapsed() < took {
                    std::hint::spin_loop();
                }
                t.response(status);
                t.finish();
            }
        }
    }
    observe
}

fn scrape(c: &mut Criterion) {
    // 50 routes: 150 label sets, about 6,500 text lines; 500 routes: ten times that.
    for (name, routes) in [("scrape_50_routes", 50), ("scrape_500_routes", 500)] {
        let observe = populated(routes, true);
        let classic = populated(routes, false);
        for (format, accept) in [
            ("text", None),
            ("openmetrics", Some(OPENMETRICS_ACCEPT)),
            ("protobuf", Some(NATIVE_ACCEPT)),
        ] {
            let bytes = observe.scrape(accept).body.len();
            eprintln!("{name}/{format}: {bytes} bytes");
        }
        let mut group = c.benchmark_group(name);
        group.sample_size(20);
        group.bench_function("text", |b| b.iter(|| observe.scrape(None)));
        group.bench_function("text_native_off", |b| b.iter(|| classic.scrape(None)));
        group.bench_function("openmetrics", |b| {
            b.iter(|| observe.scrape(Some(OPENMETRICS_ACCEPT)))
        });
        group.bench_function("protobuf", |b| {
            b.iter(|| observe.scrape(Some(NATIVE_ACCEPT)))
        });
        group.finish();
    }
}

criterion_group!(benches, scrape);
criterion_main!(benches);
