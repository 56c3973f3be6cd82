//! The response body wrapper: counts bytes and finishes the record when the
//! body ends, or records cancellation when it is dropped early.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use observe_core::integration::{BodyRecorder, RequestTracker};
use pin_project_lite::pin_project;

pin_project! {
    /// Response body of [`ObserveService`](crate::ObserveService): the
    /// request's latency ends when this body ends.
    pub struct ObservedBody<B: MessageBody> {
        #[pin]
        inner: B,
        recorder: BodyRecorder,
    }

    impl<B: MessageBody> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // actix does not poll a body of size 0 or None.
            let exhausted = matches!(this.inner.size(), BodySize::None | BodySize::Sized(0));
            this.recorder.dropped(exhausted);
        }
    }
}

impl<B: MessageBody> ObservedBody<B> {
    pub(crate) fn new(inner: B, tracker: Option<RequestTracker>) -> Self {
        Self {
            inner,
            recorder: BodyRecorder::new(tracker),
        }
    }
}

impl<B: MessageBody> MessageBody for ObservedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.recorder.data(chunk.len() as u64),
            Poll::Ready(None) => this.recorder.end(),
            // A body error cuts the response short: recorded as cancelled
            // when the body drops.
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }
}
