//! A sampler of the application's own, reading the server span's
//! attributes: observe takes the decision before the SDK builds a span,
//! and must show it what the SDK would (`http.request.method`,
//! `url.scheme`). Here GETs are dropped and POSTs kept, through a real
//! server exporting to a loopback OTLP receiver.
//!
//! Tracing is process-wide: this file sets it up once, with this sampler.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use observe_core::Observe;
use observe_core::trace::Sampler;
use observe_tests::otlp::{OtlpReceiver, ReceiverMode};
use observe_tests::{client, eventually, spawn_axum};
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// Keeps a span whose `http.request.method` is POST.
#[derive(Debug, Clone)]
struct PostsOnly;

impl ShouldSample for PostsOnly {
    fn should_sample(
        &self,
        _: Option<&Context>,
        _: TraceId,
        _: &str,
        _: &SpanKind,
        attributes: &[KeyValue],
        _: &[Link],
    ) -> SamplingResult {
        let post = attributes
            .iter()
            .any(|kv| kv.key.as_str() == "http.request.method" && kv.value.as_str() == "POST");
        SamplingResult {
            decision: if post {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampler_of_the_application_decides_on_the_span_attributes() {
    let receiver = OtlpReceiver::start(ReceiverMode::Accept);
    let observe = Observe::builder().service_name("sampled").build().unwrap();
    let guard = observe
        .tracing()
        .endpoint(receiver.endpoint())
        .sampler(Sampler::ParentBased(Box::new(PostsOnly)))
        .try_init()
        .unwrap();
    let app = Router::new()
        .route(
            "/orders",
            get(|| async { "listed" }).post(|| async { "placed" }),
        )
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;
    for _ in 0..3 {
        let listed = client()
            .get(format!("http://{addr}/orders"))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
        let placed = client()
            .post(format!("http://{addr}/orders"))
            .send()
            .await
            .unwrap();
        assert_eq!(placed.status(), 200);
    }
    let spans = eventually(Duration::from_secs(10), "three POST spans", || async {
        assert!(guard.flush(Duration::from_secs(5)));
        let spans = receiver.spans();
        (spans.len() >= 3).then_some(spans)
    })
    .await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    for span in &spans {
        assert_eq!(span.name, "POST /orders");
        assert_eq!(span.attribute("http.request.method"), Some("POST"));
        assert_eq!(span.attribute("url.scheme"), Some("http"));
        assert_eq!(span.parent_span_id, "", "a root");
    }
}
