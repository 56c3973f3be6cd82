//! Framework-free core of **observe**: the HTTP server metrics of the
//! OpenTelemetry semantic conventions, their exposition for Prometheus, and
//! the request recording every framework crate shares.
//!
//! A framework crate (`observe-tower`, `observe-axum`, `observe-actix`)
//! translates its request and response into calls on a [`RequestTracker`];
//! everything that decides names, labels and values lives here, once.
//!
//! ```
//! use observe_core::{Format, Observe};
//!
//! let observe = Observe::builder()
//!     .service_name("shop")
//!     .exclude_route("/health")
//!     .const_label("region", "eu-west-1")
//!     .build()?;
//!
//! let mut request = observe.start_request("GET", Some("/users/{id}"));
//! request.response(200);
//! request.finish();
//!
//! let text = observe.render(Format::Text);
//! assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\""));
//! # Ok::<(), observe_core::BuildError>(())
//! ```
//!
//! # Metrics
//! | name | type | labels |
//! |---|---|---|
//! | `http_server_request_duration_seconds` | histogram | `http_request_method`, `http_route`, `http_response_status_code`, `error_type` (failures only) |
//! | `http_server_request_body_size_bytes` | histogram | same |
//! | `http_server_response_body_size_bytes` | histogram | same |
//! | `http_server_active_requests` | gauge | `http_request_method` |
//! | `target_info` | info | `service_name`, `service_version` |
//!
//! Label values are bounded by construction: see [`labels`].
//!
//! # The rest of the set-up
//! - [`logging`]: `observe.logging().init()`, JSON lines, redaction, the
//!   per-request event ([`analytics`]);
//! - [`errors`]: `observe.errors().init()`, Sentry;
//! - [`trace`]: `observe.tracing().init()`, OpenTelemetry spans, W3C trace
//!   context, exemplars;
//! - [`slo`]: Prometheus rules and a Grafana dashboard from code;
//! - [`app`] and [`context`]: application metrics recorded per route.

pub mod analytics;
pub mod app;
pub mod context;
pub mod errors;
pub mod exposition;
pub mod logging;
pub mod metrics;
mod queue;
pub mod request;
pub mod slo;
pub mod trace;

use std::borrow::Cow;
use std::fmt::Write;
use std::sync::{Arc, RwLock};

use prometheus_client::registry::Registry;

pub use app::{
    Cache, CacheResult, CounterFamily, DEFAULT_SERIES_LIMIT, Dependency, Gauge, MetricError,
    StateSet, States,
};
pub use context::{RequestContext, add_event_field, in_current_request};
pub use exposition::{Format, Scrape, negotiate};
pub use metrics::labels;
pub use metrics::{DEFAULT_DURATION_BUCKETS, DEFAULT_SIZE_BUCKETS};
pub use request::{BodyRecorder, RequestTracker, RouteCache, request_body_size};

use metrics::HttpMetrics;
use metrics::labels::{MAX_EXTRA_METHODS, STANDARD_METHODS, is_method_token, is_valid_label_name};

