//! The actix-web example service: the routes and behaviour of the axum one.

use actix_web::{HttpRequest, HttpResponse, web};

use std::sync::Arc;

use crate::shop::{self, Shop};

/// The service's routes. Register on an `App` wrapped with
/// `observe_actix::ObserveLayer` (see `src/bin/actix-service.rs`).
///
/// Resources rather than `App::route`: `App::route` moves the method guard
/// onto the resource, so a wrong method falls through to the default service
/// (404) instead of the resource's 405, unlike axum and the tower example.
pub fn routes(shop: Arc<Shop>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::from(shop));
        configure(cfg);
    }
}

fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(shop::MAX_ORDER_BYTES))
        .service(web::resource("/health").get(|| async { "ok" }))
        .service(web::resource("/users/{id}").get(user))
        .service(web::resource("/orders").post(order))
        .service(web::resource("/slow").get(slow))
        .service(web::resource("/panic").get(panic))
        .service(web::resource("/relay/{id}").get(relay))
        // A scope: the route label is the full pattern.
        .service(web::scope("/api/v1").service(web::resource("/items/{id}").get(item)));
}

async fn user(shop: web::Data<Shop>, id: web::Path<String>) -> HttpResponse {
    let Some(id) = shop::parse_id(&id) else {
        return HttpResponse::BadRequest().finish();
    };
    match shop.find_user(id).await {
        Ok(user) => HttpResponse::Ok().json(user),
        Err(shop::LookupError::NotFound) => HttpResponse::NotFound().finish(),
        Err(shop::LookupError::Database) => HttpResponse::InternalServerError().finish(),
    }
}

async fn order(shop: web::Data<Shop>, body: web::Bytes) -> HttpResponse {
    match shop.place_order(&body) {
        Some(order) => HttpResponse::Created().json(order),
        None => HttpResponse::UnprocessableEntity().finish(),
    }
}

async fn item(id: web::Path<String>) -> HttpResponse {
    match shop::parse_id(&id) {
        Some(id) => HttpResponse::Ok().json(shop::find_item(id)),
        None => HttpResponse::BadRequest().finish(),
    }
}

async fn slow(request: HttpRequest) -> HttpResponse {
    let query = Some(request.query_string()).filter(|q| !q.is_empty());
    match shop::slow_ms(query) {
        Some(ms) => {
            shop::slow(ms).await;
            HttpResponse::Ok().body("done")
        }
        None => HttpResponse::BadRequest().finish(),
    }
}

async fn relay(shop: web::Data<Shop>, id: web::Path<String>) -> HttpResponse {
    let Some(id) = shop::parse_id(&id) else {
        return HttpResponse::BadRequest().finish();
    };
    match shop.relay(id).await {
        Ok(user) => HttpResponse::Ok().json(user),
        Err(shop::RelayError::Off | shop::RelayError::NotFound) => {
            HttpResponse::NotFound().finish()
        }
        Err(shop::RelayError::BadGateway) => HttpResponse::BadGateway().finish(),
    }
}

async fn panic() -> HttpResponse {
    panic!("the /panic route panics on purpose")
}
