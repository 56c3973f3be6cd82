//! A tower [`Layer`](tower_layer::Layer) that records observe's HTTP metrics
//! for any `Service<http::Request<B>>` returning `http::Response<_>`.
//!
//! The layer itself knows nothing about routing: a [`RouteClassifier`] (a
//! closure is enough) names the matched route template of each request.
//! Framework crates such as `observe-axum` supply one; a service built on
//! bare hyper supplies its own.
//!
//! What it records, per request: latency until the response body has been
//! sent or dropped, request and response body sizes, requests in flight,
//! handler panics (answered with an empty 500, recorded with
//! `error_type="panic"`) and cancellation (the future or the body dropped
//! early: `error_type="cancelled"`).
//!
//! ```
//! use http::{Request, Response};
//! use observe_tower::ObserveLayer;
//! use tower::{ServiceBuilder, service_fn};
//!
//! let observe = observe_core::Observe::builder().service_name("shop").build().unwrap();
//! let service = ServiceBuilder::new()
//!     .layer(ObserveLayer::new(&observe).route_fn(|req: &Request<String>| {
//!         match req.uri().path() {
//!             "/health" => Some("/health"),
//!             path if path.starts_with("/users/") => Some("/users/{id}"),
//!             _ => None, // recorded as http_route="_UNMATCHED"
//!         }
//!     }))
//!     .service(service_fn(|_req: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
//!     }));
//! # let _ = service;
//! ```

mod body;
mod future;
mod layer;
mod route;
mod service;

pub use body::ObservedBody;
pub use future::ResponseFuture;
pub use layer::ObserveLayer;
pub use route::{RouteClassifier, RouteFn, Unrouted};
pub use service::ObserveService;
