//! Request events in ClickHouse (feature `clickhouse`): one row per
//! request event, batched and inserted over ClickHouse's HTTP interface in
//! its `RowBinary` format (no text to format or parse), from a thread of
//! its own with a bounded queue.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! // OBSERVE_CLICKHOUSE_URL=http://writer:secret@clickhouse:8123/analytics
//! let _rows = observe.clickhouse().try_init()?; // nothing when the URL is unset
//! # Ok(()) }
//! ```
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OBSERVE_CLICKHOUSE_URL` | the HTTP interface, `http(s)://[user[:password]@]host:port[/database]` | unset: no rows |
//! | `OBSERVE_CLICKHOUSE_TABLE` | the table (or a `Distributed` table over a cluster) | `observe_requests` |
//! | `OBSERVE_CLICKHOUSE_CREATE` | `1`/`true`: create the table if it is missing (a `MergeTree` on that server); `0`/`false`: leave it to the operator | `1` |
//!
//! The password never appears in a log line or an error. The row is the
//! request event's content, flat (see [`ddl`] for the columns): the same
//! sampling decides, and the same redaction applies to the handler's fields
//! and the request-derived labels.
//!
//! **Delivery.** A request thread writes its row in `RowBinary` (numbers
//! as they are in memory, strings after their length) into a buffer of its
//! own, then appends it to the rows waiting under a lock held for that
//! copy alone, never waiting for the server:
//! [`QUEUE_ROWS`] rows wait at most, more are dropped and counted. The
//! sender thread takes every waiting row at once when [`BATCH_ROWS`] have
//! come or a second has passed, and inserts them. A failed insert (connection refused, 5xx) is retried twice,
//! after 1 and 2 s; then its rows are dropped and counted, so an outage of
//! the server costs rows, never latency: `observe_clickhouse_rows_total
//! {outcome="inserted"|"dropped"}` says how many.
//!
//! **Cost** (`bench/instructions.sh`, all threads): about +1,600
//! instructions a request over the logged request (1,413 in the sink's own
//! functions, 44 of them on the sender thread), see `bench/README.md`.
//!
//! **Scale out.** Point the services at a `Distributed` table: each
//! ClickHouse server keeps the rows of its shard in the local table and
//! forwards the others (queued on its disk while a shard is down).
//! `observe schema clickhouse --cluster NAME` prints both tables.
//!
//! # The questions, in SQL
//!
//! Each runs in `tests/tests/clickhouse.rs` against a real server (and a
//! current engine, chdb) on the example services' rows; the outputs below
//! are that test's (three example binaries, 13 requests each,
//! 2026-12-05, ClickHouse 18.16).
//!
//! p50, p99 and error ratio per route and version over the last hour:
//! ```sql
//! SELECT route, service_version,
//!        quantile(0.5)(duration_ms) AS p50_ms, quantile(0.99)(duration_ms) AS p99_ms,
//!        countIf(status >= 500) / count() AS error_ratio, count() AS requests
//! FROM observe_requests WHERE time > now() - 3600
//! GROUP BY route, service_version ORDER BY route, service_version
//! ```
//! ```text
//! route        service_version  p50_ms  p99_ms   error_ratio  requests
//! /users/{id}  0.1.0            4.795   6.50992  0            39
//! ```
//! The slowest requests, with their trace ids:
//! ```sql
//! SELECT route, duration_ms, status, trace_id FROM observe_requests
//! WHERE time > now() - 3600 ORDER BY duration_ms DESC LIMIT 10
//! ```
//! ```text
//! route        duration_ms  status  trace_id
//! /users/{id}  6.516        200     0239d6578d272ea76c7fa1be40ec6e75
//! /users/{id}  6.5          200     1418dd01d7e87c4a8f60c8310fd7d147
//! ...
//! ```
//! The dependency that takes the largest share of a route's time (the
//! calls' time over the route's request time):
//! ```sql
//! SELECT route, dependency, sum(dependency_ms) / any(total_ms) AS share
//! FROM (SELECT route, sum(duration_ms) AS total_ms,
//!              groupArrayArray(dependencies.name) AS names,
//!              groupArrayArray(dependencies.duration_ms) AS durations
//!       FROM observe_requests WHERE time > now() - 3600 GROUP BY route)
//! ARRAY JOIN names AS dependency, durations AS dependency_ms
//! GROUP BY route, dependency ORDER BY share DESC LIMIT 10
//! ```
//! ```text
//! route        dependency  share
//! /users/{id}  postgres    0.9524163025200629
//! ```
//! Errors per value of a request-derived label (a tenant, a plan):
//! ```sql
//! SELECT labels.value AS plan, countIf(status >= 500) AS errors, count() AS requests
//! FROM observe_requests ARRAY JOIN labels
//! WHERE labels.name = 'plan' AND time > now() - 3600
//! GROUP BY plan ORDER BY errors DESC
//! ```
//! (Empty for the example binaries, which declare no request-derived
//! label; on a row labelled `plan=pro`, chdb answers `pro  0  1`.)
//! Every request of one trace, across services:
//! ```sql
//! SELECT service, route, status, duration_ms, span_id FROM observe_requests
//! WHERE trace_id = '0af7651916cd43dd8448eb211c80319c' ORDER BY timestamp_us
//! ```
//! ```text
//! service  route        status  duration_ms  span_id
//! shop     /users/{id}  200     6.516        9be538bcbe6c6ec7
//! ```

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::context::RequestContext;
use crate::metrics::signals::counters;
use crate::signals::event::Finished;

