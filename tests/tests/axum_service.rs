//! The axum example service on a real loopback server, driven by a real
//! client: every route gives the expected series, failures are counted once.

use std::time::Duration;

use observe_examples::axum_app;
use observe_tests::{
    Sample, client, eventually, example_observe, parse_samples, scrape, spawn_axum, value,
};
use tokio::io::AsyncWriteExt;

const COUNT: &str = "http_server_request_duration_seconds_count";

/// Scrapes until the duration count of every `(labels, count)` matches.
async fn wait_for_counts(
    addr: std::net::SocketAddr,
    want: &[(&[(&str, &str)], f64)],
) -> Vec<Sample> {
    eventually(
        Duration::from_secs(10),
        "expected request counts",
        || async {
            let samples = parse_samples(&scrape(addr, None).await.1);
            want.iter()
                .all(|(labels, n)| value(&samples, COUNT, labels) == Some(*n))
                .then_some(samples)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_gives_its_series_once() {
    let observe = example_observe();
    let addr = spawn_axum(axum_app::app(
        &observe,
        observe_tests::example_shop(&observe),
    ))
    .await;
    let c = client();
    let url = |p: &str| format!("http://{addr}{p}");

    assert_eq!(c.get(url("/health")).send().await.unwrap().status(), 200);
    let user = c.get(url("/users/7")).send().await.unwrap();
    assert_eq!(user.status(), 200);
    let user_body = user.bytes().await.unwrap();
    let user_json: serde_json::Value = serde_json::from_slice(&user_body).unwrap();
    assert_eq!(user_json["id"], 7);
    assert_eq!(c.get(url("/users/0")).send().await.unwrap().status(), 404);
    assert_eq!(
        c.get(url("/users/1000000")).send().await.unwrap().status(),
        500
    );
    let order = r#"{"item":"book","quantity":2}"#;
    let created = c.post(url("/orders")).body(order).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let invalid = c
        .post(url("/orders"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    assert_eq!(c.get(url("/slow?ms=1")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(url("/panic")).send().await.unwrap().status(), 500);
    assert_eq!(
        c.get(url("/no/such/path/42"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(c.put(url("/users/7")).send().await.unwrap().status(), 405);
    let bogus = reqwest::Method::from_bytes(b"BREW").unwrap();
    assert_eq!(
        c.request(bogus, url("/users/7"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    // The server keeps serving after the panic.
    assert_eq!(c.get(url("/users/8")).send().await.unwrap().status(), 200);

    let get_user = [
        ("http_request_method", "GET"),
        ("http_route", "/users/{id}"),
    ];
    let samples = wait_for_counts(
        addr,
        &[
            (
                &[
                    get_user[0],
                    get_user[1],
                    ("http_response_status_code", "200"),
                ],
                2.0,
            ),
            (
                &[
                    get_user[0],
                    get_user[1],
                    ("http_response_status_code", "404"),
                ],
                1.0,
            ),
            (
                &[
                    get_user[0],
                    get_user[1],
                    ("http_response_status_code", "500"),
                    ("error_type", "500"),
                ],
                1.0,
            ),
            (
                &[
                    ("http_route", "/orders"),
                    ("http_response_status_code", "201"),
                ],
                1.0,
            ),
            (
                &[
                    ("http_route", "/orders"),
                    ("http_response_status_code", "422"),
                ],
                1.0,
            ),
            (
                &[
                    ("http_route", "/slow"),
                    ("http_response_status_code", "200"),
                ],
                1.0,
            ),
            (
                &[
                    ("http_route", "/panic"),
                    ("http_response_status_code", "500"),
                    ("error_type", "panic"),
                ],
                1.0,
            ),
            (
                &[
                    ("http_route", "_UNMATCHED"),
                    ("http_response_status_code", "404"),
                ],
                1.0,
            ),
            (
                &[
                    ("http_request_method", "PUT"),
                    ("http_response_status_code", "405"),
                ],
                1.0,
            ),
            (
                &[
                    ("http_request_method", "_OTHER"),
                    ("http_response_status_code", "405"),
                ],
                1.0,
            ),
        ],
    )
    .await;

    // Exactly these series, nothing for excluded routes or raw paths.
    let series: Vec<_> = samples.iter().filter(|s| s.name == COUNT).collect();
    assert_eq!(series.len(), 10, "{series:#?}");
    let text = scrape(addr, None).await.1;
    for absent in ["/health", "/metrics\"", "/no/such", "BREW", "/users/7"] {
        assert!(!text.contains(absent), "{absent} leaked into:\n{text}");
    }
    // 4xx are not errors; only 5xx carry error_type.
    let errors: Vec<_> = series
        .iter()
        .filter(|s| s.labels.contains_key("error_type"))
        .collect();
    assert_eq!(errors.len(), 2);

    // Body sizes are what went over the wire.
    let response_sum = value(
        &samples,
        "http_server_response_body_size_bytes_sum",
        &[
            ("http_route", "/orders"),
            ("http_response_status_code", "201"),
        ],
    );
    assert_eq!(response_sum, Some(order.len() as f64));
    let request_sum = value(
        &samples,
        "http_server_request_body_size_bytes_sum",
        &[
            ("http_route", "/orders"),
            ("http_response_status_code", "422"),
        ],
    );
    assert_eq!(request_sum, Some("{not json".len() as f64));

    // Nothing in flight any more but the scrape that reads the gauge; other
    // methods seen stay at 0 rather than vanishing.
    let in_flight = |method| {
        value(
            &samples,
            "http_server_active_requests",
            &[("http_request_method", method)],
        )
    };
    assert_eq!(in_flight("GET"), Some(1.0));
    assert_eq!(in_flight("POST"), Some(0.0));
    assert_eq!(in_flight("_OTHER"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_is_counted_once_as_cancelled() {
    let observe = example_observe();
    let addr = spawn_axum(axum_app::app(
        &observe,
        observe_tests::example_shop(&observe),
    ))
    .await;

    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /slow?ms=5000 HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    // In flight: the abandoned request and the scrape itself.
    let in_flight = [("http_request_method", "GET")];
    eventually(Duration::from_secs(10), "the request in flight", || async {
        let samples = parse_samples(&scrape(addr, None).await.1);
        (value(&samples, "http_server_active_requests", &in_flight) == Some(2.0)).then_some(())
    })
    .await;
    // The client goes away before the handler answers.
    drop(socket);

    let cancelled = [
        ("http_route", "/slow"),
        ("http_response_status_code", "499"),
        ("error_type", "cancelled"),
    ];
    let samples = wait_for_counts(addr, &[(&cancelled, 1.0)]).await;
    // Only the scrape is left in flight.
    assert_eq!(
        value(&samples, "http_server_active_requests", &in_flight),
        Some(1.0)
    );
    // Well before the 5 s handler would have finished: the drop was seen.
    let sum = value(
        &samples,
        "http_server_request_duration_seconds_sum",
        &cancelled,
    )
    .unwrap();
    assert!(
        sum < 5.0,
        "recorded at cancellation, not at the handler's end: {sum}"
    );
    // And only once: no completed series for the same request appears later.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let samples = parse_samples(&scrape(addr, None).await.1);
    let slow: Vec<_> = samples
        .iter()
        .filter(|s| s.name == COUNT && s.labels.get("http_route").is_some_and(|r| r == "/slow"))
        .collect();
    assert_eq!(slow.len(), 1, "{slow:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_in_one_process_do_not_interfere() {
    let (a, b) = (example_observe(), example_observe());
    let addr_a = spawn_axum(axum_app::app(&a, observe_tests::example_shop(&a))).await;
    let addr_b = spawn_axum(axum_app::app(&b, observe_tests::example_shop(&b))).await;
    client()
        .get(format!("http://{addr_a}/users/1"))
        .send()
        .await
        .unwrap();
    let route = [("http_route", "/users/{id}")];
    wait_for_counts(addr_a, &[(&route, 1.0)]).await;
    let samples_b = parse_samples(&scrape(addr_b, None).await.1);
    assert_eq!(value(&samples_b, COUNT, &route), None);
}
