//! The request protocol on the wire: what observe reads of a request's
//! head and writes back, the same on axum, actix-web and plain tower/hyper.
//! One table of cases, each run against a tiny app of each framework on a
//! real loopback server with a real client (raw TCP where a client would
//! not send the request): the request id (configured header, repeated
//! values, an id set by tower-http's `SetRequestIdLayer` outside), W3C
//! trace context (`traceparent` only when alone, `tracestate` joined over
//! its lines), panics (caught by observe, or by tower-http's
//! `CatchPanicLayer` outside it, recorded once either way) and repeated
//! `Content-Length` headers.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use observe_core::{Format, Observe, ObserveBuilder, RequestContext, trace};
use observe_tests::{FRAMEWORKS, Framework, client, eventually, parse_samples, spawn_axum, value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{Layer, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, SetRequestIdLayer};

/// Two valid `traceparent` values of different traces.
const PARENT_A: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const PARENT_B: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// ---------------------------------------------------------------------------
// The table of cases.

type CaseFn = fn(Framework) -> Pin<Box<dyn Future<Output = ()> + Send>>;

struct Case {
    name: &'static str,
    frameworks: &'static [Framework],
    run: CaseFn,
}

/// The frameworks served through tower, where tower-http's layers fit.
const TOWER_BASED: &[Framework] = &[Framework::Axum, Framework::Tower];

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "configured request id header",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(configured_request_id_header(f)),
        },
        Case {
            name: "repeated request id",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(repeated_request_id(f)),
        },
        Case {
            name: "traceparent only when alone",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(traceparent_only_when_alone(f)),
        },
        Case {
            name: "tracestate joined over its lines",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(tracestate_joined(f)),
        },
        Case {
            name: "a request with many headers reads the same",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(many_headers_read_the_same(f)),
        },
        Case {
            name: "panic caught by observe",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(panic_caught_by_observe(f)),
        },
        Case {
            name: "panic not caught by observe",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(panic_not_caught_by_observe(f)),
        },
        Case {
            name: "request id set by SetRequestIdLayer outside",
            frameworks: TOWER_BASED,
            run: |f| Box::pin(request_id_set_outside(f)),
        },
        Case {
            name: "repeated content-length",
            frameworks: &FRAMEWORKS,
            run: |f| Box::pin(repeated_content_length(f)),
        },
    ]
}

