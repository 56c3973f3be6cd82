//! The operator console: one more listener, for operators rather than users,
//! with the exposition, Kubernetes probes, a live status page and the log
//! level changed at run time. Framework-free; the framework crates serve it
//! (`observe_axum::admin_endpoints`, `observe_actix::admin_endpoints`,
//! `observe_tower::admin_endpoints`) on a listener of their own, usually
//! loopback or the pod network only (`OBSERVE_ADMIN_ADDR`, default
//! [`DEFAULT_ADMIN_ADDR`]; `off` for none). The public port keeps only what
//! the service merges into it.
//!
//! ```no_run
//! # async fn run(observe: observe_core::Observe) -> Result<(), Box<dyn std::error::Error>> {
//! use observe_core::console::{Admin, AdminConfig};
//!
//! if let Some(config) = AdminConfig::from_env()? { // OBSERVE_ADMIN_ADDR, OBSERVE_ADMIN_TOKEN
//!     let admin = Admin::new(&observe, config)?;   // refuses 0.0.0.0 without a token
//!     // Bind admin.addr() and serve the framework crate's endpoints there:
//!     // axum: axum::serve(listener, observe_axum::admin_endpoints(&admin)
//!     //     .into_make_service_with_connect_info::<std::net::SocketAddr>())
//!     // actix-web: App::new().configure(observe_actix::admin_endpoints(&admin))
//!     // tower/hyper: observe_tower::admin_endpoints(&admin)
//! #   let _ = admin;
//! }
//! # Ok(()) }
//! ```
//!
//! | path | method | what |
//! |---|---|---|
//! | `/metrics` | GET | the exposition (the framework crate renders it off the async workers) |
//! | `/health/live` | GET | 200 while the process serves; runs no check |
//! | `/health/ready` | GET | 200 when every check passes and the service is not draining, else 503; JSON with each check ([`health`](crate::health)) |
//! | `/observe` | GET | the status page: one HTML page |
//! | `/observe/app.js` | GET | the status page's script |
//! | `/observe/api/status` | GET | the page's JSON |
//! | `/observe/log-level` | GET, PUT, DELETE | the log filter; PUT `{"directives": "info,shop=debug", "revert_after": "15m"}` changes it until the revert, DELETE restores the default |
//! | `/observe/api/slos` | GET | the service's SLOs as given to [`AdminConfig::slos`] (observe-slo's `Slos::to_json`), for `observe rules --from URL`; 404 when none were given |
//! | `/debug/pprof/profile` | GET | a CPU profile, `?seconds=30` (at most 300), `&hz=99`, `&format=svg` for a flame graph; the pprof format otherwise, for `go tool pprof`, Pyroscope and Parca. Feature `profiling`; guarded like a write (the token when there is one); one at a time, 409 otherwise. See the `observe_core::profile` module |
//!
//! # The log level at run time
//!
//! DEBUG is off in production; turning it on should not need a restart
//! (which often makes the problem go away), and must not stay on by accident:
//!
//! ```sh
//! curl -X PUT -H "Authorization: Bearer $OBSERVE_ADMIN_TOKEN" \
//!      -H "Content-Type: application/json" \
//!      -d '{"directives": "info,shop=debug", "revert_after": "15m"}' \
//!      http://127.0.0.1:9464/observe/log-level
//! ```
//!
//! The running subscriber's filter is replaced at once and the start-up one
//! (`RUST_LOG`) restored after `revert_after` (default 15 minutes, at most 24
//! hours; `90s`, `15m`, `2h`, `1h30m`). Level remapping keeps applying.
//! Invalid directives or durations are answered 400 with what is accepted,
//! and change nothing; a target must be a Rust path (`shop`,
//! `tower_http::trace`), so control characters, markup and bidirectional
//! overrides never reach a log line. Every change, reset and revert writes
//! one WARN line under `observe::log_level` (previous and new directives,
//! revert time, `changed_by`: the token's presence and the peer's address,
//! never the token) and counts `observe_log_level_changes_total`. The line
//! is written whatever the filter says, the new one included: `off` cannot
//! silence its own audit line. Feature `logging`.
//!
//! # Who may write
//!
//! Writes (PUT, DELETE) need `Authorization: Bearer <token>` when a token is
//! set ([`AdminConfig::token`], `OBSERVE_ADMIN_TOKEN`: 16 to 256 visible
//! ASCII characters, e.g. `openssl rand -hex 32`), compared in constant time.
//! Without a token, writes are allowed only because the listener is bound to
//! loopback: [`Admin::new`] refuses any other address without a token.
//!
//! A page in an operator's browser can reach a loopback listener by
//! rebinding its own name to 127.0.0.1; its requests are then same-origin
//! but still carry that name. So, token or not, a write also needs:
//! - a `Host` that is `localhost`, a loopback address, or the listener's
//!   own address (any IP literal when bound to all addresses): a DNS name
//!   is refused, 403;
//! - no `Origin`, or the page's own (`http://` + that `Host`), else 403;
//! - `Content-Type: application/json` on a PUT, else 415;
//! - one `Authorization` header: two are refused, 400, on any request.
//!
//! A preflight (`OPTIONS`) is answered 204 with `Allow` and no CORS grant.
//! The checks run in that order, then the token (401), then the body's size
//! (413, JSON like every answer): a wrong token is told 401 whatever else
//! is wrong. A refused request changes nothing, writes one WARN line under
//! `observe::admin` (peer, method, path, status, reason; never the token)
//! that no log filter silences, and, when refused for want of authority
//! (400, 401, 403), counts in `observe_admin_unauthorized_total`. Every
//! JSON answer is sent with `X-Content-Type-Options: nosniff`. Reads need no token; they
//! show only what is already redacted: route templates, status codes,
//! timings, request and trace ids, flag states, check errors through the
//! redactor. No header, query string, body or client address.
//!
//! # The status page
//!
//! `/observe` is one HTML page (inline CSS, its script from
//! `/observe/app.js`, no external asset, served with a CSP that allows
//! nothing else: no inline script), refreshed
//! every 2 s from `/observe/api/status`, computed in the process from the
//! histograms, no Prometheus needed:
//! - requests in flight, and beside them saturation: the share of the tokio
//!   workers' time spent running tasks over the last minute and the tasks
//!   waiting in the global queue (the `tokio_` families of `/metrics`);
//! - per route, worst first (error ratio, then p99): request rate, error
//!   ratio, p50 and p99 over the last minute and the last five, a sparkline
//!   of the last five minutes (10 s points, errors in red), the cache hit
//!   ratio;
//! - the last 100 failed requests (5xx, panics) and the 100 slowest of the
//!   last five minutes: route, status, duration, request id, trace id, the
//!   first dependency calls;
//! - health checks, feature flags (every [`StateSet`](crate::StateSet)), the
//!   log level with a form to change it, build and target info, requests in
//!   flight, and what the signals dropped.
//!
//! Cost: building an [`Admin`] starts the console's bookkeeping for its
//! `Observe`; without one nothing of it exists and nothing is computed per
//! request. With one, a request that neither failed nor is among the slowest
//! of its minute costs two relaxed loads and a comparison; a thread advances
//! the windows every 10 s, reading the histograms as a scrape does. Memory is
//! bounded whatever the traffic: at most 200 routes followed (fewer with many
//! buckets), 100 failed requests, 100 slowest per minute for six minutes,
//! five dependency calls each: under 1 MiB in all (a unit test adds up the
//! worst case).