/// Rows waiting at most; more are dropped and counted.
pub const QUEUE_ROWS: usize = 65_536;
/// Rows that start an insert before the second is up. An insert takes
/// every row waiting, so after a slow or failed insert it can carry more
/// (at most [`QUEUE_ROWS`]).
pub const BATCH_ROWS: usize = 10_000;
/// How long a row waits for its batch at most.
const BATCH_DELAY: Duration = Duration::from_secs(1);
/// The table when `OBSERVE_CLICKHOUSE_TABLE` is unset.
pub const DEFAULT_TABLE: &str = "observe_requests";

const URL: &str = "OBSERVE_CLICKHOUSE_URL";
const TABLE: &str = "OBSERVE_CLICKHOUSE_TABLE";
const CREATE: &str = "OBSERVE_CLICKHOUSE_CREATE";

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClickHouseError {
    /// `OBSERVE_CLICKHOUSE_URL` is not an http(s) URL (shown without its
    /// password).
    #[error(
        "OBSERVE_CLICKHOUSE_URL={0:?}: expected http(s)://[user[:password]@]host:port[/database]"
    )]
    Url(String),
    /// A table name ClickHouse would not take unquoted.
    #[error(
        "OBSERVE_CLICKHOUSE_TABLE={0:?}: expected a table name of letters, digits and _ (optionally database.table)"
    )]
    Table(String),
    /// `OBSERVE_CLICKHOUSE_CREATE` is not a boolean.
    #[error("OBSERVE_CLICKHOUSE_CREATE={0:?}: expected 1, true, 0 or false")]
    Create(String),
    /// Another instance installed the sink already.
    #[error("the ClickHouse sink is already set up in this process")]
    AlreadySet,
    /// The sender thread could not start.
    #[error("cannot start the ClickHouse sender: {0}")]
    Thread(String),
}

/// Where rows go.
#[derive(Clone, PartialEq, Eq)]
struct Target {
    /// `scheme://host:port/`, without credentials or database.
    base: String,
    user: Option<String>,
    password: Option<String>,
    database: Option<String>,
    table: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("base", &self.base)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

fn valid_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !p.as_bytes()[0].is_ascii_digit()
    };
    match name.split_once('.') {
        Some((db, table)) => part(db) && part(table),
        None => part(name),
    }
}

/// `url` without its password, for errors.
fn shown(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn parse_target(url: &str, table: &str) -> Result<Target, ClickHouseError> {
    let bad = || ClickHouseError::Url(shown(url));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad());
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    if host.is_empty() || host.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (Some(user.to_string()), Some(password.to_string())),
            None => (Some(info.to_string()), None),
        },
        None => (None, None),
    };
    let database = path.trim_matches('/');
    let database = (!database.is_empty()).then(|| database.to_string());
    if database
        .as_deref()
        .is_some_and(|d| !valid_name(d) || d.contains('.'))
    {
        return Err(bad());
    }
    if !valid_name(table) {
        return Err(ClickHouseError::Table(table.to_string()));
    }
    Ok(Target {
        base: format!("{scheme}://{host}/"),
        user,
        password,
        database,
        table: table.to_string(),
    })
}

