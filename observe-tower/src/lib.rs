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
//! `error_type="panic"`; with
//! [`ObserveBuilder::catch_panics(false)`](observe_core::ObserveBuilder::catch_panics)
//! the panic is left to a layer outside, such as tower-http's
//! `CatchPanicLayer`, and still recorded once) and cancellation (the future
//! or the body dropped early: `error_type="cancelled"`). The request id is
//! read from and echoed in `x-request-id` (or the header
//! [`ObserveBuilder::request_id_header`](observe_core::ObserveBuilder::request_id_header)
//! names): an id tower-http's `SetRequestIdLayer` put there first is kept.
//!
//! [`AdminService`] serves the admin listener: `/metrics`, health probes,
//! the status page and the runtime log level.
//!
//! The layer translates the request into observe-core's neutral
//! [`RequestHead`](observe_core::integration::RequestHead); every rule about what the
//! request means lives in observe-core.
//!
//! Features: `logging`, `errors` and `tracing` (default on) turn on
//! observe-core's signals of the same names; `reqwest` adds
//! `observe_core::trace::inject_reqwest`. With `default-features = false`
//! the crate records HTTP metrics only.
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

mod admin;
mod body;
mod future;
mod head;
mod layer;
mod route;
mod service;

pub use admin::AdminService;
pub use body::ObservedBody;
pub use future::ResponseFuture;
pub use layer::ObserveLayer;
pub use route::{RouteClassifier, RouteFn, Unrouted};
pub use service::ObserveService;
