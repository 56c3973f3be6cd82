//! `bench-server <framework> <mode> <addr>`: one tiny JSON route served bare
//! or observed, everything else identical, so `bench/run.sh` can compare
//! them in one run. The handler does no I/O, so the middleware's cost is not
//! hidden behind a sleep.
//!
//! Frameworks: `axum`. Modes: `bare`, `metrics`.

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use observe_core::Observe;
use serde::Serialize;

#[derive(Serialize)]
struct User {
    id: u64,
    name: &'static str,
}

async fn user(Path(id): Path<u64>) -> Json<User> {
    Json(User { id, name: "bench" })
}

fn usage() -> ! {
    eprintln!("usage: bench-server axum bare|metrics ADDR");
    std::process::exit(2)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, framework, mode, addr] = args.as_slice() else {
        usage()
    };
    // One worker: the load generator gets the other core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let observe = Observe::builder().service_name("bench").build()?;
    let routes = Router::new().route("/users/{id}", get(user));
    let app = match (framework.as_str(), mode.as_str()) {
        ("axum", "bare") => routes,
        ("axum", "metrics") => routes
            .merge(observe_axum::metrics_router(&observe))
            .layer(observe_axum::ObserveLayer::new(&observe)),
        _ => usage(),
    };
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await
    })?;
    Ok(())
}