/// The `CREATE TABLE` for `table`: a `MergeTree`, or, with `cluster`, the
/// local table plus a `Distributed` table `{table}_all` over the cluster
/// (run both on every server of the cluster). It works on ClickHouse 18.16
/// and on current servers: no `DateTime64`, `Map` or `LowCardinality`; the
/// time columns are `ALIAS`es of `timestamp_us` (a `MATERIALIZED` column
/// cannot be forwarded through a `Distributed` table on 18.16), and the
/// sort key holds the same expression.
pub fn ddl(table: &str, cluster: Option<&str>) -> String {
    let mut out = format!(
        "CREATE TABLE IF NOT EXISTS {table}
(
    timestamp_us UInt64,
    time DateTime ALIAS toDateTime(intDiv(timestamp_us, 1000000)),
    date Date ALIAS toDate(toDateTime(intDiv(timestamp_us, 1000000))),
    service String,
    service_version String,
    route String,
    method String,
    status UInt16,
    duration_ms Float64,
    error_type String,
    request_id String,
    trace_id String,
    span_id String,
    request_body_bytes Nullable(UInt64),
    response_body_bytes UInt64,
    sample_rate UInt32,
    dependency_count UInt32,
    dependency_ms Float64,
    dependencies Nested(name String, operation String, duration_ms Float64, outcome String, span_id String),
    cache_hits UInt32,
    cache_misses UInt32,
    cache_errors UInt32,
    rpc_service String,
    rpc_method String,
    rpc_grpc_status_code Int16,
    labels Nested(name String, value String),
    fields Nested(key String, value String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(timestamp_us, 1000000))))
ORDER BY (service, route, toDateTime(intDiv(timestamp_us, 1000000)))
SETTINGS index_granularity = 8192"
    );
    if let Some(cluster) = cluster {
        let _ = write!(
            out,
            ";\n\nCREATE TABLE IF NOT EXISTS {table}_all AS {table}
ENGINE = Distributed({cluster}, currentDatabase(), {table}, cityHash64(trace_id))"
        );
    }
    out.push_str(";\n");
    out
}

/// The installed sink: the rows waiting for the sender thread, appended
/// by the request threads and taken whole by the sender.
///
/// Why not a channel of rows, as the other exporters have: a row per
/// request made an allocation, a channel send and receive and a copy into
/// the batch, 1,400 instructions a request on the sender thread and part
/// of the request thread's 2,300 (`bench/instructions.sh`, 2026-12-05).
struct Sink {
    pending: Mutex<Pending>,
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    /// `RowBinary` rows, back to back.
    rows: Vec<u8>,
    count: usize,
    /// Who waits for the rows so far to be handled.
    flushes: Vec<SyncSender<()>>,
}

static SINK: OnceLock<Sink> = OnceLock::new();

thread_local! {
    /// Each request thread's row buffer, reused.
    static ROW: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

/// Queues the row of a finished request, when the sink is set up.
pub(crate) fn record(context: &RequestContext, finished: &Finished<'_>) {
    let Some(sink) = SINK.get() else {
        return;
    };
    let queued = ROW.try_with(|row| match row.try_borrow_mut() {
        Ok(mut row) => {
            row.clear();
            write_row(&mut row, context, finished);
            sink.append(&row)
        }
        Err(_) => write_and_append(sink, context, finished),
    });
    // A thread being torn down has no buffer left.
    let queued = queued.unwrap_or_else(|_| write_and_append(sink, context, finished));
    if !queued {
        counters().clickhouse.dropped(1);
    }
}

fn write_and_append(sink: &Sink, context: &RequestContext, finished: &Finished<'_>) -> bool {
    let mut row = Vec::with_capacity(512);
    write_row(&mut row, context, finished);
    sink.append(&row)
}

impl Sink {
    /// Appends one row; false when [`QUEUE_ROWS`] wait already.
    fn append(&self, row: &[u8]) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.count >= QUEUE_ROWS {
            return false;
        }
        pending.rows.extend_from_slice(row);
        pending.count += 1;
        let full = pending.count == BATCH_ROWS;
        drop(pending);
        if full {
            self.wake.notify_one();
        }
        true
    }
}

