//! Example services for observe. Each binary in `src/bin` is a whole service
//! a user can copy; the pieces the tests drive too live in this library:
//!
//! - [`shop`]: the demo domain, framework-free, shared by every example so
//!   each framework serves exactly the same behaviour.
//! - [`axum_app`]: the axum service (`cargo run -p observe-examples --bin axum-service`).
//! - [`actix_app`]: the actix-web service (`--bin actix-service`).
//! - [`tower_app`]: a hyper 1 service with observe's tower layer and a route
//!   classifier closure, no router (`--bin tower-service`).

pub mod actix_app;
pub mod axum_app;
pub mod shop;
pub mod tower_app;

/// Address a service listens on: `LISTEN_ADDR`, default `127.0.0.1:3000`.
pub fn listen_addr() -> String {
    std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_string())
}
