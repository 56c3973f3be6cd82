//! The handler every benchmarked server serves, and its worker count:
//! bench-server's (this crate) and peer-server's (bench/peers, which
//! includes this file), so observe and the peers are measured on the same
//! code by construction.

use axum::Json;
use axum::extract::Path;
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct User {
    id: u64,
    name: &'static str,
}

pub(crate) async fn user(Path(id): Path<u64>) -> Json<User> {
    Json(User { id, name: "bench" })
}

pub(crate) async fn user_logged(Path(id): Path<u64>) -> Json<User> {
    tracing::info!(user_id = id, "user served");
    Json(User { id, name: "bench" })
}

pub(crate) async fn actix_user_logged(id: actix_web::web::Path<u64>) -> actix_web::HttpResponse {
    tracing::info!(user_id = *id, "user served");
    actix_user(id).await
}

pub(crate) async fn actix_user(id: actix_web::web::Path<u64>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(User {
        id: *id,
        name: "bench",
    })
}

/// `BENCH_WORKERS`, default 1: the load generator gets the other core.
pub(crate) fn workers() -> usize {
    match std::env::var("BENCH_WORKERS") {
        Ok(value) => value.parse().unwrap_or_else(|_| {
            eprintln!("BENCH_WORKERS: expected a number of threads, got {value:?}");
            std::process::exit(2)
        }),
        Err(_) => 1,
    }
}