mod auth;
mod intent;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::metrics::console;
use crate::observe::Observe;

pub use auth::{MAX_TOKEN_LEN, MIN_TOKEN_LEN};

/// The address of the admin listener when `OBSERVE_ADMIN_ADDR` is unset:
/// loopback, the port OpenTelemetry's Prometheus exporter uses.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9464";
/// The largest request body read (a log-level change is a few dozen bytes).
pub const MAX_BODY_BYTES: usize = 4096;
/// The target of the admin listener's own lines.
pub const ADMIN_TARGET: &str = "observe::admin";
/// The most connections the admin listener serves at once, whatever the
/// framework (observe-tower's `server::serve_admin`, observe-actix's
/// `serve_admin`): a flood on the admin port cannot hold more descriptors,
/// and probes and scrapes need few.
pub const ADMIN_MAX_CONNECTIONS: usize = 64;
/// How long a client of the admin listener may take to send a request
/// head, or stay idle between requests, before its connection is closed.
pub const ADMIN_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How many connections a public port may hold at once so that a flood on
/// it cannot take the descriptors the admin listener's probes and scrapes
/// (and the service's own clients) need: the process's open-file limit
/// (`ulimit -n`) less a reserve of a quarter of it, at least
/// [`ADMIN_MAX_CONNECTIONS`] + 64, and at most 10,000. observe-tower's
/// server uses it by default; give it to actix-web's
/// `HttpServer::max_connections` (which counts per worker: divide by the
/// workers).
///
/// ```
/// let budget = observe_core::console::public_connection_budget();
/// assert!((1..=10_000).contains(&budget));
/// ```
pub fn public_connection_budget() -> usize {
    const MOST: usize = 10_000;
    let Some(limit) = crate::metrics::process::max_open_files() else {
        return MOST;
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let reserve = (limit / 4).max(ADMIN_MAX_CONNECTIONS + 64);
    limit.saturating_sub(reserve).clamp(1, MOST)
}

/// The status page: inline CSS, its script at [`SCRIPT_PATH`], no external
/// asset.
const PAGE: &str = include_str!("page.html");
/// The status page's script, served from the admin listener itself so the
/// page's policy needs no `'unsafe-inline'` for scripts.
const SCRIPT: &str = include_str!("page.js");
/// Where the status page loads its script from.
const SCRIPT_PATH: &str = "/observe/app.js";
/// Where Go services serve their CPU profile, and so where the tools look.
const PROFILE_PATH: &str = "/debug/pprof/profile";

/// `/debug/pprof/profile`'s query: `seconds`, `hz`, `format`.
#[cfg(feature = "profiling")]
#[derive(Debug, PartialEq)]
struct ProfileQuery {
    seconds: u64,
    hz: u32,
    svg: bool,
}

#[cfg(feature = "profiling")]
impl ProfileQuery {
    /// Unknown parameters are ignored, as Go's handler does (scrapers add
    /// their own); a bad value is refused naming it and what it accepts.
    fn parse(query: &str) -> Result<Self, String> {
        use crate::profile::{DEFAULT_FREQUENCY, DEFAULT_SECONDS, check_settings};

        let mut settings = Self {
            seconds: DEFAULT_SECONDS,
            hz: DEFAULT_FREQUENCY,
            svg: false,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let shown: String = value.chars().take(20).collect();
            match name {
                "seconds" => {
                    settings.seconds = value.parse().map_err(|_| {
                        format!(
                            "seconds: expected a whole number from 1 to {}, got {shown:?}",
                            crate::profile::MAX_SECONDS
                        )
                    })?;
                }
                "hz" => {
                    settings.hz = value.parse().map_err(|_| {
                        format!(
                            "hz: expected samples a second from 1 to {}, got {shown:?}",
                            crate::profile::MAX_FREQUENCY
                        )
                    })?;
                }
                "format" => {
                    settings.svg = match value {
                        "svg" => true,
                        "pprof" | "proto" => false,
                        _ => return Err(format!("format: expected svg or pprof, got {shown:?}")),
                    };
                }
                _ => {}
            }
        }
        check_settings(settings.seconds, settings.hz).map_err(|e| e.to_string())?;
        Ok(settings)
    }
}
/// Nothing but the page itself and its own API: no external script,
/// style, font, frame or form target.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// A bad admin setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The address does not parse.
    #[error(
        "invalid {name}={value:?}: expected IP:PORT (e.g. 127.0.0.1:9464, or 0.0.0.0:9464 with OBSERVE_ADMIN_TOKEN set) or off"
    )]
    Addr {
        /// `OBSERVE_ADMIN_ADDR` or `OBSERVE_METRICS_ADDR`.
        name: &'static str,
        /// What it was set to.
        value: String,
    },
    /// The token is too short, too long or has spaces or control
    /// characters (its value is never shown).
    #[error(
        "invalid {name}: expected {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} visible ASCII characters, no spaces (e.g. from `openssl rand -hex 32`)"
    )]
    Token {
        /// `OBSERVE_ADMIN_TOKEN` or `builder`.
        name: &'static str,
    },
    /// A non-loopback address without a token: anyone who reaches it could
    /// change the log level.
    #[error(
        "the admin listener at {addr} is not loopback-only and no OBSERVE_ADMIN_TOKEN is set: set a token (writes then need `Authorization: Bearer <token>`) or bind it to 127.0.0.1"
    )]
    OpenWithoutToken {
        /// The address.
        addr: SocketAddr,
    },
}

