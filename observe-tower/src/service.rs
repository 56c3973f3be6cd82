//! The middleware service.

use std::task::{Context, Poll};

use http::{HeaderName, Request, Response, header};
use http_body::Body;
use observe_core::{Observe, RouteCache};
use tower_service::Service;

use crate::body::ObservedBody;
use crate::future::ResponseFuture;
use crate::route::RouteClassifier;

/// The service produced by [`ObserveLayer`](crate::ObserveLayer).
#[derive(Debug, Clone)]
pub struct ObserveService<S, C> {
    inner: S,
    observe: Observe,
    classifier: C,
    /// axum's `Router::layer` makes one service per route: remembering the
    /// route's metrics saves a locked lookup on every request.
    route_cache: RouteCache,
}

impl<S, C> ObserveService<S, C> {
    pub(crate) fn new(inner: S, observe: Observe, classifier: C) -> Self {
        Self {
            inner,
            observe,
            classifier,
            route_cache: RouteCache::default(),
        }
    }
}

impl<S, C, ReqB, ResB> Service<Request<ReqB>> for ObserveService<S, C>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    C: RouteClassifier<ReqB>,
    ReqB: Body,
    ResB: Body,
{
    type Response = Response<ObservedBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let route = self.classifier.route(&request);
        let mut tracker =
            self.observe
                .start_request_cached(request.method().as_str(), route, &self.route_cache);
        if let Some(size) = request_body_size(&request) {
            tracker.request_body_size(size);
        }
        let header = request.headers().get(&REQUEST_ID).map(|v| v.as_bytes());
        tracker.request_id(header);
        let headers = request.headers();
        let traceparent = headers.get(&TRACEPARENT).map(|v| v.as_bytes());
        tracker.trace_headers(
            request.uri().path(),
            traceparent,
            // Meaningless without a traceparent: not even looked up.
            traceparent.and_then(|_| headers.get(&TRACESTATE).map(|v| v.as_bytes())),
        );
        if tracker.wants_error_details() {
            let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
            let headers = request
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()));
            tracker.error_details(target, headers);
        }
        ResponseFuture::new(self.inner.call(request), tracker)
    }
}

/// The header carrying the request id, in and out. Header names are
/// constants: built at compile time, a lookup only hashes them.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The body's exact size when the server knows it (hyper does from the
/// framing), else what the headers say.
fn request_body_size<B: Body>(request: &Request<B>) -> Option<u64> {
    request.body().size_hint().exact().or_else(|| {
        let headers = request.headers();
        observe_core::request_body_size(
            headers.get(header::CONTENT_LENGTH).map(|v| v.as_bytes()),
            headers.contains_key(header::TRANSFER_ENCODING),
        )
    })
}
