//! `GET /metrics`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use observe_core::Observe;

/// A `GET /metrics` resource, to register with `App::service` (or on a
/// separate `HttpServer` bound to e.g. `127.0.0.1:9464`, so metrics are not
/// public).
pub fn metrics_endpoint(observe: &Observe) -> Resource {
    let observe = observe.clone();
    web::resource("/metrics").route(web::get().to(move |request: HttpRequest| {
        let observe = observe.clone();
        async move { metrics_response(&observe, &request).await }
    }))
}

/// Renders the metrics for `request`, negotiating OpenMetrics, Prometheus
/// text or (with native histograms on) the Prometheus protobuf format on
/// its `Accept` header. Rendering runs on actix's blocking pool so a large
/// registry never stalls the worker.
pub async fn metrics_response(observe: &Observe, request: &HttpRequest) -> HttpResponse {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let observe = observe.clone();
    match web::block(move || observe.scrape(accept.as_deref())).await {
        Ok(scrape) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, scrape.content_type))
            .body(scrape.body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