/// Where the admin listener binds and who may write.
#[derive(Clone)]
pub struct AdminConfig {
    addr: SocketAddr,
    token: Option<auth::Token>,
    /// Set from `OBSERVE_METRICS_ADDR`, the old name.
    deprecated_name: bool,
    /// The SLO document `/observe/api/slos` serves.
    slos: Option<Arc<Value>>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("slos", &self.slos.is_some())
            .finish()
    }
}

impl AdminConfig {
    /// A listener on `addr`, no token.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            token: None,
            deprecated_name: false,
            slos: None,
        }
    }

    /// The service's SLOs, served as they are at `GET /observe/api/slos`
    /// so tools read them from the running service (`observe rules --from
    /// http://127.0.0.1:9464`). Pass observe-slo's `Slos::to_json()`:
    ///
    /// ```
    /// # let document = serde_json::json!({"service": "shop", "slos": []});
    /// use observe_core::console::AdminConfig;
    ///
    /// let config = AdminConfig::new("127.0.0.1:9464".parse().unwrap())
    ///     .slos(document); // slos.to_json()
    /// # let _ = config;
    /// ```
    pub fn slos(mut self, document: Value) -> Self {
        self.slos = Some(Arc::new(document));
        self
    }

    /// The token writes need; errors name what is accepted, never the
    /// value.
    pub fn token(mut self, token: &str) -> Result<Self, AdminError> {
        self.token = Some(auth::Token::new(token).ok_or(AdminError::Token { name: "builder" })?);
        Ok(self)
    }

    /// From the environment: `OBSERVE_ADMIN_ADDR` (default
    /// [`DEFAULT_ADMIN_ADDR`]; `off` for no admin listener, `Ok(None)`),
    /// the older `OBSERVE_METRICS_ADDR` when it is set and the new name is
    /// not (a WARN line says so when the [`Admin`] is built), and
    /// `OBSERVE_ADMIN_TOKEN`.
    pub fn from_env() -> Result<Option<Self>, AdminError> {
        let (name, value) = match std::env::var("OBSERVE_ADMIN_ADDR") {
            Ok(value) if !value.trim().is_empty() => ("OBSERVE_ADMIN_ADDR", value),
            _ => match std::env::var("OBSERVE_METRICS_ADDR") {
                Ok(value) if !value.trim().is_empty() => ("OBSERVE_METRICS_ADDR", value),
                _ => ("OBSERVE_ADMIN_ADDR", DEFAULT_ADMIN_ADDR.to_string()),
            },
        };
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let addr = value.parse().map_err(|_| AdminError::Addr {
            name,
            value: value.chars().take(200).collect(),
        })?;
        let mut config = Self::new(addr);
        config.deprecated_name = name == "OBSERVE_METRICS_ADDR";
        if let Ok(token) = std::env::var("OBSERVE_ADMIN_TOKEN")
            && !token.is_empty()
        {
            config.token = Some(auth::Token::new(&token).ok_or(AdminError::Token {
                name: "OBSERVE_ADMIN_TOKEN",
            })?);
        }
        Ok(Some(config))
    }

    /// The address to bind.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A request to the admin listener, as the framework crate read it.
