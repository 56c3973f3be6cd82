//! OTLP logs and metrics from the example binaries, received by a stand-in
//! collector on loopback that decodes the real protobuf (the
//! opentelemetry-proto crate's prost types): a log record per request
//! event with its trace id and route, and for every line stdout got a
//! record holding the same (body, severity, ids, attributes: the handler's
//! fields, the event's under their semantic-convention names), the
//! request-duration histogram with
//! the same count `/metrics` shows, the tenant header and gzip on both;
//! retried after 503 with `Retry-After`; counted as dropped when the
//! collector is a black hole, while requests go on being answered.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;

use observe_tests::processes::{self, Running, free_port, terminate, wait_for};
use observe_tests::{eventually, parse_samples, value};

/// One POST the collector took.
#[derive(Debug, Clone)]
struct Post {
    path: String,
    tenant: Option<String>,
    gzip: bool,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Collector {
    posts: Arc<Mutex<Vec<Post>>>,
    /// Answer this many metrics posts 503 with `Retry-After: 1` first.
    refuse_metrics: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl Collector {
    async fn start(refuse_metrics: usize) -> (SocketAddr, Self) {
        let collector = Self::default();
        collector
            .refuse_metrics
            .store(refuse_metrics, Ordering::SeqCst);
        let state = collector.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let path = uri.path().to_string();
                if path == "/v1/metrics"
                    && state.refuse_metrics.load(Ordering::SeqCst)
                        > state.refused.load(Ordering::SeqCst)
                {
                    state.refused.fetch_add(1, Ordering::SeqCst);
                    return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")])
                        .into_response();
                }
                let gzip = headers.get("content-encoding").is_some_and(|v| v == "gzip");
                let body = if gzip {
                    assert_eq!(&body[..2], &[0x1f, 0x8b]);
                    miniz_oxide::inflate::decompress_to_vec(&body[10..body.len() - 8]).unwrap()
                } else {
                    body.to_vec()
                };
                state.posts.lock().unwrap().push(Post {
                    path,
                    tenant: headers
                        .get("x-scope-orgid")
                        .map(|v| v.to_str().unwrap().to_string()),
                    gzip,
                    body,
                });
                StatusCode::OK.into_response()
            }
        });
        (observe_tests::spawn_axum(app).await, collector)
    }

    fn posts(&self, path: &str) -> Vec<Post> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.path == path)
            .cloned()
            .collect()
    }

    /// Every log record received.
    fn records(&self) -> Vec<LogRecord> {
        let mut out = Vec::new();
        for post in self.posts("/v1/logs") {
            let request = ExportLogsServiceRequest::decode(post.body.as_slice()).unwrap();
            for resource in request.resource_logs {
                for scope in resource.scope_logs {
                    out.extend(scope.log_records);
                }
            }
        }
        out
    }

    /// Every log record received, as (event name, route, trace id, body).
    fn request_events(&self) -> Vec<(String, String, Vec<u8>)> {
        let mut out = Vec::new();
        for post in self.posts("/v1/logs") {
            let request = ExportLogsServiceRequest::decode(post.body.as_slice()).unwrap();
            for resource in &request.resource_logs {
                for scope in &resource.scope_logs {
                    for record in &scope.log_records {
                        if record.event_name != "observe.request" {
                            continue;
                        }
                        let route = string(&record.attributes, "http.route").unwrap_or_default();
                        // The status as an integer, the duration as a
                        // double, the dependencies as a map; the
                        // severity and body from the line.
                        let status = record
                            .attributes
                            .iter()
                            .find(|kv| kv.key == "http.response.status_code")
                            .and_then(|kv| kv.value.as_ref()?.value.clone());
                        assert_eq!(status, Some(AnyValue::IntValue(200)), "{record:?}");
                        let duration = record
                            .attributes
                            .iter()
                            .find(|kv| kv.key == "duration_ms")
                            .and_then(|kv| kv.value.as_ref()?.value.clone());
                        assert!(
                            matches!(
                                duration,
                                Some(AnyValue::DoubleValue(_) | AnyValue::IntValue(_))
                            ),
                            "{record:?}"
                        );
                        let dependencies = record
                            .attributes
                            .iter()
                            .find(|kv| kv.key == "dependencies")
                            .and_then(|kv| kv.value.as_ref()?.value.clone());
                        assert!(
                            matches!(dependencies, Some(AnyValue::KvlistValue(_))),
                            "{record:?}"
                        );
                        assert_eq!(record.severity_number, 9, "INFO");
                        assert_eq!(record.severity_text, "INFO");
                        assert!(record.time_unix_nano > 1_700_000_000_000_000_000);
                        assert!(
                            matches!(record.body.as_ref().and_then(|b| b.value.clone()), Some(AnyValue::StringValue(ref m)) if m == "request finished"),
                            "{record:?}"
                        );
                        let method =
                            string(&record.attributes, "http.request.method").unwrap_or_default();
                        out.push((method, route, record.trace_id.clone()));
                    }
                }
            }
        }
        out
    }

    /// The request-duration count for `route` in the newest metrics push.
    fn duration_count(&self, route: &str) -> Option<u64> {
        let post = self.posts("/v1/metrics").pop()?;
        let request = ExportMetricsServiceRequest::decode(post.body.as_slice()).unwrap();
        let mut total = None;
        for resource in &request.resource_metrics {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| string(&r.attributes, "service.name"));
            assert_eq!(service.as_deref(), Some("shop"), "the resource");
            for scope in &resource.scope_metrics {
                for metric in &scope.metrics {
                    if metric.name != "http.server.request.duration" {
                        continue;
                    }
                    assert_eq!(metric.unit, "s");
                    let Some(Data::Histogram(histogram)) = &metric.data else {
                        panic!("explicit buckets without native histograms: {metric:?}");
                    };
                    assert_eq!(histogram.aggregation_temporality, 2, "cumulative");
                    for point in &histogram.data_points {
                        if string(&point.attributes, "http.route").as_deref() == Some(route) {
                            assert!(point.start_time_unix_nano > 0, "start time from _created");
                            assert_eq!(
                                point.bucket_counts.iter().sum::<u64>(),
                                point.count,
                                "buckets add up"
                            );
                            *total.get_or_insert(0) += point.count;
                        }
                    }
                }
            }
        }
        total
    }
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(text) => Some(text.clone()),
            AnyValue::IntValue(number) => Some(number.to_string()),
            _ => None,
        }
    })
}

