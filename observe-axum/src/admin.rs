//! The admin listener's router: `/metrics`, health, the status page and
//! the runtime log level, answered by observe-core's [`Admin`].

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::header;
use observe_core::console::Admin;

use tower_service::Service;

use crate::endpoint::metrics_response;

/// A router with every admin endpoint of `admin` (see
/// [`observe_core::console`]), to serve on the admin listener, not on the
/// public port:
///
/// ```no_run
/// # async fn run(observe: observe_axum::Observe) -> Result<(), Box<dyn std::error::Error>> {
/// use observe_axum::console::{Admin, AdminConfig};
///
/// if let Some(config) = AdminConfig::from_env()? {
///     let admin = Admin::new(&observe, config)?;
///     let listener = tokio::net::TcpListener::bind(admin.addr()).await?;
///     let router = observe_axum::admin_endpoints(&admin);
///     // With the peer's address, for the audit line of a log-level change.
///     axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
///         .await?;
/// }
/// # Ok(())
/// # }
/// ```
pub fn admin_endpoints(admin: &Admin) -> Router {
    let admin = admin.clone();
    Router::new().fallback(move |request: Request| {
        let admin = admin.clone();
        async move { answer(&admin, request).await }
    })
}

async fn answer(admin: &Admin, request: Request) -> Response {
    if Admin::is_metrics(request.uri().path()) && request.method() == http::Method::GET {
        let accept = request.headers().get(header::ACCEPT);
        return metrics_response(admin.observe(), accept).await;
    }
    // The rest is the tower service's, with the peer axum knows.
    let mut service = observe_tower::admin_endpoints(admin);
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        service = service.peer(*peer);
    }
    match service.call(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}
