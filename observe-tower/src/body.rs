//! The response body wrapper: counts bytes and finishes the record when the
//! body ends, or records cancellation when it is dropped early.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use observe_core::integration::{BodyRecorder, RequestTracker};
use pin_project_lite::pin_project;

/// Where a gRPC call's status is: in the trailers, or in the headers of a
/// trailers-only answer.
pub(crate) const GRPC_STATUS: &str = "grpc-status";

pin_project! {
    /// Response body of [`ObserveService`](crate::ObserveService).
    ///
    /// The request's latency ends when this body reports its end (or is
    /// dropped after its end); dropped earlier, the request is recorded as
    /// cancelled with the status that was already sent.
    pub struct ObservedBody<B: Body> {
        #[pin]
        inner: Option<B>,
        recorder: BodyRecorder,
    }

    impl<B: Body> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let exhausted = this.inner.as_ref().as_pin_ref().is_none_or(|b| b.is_end_stream());
            this.recorder.dropped(exhausted);
        }
    }
}

impl<B: Body> ObservedBody<B> {
    pub(crate) fn new(inner: B, tracker: Option<RequestTracker>) -> Self {
        Self {
            inner: Some(inner),
            recorder: BodyRecorder::new(tracker),
        }
    }

    /// The empty body of the answer to a panicking handler.
    pub(crate) fn empty() -> Self {
        Self {
            inner: None,
            recorder: BodyRecorder::default(),
        }
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let polled = inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.recorder.data(data.remaining() as u64);
                } else if let Some(trailers) = frame.trailers_ref()
                    && this.recorder.is_grpc()
                {
                    if let Some(status) = trailers.get(GRPC_STATUS) {
                        this.recorder.grpc_status(status.as_bytes());
                    }
                    // Trailers are the last frame: the call has ended,
                    // whether or not the server polls for the end.
                    this.recorder.end();
                }
            }
            Poll::Ready(None) => this.recorder.end(),
            // A body error cuts the response short: the client did not get
            // it all, which is recorded as cancelled when the body drops.
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}
