//! [`ObserveBuilder`]: the settings of one `Observe`, validated once.

use std::borrow::Cow;
use std::fmt::Write;
use std::sync::RwLock;

use prometheus_client::registry::Registry;

use super::{Observe, Settings};
use crate::base::resource;
use crate::base::sampling::EventSampling;
use crate::base::service::Service;
use crate::base::time::unix_now;
use crate::encoding::escape_label_value;
use crate::metrics::app::DEFAULT_SERIES_LIMIT;
use crate::metrics::labels::{
    MAX_EXTRA_METHODS, STANDARD_METHODS, is_method_token, is_valid_label_name,
};
use crate::metrics::request_labels::{
    Classifier, DEFAULT_HTTP_LABEL_VALUES, HttpLabels, LabelRequest, MAX_HTTP_LABEL_VALUES,
    MAX_HTTP_LABELS,
};
use crate::metrics::{
    AppMetrics, DEFAULT_DURATION_BUCKETS, DEFAULT_SIZE_BUCKETS, Families, HttpMetrics,
};
use observe_redact::Redactor;

mod identity;
mod native;

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

/// Default for [`ObserveBuilder::request_id_header`].
pub const DEFAULT_REQUEST_ID_HEADER: &str = "x-request-id";

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
    /// A request-derived label name is invalid, reserved, a constant
    /// label's, or declared twice.
    #[error(
        "invalid http label {name:?}: {reason}; expected a name [a-zA-Z_][a-zA-Z0-9_]* that is not one of {RESERVED_LABELS:?}, a constant label or another http label"
    )]
    HttpLabel {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More than [`MAX_HTTP_LABELS`] request-derived labels.
    #[error(
        "too many http labels ({0}): at most {MAX_HTTP_LABELS}, as each multiplies the HTTP series"
    )]
    TooManyHttpLabels(usize),
    /// `http_label_values` out of range.
    #[error(
        "invalid http_label_values {0}: expected 1 to {MAX_HTTP_LABEL_VALUES} (default {DEFAULT_HTTP_LABEL_VALUES})"
    )]
    HttpLabelValues(usize),
    /// `series_limit` is zero.
    #[error("invalid series_limit 0: expected at least 1 (default {DEFAULT_SERIES_LIMIT})")]
    SeriesLimit,
    /// A tail-sampling setting is out of range.
    #[error("invalid {name}={value:?}: expected {expected}")]
    EventSampling {
        /// The variable (or builder method).
        name: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// `OBSERVE_NATIVE_HISTOGRAMS` is neither on nor off.
    #[error(
        "invalid {variable}={0:?}: expected 1 or true (native histograms on), 0 or false (off), or unset",
        variable = native::VARIABLE
    )]
    NativeHistograms(String),
    /// The request id header is not a valid lowercase header name.
    #[error(
        "invalid request id header {0:?}: expected a header name of 1 to 64 lowercase letters, digits and '-' (e.g. \"x-request-id\")"
    )]
    RequestIdHeader(String),
    /// A resource attribute cannot become a `target_info` label: malformed,
    /// a key a label cannot hold, or one that would collide with a label
    /// `target_info` already has.
    #[error("invalid resource attribute {entry:?} in {from}: {reason}; expected {accepted}", accepted = resource::ACCEPTED)]
    ResourceAttribute {
        /// Where it came from: `OTEL_RESOURCE_ATTRIBUTES` or
        /// `ObserveBuilder::resource_attribute`.
        from: &'static str,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
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
    redactor: Redactor,
    request_id_header: String,
    catch_panics: bool,
    event_sampling: Option<EventSampling>,
    resource_attributes: Vec<(String, String)>,
    native_histograms: bool,
    http_labels: Vec<HttpLabelSpec>,
    http_label_values: usize,
}

/// A declared request-derived label and its classifier, if any.
#[derive(Clone)]
struct HttpLabelSpec {
    name: String,
    classifier: Option<Classifier>,
}