/// A JSON value as compared with a record's: numbers as doubles (a line
/// prints a whole-number duration as `0`, the record holds `0.0`), nulls
/// left out (a record has no attribute for them).
fn normal(value: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value;
    Some(match value {
        Value::Null => return None,
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().filter_map(normal).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), normal(v)?)))
                .collect(),
        ),
        other => other.clone(),
    })
}

/// A record's value as JSON.
fn json(value: Option<&AnyValue>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Some(AnyValue::StringValue(s)) => Value::from(s.as_str()),
        Some(AnyValue::BoolValue(b)) => Value::from(*b),
        Some(AnyValue::IntValue(n)) => Value::from(*n as f64),
        Some(AnyValue::DoubleValue(n)) => Value::from(*n),
        Some(AnyValue::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|v| json(v.value.as_ref())).collect())
        }
        Some(AnyValue::KvlistValue(list)) => Value::Object(attributes(&list.values)),
        other => panic!("an attribute of an unexpected kind: {other:?}"),
    }
}

fn attributes(list: &[KeyValue]) -> serde_json::Map<String, serde_json::Value> {
    list.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                json(kv.value.as_ref().and_then(|v| v.value.as_ref())),
            )
        })
        .collect()
}

/// The attributes a record of `line` should have: the line's keys but the
/// record's own (time, level, service, ids, message), `fields` flattened,
/// the event's keys flattened under their semantic-convention names.
fn expected_attributes(line: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    let renamed = observe_core::otlp::logs::EVENT_ATTRIBUTES;
    let mut out = serde_json::Map::new();
    for (key, value) in line.as_object().unwrap() {
        match key.as_str() {
            "timestamp" | "level" | "service" | "trace_id" | "span_id" | "message" => {}
            "fields" => {
                for (k, v) in value.as_object().unwrap() {
                    if let Some(v) = normal(v) {
                        out.insert(k.clone(), v);
                    }
                }
            }
            "event" => {
                for (k, v) in value.as_object().unwrap() {
                    let k = renamed
                        .iter()
                        .find(|(from, _)| from == k)
                        .map_or(k.as_str(), |(_, to)| to);
                    if let Some(v) = normal(v) {
                        out.insert(k.to_string(), v);
                    }
                }
            }
            _ => {
                if let Some(v) = normal(value) {
                    out.insert(key.clone(), v);
                }
            }
        }
    }
    out
}