/// The columns a row carries, in its order (the `ALIAS` ones are computed
/// by the server).
const COLUMNS: &str = "timestamp_us, service, service_version, route, method, status, duration_ms, \
error_type, request_id, trace_id, span_id, request_body_bytes, response_body_bytes, sample_rate, \
dependency_count, dependency_ms, dependencies.name, dependencies.operation, \
dependencies.duration_ms, dependencies.outcome, dependencies.span_id, cache_hits, cache_misses, \
cache_errors, rpc_service, rpc_method, rpc_grpc_status_code, labels.name, labels.value, \
fields.key, fields.value";

/// ClickHouse's `RowBinary`: little-endian numbers, strings and arrays
/// after their length as a LEB128 varint.
struct Row<'a>(&'a mut Vec<u8>);

impl Row<'_> {
    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn string(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    /// A `String` column from bytes known to be text (no UTF-8 check).
    fn bytes(&mut self, bytes: &[u8]) {
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    /// Lowercase hex of an id (16 bytes at most), through a stack buffer:
    /// one copy instead of a push per digit.
    fn hex(&mut self, bytes: &[u8]) {
        let bytes = &bytes[..bytes.len().min(16)];
        let mut digits = [0u8; 32];
        crate::base::ids::write_hex(bytes, &mut digits);
        self.varint(2 * bytes.len() as u64);
        self.0.extend_from_slice(&digits[..2 * bytes.len()]);
    }

    fn u16(&mut self, n: u16) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn f64(&mut self, n: f64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    /// An array of `items.len()` elements each `write` writes.
    fn array<T>(&mut self, items: &[T], mut write: impl FnMut(&mut Self, &T)) {
        self.varint(items.len() as u64);
        for item in items {
            write(self, item);
        }
    }
}

/// Milliseconds to the microsecond (without a 128-bit conversion).
fn millis(duration: Duration) -> f64 {
    let micros = duration
        .as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(duration.subsec_micros()));
    micros as f64 / 1e3
}

/// One row, in [`COLUMNS`]' order.
fn write_row(out: &mut Vec<u8>, context: &RequestContext, finished: &Finished<'_>) {
    let service = context.service();
    let redactor = &service.redactor;
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let ids = context.trace_ids();
    out.reserve(256);
    let mut row = Row(out);
    row.u64(micros);
    row.string(&service.name);
    row.string(service.version.as_deref().unwrap_or_default());
    row.string(finished.route);
    row.string(finished.method);
    row.u16(finished.status);
    row.f64(millis(finished.duration));
    row.string(finished.error_type.as_deref().unwrap_or_default());
    // ASCII by construction: written without going through `str`.
    row.bytes(context.request_id_bytes());
    row.hex(&ids.trace_id);
    row.hex(&ids.span_id);
    match finished.request_body_bytes {
        Some(n) => {
            row.0.push(0);
            row.u64(n);
        }
        None => row.0.push(1),
    }
    row.u64(finished.response_body_bytes);
    row.u32(finished.sample_rate.unwrap_or(1));
    let calls = context.calls();
    row.u32(calls.count);
    row.f64(millis(calls.total));
    let listed = &calls.listed;
    row.array(listed, |row, c| row.string(&c.dependency));
    row.array(listed, |row, c| row.string(&c.operation));
    row.array(listed, |row, c| row.f64(millis(c.duration)));
    row.array(listed, |row, c| row.string(c.outcome.as_str()));
    row.array(listed, |row, c| row.hex(&c.span_id));
    let cache = context.cache();
    row.u32(cache.hits);
    row.u32(cache.misses);
    row.u32(cache.errors);
    let (rpc_service, rpc_method, code) = match finished.rpc {
        Some((service, method, code)) => (service, method, i16::from(code)),
        None => ("", "", -1),
    };
    row.string(rpc_service);
    row.string(rpc_method);
    row.0.extend_from_slice(&code.to_le_bytes());
    let labels = context.http_labels();
    row.array(&labels, |row, (name, _)| row.string(name));
    row.array(&labels, |row, (name, value)| {
        row.string(&redactor.redact_field(name, value));
    });
    let fields = context.fields();
    row.array(&fields, |row, (key, _)| row.string(key));
    row.array(&fields, |row, (key, value)| {
        row.string(&redactor.redact_field(key, value));
    });
}

/// Sets up the sink: [`Observe::clickhouse`](crate::Observe::clickhouse).
#[derive(Debug)]
#[must_use = "nothing is written until `init` or `try_init`"]
pub struct ClickHouseBuilder {
    url: Option<String>,
    table: Option<String>,
    create: Option<bool>,
}

impl ClickHouseBuilder {
    pub(crate) fn new() -> Self {
        Self {
            url: None,
            table: None,
            create: None,
        }
    }

    /// The URL, instead of `OBSERVE_CLICKHOUSE_URL`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The table, instead of `OBSERVE_CLICKHOUSE_TABLE`.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// Whether to create the table if it is missing, instead of
    /// `OBSERVE_CLICKHOUSE_CREATE`.
    pub fn create_table(mut self, create: bool) -> Self {
        self.create = Some(create);
        self
    }

    /// [`try_init`](Self::try_init), panicking with the error.
    ///
    /// # Panics
    /// When a setting is wrong; the message names it.
    #[track_caller]
    pub fn init(self) -> ClickHouseGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("{error}"),
        }
    }

    /// Starts the sink when a URL is set (else the guard does nothing).
    /// The table is created, if asked, by the sender thread: start-up does
    /// not wait for the server.
    pub fn try_init(self) -> Result<ClickHouseGuard, ClickHouseError> {
        let url = match self.url {
            Some(url) => url,
            None => match std::env::var(URL) {
                Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
                _ => return Ok(ClickHouseGuard { sink: None }),
            },
        };
        let table = match self.table {
            Some(table) => table,
            None => std::env::var(TABLE)
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map_or_else(|| DEFAULT_TABLE.to_string(), |t| t.trim().to_string()),
        };
        let create = match self.create {
            Some(create) => create,
            None => match std::env::var(CREATE).ok().as_deref().map(str::trim) {
                None | Some("") | Some("1") | Some("true") => true,
                Some("0") | Some("false") => false,
                Some(other) => return Err(ClickHouseError::Create(other.to_string())),
            },
        };
        let target = parse_target(&url, &table)?;
        crate::base::tls::install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClickHouseError::Thread(e.to_string()))?;
        if SINK
            .set(Sink {
                pending: Mutex::new(Pending::default()),
                wake: Condvar::new(),
            })
            .is_err()
        {
            return Err(ClickHouseError::AlreadySet);
        }
        let sink = SINK.get().ok_or(ClickHouseError::AlreadySet)?;
        std::thread::Builder::new()
            .name("observe-clickhouse".into())
            .spawn(move || send_rows(sink, &client, &target, create))
            .map_err(|e| ClickHouseError::Thread(e.to_string()))?;
        Ok(ClickHouseGuard { sink: Some(sink) })
    }
}

