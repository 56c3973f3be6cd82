//! In-process costs of observe-core: recording one request, rendering
//! `/metrics` with about 10,000 series, recording while a scrape renders
//! (it must not wait for it), and two threads recording into one series.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use observe_core::{Format, Observe};

fn record(c: &mut Criterion) {
    let observe = Observe::builder().build().expect("default settings");
    c.bench_function("record_request", |b| {
        b.iter(|| {
            let mut t = observe.start_request("GET", Some("/users/{id}"));
            t.response(200);
            t.add_response_body_bytes(24);
            t.finish();
        })
    });
}

/// An `Observe` with `routes x 3 methods x 4 statuses` label sets; each
/// label set is 43 exposed series (17 duration lines, 13 + 13 size lines).
fn populated(routes: usize) -> Observe {
    let observe = Observe::builder().build().expect("default settings");
    for route in 0..routes {
        let route = format!("/route/{route}/{{id}}");
        for method in ["GET", "POST", "DELETE"] {
            for status in [200, 404, 500, 503] {
                let mut t = observe.start_request(method, Some(&route));
                t.request_body_size(100);
                t.response(status);
                t.finish();
            }
        }
    }
    observe
}

fn render(c: &mut Criterion) {
    // 20 routes: 240 label sets, 10,320 series; 200 routes: 103,200 series.
    for (name, routes) in [("render_10k_series", 20), ("render_100k_series", 200)] {
        let observe = populated(routes);
        let mut group = c.benchmark_group(name);
        group.sample_size(20);
        group.bench_function("text", |b| {
            b.iter(|| observe.render(Format::Text).into_text())
        });
        group.bench_function("openmetrics", |b| {
            b.iter(|| observe.render(Format::OpenMetrics).into_text())
        });
        group.finish();
    }
}

/// Recording into an `Observe` with 10,320 series, alone and while another
/// thread renders it back to back (a scrape that never ends): recording
/// takes no lock a render holds for long.
fn record_while_rendering(c: &mut Criterion) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let observe = populated(20);
    let record = |observe: &Observe| {
        let mut t = observe.start_request("GET", Some("/route/7/{id}"));
        t.response(200);
        t.add_response_body_bytes(24);
        t.finish();
    };
    let mut group = c.benchmark_group("record_10k_series");
    group.bench_function("idle", |b| b.iter(|| record(&observe)));
    let stop = Arc::new(AtomicBool::new(false));
    let renderer = {
        let (observe, stop) = (observe.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut renders = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(observe.render(Format::Text).into_text());
                renders += 1;
            }
            renders
        })
    };
    group.bench_function("while_rendering", |b| b.iter(|| record(&observe)));
    stop.store(true, Ordering::Relaxed);
    let renders = renderer.join().expect("renderer");
    eprintln!("{renders} renders ran during the measurement");
    group.finish();
}

/// Application metrics on the hot path: inside a request's context, as a
/// handler records them.
fn app_metrics(c: &mut Criterion) {
    let observe = Observe::builder().build().expect("default settings");
    let tracker = observe.start_request("GET", Some("/users/{id}"));
    let context = std::sync::Arc::clone(tracker.context());
    let cache = observe.cache("users");
    let db = observe.dependency("postgres");
    c.bench_function("cache_hit_in_request", |b| {
        b.iter(|| observe_core::context::enter(&context, || cache.hit()))
    });
    c.bench_function("cache_hit_outside_request", |b| b.iter(|| cache.hit()));
    let waker = std::task::Waker::noop();
    c.bench_function("dependency_call_in_request", |b| {
        b.iter(|| {
            observe_core::context::enter(&context, || {
                let call = db.call("select_user", async { Ok::<_, ()>(7) });
                let mut call = std::pin::pin!(call);
                let mut cx = std::task::Context::from_waker(waker);
                std::hint::black_box(std::future::Future::poll(call.as_mut(), &mut cx))
            })
        })
    });
    drop(tracker);
}

/// One series recorded by one thread, then by two at once: what sharing a
/// series' atomics between cores costs per request (each thread records
/// `iters` requests; the time is per request and thread).
fn contention(c: &mut Criterion) {
    use std::time::{Duration, Instant};
    let observe = Observe::builder().build().expect("default settings");
    let record = |observe: &Observe, n: u64| {
        for _ in 0..n {
            let mut t = observe.start_request("GET", Some("/users/{id}"));
            t.response(200);
            t.add_response_body_bytes(24);
            t.finish();
        }
    };
    let mut group = c.benchmark_group("same_series");
    group.bench_function("one_thread", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            record(&observe, iters);
            start.elapsed()
        })
    });
    group.bench_function("two_threads", |b| {
        b.iter_custom(|iters| {
            let barrier = std::sync::Barrier::new(2);
            let took: Vec<Duration> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..2)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            let start = Instant::now();
                            record(&observe, iters);
                            start.elapsed()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("recorder"))
                    .collect()
            });
            took.into_iter().max().unwrap_or_default()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    record,
    render,
    record_while_rendering,
    app_metrics,
    contention
);
criterion_main!(benches);
