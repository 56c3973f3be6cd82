//! actix-web names the matched route with `match_pattern()`.

use actix_web::HttpRequest;

/// The matched resource pattern (`/users/{id}`), `None` for the default
/// service. Call it on the response's request, after routing: then actix
/// builds it from the recorded resource path (one small allocation) instead
/// of matching the path against every resource again.
pub(crate) fn matched_route(request: &HttpRequest) -> Option<String> {
    request.match_pattern()
}
