//! Hostile traffic cannot grow the number of series or the memory: random
//! paths, random methods, junk bytes, huge headers and malformed
//! `traceparent`, `tracestate`, `x-request-id` and `Accept` headers all land
//! on a few fixed labels, and every request is answered and recorded once.

use std::collections::BTreeSet;
use std::time::Duration;

use observe_tests::{
    Framework, client, eventually, example_observe, parse_samples, rss_kib, scrape, start_example,
};

const TOTAL: usize = 10_000;
const WORKERS: usize = 16;

/// xorshift64*: deterministic, dependency-free randomness for the test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn token(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

fn random_request(rng: &mut Rng) -> (reqwest::Method, String) {
    let method = match rng.next() % 4 {
        0 => reqwest::Method::GET,
        1 => reqwest::Method::POST,
        _ => {
            let len = 1 + (rng.next() % 12) as usize;
            let token = rng.token(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_",
                len,
            );
            reqwest::Method::from_bytes(token.as_bytes()).expect("token chars are valid")
        }
    };
    let segment_chars = b"abcdefghijklmnopqrstuvwxyz0123456789-._~%25%C3%28";
    let path = match rng.next() % 3 {
        // Matched route, random id: one template however many ids.
        0 => format!("/users/{}", rng.next() % 2_000_000),
        // Unmatched, random depth and junk (percent-encoded non-UTF-8 too).
        1 => {
            let depth = 1 + (rng.next() % 6) as usize;
            (0..depth)
                .map(|_| {
                    let len = 1 + (rng.next() % 40) as usize;
                    format!("/{}", rng.token(segment_chars, len))
                })
                .collect()
        }
        // Very long unmatched paths.
        _ => {
            let len = 2000 + (rng.next() % 4000) as usize;
            format!("/{}", rng.token(b"abcdefghij", len))
        }
    };
    (method, path)
}

/// Header values a careless parser would trip on: junk, near-misses of
/// the valid forms, very long ones, bytes outside ASCII.
fn random_headers(rng: &mut Rng) -> Vec<(&'static str, reqwest::header::HeaderValue)> {
    use reqwest::header::HeaderValue;
    let junk = b"abcdef0123456789-_.:;,=/ \"*qQ\x7f\xc3\xa9\xff";
    let mut value = |len: usize| {
        let bytes: Vec<u8> = (0..len)
            .map(|_| junk[(rng.next() % junk.len() as u64) as usize])
            .filter(|b| *b != 0x7f)
            .collect();
        HeaderValue::from_bytes(&bytes).unwrap_or(HeaderValue::from_static("x"))
    };
    let mut headers = vec![
        ("traceparent", value(55)),
        ("tracestate", value(600)),
        ("x-request-id", value(40)),
        ("accept", value(120)),
    ];
    headers.push(("x-padding", value(4000)));
    headers.push((
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ));
    headers
}

async fn fire(addr: std::net::SocketAddr, seed: u64, count: usize) {
    let c = client();
    let mut rng = Rng(seed);
    for _ in 0..count {
        let (method, path) = random_request(&mut rng);
        let mut request = c.request(method, format!("http://{addr}{path}"));
        for (name, value) in random_headers(&mut rng) {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .expect("the server answers hostile requests");
        let _ = response.bytes().await;
    }
}

async fn fire_all(addr: std::net::SocketAddr, round: u64, total: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS as u64 {
        tasks.spawn(fire(addr, 0x9e37_79b9 + round * 1000 + w, total / WORKERS));
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("worker");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_paths_and_methods_add_only_a_handful_of_series_on_axum() {
    hostile_traffic_is_bounded(Framework::Axum, TOTAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_holds_on_actix() {
    hostile_traffic_is_bounded(Framework::Actix, 2_400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_holds_on_tower() {
    hostile_traffic_is_bounded(Framework::Tower, 2_400).await;
}

/// `total` must be a multiple of the worker count.
async fn hostile_traffic_is_bounded(framework: Framework, total: usize) {
    assert_eq!(total % WORKERS, 0);
    let addr = start_example(framework, &example_observe()).await;

    // Warm up allocator and connection pools before the baseline.
    fire_all(addr, 0, 2_000).await;
    let before = rss_kib();
    fire_all(addr, 1, total).await;
    let after = rss_kib();

    let text = eventually(Duration::from_secs(10), "all requests recorded", || async {
        let text = scrape(addr, None).await.1;
        let recorded: f64 = parse_samples(&text)
            .iter()
            .filter(|s| s.name == "http_server_request_duration_seconds_count")
            .map(|s| s.value)
            .sum();
        (recorded as usize == total + 2_000).then_some(text)
    })
    .await;
    let samples = parse_samples(&text);
    let series: BTreeSet<_> = samples
        .iter()
        .filter(|s| s.name == "http_server_request_duration_seconds_count")
        .map(|s| format!("{:?}", s.labels))
        .collect();
    let routes: BTreeSet<_> = samples
        .iter()
        .filter_map(|s| s.labels.get("http_route").cloned())
        .collect();
    let methods: BTreeSet<_> = samples
        .iter()
        .filter_map(|s| s.labels.get("http_request_method").cloned())
        .collect();
    eprintln!(
        "{framework}: {} series, routes {routes:?}, methods {methods:?}, rss {before} KiB -> {after} KiB, document {} bytes",
        series.len(),
        text.len()
    );
    assert!(series.len() <= 12, "{series:#?}");
    let expected_routes: BTreeSet<String> = ["/users/{id}", "_UNMATCHED"].map(String::from).into();
    assert_eq!(routes, expected_routes);
    assert!(
        methods
            .iter()
            .all(|m| ["GET", "POST", "_OTHER"].contains(&m.as_str())),
        "{methods:?}"
    );
    // 10,000 distinct paths must not show up as memory either: keeping the
    // long paths alone (2-6 KB for a third of them) would exceed this
    // several times over.
    let growth = after.saturating_sub(before);
    assert!(
        growth < 8 * 1024,
        "{framework}: RSS grew by {growth} KiB over {total} hostile requests"
    );
}