#[derive(Debug, Clone, Copy)]
pub struct AdminRequest<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The query string, without the `?`, if any (`seconds=30` for a
    /// profile).
    pub query: Option<&'a str>,
    /// The (first) `Authorization` header's value, if any.
    pub authorization: Option<&'a [u8]>,
    /// How many `Authorization` headers came: more than one is refused.
    pub authorization_headers: usize,
    /// The `Host` header (HTTP/2's `:authority`), for the DNS-rebinding
    /// check on writes.
    pub host: Option<&'a str>,
    /// The `Origin` header, if any; `Some("")` when one came that is not
    /// text (a write is then refused, as from a foreign page).
    pub origin: Option<&'a str>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Accept` header's value, for `/metrics`.
    pub accept: Option<&'a str>,
    /// The client's address, for the audit line.
    pub peer: Option<SocketAddr>,
    /// The body, at most [`MAX_BODY_BYTES`] + 1 bytes: the framework crate
    /// stops reading there and passes what it has, and a longer body is
    /// answered 413 here, after the checks that come first (so a wrong
    /// token is told 401, counted and logged, whatever the body's size).
    pub body: &'a [u8],
}

/// The answer, for the framework crate to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminResponse {
    /// The status code.
    pub status: u16,
    /// Headers, `content-type` first.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl AdminResponse {
    fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
                ("x-content-type-options", "nosniff".into()),
            ],
            body: value.to_string().into_bytes(),
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Self::json(status, &json!({ "error": message }))
    }

    fn with(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// The admin endpoints of one `Observe`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Admin {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    observe: Observe,
    config: AdminConfig,
}

