//! The redactor on a log line's hot path: a clean message (the common case,
//! which must stay borrowed and cheap), a clean field value, and a message
//! carrying one secret.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use observe_redact::Redactor;

/// About 120 bytes of an ordinary request log line: words, numbers, a path,
/// a `key=value` pair, a duration and a timestamp, nothing to redact.
const CLEAN_MESSAGE: &str = "order 8842 shipped to warehouse eu-west-1 for user 1842: \
                             3 items, total 129.99 EUR, GET /api/v1/orders status=200 in 12.4ms";

/// A typical string field: a user agent.
const CLEAN_FIELD: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0";

/// The clean message with one token in it.
const SECRET_MESSAGE: &str = "order 8842 shipped to warehouse eu-west-1 for user 1842: \
                              retrying with key ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 status=401";

fn redact(c: &mut Criterion) {
    let redactor = Redactor::default();
    assert!(matches!(
        redactor.redact_value(CLEAN_MESSAGE),
        std::borrow::Cow::Borrowed(_)
    ));
    let mut group = c.benchmark_group("redact");
    group.bench_function("clean_message", |b| {
        b.iter(|| redactor.redact_value(black_box(CLEAN_MESSAGE)).len())
    });
    group.bench_function("clean_field", |b| {
        b.iter(|| {
            redactor
                .redact_field(black_box("user_agent"), black_box(CLEAN_FIELD))
                .len()
        })
    });
    group.bench_function("secret_message", |b| {
        b.iter(|| redactor.redact_value(black_box(SECRET_MESSAGE)).len())
    });
    group.finish();
}

criterion_group!(benches, redact);
criterion_main!(benches);
