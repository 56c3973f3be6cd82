//! Request events in a real ClickHouse (Debian's 18.16 server on loopback):
//! every example binary writes exactly one row per request event it logged,
//! with a user and password; the documented queries answer (and run on a
//! current engine too, chdb, when it is installed); and two servers as two
//! shards of a cluster take two services' rows through `Distributed`
//! tables, while a stopped shard costs rows that are counted, not
//! requests.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;

use observe_tests::clickhouse::{self, ClickHouse};
use observe_tests::processes::{self, Running, free_port, terminate, wait_for};
use observe_tests::{parse_samples, value};

fn start_service(executable: &str, envs: &[(&str, String)]) -> (Running, SocketAddr, SocketAddr) {
    let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let public: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut all = vec![
        ("OBSERVE_ADMIN_ADDR", admin.to_string()),
        ("LISTEN_ADDR", public.to_string()),
    ];
    all.extend(envs.iter().cloned());
    let running = processes::start(processes::command(executable, None), &all);
    assert_eq!(wait_for(admin, "/health/live").0, 200);
    (running, public, admin)
}

fn request_events(lines: &[serde_json::Value]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|line| line["message"] == "request finished")
        .map(|line| line["trace_id"].as_str().unwrap().to_string())
        .collect()
}

/// Renders the `{{ with query `time() - N` }}...{{ end }}` templates of an
/// alert annotation as Prometheus does at `now` (Unix seconds).
fn render_time(template: &str, now: u64) -> String {
    const OPEN: &str = "{{ with query `time()";
    const END: &str = "{{ end }}";
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let close = after.find('`').unwrap();
        let minus = after[..close].trim().trim_start_matches('-').trim();
        let minus: u64 = if minus.is_empty() {
            0
        } else {
            minus.parse().unwrap()
        };
        out.push_str(&(now - minus).to_string());
        let end = after.find(END).unwrap();
        rest = &after[end + END.len()..];
    }
    out.push_str(rest);
    out
}

/// The SQL blocks of observe-core's ClickHouse docs, as written.
fn documented_queries() -> Vec<String> {
    let source = include_str!("../../observe-core/src/sinks/clickhouse.rs");
    let mut queries = Vec::new();
    let mut current: Option<String> = None;
    for line in source.lines() {
        let Some(text) = line.strip_prefix("//!") else {
            continue;
        };
        let text = text.strip_prefix(' ').unwrap_or(text);
        match (&mut current, text) {
            (None, "```sql") => current = Some(String::new()),
            (Some(query), "```") => {
                queries.push(query.trim().to_string());
                current = None;
            }
            (Some(query), text) => {
                query.push_str(text);
                query.push('\n');
            }
            (None, _) => {}
        }
    }
    queries
}

fn rows_counter(admin: SocketAddr, outcome: &str) -> f64 {
    let (_, text) = processes::get(admin, "/metrics").unwrap();
    value(
        &parse_samples(&text),
        "observe_clickhouse_rows_total",
        &[("outcome", outcome)],
    )
    .unwrap_or_else(|| panic!("no observe_clickhouse_rows_total in\n{text}"))
}

