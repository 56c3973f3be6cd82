//! axum names the matched route with the `MatchedPath` extension.

use axum::extract::MatchedPath;
use http::Request;
use observe_tower::RouteClassifier;

/// Reads the route template from axum's [`MatchedPath`] extension.
#[derive(Debug, Clone, Copy, Default)]
pub struct MatchedPathRoute;

impl<B> RouteClassifier<B> for MatchedPathRoute {
    fn route<'r>(&self, request: &'r Request<B>) -> Option<&'r str> {
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
    }
}
