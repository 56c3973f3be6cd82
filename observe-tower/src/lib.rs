//! A tower [`Layer`](tower_layer::Layer) that records observe's HTTP metrics,
//! request events, errors and spans for any `Service<http::Request<B>>`
//! returning `http::Response<_>`: a hyper server without a router, a tonic
//! gRPC server, or any tower stack. `observe-axum` is built on it.
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
//!
//! The whole set-up served by hyper: `observe-tower/examples/quickstart.rs`
//! (`cargo run -p observe-tower --example quickstart`); a tonic service:
//! `observe-tower/examples/grpc.rs`.
//!
//! The layer itself knows nothing about routing: a [`RouteClassifier`] (a
//! closure is enough, [`ObserveLayer::route_fn`]) names the matched route
//! *template* of each request from a bounded set. As a second line of
//! defence, observe keeps at most `max_routes` (default 1,000) distinct
//! routes and records any further one as `_OVERFLOW`.
//!
//! What it records, per request: latency until the response body has been
//! sent or dropped, request and response body sizes, requests in flight,
//! handler panics and cancellation (the future or the body dropped early:
//! `error_type="cancelled"`). [`metrics_endpoint`] answers `/metrics`;
//! [`admin_endpoints`] serves the admin listener ([`console`]);
//! [`Shutdown`] (feature `shutdown`) drains a hyper server before the process
//! exits. The layer translates the request into observe-core's neutral
//! [`RequestHead`](observe_core::integration::RequestHead); every rule about
//! what the request means lives in observe-core.
//!
//! # Request ids, panics and other middleware
//!
//! - The request id is read from `x-request-id`
//!   ([`ObserveBuilder::request_id_header`](observe_core::ObserveBuilder::request_id_header)
//!   names another header): the first sane value (1 to 128 of
//!   `A-Z a-z 0-9 . _ : -`) is used, else one is generated; it is echoed in
//!   the response unless the response already has that header. An id
//!   tower-http's `SetRequestIdLayer` (outside observe's layer, same header
//!   name) put on the request is the one used.
//! - Handler panics are caught and answered with an empty 500 on every
//!   framework, recorded with `error_type="panic"`. Teams that use
//!   tower-http's `CatchPanicLayer` turn that off with
//!   [`ObserveBuilder::catch_panics(false)`](observe_core::ObserveBuilder::catch_panics):
//!   the panic then unwinds through observe's middleware, which still records
//!   it once, and the outer layer answers. (A catching layer *inside*
//!   observe's turns the panic into a 500 before observe sees it: recorded as
//!   that 500.)
//! - Repeated headers are read the way their specifications say: one
//!   `traceparent` or none (two are invalid: a new trace starts), every
//!   `tracestate` line joined in order, `Content-Length` values only when they
//!   agree.
//!
//! # gRPC
//!
//! The layer recognises gRPC calls (`POST` with `content-type:
//! application/grpc...`) and records them by the OpenTelemetry RPC
//! conventions in `rpc_server_duration_seconds`, instead of as HTTP requests,
//! where a failing gRPC service would look like `POST` answered 200:
//!
//! ```ignore
//! let service = tower::ServiceBuilder::new()
//!     .layer(observe_tower::ObserveLayer::new(&observe))
//!     .service(UsersServer::new(users)); // tonic's generated server, served by hyper's HTTP/2 server
//! ```
//!
//! ```text
//! rpc_server_duration_seconds_count{rpc_grpc_status_code="0",rpc_method="GetUser",rpc_service="shop.v1.Users",rpc_system="grpc"} 41
//! rpc_server_duration_seconds_count{rpc_grpc_status_code="13",rpc_method="GetUser",rpc_service="shop.v1.Users",rpc_system="grpc",error_type="13"} 1
//! ```
//!
//! - The status is the call's `grpc-status`: from the trailers, or from the
//!   headers of a trailers-only answer (how tonic sends errors); a missing or
//!   malformed one is UNKNOWN (2), as gRPC clients read it; a non-200 HTTP
//!   answer maps by the gRPC spec (404 → UNIMPLEMENTED, 503 → UNAVAILABLE, ...).
//! - The codes the conventions call server errors (UNKNOWN,
//!   DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS;
//!   [`is_grpc_server_error`]) set
//!   `error_type` and are reported to error tracking (`gRPC INTERNAL (13) from
//!   shop.v1.Users/GetUser`); NOT_FOUND and the other client errors are not.
//! - A panicking handler is answered with a trailers-only INTERNAL (what a
//!   gRPC client understands) and recorded with `error_type="panic"`; a
//!   stream the client drops is CANCELLED, `error_type="cancelled"`. A
//!   stream's duration runs until its last message and status.
//! - Labels stay bounded: a path that is not `/package.Service/Method`, and
//!   any call answered UNIMPLEMENTED (scanners guessing names), count as
//!   `_OTHER`; past `max_routes` methods, `_OVERFLOW`.
//! - The server span is named `shop.v1.Users/GetUser` with `rpc.system`,
//!   `rpc.service`, `rpc.method`, `rpc.grpc.status_code`; the request event
//!   has `"rpc": {"system", "service", "method", "grpc_status_code"}`.
//! - SLOs: observe-slo's `Slo::grpc_availability` counts the server-error
//!   codes as bad.
//!
//! # The same names on every framework
//!
//! | noun | observe-tower | observe-axum | observe-actix |
//! |---|---|---|---|
//! | the middleware | `ObserveLayer` (`tower::Layer`) | `ObserveLayer` (`Router::layer`) | `ObserveLayer` (`App::wrap`) |
//! | route naming | `ObserveLayer::route_fn` / `RouteClassifier` | automatic: `MatchedPath` (`MatchedPathRoute`) | automatic: `match_pattern` |
//! | metrics endpoint | `metrics_endpoint(&observe)` → `MetricsEndpoint` service | `metrics_endpoint(&observe)` → `Router` | `metrics_endpoint(&observe)` → `Resource` |
//! | one metrics answer | the `MetricsEndpoint` service | `metrics_response(&observe, accept)` | `metrics_response(&observe, &request)` |
//! | admin endpoints | `admin_endpoints(&admin)` → `AdminEndpoints` service | `admin_endpoints(&admin)` → `Router` | `admin_endpoints(&admin)` → `App::configure` fn |
//! | the admin listener, served | `server::serve_admin(admin)` (feature `server`, default on) | `server::serve_admin(admin)` (feature `server`, default on) | `serve_admin(&admin)` → `dev::Server` |
//! | the public port, served | `server::Server` (feature `server`, default on) | `server::Server` (feature `server`, default on), instead of `axum::serve` | actix-web's `HttpServer` (its timeouts and accept back-off are built in) |
//! | shutdown | `Shutdown`, `shutdown_signal` | same | same |
//! | everything else | re-exported from observe-core (`Observe`, builders, `logging`, `errors`, `trace`, `console`, `Cache`, `Dependency`, ...) | same | same |
//!
//! Everything a service touches is re-exported here (all of observe-core's
//! public items: `Observe`, its builder, the signals' modules, `Cache`,
//! `Dependency`, ...), so this crate is the one dependency line; observe-core's
//! crate docs are the manual (metrics, environment variables, features).
//!
//! # Features
//!
//! `logging`, `errors`, `tracing` and `shutdown` (default on) turn on
//! observe-core's parts of the same names; `reqwest` adds
//! `trace::inject_reqwest`. `server` (default on) adds [`server`]: a
//! hyper server for the public port and [`server::serve_admin`] for the admin
//! listener, with accept back-off, head and idle timeouts and a connection
//! cap. With `default-features = false` the crate records the metrics only.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod body;
mod endpoint;
mod future;
mod head;
mod layer;
mod route;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
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
#[cfg_attr(docsrs, doc(cfg(feature = "shutdown")))]
pub use observe_core::shutdown::{Shutdown, shutdown_signal};
pub use observe_core::*;
