//! Example services for observe. Each binary in `src/bin` is a whole service
//! a user can copy; the pieces the tests drive too live in this library:
//!
//! - [`shop`]: the demo domain, framework-free, shared by every example so
//!   each framework serves exactly the same behaviour.
//! - [`axum_app`]: the axum service (`cargo run -p observe-examples --bin axum-service`).
//! - [`actix_app`]: the actix-web service (`--bin actix-service`).
//! - [`tower_app`]: a hyper 1 service with observe's tower layer and a route
//!   classifier closure, no router (`--bin tower-service`).
//! - [`grpc`]: a gRPC service (tonic's generated server behind observe's
//!   tower layer, `--bin grpc-service`).
//!
//! Every binary also carries observe-cli's commands on its [`slos`]:
//! `axum-service rules|dashboard|judge|analysis|slos` (see observe-cli), and
//! its admin listener serves them at `/observe/api/slos`.

pub mod actix_app;
pub mod axum_app;
pub mod grpc;
pub mod shop;
pub mod tower_app;

/// Address a service listens on: `LISTEN_ADDR`, default `127.0.0.1:3000`.
pub fn listen_addr() -> String {
    std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_string())
}

/// The admin listener of the example services, from `OBSERVE_ADMIN_ADDR`
/// (default `127.0.0.1:9464`; `off` for none; the older
/// `OBSERVE_METRICS_ADDR` still works) and `OBSERVE_ADMIN_TOKEN`, with the
/// simulated database as its readiness check, serving [`slos`] at
/// `/observe/api/slos`. `None` when it is off: the service then serves
/// `/metrics` on its public port.
pub fn admin(
    observe: &observe_core::Observe,
    shop: &std::sync::Arc<shop::Shop>,
) -> Result<Option<observe_core::console::Admin>, Box<dyn std::error::Error>> {
    admin_serving(observe, shop, &slos())
}

/// [`admin`], serving `slos` at `/observe/api/slos`.
pub fn admin_serving(
    observe: &observe_core::Observe,
    shop: &std::sync::Arc<shop::Shop>,
    slos: &observe_slo::Slos,
) -> Result<Option<observe_core::console::Admin>, Box<dyn std::error::Error>> {
    use observe_core::console::{Admin, AdminConfig};
    let shop = std::sync::Arc::clone(shop);
    observe.health_check("database", move || {
        let shop = std::sync::Arc::clone(&shop);
        async move { shop.ping_database().await }
    })?;
    match AdminConfig::from_env()? {
        Some(config) => Ok(Some(Admin::new(observe, config.slos(slos.to_json()))?)),
        None => Ok(None),
    }
}

/// The line a service writes once its admin listener is bound; tests find
/// the address in its `server.address` field.
pub const ADMIN_LISTENING: &str = "serving /metrics, /health and /observe";

/// Binds `admin`'s address on tokio and says so ([`ADMIN_LISTENING`]).
pub async fn bind_admin(
    admin: &observe_core::console::Admin,
) -> std::io::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(admin.addr()).await?;
    tracing::info!(server.address = %listener.local_addr()?, "{ADMIN_LISTENING}");
    Ok(listener)
}

/// The example service's SLOs: 99.9% of requests without a 5xx, and 99% of
/// user lookups within 250 ms. Their alerts link the status page of the
/// worst instance (Prometheus scrapes the admin listener, which serves it at
/// `/observe`) and, when the request events go to ClickHouse
/// (`OBSERVE_CLICKHOUSE_URL`), carry the SQL that lists the failing ones.
pub fn slos() -> observe_slo::Slos {
    use observe_slo::{Slo, Slos};
    let slos = Slos::new("shop")
        .with(Slo::availability("shop-availability", 0.999))
        .with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"))
        .status_url("http://{instance}/observe");
    if std::env::var_os("OBSERVE_CLICKHOUSE_URL").is_some() {
        let table = std::env::var("OBSERVE_CLICKHOUSE_TABLE")
            .unwrap_or_else(|_| observe_core::clickhouse::DEFAULT_TABLE.to_string());
        slos.events_table(&table)
    } else {
        slos
    }
}

/// The gRPC example's SLO: 99.9% of `shop.v1.Users/GetUser` calls without
/// a server-error code.
pub fn grpc_slos() -> observe_slo::Slos {
    use observe_slo::{Slo, Slos};
    Slos::new("shop-grpc")
        .with(Slo::grpc_availability("get-user-availability", 0.999).route("shop.v1.Users/GetUser"))
}
