//! The middleware service and its future.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use actix_web::http::header;
use actix_web::{Error, HttpResponse, ResponseError};
use observe_core::{Observe, RequestTracker};
use pin_project_lite::pin_project;

use crate::body::ObservedBody;
use crate::route::matched_route;

/// The service produced by [`ObserveMiddleware`](crate::ObserveMiddleware).
#[derive(Debug)]
pub struct ObserveService<S> {
    service: S,
    observe: Observe,
}

impl<S> ObserveService<S> {
    pub(crate) fn new(service: S, observe: Observe) -> Self {
        Self { service, observe }
    }
}

impl<S, B> Service<ServiceRequest> for ObserveService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<ObservedBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let route = matched_route(request.request());
        let mut tracker = self
            .observe
            .start_request(request.method().as_str(), route.as_deref());
        if let Some(tracker) = tracker.as_mut() {
            let headers = request.headers();
            let size = observe_core::request_body_size(
                headers.get(header::CONTENT_LENGTH).map(|v| v.as_bytes()),
                headers.contains_key(header::TRANSFER_ENCODING),
            );
            if let Some(size) = size {
                tracker.request_body_size(size);
            }
        }
        ResponseFuture {
            inner: self.service.call(request),
            tracker,
            observe: self.observe.clone(),
        }
    }
}

pin_project! {
    /// Future of [`ObserveService`]. Dropping it before it completes records
    /// the request as cancelled.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<RequestTracker>,
        observe: Observe,
    }
}

impl<F, B> Future for ResponseFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<ObservedBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let polled = catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => {
                let mut tracker = this.tracker.take();
                if let Some(tracker) = tracker.as_mut() {
                    // After the call: the resource that really handled it.
                    let route = matched_route(response.request());
                    tracker.route_after_handler(this.observe, route.as_deref());
                    tracker.response(response.status().as_u16());
                }
                Poll::Ready(Ok(
                    response.map_body(|_, body| ObservedBody::new(body, tracker))
                ))
            }
            Ok(Poll::Ready(Err(error))) => {
                // actix turns the error into a response after the middleware
                // chain; its status is known now and its body is small.
                if let Some(mut tracker) = this.tracker.take() {
                    tracker.response(error.as_response_error().status_code().as_u16());
                    tracker.finish();
                }
                Poll::Ready(Err(error))
            }
            Err(_panic) => {
                if let Some(tracker) = this.tracker.take() {
                    tracker.panicked();
                }
                // The request moved into the handler, so the 500 is built by
                // actix from this error, after the middleware chain. (Cloning
                // the request up front is not an option: actix's routing
                // needs it unshared.)
                Poll::Ready(Err(HandlerPanicked.into()))
            }
        }
    }
}

/// The error a panicking handler becomes: an empty 500, as on axum.
#[derive(Debug)]
struct HandlerPanicked;

impl std::fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request handler panicked")
    }
}

impl ResponseError for HandlerPanicked {
    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError().finish()
    }
}
