use super::*;

#[test]
fn headers_are_percent_decoded_pairs() {
    let headers = parse_headers("V", "X-Scope-OrgID=acme, Authorization=Bearer%20abc").unwrap();
    assert_eq!(
        headers,
        vec![
            ("X-Scope-OrgID".to_string(), "acme".to_string()),
            ("Authorization".to_string(), "Bearer abc".to_string())
        ]
    );
    let error = parse_headers("OTEL_EXPORTER_OTLP_HEADERS", "novalue").unwrap_err();
    assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_HEADERS");
    assert!(error.to_string().contains("key=value"), "{error}");
    assert!(parse_headers("V", "a=%zz").is_err());
    assert!(
        parse_headers("V", "a=line%0Abreak").is_err(),
        "no header injection"
    );
}

#[test]
fn urls_must_be_http() {
    assert!(check_url("V", "http://collector:4318").is_ok());
    assert!(check_url("V", "https://collector").is_ok());
    let error = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("OTEL_EXPORTER_OTLP_ENDPOINT=\"collector:4318\""),
        "{error}"
    );
}

#[test]
fn the_push_carries_the_resource_not_target_info() {
    let observe = crate::Observe::builder()
        .service_name("otlp-test")
        .build()
        .unwrap();
    let text = observe.families().render(crate::Format::OpenMetrics);
    assert!(text.contains("http_server_request_duration_seconds"));
    let encoded = metrics::encode_for_test(observe.families(), 1);
    assert!(encoded.data_points > 0);
    // The resource and the renamed family are in the request.
    let body = String::from_utf8_lossy(&encoded.body);
    assert!(body.contains("service.name") && body.contains("otlp-test"));
    assert!(
        body.contains("process_open_fds"),
        "a gauge family by its name"
    );
    assert!(!body.contains("target_info"), "target_info is the resource");
}
