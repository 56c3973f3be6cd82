//! The public constructor.

use observe_core::Observe;
use tower_layer::Layer;

use http::Request;

use std::sync::Arc;

use crate::head::Names;
use crate::route::{RouteFn, Unrouted};
use crate::service::ObserveService;

/// Wraps a service so that each request is recorded in an [`Observe`].
#[derive(Debug, Clone)]
pub struct ObserveLayer<C = Unrouted> {
    observe: Observe,
    classifier: C,
    names: Arc<Names>,
}

impl ObserveLayer {
    /// A layer recording into `observe`, with every request unmatched until
    /// a classifier is given with [`route_with`](Self::route_with). Built
    /// inside a tokio runtime, it adds that runtime's saturation to
    /// `/metrics` ([`Observe::add_runtime`](observe_core::Observe::add_runtime)).
    pub fn new(observe: &Observe) -> Self {
        // The runtime the service is built on is the one that serves it.
        observe_core::integration::add_current_runtime(observe);
        Self {
            observe: observe.clone(),
            classifier: Unrouted,
            names: Arc::new(Names::new(observe)),
        }
    }
}

impl<C> ObserveLayer<C> {
    /// Names routes with a [`RouteClassifier`](crate::RouteClassifier) (a framework crate's, or
    /// your own type).
    pub fn route_with<D>(self, classifier: D) -> ObserveLayer<D> {
        ObserveLayer {
            observe: self.observe,
            classifier,
            names: self.names,
        }
    }

    /// Names routes with a closure returning the route template, borrowed
    /// from the request or `'static`; `None` for an unmatched request.
    pub fn route_fn<B, F>(self, classifier: F) -> ObserveLayer<RouteFn<F>>
    where
        F: for<'r> Fn(&'r Request<B>) -> Option<&'r str> + Clone,
    {
        self.route_with(RouteFn(classifier))
    }
}

impl<S, C: Clone> Layer<S> for ObserveLayer<C> {
    type Service = ObserveService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        ObserveService::new(
            inner,
            self.observe.clone(),
            self.classifier.clone(),
            Arc::clone(&self.names),
        )
    }
}
