//! How a request's route template is named.

use http::Request;

/// Names the route template a request matched (`/users/{id}`), or `None`
/// when it matched no route. The value must come from a bounded set, such
/// as the templates of a router: never return the raw path.
///
/// For a closure, use [`ObserveLayer::route_fn`](crate::ObserveLayer::route_fn).
pub trait RouteClassifier<B>: Clone {
    /// The route template of `request`, borrowed from the request (an
    /// extension set by a router) or `'static`.
    fn route<'r>(&self, request: &'r Request<B>) -> Option<&'r str>;
}

/// A closure used as a [`RouteClassifier`], made by
/// [`ObserveLayer::route_fn`](crate::ObserveLayer::route_fn). The wrapper
/// exists so the closure's signature, which borrows its result from the
/// request, is inferred without annotations.
#[derive(Debug, Clone, Copy)]
pub struct RouteFn<F>(pub(crate) F);

impl<B, F> RouteClassifier<B> for RouteFn<F>
where
    F: for<'r> Fn(&'r Request<B>) -> Option<&'r str> + Clone,
{
    fn route<'r>(&self, request: &'r Request<B>) -> Option<&'r str> {
        (self.0)(request)
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
