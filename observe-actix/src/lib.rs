//! actix-web middleware for observe: the same HTTP metrics, names and labels
//! as `observe-axum` and `observe-tower`, recorded through the same
//! observe-core code path.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use observe_actix::Observe;
//!
//! # async fn user() -> &'static str { "" }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = Observe::builder()
//!     .service_name("shop")
//!     .exclude_route("/metrics")
//!     .build()?;
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(observe_actix::ObserveLayer::new(&observe))
//!         .service(observe_actix::metrics_endpoint(&observe))
//!         .route("/users/{id}", web::get().to(user))
//! })
//! .h1_allow_half_closed(false) // drop requests whose client hung up, as hyper does
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```
//!
//! Where the route is known: the route label is actix's matched pattern,
//! read after the inner service ran (`res.request().match_pattern()`), which
//! is the resource that really handled the request, guards included; scopes
//! give the full pattern (`/api/v1/items/{id}`) and the default service (404)
//! none, recorded as `http_route="_UNMATCHED"`. A request that has no
//! response to read it from (its handler panicked or returned an error, or
//! it was cancelled) gets its route by matching its path against the app's
//! routes once more, without guards. Matching before the handler instead
//! would route every request twice: about 9,000 instructions, a third of a
//! small request. Wrap the
//! middleware on the `App` (with `App::wrap`, registered last so it is
//! outermost) so every resource and the default service pass through it.
//! Prefer `web::resource(path).get(..)` to `App::route(path, web::get()..)`:
//! the latter moves the method guard onto the resource, so a wrong method
//! is a 404 from the default service instead of a 405 on the route.
//!
//! The whole set-up (every signal, the admin listener, graceful shutdown)
//! is `observe-actix/examples/quickstart.rs`, one file to copy:
//! `cargo run -p observe-actix --example quickstart`.
//!
//! Cancellation: hyper (under axum and tower) drops a request's future when
//! its client hangs up, and observe records it with
//! `error_type="cancelled"`. actix-web by default allows half-closed
//! connections and runs the handler to the end for nobody; the request is
//! then recorded with the status the handler produced. Configure the server
//! with `HttpServer::h1_allow_half_closed(false)` (as the example does) to
//! get hyper's behaviour and the same series. A middleware cannot set this.
//!
//! Panics: actix-web does not catch a panicking handler; the panic unwinds
//! through the worker thread and the connection is dropped without a
//! response. This middleware catches it instead, answers an empty 500 and
//! records `error_type="panic"`, exactly as on axum, so the worker and its
//! other connections keep running. Handlers run inside the middleware's
//! poll, so middleware registered *outside* this one (wrapped after it) is
//! not covered. With
//! [`ObserveBuilder::catch_panics(false)`](observe_core::ObserveBuilder::catch_panics)
//! the middleware leaves the panic to actix-web (or a middleware outside)
//! and still records it once, with `error_type="panic"`.
//!
//! Graceful shutdown: actix-web drains by itself on SIGTERM; [`Shutdown`]
//! (feature `shutdown`) adds the readiness flip, the log lines and the WARN
//! line of a drain that ran out of time:
//!
//! ```no_run
//! # #[cfg(feature = "shutdown")]
//! # async fn run(observe: observe_actix::Observe) -> std::io::Result<()> {
//! use actix_web::{App, HttpServer};
//! use observe_actix::Shutdown;
//!
//! let shutdown = Shutdown::new(&observe);
//! let server = HttpServer::new(App::new)
//!     .disable_signals() // observe's Shutdown listens instead
//!     // A backstop a second after observe's own deadline below.
//!     .shutdown_timeout(shutdown.timeout().as_secs().saturating_add(1))
//!     .bind("127.0.0.1:3000")?
//!     .run();
//! let (handle, stopping, deadline) = (server.handle(), shutdown.clone(), shutdown.clone());
//! actix_web::rt::spawn(async move {
//!     stopping.signal().await; // readiness fails from here on
//!     handle.stop(true).await; // stop accepting, let requests finish
//! });
//! actix_web::rt::spawn(async move {
//!     deadline.deadline().await;
//!     deadline.warn_abandoned(); // how many requests are dropped
//!     actix_web::rt::System::current().stop();
//! });
//! server.await
//! # }
//! ```
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
//! | the admin listener, served | `server::serve_admin(admin)` (feature `server`) | `server::serve_admin(admin)` (feature `server`) | `serve_admin(&admin)` → `dev::Server` |
//! | the public port, served | `server::Server` (feature `server`) | `server::Server` (feature `server`), instead of `axum::serve` | actix-web's `HttpServer` (its timeouts and accept back-off are built in) |
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
//! `trace::inject_reqwest`. With `default-features = false` the crate
//! records the metrics only.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod admin;
mod body;
mod endpoint;
mod head;
mod layer;
mod route;
mod server;
mod service;

pub use admin::admin_endpoints;
pub use body::ObservedBody;
pub use endpoint::{metrics_endpoint, metrics_response};
pub use layer::ObserveLayer;
pub use server::{serve_admin, serve_admin_on};
pub use service::{ObserveService, ResponseFuture};

// One dependency line: everything a service touches, from observe-core.
#[cfg(feature = "shutdown")]
#[cfg_attr(docsrs, doc(cfg(feature = "shutdown")))]
pub use observe_core::shutdown::{Shutdown, shutdown_signal};
pub use observe_core::*;
