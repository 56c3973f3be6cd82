//! One table of scenarios, run against the axum, actix-web and plain
//! tower/hyper example services on real loopback servers. Each framework
//! must yield exactly the expected series, and the same series as the
//! others: names, label sets, counts and body-size buckets of the HTTP
//! families, and the application metrics the handlers record (cache,
//! dependency, gauges, states). Durations, process and runtime figures
//! differ by nature and are left out. A difference is a bug in a framework crate.
//! Request-derived labels get the same treatment.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use observe_tests::{
    FRAMEWORKS, Framework, client, eventually, example_observe, parse_samples, scrape,
    start_example, value,
};
use tokio::io::AsyncWriteExt;

/// What a scenario sends.
enum Send {
    Request {
        method: &'static str,
        path: &'static str,
        body: Option<Vec<u8>>,
        status: u16,
    },
    /// A request whose client goes away while the handler runs.
    Abandon { path: &'static str },
}

struct Scenario {
    name: &'static str,
    send: Send,
    /// The duration series it must add to: method, route, status, error_type.
    series: (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
    ),
}

fn scenarios() -> Vec<Scenario> {
    let req = |method, path, body: Option<Vec<u8>>, status| Send::Request {
        method,
        path,
        body,
        status,
    };
    let order = br#"{"item":"book","quantity":2}"#.to_vec();
    vec![
        Scenario {
            name: "matched",
            send: req("GET", "/users/7", None, 200),
            series: ("GET", "/users/{id}", "200", None),
        },
        Scenario {
            name: "nested route",
            send: req("GET", "/api/v1/items/3", None, 200),
            series: ("GET", "/api/v1/items/{id}", "200", None),
        },
        Scenario {
            name: "unmatched",
            send: req("GET", "/no/such/path/123", None, 404),
            series: ("GET", "_UNMATCHED", "404", None),
        },
        Scenario {
            name: "bogus method",
            send: req("BREW", "/users/7", None, 405),
            series: ("_OTHER", "/users/{id}", "405", None),
        },
        Scenario {
            name: "wrong method",
            send: req("PUT", "/users/7", None, 405),
            series: ("PUT", "/users/{id}", "405", None),
        },
        Scenario {
            name: "4xx not found",
            send: req("GET", "/users/0", None, 404),
            series: ("GET", "/users/{id}", "404", None),
        },
        Scenario {
            name: "4xx invalid body",
            send: req("POST", "/orders", Some(b"{not json".to_vec()), 422),
            series: ("POST", "/orders", "422", None),
        },
        Scenario {
            name: "created",
            send: req("POST", "/orders", Some(order), 201),
            series: ("POST", "/orders", "201", None),
        },
        Scenario {
            name: "large body",
            send: req("POST", "/orders", Some(vec![b'x'; 512 * 1024]), 422),
            series: ("POST", "/orders", "422", None),
        },
        Scenario {
            name: "5xx",
            send: req("GET", "/users/1000000", None, 500),
            series: ("GET", "/users/{id}", "500", Some("500")),
        },
        Scenario {
            name: "panic",
            send: req("GET", "/panic", None, 500),
            series: ("GET", "/panic", "500", Some("panic")),
        },
        Scenario {
            name: "still serving after the panic",
            send: req("GET", "/users/8", None, 200),
            series: ("GET", "/users/{id}", "200", None),
        },
        Scenario {
            name: "cancelled",
            send: Send::Abandon {
                path: "/slow?ms=5000",
            },
            series: ("GET", "/slow", "499", Some("cancelled")),
        },
    ]
}

async fn run(framework: Framework, addr: SocketAddr, scenario: &Scenario) {
    match &scenario.send {
        Send::Request {
            method,
            path,
            body,
            status,
        } => {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("token");
            let mut request = client().request(method, format!("http://{addr}{path}"));
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{framework:?} {}: {e}", scenario.name));
            assert_eq!(
                response.status().as_u16(),
                *status,
                "{framework:?} {}",
                scenario.name
            );
            response.bytes().await.expect("body");
        }
        Send::Abandon { path } => {
            let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let head = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
            socket.write_all(head.as_bytes()).await.expect("write");
            // In flight: the abandoned request and the scrape itself.
            eventually(Duration::from_secs(10), "the request in flight", || async {
                let samples = parse_samples(&scrape(addr, None).await.1);
                let labels = [("http_request_method", "GET")];
                (value(&samples, "http_server_active_requests", &labels) == Some(2.0)).then_some(())
            })
            .await;
            drop(socket);
        }
    }
}

/// The series a scrape shows, normalised for comparison: durations and
/// creation times removed, everything else kept.
fn normalise(text: &str) -> BTreeMap<String, String> {
    parse_samples(text)
        .into_iter()
        // Process and runtime metrics differ by nature (actix-web runs a
        // runtime per worker); everything else must not.
        .filter(|s| {
            !s.name.starts_with("process_")
                && !s.name.starts_with("tokio_")
                && s.name != "target_info"
        })
        .map(|s| {
            let duration = s.name.starts_with("http_server_request_duration_seconds_")
                || s.name.starts_with("observe_dependency_duration_seconds_");
            let keep_value =
                !(duration && (s.name.ends_with("_bucket") || s.name.ends_with("_sum")));
            let value = if keep_value {
                s.value.to_string()
            } else {
                "-".into()
            };
            (format!("{}{:?}", s.name, s.labels), value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_yields_the_same_series() {
    let scenarios = scenarios();
    let mut expected: BTreeMap<_, f64> = BTreeMap::new();
    for s in &scenarios {
        *expected.entry(s.series).or_default() += 1.0;
    }

    let mut documents = Vec::new();
    for framework in FRAMEWORKS {
        let addr = start_example(framework, &example_observe()).await;
        for scenario in &scenarios {
            run(framework, addr, scenario).await;
        }
        // Wait until every request has been recorded (bodies finish after
        // the client has its answer), then check each expected series.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = scrape(addr, None).await.1;
            let samples = parse_samples(&text);
            let all = expected.iter().all(|((method, route, status, error), n)| {
                let mut labels = vec![
                    ("http_request_method", *method),
                    ("http_route", *route),
                    ("http_response_status_code", *status),
                ];
                if let Some(error) = error {
                    labels.push(("error_type", error));
                }
                value(
                    &samples,
                    "http_server_request_duration_seconds_count",
                    &labels,
                ) == Some(*n)
            });
            if all {
                break text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{framework:?}: expected series {expected:#?} not all recorded in:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let samples = parse_samples(&text);
        let series = samples
            .iter()
            .filter(|s| s.name == "http_server_request_duration_seconds_count")
            .count();
        assert_eq!(
            series,
            expected.len(),
            "{framework:?}: unexpected series in\n{text}"
        );
        documents.push((framework, normalise(&text)));
    }

    let (reference_framework, reference) = &documents[0];
    // Histograms, buckets, gauges: far more than the 12 label sets.
    assert!(reference.len() > 300, "{reference:#?}");
    for (framework, document) in &documents[1..] {
        let only_reference: Vec<_> = reference
            .iter()
            .filter(|(k, v)| document.get(*k) != Some(v))
            .collect();
        let only_other: Vec<_> = document
            .iter()
            .filter(|(k, v)| reference.get(*k) != Some(v))
            .collect();
        assert!(
            only_reference.is_empty() && only_other.is_empty(),
            "{reference_framework:?} and {framework:?} differ:\n{reference_framework:?} only: {only_reference:#?}\n{framework:?} only: {only_other:#?}"
        );
    }
}

/// HEAD: load balancers and uptime checkers probe with it. axum answers
/// HEAD on a GET route (without the body, which the server never sends);
/// actix-web and the tower example route GET only and answer 405. Either
/// way the request is recorded as completed with the status sent, never as
/// cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_is_recorded_with_the_status_sent() {
    for framework in FRAMEWORKS {
        let expected = match framework {
            Framework::Axum => 200,
            Framework::Actix | Framework::Tower => 405,
        };
        let addr = start_example(framework, &example_observe()).await;
        for _ in 0..3 {
            let response = client()
                .head(format!("http://{addr}/users/7"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), expected, "{framework:?}");
            assert!(response.bytes().await.unwrap().is_empty());
        }
        let status = expected.to_string();
        let labels = [
            ("http_request_method", "HEAD"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", status.as_str()),
        ];
        let text = eventually(Duration::from_secs(10), "three HEADs recorded", || async {
            let text = scrape(addr, None).await.1;
            let samples = parse_samples(&text);
            let count = value(
                &samples,
                "http_server_request_duration_seconds_count",
                &labels,
            );
            (count == Some(3.0)).then_some(text)
        })
        .await;
        let heads: Vec<_> = parse_samples(&text)
            .into_iter()
            .filter(|s| {
                s.name == "http_server_request_duration_seconds_count"
                    && s.labels.get("http_request_method").map(String::as_str) == Some("HEAD")
            })
            .collect();
        assert_eq!(heads.len(), 1, "{framework:?}: one HEAD series: {heads:#?}");
        assert!(
            !heads[0].labels.contains_key("error_type"),
            "{framework:?}: {heads:#?}"
        );
    }
}

/// The observe of the labels test: `plan` set by the shop's handler,
/// `client` by a classifier of the `x-client-kind` header; three values
/// each at most.
fn labelled_observe() -> observe_core::Observe {
    observe_core::Observe::builder()
        .service_name("shop")
        .exclude_route("/metrics")
        .http_label("plan")
        .http_label_fn("client", |request| {
            let kind = request.header("x-client-kind")?;
            Some(match kind {
                "ios" | "android" => "mobile".to_string(),
                // Unmapped values go through: the value limit bounds them.
                other => other.to_string(),
            })
        })
        .http_label_values(3)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_derived_labels_are_the_same_on_every_framework() {
    // (path, x-client-kind) -> (plan, client) of its series.
    let sends: [(&str, Option<&str>, &str, &str); 7] = [
        ("/users/1", Some("ios"), "free", "mobile"),
        ("/users/3", Some("android"), "free", "mobile"),
        ("/users/2", Some("web"), "pro", "web"),
        ("/users/4", Some("cli"), "pro", "cli"),
        // Past the limit of three values: _OVERFLOW, counted.
        ("/users/6", Some("curl"), "pro", "_OVERFLOW"),
        ("/users/8", Some("wget"), "pro", "_OVERFLOW"),
        // Neither the classifier nor the handler sets them.
        ("/api/v1/items/3", None, "_NONE", "_NONE"),
    ];
    let mut documents = Vec::new();
    for framework in FRAMEWORKS {
        let observe = labelled_observe();
        let addr = start_example(framework, &observe).await;
        for (path, kind, _, _) in sends {
            let mut request = client().get(format!("http://{addr}{path}"));
            if let Some(kind) = kind {
                request = request.header("x-client-kind", kind);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{framework:?} {path}");
            response.bytes().await.unwrap();
        }
        let text = eventually(
            Duration::from_secs(10),
            "every request recorded",
            || async {
                let text = scrape(addr, None).await.1;
                let samples = parse_samples(&text);
                let total: f64 = samples
                    .iter()
                    .filter(|s| s.name == "http_server_request_duration_seconds_count")
                    .map(|s| s.value)
                    .sum();
                (total == sends.len() as f64).then_some(text)
            },
        )
        .await;
        let samples = parse_samples(&text);
        let count = |route: &str, plan: &str, client_kind: &str| {
            let labels = [
                ("http_route", route),
                ("plan", plan),
                ("client", client_kind),
            ];
            value(
                &samples,
                "http_server_request_duration_seconds_count",
                &labels,
            )
        };
        assert_eq!(
            count("/users/{id}", "free", "mobile"),
            Some(2.0),
            "{framework:?}:\n{text}"
        );
        assert_eq!(
            count("/users/{id}", "pro", "web"),
            Some(1.0),
            "{framework:?}"
        );
        assert_eq!(
            count("/users/{id}", "pro", "cli"),
            Some(1.0),
            "{framework:?}"
        );
        assert_eq!(
            count("/users/{id}", "pro", "_OVERFLOW"),
            Some(2.0),
            "{framework:?}"
        );
        assert_eq!(
            count("/api/v1/items/{id}", "_NONE", "_NONE"),
            Some(1.0),
            "{framework:?}"
        );
        // The size families carry them too.
        let labels = [
            ("http_route", "/users/{id}"),
            ("plan", "pro"),
            ("client", "web"),
        ];
        assert_eq!(
            value(
                &samples,
                "http_server_response_body_size_bytes_count",
                &labels
            ),
            Some(1.0),
            "{framework:?}"
        );
        assert_eq!(
            value(
                &samples,
                "observe_http_label_overflow_total",
                &[("label", "client")]
            ),
            Some(2.0),
            "{framework:?}"
        );
        assert_eq!(
            value(
                &samples,
                "observe_http_label_overflow_total",
                &[("label", "plan")]
            ),
            Some(0.0),
            "{framework:?}"
        );
        documents.push((framework, normalise(&text)));
    }
    let (reference_framework, reference) = &documents[0];
    for (framework, document) in &documents[1..] {
        assert_eq!(
            reference, document,
            "{reference_framework:?} and {framework:?} differ"
        );
    }
}
