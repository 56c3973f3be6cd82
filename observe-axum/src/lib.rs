//! axum glue for observe: a layer that names routes by their template
//! (axum's [`MatchedPath`](axum::extract::MatchedPath)), a `/metrics`
//! router, and the admin listener's router ([`admin_router`]: metrics,
//! health probes, the status page, the runtime log level).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use observe_core::Observe;
//!
//! # async fn user() -> &'static str { "" }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = Observe::builder()
//!     .service_name("shop")
//!     .exclude_route("/metrics") // scrapes are not traffic
//!     .build()?;
//! let app = Router::new()
//!     .route("/users/{id}", get(user))
//!     .merge(observe_axum::metrics_router(&observe))
//!     // Last, and `layer` rather than `route_layer`: it then wraps every
//!     // route and the 404 fallback.
//!     .layer(observe_axum::ObserveLayer::new(&observe));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Where the route is known: axum inserts `MatchedPath` before a route's
//! service runs, so a layer added with [`Router::layer`](axum::Router::layer)
//! sees the full template of matched routes, nested routers included
//! (`/api/items/{id}`), and of 405 answers; the fallback sees none and is
//! recorded as `http_route="_UNMATCHED"`. Add the layer after every
//! `route`, `nest` and `merge`: merging a router after it brings back an
//! unobserved default fallback, and 404s would go unrecorded. A layer
//! wrapped around the whole router from outside runs before routing and
//! would see no route at all.
//!
//! Features: `logging`, `errors` and `tracing` (default on) turn on
//! observe-core's signals of the same names; `shutdown` (default on) adds
//! [`shutdown_signal`] and [`Shutdown`]; `reqwest` adds
//! `observe_core::trace::inject_reqwest`. With `default-features = false`
//! the crate records HTTP metrics only.

mod admin;
mod endpoint;
mod layer;
mod route;
#[cfg(feature = "shutdown")]
mod shutdown;

pub use admin::admin_router;
pub use endpoint::{metrics_response, metrics_router};
pub use layer::ObserveLayer;
pub use route::MatchedPathRoute;
#[cfg(feature = "shutdown")]
pub use shutdown::{DEFAULT_DRAIN_TIMEOUT, Shutdown, ShutdownError, shutdown_signal};
