//! `rpc_server_duration_seconds`: gRPC calls, by the OpenTelemetry RPC
//! conventions (`rpc.system`, `rpc.service`, `rpc.method`,
//! `rpc.grpc.status_code`, and `error.type` for the codes that are the
//! server's failure). A gRPC call is recorded here instead of in the HTTP
//! families, where it would be a `POST` answered 200 whatever happened.
//!
//! Label values are bounded: a path that is not `/package.Service/Method`,
//! and a call answered UNIMPLEMENTED (a scanner guessing names), count as
//! `_OTHER`; past the method limit (the builder's `max_routes`) new
//! methods count as `_OVERFLOW`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::histogram::Histogram;
use super::http::Outcome;
use super::labels::{OTHER_METHOD, OVERFLOW_VALUE};
use crate::base::time::unix_now;
use crate::encoding::{Format, escape_label_value, header, write_histogram};

const NAME: &str = "rpc_server_duration_seconds";

/// gRPC status codes by number, as the conventions name them.
pub const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// UNKNOWN: what a missing or malformed `grpc-status` means.
pub(crate) const UNKNOWN: u8 = 2;
/// CANCELLED: the client went away.
pub(crate) const CANCELLED: u8 = 1;
/// INTERNAL: what a panicking handler is answered with.
pub(crate) const INTERNAL: u8 = 13;
/// UNIMPLEMENTED: no such method.
pub(crate) const UNIMPLEMENTED: u8 = 12;

/// Whether `code` is the server's failure by the OpenTelemetry RPC
/// conventions: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS. NOT_FOUND and the other client errors are not.
pub fn is_server_error(code: u8) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// `error_type` of a call: `panic`, `cancelled`, or the code of a server
/// error; `None` for a success or a client error.
pub(crate) fn error_type(code: u8, outcome: Outcome) -> Option<String> {
    match outcome {
        Outcome::Panic => Some("panic".into()),
        Outcome::Cancelled => Some("cancelled".into()),
        Outcome::Completed => is_server_error(code).then(|| code.to_string()),
    }
}

/// The `grpc-status` value's code: a decimal 0 to 16; anything else is
/// UNKNOWN, as the gRPC spec has clients read it.
pub(crate) fn parse_status(value: &[u8]) -> u8 {
    std::str::from_utf8(value)
        .ok()
        .filter(|v| (1..=2).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u8>().ok())
        .filter(|code| usize::from(*code) < GRPC_CODES.len())
        .unwrap_or(UNKNOWN)
}

/// The code a non-200 HTTP answer to a gRPC call stands for (the gRPC
/// spec's HTTP to gRPC status mapping).
pub(crate) fn code_of_http_status(status: u16) -> u8 {
    match status {
        400 => INTERNAL,
        401 => 16,
        403 => 7,
        404 => UNIMPLEMENTED,
        429 | 502 | 503 | 504 => 14,
        _ => UNKNOWN,
    }
}

/// `/package.Service/Method` split into service and method, when the path
/// has that shape.
pub(crate) fn split_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let name = |s: &str| {
        (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
    };
    (name(service) && name(method)).then_some((service, method))
}

/// One series: a method, a code and how the call ended.
#[derive(Debug)]
struct RpcSeries {
    service: Arc<str>,
    method: Arc<str>,
    code: u8,
    outcome: Outcome,
    created: f64,
    duration: Histogram,
}

/// A service and method name.
type MethodName = (Box<str>, Box<str>);

/// The gRPC family of one `Observe`.
#[derive(Debug)]
pub(crate) struct RpcMetrics {
    bounds: Box<[f64]>,
    max_methods: usize,
    /// (service, method) → id; the series key is the id and the code.
    methods: RwLock<HashMap<MethodName, u32>>,
    series: RwLock<HashMap<(u32, u8, Outcome), Arc<RpcSeries>>>,
    overflowed: AtomicU64,
}

/// The method id of `_OTHER`.
const OTHER_ID: u32 = 0;
/// The method id of `_OVERFLOW`.
const OVERFLOW_ID: u32 = 1;

impl RpcMetrics {
    pub(crate) fn new(bounds: &[f64], max_methods: usize) -> Self {
        let mut methods = HashMap::new();
        methods.insert((OTHER_METHOD.into(), OTHER_METHOD.into()), OTHER_ID);
        methods.insert((OVERFLOW_VALUE.into(), OVERFLOW_VALUE.into()), OVERFLOW_ID);
        Self {
            bounds: bounds.into(),
            max_methods,
            methods: RwLock::new(methods),
            series: RwLock::default(),
            overflowed: AtomicU64::new(0),
        }
    }

    /// The service and method label values a call to `path` answered with
    /// `code` is recorded under.
    pub(crate) fn labels_for(path: &str, code: u8) -> (&str, &str) {
        match split_path(path) {
            Some(names) if code != UNIMPLEMENTED => names,
            _ => (OTHER_METHOD, OTHER_METHOD),
        }
    }