impl Admin {
    /// The admin endpoints of `observe` as `config` says; starts the
    /// console's bookkeeping. Refuses a non-loopback address without a
    /// token.
    pub fn new(observe: &Observe, config: AdminConfig) -> Result<Self, AdminError> {
        if config.token.is_none() && !config.addr.ip().is_loopback() {
            return Err(AdminError::OpenWithoutToken { addr: config.addr });
        }
        if config.deprecated_name {
            tracing::warn!(
                target: ADMIN_TARGET,
                "OBSERVE_METRICS_ADDR is deprecated: set OBSERVE_ADMIN_ADDR instead (the same listener now also serves health, the status page and the log level)"
            );
        }
        console::install(observe.families());
        Ok(Self {
            inner: Arc::new(Inner {
                observe: observe.clone(),
                config,
            }),
        })
    }

    /// The configured address, to bind.
    pub fn addr(&self) -> SocketAddr {
        self.inner.config.addr
    }

    /// The `Observe` it speaks for.
    pub fn observe(&self) -> &Observe {
        &self.inner.observe
    }

    /// Whether `path` is the exposition, which a framework crate with a
    /// blocking pool renders there rather than in [`handle`](Self::handle).
    pub fn is_metrics(path: &str) -> bool {
        path == "/metrics"
    }

