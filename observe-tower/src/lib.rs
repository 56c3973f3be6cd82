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
//! [`metrics_endpoint`] answers `/metrics`; [`admin_endpoints`] serves the
//! admin listener: `/metrics`, health probes, the status page and the
//! runtime log level. [`Shutdown`] (feature `shutdown`) drains a hyper
//! server before the process exits.
//!
//! Everything a service touches is re-exported here (`Observe`, its
//! builder, the signals' modules, `Cache`, `Dependency`, ...: all of
//! observe-core's public items), so this crate is the one dependency line.
//!
//! The layer translates the request into observe-core's neutral
//! [`RequestHead`](observe_core::integration::RequestHead); every rule about what the
//! request means lives in observe-core.
//!
//! Features: `logging`, `errors`, `tracing` and `shutdown` (default on)
//! turn on observe-core's parts of the same names; `reqwest` adds
//! `trace::inject_reqwest`. With `default-features = false` the crate
//! records HTTP metrics only.
//!
//! ```
//! use http::{Request, Response};
//! use observe_tower::ObserveLayer;
//! use tower::{ServiceBuilder, service_fn};
//!
//! let observe = observe_tower::Observe::builder().service_name("shop").build().unwrap();
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

#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod body;
mod endpoint;
mod future;
mod head;
mod layer;
mod route;
mod service;

pub use admin::{AdminEndpoints, admin_endpoints};
pub use body::ObservedBody;
pub use endpoint::{MetricsEndpoint, metrics_endpoint};
pub use future::ResponseFuture;
pub use layer::ObserveLayer;
pub use route::{RouteClassifier, RouteFn, Unrouted};
pub use service::ObserveService;

// One dependency line: everything a service touches, from observe-core.
#[cfg(feature = "shutdown")]
pub use observe_core::shutdown::{Shutdown, shutdown_signal};
pub use observe_core::*;