/// Inserts what is queued when dropped (waiting at most 10 s): keep it
/// alive for the life of `main`.
#[derive(Debug)]
#[must_use = "dropping the guard stops nothing but the final flush"]
pub struct ClickHouseGuard {
    sink: Option<&'static Sink>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl ClickHouseGuard {
    /// Whether rows are being written.
    pub fn is_writing(&self) -> bool {
        self.sink.is_some()
    }

    /// Inserts every row queued so far, waiting at most `timeout`;
    /// whether all were handled (inserted or counted as dropped) in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(sink) = self.sink else {
            return true;
        };
        let (ack, done) = sync_channel(1);
        sink.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flushes
            .push(ack);
        sink.wake.notify_one();
        done.recv_timeout(timeout).is_ok()
    }
}

impl Drop for ClickHouseGuard {
    fn drop(&mut self) {
        let _ = self.flush(Duration::from_secs(10));
    }
}

/// Attempts per insert: the first and two retries.
const ATTEMPTS: u32 = 3;

/// POSTs `query` with `body`; whether the server took it.
fn post(
    client: &reqwest::blocking::Client,
    target: &Target,
    query: &str,
    body: bytes::Bytes,
) -> bool {
    let mut url = format!("{}?query={}", target.base, percent_encode(query));
    if let Some(database) = &target.database {
        url.push_str("&database=");
        url.push_str(&percent_encode(database));
    }
    let mut request = client.post(url).body(body);
    if let Some(user) = &target.user {
        request = request.basic_auth(user, target.password.as_deref());
    }
    matches!(request.send(), Ok(response) if response.status().is_success())
}

