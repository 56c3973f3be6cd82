//! In-process costs of observe-core: recording one request, and rendering
//! `/metrics` with about 10,000 series.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use observe_core::{Format, Observe};

fn record(c: &mut Criterion) {
    let observe = Observe::builder().build().expect("default settings");
    c.bench_function("record_request", |b| {
        b.iter(|| {
            let mut t = observe
                .start_request("GET", Some("/users/{id}"))
                .expect("not excluded");
            t.response(200);
            t.add_response_body_bytes(24);
            t.finish();
        })
    });
}

/// 3 histogram families x (100 routes x 5 methods x 7 statuses) = 10,500
/// histogram series, plus the gauges.
fn render(c: &mut Criterion) {
    let observe = Observe::builder().build().expect("default settings");
    for route in 0..100 {
        let route = format!("/route/{route}/{{id}}");
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            for status in [200, 201, 204, 400, 404, 500, 503] {
                let mut t = observe
                    .start_request(method, Some(&route))
                    .expect("not excluded");
                t.response(status);
                t.finish();
            }
        }
    }
    let mut group = c.benchmark_group("render_10k_series");
    group.sample_size(20);
    group.bench_function("text", |b| b.iter(|| observe.render(Format::Text)));
    group.bench_function("openmetrics", |b| {
        b.iter(|| observe.render(Format::OpenMetrics))
    });
    group.finish();
}

criterion_group!(benches, record, render);
criterion_main!(benches);