    /// Every path the admin listener answers.
    pub const PATHS: &'static [&'static str] = &[
        "/metrics",
        "/health/live",
        "/health/ready",
        "/observe",
        SCRIPT_PATH,
        "/observe/api/status",
        "/observe/log-level",
        "/observe/api/slos",
        #[cfg(feature = "profiling")]
        PROFILE_PATH,
    ];

    /// Answers `request`. Only `/health/ready` and `/observe/api/status`
    /// wait (for checks whose result is older than their interval, each
    /// within its timeout).
    pub async fn handle(&self, request: AdminRequest<'_>) -> AdminResponse {
        let observe = &self.inner.observe;
        if request.authorization_headers > 1 {
            // Which one would count? Proxies and servers disagree: refuse.
            return self.refuse(&request, 400, "more than one Authorization header");
        }
        let read = matches!(request.method, "GET" | "HEAD");
        let known = Self::PATHS.contains(&request.path) || request.path == "/observe/";
        if request.method == "OPTIONS" && known {
            // A CORS preflight gets no grant: no page elsewhere may call in.
            let allow = if request.path == "/observe/log-level" {
                "GET, HEAD, PUT, DELETE, OPTIONS"
            } else {
                "GET, HEAD, OPTIONS"
            };
            return AdminResponse {
                status: 204,
                headers: vec![
                    ("allow", allow.into()),
                    ("cache-control", "no-store".into()),
                ],
                body: Vec::new(),
            };
        }
        match request.path {
            SCRIPT_PATH if read => AdminResponse {
                status: 200,
                headers: vec![
                    ("content-type", "text/javascript; charset=utf-8".into()),
                    ("cache-control", "no-store".into()),
                    ("x-content-type-options", "nosniff".into()),
                ],
                body: SCRIPT.as_bytes().to_vec(),
            },
            "/health/live" if read => AdminResponse::json(200, &json!({"status": "up"})),
            "/health/ready" if read => {
                let readiness = observe.readiness().await;
                let code = if readiness.ready() { 200 } else { 503 };
                AdminResponse::json(code, &status::health(&readiness))
            }
            "/observe" | "/observe/" if read => AdminResponse {
                status: 200,
                headers: vec![
                    ("content-type", "text/html; charset=utf-8".into()),
                    ("cache-control", "no-store".into()),
                    ("content-security-policy", PAGE_POLICY.into()),
                    ("x-content-type-options", "nosniff".into()),
                    ("referrer-policy", "no-referrer".into()),
                ],
                body: PAGE.as_bytes().to_vec(),
            },
            "/observe/api/status" if read => {
                let Some(console) = observe.families().console.get() else {
                    return AdminResponse::error(500, "the console is not set up");
                };
                // As the probes do: a check runs at most once per interval.
                let readiness = observe.readiness().await;
                let value = status::status(
                    observe.families(),
                    console,
                    &readiness,
                    observe.requests_in_flight(),
                );
                AdminResponse::json(200, &value)
            }
            "/observe/log-level" if read => AdminResponse::json(200, &status::log_level()),
            "/observe/api/slos" if read => match &self.inner.config.slos {
                Some(document) => AdminResponse::json(200, document),
                None => AdminResponse::error(
                    404,
                    "no SLOs: this service gave none to its admin listener (AdminConfig::slos)",
                ),
            },
            "/observe/log-level" if matches!(request.method, "PUT" | "DELETE") => {
                self.write_level(&request)
            }
            #[cfg(feature = "profiling")]
            PROFILE_PATH if request.method == "GET" => self.profile(&request).await,
            #[cfg(feature = "profiling")]
            PROFILE_PATH => {
                AdminResponse::error(405, "method not allowed: GET only").with("allow", "GET")
            }
            #[cfg(not(feature = "profiling"))]
            PROFILE_PATH => AdminResponse::error(
                404,
                "no CPU profiles: this service is built without observe-core's `profiling` feature",
            ),
            "/metrics" if read => {
                // Rendered inline: a framework crate with a blocking pool
                // answers it there instead (see `is_metrics`).
                let scrape = observe.scrape(request.accept);
                AdminResponse {
                    status: 200,
                    headers: vec![("content-type", scrape.content_type.into())],
                    body: scrape.body,
                }
            }
            "/metrics"
            | "/health/live"
            | "/health/ready"
            | "/observe"
            | "/observe/"
            | SCRIPT_PATH
            | "/observe/api/status"
            | "/observe/api/slos" => {
                AdminResponse::error(405, "method not allowed: GET only").with("allow", "GET, HEAD")
            }
            "/observe/log-level" => {
                AdminResponse::error(405, "method not allowed: GET, PUT or DELETE")
                    .with("allow", "GET, HEAD, PUT, DELETE")
            }
            _ => AdminResponse::error(
                404,
                &format!(
                    "not found: the admin listener serves {}",
                    Self::PATHS.join(", ")
                ),
            ),
        }
    }

    /// PUT or DELETE `/observe/log-level`: proof of intent (a loopback or
    /// configured `Host`, no foreign `Origin`, a JSON body), then the
    /// token, then the body's size. Every refusal is counted and audited.
    fn write_level(&self, request: &AdminRequest<'_>) -> AdminResponse {
        if let Err(reason) = intent::check(request, self.inner.config.addr) {
            return self.refuse(request, 403, reason);
        }
        if request.method == "PUT" && !intent::is_json(request.content_type) {
            return self.refuse(
                request,
                415,
                "a log-level change is a JSON body: send Content-Type: application/json",
            );
        }
        let who = match auth::check(self.inner.config.token.as_ref(), request.authorization) {
            Ok(who) => who,
            Err(denied) => {
                return self
                    .refuse(request, 401, denied)
                    .with("www-authenticate", "Bearer realm=\"observe\"");
            }
        };
        if request.body.len() > MAX_BODY_BYTES {
            return self.refuse(request, 413, &format!("body over {MAX_BODY_BYTES} bytes"));
        }
        let changed_by = match request.peer {
            Some(peer) => format!("{who}, peer {peer}"),
            None => who.to_string(),
        };
        let answer = level::write(request.method, request.body, &changed_by);
        if answer.status >= 400 {
            let reason = serde_json::from_slice::<Value>(&answer.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_default();
            audit_refusal(request, answer.status, &reason);
        }
        answer
    }

    /// GET `/debug/pprof/profile`: guarded like a write (the token when
    /// there is one, else proof of intent), then one profile at a time.
    #[cfg(feature = "profiling")]
    async fn profile(&self, request: &AdminRequest<'_>) -> AdminResponse {
        use crate::profile;

        match &self.inner.config.token {
            Some(_) => {
                if let Err(denied) =
                    auth::check(self.inner.config.token.as_ref(), request.authorization)
                {
                    return self
                        .refuse(request, 401, denied)
                        .with("www-authenticate", "Bearer realm=\"observe\"");
                }
            }
            None => {
                if let Err(reason) = intent::check(request, self.inner.config.addr) {
                    return self.refuse(request, 403, reason);
                }
            }
        }
        let settings = match ProfileQuery::parse(request.query.unwrap_or("")) {
            Ok(settings) => settings,
            Err(reason) => return AdminResponse::error(400, &reason),
        };
        let started = std::time::Instant::now();
        let taken = profile::cpu(
            std::time::Duration::from_secs(settings.seconds),
            settings.hz,
        )
        .await;
        let profile = match taken {
            Ok(profile) => profile,
            Err(busy @ profile::ProfileError::Busy) => {
                return AdminResponse::error(409, &busy.to_string());
            }
            Err(error) => {
                tracing::warn!(target: ADMIN_TARGET, error = %error, "CPU profile failed");
                return AdminResponse::error(500, &error.to_string());
            }
        };
        let peer = request.peer.map(|p| p.to_string()).unwrap_or_default();
        tracing::info!(
            target: ADMIN_TARGET,
            peer,
            seconds = settings.seconds,
            hz = settings.hz,
            samples = profile.samples(),
            took_ms = started.elapsed().as_millis() as u64,
            "CPU profile taken"
        );
        if settings.svg {
            return AdminResponse {
                status: 200,
                headers: vec![
                    ("content-type", "image/svg+xml".into()),
                    ("cache-control", "no-store".into()),
                    (
                        "content-security-policy",
                        "default-src 'none'; style-src 'unsafe-inline'".into(),
                    ),
                    ("x-content-type-options", "nosniff".into()),
                ],
                body: profile.flame_graph().into_bytes(),
            };
        }
        AdminResponse {
            status: 200,
            headers: vec![
                ("content-type", "application/octet-stream".into()),
                (
                    "content-disposition",
                    "attachment; filename=\"profile.pb.gz\"".into(),
                ),
                ("cache-control", "no-store".into()),
                ("x-content-type-options", "nosniff".into()),
            ],
            body: profile.pprof(),
        }
    }

    /// Answers `status` with `reason`, written as an audit line that no
    /// log filter silences; a refusal for want of authority (400 for two
    /// `Authorization` headers, 401, 403) is also counted in
    /// `observe_admin_unauthorized_total`.
    fn refuse(&self, request: &AdminRequest<'_>, status: u16, reason: &str) -> AdminResponse {
        if matches!(status, 400 | 401 | 403)
            && let Some(console) = self.inner.observe.families().console.get()
        {
            console.count_unauthorized();
        }
        audit_refusal(request, status, reason);
        AdminResponse::error(status, reason)
    }
}

