//! The axum example service.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use observe_core::Observe;
use serde::Deserialize;

use crate::shop;

/// The service's router with `GET /metrics`, observed by `observe`.
pub fn app(observe: &Observe) -> Router {
    routes()
        .merge(observe_axum::metrics_router(observe))
        // Added last so it wraps every route and the 404 fallback (a router
        // merged after `layer` would bring back an unobserved fallback).
        .layer(observe_axum::ObserveLayer::new(observe))
}

/// The same service without `/metrics`, for when metrics are served on a
/// listener of their own.
pub fn app_without_metrics(observe: &Observe) -> Router {
    routes().layer(observe_axum::ObserveLayer::new(observe))
}

fn routes() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/users/{id}", get(user))
        .route("/orders", post(order))
        .route("/slow", get(slow))
        .route("/panic", get(panic))
}

async fn user(Path(id): Path<u64>) -> Response {
    match shop::find_user(id).await {
        Ok(user) => Json(user).into_response(),
        Err(shop::LookupError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(shop::LookupError::Database) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn order(body: Bytes) -> Response {
    match shop::parse_order(&body) {
        Some(order) => (StatusCode::CREATED, Json(order)).into_response(),
        None => StatusCode::UNPROCESSABLE_ENTITY.into_response(),
    }
}

#[derive(Deserialize)]
struct SlowParams {
    ms: Option<u64>,
}

async fn slow(Query(params): Query<SlowParams>) -> &'static str {
    shop::slow(params.ms.unwrap_or(0)).await;
    "done"
}

async fn panic() -> &'static str {
    panic!("the /panic route panics on purpose")
}