#[test]
fn every_example_writes_one_row_per_request_event() {
    if !clickhouse::available() {
        return;
    }
    let (http, tcp) = ClickHouse::ports();
    let server = ClickHouse::start(http, tcp, &[tcp]);
    let binaries = processes::built(&["-p", "observe-examples", "--bins"]);
    let mut all_traces = BTreeSet::new();
    let mut failed_traces = BTreeSet::new();
    for service in ["axum-service", "actix-service", "tower-service"] {
        let (_, name, executable) = binaries.iter().find(|(_, n, _)| n == service).unwrap();
        let (mut running, public, _admin) = start_service(
            executable,
            &[(
                "OBSERVE_CLICKHOUSE_URL",
                format!("http://writer:writer-secret@{}/default", server.http),
            )],
        );
        for id in 1..=12 {
            processes::get(public, &format!("/users/{id}")).unwrap();
        }
        processes::get(public, "/users/not-a-number").unwrap();
        // The database fails for ids from 1,000,000: a 500.
        processes::get(public, "/users/1000000").unwrap();
        let lines = terminate(&mut running, name);
        let events = request_events(&lines);
        failed_traces.extend(
            lines
                .iter()
                .filter(|l| {
                    l["message"] == "request finished" && l["event"]["status"].as_u64() >= Some(500)
                })
                .map(|l| l["trace_id"].as_str().unwrap().to_string()),
        );
        assert!(events.len() >= 13, "{name}: {} events", events.len());
        // The guard inserted the last batch on the way out.
        let in_store: BTreeSet<String> = server
            .query(&format!(
                "SELECT trace_id FROM observe_requests WHERE trace_id IN ({}) FORMAT TSV",
                events
                    .iter()
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(in_store, events, "{name}: exactly the events' rows");
        let rows = server.number(&format!(
            "SELECT count() FROM observe_requests WHERE trace_id IN ({})",
            events
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(",")
        ));
        assert_eq!(
            rows as usize,
            events.len(),
            "{name}: one row each, no duplicate"
        );
        all_traces.extend(events);
        // The password is in no log line.
        assert!(
            !lines
                .iter()
                .any(|l| l.to_string().contains("writer-secret")),
            "{name}"
        );
    }
    let answer = server
        .query("SELECT route, status, duration_ms, trace_id FROM observe_requests ORDER BY route, status FORMAT TSV")
        .unwrap();
    assert!(answer.contains("/users/{id}\t200\t"), "{answer}");
    assert!(answer.contains("/users/{id}\t400\t"), "{answer}");

    // The SQL a page carries for its failing requests (observe-slo's
    // `failing_requests` annotation, its window rendered as Prometheus
    // renders it: examples/tests/alerts.rs sees that on a delivered page)
    // lists exactly the 5xx requests, with their trace ids.
    assert_eq!(failed_traces.len(), 3, "one 500 per service");
    let rules = observe_examples::slos()
        .events_table("observe_requests")
        .prometheus_rules()
        .unwrap();
    let sql = rules
        .lines()
        .find_map(|l| l.trim().strip_prefix("failing_requests: "))
        .unwrap();
    let sql = serde_json::from_str::<String>(sql).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sql = render_time(&sql, now);
    let answer = server
        .query(&format!("{sql}\nFORMAT TSVWithNames"))
        .unwrap_or_else(|e| panic!("{sql}\n{e}"));
    eprintln!("{sql}\n{answer}");
    let listed: BTreeSet<String> = answer
        .lines()
        .skip(1)
        .map(|l| l.rsplit('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(listed, failed_traces, "{answer}");

    // The documented questions, on the rows just written.
    let queries = documented_queries();
    assert_eq!(queries.len(), 5, "{queries:?}");
    let trace = all_traces.iter().next().unwrap();
    for query in &queries {
        let query = query.replace("0af7651916cd43dd8448eb211c80319c", trace);
        let answer = server
            .query(&format!("{query}\nFORMAT TSVWithNames"))
            .unwrap_or_else(|e| panic!("{query}\n{e}"));
        eprintln!("{query}\n{answer}");
        assert!(answer.lines().count() >= 1, "{query}: {answer}");
    }
    let slowest = server
        .query(&format!("{}\nFORMAT TSV", queries[1]))
        .unwrap();
    assert!(
        slowest.lines().count() >= 10,
        "the slowest requests: {slowest}"
    );
    let dependency = server
        .query(&format!("{}\nFORMAT TSV", queries[2]))
        .unwrap();
    assert!(
        dependency.contains("postgres"),
        "the dependency's share: {dependency}"
    );
    let one_trace = server
        .query(&format!(
            "{}\nFORMAT TSV",
            queries[4].replace("0af7651916cd43dd8448eb211c80319c", trace)
        ))
        .unwrap();
    assert_eq!(
        one_trace.lines().count(),
        1,
        "one trace's requests: {one_trace}"
    );
}

/// The DDL and the queries on a current ClickHouse engine (chdb), when
/// the Python package is installed (`.ci/run` installs it).
#[test]
fn the_schema_and_queries_run_on_a_current_engine() {
    let check = std::process::Command::new("python3")
        .args(["-c", "import chdb"])
        .output();
    if !matches!(check, Ok(ref o) if o.status.success()) {
        assert!(
            !observe_tests::tools_required(),
            "chdb is not installed: pip install chdb"
        );
        eprintln!("skipped: chdb is not installed");
        return;
    }
    let ddl = observe_core::clickhouse::ddl("observe_requests", None);
    let queries = documented_queries();
    let script = r#"
import sys
from chdb import session
s = session.Session()
for statement in sys.argv[1].split(";"):
    if statement.strip():
        s.query(statement)
s.query("""INSERT INTO observe_requests FORMAT JSONEachRow {"timestamp_us": 1764936000123456, "service": "shop", "route": "/users/{id}", "method": "GET", "status": 200, "duration_ms": 4.2, "trace_id": "0af7651916cd43dd8448eb211c80319c", "dependencies.name": ["postgres"], "dependencies.operation": ["select_user"], "dependencies.duration_ms": [3.1], "dependencies.outcome": ["ok"], "dependencies.span_id": ["00f067aa0ba902b7"], "labels.name": ["plan"], "labels.value": ["pro"]}""")
for query in sys.argv[2:]:
    print(s.query(query.replace("now() - 3600", "toDateTime(0)"), "TSV"))
print(s.query("SELECT version()", "TSV"))
"#;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(ddl)
        .args(&queries)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("postgres\t0.738"), "{stdout}");
    assert!(stdout.contains("pro\t0\t1"), "{stdout}");
}

#[test]
fn two_shards_take_two_services_rows_and_a_stopped_shard_costs_counted_rows() {
    if !clickhouse::available() {
        return;
    }
    let (http_a, tcp_a) = ClickHouse::ports();
    let (http_b, tcp_b) = ClickHouse::ports();
    let shards = [tcp_a, tcp_b];
    let a = ClickHouse::start(http_a, tcp_a, &shards);
    let mut b = ClickHouse::start(http_b, tcp_b, &shards);
    let ddl = observe_core::clickhouse::ddl("observe_requests", Some("observe"));
    for server in [&a, &b] {
        for statement in ddl.split(';').filter(|s| !s.trim().is_empty()) {
            server.query(statement).unwrap();
        }
    }
    let binaries = processes::built(&["-p", "observe-examples", "--bins"]);
    let (_, _, executable) = binaries
        .iter()
        .find(|(_, n, _)| n == "axum-service")
        .unwrap();
    let service = |server: &ClickHouse| {
        start_service(
            executable,
            &[
                ("OBSERVE_CLICKHOUSE_URL", format!("http://{}", server.http)),
                ("OBSERVE_CLICKHOUSE_TABLE", "observe_requests_all".into()),
                ("OBSERVE_CLICKHOUSE_CREATE", "0".into()),
            ],
        )
    };
    let (mut one, public_one, admin_one) = service(&a);
    let (mut two, public_two, admin_two) = service(&b);
    for id in 1..=20 {
        processes::get(public_one, &format!("/users/{id}")).unwrap();
        processes::get(public_two, &format!("/users/{id}")).unwrap();
    }
    // Both services' rows, across both shards, from either server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while a.number("SELECT count() FROM observe_requests_all") < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "rows through the Distributed tables: {:?} on A, {:?} on B; service one {} inserted {} dropped, two {} {}",
            a.query("SELECT count() FROM observe_requests_all"),
            b.query("SELECT count() FROM observe_requests_all"),
            rows_counter(admin_one, "inserted"),
            rows_counter(admin_one, "dropped"),
            rows_counter(admin_two, "inserted"),
            rows_counter(admin_two, "dropped"),
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(b.number("SELECT count() FROM observe_requests_all"), 40);
    let local_a = a.number("SELECT count() FROM observe_requests");
    let local_b = b.number("SELECT count() FROM observe_requests");
    assert_eq!(local_a + local_b, 40);
    assert!(
        local_a > 0 && local_b > 0,
        "both shards hold rows: {local_a} + {local_b}"
    );
    let routes = a
        .query("SELECT route, count() FROM observe_requests_all GROUP BY route FORMAT TSV")
        .unwrap();
    assert!(routes.contains("/users/{id}\t40"), "{routes}");

    // Shard B stops mid-traffic: every request is still answered; service
    // two's inserts fail and its rows are counted as dropped; service
    // one's rows for B wait on A's disk and arrive once B is back.
    b.stop();
    for id in 21..=40 {
        assert_eq!(
            processes::get(public_one, &format!("/users/{id}"))
                .unwrap()
                .0,
            200
        );
        assert_eq!(
            processes::get(public_two, &format!("/users/{id}"))
                .unwrap()
                .0,
            200
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while rows_counter(admin_two, "dropped") < 20.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "service two counts its dropped rows"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    b.restart();
    let inserted = rows_counter(admin_one, "inserted") + rows_counter(admin_two, "inserted");
    let dropped = rows_counter(admin_one, "dropped") + rows_counter(admin_two, "dropped");
    assert_eq!(inserted + dropped, 80.0, "every row inserted or counted");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while a.number("SELECT count() FROM observe_requests_all") < inserted as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "A's queue for B drained: {} of {inserted}",
            a.number("SELECT count() FROM observe_requests_all")
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        a.number("SELECT count() FROM observe_requests_all"),
        inserted as u64,
        "nothing lost silently: the store holds every row counted as inserted"
    );
    terminate(&mut one, "axum-service one");
    terminate(&mut two, "axum-service two");
}