/// The audit line of a refused admin request.
fn audit_refusal(request: &AdminRequest<'_>, status: u16, reason: &str) {
    let peer = request.peer.map(|p| p.to_string()).unwrap_or_default();
    let status = status.to_string();
    let fields: [(&str, &str); 5] = [
        ("peer", &peer),
        ("http.request.method", request.method),
        ("url.path", request.path),
        ("http.response.status_code", &status),
        ("reason", reason),
    ];
    #[cfg(feature = "logging")]
    crate::signals::logging::audit::audit(ADMIN_TARGET, "admin request refused", &fields);
    #[cfg(not(feature = "logging"))]
    tracing::warn!(target: ADMIN_TARGET, ?fields, "admin request refused");
}

#[cfg(feature = "logging")]
mod level {
    use serde_json::Value;

    use super::{AdminResponse, status};
    use crate::signals::logging::{
        DEFAULT_REVERT_AFTER, LevelError, parse_revert_after, reset_log_level, set_log_level,
    };

    /// The body of a PUT: `{"directives": "...", "revert_after": "15m"}`.
    pub(super) fn write(method: &str, body: &[u8], changed_by: &str) -> AdminResponse {
        if method == "DELETE" {
            return match reset_log_level(changed_by) {
                Ok(_) => AdminResponse::json(200, &status::log_level()),
                Err(e) => refused(&e),
            };
        }
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return AdminResponse::error(
                400,
                "expected a JSON object {\"directives\": \"info,shop=debug\", \"revert_after\": \"15m\"}",
            );
        };
        let Some(directives) = body.get("directives").and_then(Value::as_str) else {
            return AdminResponse::error(
                400,
                "missing \"directives\": a string such as \"info,shop=debug\"",
            );
        };
        let revert_after = match body.get("revert_after") {
            None | Some(Value::Null) => DEFAULT_REVERT_AFTER,
            Some(Value::String(text)) => match parse_revert_after(text) {
                Some(duration) => duration,
                None => return refused(&LevelError::RevertAfter(text.chars().take(50).collect())),
            },
            Some(_) => return refused(&LevelError::RevertAfter("(not a string)".into())),
        };
        match set_log_level(directives, revert_after, changed_by) {
            Ok(_) => AdminResponse::json(200, &status::log_level()),
            Err(e) => refused(&e),
        }
    }

    fn refused(error: &LevelError) -> AdminResponse {
        let code = match error {
            LevelError::NotInstalled => 409,
            _ => 400,
        };
        AdminResponse::error(code, &error.to_string())
    }
}

