//! The public constructor.

use observe_core::Observe;
use observe_tower::ObserveService;
use tower_layer::Layer;

use crate::route::MatchedPathRoute;

/// observe's tower layer with routes named by axum's `MatchedPath`. Add it
/// with [`Router::layer`](axum::Router::layer) after the routes.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    inner: observe_tower::ObserveLayer<MatchedPathRoute>,
}

impl ObserveLayer {
    /// A layer recording into `observe`.
    pub fn new(observe: &Observe) -> Self {
        Self {
            inner: observe_tower::ObserveLayer::new(observe).route_with(MatchedPathRoute),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = ObserveService<S, MatchedPathRoute>;

    fn layer(&self, inner: S) -> Self::Service {
        self.inner.layer(inner)
    }
}
