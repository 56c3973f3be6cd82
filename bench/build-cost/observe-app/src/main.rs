//! `GET /users/{id}` and `GET /metrics`, observed by observe (metrics only).

use axum::Router;
use axum::extract::Path;
use axum::routing::get;

async fn handler(Path(id): Path<u64>) -> String {
    format!("user {id}")
}

#[tokio::main]
async fn main() {
    let observe = observe_core::Observe::builder()
        .service_name("build-cost")
        .build()
        .unwrap();
    let app = Router::new()
        .route("/users/{id}", get(handler))
        .merge(observe_axum::metrics_endpoint(&observe))
        .layer(observe_axum::ObserveLayer::new(&observe));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
