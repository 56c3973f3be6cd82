//! A Sentry stand-in on loopback: accepts envelopes on the real ingestion
//! path, checks the auth header, parses the envelope format (header line,
//! then items with their own header and optional `length`), and keeps
//! every byte it received so tests can look for leaked secrets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

/// How the stand-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// 200 for every well-formed envelope.
    Accept,
    /// Reads the request, never answers.
    BlackHole,
    /// 500 for everything.
    Fail,
}

/// One item of an envelope.
#[derive(Debug, Clone)]
pub struct Item {
    /// The item header (`{"type":"event","length":123}`).
    pub header: Value,
    /// The payload, parsed as JSON when it is JSON.
    pub payload: Value,
}

/// A parsed envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The envelope header (`event_id`, `dsn`, `sent_at`, ...).
    pub header: Value,
    /// Its items.
    pub items: Vec<Item>,
}

/// Parses the Sentry envelope format: a JSON header line, then items, each
/// a JSON header line and a payload of `length` bytes (or up to the next
/// newline when the header has no length).
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, String> {
    fn line(bytes: &[u8], at: &mut usize) -> Option<Vec<u8>> {
        if *at >= bytes.len() {
            return None;
        }
        let rest = &bytes[*at..];
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        *at += end + 1;
        Some(rest[..end].to_vec())
    }
    let mut at = 0;
    let header = line(bytes, &mut at).ok_or("empty envelope")?;
    let header: Value =
        serde_json::from_slice(&header).map_err(|e| format!("envelope header: {e}"))?;
    let mut items = Vec::new();
    while let Some(item_header) = line(bytes, &mut at) {
        if item_header.is_empty() {
            continue;
        }
        let item_header: Value =
            serde_json::from_slice(&item_header).map_err(|e| format!("item header: {e}"))?;
        let payload = match item_header.get("length").and_then(Value::as_u64) {
            Some(length) => {
                let length = usize::try_from(length).map_err(|e| e.to_string())?;
                let payload = bytes
                    .get(at..at + length)
                    .ok_or("payload shorter than its length")?
                    .to_vec();
                at += length;
                if bytes.get(at) == Some(&b'\n') {
                    at += 1;
                }
                payload
            }
            None => line(bytes, &mut at).unwrap_or_default(),
        };
        let payload = serde_json::from_slice(&payload)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload).into_owned()));
        items.push(Item {
            header: item_header,
            payload,
        });
    }
    Ok(Envelope { header, items })
}

#[derive(Default)]
struct Received {
    envelopes: Vec<Envelope>,
    raw: Vec<u8>,
    requests: usize,
}

/// A running stand-in.
#[derive(Clone)]
pub struct SentrySink {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
}

impl SentrySink {
    /// Starts one on its own thread and runtime (it outlives any test's
    /// runtime).
    pub fn start(mode: SinkMode) -> SentrySink {
        let received = Arc::new(Mutex::new(Received::default()));
        let app = Router::new()
            .route("/api/{project}/envelope/", post(accept))
            .with_state((mode, Arc::clone(&received)));
        let addr = crate::serve_on_own_thread(app);
        SentrySink { addr, received }
    }

    /// A DSN pointing at this stand-in (plain http, project 42).
    pub fn dsn(&self) -> String {
        format!("http://publickey@{}/42", self.addr)
    }

    /// The event payloads received so far.
    pub fn events(&self) -> Vec<Value> {
        let received = self.received.lock().expect("lock");
        received
            .envelopes
            .iter()
            .flat_map(|e| e.items.iter())
            .filter(|i| i.header["type"] == "event")
            .map(|i| i.payload.clone())
            .collect()
    }

    /// Every byte received, for leak checks.
    pub fn raw(&self) -> Vec<u8> {
        self.received.lock().expect("lock").raw.clone()
    }

    /// How many envelope POSTs arrived (answered or not).
    pub fn requests(&self) -> usize {
        self.received.lock().expect("lock").requests
    }
}

type SinkState = (SinkMode, Arc<Mutex<Received>>);

async fn accept(
    State((mode, received)): State<SinkState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    {
        let mut received = received.lock().expect("lock");
        received.requests += 1;
        received.raw.extend_from_slice(&body);
        let auth = headers
            .get("x-sentry-auth")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if mode == SinkMode::Accept {
            if !auth.contains("sentry_key=publickey") {
                return StatusCode::UNAUTHORIZED;
            }
            match parse_envelope(&body) {
                Ok(envelope) => received.envelopes.push(envelope),
                Err(_) => return StatusCode::BAD_REQUEST,
            }
        }
    }
    match mode {
        SinkMode::Accept => StatusCode::OK,
        SinkMode::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        SinkMode::BlackHole => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_with_and_without_lengths_parse() {
        let bytes = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\",\"length\":13}\n{\"a\":\"b\\nc\"}\n{\"type\":\"attachment\"}\nhello\n";
        let envelope = parse_envelope(bytes).unwrap();
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(envelope.items[0].payload["a"], "b\nc");
        assert_eq!(envelope.items[1].payload, "hello");
        assert!(parse_envelope(b"not json\n").is_err());
        assert!(parse_envelope(b"{}\n{\"type\":\"event\",\"length\":99}\n{}").is_err());
    }
}
