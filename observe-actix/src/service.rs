//! The middleware service and its future.

use std::cell::OnceCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::ResourceMap;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use actix_web::http::Uri;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpResponse, ResponseError};
use observe_core::context::{LateRoute, enter_with_late_route};
use observe_core::{Observe, RequestTracker};
use pin_project_lite::pin_project;

use crate::body::ObservedBody;
use crate::route::matched_route;

/// The header carrying the request id, in and out.
/// Header names are constants: built at compile time, a lookup only hashes.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The service produced by [`ObserveMiddleware`](crate::ObserveMiddleware).
#[derive(Debug)]
pub struct ObserveService<S> {
    service: S,
    observe: Observe,
    /// The app's routes, copied once per worker (a shallow clone), to name
    /// the route of a request cancelled before its handler answered.
    routes: OnceCell<Rc<ResourceMap>>,
}

impl<S> ObserveService<S> {
    pub(crate) fn new(service: S, observe: Observe) -> Self {
        Self {
            service,
            observe,
            routes: OnceCell::new(),
        }
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
        // The route is read after the call: before it, actix has not routed
        // yet and `match_pattern()` would route the request a second time.
        let mut tracker = self.observe.start_request(request.method().as_str(), None);
        let headers = request.headers();
        let size = observe_core::request_body_size(
            headers.get(header::CONTENT_LENGTH).map(|v| v.as_bytes()),
            headers.contains_key(header::TRANSFER_ENCODING),
        );
        if let Some(size) = size {
            tracker.request_body_size(size);
        }
        tracker.request_id(headers.get(&REQUEST_ID).map(|v| v.as_bytes()));
        let traceparent = headers.get(&TRACEPARENT).map(|v| v.as_bytes());
        tracker.trace_headers(
            request.path(),
            traceparent,
            // Meaningless without a traceparent: not even looked up.
            traceparent.and_then(|_| headers.get(&TRACESTATE).map(|v| v.as_bytes())),
        );
        if tracker.wants_error_details() {
            let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
            let headers = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
            tracker.error_details(target, headers);
        }
        let routes = self
            .routes
            .get_or_init(|| Rc::new(request.resource_map().clone()));
        let unanswered = Rc::new(Unanswered {
            routes: Rc::clone(routes),
            uri: request.uri().clone(),
        });
        ResponseFuture {
            inner: self.service.call(request),
            tracker: Some(tracker),
            unanswered: Some(unanswered),
            observe: self.observe.clone(),
        }
    }
}

/// What names the route of a request dropped before its handler answered:
/// the request itself is inside the handler by then.
#[derive(Debug)]
struct Unanswered {
    routes: Rc<ResourceMap>,
    uri: Uri,
}

impl Unanswered {
    /// Matches the path once more (guards cannot be evaluated any more) so
    /// a panicked or cancelled request keeps its route.
    fn name_route(&self, tracker: &mut RequestTracker, observe: &Observe) {
        tracker.route_after_handler(observe, self.late_route().as_deref());
    }
}

impl LateRoute for Unanswered {
    fn late_route(&self) -> Option<String> {
        self.routes.match_pattern(self.uri.path())
    }
}

pin_project! {
    /// Future of [`ObserveService`]. Dropping it before it completes records
    /// the request as cancelled.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<RequestTracker>,
        unanswered: Option<Rc<Unanswered>>,
        observe: Observe,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Cancelled before an answer; the tracker's drop then records it.
            if let (Some(tracker), Some(unanswered)) = (this.tracker.as_mut(), this.unanswered.take()) {
                unanswered.name_route(tracker, this.observe);
            }
        }
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
        let poll = || catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        // Handler code sees the request's context; its route is named on
        // demand, since actix routes inside the inner service.
        let polled = match (this.tracker.as_ref(), this.unanswered.as_ref()) {
            (Some(tracker), Some(unanswered)) => {
                let late: Rc<dyn LateRoute> = Rc::clone(unanswered) as Rc<dyn LateRoute>;
                enter_with_late_route(tracker.context(), &late, poll)
            }
            _ => poll(),
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(mut response))) => {
                let mut tracker = this.tracker.take();
                if let Some(tracker) = tracker.as_mut() {
                    if let Ok(id) = HeaderValue::from_str(tracker.context().request_id()) {
                        response.headers_mut().insert(REQUEST_ID, id);
                    }
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
                    if let Some(unanswered) = this.unanswered.take() {
                        unanswered.name_route(&mut tracker, this.observe);
                    }
                    tracker.response(error.as_response_error().status_code().as_u16());
                    tracker.finish();
                }
                Poll::Ready(Err(error))
            }
            Err(_panic) => {
                let mut request_id = None;
                if let Some(mut tracker) = this.tracker.take() {
                    if let Some(unanswered) = this.unanswered.take() {
                        unanswered.name_route(&mut tracker, this.observe);
                    }
                    request_id = Some(Box::from(tracker.context().request_id()));
                    tracker.panicked();
                }
                // The request moved into the handler, so the 500 is built by
                // actix from this error, after the middleware chain. (Cloning
                // the request up front is not an option: actix's routing
                // needs it unshared.)
                Poll::Ready(Err(HandlerPanicked { request_id }.into()))
            }
        }
    }
}

/// The error a panicking handler becomes: an empty 500, as on axum.
#[derive(Debug)]
struct HandlerPanicked {
    request_id: Option<Box<str>>,
}

impl std::fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request handler panicked")
    }
}

impl ResponseError for HandlerPanicked {
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::InternalServerError();
        if let Some(id) = &self.request_id {
            response.insert_header((REQUEST_ID, id.as_ref()));
        }
        response.finish()
    }
}