/// Every line on stdout written while the service ran (not those of its
/// shutdown) has a record holding the same: body, severity, ids, event
/// name and attributes.
fn assert_records_hold_the_lines(
    name: &str,
    lines: &[serde_json::Value],
    records: &[LogRecord],
) -> usize {
    let body = |r: &LogRecord| match r.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(AnyValue::StringValue(text)) => text.clone(),
        other => panic!("{name}: a body that is not a string: {other:?}"),
    };
    let mut matched = 0;
    for line in lines {
        let message = line["message"].as_str().unwrap();
        if message.contains("shutdown") || message.contains("drain") {
            continue;
        }
        let want = expected_attributes(line);
        let found: Vec<&LogRecord> = records
            .iter()
            .filter(|r| {
                body(r) == message
                    && attributes(&r.attributes).get("target") == want.get("target")
                    && attributes(&r.attributes).get("request_id") == want.get("request_id")
            })
            .collect();
        assert!(!found.is_empty(), "{name}: no record for {line}");
        let record = found
            .iter()
            .find(|r| attributes(&r.attributes) == want)
            .unwrap_or_else(|| {
                panic!(
                    "{name}: the record's attributes differ from the line's\n{line}\n{:?}",
                    attributes(&found[0].attributes)
                )
            });
        assert_eq!(record.severity_text, line["level"], "{name}: {line}");
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        match line.get("trace_id").and_then(|t| t.as_str()) {
            Some(trace) => {
                assert_eq!(hex(&record.trace_id), trace, "{name}: {line}");
                assert_eq!(hex(&record.span_id), line["span_id"], "{name}: {line}");
            }
            None => assert!(record.trace_id.is_empty(), "{name}: {line}"),
        }
        let event = line.get("event").is_some();
        assert_eq!(
            record.event_name == "observe.request",
            event,
            "{name}: {line}"
        );
        matched += 1;
    }
    matched
}

