//! Helpers shared by observe's end-to-end tests: real servers on loopback,
//! a real HTTP client, a parser for the exposition text, and the external
//! validators (promtool, a strict OpenMetrics parser).

/// The README's code blocks: `cargo test -p observe-tests --doc` compiles
/// them, and runs those not marked `no_run`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub mod clickhouse;
pub mod otlp;
pub mod processes;
pub mod protobuf;
pub mod sentry;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An `Observe` set up as the example services set theirs up.
pub fn example_observe() -> observe_core::Observe {
    observe_core::Observe::builder()
        .service_name("shop")
        .exclude_route("/health")
        .exclude_route("/metrics")
        .build()
        .expect("valid settings")
}

/// The example shop, recording into `observe`, with the checkout flag off.
pub fn example_shop(
    observe: &observe_core::Observe,
) -> std::sync::Arc<observe_examples::shop::Shop> {
    observe_examples::shop::Shop::new(observe, observe_examples::shop::CheckoutV2::Disabled)
        .expect("a fresh Observe has no metrics of these names")
}

/// The three ways in, each serving the example shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// `observe-axum` on axum.
    Axum,
    /// `observe-actix` on actix-web.
    Actix,
    /// `observe-tower` on bare hyper, with a route classifier.
    Tower,
}

impl std::fmt::Display for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Framework::Axum => "axum",
            Framework::Actix => "actix",
            Framework::Tower => "tower",
        })
    }
}

/// Every framework, in the order the suites run them.
pub const FRAMEWORKS: [Framework; 3] = [Framework::Axum, Framework::Actix, Framework::Tower];

/// Starts the example service of `framework` on `127.0.0.1:0`, recording
/// into `observe`, with `/metrics`; returns its address.
pub async fn start_example(framework: Framework, observe: &observe_core::Observe) -> SocketAddr {
    start_example_with(framework, observe, example_shop(observe)).await
}

/// [`start_example`] serving `shop` (set up by the caller, e.g. with an
/// upstream for `/relay/{id}`).
pub async fn start_example_with(
    framework: Framework,
    observe: &observe_core::Observe,
    shop: std::sync::Arc<observe_examples::shop::Shop>,
) -> SocketAddr {
    let observe = observe.clone();
    match framework {
        Framework::Axum => spawn_axum(observe_examples::axum_app::app(&observe, shop)).await,
        Framework::Tower => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind loopback");
            let addr = listener.local_addr().expect("local addr");
            tokio::spawn(observe_examples::tower_app::serve(listener, observe, shop));
            addr
        }
        Framework::Actix => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let addr = listener.local_addr().expect("local addr");
            // actix runs its own single-threaded runtime per worker; the
            // server lives on its own thread for the rest of the test. As
            // in the example, a client that hangs up cancels its request.
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    actix_web::HttpServer::new(move || {
                        actix_web::App::new()
                            .configure(observe_examples::actix_app::routes(shop.clone()))
                            .service(observe_actix::metrics_endpoint(&observe))
                            .wrap(observe_actix::ObserveLayer::new(&observe))
                    })
                    .workers(1)
                    .h1_allow_half_closed(false)
                    .disable_signals()
                    .listen(listener)
                    .expect("listen")
                    .run()
                    .await
                })
            });
            addr
        }
    }
}

/// Serves `app` on `127.0.0.1:0` in the background and returns its address.
pub async fn spawn_axum(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A plain HTTP/1.1 client.
pub fn client() -> reqwest::Client {
    // reqwest is built with rustls and no default provider (see
    // `install_crypto_provider`).
    observe_core::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `GET /metrics` with `accept`; returns the content type and the body's
/// bytes (the protobuf format is binary).
pub async fn scrape_bytes(addr: SocketAddr, accept: Option<&str>) -> (String, Vec<u8>) {
    let mut request = client().get(format!("http://{addr}/metrics"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.bytes().await.expect("body");
    (content_type, body.to_vec())
}

/// `GET /metrics` with `accept`; returns the content type and body.
pub async fn scrape(addr: SocketAddr, accept: Option<&str>) -> (String, String) {
    let (content_type, body) = scrape_bytes(addr, accept).await;
    (
        content_type,
        String::from_utf8(body).expect("a text exposition is UTF-8"),
    )
}

/// One sample of an exposition: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name, e.g. `http_server_request_duration_seconds_count`.
    pub name: String,
    /// Labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// Parses the samples of a Prometheus text or OpenMetrics document.
pub fn parse_samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("sample has a name");
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(stripped) = rest.strip_prefix('{') {
        let mut chars = stripped.char_indices();
        let mut key = String::new();
        let mut end = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = i + 1;
                    break;
                }
                ',' => {}
                '=' => {
                    let mut value = String::new();
                    chars.next(); // opening quote
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '\\' => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(c) => value.push(c),
                                None => break,
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                c => key.push(c),
            }
        }
        rest = &stripped[end..];
    }
    let value = rest.split_whitespace().next().expect("sample has a value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}")),
    };
    Sample {
        name,
        labels,
        value,
    }
}

