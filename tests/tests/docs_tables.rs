//! The tables in observe-core's crate docs that name code, checked against
//! it: the metrics table against a real `/metrics` with everything on, the
//! environment-variable table against the `std::env::var` calls in every
//! observe crate's sources. A family or a variable added without its row,
//! or a row left behind, fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use observe_core::Observe;
use observe_core::console::{Admin, AdminConfig};
use observe_tests::{Sample, client, parse_samples, scrape, spawn_axum};

/// observe-core's crate docs, where both tables live.
const CORE_LIB: &str = include_str!("../../observe-core/src/lib.rs");

/// The `//!` lines of `source`, without the marker.
fn doc_lines(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect()
}

/// The cells of each body row of the first markdown table after the
/// heading `heading`.
fn table_rows(source: &str, heading: &str) -> Vec<Vec<String>> {
    let lines = doc_lines(source);
    let start = lines
        .iter()
        .position(|line| *line == heading)
        .unwrap_or_else(|| panic!("observe-core's crate docs have no heading {heading:?}"));
    let rows: Vec<Vec<String>> = lines[start..]
        .iter()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2) // the header and the |---| line
        .map(|row| {
            row.trim()
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "the table under {heading:?} has no rows");
    rows
}

/// The `code` spans of a cell: names, not prose.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The samples of the family `name`, by the sample suffixes of the text
/// format.
fn family<'a>(samples: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                || ["_bucket", "_count", "_sum", "_total", "_created", "_info"]
                    .iter()
                    .any(|suffix| s.name.strip_suffix(suffix) == Some(name))
        })
        .collect()
}

/// A gRPC server error as tonic sends one: trailers-only, INTERNAL in the
/// headers.
async fn grpc_internal() -> (StatusCode, HeaderMap) {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from_static("13"));
    (StatusCode::OK, headers)
}

/// An `Observe` with every family in use, its `/metrics` rendered over
/// HTTP in the text format.
async fn everything_on() -> String {
    let observe = Observe::builder()
        .service_name("shop")
        .service_version("1.5.0")
        .git_commit("0123abc")
        .resource_attribute("deployment.track", "canary")
        .http_label("plan")
        .build()
        .expect("valid settings");
    observe
        .health_check("database", || async { Ok::<(), std::io::Error>(()) })
        .expect("a valid check");
    let _admin = Admin::new(
        &observe,
        AdminConfig::new("127.0.0.1:0".parse().expect("an address")),
    )
    .expect("loopback needs no token");
    let _ = observe.readiness().await;
    observe.cache("users").hit();
    let db = observe.dependency("postgres");
    let _ = db
        .call("select_user", async { Ok::<_, std::io::Error>(7) })
        .await;
    observe
        .counter_family("shop_logins", "Logins by tenant.", &["tenant"])
        .expect("a valid family")
        .inc(&["acme"])
        .expect("one label value for one label name");

    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/shop.v1.Users/GetUser", post(grpc_internal))
        .merge(observe_axum::metrics_endpoint(&observe))
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;
    let client = client();
    for path in ["/users/7", "/boom"] {
        client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("the service answers");
    }
    client
        .post(format!("http://{addr}/shop.v1.Users/GetUser"))
        .header("content-type", "application/grpc")
        .body(vec![0u8; 5])
        .send()
        .await
        .expect("the service answers");
    let (_, text) = scrape(addr, None).await;
    text
}

