//! axum glue for observe: a layer that names routes by their template
//! (axum's [`MatchedPath`](axum::extract::MatchedPath)), a `/metrics`
//! router ([`metrics_endpoint`]), the admin listener's router
//! ([`admin_endpoints`]: metrics, health probes, the status page, the
//! runtime log level) and graceful shutdown ([`Shutdown`]).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use observe_axum::Observe;
//!
//! # async fn user() -> &'static str { "" }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = Observe::builder()
//!     .service_name("shop")
//!     .exclude_route("/metrics") // scrapes are not traffic
//!     .build()?;
//! let app = Router::new()
//!     .route("/users/{id}", get(user))
//!     .merge(observe_axum::metrics_endpoint(&observe))
//!     // Last, and `layer` rather than `route_layer`: it then wraps every
//!     // route and the 404 fallback.
//!     .layer(observe_axum::ObserveLayer::new(&observe));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! The whole set-up (every signal, the admin listener on its own port,
//! graceful shutdown) is `observe-axum/examples/quickstart.rs`, one file to
//! copy: `cargo run -p observe-axum --example quickstart`.
//!
//! Where the route is known: axum inserts `MatchedPath` before a route's
//! service runs, so a layer added with [`Router::layer`](axum::Router::layer)
//! sees the full template of matched routes, nested routers included
//! (`/api/items/{id}`), and of 405 answers; the fallback sees none and is
//! recorded as `http_route="_UNMATCHED"`. Add the layer after every
//! `route`, `nest` and `merge`: merging a router after it brings back an
//! unobserved default fallback, and 404s would go unrecorded;
//! `route_layer` never sees 404s at all. A layer wrapped around the whole
//! router from outside runs before routing and would see no route at all.
//!
//! Serving: `axum::serve` has no timeout for a request head that never
//! completes nor for idle connections, so a few thousand slow clients
//! hold the process's descriptors. With the `server` feature,
//! [`server::Server`] (observe-tower's) serves the router with accept
//! back-off, head and idle timeouts and a connection cap, and
//! [`server::serve_admin`] the admin listener on its own budget:
//! `Server::new().serve(listener, move |_| app.clone(), shutdown.signal())`.
//! (A handler that needs the peer's address gets it from a layer the
//! closure adds per connection, as `ConnectInfo` would.)
//!
//! Shutdown: `shutdown.drain(server)` ([`Shutdown`]) gives requests in
//! flight the drain timeout and fails readiness meanwhile; with
//! `axum::serve`, pass `shutdown.signal()` to `with_graceful_shutdown`.
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
//! `trace::inject_reqwest`; `server` (default on) adds [`server`]. With
//! `default-features = false` the crate records the metrics only.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod endpoint;
mod layer;
mod route;

pub use admin::admin_endpoints;
pub use endpoint::{metrics_endpoint, metrics_response};
pub use layer::ObserveLayer;
pub use route::MatchedPathRoute;

// One dependency line: everything a service touches, from observe-core.
#[cfg(feature = "shutdown")]
#[cfg_attr(docsrs, doc(cfg(feature = "shutdown")))]
pub use observe_core::shutdown::{Shutdown, shutdown_signal};
pub use observe_core::*;
/// observe-tower's hyper server: see [`observe_tower::server`].
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use observe_tower::server;