/// The value of the sample `name` whose labels include all of `labels`
/// and no `error_type` unless asked for; `None` if there is none.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wants_error = labels.iter().any(|(k, _)| *k == "error_type");
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
                && (wants_error || !s.labels.contains_key("error_type"))
        })
        .map(|s| s.value)
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether tests must fail rather than skip when an external tool is
/// missing (`OBSERVE_REQUIRE_TOOLS=1`, set by `.ci/run`).
pub fn tools_required() -> bool {
    std::env::var("OBSERVE_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// `Some(())` when `program --version` runs; otherwise prints a skip notice
/// (or panics when tools are required).
pub fn require_tool(program: &str, args: &[&str], install_hint: &str) -> Option<()> {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(());
    }
    assert!(
        !tools_required(),
        "{program} is required (OBSERVE_REQUIRE_TOOLS=1) but unavailable: {install_hint}"
    );
    eprintln!("SKIP: {program} not available ({install_hint})");
    None
}

/// Runs `program args` with `input` on stdin; returns (success, stdout+stderr).
pub fn run_with_stdin(program: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `promtool check metrics` on a Prometheus text document. `None` when
/// skipped.
pub fn promtool_check_metrics(text: &str) -> Option<(bool, String)> {
    require_tool("promtool", &["--version"], "apt-get install prometheus")?;
    Some(run_with_stdin("promtool", &["check", "metrics"], text))
}

/// Parses an OpenMetrics document with the Python reference client's strict
/// parser (`pip install prometheus-client`). `None` when skipped.
pub fn strict_openmetrics_parse(text: &str) -> Option<(bool, String)> {
    let probe = "import prometheus_client.openmetrics.parser";
    require_tool("python3", &["-c", probe], "pip install prometheus-client")?;
    let script = "import sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        families = list(text_string_to_metric_families(sys.stdin.read()))\n\
        print(len(families), 'families')\n";
    Some(run_with_stdin("python3", &["-c", script], text))
}

/// Resident set size of this process in KiB, from /proc.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Serves `app` on a loopback port from a thread and runtime of its own, so
/// it outlives the runtime of the test that started it (stand-ins for
/// Sentry and an OTLP collector shared by a whole test binary).
pub fn serve_on_own_thread(app: axum::Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await
        })
    });
    addr
}

/// A `Write` that keeps everything written, for a process-wide logger
/// whose lines a test reads back.
#[derive(Clone, Default)]
pub struct CapturedOutput(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for CapturedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedOutput {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

/// Sends `total` requests, `concurrency` at a time, to the URLs `url(i)`
/// gives; checks each status is `expected`; returns the sorted latencies.
pub async fn load(
    http: &reqwest::Client,
    total: usize,
    concurrency: usize,
    expected: u16,
    url: impl Fn(usize) -> String,
) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(total);
    for round in 0..total.div_ceil(concurrency) {
        let mut batch = tokio::task::JoinSet::new();
        for i in round * concurrency..((round + 1) * concurrency).min(total) {
            let request = http.get(url(i));
            batch.spawn(async move {
                let sent = Instant::now();
                let status = request.send().await.expect("answered").status();
                (status.as_u16(), sent.elapsed())
            });
        }
        for (status, latency) in batch.join_all().await {
            assert_eq!(status, expected);
            latencies.push(latency);
        }
    }
    latencies.sort();
    latencies
}

/// What a [`next_hop`] received: every `traceparent` and `tracestate` line
/// of one request.
#[derive(Debug, Clone)]
pub struct Received {
    /// Every `traceparent` line.
    pub traceparent: Vec<String>,
    /// Every `tracestate` line.
    pub tracestate: Vec<String>,
}

/// A next hop on loopback that records the trace headers of each
/// `GET /users/{id}` it receives and answers 404.
pub async fn next_hop() -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    use axum::http::HeaderMap;
    let seen: std::sync::Arc<std::sync::Mutex<Vec<Received>>> = Default::default();
    let record = std::sync::Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/users/{id}",
        axum::routing::get(move |headers: HeaderMap| {
            let record = std::sync::Arc::clone(&record);
            async move {
                let all = |name: &str| {
                    headers
                        .get_all(name)
                        .iter()
                        .map(|v| v.to_str().unwrap_or_default().to_string())
                        .collect()
                };
                record
                    .lock()
                    .expect("the recorder never panics holding the lock")
                    .push(Received {
                        traceparent: all("traceparent"),
                        tracestate: all("tracestate"),
                    });
                axum::http::StatusCode::NOT_FOUND
            }
        }),
    );
    (spawn_axum(app).await, seen)
}
