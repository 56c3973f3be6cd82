//! The end of a request: its response body, as the framework's body
//! wrapper reports it.

use super::RequestTracker;

/// What a framework's response-body wrapper reports, so the end-of-request
/// rules live here once: bytes are counted as they are sent, the request
/// finishes when the body ends, and a body dropped before its end is a
/// cancellation unless it had nothing left to send.
#[derive(Debug, Default)]
pub struct BodyRecorder {
    tracker: Option<RequestTracker>,
}

impl BodyRecorder {
    /// Records the body of the request `tracker` follows (`None` for an
    /// excluded route or a synthetic response: nothing is recorded).
    pub fn new(tracker: Option<RequestTracker>) -> Self {
        Self { tracker }
    }

    /// A chunk of `bytes` was produced for sending.
    pub fn data(&mut self, bytes: u64) {
        if let Some(tracker) = self.tracker.as_mut() {
            tracker.add_response_body_bytes(bytes);
        }
    }

    /// Whether the body answers a gRPC call, whose status comes in the
    /// trailers ([`RequestTracker::is_grpc`]).
    pub fn is_grpc(&self) -> bool {
        self.tracker.as_ref().is_some_and(RequestTracker::is_grpc)
    }

    /// The trailers' `grpc-status` value, when there is one.
    pub fn grpc_status(&mut self, value: &[u8]) {
        if let Some(tracker) = self.tracker.as_mut() {
            tracker.grpc_status(value);
        }
    }

    /// The body reported its end: the request is complete.
    pub fn end(&mut self) {
        if let Some(tracker) = self.tracker.take() {
            tracker.finish();
        }
    }

    /// The body is being dropped. `exhausted` says whether it had nothing
    /// left to send (servers need not poll a body that says so). The answer
    /// to a HEAD request has no body (RFC 9110, 9.3.2): servers and routers
    /// drop it unsent, and the request is complete. Otherwise the request
    /// is recorded as cancelled.
    pub fn dropped(&mut self, exhausted: bool) {
        match self.tracker.take() {
            Some(tracker) if exhausted || tracker.is_head() => tracker.finish(),
            // The tracker's own drop records the cancellation.
            other => drop(other),
        }
    }
}
