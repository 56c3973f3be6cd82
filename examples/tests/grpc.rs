//! gRPC through observe's tower layer: the example `grpc-service` binary
//! called by a real tonic client over HTTP/2 on loopback. Each call lands
//! in `rpc_server_duration_seconds` with its status code, read from the
//! trailers or from a trailers-only answer; server errors carry
//! `error_type`, client errors do not; a panic is INTERNAL, a stream the
//! client drops is CANCELLED; unknown methods stay bounded as `_OTHER`.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use observe_examples::grpc::proto::users_client::UsersClient;
use observe_examples::grpc::proto::{GetUserRequest, ListUsersRequest};
use tonic::Code;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_grpc-service");

/// `rpc_server_duration_seconds_{suffix}` for the call's labels, from the
/// admin listener's `/metrics`.
fn sample(admin: &str, suffix: &str, labels: &str) -> Option<f64> {
    let (_, _, text) = common::http(admin, "GET", "/metrics", &[], "");
    let prefix = format!("rpc_server_duration_seconds_{suffix}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

fn labels(method: &str, code: u8, error_type: Option<&str>) -> String {
    let mut labels = format!(
        "rpc_grpc_status_code=\"{code}\",rpc_method=\"{method}\",rpc_service=\"shop.v1.Users\",rpc_system=\"grpc\""
    );
    if let Some(error_type) = error_type {
        labels.push_str(&format!(",error_type=\"{error_type}\""));
    }
    labels
}

/// Waits until the series has `count` calls.
fn wait_for(admin: &str, labels: &str, count: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if sample(admin, "count", labels) == Some(count) {
            return;
        }
        assert!(Instant::now() < deadline, "no {count} calls with {labels}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn grpc_calls_are_recorded_by_their_status() {
    let service = common::start(
        BIN,
        &[("OBSERVE_ADMIN_ADDR", "127.0.0.1:0"), ("RUST_LOG", "info")],
    );
    let admin = service.metrics_addr.clone().unwrap();
    let addr = service.addr.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = UsersClient::new(channel.clone());
        let get = |id: u64| {
            let mut client = client.clone();
            async move { client.get_user(GetUserRequest { id }).await }
        };
        assert_eq!(get(1).await.unwrap().into_inner().name, "user-1");
        assert_eq!(get(0).await.unwrap_err().code(), Code::NotFound);
        assert_eq!(get(1_000_001).await.unwrap_err().code(), Code::Internal);
        assert_eq!(get(503).await.unwrap_err().code(), Code::Unavailable);
        // A panicking handler: the client gets INTERNAL, the process lives.
        assert_eq!(get(666).await.unwrap_err().code(), Code::Internal);
        assert_eq!(get(2).await.unwrap().into_inner().id, 2);

        // A stream lasts until its last message and status.
        let started = Instant::now();
        let mut stream = client
            .list_users(ListUsersRequest {
                count: 5,
                interval_ms: 20,
            })
            .await
            .unwrap()
            .into_inner();
        let mut received = 0;
        while let Some(user) = stream.message().await.unwrap() {
            received += 1;
            assert_eq!(user.id, received);
        }
        assert_eq!(received, 5);
        assert!(started.elapsed() >= Duration::from_millis(80));

        // A stream the client drops half-way: CANCELLED.
        let mut stream = client
            .list_users(ListUsersRequest {
                count: 100,
                interval_ms: 50,
            })
            .await
            .unwrap()
            .into_inner();
        stream.message().await.unwrap().unwrap();
        stream.message().await.unwrap().unwrap();
        drop(stream);

        // Methods that do not exist: UNIMPLEMENTED, recorded as _OTHER,
        // whatever the path.
        let mut raw = tonic::client::Grpc::new(channel);
        for path in ["/shop.v1.Users/Nope", "/evil.Scanner/Probe"] {
            raw.ready().await.unwrap();
            let answer: Result<tonic::Response<GetUserRequest>, _> = raw
                .unary(
                    tonic::Request::new(GetUserRequest { id: 1 }),
                    http::uri::PathAndQuery::from_static(path),
                    tonic_prost::ProstCodec::default(),
                )
                .await;
            assert_eq!(answer.unwrap_err().code(), Code::Unimplemented, "{path}");
        }
    });

    wait_for(&admin, &labels("GetUser", 0, None), 2.0);
    // NOT_FOUND is the client's error: no error_type, not an SLO failure.
    wait_for(&admin, &labels("GetUser", 5, None), 1.0);
    wait_for(&admin, &labels("GetUser", 13, Some("13")), 1.0);
    wait_for(&admin, &labels("GetUser", 14, Some("14")), 1.0);
    wait_for(&admin, &labels("GetUser", 13, Some("panic")), 1.0);
    wait_for(&admin, &labels("ListUsers", 0, None), 1.0);
    let streamed = sample(&admin, "sum", &labels("ListUsers", 0, None)).unwrap();
    assert!(
        streamed >= 0.08,
        "the stream's duration runs to its end: {streamed}"
    );
    wait_for(&admin, &labels("ListUsers", 1, Some("cancelled")), 1.0);
    let other = "rpc_grpc_status_code=\"12\",rpc_method=\"_OTHER\",rpc_service=\"_OTHER\",rpc_system=\"grpc\",error_type=\"12\"";
    wait_for(&admin, other, 2.0);

    // Not one of them as an HTTP request answered 200.
    let (_, _, text) = common::http(&admin, "GET", "/metrics", &[], "");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("http_server_request_duration_seconds_count")),
        "gRPC calls are not HTTP series:\n{text}"
    );

    // The request events say the same, with the RPC fields.
    let lines = service.collect_json(Duration::from_millis(300));
    let events: Vec<_> = lines
        .iter()
        .filter(|l| l["target"] == "observe::request")
        .collect();
    let internal = events
        .iter()
        .find(|e| e["event"]["rpc"]["grpc_status_code"] == 13 && e["event"]["error_type"] == "13")
        .unwrap_or_else(|| panic!("no INTERNAL event in {events:#?}"));
    assert_eq!(internal["event"]["route"], "/shop.v1.Users/GetUser");
    assert_eq!(internal["event"]["rpc"]["service"], "shop.v1.Users");
    assert_eq!(internal["event"]["rpc"]["method"], "GetUser");
    assert_eq!(internal["event"]["rpc"]["system"], "grpc");
    assert!(events.iter().any(
        |e| e["event"]["error_type"] == "panic" && e["event"]["rpc"]["grpc_status_code"] == 13
    ));
}