/// Installs rustls' `ring` crypto provider as the process default, unless
/// one is installed already; safe to call more than once.
///
/// observe builds `reqwest` with rustls but without a default provider
/// (`ring` builds faster and smaller than `aws-lc-rs`). Error tracking and
/// trace export call this before their first connection. Because Cargo
/// unifies features, a `reqwest` client built by the application without
/// its own TLS features then needs a provider too: call this first.
pub fn install_crypto_provider() {
    // An error means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Label names observe sets itself; a constant label may not reuse them.
const RESERVED_LABELS: [&str; 11] = [
    "http_request_method",
    "http_route",
    "http_response_status_code",
    "error_type",
    "le",
    "service_name",
    "service_version",
    "git_commit",
    "cache",
    "dependency",
    "metric",
];

/// Default for [`ObserveBuilder::max_routes`].
pub const DEFAULT_MAX_ROUTES: usize = 1000;

/// One observability setup: owns its metric registry and settings. Cheap to
/// clone (a reference count); clones share everything.
///
/// There is no global state: two `Observe` values in one process (two
/// servers, parallel tests) never see each other's series.
#[derive(Clone, Debug)]
pub struct Observe {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service_name: String,
    service_version: Option<String>,
    /// Constant labels pre-rendered as `,name="value"...` once at build time.
    const_labels: String,
    git_commit: Option<String>,
    http: HttpMetrics,
    app: app::AppMetrics,

    registry: RwLock<Registry>,
}

impl Observe {
    /// A builder with production-safe defaults.
    pub fn builder() -> ObserveBuilder {
        ObserveBuilder::default()
    }

    /// The service name (`target_info{service_name}`).
    pub fn service_name(&self) -> &str {
        &self.inner.service_name
    }

    /// Gives access to the prometheus-client [`Registry`] that is rendered
    /// after observe's own families in `/metrics`, for the service's own
    /// metrics. Constant labels of the builder apply to them too.
    ///
    /// ```
    /// use prometheus_client::metrics::counter::Counter;
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// let orders = Counter::<u64>::default();
    /// observe.with_registry(|r| r.register("shop_orders", "Orders placed", orders.clone()));
    /// orders.inc();
    /// assert!(observe.render(observe_core::Format::Text).contains("shop_orders_total 1"));
    /// ```
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut registry = self
            .inner
            .registry
            .write()
            .unwrap_or_else(|p| p.into_inner());
        f(&mut registry)
    }
}

/// Errors from [`ObserveBuilder::build`]; each names the bad value and what
/// is accepted.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum BuildError {
    /// Bucket bounds must be finite and strictly increasing.
    #[error(
        "invalid {which} buckets {bounds:?}: expected a non-empty list of finite numbers in strictly increasing order"
    )]
    Buckets {
        /// Which histogram the buckets were for.
        which: &'static str,
        /// The bounds given.
        bounds: Vec<f64>,
    },
    /// A constant label name is not a valid Prometheus label name, or is one
    /// observe sets itself.
    #[error(
        "invalid constant label name {0:?}: expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with \"__\" and not one of {RESERVED_LABELS:?}"
    )]
    LabelName(String),
    /// An extra method is not an HTTP token or is already standard.
    #[error(
        "invalid extra HTTP method {0:?}: expected an HTTP token of 1 to 32 characters that is not one of {STANDARD_METHODS:?}"
    )]
    Method(String),
    /// Too many extra methods.
    #[error("too many extra HTTP methods ({0}): at most {MAX_EXTRA_METHODS} are accepted")]
    TooManyMethods(usize),
    /// The service name is empty.
    #[error("invalid service name \"\": expected a non-empty name such as \"shop\"")]
    ServiceName,
    /// `max_routes` is zero.
    #[error("invalid max_routes 0: expected at least 1 (default {DEFAULT_MAX_ROUTES})")]
    MaxRoutes,
    /// `series_limit` is zero.
    #[error("invalid series_limit 0: expected at least 1 (default {DEFAULT_SERIES_LIMIT})")]
    SeriesLimit,
}

/// Builds an [`Observe`]. Zero configuration is production-safe: bounded
/// labels, OpenTelemetry's advisory buckets, no route excluded.
#[derive(Debug, Clone)]
pub struct ObserveBuilder {
    service_name: Option<String>,
    service_version: Option<String>,
    duration_buckets: Vec<f64>,
    size_buckets: Vec<f64>,
    excluded_routes: Vec<String>,
    const_labels: Vec<(String, String)>,
    extra_methods: Vec<String>,
    max_routes: usize,
    series_limit: usize,
    git_commit: Option<String>,
}

