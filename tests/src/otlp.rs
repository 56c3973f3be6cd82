//! An OTLP/HTTP trace receiver on loopback: accepts `POST /v1/traces`
//! with a protobuf `ExportTraceServiceRequest`, decodes it with the
//! generated OpenTelemetry types, and keeps the spans.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverMode {
    /// 200 with an empty response.
    Accept,
    /// Never answers.
    BlackHole,
    /// 500 for everything.
    Fail,
}

/// A received span, flattened.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of its resource.
    pub service: String,
    /// The span name.
    pub name: String,
    /// Kind (2 = server, 3 = client, 1 = internal).
    pub kind: i32,
    /// Trace id, lowercase hex.
    pub trace_id: String,
    /// Span id, lowercase hex.
    pub span_id: String,
    /// Parent span id, lowercase hex (empty for a root).
    pub parent_span_id: String,
    /// Status code (0 unset, 1 ok, 2 error).
    pub status: i32,
    /// Attributes as `key = value` text.
    pub attributes: Vec<(String, String)>,
    /// The names of its span events.
    pub events: Vec<String>,
}

impl ReceivedSpan {
    /// The value of attribute `key`, as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: &KeyValue) -> String {
    match value.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// A running receiver.
#[derive(Clone)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    requests: Arc<Mutex<usize>>,
}

impl OtlpReceiver {
    /// Starts one on its own thread and runtime.
    pub fn start(mode: ReceiverMode) -> OtlpReceiver {
        let receiver = OtlpReceiver {
            addr: "127.0.0.1:0".parse().expect("an address"),
            spans: Arc::default(),
            requests: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/traces", post(export))
            .with_state((mode, receiver.clone()));
        let addr = crate::serve_on_own_thread(app);
        OtlpReceiver { addr, ..receiver }
    }

    /// The base URL to give as `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("lock").clone()
    }

    /// Export requests received (answered or not).
    pub fn requests(&self) -> usize {
        *self.requests.lock().expect("lock")
    }
}

async fn export(
    State((mode, receiver)): State<(ReceiverMode, OtlpReceiver)>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    *receiver.requests.lock().expect("lock") += 1;
    match mode {
        ReceiverMode::BlackHole => return std::future::pending().await,
        ReceiverMode::Fail => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        ReceiverMode::Accept => {}
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != "application/x-protobuf" {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|kv| kv.key == "service.name")
            .map(text)
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name,
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    status: span.status.map_or(0, |s| s.code),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv)))
                        .collect(),
                    events: span.events.into_iter().map(|e| e.name).collect(),
                });
            }
        }
    }
    receiver.spans.lock().expect("lock").extend(received);
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}
