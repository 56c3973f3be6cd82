//! `/metrics` as a scraper sees it: negotiated formats, validated by
//! promtool and a strict OpenMetrics parser, with `_created` and `# EOF`.

use observe_core::Observe;
use observe_examples::axum_app;
use observe_tests::{
    client, parse_samples, promtool_check_metrics, scrape, spawn_axum, strict_openmetrics_parse,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A service with traffic on several routes, a constant label, a user
/// metric and label values that need escaping.
async fn busy_service() -> std::net::SocketAddr {
    let observe = Observe::builder()
        .service_name("shop \"eu\"")
        .const_label("region", "eu\\west\n1")
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