impl Default for ObserveBuilder {
    fn default() -> Self {
        Self {
            service_name: None,
            service_version: None,
            duration_buckets: DEFAULT_DURATION_BUCKETS.to_vec(),
            size_buckets: DEFAULT_SIZE_BUCKETS.to_vec(),
            excluded_routes: Vec::new(),
            const_labels: Vec::new(),
            extra_methods: Vec::new(),
            max_routes: DEFAULT_MAX_ROUTES,
            series_limit: DEFAULT_SERIES_LIMIT,
            git_commit: None,
        }
    }
}

impl ObserveBuilder {
    /// The service name. Defaults to `OTEL_SERVICE_NAME` when set, else
    /// `unknown_service` (the OpenTelemetry default).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The service version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Bucket bounds in seconds for `http_server_request_duration_seconds`.
    /// Defaults to [`DEFAULT_DURATION_BUCKETS`].
    pub fn duration_buckets(mut self, bounds: impl IntoIterator<Item = f64>) -> Self {
        self.duration_buckets = bounds.into_iter().collect();
        self
    }

    /// Bucket bounds in bytes for the body size histograms. Defaults to
    /// [`DEFAULT_SIZE_BUCKETS`].
    pub fn size_buckets(mut self, bounds: impl IntoIterator<Item = f64>) -> Self {
        self.size_buckets = bounds.into_iter().collect();
        self
    }

    /// Leaves a route out of the request histograms, by its template as the
    /// framework names it (`/health`, `/metrics`). Can be repeated. Its
    /// requests still count in `http_server_active_requests`, which measures
    /// load (and which not every framework can attribute to a route before
    /// the handler runs).
    pub fn exclude_route(mut self, route: impl Into<String>) -> Self {
        self.excluded_routes.push(route.into());
        self
    }

    /// Adds a label with a fixed value to every series (observe's and the
    /// registry's). Can be repeated.
    pub fn const_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.const_labels.push((name.into(), value.into()));
        self
    }

    /// Records this method under its own name instead of `_OTHER` (e.g.
    /// `PROPFIND` for WebDAV). Can be repeated, up to 32 methods.
    pub fn extra_method(mut self, method: impl Into<String>) -> Self {
        self.extra_methods.push(method.into());
        self
    }

    /// The most distinct `http_route` values kept (default
    /// [`DEFAULT_MAX_ROUTES`]). Further routes are recorded as
    /// [`labels::OVERFLOW_ROUTE`] and counted in
    /// `observe_series_overflow_total{metric="http_server_request_duration_seconds"}`:
    /// a guard against a route classifier that leaks raw paths.
    pub fn max_routes(mut self, max: usize) -> Self {
        self.max_routes = max;
        self
    }

    /// The most series each family observe owns may have (default
    /// [`DEFAULT_SERIES_LIMIT`]): cache and dependency metrics and
    /// [`Observe::counter_family`]. Past it, new label sets share one
    /// `_OVERFLOW` series and `observe_series_overflow_total{metric}` counts
    /// them. The HTTP families are bounded by [`max_routes`](Self::max_routes).
    pub fn series_limit(mut self, limit: usize) -> Self {
        self.series_limit = limit;
        self
    }

    /// The git commit the service was built from, for `target_info`, so a
    /// dashboard can tell a canary from the stable version. When empty or
    /// not given, `OBSERVE_GIT_COMMIT` is used if set.
    pub fn git_commit(mut self, commit: impl Into<String>) -> Self {
        self.git_commit = Some(commit.into());
        self
    }

    /// Validates the settings and builds the [`Observe`].
    pub fn build(self) -> Result<Observe, BuildError> {
        check_buckets("duration", &self.duration_buckets)?;
        check_buckets("size", &self.size_buckets)?;
        if self.extra_methods.len() > MAX_EXTRA_METHODS {
            return Err(BuildError::TooManyMethods(self.extra_methods.len()));
        }
        if let Some(bad) = self
            .extra_methods
            .iter()
            .find(|m| !is_method_token(m) || STANDARD_METHODS.contains(&m.as_str()))
        {
            return Err(BuildError::Method(bad.clone()));
        }
        if self.max_routes == 0 {
            return Err(BuildError::MaxRoutes);
        }
        if self.series_limit == 0 {
            return Err(BuildError::SeriesLimit);
        }
        let mut const_labels = String::new();
        for (name, value) in &self.const_labels {
            if !is_valid_label_name(name) || RESERVED_LABELS.contains(&name.as_str()) {
                return Err(BuildError::LabelName(name.clone()));
            }
            let _ = write!(const_labels, ",{name}=\"");
            exposition::escape_label_value(&mut const_labels, value);
            const_labels.push('"');
        }
        let service_name = self
            .service_name
            .or_else(|| std::env::var("OTEL_SERVICE_NAME").ok())
            .unwrap_or_else(|| "unknown_service".to_string());
        if service_name.is_empty() {
            return Err(BuildError::ServiceName);
        }
        let registry = Registry::with_labels(
            self.const_labels
                .into_iter()
                .map(|(n, v)| (Cow::Owned(n), Cow::Owned(v))),
        );
        let git_commit = self
            .git_commit
            .filter(|c| !c.is_empty())
            .or_else(|| std::env::var("OBSERVE_GIT_COMMIT").ok())
            .filter(|c| !c.is_empty());
        Ok(Observe {
            inner: Arc::new(Inner {
                service_name,
                service_version: self.service_version,
                const_labels,
                git_commit,
                app: app::AppMetrics::new(self.series_limit, &self.duration_buckets),

                http: HttpMetrics::new(
                    &self.extra_methods,
                    self.duration_buckets,
                    self.size_buckets,
                    &self.excluded_routes,
                    self.max_routes,
                ),
                registry: RwLock::new(registry),
            }),
        })
    }
}

