//! The plain tower/hyper example service: no router, so a route classifier
//! closure names each request's route for observe. Routes and behaviour are
//! those of the axum example.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use observe_core::Observe;
use observe_tower::ObserveLayer;
use observe_tower::server::Server;
use tower::ServiceBuilder;

use std::sync::Arc;

use crate::shop::{self, Shop};

/// The route template of `path`, from the fixed set this service serves;
/// `None` for anything else (recorded as `_UNMATCHED`, never the raw path).
/// The same function routes the request, so labels and dispatch agree.
pub fn route_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["health"] => Some("/health"),
        ["users", id] if !id.is_empty() => Some("/users/{id}"),
        ["orders"] => Some("/orders"),
        ["slow"] => Some("/slow"),
        ["panic"] => Some("/panic"),
        ["relay", id] if !id.is_empty() => Some("/relay/{id}"),
        ["metrics"] => Some("/metrics"),
        ["api", "v1", "items", id] if !id.is_empty() => Some("/api/v1/items/{id}"),
        _ => None,
    }
}

/// Accepts connections on `listener` forever, serving each with hyper's
/// HTTP/1 server and the observed service.
pub async fn serve(
    listener: tokio::net::TcpListener,
    observe: Observe,
    shop: Arc<Shop>,
) -> std::io::Result<()> {
    serve_until(listener, observe, shop, std::future::pending()).await
}

/// Like [`serve`] until `shutdown` completes; then stops accepting, lets
/// each open connection finish the request it is serving, and returns once
/// every connection closed. Bound the wait with a deadline (e.g.
/// `observe_core::shutdown::Shutdown::drain`): this waits as long as requests take.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    observe: Observe,
    shop: Arc<Shop>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let layer =
        ObserveLayer::new(&observe).route_fn(|req: &Request<Incoming>| route_of(req.uri().path()));
    let service = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |req| handle(observe.clone(), Arc::clone(&shop), req));
    // observe's server: accept errors (out of descriptors) are retried,
    // heads that do not arrive in 10 s and idle connections are closed;
    // once `shutdown` completes it stops accepting, and each connection
    // finishes the request it is serving.
    let _ = Server::new()
        .serve(listener, move |_peer| service.clone(), shutdown)
        .await;
    Ok(())
}

/// Serves the admin endpoints of `admin` on `listener` with observe's
/// admin server (its own connection budget and head timeout), each
/// connection knowing its peer for the audit line.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    admin: observe_core::console::Admin,
) -> std::io::Result<()> {
    observe_tower::server::serve_admin_on(listener, admin).await;
    Ok(())
}

type Answer = Result<Response<Full<Bytes>>, Infallible>;

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

fn json<T: serde::Serialize>(code: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).expect("plain structs serialize");
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

async fn handle(observe: Observe, shop: Arc<Shop>, request: Request<Incoming>) -> Answer {
    let path = request.uri().path().to_owned();
    let Some(route) = route_of(&path) else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    let method = request.method().clone();
    Ok(match (route, method) {
        ("/health", Method::GET) => Response::new(Full::new(Bytes::from_static(b"ok"))),
        ("/users/{id}", Method::GET) => match shop::parse_id(last_segment(&path)) {
            None => status(StatusCode::BAD_REQUEST),
            Some(id) => match shop.find_user(id).await {
                Ok(user) => json(StatusCode::OK, &user),
                Err(shop::LookupError::NotFound) => status(StatusCode::NOT_FOUND),
                Err(shop::LookupError::Database) => status(StatusCode::INTERNAL_SERVER_ERROR),
            },
        },
        ("/orders", Method::POST) => {
            match Limited::new(request.into_body(), shop::MAX_ORDER_BYTES)
                .collect()
                .await
            {
                Err(_) => status(StatusCode::PAYLOAD_TOO_LARGE),
                Ok(body) => match shop.place_order(&body.to_bytes()) {
                    Some(order) => json(StatusCode::CREATED, &order),
                    None => status(StatusCode::UNPROCESSABLE_ENTITY),
                },
            }
        }
        ("/slow", Method::GET) => match shop::slow_ms(request.uri().query()) {
            Some(ms) => {
                shop::slow(ms).await;
                Response::new(Full::new(Bytes::from_static(b"done")))
            }
            None => status(StatusCode::BAD_REQUEST),
        },
        ("/panic", Method::GET) => panic!("the /panic route panics on purpose"),
        ("/relay/{id}", Method::GET) => match shop::parse_id(last_segment(&path)) {
            None => status(StatusCode::BAD_REQUEST),
            Some(id) => match shop.relay(id).await {
                Ok(user) => json(StatusCode::OK, &user),
                Err(shop::RelayError::Off | shop::RelayError::NotFound) => {
                    status(StatusCode::NOT_FOUND)
                }
                Err(shop::RelayError::BadGateway) => status(StatusCode::BAD_GATEWAY),
            },
        },
        ("/api/v1/items/{id}", Method::GET) => match shop::parse_id(last_segment(&path)) {
            Some(id) => json(StatusCode::OK, &shop::find_item(id)),
            None => status(StatusCode::BAD_REQUEST),
        },
        ("/metrics", Method::GET) => metrics(observe, &request).await,
        // A known route with another method.
        _ => status(StatusCode::METHOD_NOT_ALLOWED),
    })
}

/// `/metrics`, rendered on tokio's blocking pool.
async fn metrics(observe: Observe, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match tokio::task::spawn_blocking(move || observe.scrape(accept.as_deref())).await {
        Ok(scrape) => {
            let mut response = Response::new(Full::new(Bytes::from(scrape.body)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(scrape.content_type),
            );
            response
        }
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