/// `text` for a query string: unreserved characters as they are, every
/// other byte as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The sender thread: every [`BATCH_DELAY`], or sooner when
/// [`BATCH_ROWS`] rows or a flush are waiting, it takes every waiting row
/// and inserts them.
fn send_rows(sink: &Sink, client: &reqwest::blocking::Client, target: &Target, create: bool) {
    let mut created = !create;
    let insert = format!("INSERT INTO {} ({COLUMNS}) FORMAT RowBinary", target.table);
    // Grows to the largest batch seen (at most 64 MiB), so a steady flow
    // of rows appends without reallocating.
    let mut capacity = 256 * 1024;
    loop {
        let (batch, rows, flushes) = {
            let mut pending = sink.pending.lock().unwrap_or_else(|p| p.into_inner());
            let deadline = Instant::now() + BATCH_DELAY;
            while pending.count < BATCH_ROWS && pending.flushes.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                pending = sink
                    .wake
                    .wait_timeout(pending, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let batch = std::mem::replace(&mut pending.rows, Vec::with_capacity(capacity));
            (
                batch,
                std::mem::take(&mut pending.count) as u64,
                std::mem::take(&mut pending.flushes),
            )
        };
        if rows > 0 {
            capacity = capacity.max(batch.len()).min(64 * 1024 * 1024);
            if !created {
                created = post(
                    client,
                    target,
                    &ddl(&target.table, None),
                    bytes::Bytes::new(),
                );
            }
            // One buffer for every attempt: a retry clones a reference.
            let body = bytes::Bytes::from(batch);
            let mut taken = false;
            for attempt in 1..=ATTEMPTS {
                if post(client, target, &insert, body.clone()) {
                    taken = true;
                    break;
                }
                if attempt < ATTEMPTS {
                    std::thread::sleep(Duration::from_secs(u64::from(attempt)));
                }
            }
            let counters = &counters().clickhouse;
            if taken {
                counters.inserted(rows);
            } else {
                counters.dropped(rows);
                tracing::warn!(
                    target: "observe::clickhouse",
                    rows,
                    table = %target.table,
                    "rows not inserted after {ATTEMPTS} attempts: dropped"
                );
            }
        }
        for ack in flushes {
            let _ = ack.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_gives_credentials_and_database_and_errors_hide_the_password() {
        let target = parse_target(
            "http://writer:s3cret@127.0.0.1:8123/analytics",
            "observe_requests",
        )
        .unwrap();
        assert_eq!(target.base, "http://127.0.0.1:8123/");
        assert_eq!(target.user.as_deref(), Some("writer"));
        assert_eq!(target.password.as_deref(), Some("s3cret"));
        assert_eq!(target.database.as_deref(), Some("analytics"));
        assert!(!format!("{target:?}").contains("s3cret"));
        let error = parse_target("ftp://writer:s3cret@host/db", "t")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("OBSERVE_CLICKHOUSE_URL="), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let error = parse_target("http://host:8123", "bad-name; DROP")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("OBSERVE_CLICKHOUSE_TABLE="), "{error}");
        assert!(parse_target("http://host:8123", "db.table").is_ok());
    }

    #[test]
    fn the_ddl_has_the_distributed_table_for_a_cluster() {
        let local = ddl("observe_requests", None);
        assert!(local.contains("ENGINE = MergeTree"));
        assert!(!local.contains("Distributed"));
        let both = ddl("observe_requests", Some("observe"));
        assert!(both.contains(
            "ENGINE = Distributed(observe, currentDatabase(), observe_requests, cityHash64(trace_id))"
        ));
    }
}
