//! The admin listener's router: `/metrics`, health, the status page and
//! the runtime log level, answered by observe-core's [`Admin`].

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};
use observe_core::console::{Admin, AdminRequest, AdminResponse, MAX_BODY_BYTES};

use crate::endpoint::metrics_response;

/// A router with every admin endpoint of `admin` (see
/// [`observe_core::console`]), to serve on the admin listener, not on the
/// public port:
///
/// ```no_run
/// # async fn run(observe: observe_core::Observe) -> Result<(), Box<dyn std::error::Error>> {
/// use observe_core::console::{Admin, AdminConfig};
///
/// if let Some(config) = AdminConfig::from_env()? {
///     let admin = Admin::new(&observe, config)?;
///     let listener = tokio::net::TcpListener::bind(admin.addr()).await?;
///     let router = observe_axum::admin_router(&admin);
///     // With the peer's address, for the audit line of a log-level change.
///     axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
///         .await?;
/// }
/// # Ok(())
/// # }
/// ```
pub fn admin_router(admin: &Admin) -> Router {
    let admin = admin.clone();
    Router::new().fallback(move |request: Request| {
        let admin = admin.clone();
        async move { answer(&admin, request).await }
    })
}

async fn answer(admin: &Admin, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if Admin::is_metrics(parts.uri.path()) && parts.method == http::Method::GET {
        return metrics_response(admin.observe(), parts.headers.get(header::ACCEPT)).await;
    }
    // One byte over the limit is enough to answer 413.
    let body = match to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(body) => body,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let answer = admin
        .handle(AdminRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
            accept: parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
            peer,
            body: &body,
        })
        .await;
    into_response(answer)
}

fn into_response(answer: AdminResponse) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}