    fn method_id(&self, service: &str, method: &str) -> u32 {
        let key = (Box::<str>::from(service), Box::<str>::from(method));
        if let Some(id) = self
            .methods
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return *id;
        }
        let mut methods = self.methods.write().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = methods.get(&key) {
            return *id;
        }
        // `_OTHER` and `_OVERFLOW` do not count against the limit.
        if methods.len() - 2 >= self.max_methods {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return OVERFLOW_ID;
        }
        let id = u32::try_from(methods.len()).unwrap_or(OVERFLOW_ID);
        methods.insert(key, id);
        id
    }

    /// Records a call to `service`/`method` that ended with `code` after
    /// `nanos`.
    pub(crate) fn observe(
        &self,
        service: &str,
        method: &str,
        code: u8,
        outcome: Outcome,
        nanos: u64,
    ) {
        let id = self.method_id(service, method);
        let key = (id, code, outcome);
        let seconds = nanos as f64 * 1e-9;
        if let Some(series) = self
            .series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            series.duration.observe(&self.bounds, seconds, nanos);
            return;
        }
        let (service, method) = match id {
            OVERFLOW_ID => (OVERFLOW_VALUE, OVERFLOW_VALUE),
            _ => (service, method),
        };
        let mut map = self.series.write().unwrap_or_else(|p| p.into_inner());
        let series = map.entry(key).or_insert_with(|| {
            Arc::new(RpcSeries {
                service: service.into(),
                method: method.into(),
                code,
                outcome,
                created: unix_now(),
                duration: Histogram::new(&self.bounds),
            })
        });
        series.duration.observe(&self.bounds, seconds, nanos);
    }

    /// Writes the family when a call was recorded.
    pub(crate) fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        let mut series: Vec<Arc<RpcSeries>> = self
            .series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        if series.is_empty() {
            return;
        }
        series.sort_by(|a, b| {
            (&a.service, &a.method, a.code, a.outcome)
                .cmp(&(&b.service, &b.method, b.code, b.outcome))
        });
        header(
            out,
            format,
            NAME,
            "histogram",
            Some("seconds"),
            "Duration of gRPC server calls, until the last message and the status were sent.",
        );
        let mut labels = String::with_capacity(192);
        for s in series {
            labels.clear();
            labels.push_str("rpc_grpc_status_code=\"");
            labels.push_str(&s.code.to_string());
            labels.push_str("\",rpc_method=\"");
            escape_label_value(&mut labels, &s.method);
            labels.push_str("\",rpc_service=\"");
            escape_label_value(&mut labels, &s.service);
            labels.push_str("\",rpc_system=\"grpc\"");
            if let Some(error_type) = error_type(s.code, s.outcome) {
                labels.push_str(",error_type=\"");
                labels.push_str(&error_type);
                labels.push('"');
            }
            labels.push_str(const_labels);
            write_histogram(
                out,
                format,
                NAME,
                &labels,
                &self.bounds,
                &s.duration.snapshot(1e-9),
                s.created,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_or_are_unknown() {
        assert_eq!(parse_status(b"0"), 0);
        assert_eq!(parse_status(b"13"), 13);
        assert_eq!(parse_status(b"16"), 16);
        for bad in [&b""[..], b"17", b"-1", b"+3", b"1 ", b"OK", b"007", b"\xff"] {
            assert_eq!(parse_status(bad), UNKNOWN, "{bad:?}");
        }
        assert!(is_server_error(13) && is_server_error(14) && !is_server_error(5));
        assert_eq!(code_of_http_status(503), 14);
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(
            split_path("/shop.v1.Users/GetUser"),
            Some(("shop.v1.Users", "GetUser"))
        );
        assert_eq!(split_path("/users/1"), Some(("users", "1")));
        assert_eq!(split_path("/a/b/c"), None);
        assert_eq!(split_path("/wp-login.php"), None);
        assert_eq!(
            RpcMetrics::labels_for("/x.Y/Z", UNIMPLEMENTED),
            ("_OTHER", "_OTHER")
        );
        let rpc = RpcMetrics::new(&[0.1, 1.0], 2);
        rpc.observe("a.S", "M1", 0, Outcome::Completed, 1_000);
        rpc.observe("a.S", "M2", 13, Outcome::Completed, 1_000);
        rpc.observe("a.S", "M3", 0, Outcome::Completed, 1_000);
        rpc.observe("a.S", "M1", 0, Outcome::Completed, 1_000);
        rpc.observe("a.S", "M1", 13, Outcome::Panic, 1_000);
        let mut out = String::new();
        rpc.render(&mut out, Format::Text, "");
        assert!(out.contains("rpc_server_duration_seconds_count{rpc_grpc_status_code=\"0\",rpc_method=\"M1\",rpc_service=\"a.S\",rpc_system=\"grpc\"} 2"), "{out}");
        assert!(
            out.contains(
                "rpc_method=\"M2\",rpc_service=\"a.S\",rpc_system=\"grpc\",error_type=\"13\"} 1"
            ),
            "{out}"
        );
        assert!(
            out.contains("rpc_method=\"_OVERFLOW\",rpc_service=\"_OVERFLOW\""),
            "{out}"
        );
        assert!(
            out.contains(
                "rpc_method=\"M1\",rpc_service=\"a.S\",rpc_system=\"grpc\",error_type=\"panic\"} 1"
            ),
            "{out}"
        );
    }
}