#[tokio::test]
async fn every_metric_in_the_table_is_exposed_with_its_labels() {
    let text = everything_on().await;
    let samples = parse_samples(&text);
    let mut documented = BTreeSet::new();
    for row in table_rows(CORE_LIB, "# Metrics") {
        let names = code_spans(&row[0]);
        let labels = code_spans(&row[2]);
        assert!(!names.is_empty(), "a metrics row names no metric: {row:?}");
        for name in names {
            let series = family(&samples, &name);
            assert!(
                !series.is_empty(),
                "{name} is in the metrics table but not in /metrics:\n{text}"
            );
            for label in &labels {
                assert!(
                    series.iter().any(|s| s.labels.contains_key(label)),
                    "{name} has no series with the label {label} the table lists:\n{text}"
                );
            }
            documented.insert(name);
        }
    }
    // And the other way: every family the document declares has its row
    // (the test registers no metric of its own but `shop_logins`).
    let declared: BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| !name.starts_with("shop_"))
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = declared
        .iter()
        .filter(|name| {
            !documented.contains(*name) && !documented.contains(&format!("{name}_total"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "families in /metrics without a row in observe-core's metrics table: {missing:?}"
    );
}

#[test]
fn every_variable_read_is_in_the_table_and_every_row_is_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(root).expect("the workspace is readable") {
        let path = entry.expect("a directory entry").path();
        let is_crate = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("observe-"));
        if is_crate && path.join("src").is_dir() {
            rust_files(&path.join("src"), &mut sources);
        }
    }
    assert!(
        sources
            .iter()
            .any(|p| p.ends_with("observe-core/src/lib.rs")),
        "the scan found observe-core"
    );
    let read = variables_read(&sources);
    assert!(
        [
            "RUST_LOG",
            "SENTRY_DSN",
            "OTEL_SERVICE_NAME",
            "OBSERVE_ADMIN_ADDR"
        ]
        .iter()
        .all(|v| read.contains_key(*v)),
        "the scan misses variables it should find: {read:?}"
    );
    let table: BTreeSet<String> = table_rows(CORE_LIB, "# Environment variables")
        .iter()
        .flat_map(|row| code_spans(&row[0]))
        .collect();
    let unlisted: Vec<String> = read
        .iter()
        .filter(|(name, _)| !table.contains(*name))
        .map(|(name, file)| format!("{name} (read in {file})"))
        .collect();
    assert!(
        unlisted.is_empty(),
        "variables read but not in observe-core's environment table: {unlisted:?}"
    );
    let unread: Vec<&String> = table.iter().filter(|v| !read.contains_key(*v)).collect();
    assert!(
        unread.is_empty(),
        "rows of observe-core's environment table that no observe crate reads: {unread:?}"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `name` is a variable the table must list: the standard ones
/// observe reads and our own.
fn is_ours(name: &str) -> bool {
    name == "RUST_LOG"
        || ["OTEL_", "OBSERVE_", "SENTRY_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Every variable the sources read, with a file that reads it: a literal
/// passed to `var(..)`/`var_os(..)` (`std::env::var`, or a closure of that
/// name around it), or a `&str` constant passed there by name.
fn variables_read(sources: &[PathBuf]) -> BTreeMap<String, String> {
    let mut read = BTreeMap::new();
    let mut constants: Vec<(String, String, String)> = Vec::new();
    let mut calls = String::new();
    for path in sources {
        let text = std::fs::read_to_string(path).expect("a source file");
        let file = path.display().to_string();
        for line in text.lines() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for call in ["var(", "var_os("] {
                for (at, _) in code.match_indices(call) {
                    let argument = code[at + call.len()..].trim_start();
                    if let Some(literal) = argument.strip_prefix('"') {
                        let name = &literal[..literal.find('"').unwrap_or(0)];
                        if is_ours(name) {
                            read.entry(name.to_string()).or_insert_with(|| file.clone());
                        }
                    } else {
                        let end = argument
                            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                            .unwrap_or(argument.len());
                        let path = &argument[..end];
                        let ident = path.rsplit("::").next().unwrap_or(path);
                        calls.push_str(ident);
                        calls.push('\n');
                    }
                }
            }
            // `const NAME: &str = "VALUE";`, at any visibility.
            if let Some(at) = code.find("const ") {
                let rest = &code[at + "const ".len()..];
                if let Some((ident, value)) = rest.split_once(": &str = \"") {
                    let value = &value[..value.find('"').unwrap_or(0)];
                    if is_ours(value) {
                        constants.push((ident.trim().to_string(), value.to_string(), file.clone()));
                    }
                }
            }
        }
    }
    let passed: BTreeSet<&str> = calls.lines().collect();
    for (ident, value, file) in constants {
        if passed.contains(ident.as_str()) {
            read.entry(value).or_insert(file);
        }
    }
    read
}