impl std::fmt::Debug for HttpLabelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLabel")
            .field("name", &self.name)
            .field("classifier", &self.classifier.is_some())
            .finish()
    }
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
            redactor: Redactor::default(),
            request_id_header: DEFAULT_REQUEST_ID_HEADER.to_string(),
            catch_panics: true,
            event_sampling: None,
            resource_attributes: Vec::new(),
            native_histograms: false,
            http_labels: Vec::new(),
            http_label_values: DEFAULT_HTTP_LABEL_VALUES,
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
    /// [`labels::OVERFLOW_ROUTE`](crate::labels::OVERFLOW_ROUTE) and counted in
    /// `observe_series_overflow_total{metric="http_server_request_duration_seconds"}`:
    /// a guard against a route classifier that leaks raw paths.
    pub fn max_routes(mut self, max: usize) -> Self {
        self.max_routes = max;
        self
    }

    /// Declares a request-derived label (tenant, plan, client kind) on the
    /// HTTP duration and size families, on axum, actix-web and tower alike:
    /// at most [`MAX_HTTP_LABELS`], as each multiplies the series. Handler
    /// code sets its value with
    /// [`set_http_label`](crate::context::set_http_label), which wins over
    /// a classifier ([`http_label_fn`](Self::http_label_fn)); a request
    /// that sets none is recorded with `_NONE`.
    ///
    /// ```
    /// let observe = observe_core::Observe::builder()
    ///     .http_label("plan") // set by handler code
    ///     .http_label_fn("client", |request| { // set before the handler
    ///         Some(match request.header("x-client-kind")? {
    ///             "ios" | "android" => "mobile",
    ///             "web" => "web",
    ///             _ => "other",
    ///         }.to_string())
    ///     })
    ///     .build()?;
    /// // In a handler, once the tenant's plan is known:
    /// // observe_core::context::set_http_label("plan", &tenant.plan)?;
    /// # Ok::<(), observe_core::BuildError>(())
    /// ```
    ///
    /// ```text
    /// http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/users/{id}",plan="pro",client="mobile"} 12
    /// ```
    ///
    /// Values are bounded: each label takes at most
    /// [`http_label_values`](Self::http_label_values) (default
    /// [`DEFAULT_HTTP_LABEL_VALUES`]) distinct values, in the order they
    /// come; past that a new value becomes `_OVERFLOW` and
    /// `observe_http_label_overflow_total{label}` counts it (alert on
    /// `> 0`). Values are cut at
    /// [`MAX_HTTP_LABEL_VALUE_LEN`](crate::MAX_HTTP_LABEL_VALUE_LEN) bytes.
    /// The request event carries them (`"labels": {"plan": "pro", "client":
    /// "mobile"}`) and so does the server span (attributes `plan`,
    /// `client`). An invalid, reserved (`http_*`, `error_type`, `le`, ...),
    /// duplicate or constant-label name fails [`build`](Self::build),
    /// naming it; `set_http_label` outside a request, or with an
    /// undeclared name, returns an error and changes nothing.
    ///
    /// Cost: one atomic store per `set_http_label`; with a classifier, the
    /// header list is read once per request (bench/README.md).
    pub fn http_label(mut self, name: impl Into<String>) -> Self {
        self.http_labels.push(HttpLabelSpec {
            name: name.into(),
            classifier: None,
        });
        self
    }

    /// Declares a request-derived label whose value a classifier of the
    /// request gives (before the handler runs; handler code may still set
    /// it). Return `None` to leave it `_NONE`. Map what you read to a few
    /// known values: the label's value limit guards the series, but with a
    /// raw header the values kept are whatever came first.
    ///
    /// ```
    /// let observe = observe_core::Observe::builder()
    ///     .http_label_fn("client", |request| {
    ///         let kind = match request.header("x-client-kind")? {
    ///             "ios" | "android" => "mobile",
    ///             "web" => "web",
    ///             _ => "other",
    ///         };
    ///         Some(kind.to_string())
    ///     })
    ///     .build()?;
    /// # Ok::<(), observe_core::BuildError>(())
    /// ```
    pub fn http_label_fn<F>(mut self, name: impl Into<String>, classify: F) -> Self
    where
        F: Fn(&LabelRequest<'_>) -> Option<String> + Send + Sync + 'static,
    {
        self.http_labels.push(HttpLabelSpec {
            name: name.into(),
            classifier: Some(std::sync::Arc::new(classify)),
        });
        self
    }

    /// The most values each request-derived label may take (default
    /// [`DEFAULT_HTTP_LABEL_VALUES`], at most [`MAX_HTTP_LABEL_VALUES`]).
    pub fn http_label_values(mut self, values: usize) -> Self {
        self.http_label_values = values;
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

    /// The redactor every value this instance sends out goes through: log
    /// lines and request events of its requests, error events, span
    /// attributes. Default: [`Redactor::default`].
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The header a request's id is read from and echoed in (default
    /// `x-request-id`). An id another middleware already set in that
    /// header (tower-http's `SetRequestIdLayer` with the same name, a
    /// proxy) is used, not replaced; a response that already carries the
    /// header keeps its value.
    pub fn request_id_header(mut self, name: impl Into<String>) -> Self {
        self.request_id_header = name.into();
        self
    }

    /// Whether the framework crates catch a panicking handler and answer
    /// an empty 500 (default on). Turn it off when another layer outside
    /// observe's does (tower-http's `CatchPanicLayer`): the panic then
    /// unwinds through observe's middleware, which records it once as it
    /// passes (`error_type="panic"`, status 500), and the outer layer
    /// answers. (A catching layer *inside* observe's turns the panic into a
    /// 500 before observe sees it: recorded as that 500.)
    pub fn catch_panics(mut self, on: bool) -> Self {
        self.catch_panics = on;
        self
    }

    /// Tail sampling of request events (default: every event kept; without
    /// this call, `OBSERVE_EVENT_SAMPLE_RATIO` and `OBSERVE_EVENT_SLOW_MS`
    /// set it). Metrics always see every request.
    pub fn event_sampling(mut self, sampling: EventSampling) -> Self {
        self.event_sampling = Some(sampling);
        self
    }
    /// The declared request-derived labels, validated.
    fn http_labels(&self) -> Result<Vec<(String, Option<Classifier>)>, BuildError> {
        if self.http_labels.len() > MAX_HTTP_LABELS {
            return Err(BuildError::TooManyHttpLabels(self.http_labels.len()));
        }
        if !(1..=MAX_HTTP_LABEL_VALUES).contains(&self.http_label_values) {
            return Err(BuildError::HttpLabelValues(self.http_label_values));
        }
        let mut labels: Vec<(String, Option<Classifier>)> = Vec::new();
        for spec in &self.http_labels {
            let invalid = |reason| BuildError::HttpLabel {
                name: spec.name.chars().take(100).collect(),
                reason,
            };
            let name = spec.name.as_str();
            if !is_valid_label_name(name) {
                return Err(invalid("not a Prometheus label name"));
            }
            if RESERVED_LABELS.contains(&name) || name.starts_with("http_") {
                return Err(invalid("observe sets a label of that name itself"));
            }
            if self.const_labels.iter().any(|(n, _)| n == name) {
                return Err(invalid("a constant label has that name"));
            }
            if labels.iter().any(|(n, _)| n == name) {
                return Err(invalid("declared twice"));
            }
            labels.push((spec.name.clone(), spec.classifier.clone()));
        }
        Ok(labels)
    }

    /// Validates the settings and builds the [`Observe`].
    ///
    /// # The environment
    /// `build` reads these variables, and nothing else does for the
    /// metrics (each signal's `init` documents its own); a bad value fails
    /// the build with an error that names the variable and what it
    /// accepts:
    ///
    /// | variable | what | against the code |
    /// |---|---|---|
    /// | `OTEL_SERVICE_NAME` | the service name | the code's [`service_name`](Self::service_name) wins |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,...`: version, deployment track, ... (`target_info` labels) | the variable wins, but for `service.name` |
    /// | `OBSERVE_GIT_COMMIT` | the commit in `target_info` | the code's [`git_commit`](Self::git_commit) wins |
    /// | `OBSERVE_NATIVE_HISTOGRAMS` | `true`/`1` or `false`/`0` | the variable wins |
    /// | `OBSERVE_EVENT_SAMPLE_RATIO`, `OBSERVE_EVENT_SLOW_MS` | tail sampling of the request event | the code's [`event_sampling`](Self::event_sampling) wins |
    ///
    /// The variables a deploy sets (the version and track of a canary,
    /// native histograms for one Prometheus) win over code; those that
    /// name what the code is win where the code says.
    pub fn build(mut self) -> Result<Observe, BuildError> {
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
        if !is_header_name(&self.request_id_header) {
            return Err(BuildError::RequestIdHeader(self.request_id_header));
        }
        let native_histograms = self.native_histograms_setting()?;
        let event_sampling = match self.event_sampling {
            Some(sampling) => sampling,
            None => sampling_from_env()?,
        };
        let mut const_labels = String::new();
        for (name, value) in &self.const_labels {
            if !is_valid_label_name(name) || RESERVED_LABELS.contains(&name.as_str()) {
                return Err(BuildError::LabelName(name.clone()));
            }
            let _ = write!(const_labels, ",{name}=\"");
            escape_label_value(&mut const_labels, value);
            const_labels.push('"');
        }
        let http_labels = self.http_labels()?;
        let variable = std::env::var(resource::VARIABLE).ok();
        let identity =
            self.identity(variable.as_deref(), std::env::var("OTEL_SERVICE_NAME").ok())?;
        let service_name = identity.name;
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
        let mut http = HttpMetrics::new(
            &self.extra_methods,
            self.duration_buckets.clone(),
            self.size_buckets,
            &self.excluded_routes,
            self.max_routes,
            native_histograms,
        );
        http.labels = HttpLabels::new(http_labels, self.http_label_values, unix_now());
        let rpc = crate::metrics::rpc::RpcMetrics::new(&self.duration_buckets, self.max_routes);
        let families = Families {
            service: Service::new(
                service_name,
                identity.version,
                git_commit,
                identity.attributes,
                self.redactor,
            ),
            const_labels,
            app: AppMetrics::new(self.series_limit, &self.duration_buckets),
            http,
            rpc,
            registry: RwLock::new(registry),
            created: unix_now(),
            event_sampling,
            console: std::sync::OnceLock::new(),
            runtimes: Default::default(),
        };
        Ok(Observe::new(
            families,
            Settings {
                request_id_header: self.request_id_header,
                catch_panics: self.catch_panics,
                health: Default::default(),
            },
        ))
    }
}

/// Tail sampling from `OBSERVE_EVENT_SAMPLE_RATIO` (0 < r ≤ 1) and
/// `OBSERVE_EVENT_SLOW_MS`; every event when neither is set.
fn sampling_from_env() -> Result<EventSampling, BuildError> {
    let var = |name: &'static str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let ratio = match var("OBSERVE_EVENT_SAMPLE_RATIO") {
        None => return Ok(EventSampling::default()),
        Some(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| *r > 0.0 && *r <= 1.0)
            .ok_or(BuildError::EventSampling {
                name: "OBSERVE_EVENT_SAMPLE_RATIO",
                value: text,
                expected: "a ratio greater than 0 and at most 1, e.g. 0.1",
            })?,
    };
    let mut sampling = EventSampling::keep_ratio(ratio);
    if let Some(text) = var("OBSERVE_EVENT_SLOW_MS") {
        let ms = text
            .trim()
            .parse::<u64>()
            .map_err(|_| BuildError::EventSampling {
                name: "OBSERVE_EVENT_SLOW_MS",
                value: text.clone(),
                expected: "a whole number of milliseconds, e.g. 500",
            })?;
        sampling = sampling.slow_above(std::time::Duration::from_millis(ms));
    }
    Ok(sampling)
}

/// Whether `name` is a lowercase header token we accept for the request id.
fn is_header_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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
