//! CPU profiles from the admin listener of every example binary (built
//! with the `profiling` feature), as an operator takes one: under load,
//! with the admin token, read back by a protobuf decoder of its own
//! (prost, from `profile.proto`'s field numbers); the flame graph; 401
//! without the token; 409 for a second profile while one runs; a clear 400
//! for a bad `seconds`.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use observe_tests::client;
use observe_tests::processes::{self, free_port, terminate, wait_for};

const TOKEN: &str = "profile-test-token-0123456789";

/// `profile.proto`, the fields this test reads.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub(crate) sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub(crate) sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub(crate) location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub(crate) function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub(crate) string_table: Vec<String>,
        #[prost(int64, tag = "10")]
        pub(crate) duration_nanos: i64,
        #[prost(int64, tag = "12")]
        pub(crate) period: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct ValueType {
        #[prost(int64, tag = "1")]
        pub(crate) r#type: i64,
        #[prost(int64, tag = "2")]
        pub(crate) unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub(crate) location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub(crate) value: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Location {
        #[prost(uint64, tag = "1")]
        pub(crate) id: u64,
        #[prost(message, repeated, tag = "4")]
        pub(crate) line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Line {
        #[prost(uint64, tag = "1")]
        pub(crate) function_id: u64,
        #[prost(int64, tag = "2")]
        pub(crate) line: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Function {
        #[prost(uint64, tag = "1")]
        pub(crate) id: u64,
        #[prost(int64, tag = "2")]
        pub(crate) name: i64,
        #[prost(int64, tag = "4")]
        pub(crate) filename: i64,
    }
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    assert_eq!(&data[..3], &[0x1f, 0x8b, 8], "a gzip member");
    let body = &data[10..data.len() - 8];
    let inflated = miniz_oxide::inflate::decompress_to_vec(body).unwrap();
    let size = u32::from_le_bytes(data[data.len() - 4..].try_into().unwrap());
    assert_eq!(size as usize, inflated.len(), "gzip's length field");
    inflated
}

/// Requests on the public port from four tasks until `stop`.
fn load(public: SocketAddr, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..4)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = client();
                let mut answered = 0;
                while !stop.load(Ordering::Relaxed) {
                    let url = format!("http://{public}/users/{}", answered % 5 + 1);
                    if client.get(url).send().await.is_ok() {
                        answered += 1;
                    }
                }
                answered
            })
        })
        .collect()
}

async fn profile_of(name: &str, admin: SocketAddr, public: SocketAddr) {
    let client = client();
    let url = |query: &str| format!("http://{admin}/debug/pprof/profile?{query}");

    let refused = client.get(url("seconds=1")).send().await.unwrap();
    assert_eq!(refused.status(), 401, "{name}: no token");
    let bad = client
        .get(url("seconds=900"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "{name}");
    let reason = bad.text().await.unwrap();
    assert!(
        reason.contains("seconds") && reason.contains("300"),
        "{name}: {reason}"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let loaders = load(public, stop.clone());
    let first = tokio::spawn({
        let client = client.clone();
        let url = url("seconds=3");
        async move { client.get(url).bearer_auth(TOKEN).send().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = client
        .get(url("seconds=1"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 409, "{name}: one profile at a time");
    let response = first.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut answered = 0;
    for loader in loaders {
        answered += loader.await.unwrap();
    }
    assert!(answered > 0, "{name}: the load was served");
    assert_eq!(response.status(), 200, "{name}");
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream",
        "{name}"
    );
    let body = response.bytes().await.unwrap();
    let profile = <proto::Profile as prost::Message>::decode(gunzip(&body).as_slice()).unwrap();
    let text = |i: i64| profile.string_table[i as usize].as_str();
    assert_eq!(profile.string_table[0], "");
    let types: Vec<(&str, &str)> = profile
        .sample_type
        .iter()
        .map(|t| (text(t.r#type), text(t.unit)))
        .collect();
    assert_eq!(
        types,
        [("samples", "count"), ("cpu", "nanoseconds")],
        "{name}"
    );
    assert_eq!(profile.period, 1_000_000_000 / 99, "{name}: 99 Hz");
    assert!(profile.duration_nanos >= 2_900_000_000, "{name}");
    let samples: i64 = profile.sample.iter().map(|s| s.value[0]).sum();
    assert!(samples >= 10, "{name}: {samples} samples under load");
    // Every sample's locations and every location's functions exist.
    for sample in &profile.sample {
        assert_eq!(sample.value.len(), 2);
        for id in &sample.location_id {
            let location = profile.location.iter().find(|l| l.id == *id).unwrap();
            for line in &location.line {
                assert!(profile.function.iter().any(|f| f.id == line.function_id));
            }
        }
    }
    let functions: Vec<&str> = profile.function.iter().map(|f| text(f.name)).collect();
    // The service's own code, and observe's middleware around it.
    assert!(
        functions
            .iter()
            .any(|f| f.starts_with("observe_examples::")),
        "{name}: no function of the service in {functions:?}"
    );
    assert!(
        functions.iter().any(|f| f.starts_with("observe_core::")),
        "{name}: no function of observe in the profile"
    );
    assert!(
        !functions.iter().any(|f| f.contains("perf_signal_handler")),
        "{name}: the sampler's own frames are dropped"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let loaders = load(public, stop.clone());
    let svg = client
        .get(url("seconds=1&format=svg"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.await.unwrap();
    }
    assert_eq!(svg.status(), 200, "{name}");
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("CPU flame graph"),
        "{name}"
    );
    assert!(svg.contains("<title>all ("), "{name}");
    assert!(
        svg.contains("<title>observe_core::"),
        "{name}: observe's frames drawn"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_binary_serves_a_cpu_profile_to_the_token_holder() {
    let binaries = processes::built(&["-p", "observe-examples", "--bins"]);
    for service in ["axum-service", "actix-service", "tower-service"] {
        let (_, name, executable) = binaries
            .iter()
            .find(|(_, name, _)| name == service)
            .unwrap();
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let public: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut running = processes::start(
            processes::command(executable, None),
            &[
                ("OBSERVE_ADMIN_ADDR", admin.to_string()),
                ("OBSERVE_ADMIN_TOKEN", TOKEN.to_string()),
                ("LISTEN_ADDR", public.to_string()),
                // Not a line per request: the pipe is read only at the end.
                (
                    "RUST_LOG",
                    "warn,observe::shutdown=info,observe::admin=info".to_string(),
                ),
            ],
        );
        let (public_check, admin_check) = tokio::task::spawn_blocking(move || {
            (
                wait_for(public, "/users/1").0,
                wait_for(admin, "/health/live").0,
            )
        })
        .await
        .unwrap();
        assert_eq!((public_check, admin_check), (200, 200), "{name}");
        profile_of(name, admin, public).await;
        let lines = terminate(&mut running, name);
        let taken: Vec<_> = lines
            .iter()
            .filter(|line| line["message"] == "CPU profile taken")
            .collect();
        assert_eq!(taken.len(), 2, "{name}: a line per profile: {lines:?}");
        assert_eq!(taken[0]["fields"]["seconds"], 3, "{name}: {lines:?}");
        assert!(
            !lines.iter().any(|line| line.to_string().contains(TOKEN)),
            "{name}: the token is never logged"
        );
    }
}
