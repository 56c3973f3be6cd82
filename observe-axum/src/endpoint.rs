//! `GET /metrics`.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use observe_core::Observe;

/// A router with `GET /metrics`, to merge into the service's router or to
/// serve on a separate listener (e.g. `127.0.0.1:9464`) so metrics are not
/// public:
///
/// ```no_run
/// # async fn run(observe: observe_axum::Observe) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// axum::serve(listener, observe_axum::metrics_endpoint::<()>(&observe)).await
/// # }
/// ```
pub fn metrics_endpoint<S>(observe: &Observe) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let observe = observe.clone();
    Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| {
            let observe = observe.clone();
            async move { metrics_response(&observe, headers.get(header::ACCEPT)).await }
        }),
    )
}

/// Renders the metrics for a request with this `Accept` header, negotiating
/// OpenMetrics, Prometheus text or (with native histograms on) the
/// Prometheus protobuf format. Rendering runs on tokio's blocking pool so a
/// large registry never stalls the async workers.
pub async fn metrics_response(observe: &Observe, accept: Option<&HeaderValue>) -> Response {
    let accept = accept.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let observe = observe.clone();
    match tokio::task::spawn_blocking(move || observe.scrape(accept.as_deref())).await {
        Ok(scrape) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(scrape.content_type),
            )],
            scrape.body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
