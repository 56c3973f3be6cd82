//! How a request's route template is named.

use http::Request;

/// Names the route template a request matched (`/users/{id}`), or `None`
/// when it matched no route. The value must come from a bounded set, such
/// as the templates of a router: never return the raw path.
///
/// Implemented for closures `Fn(&Request<B>) -> Option<&str>`.
pub trait RouteClassifier<B>: Clone {
    /// The route template of `request`, borrowed from the request (an
    /// extension set by a router) or `'static`.
    fn route<'r>(&self, request: &'r Request<B>) -> Option<&'r str>;
}

impl<B, F> RouteClassifier<B> for F
where
    F: for<'r> Fn(&'r Request<B>) -> Option<&'r str> + Clone,
{
    fn route<'r>(&self, request: &'r Request<B>) -> Option<&'r str> {
        self(request)
    }
}

/// The default classifier: every request is unmatched. Useful only for a
/// service with a single route; otherwise give a classifier with
/// [`ObserveLayer::route_with`](crate::ObserveLayer::route_with).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unrouted;

impl<B> RouteClassifier<B> for Unrouted {
    fn route<'r>(&self, _request: &'r Request<B>) -> Option<&'r str> {
        None
    }
}