fn start(executable: &str, envs: &[(&str, String)]) -> (Running, SocketAddr, SocketAddr) {
    let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let public: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut all = vec![
        ("OBSERVE_ADMIN_ADDR", admin.to_string()),
        ("LISTEN_ADDR", public.to_string()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300".to_string()),
    ];
    all.extend(envs.iter().cloned());
    let running = processes::start(processes::command(executable, None), &all);
    (running, public, admin)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    tokio::task::spawn_blocking({
        let path = path.to_string();
        move || processes::get(addr, &path).unwrap()
    })
    .await
    .unwrap()
}

fn binaries() -> Vec<(String, String)> {
    processes::built(&["-p", "observe-examples", "--bins"])
        .into_iter()
        .filter(|(_, name, _)| {
            ["axum-service", "actix-service", "tower-service"].contains(&name.as_str())
        })
        .map(|(_, name, executable)| (name, executable))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_exports_its_logs_and_metrics_over_otlp() {
    let binaries = binaries();
    assert_eq!(binaries.len(), 3);
    for (name, executable) in &binaries {
        let (collector_addr, collector) = Collector::start(0).await;
        let (mut running, public, admin) = start(
            executable,
            &[
                ("OTEL_METRICS_EXPORTER", "otlp".into()),
                ("OTEL_LOGS_EXPORTER", "otlp,console".into()),
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("http://{collector_addr}"),
                ),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "X-Scope-OrgID=tenant-a".into(),
                ),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
                // The handler's debug lines too, with their fields.
                ("RUST_LOG", "info,observe_examples=debug".into()),
            ],
        );
        let admin_check = tokio::task::spawn_blocking(move || wait_for(admin, "/health/live").0);
        assert_eq!(admin_check.await.unwrap(), 200, "{name}");
        for id in 1..=10 {
            assert_eq!(get(public, &format!("/users/{id}")).await.0, 200, "{name}");
        }
        // A log record per request event, with its route and trace id.
        let events = eventually(
            Duration::from_secs(20),
            "ten request events over OTLP",
            || {
                let collector = collector.clone();
                async move {
                    let events: Vec<_> = collector
                        .request_events()
                        .into_iter()
                        .filter(|(_, route, _)| route == "/users/{id}")
                        .collect();
                    (events.len() >= 10).then_some(events)
                }
            },
        )
        .await;
        assert_eq!(events.len(), 10, "{name}: one record per event");
        for (method, _, trace_id) in &events {
            assert_eq!(method, "GET");
            assert_eq!(trace_id.len(), 16, "{name}: the record's trace id");
        }
        // The pushed histogram holds the count the scrape shows.
        let (_, text) = get(admin, "/metrics").await;
        let scraped = value(
            &parse_samples(&text),
            "http_server_request_duration_seconds_count",
            &[("http_route", "/users/{id}")],
        )
        .unwrap() as u64;
        assert_eq!(scraped, 10, "{name}");
        let pushed = eventually(Duration::from_secs(20), "the pushed count", || {
            let collector = collector.clone();
            async move {
                collector
                    .duration_count("/users/{id}")
                    .filter(|c| *c == scraped)
            }
        })
        .await;
        assert_eq!(pushed, scraped, "{name}: /metrics and OTLP agree");
        for path in ["/v1/logs", "/v1/metrics"] {
            let posts = collector.posts(path);
            assert!(!posts.is_empty(), "{name}: {path}");
            for post in posts {
                assert_eq!(post.tenant.as_deref(), Some("tenant-a"), "{name}: {path}");
                assert!(post.gzip, "{name}: {path} gzip'd");
            }
        }
        // Console too: the shutdown line is on stdout. Every line the
        // service wrote while it ran has its record, holding the same
        // (the handler's debug lines with their fields, the listeners'
        // lines, the events with their dependency calls).
        let lines = terminate(&mut running, name);
        let matched = assert_records_hold_the_lines(name, &lines, &collector.records());
        let with_fields = lines
            .iter()
            .filter(|l| l["fields"].is_object() && l["request_id"].is_string())
            .count();
        assert!(
            matched >= 20 && with_fields >= 1,
            "{name}: {matched} lines, {with_fields} with fields"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_retried_and_a_black_hole_is_counted_not_waited_for() {
    let binaries = binaries();
    let (_, executable) = binaries.iter().find(|(n, _)| n == "axum-service").unwrap();

    // 503 with Retry-After: 1 for the first push, then taken.
    let (collector_addr, collector) = Collector::start(1).await;
    let (mut running, public, admin) = start(
        executable,
        &[
            ("OTEL_METRICS_EXPORTER", "otlp".into()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                format!("http://{collector_addr}/v1/metrics"),
            ),
        ],
    );
    tokio::task::spawn_blocking(move || wait_for(admin, "/health/live"))
        .await
        .unwrap();
    assert_eq!(get(public, "/users/1").await.0, 200);
    eventually(Duration::from_secs(20), "a push after the refusal", || {
        let collector = collector.clone();
        async move { (!collector.posts("/v1/metrics").is_empty()).then_some(()) }
    })
    .await;
    assert!(collector.refused.load(Ordering::SeqCst) >= 1);
    let (_, text) = get(admin, "/metrics").await;
    let samples = parse_samples(&text);
    let exports = |outcome| {
        value(
            &samples,
            "observe_otlp_exports_total",
            &[("signal", "metrics"), ("outcome", outcome)],
        )
        .unwrap()
    };
    assert!(exports("success") >= 1.0, "{text}");
    assert_eq!(exports("failure"), 0.0, "the retry took it");
    terminate(&mut running, "axum-service");

    // A collector that accepts connections and never answers.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_addr = hole.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in hole.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let (mut running, public, admin) = start(
        executable,
        &[
            ("OTEL_METRICS_EXPORTER", "otlp".into()),
            ("OTEL_LOGS_EXPORTER", "otlp,console".into()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{hole_addr}")),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "200".into()),
        ],
    );
    tokio::task::spawn_blocking(move || wait_for(admin, "/health/live"))
        .await
        .unwrap();
    // Requests are answered while every export hangs.
    for id in 0..50 {
        assert_eq!(get(public, &format!("/users/{}", id % 5 + 1)).await.0, 200);
    }
    let dropped = eventually(Duration::from_secs(30), "drops counted", || async move {
        let (_, text) = get(admin, "/metrics").await;
        let samples = parse_samples(&text);
        let logs = value(
            &samples,
            "observe_otlp_items_dropped_total",
            &[("signal", "logs"), ("reason", "export_failed")],
        )?;
        let metrics = value(
            &samples,
            "observe_otlp_items_dropped_total",
            &[("signal", "metrics"), ("reason", "export_failed")],
        )?;
        (logs >= 50.0 && metrics > 0.0).then_some((logs, metrics))
    })
    .await;
    assert!(dropped.0 >= 50.0, "{dropped:?}");
    terminate(&mut running, "axum-service");
}
