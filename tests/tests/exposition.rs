//! `/metrics` as a scraper sees it: negotiated formats, validated by
//! promtool and a strict OpenMetrics parser, with `_created` and `# EOF`;
//! with native histograms on, the protobuf format carrying the same
//! samples as the text plus the native buckets.

use observe_core::{Format, Observe, ObserveBuilder};
use observe_examples::axum_app;
use observe_tests::{
    FRAMEWORKS, Sample, client, parse_samples, promtool_check_metrics, protobuf, scrape,
    scrape_bytes, spawn_axum, start_example, strict_openmetrics_parse,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
const NATIVE_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A service with traffic on several routes, a constant label, a user
/// metric and label values that need escaping.
async fn busy_service() -> std::net::SocketAddr {
    busy_service_with(|builder| builder).await
}

/// [`busy_service`] with more settings.
async fn busy_service_with(
    settings: impl FnOnce(ObserveBuilder) -> ObserveBuilder,
) -> std::net::SocketAddr {
    let observe = settings(
        Observe::builder()
            .service_name("shop \"eu\"")
            .const_label("region", "eu\\west\n1"),
    )
    .build()
    .expect("valid settings");
    let orders = Counter::<u64>::default();
    let sizes = Histogram::new([1.0, 10.0]);
    observe.with_registry(|r| {
        r.register("shop_orders", "Orders placed.", orders.clone());
        r.register("shop_basket_items", "Items per basket.", sizes.clone());
    });
    orders.inc();
    sizes.observe(3.0);
    // A help text with a backslash and a newline must not break the scrape.
    observe
        .gauge("shop_queue_depth", "Jobs waiting.\nIn C:\\queue.")
        .expect("a new name")
        .set(2.0);
    let addr = spawn_axum(axum_app::app(
        &observe,
        observe_tests::example_shop(&observe),
    ))
    .await;
    let c = client();
    for path in ["/users/1", "/users/0", "/users/2000000", "/panic", "/nope"] {
        c.get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("answered");
    }
    c.post(format!("http://{addr}/orders"))
        .body("x")
        .send()
        .await
        .expect("answered");
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_text_is_the_default_and_passes_promtool() {
    let addr = busy_service().await;
    for accept in [
        None,
        Some("text/plain;version=0.0.4"),
        Some("*/*"),
        Some("application/json"),
    ] {
        let (content_type, text) = scrape(addr, accept).await;
        assert_eq!(
            content_type, "text/plain; version=0.0.4; charset=utf-8",
            "{accept:?}"
        );
        assert!(!text.contains("# EOF"));
        assert!(!text.contains("_created"));
        assert!(!text.contains("# UNIT"));
    }
    let (_, text) = scrape(addr, None).await;
    // HELP on every family, ours and the registry's.
    let types = text.lines().filter(|l| l.starts_with("# TYPE")).count();
    let helps = text.lines().filter(|l| l.starts_with("# HELP")).count();
    assert_eq!(types, helps);
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for family in [
        "target_info",
        "http_server_request_duration_seconds",
        "http_server_request_body_size_bytes",
        "http_server_response_body_size_bytes",
        "http_server_active_requests",
        "observe_cache_requests_total",
        "observe_dependency_duration_seconds",
        "observe_series_overflow_total",
        "shop_user_cache_entries",
        "shop_checkout_v2",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "process_threads",
        "shop_orders_total",
        "shop_basket_items",
    ] {
        assert!(
            families.contains(&family),
            "{family} missing from {families:?}"
        );
    }
    // Each family once: one coherent document.
    let mut unique = families.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), families.len(), "{families:?}");
    assert!(
        text.contains("shop_orders_total{region=\"eu\\\\west\\n1\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("target_info{service_name=\"shop \\\"eu\\\"\""),
        "{text}"
    );
    assert!(
        text.contains("# HELP shop_queue_depth Jobs waiting.\\nIn C:\\\\queue.\n"),
        "{text}"
    );

    if let Some((ok, output)) = promtool_check_metrics(&text) {
        assert!(ok, "promtool check metrics failed:\n{output}\n---\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_is_negotiated_with_created_and_eof() {
    let addr = busy_service().await;
    let (content_type, text) = scrape(addr, Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1);

    let samples = parse_samples(&text);
    // Every histogram series of ours carries a _created sample, set to when
    // the series was first observed (a plausible Unix time).
    let counts = samples
        .iter()
        .filter(|s| s.name.starts_with("http_server_") && s.name.ends_with("_count"))
        .count();
    let created: Vec<_> = samples
        .iter()
        .filter(|s| s.name.starts_with("http_server_") && s.name.ends_with("_created"))
        .collect();
    assert!(counts > 0);
    assert_eq!(created.len(), counts);
    assert!(created.iter().all(|s| s.value > 1.7e9 && s.value < 4.0e9));
    // Every counter series observe writes has its `_created`, the
    // process-wide ones and the overflow counter included (the registry's
    // `shop_orders` is prometheus-client's, which writes none).
    for total in samples
        .iter()
        .filter(|s| s.name.ends_with("_total") && s.name != "shop_orders_total")
    {
        let family = total.name.trim_end_matches("_total");
        let created = format!("{family}_created");
        assert!(
            samples
                .iter()
                .any(|s| s.name == created && s.labels == total.labels),
            "{} {:?} has no {created}",
            total.name,
            total.labels
        );
    }
    for family in [
        "observe_log_events",
        "observe_error_events_dropped",
        "observe_trace_spans_exported",
        "observe_series_overflow",
    ] {
        assert!(
            samples
                .iter()
                .any(|s| s.name == format!("{family}_created")),
            "{family}_created missing"
        );
    }
    assert!(text.contains("# UNIT http_server_request_duration_seconds seconds"));
    assert!(text.contains("# TYPE target info"));

    if let Some((ok, output)) = strict_openmetrics_parse(&text) {
        assert!(
            ok,
            "strict OpenMetrics parser rejected the document:\n{output}\n---\n{text}"
        );
    }
}

/// The samples a comparison can hold still between two scrapes: the
/// process's and the runtime's figures move on their own.
/// Sorted: prometheus-client writes a histogram's `_sum` and `_count`
/// before its buckets.
fn comparable(samples: impl IntoIterator<Item = Sample>) -> Vec<Sample> {
    let mut samples: Vec<Sample> = samples
        .into_iter()
        .filter(|s| {
            !s.name.starts_with("process_")
                && !s.name.starts_with("tokio_")
                && !s.name.ends_with("_created")
        })
        .map(|mut s| {
            // Both encoders write bounds their own way (`1.0`, `0.005`).
            if let Some(le) = s.labels.get_mut("le") {
                let bound: f64 = le.replace("+Inf", "inf").parse().expect("a bound");
                *le = if bound.is_infinite() {
                    "+Inf".into()
                } else {
                    format!("{bound:?}")
                };
            }
            s
        })
        .collect();
    samples.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_carries_the_openmetrics_samples_and_native_buckets() {
    // Scrapes not recorded, so two scrapes in a row see the same series.
    let addr = busy_service_with(|b| b.native_histograms(true).exclude_route("/metrics")).await;
    let (content_type, body) = scrape_bytes(addr, Some(NATIVE_ACCEPT)).await;
    assert_eq!(content_type, Format::Protobuf.content_type());
    let (_, text) = scrape(addr, Some(PROMETHEUS_ACCEPT)).await;
    let families = protobuf::decode(&body);

    // Sample for sample, the same document.
    let from_protobuf = comparable(families.iter().flat_map(protobuf::Family::samples));
    let from_text = comparable(parse_samples(&text));
    for (p, t) in from_protobuf.iter().zip(&from_text) {
        assert_eq!(p, t, "protobuf and OpenMetrics disagree");
    }
    assert_eq!(from_protobuf.len(), from_text.len());

    // Counters keep `_total` (as Prometheus reads a counter's name from
    // its family), info and stateset are gauges, help text is unescaped.
    let family = |name: &str| {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(family("shop_orders_total").kind, protobuf::COUNTER);
    assert_eq!(family("observe_log_events_total").kind, protobuf::COUNTER);
    assert_eq!(family("target_info").kind, protobuf::GAUGE);
    assert_eq!(family("shop_checkout_v2").kind, protobuf::GAUGE);
    assert_eq!(
        family("shop_queue_depth").help,
        "Jobs waiting.\nIn C:\\queue."
    );
    assert_eq!(
        family("shop_orders_total").metrics[0].labels["region"],
        "eu\\west\n1"
    );
    let duration = family("http_server_request_duration_seconds");
    assert_eq!(
        (duration.kind, duration.unit.as_str()),
        (protobuf::HISTOGRAM, "seconds")
    );

    // Every duration series is native too: schema 3, a zero bucket up to
    // 2^-20 s, and its buckets holding every observation. The size
    // histograms stay classic.
    assert!(!duration.metrics.is_empty());
    for metric in &duration.metrics {
        let h = metric.histogram.as_ref().expect("a histogram");
        assert_eq!(h.schema, Some(3), "{metric:?}");
        assert_eq!(h.zero_threshold, 2f64.powi(-20));
        let native: u64 = h.native_buckets().iter().map(|(_, c)| c).sum();
        assert_eq!(native + h.zero_count, h.count, "{metric:?}");
        // Inside the fixed range: 2^-20 s to 128 s.
        assert!(
            h.native_buckets()
                .iter()
                .all(|(i, _)| (-159..=56).contains(i))
        );
    }
    for name in [
        "http_server_request_body_size_bytes",
        "http_server_response_body_size_bytes",
        "observe_dependency_duration_seconds",
        "shop_basket_items",
    ] {
        for metric in &family(name).metrics {
            assert_eq!(metric.histogram.as_ref().expect("a histogram").schema, None);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_is_offered_only_with_native_histograms_on() {
    let addr = busy_service().await;
    let (content_type, text) = scrape(addr, Some(NATIVE_ACCEPT)).await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(text.ends_with("# EOF\n"));
    // With it on, a text scraper still gets text, classic buckets and all.
    let addr = busy_service_with(|b| b.native_histograms(true)).await;
    for (accept, content_type) in [
        (None, Format::Text.content_type()),
        (Some(PROMETHEUS_ACCEPT), Format::OpenMetrics.content_type()),
    ] {
        let (got, text) = scrape(addr, accept).await;
        assert_eq!(got, content_type);
        assert!(
            text.contains("http_server_request_duration_seconds_bucket{"),
            "{text}"
        );
    }
}

/// Each framework's `/metrics` passes the binary document through intact,
/// with the OpenMetrics document's families.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_serves_the_protobuf_document_intact() {
    for framework in FRAMEWORKS {
        let observe = Observe::builder()
            .native_histograms(true)
            .exclude_route("/metrics")
            .build()
            .expect("valid settings");
        let addr = start_example(framework, &observe).await;
        client()
            .get(format!("http://{addr}/users/1"))
            .send()
            .await
            .expect("answered");
        let (content_type, body) = scrape_bytes(addr, Some(NATIVE_ACCEPT)).await;
        assert_eq!(content_type, Format::Protobuf.content_type(), "{framework}");
        let families = protobuf::decode(&body);
        let (_, text) = scrape(addr, Some(PROMETHEUS_ACCEPT)).await;
        let with_samples = |name: &str| {
            families
                .iter()
                .any(|f| f.name == name && !f.metrics.is_empty())
        };
        for name in [
            "target_info",
            "http_server_request_duration_seconds",
            "shop_checkout_v2",
            "http_server_active_requests",
        ] {
            assert!(with_samples(name), "{framework}: {name} missing");
        }
        assert_eq!(
            comparable(families.iter().flat_map(protobuf::Family::samples)).len(),
            comparable(parse_samples(&text)).len(),
            "{framework}"
        );
    }
}