#[cfg(not(feature = "logging"))]
mod level {
    use super::AdminResponse;

    /// Without observe's logging there is no filter to change.
    pub(super) fn write(_method: &str, _body: &[u8], _changed_by: &str) -> AdminResponse {
        AdminResponse::error(
            409,
            "observe's logging is not built in (the `logging` feature): nothing to change",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &'static str) -> AdminRequest<'static> {
        AdminRequest {
            method: "GET",
            path,
            query: None,
            authorization: None,
            authorization_headers: 0,
            host: Some("127.0.0.1"),
            origin: None,
            content_type: None,
            accept: None,
            peer: None,
            body: b"",
        }
    }

    fn header<'r>(response: &'r AdminResponse, name: &str) -> Option<&'r str> {
        response
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every reason observe gives for a refusal reaches the audit line as
    /// it was written: the redactor must find nothing in it to rewrite (a
    /// reason reading `Bearer <token>` became `Bearer [REDACTED]`).
    #[tokio::test]
    async fn refusal_reasons_survive_the_redactor() {
        let observe = Observe::builder().build().expect("default settings");
        let addr: SocketAddr = "127.0.0.1:9464".parse().expect("an address");
        let config = AdminConfig::new(addr)
            .token("0123456789abcdef-token")
            .expect("a valid token");
        let admin = Admin::new(&observe, config).expect("loopback");
        let put = |authorization: Option<&'static [u8]>| AdminRequest {
            method: "PUT",
            authorization,
            content_type: Some("application/json"),
            body: br#"{"directives": "debug"}"#,
            ..get("/observe/log-level")
        };
        let big = [b' '; MAX_BODY_BYTES + 1];
        let requests = [
            put(None),
            put(Some(b"Basic dXNlcjpwYXNz")),
            put(Some(b"Bearer wrong-token-0123456789")),
            AdminRequest {
                authorization_headers: 2,
                ..put(Some(b"Bearer 0123456789abcdef-token"))
            },
            AdminRequest {
                host: Some("evil.example:9464"),
                ..put(None)
            },
            AdminRequest {
                host: None,
                ..put(None)
            },
            AdminRequest {
                origin: Some("http://evil.example:9464"),
                ..put(None)
            },
            AdminRequest {
                content_type: Some("text/plain"),
                ..put(None)
            },
            AdminRequest {
                body: &big,
                ..put(Some(b"Bearer 0123456789abcdef-token"))
            },
        ];
        let redactor = observe_redact::Redactor::default();
        let mut statuses = Vec::new();
        for request in requests {
            let answer = admin.handle(request).await;
            statuses.push(answer.status);
            let body: Value = serde_json::from_slice(&answer.body).expect("JSON");
            let reason = body["error"].as_str().expect("an error");
            assert_eq!(redactor.redact_field("reason", reason), reason);
        }
        assert_eq!(statuses, [401, 401, 401, 400, 403, 403, 403, 415, 413]);
    }

    #[tokio::test]
    async fn the_slos_are_served_as_given_or_404() {
        let observe = Observe::builder().build().expect("default settings");
        let addr = "127.0.0.1:0".parse().expect("an address");
        let document = json!({"service": "shop", "slos": [{"name": "a", "objective": 0.999}]});
        let admin = Admin::new(&observe, AdminConfig::new(addr).slos(document.clone()))
            .expect("loopback needs no token");
        let response = admin.handle(get("/observe/api/slos")).await;
        assert_eq!(response.status, 200);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        let body: Value = serde_json::from_slice(&response.body).expect("JSON");
        assert_eq!(body, document);

        let put = AdminRequest {
            method: "PUT",
            ..get("/observe/api/slos")
        };
        assert_eq!(admin.handle(put).await.status, 405);

        let without = Admin::new(&observe, AdminConfig::new(addr)).expect("loopback");
        let response = without.handle(get("/observe/api/slos")).await;
        assert_eq!(response.status, 404);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&response.body).expect("JSON");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("AdminConfig::slos")),
            "{body}"
        );
        // Listed where an unknown path is answered.
        let response = without.handle(get("/nope")).await;
        assert!(
            String::from_utf8_lossy(&response.body).contains("/observe/api/slos"),
            "{response:?}"
        );
    }
}
