//! `GET /users/{id}` and `GET /metrics`, observed by axum-prometheus.

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use axum_prometheus::PrometheusMetricLayer;

async fn handler(Path(id): Path<u64>) -> String {
    format!("user {id}")
}

#[tokio::main]
async fn main() {
    // Installs the global `metrics` recorder; a second call would panic.
    let (prometheus_layer, metric_handle) = PrometheusMetricLayer::pair();
    let app = Router::new()
        .route("/users/{id}", get(handler))
        .route("/metrics", get(move || async move { metric_handle.render() }))
        .layer(prometheus_layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
