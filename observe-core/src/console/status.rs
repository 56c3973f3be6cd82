//! `GET /observe/api/status`: everything the page shows, as one JSON
//! document. Only what is already safe to show leaves: route templates,
//! status codes, timings, ids, flag states, redacted check errors; never a
//! header, a query string, a body or a client address.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use crate::base::time::rfc3339;
use crate::metrics::Families;
use crate::metrics::console::window::{RouteWindows, WindowCounts};
use crate::metrics::console::{Console, KeptRequest};
use crate::metrics::signals::drops;
use crate::signals::health::{CheckResult, Readiness};

fn millis(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e3
}

fn window(counts: &WindowCounts, bounds: &[f64]) -> Value {
    json!({
        "requests": counts.requests,
        "rate": counts.rate(),
        "errors": counts.errors,
        "error_ratio": error_ratio(counts),
        "p50_ms": counts.quantile(0.5, bounds).map(millis),
        "p99_ms": counts.quantile(0.99, bounds).map(millis),
    })
}

fn error_ratio(counts: &WindowCounts) -> f64 {
    if counts.requests == 0 {
        0.0
    } else {
        counts.errors as f64 / counts.requests as f64
    }
}

/// Worst first: the last minute's error ratio, then its p99, then traffic.
fn sort_worst_first(routes: &mut [RouteWindows], bounds: &[f64]) {
    let key = |r: &RouteWindows| {
        (
            error_ratio(&r.last_minute),
            r.last_minute.quantile(0.99, bounds).unwrap_or(0.0),
            r.last_five.requests as f64,
        )
    };
    routes.sort_by(|a, b| {
        let (a, b) = (key(a), key(b));
        b.0.total_cmp(&a.0)
            .then(b.1.total_cmp(&a.1))
            .then(b.2.total_cmp(&a.2))
    });
}

fn request(kept: &KeptRequest) -> Value {
    json!({
        "time": rfc3339(kept.at),
        "method": &*kept.method,
        "route": &*kept.route,
        "status": kept.status,
        "error_type": kept.error_type.as_deref(),
        "duration_ms": millis(kept.duration.as_secs_f64()),
        "request_id": &*kept.request_id,
        "trace_id": kept.trace.trace_id_hex(),
        "dependencies": kept.calls.iter().map(|call| json!({
            "dependency": &*call.dependency,
            "operation": &*call.operation,
            "duration_ms": millis(call.duration.as_secs_f64()),
            "outcome": call.outcome.as_str(),
        })).collect::<Vec<_>>(),
        "dependency_calls": kept.calls_made,
    })
}

/// The `health` object, shared with `/health/ready`.
pub(crate) fn health(readiness: &Readiness) -> Value {
    json!({
        "status": readiness.status(),
        "checks": readiness.checks.iter().map(check).collect::<Vec<_>>(),
    })
}

fn check(result: &CheckResult) -> Value {
    json!({
        "name": result.name,
        "status": match result.up {
            Some(true) => "up",
            Some(false) => "down",
            None => "unknown",
        },
        "latency_ms": millis(result.latency.as_secs_f64()),
        "last_error": result.error,
        "checked_at": result.checked_at.map(rfc3339),
    })
}

/// The `log_level` object, shared with `/observe/log-level`.
#[cfg(feature = "logging")]
pub(crate) fn log_level() -> Value {
    match crate::signals::logging::log_level() {
        Some(level) => json!({
            "directives": level.directives,
            "default": level.default,
            "revert_at": level.revert_at.map(rfc3339),
            "changeable": true,
        }),
        None => not_changeable(),
    }
}

/// Without observe's logging there is no filter to change.
#[cfg(not(feature = "logging"))]
pub(crate) fn log_level() -> Value {
    not_changeable()
}

fn not_changeable() -> Value {
    json!({"directives": null, "default": null, "revert_at": null, "changeable": false})
}

/// The whole document.
pub(crate) fn status(
    families: &Arc<Families>,
    console: &Console,
    readiness: &Readiness,
    in_flight: u64,
) -> Value {
    let now = Instant::now();
    let bounds = &families.http.shared.buckets.duration;
    let mut routes = console.read_windows(families);
    sort_worst_first(&mut routes, bounds);
    let caches = families.app.cache_by_route();
    let service = &families.service;
    let drops = drops();
    json!({
        "service": {
            "name": service.name,
            "version": service.version,
            "git_commit": service.git_commit,
            "attributes": service
                .attributes
                .iter()
                .map(|(key, value)| (key.clone(), Value::from(value.as_str())))
                .collect::<serde_json::Map<_, _>>(),
        },
        "now": rfc3339(SystemTime::now()),
        "started_at": rfc3339(console.started_at),
        "uptime_seconds": now.saturating_duration_since(console.started).as_secs_f64(),
        "in_flight": in_flight,
        "saturation": console.saturation(families).map(|(now, busy)| json!({
            "workers": now.workers,
            "runtimes": now.runtimes,
            "busy_ratio": busy,
            "global_queue_depth": now.global_queue_depth,
            "alive_tasks": now.alive_tasks,
        })),
        "draining": readiness.draining,
        "profile": profile(),
        "routes": routes.iter().map(|r| {
            let cache = caches.iter().find(|(route, _)| *route == r.route).map(|(_, c)| {
                let lookups = c.hits + c.misses + c.errors;
                json!({
                    "hits": c.hits,
                    "misses": c.misses,
                    "errors": c.errors,
                    "hit_ratio": if lookups > 0 { c.hits as f64 / lookups as f64 } else { 0.0 },
                })
            });
            json!({
                "route": &*r.route,
                "1m": window(&r.last_minute, bounds),
                "5m": window(&r.last_five, bounds),
                "spark": r.spark.iter().map(|p| p.0).collect::<Vec<_>>(),
                "spark_errors": r.spark.iter().map(|p| p.1).collect::<Vec<_>>(),
                "cache": cache,
            })
        }).collect::<Vec<_>>(),
        "failed": console.recent.failed().iter().map(|r| request(r)).collect::<Vec<_>>(),
        "slowest": console.recent.slowest(now).iter().map(|r| request(r)).collect::<Vec<_>>(),
        "flags": families.app.state_views().iter().map(|f| json!({
            "name": f.name,
            "state": f.current,
            "states": f.states,
        })).collect::<Vec<_>>(),
        "health": health(readiness),
        "log_level": log_level(),
        "drops": {
            "log_lines": drops.log_lines,
            "error_events": drops.error_events,
            "spans": drops.spans,
        },
    })
}

/// Where a CPU profile is taken, when the `profiling` feature is built in.
fn profile() -> Value {
    #[cfg(feature = "profiling")]
    return json!({
        "flame_graph": "/debug/pprof/profile?seconds=30&format=svg",
        "pprof": "/debug/pprof/profile?seconds=30",
        "running": crate::profile::is_running(),
    });
    #[cfg(not(feature = "profiling"))]
    Value::Null
}