/// Runs every case that applies to `framework`, each in a task of its own
/// so one failure does not hide the others.
async fn run_cases(framework: Framework) {
    let mut failed = Vec::new();
    for case in cases() {
        if !case.frameworks.contains(&framework) {
            continue;
        }
        if tokio::spawn((case.run)(framework)).await.is_err() {
            failed.push(case.name);
        }
    }
    assert!(failed.is_empty(), "{framework}: failed cases {failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_follows_the_request_protocol() {
    run_cases(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_follows_the_request_protocol() {
    run_cases(Framework::Actix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_follows_the_request_protocol() {
    run_cases(Framework::Tower).await;
}

// ---------------------------------------------------------------------------
// The cases.

/// The id is read from, and echoed in, the configured header only.
async fn configured_request_id_header(framework: Framework) {
    let observe = build(|b| b.request_id_header("x-correlation-id"));
    let addr = start(framework, &observe, Outer::Nothing).await;

    let answer = echo(addr, &[("x-correlation-id", "abc-1")]).await;
    assert_eq!(answer.request_id, "abc-1", "{framework}");
    assert_eq!(answer.header("x-correlation-id"), ["abc-1"], "{framework}");

    // The default header is not the configured one: an id is generated.
    let answer = echo(addr, &[("x-request-id", "zzz")]).await;
    assert!(is_generated(&answer.request_id), "{framework}: {answer:?}");
    assert_eq!(
        answer.header("x-correlation-id"),
        [answer.request_id.as_str()],
        "{framework}"
    );
    assert!(answer.header("x-request-id").is_empty(), "{framework}");
}

/// With the id header repeated, observe takes the first sane value; when
/// none is sane, it generates one.
async fn repeated_request_id(framework: Framework) {
    let observe = build(|b| b);
    let addr = start(framework, &observe, Outer::Nothing).await;

    let answer = echo(
        addr,
        &[("x-request-id", "bad id!"), ("x-request-id", "good-2")],
    )
    .await;
    assert_eq!(answer.request_id, "good-2", "{framework}");
    assert_eq!(answer.header("x-request-id"), ["good-2"], "{framework}");

    let answer = echo(
        addr,
        &[("x-request-id", "bad id!"), ("x-request-id", "worse\tid")],
    )
    .await;
    assert!(is_generated(&answer.request_id), "{framework}: {answer:?}");
    assert_eq!(
        answer.header("x-request-id"),
        [answer.request_id.as_str()],
        "{framework}"
    );

    let answer = echo(
        addr,
        &[("x-request-id", "good-1"), ("x-request-id", "bad id!")],
    )
    .await;
    assert_eq!(answer.request_id, "good-1", "{framework}");
    assert_eq!(answer.header("x-request-id"), ["good-1"], "{framework}");
}

/// Two `traceparent` headers are no trace context: a new trace. One is
/// continued, under a span of the request's own.
async fn traceparent_only_when_alone(framework: Framework) {
    let observe = build(|b| b);
    let addr = start(framework, &observe, Outer::Nothing).await;
    let (a_trace, a_span) = trace_and_span(PARENT_A);
    let (b_trace, _) = trace_and_span(PARENT_B);

    let answer = echo(
        addr,
        &[("traceparent", PARENT_A), ("traceparent", PARENT_B)],
    )
    .await;
    let (trace_id, _) = trace_and_span(&answer.traceparent);
    assert!(
        trace_id != a_trace && trace_id != b_trace,
        "{framework}: {answer:?}"
    );

    let answer = echo(addr, &[("traceparent", PARENT_A)]).await;
    let (trace_id, span_id) = trace_and_span(&answer.traceparent);
    assert_eq!(trace_id, a_trace, "{framework}: {answer:?}");
    assert_ne!(span_id, a_span, "{framework}: {answer:?}");
    assert!(
        answer.traceparent.ends_with("-01"),
        "{framework}: {answer:?}"
    );
}

/// `tracestate` lines are one list, joined in order; empty lines skipped.
async fn tracestate_joined(framework: Framework) {
    let observe = build(|b| b);
    let addr = start(framework, &observe, Outer::Nothing).await;

    let two_lines = [
        ("traceparent", PARENT_A),
        ("tracestate", "a=1"),
        ("tracestate", "b=2"),
    ];
    let answer = echo(addr, &two_lines).await;
    assert_eq!(answer.tracestate, "a=1,b=2", "{framework}: {answer:?}");

    let with_empty_line = [
        ("traceparent", PARENT_A),
        ("tracestate", "a=1"),
        ("tracestate", ""),
        ("tracestate", "b=2"),
    ];
    let answer = echo(addr, &with_empty_line).await;
    assert_eq!(answer.tracestate, "a=1,b=2", "{framework}: {answer:?}");
}

/// The same rules past a handful of headers, where the tower adapter looks
/// names up instead of scanning the few there are.
async fn many_headers_read_the_same(framework: Framework) {
    let observe = build(|b| b);
    let addr = start(framework, &observe, Outer::Nothing).await;
    let padding: Vec<String> = (0..8).map(|i| format!("x-pad-{i}")).collect();
    let mut headers: Vec<(&str, &str)> = padding.iter().map(|n| (n.as_str(), "1")).collect();
    headers.extend([
        ("x-request-id", "bad id!"),
        ("x-request-id", "good-3"),
        ("traceparent", PARENT_A),
        ("tracestate", "a=1"),
        ("tracestate", ""),
        ("tracestate", "b=2"),
    ]);
    let answer = echo(addr, &headers).await;
    assert_eq!(answer.request_id, "good-3", "{framework}: {answer:?}");
    assert_eq!(answer.header("x-request-id"), ["good-3"], "{framework}");
    assert_eq!(answer.tracestate, "a=1,b=2", "{framework}: {answer:?}");
    let (trace_id, _) = trace_and_span(&answer.traceparent);
    assert_eq!(
        trace_id,
        trace_and_span(PARENT_A).0,
        "{framework}: {answer:?}"
    );

    headers.push(("traceparent", PARENT_B));
    let answer = echo(addr, &headers).await;
    let (trace_id, _) = trace_and_span(&answer.traceparent);
    assert_ne!(
        trace_id,
        trace_and_span(PARENT_A).0,
        "{framework}: two are none"
    );
}

/// By default observe answers a panicking handler with an empty 500 that
/// carries the request id, and records one panic.
async fn panic_caught_by_observe(framework: Framework) {
    let observe = build(|b| b);
    let addr = start(framework, &observe, Outer::Nothing).await;

    let response = client()
        .get(format!("http://{addr}/boom"))
        .header("x-request-id", "boom-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500, "{framework}");
    assert_eq!(
        response.headers().get("x-request-id").unwrap(),
        "boom-1",
        "{framework}"
    );
    assert!(response.bytes().await.unwrap().is_empty(), "{framework}");

    assert_eq!(
        recorded(&observe, 1).await,
        [Series::new("/boom", "500", Some("panic"), 1.0)],
        "{framework}"
    );
}

/// With `catch_panics(false)` a panic unwinds through observe's middleware
/// and is still recorded once as a panic: turned into a 500 by
/// `CatchPanicLayer` outside (axum, tower), or by nothing at all (actix,
/// whose worker must keep serving).
/// `CatchPanicLayer` keeps the panicked future and drops it only after the
/// unwinding: the panic must be recorded while it passes, not at the drop.
async fn panic_not_caught_by_observe(framework: Framework) {
    let observe = build(|b| b.catch_panics(false));
    let outer = match framework {
        Framework::Actix => Outer::Nothing,
        Framework::Axum | Framework::Tower => Outer::CatchPanic,
    };
    let addr = start(framework, &observe, outer).await;

    let answer = client().get(format!("http://{addr}/boom")).send().await;
    match framework {
        // The connection may be dropped with the request.
        Framework::Actix => {
            if let Ok(response) = answer {
                assert_eq!(response.status(), 500, "{framework}");
            }
        }
        Framework::Axum | Framework::Tower => {
            assert_eq!(answer.unwrap().status(), 500, "{framework}");
        }
    }
    let series = recorded(&observe, 1).await;
    assert_eq!(
        series,
        [Series::new("/boom", "500", Some("panic"), 1.0)],
        "{framework}"
    );

    // Still serving.
    let answer = echo(addr, &[("x-request-id", "after-boom")]).await;
    assert_eq!(answer.request_id, "after-boom", "{framework}");
}

/// An id that tower-http's `SetRequestIdLayer` sets outside observe's
/// layer is the request's id: observe neither replaces nor re-echoes it.
async fn request_id_set_outside(framework: Framework) {
    let observe = build(|b| b);
    let addr = start(framework, &observe, Outer::SetRequestId).await;

    let answer = echo(addr, &[]).await;
    assert!(is_uuid(&answer.request_id), "{framework}: {answer:?}");
    assert_eq!(
        answer.header("x-request-id"),
        [answer.request_id.as_str()],
        "{framework}"
    );

    // The caller's id passes through both.
    let answer = echo(addr, &[("x-request-id", "caller-7")]).await;
    assert_eq!(answer.request_id, "caller-7", "{framework}");
    assert_eq!(answer.header("x-request-id"), ["caller-7"], "{framework}");
}

/// Two `Content-Length` headers that agree: hyper (axum, tower) accepts
/// the request and observe records the body's size; actix-http answers
/// 400 to any repeated `Content-Length`, before any middleware. Conflicting
/// ones: every server answers 400 itself, so nothing is recorded (observe's
/// own rule for them, an unknown size, is never reached through these
/// servers).
async fn repeated_content_length(framework: Framework) {
    let observe = build(|b| b);
    let addr = start(framework, &observe, Outer::Nothing).await;
    let upload = |lengths: &[&str]| {
        let mut head = String::from("POST /upload HTTP/1.1\r\nhost: test\r\nconnection: close\r\n");
        for length in lengths {
            head.push_str(&format!("content-length: {length}\r\n"));
        }
        head + "\r\nhello"
    };

    let agreeing = raw(addr, &upload(&["5", "5"])).await;
    let accepted = match framework {
        Framework::Actix => {
            assert!(
                agreeing.starts_with("HTTP/1.1 400"),
                "{framework}: {agreeing}"
            );
            0
        }
        Framework::Axum | Framework::Tower => {
            assert!(
                agreeing.starts_with("HTTP/1.1 200"),
                "{framework}: {agreeing}"
            );
            1
        }
    };
    let conflicting = raw(addr, &upload(&["5", "6"])).await;
    assert!(
        conflicting.starts_with("HTTP/1.1 400"),
        "{framework}: {conflicting}"
    );
    // A well-formed upload last: once it is recorded, any of the others
    // would have been too.
    let single = raw(addr, &upload(&["5"])).await;
    assert!(single.starts_with("HTTP/1.1 200"), "{framework}: {single}");

    let uploads = accepted + 1;
    assert_eq!(
        recorded(&observe, uploads).await,
        [Series::new("/upload", "200", None, f64::from(uploads))],
        "{framework}"
    );
    assert_eq!(
        upload_body_sizes(&observe),
        (Some(f64::from(uploads)), Some(5.0 * f64::from(uploads))),
        "{framework}"
    );
}

// ---------------------------------------------------------------------------
// Client side.

/// What `/echo` answered.
#[derive(Debug)]
struct Echo {
    headers: reqwest::header::HeaderMap,
    request_id: String,
    traceparent: String,
    tracestate: String,
}

impl Echo {
    /// Every value of the response header `name`.
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }
}

/// `GET /echo` with `headers`, each added as a header line of its own.
async fn echo(addr: SocketAddr, headers: &[(&str, &str)]) -> Echo {
    let mut request = client().get(format!("http://{addr}/echo"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.split('\n').collect();
    let [request_id, traceparent, tracestate] = lines[..] else {
        panic!("unexpected /echo body {body:?}");
    };
    Echo {
        headers,
        request_id: request_id.to_string(),
        traceparent: traceparent.to_string(),
        tracestate: tracestate.to_string(),
    }
}

/// Sends `request` as written over a new connection and returns all the
/// server answered until it closed the connection.
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // A server that rejects the request may reset rather than close.
    let read = socket.read_to_end(&mut answer);
    let _ = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The trace id and span id of a `traceparent`.
fn trace_and_span(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    let [version, trace_id, span_id, flags] = parts[..] else {
        panic!("not a traceparent: {traceparent:?}");
    };
    assert_eq!(version, "00", "{traceparent}");
    assert!(is_hex(trace_id, 32) && is_hex(span_id, 16) && is_hex(flags, 2));
    (trace_id.to_string(), span_id.to_string())
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An id observe generated: 32 hex digits.
fn is_generated(id: &str) -> bool {
    is_hex(id, 32)
}

/// An id tower-http's `MakeRequestUuid` made: a hyphenated UUID.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| is_hex(group, len))
}

// ---------------------------------------------------------------------------
// Metrics.

/// One `http_server_request_duration_seconds_count` series.
#[derive(Debug, PartialEq)]
struct Series {
    route: String,
    status: String,
    error_type: Option<String>,
    count: f64,
}

impl Series {
    fn new(route: &str, status: &str, error_type: Option<&str>, count: f64) -> Self {
        Self {
            route: route.into(),
            status: status.into(),
            error_type: error_type.map(Into::into),
            count,
        }
    }
}

/// Every request series, once `requests` requests in all are recorded
/// (a request is recorded when its response body is done).
async fn recorded(observe: &Observe, requests: u32) -> Vec<Series> {
    eventually(Duration::from_secs(10), "the requests recorded", || async {
        let samples = parse_samples(&observe.render(Format::Text).into_text());
        let series: Vec<Series> = samples
            .iter()
            .filter(|s| s.name == "http_server_request_duration_seconds_count")
            .map(|s| Series {
                route: s.labels["http_route"].clone(),
                status: s.labels["http_response_status_code"].clone(),
                error_type: s.labels.get("error_type").cloned(),
                count: s.value,
            })
            .collect();
        let total: f64 = series.iter().map(|s| s.count).sum();
        (total >= f64::from(requests)).then_some(series)
    })
    .await
}

/// The count and sum of the request body sizes recorded for `/upload`.
fn upload_body_sizes(observe: &Observe) -> (Option<f64>, Option<f64>) {
    let samples = parse_samples(&observe.render(Format::Text).into_text());
    let labels = [("http_route", "/upload")];
    (
        value(
            &samples,
            "http_server_request_body_size_bytes_count",
            &labels,
        ),
        value(&samples, "http_server_request_body_size_bytes_sum", &labels),
    )
}

// ---------------------------------------------------------------------------
// The apps: `/echo`, `/boom`, `/upload` on each framework.

fn build(configure: impl FnOnce(ObserveBuilder) -> ObserveBuilder) -> Observe {
    configure(Observe::builder().service_name("protocol"))
        .build()
        .unwrap()
}

/// What `/echo` answers: the request id, the `traceparent` an outgoing call
/// would send and the `tracestate` passed on, as the handler sees them.
fn echo_body() -> String {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let request_id = RequestContext::current().map(|c| c.request_id().to_string());
    format!(
        "{}\n{}\n{}",
        or_dash(request_id),
        or_dash(trace::traceparent()),
        or_dash(trace::tracestate())
    )
}

/// The `/boom` handler of axum and actix.
async fn boom() -> String {
    panic!("{BOOM}")
}

const BOOM: &str = "the /boom handler panics on purpose";

/// A tower-http layer outside observe's (axum and tower only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outer {
    Nothing,
    CatchPanic,
    SetRequestId,
}

/// Starts the app of `framework` on `127.0.0.1:0`, recording into
/// `observe`, with `outer` around observe's layer.
async fn start(framework: Framework, observe: &Observe, outer: Outer) -> SocketAddr {
    match framework {
        Framework::Axum => spawn_axum(axum_app(observe, outer)).await,
        Framework::Actix => {
            assert_eq!(outer, Outer::Nothing, "no tower layers on actix");
            start_actix(observe)
        }
        Framework::Tower => start_tower(observe, outer).await,
    }
}

fn axum_app(observe: &Observe, outer: Outer) -> axum::Router {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route("/echo", get(|| async { echo_body() }))
        .route("/boom", get(boom))
        .route("/upload", post(|_body: Bytes| async { StatusCode::OK }))
        .layer(observe_axum::ObserveLayer::new(observe));
    // Added after observe's layer, so outside it.
    match outer {
        Outer::Nothing => app,
        Outer::CatchPanic => app.layer(CatchPanicLayer::new()),
        Outer::SetRequestId => app.layer(SetRequestIdLayer::x_request_id(MakeRequestUuid)),
    }
}

fn start_actix(observe: &Observe) -> SocketAddr {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let observe = observe.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .route("/echo", web::get().to(|| async { echo_body() }))
                    .route("/boom", web::get().to(boom))
                    .route(
                        "/upload",
                        web::post().to(|_body: web::Bytes| async { HttpResponse::Ok().finish() }),
                    )
                    .wrap(observe_actix::ObserveLayer::new(&observe))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run()
            .await
        })
    });
    addr
}

async fn start_tower(observe: &Observe, outer: Outer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let observed = ServiceBuilder::new()
        .layer(
            observe_tower::ObserveLayer::new(observe).route_fn(|req: &Request<Incoming>| match req
                .uri()
                .path()
            {
                "/echo" => Some("/echo"),
                "/boom" => Some("/boom"),
                "/upload" => Some("/upload"),
                _ => None,
            }),
        )
        .service_fn(tower_handle);
    match outer {
        Outer::Nothing => tokio::spawn(serve_hyper(listener, observed)),
        Outer::CatchPanic => tokio::spawn(serve_hyper(
            listener,
            CatchPanicLayer::new().layer(observed),
        )),
        Outer::SetRequestId => tokio::spawn(serve_hyper(
            listener,
            SetRequestIdLayer::x_request_id(MakeRequestUuid).layer(observed),
        )),
    };
    addr
}

async fn tower_handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let answer = match (request.method().as_str(), request.uri().path()) {
        ("GET", "/echo") => Response::new(Full::new(Bytes::from(echo_body()))),
        ("GET", "/boom") => panic!("{BOOM}"),
        ("POST", "/upload") => {
            request.into_body().collect().await.unwrap();
            Response::new(Full::default())
        }
        _ => {
            let mut response = Response::new(Full::default());
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(answer)
}

/// Serves `service` over hyper's HTTP/1 server, a task per connection.
async fn serve_hyper<S, B>(listener: tokio::net::TcpListener, service: S)
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    while let Ok((stream, _)) = listener.accept().await {
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
