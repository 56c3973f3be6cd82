//! The axum example service.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use observe_core::Observe;

use std::sync::Arc;

use crate::shop::{self, Shop};

/// The service's router with `GET /metrics`, observed by `observe`.
pub fn app(observe: &Observe, shop: Arc<Shop>) -> Router {
    routes(shop)
        .merge(observe_axum::metrics_endpoint(observe))
        // Added last so it wraps every route and the 404 fallback (a router
        // merged after `layer` would bring back an unobserved fallback).
        .layer(observe_axum::ObserveLayer::new(observe))
}

/// The same service without `/metrics`, for when metrics are served on a
/// listener of their own.
pub fn app_without_metrics(observe: &Observe, shop: Arc<Shop>) -> Router {
    routes(shop).layer(observe_axum::ObserveLayer::new(observe))
}

fn routes(shop: Arc<Shop>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/users/{id}", get(user))
        .route(
            "/orders",
            post(order).layer(DefaultBodyLimit::max(shop::MAX_ORDER_BYTES)),
        )
        .route("/slow", get(slow))
        .route("/panic", get(panic))
        .route("/relay/{id}", get(relay))
        // A nested router: the route label is the full template.
        .nest("/api/v1", Router::new().route("/items/{id}", get(item)))
        .with_state(shop)
}

async fn user(State(shop): State<Arc<Shop>>, Path(id): Path<String>) -> Response {
    let Some(id) = shop::parse_id(&id) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match shop.find_user(id).await {
        Ok(user) => Json(user).into_response(),
        Err(shop::LookupError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(shop::LookupError::Database) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn order(State(shop): State<Arc<Shop>>, body: Bytes) -> Response {
    match shop.place_order(&body) {
        Some(order) => (StatusCode::CREATED, Json(order)).into_response(),
        None => StatusCode::UNPROCESSABLE_ENTITY.into_response(),
    }
}

async fn item(Path(id): Path<String>) -> Response {
    match shop::parse_id(&id) {
        Some(id) => Json(shop::find_item(id)).into_response(),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn slow(RawQuery(query): RawQuery) -> Response {
    match shop::slow_ms(query.as_deref()) {
        Some(ms) => {
            shop::slow(ms).await;
            "done".into_response()
        }
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn relay(State(shop): State<Arc<Shop>>, Path(id): Path<String>) -> Response {
    let Some(id) = shop::parse_id(&id) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match shop.relay(id).await {
        Ok(user) => Json(user).into_response(),
        Err(shop::RelayError::Off | shop::RelayError::NotFound) => {
            StatusCode::NOT_FOUND.into_response()
        }
        Err(shop::RelayError::BadGateway) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn panic() -> &'static str {
    panic!("the /panic route panics on purpose")
}
