//! The response future: catches panics (unless told not to) and hands the
//! tracker to the body.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::CONTENT_TYPE;
use http::header::Entry;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use observe_core::integration::{CaughtPanic, RequestTracker, poll_handler};
use pin_project_lite::pin_project;

use crate::body::{GRPC_STATUS, ObservedBody};
use crate::head::Names;

pin_project! {
    /// Future of [`ObserveService`](crate::ObserveService). Dropping it
    /// before it completes records the request as cancelled.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<RequestTracker>,
        // The header the request id is echoed in (shared: the future stays
        // small and the name is not cloned per request).
        names: Arc<Names>,
        catch_panics: bool,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        tracker: RequestTracker,
        names: Arc<Names>,
        catch_panics: bool,
    ) -> Self {
        Self {
            inner,
            tracker: Some(tracker),
            names,
            catch_panics,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ObservedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        // A panicking handler must not take the connection (or, on some
        // servers, the worker) down with it: answer 500 and record it. With
        // catching off, observe-core records the panic as it unwinds.
        // Handler code sees the request's context (route, calls, cache).
        let polled = poll_handler(this.tracker, *this.catch_panics, None, || inner.poll(cx));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(mut response))) => {
                let mut tracker = this.tracker.take();
                if let Some(tracker) = tracker.as_mut() {
                    // A trailers-only gRPC answer has its status here.
                    if tracker.is_grpc()
                        && let Some(status) = response.headers().get(GRPC_STATUS)
                    {
                        tracker.grpc_status(status.as_bytes());
                    }
                    let id = tracker.response(response.status().as_u16());
                    echo_request_id(&mut response, &this.names.request_id, id);
                }
                Poll::Ready(Ok(response.map(|body| ObservedBody::new(body, tracker))))
            }
            // A service error is not a response: hyper closes the
            // connection. The dropped tracker records it as cancelled.
            Ok(Poll::Ready(Err(error))) => Poll::Ready(Err(error)),
            Err(CaughtPanic) => {
                let mut response = Response::new(ObservedBody::empty());
                if this.tracker.as_ref().is_some_and(RequestTracker::is_grpc) {
                    // gRPC clients read the status, not the HTTP code: a
                    // trailers-only INTERNAL.
                    let headers = response.headers_mut();
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
                    headers.insert(GRPC_STATUS, HeaderValue::from_static("13"));
                    headers.insert(
                        "grpc-message",
                        HeaderValue::from_static("handler%20panicked"),
                    );
                } else {
                    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                }
                if let Some(tracker) = this.tracker.take() {
                    let id = tracker.request_id().as_bytes();
                    echo_request_id(&mut response, &this.names.request_id, id);
                    tracker.panicked();
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// Echoes the request id so a caller can quote it in a bug report, unless
/// the response carries one already (set by a layer inside ours).
fn echo_request_id<B>(response: &mut Response<B>, name: &HeaderName, id: &[u8]) {
    // One lookup: the entry tells whether a layer inside set it already.
    if let Entry::Vacant(slot) = response.headers_mut().entry(name.clone())
        && let Ok(value) = HeaderValue::from_bytes(id)
    {
        slot.insert(value);
    }
}
