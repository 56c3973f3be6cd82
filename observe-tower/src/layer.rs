//! The public constructor.

use observe_core::Observe;
use tower_layer::Layer;

use crate::route::Unrouted;
use crate::service::ObserveService;

/// Wraps a service so that each request is recorded in an [`Observe`].
#[derive(Debug, Clone)]
pub struct ObserveLayer<C = Unrouted> {
    observe: Observe,
    classifier: C,
}

impl ObserveLayer {
    /// A layer recording into `observe`, with every request unmatched until
    /// a classifier is given with [`route_with`](Self::route_with).
    pub fn new(observe: &Observe) -> Self {
        Self {
            observe: observe.clone(),
            classifier: Unrouted,
        }
    }
}

impl<C> ObserveLayer<C> {
    /// Names routes with `classifier`, usually a closure
    /// `|req: &Request<B>| -> Option<&str>`.
    pub fn route_with<D>(self, classifier: D) -> ObserveLayer<D> {
        ObserveLayer {
            observe: self.observe,
            classifier,
        }
    }
}

impl<S, C: Clone> Layer<S> for ObserveLayer<C> {
    type Service = ObserveService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        ObserveService::new(inner, self.observe.clone(), self.classifier.clone())
    }
}
