//! The middleware service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use observe_core::Observe;
use observe_core::integration::RouteCache;
use tower_service::Service;

use crate::body::ObservedBody;
use crate::future::ResponseFuture;
use crate::head::{Head, Names};
use crate::route::RouteClassifier;

/// The service produced by [`ObserveLayer`](crate::ObserveLayer).
#[derive(Debug, Clone)]
pub struct ObserveService<S, C> {
    inner: S,
    observe: Observe,
    classifier: C,
    names: Arc<Names>,
    /// axum's `Router::layer` makes one service per route: remembering the
    /// route's metrics saves a locked lookup on every request.
    route_cache: RouteCache,
}

impl<S, C> ObserveService<S, C> {
    pub(crate) fn new(inner: S, observe: Observe, classifier: C, names: Arc<Names>) -> Self {
        Self {
            inner,
            observe,
            classifier,
            names,
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
        let head = Head {
            request: &request,
            names: &self.names,
        };
        let tracker = self.observe.track(&head, route, Some(&self.route_cache));
        ResponseFuture::new(
            self.inner.call(request),
            tracker,
            Arc::clone(&self.names),
            self.observe.catches_panics(),
        )
    }
}