fn check_buckets(which: &'static str, bounds: &[f64]) -> Result<(), BuildError> {
    let ok = !bounds.is_empty()
        && bounds.iter().all(|b| b.is_finite())
        && bounds.windows(2).all(|w| w[0] < w[1]);
    if ok {
        Ok(())
    } else {
        Err(BuildError::Buckets {
            which,
            bounds: bounds.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_the_value() {
        let err = Observe::builder()
            .duration_buckets([1.0, 0.5])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("[1.0, 0.5]"), "{err}");
        let err = Observe::builder()
            .const_label("http_route", "x")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("\"http_route\""), "{err}");
        let err = Observe::builder().extra_method("GET").build().unwrap_err();
        assert_eq!(err, BuildError::Method("GET".into()));
        let err = Observe::builder()
            .extra_method("BAD METHOD")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("\"BAD METHOD\""));
        assert_eq!(
            Observe::builder().max_routes(0).build().unwrap_err(),
            BuildError::MaxRoutes
        );
    }

    #[test]
    fn instances_do_not_share_series() {
        let a = Observe::builder().build().unwrap();
        let b = Observe::builder().build().unwrap();
        let mut t = a.start_request("GET", Some("/only-a"));
        t.response(200);
        t.finish();
        assert!(a.render(Format::Text).contains("/only-a"));
        assert!(!b.render(Format::Text).contains("/only-a"));
    }

    #[test]
    fn excluded_route_records_nothing() {
        let o = Observe::builder().exclude_route("/health").build().unwrap();
        let mut t = o.start_request("GET", Some("/health"));
        t.response(200);
        t.finish();
        assert!(!o.render(Format::Text).contains("/health"));
    }

    #[test]
    fn drop_is_cancelled_and_panic_is_500() {
        let o = Observe::builder().build().unwrap();
        drop(o.start_request("GET", Some("/slow")));
        o.start_request("GET", Some("/boom")).panicked();
        let text = o.render(Format::Text);
        assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"499\",http_route=\"/slow\",error_type=\"cancelled\"} 1"), "{text}");
        assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"500\",http_route=\"/boom\",error_type=\"panic\"} 1"), "{text}");
        assert!(
            text.contains("http_server_active_requests{http_request_method=\"GET\"} 0"),
            "{text}"
        );
    }
}
