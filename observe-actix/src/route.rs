//! actix-web names the matched route with `match_pattern()`.

use actix_web::HttpRequest;

/// The matched resource pattern (`/users/{id}`), `None` for the default
/// service. Allocates: actix builds the pattern string by walking its
/// resource map.
pub(crate) fn matched_route(request: &HttpRequest) -> Option<String> {
    request.match_pattern()
}
