//! Application metrics through a real server: cache and dependency series
//! per route, states, process metrics, the series guard, and the request
//! context under concurrency.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use observe_core::{Observe, RequestContext, in_current_request};
use observe_examples::axum_app;
use observe_tests::{
    client, eventually, example_observe, example_shop, parse_samples, scrape, spawn_axum, value,
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_and_dependency_series_carry_the_route() {
    let observe = example_observe();
    let addr = spawn_axum(axum_app::app(&observe, example_shop(&observe))).await;
    let c = client();
    for (path, status) in [
        ("/users/5", 200),
        ("/users/5", 200),
        ("/users/0", 404),
        ("/users/1000000", 500),
    ] {
        let response = c.get(format!("http://{addr}{path}")).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }

    let route = ("http_route", "/users/{id}");
    let samples = eventually(Duration::from_secs(10), "app metrics", || async {
        let samples = parse_samples(&scrape(addr, None).await.1);
        let hits = value(
            &samples,
            "observe_cache_requests_total",
            &[("cache", "users"), route, ("result", "hit")],
        );
        (hits == Some(1.0)).then_some(samples)
    })
    .await;
    let cache = |result| {
        value(
            &samples,
            "observe_cache_requests_total",
            &[("cache", "users"), route, ("result", result)],
        )
    };
    assert_eq!(cache("miss"), Some(3.0));
    let calls = |outcome| {
        value(
            &samples,
            "observe_dependency_duration_seconds_count",
            &[
                ("dependency", "postgres"),
                ("operation", "select_user"),
                ("outcome", outcome),
                route,
            ],
        )
    };
    // 5 and 0 answered (0 is "no such user", not a failure), 1000000 failed.
    assert_eq!(calls("ok"), Some(2.0));
    assert_eq!(calls("error"), Some(1.0));
    let sum = value(
        &samples,
        "observe_dependency_duration_seconds_sum",
        &[("dependency", "postgres"), ("outcome", "ok"), route],
    )
    .unwrap();
    assert!(sum >= 0.004, "two simulated queries of 2+ ms each: {sum}");
    assert_eq!(value(&samples, "shop_user_cache_entries", &[]), Some(1.0));
    let flag = |state| value(&samples, "shop_checkout_v2", &[("shop_checkout_v2", state)]);
    assert_eq!(flag("disabled"), Some(1.0));
    assert_eq!(flag("in_use"), Some(0.0));
    assert_eq!(flag("shadowing"), Some(0.0));
    assert_eq!(
        value(
            &samples,
            "observe_series_overflow_total",
            &[("metric", "observe_cache_requests_total")]
        ),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_metrics_are_plausible() {
    let observe = example_observe();
    let addr = spawn_axum(axum_app::app(&observe, example_shop(&observe))).await;
    let samples = parse_samples(&scrape(addr, None).await.1);
    let get = |name| value(&samples, name, &[]).unwrap_or_else(|| panic!("{name} missing"));
    let rss = get("process_resident_memory_bytes");
    assert!(rss > 1e6 && rss < 1e10, "{rss}");
    assert!(get("process_virtual_memory_bytes") >= rss);
    assert!(get("process_threads") >= 2.0);
    assert!(get("process_open_fds") >= 3.0);
    assert!(get("process_max_fds") >= get("process_open_fds"));
    assert!(get("process_cpu_seconds_total") >= 0.0);
    let started = get("process_start_time_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started <= now + 1.0 && started > now - 3600.0,
        "{started} vs {now}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_family_sends_new_label_sets_to_one_overflow_series() {
    let observe = Observe::builder().series_limit(3).build().unwrap();
    let db = observe.dependency("db");
    for op in ["a", "b", "c", "d", "e"] {
        db.time(op, async {}).await;
    }
    let samples = parse_samples(&observe.render(observe_core::Format::Text).into_text());
    let count = |op| {
        value(
            &samples,
            "observe_dependency_duration_seconds_count",
            &[("operation", op)],
        )
    };
    assert_eq!(count("a"), Some(1.0));
    assert_eq!(count("c"), Some(1.0));
    assert_eq!(count("d"), None);
    assert_eq!(count("_OVERFLOW"), Some(2.0));
    let overflowed = value(
        &samples,
        "observe_series_overflow_total",
        &[("metric", "observe_dependency_duration_seconds")],
    );
    assert_eq!(overflowed, Some(2.0));
}

/// Makes `n` dependency calls named after the request, one of them from a
/// spawned task, then reports what the request's context saw.
async fn work(State(observe): State<Observe>, Path((id, n)): Path<(u64, u64)>) -> Json<Value> {
    let db = observe.dependency("db");
    let operation = format!("op-{id}");
    for i in 0..n - 1 {
        let pause = Duration::from_millis((id * 7 + i * 3) % 5);
        db.time(&operation, tokio::time::sleep(pause)).await;
    }
    let spawned = {
        let db = db.clone();
        let operation = operation.clone();
        tokio::spawn(in_current_request(async move {
            tokio::time::sleep(Duration::from_millis(id % 3)).await;
            db.time(&operation, async {}).await;
        }))
    };
    spawned.await.expect("task");
    let context = RequestContext::current().expect("inside a request");
    let calls = context.calls();
    Json(json!({
        "route": &*context.route(),
        "count": calls.count,
        "operations": calls.listed.iter().map(|c| c.operation.to_string()).collect::<Vec<_>>(),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_of_100_concurrent_requests_sees_only_its_own_calls() {
    let observe = Observe::builder().build().unwrap();
    let app = Router::new()
        .route("/work/{id}/{n}", get(work))
        .with_state(observe.clone())
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;
    let c = client();
    let mut requests = tokio::task::JoinSet::new();
    for id in 0..100u64 {
        let c = c.clone();
        let n = 1 + id % 5;
        requests.spawn(async move {
            let url = format!("http://{addr}/work/{id}/{n}");
            let body: Value = c.get(url).send().await.unwrap().json().await.unwrap();
            (id, n, body)
        });
    }
    let mut seen = 0;
    while let Some(done) = requests.join_next().await {
        let (id, n, body) = done.unwrap();
        assert_eq!(body["route"], "/work/{id}/{n}");
        assert_eq!(body["count"], n, "request {id}: {body}");
        let operations = body["operations"].as_array().unwrap();
        assert_eq!(operations.len() as u64, n);
        assert!(
            operations.iter().all(|o| *o == format!("op-{id}")),
            "request {id} saw another request's calls: {body}"
        );
        seen += 1;
    }
    assert_eq!(seen, 100);
    // Outside a request there is no context, and records go to `_NONE`.
    assert!(RequestContext::current().is_none());
}
