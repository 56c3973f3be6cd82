//! The facade, the top layer: [`Observe`] and its builder. Every method a
//! user calls on an `Observe` is here and calls down into the layers; the
//! wiring between signals (ERROR lines to error tracking, the span layer
//! in logging's subscriber) happens here too.

mod builder;

use std::sync::Arc;

use prometheus_client::registry::Registry;

pub use builder::{BuildError, DEFAULT_MAX_ROUTES, DEFAULT_REQUEST_ID_HEADER, ObserveBuilder};

use crate::base::service::Service;
use crate::encoding::{Format, Scrape, negotiate_offering};
use crate::metrics::{CounterFamily, Families, Gauge, MetricError, StateSet, States};
use crate::request::{self, Cache, Dependency, RequestHead, RequestTracker, RouteCache};
use crate::signals::health::{Health, HealthCheck, HealthError, Readiness};

/// One observability setup: owns its metric registry and settings. Cheap to
/// clone (a reference count); clones share everything.
///
/// # Several services in one process
///
/// There is no global state: two `Observe` values in one process (two
/// servers, parallel tests) never see each other's series, and each speaks
/// for itself. Its metrics, the log lines and request events written
/// inside its requests, its error events (`server_name`, the
/// `service.name` tag, release `name@version`) and its spans (exported
/// under a resource with its own `service.name`) carry its own name,
/// version and redactor.
///
/// What is process-wide is installed once, explicitly, by the `init` of
/// one instance: the `tracing` subscriber ([`logging`](Self::logging)),
/// the Sentry client and the panic hook ([`errors`](Self::errors)), the
/// tracer provider ([`tracing`](Self::tracing)). Every instance's requests
/// use them; a second `init` fails with an error naming the instance that
/// installed it first. Lines written outside any request speak for the
/// installing instance.
///
/// ```
/// use observe_core::{Format, Observe};
///
/// let shop = Observe::builder().service_name("shop").build()?;
/// let admin = Observe::builder().service_name("backoffice").build()?;
/// let mut request = shop.start_request("GET", Some("/users/{id}"));
/// request.response(200);
/// request.finish();
/// assert!(shop.render(Format::Text).into_text().contains("/users/{id}"));
/// assert!(!admin.render(Format::Text).into_text().contains("/users/{id}"));
/// # Ok::<(), observe_core::BuildError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Observe {
    families: Arc<Families>,
    settings: Arc<Settings>,
}

/// What the framework crates read of an `Observe`, and its health.
#[derive(Debug)]
struct Settings {
    request_id_header: String,
    catch_panics: bool,
    health: Health,
}

impl Observe {
    fn new(families: Families, settings: Settings) -> Self {
        Self {
            families: Arc::new(families),
            settings: Arc::new(settings),
        }
    }

    /// A builder with production-safe defaults.
    pub fn builder() -> ObserveBuilder {
        ObserveBuilder::default()
    }

    /// The service name (`target_info{service_name}`).
    pub fn service_name(&self) -> &str {
        &self.families.service.name
    }

    pub(crate) fn families(&self) -> &Arc<Families> {
        &self.families
    }

    pub(crate) fn service(&self) -> &Service {
        &self.families.service
    }

    /// The header the request id is read from and echoed in
    /// ([`ObserveBuilder::request_id_header`]), lowercase.
    pub fn request_id_header(&self) -> &str {
        &self.settings.request_id_header
    }

    /// Whether the framework crates catch a panicking handler
    /// ([`ObserveBuilder::catch_panics`]).
    pub fn catches_panics(&self) -> bool {
        self.settings.catch_panics
    }

    /// Whether duration histograms carry native buckets and `/metrics`
    /// offers the protobuf format
    /// ([`ObserveBuilder::native_histograms`]).
    pub fn native_histograms(&self) -> bool {
        self.families.http.shared.native
    }

    /// Requests in flight now (`http_server_active_requests`, every method
    /// together, excluded routes included): what a graceful shutdown
    /// waits for.
    pub fn requests_in_flight(&self) -> u64 {
        self.families.http.shared.active.total()
    }

    /// Registers a readiness check named `name` (the `check` label of
    /// `observe_health_check_up`) with the default timeout (1 s) and
    /// interval (5 s): `/health/ready` answers 503 while it fails. The
    /// check runs at most once per interval however often probes come;
    /// [`add_health_check`](Self::add_health_check) takes other settings.
    ///
    /// ```
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// observe
    ///     .health_check("postgres", || async {
    ///         // e.g. `sqlx::query("SELECT 1").execute(&pool).await.map(|_| ())`
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .unwrap();
    /// ```
    pub fn health_check<F, Fut, E>(&self, name: &str, check: F) -> Result<(), HealthError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.add_health_check(HealthCheck::new(name, check))
    }

    /// Registers `check` with its own timeout and interval.
    pub fn add_health_check(&self, check: HealthCheck) -> Result<(), HealthError> {
        let health = &self.settings.health;
        if health.register(check)? {
            let metrics = health.metrics().clone();
            self.with_registry(|registry| {
                registry.register(
                    "observe_health_check_up",
                    "Whether the readiness check passed on its last run (1) or not (0).",
                    metrics.up,
                );
                registry.register_with_unit(
                    "observe_health_check_duration",
                    "How long readiness checks took.",
                    prometheus_client::registry::Unit::Seconds,
                    metrics.duration,
                );
            });
        }
        Ok(())
    }

    /// Readiness now: runs every check whose last result is older than its
    /// interval (concurrently, each within its timeout) and reports them
    /// all, with the draining state. Needs a tokio runtime with time on.
    pub async fn readiness(&self) -> Readiness {
        self.settings.health.check(&self.service().redactor).await
    }

    /// The checks' last results and the draining state, without running
    /// anything.
    pub fn last_readiness(&self) -> Readiness {
        self.settings.health.cached()
    }

    /// Marks the service as draining: readiness fails from now on, so load
    /// balancers stop sending new requests while those in flight finish.
    /// `observe_core::shutdown::Shutdown` calls it when the stop signal comes.
    pub fn begin_draining(&self) {
        self.settings.health.begin_draining();
    }

    /// Whether [`begin_draining`](Self::begin_draining) was called.
    pub fn is_draining(&self) -> bool {
        self.settings.health.is_draining()
    }

    /// Reports on the tokio runtime of `handle` in `/metrics` from now on:
    /// the `tokio_` families (workers, their busy time and parks, the global
    /// queue's depth, tasks alive), read from tokio's stable metrics at
    /// scrape time, nothing per request. The framework crates' layers add
    /// the runtime they are built on by themselves
    /// ([`integration::add_current_runtime`](crate::integration::add_current_runtime));
    /// call this for another runtime, for example one that runs the
    /// service's background work. Several runtimes are summed.
    ///
    /// ```
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// observe.add_runtime(runtime.handle());
    /// let text = observe.render(observe_core::Format::Text).into_text();
    /// assert!(text.contains("tokio_workers 1"));
    /// ```
    pub fn add_runtime(&self, handle: &tokio::runtime::Handle) {
        self.families.runtimes.add(handle.clone());
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
    /// assert!(observe.render(observe_core::Format::Text).into_text().contains("shop_orders_total 1"));
    /// ```
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut registry = self
            .families
            .registry
            .write()
            .unwrap_or_else(|p| p.into_inner());
        f(&mut registry)
    }

    /// Negotiates the format for an `Accept` header value and renders the
    /// document: the whole of a `/metrics` endpoint but the I/O. CPU work
    /// proportional to the number of series, see [`render`](Self::render).
    ///
    /// With [`native_histograms`](ObserveBuilder::native_histograms) on, a
    /// scraper preferring the Prometheus protobuf format gets it
    /// ([`Format::Protobuf`]), native buckets included; should that
    /// encoding ever fail, the answer is the same document in OpenMetrics
    /// (which such a scraper accepts too) and a WARN line says why.
    ///
    /// ```
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// let scrape = observe.scrape(Some("application/openmetrics-text; version=1.0.0"));
    /// assert_eq!(scrape.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    ///
    /// let native = observe_core::Observe::builder().native_histograms(true).build().unwrap();
    /// let scrape = native.scrape(Some(
    ///     "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,\
    ///      application/openmetrics-text;version=1.0.0;q=0.8",
    /// ));
    /// assert_eq!(scrape.content_type, observe_core::Format::Protobuf.content_type());
    /// ```
    pub fn scrape(&self, accept: Option<&str>) -> Scrape {
        self.render(negotiate_offering(accept, self.native_histograms()))
    }

    /// Renders every metric of this instance in `format`: the document and
    /// its `Content-Type`. [`Format::Protobuf`] gives the binary protobuf
    /// exposition (in the never expected case that encoding fails, a WARN
    /// line says why and the document is OpenMetrics, with the content type
    /// that says so).
    ///
    /// Recording is never blocked for longer than it takes to copy the
    /// pointers to the series; the formatting itself runs without locks on
    /// the hot path. It is CPU work proportional to the number of series, so
    /// async endpoints should call it from a blocking-friendly context (the
    /// framework crates use `spawn_blocking`).
    ///
    /// ```
    /// use observe_core::{Format, Observe};
    /// let observe = Observe::builder().service_name("shop").build().unwrap();
    /// let text = observe.render(Format::OpenMetrics).into_text();
    /// assert!(text.ends_with("# EOF\n"));
    /// let binary = observe.render(Format::Protobuf);
    /// assert_eq!(binary.content_type, Format::Protobuf.content_type());
    /// ```
    pub fn render(&self, format: Format) -> Scrape {
        if format != Format::Protobuf {
            return Scrape {
                content_type: format.content_type(),
                body: self.families.render(format).into_bytes(),
            };
        }
        match self.families.render_protobuf() {
            Ok(body) => Scrape {
                content_type: format.content_type(),
                body,
            },
            Err((text, error)) => {
                tracing::warn!(
                    error = %error,
                    "the protobuf exposition failed; answering in OpenMetrics"
                );
                Scrape {
                    content_type: Format::OpenMetrics.content_type(),
                    body: text.into_bytes(),
                }
            }
        }
    }

    /// Starts tracking the request `head` describes: the framework crates'
    /// one entry point. `route` is the matched route template
    /// (`/users/{id}`), never a raw path; `None` means the request matched
    /// no route, or that the framework only knows the route after the
    /// handler ran (then call [`RequestTracker::route_after_handler`]).
    /// `cache` remembers the route's metrics for a middleware instance that
    /// usually sees one route (see [`RouteCache`]).
    ///
    /// Read from the head, once: the method, the body size (exact from the
    /// server, else `Content-Length`), the request id (the first sane value
    /// of the request-id header, else a generated one), the caller's trace
    /// (exactly one `traceparent`; every `tracestate` line, joined), and
    /// while error tracking is on, the path, query and headers an error
    /// report may need.
    pub fn track(
        &self,
        head: &impl RequestHead,
        route: Option<&str>,
        cache: Option<&RouteCache>,
    ) -> RequestTracker {
        request::track(&self.families, head, route, cache)
    }

    /// Starts tracking a request known only by its method and route, and
    /// counts it in flight: for tests and hand-written integrations (the
    /// framework crates use [`track`](Self::track)).
    ///
    /// ```
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// let mut tracker = observe.start_request("GET", Some("/users/{id}"));
    /// tracker.response(200);
    /// tracker.add_response_body_bytes(42);
    /// tracker.finish();
    /// assert!(observe.render(observe_core::Format::Text).into_text().contains("http_route=\"/users/{id}\""));
    /// ```
    pub fn start_request(&self, method: &str, route: Option<&str>) -> RequestTracker {
        request::start(&self.families, method, route, None)
    }

    /// Instrumentation for the cache called `name` (a fixed name from your
    /// code, such as `users`).
    pub fn cache(&self, name: &str) -> Cache {
        Cache::new(&self.families, name)
    }

    /// Instrumentation for the dependency called `name` (`postgres`,
    /// `payments-api`).
    pub fn dependency(&self, name: &str) -> Dependency {
        Dependency::new(&self.families, name)
    }

    /// Registers a gauge the service sets (`shop_queue_depth`).
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, MetricError> {
        self.families.app.gauge(name, help)
    }

    /// Registers a gauge read by calling `read` at scrape time (cache size,
    /// pool usage). `read` runs on the scrape's thread: keep it cheap and
    /// non-blocking.
    ///
    /// ```
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// observe.gauge_fn("shop_cache_entries", "Entries in the cache.", || 42.0).unwrap();
    /// assert!(observe.render(observe_core::Format::Text).into_text().contains("shop_cache_entries 42"));
    /// ```
    pub fn gauge_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<(), MetricError> {
        self.families.app.gauge_fn(name, help, read)
    }

    /// Registers a counter with labels, guarded by the series limit. `name`
    /// is given without `_total`, which the exposition adds.
    pub fn counter_family(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
    ) -> Result<CounterFamily, MetricError> {
        self.families.app.counter_family(name, help, label_names)
    }

    /// Registers a StateSet for the enum `E`, starting in `initial`.
    pub fn state_set<E: States>(
        &self,
        name: &str,
        help: &str,
        initial: E,
    ) -> Result<StateSet<E>, MetricError> {
        self.families.app.state_set(name, help, initial)
    }
}

#[cfg(feature = "logging")]
#[cfg_attr(docsrs, doc(cfg(feature = "logging")))]
impl Observe {
    /// Logging for this service: JSON lines on stdout, `RUST_LOG` filtering
    /// (default `info`), `OBSERVE_LOG_REMAP` level remapping, redaction on.
    /// Finish with [`LoggingBuilder::init`](crate::logging::LoggingBuilder::init),
    /// which installs the process-wide subscriber: after
    /// [`tracing`](Self::tracing)'s `init`, so exported spans get their layer.
    pub fn logging(&self) -> crate::logging::LoggingBuilder {
        crate::logging::LoggingBuilder::new(self.service().clone(), spans_layer(), error_lines())
    }
}

/// The span layer logging's subscriber carries, when spans are exported.
#[cfg(all(feature = "logging", feature = "tracing"))]
fn spans_layer() -> Option<crate::signals::logging::SpansLayer> {
    crate::signals::trace::subscriber_layer()
}

#[cfg(all(feature = "logging", not(feature = "tracing")))]
fn spans_layer() -> Option<crate::signals::logging::SpansLayer> {
    None
}

/// Where logging forwards ERROR lines: to error tracking, when it is
/// compiled in (it decides at each line whether it is on).
#[cfg(all(feature = "logging", feature = "errors"))]
fn error_lines() -> Option<crate::signals::logging::ErrorLineHook> {
    fn forward(line: &crate::signals::logging::ErrorLine<'_>) {
        // Observe's own panic line is not an error of its own: the panic
        // itself is the event.
        if line.target == crate::signals::event::EVENT_TARGET {
            return;
        }
        if let Some(errors) = crate::signals::errors::installed() {
            errors.log_line(line.target, line.callsite, line.message, line.fields);
        }
    }
    Some(forward)
}

#[cfg(all(feature = "logging", not(feature = "errors")))]
fn error_lines() -> Option<crate::signals::logging::ErrorLineHook> {
    None
}

#[cfg(feature = "errors")]
#[cfg_attr(docsrs, doc(cfg(feature = "errors")))]
impl Observe {
    /// Error tracking for this service, configured from `SENTRY_DSN`,
    /// `SENTRY_ENVIRONMENT` and `SENTRY_RELEASE` (default: the service name,
    /// version and git commit). Finish with
    /// [`ErrorsBuilder::init`](crate::errors::ErrorsBuilder::init), which
    /// installs the process-wide Sentry client and panic hook.
    pub fn errors(&self) -> crate::errors::ErrorsBuilder {
        crate::errors::ErrorsBuilder::new(self.service().clone())
    }
}

#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
impl Observe {
    /// Tracing for this service, configured by the standard variables
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
    /// `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` and
    /// `OTEL_RESOURCE_ATTRIBUTES`. Call
    /// [`TracingBuilder::init`](crate::trace::TracingBuilder::init) (which
    /// installs the process-wide tracer provider) before
    /// [`Observe::logging`]'s `init`.
    pub fn tracing(&self) -> crate::trace::TracingBuilder {
        crate::trace::TracingBuilder::new(self.service().clone())
    }
}

#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
impl Observe {
    /// The metrics `/metrics` serves, pushed over OTLP/HTTP when
    /// `OTEL_METRICS_EXPORTER=otlp` (see [`otlp`](crate::otlp)). Finish with
    /// [`MetricsExportBuilder::try_init`](crate::otlp::MetricsExportBuilder::try_init)
    /// and keep the guard for the life of `main`; the scrape keeps working
    /// alongside.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let observe = observe_core::Observe::builder().service_name("shop").build()?;
    /// // OTEL_METRICS_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318
    /// let _metrics = observe.metrics_export().try_init()?;
    /// # Ok(()) }
    /// ```
    pub fn metrics_export(&self) -> crate::otlp::MetricsExportBuilder {
        crate::otlp::MetricsExportBuilder::new(Arc::clone(&self.families))
    }
}

#[cfg(feature = "clickhouse")]
#[cfg_attr(docsrs, doc(cfg(feature = "clickhouse")))]
impl Observe {
    /// One row per request event in ClickHouse when
    /// `OBSERVE_CLICKHOUSE_URL` is set (see [`clickhouse`](crate::clickhouse)).
    /// Finish with
    /// [`ClickHouseBuilder::try_init`](crate::clickhouse::ClickHouseBuilder::try_init)
    /// and keep the guard for the life of `main`. Process-wide: every
    /// instance's events go to the one sink.
    pub fn clickhouse(&self) -> crate::clickhouse::ClickHouseBuilder {
        crate::clickhouse::ClickHouseBuilder::new()
    }
}

/// Adds the tokio runtime the calling thread runs in, if any, to
/// `observe`'s runtime metrics ([`Observe::add_runtime`]), once per thread
/// and instance. The framework crates' layers call it as they are built,
/// which is on the runtime that serves the requests: axum's router and a
/// tower stack are built inside the server's runtime, and actix-web builds
/// each worker's `App` on that worker's own runtime.
pub fn add_current_runtime(observe: &Observe) {
    use std::cell::RefCell;
    use std::sync::Weak;
    thread_local! {
        static ADDED: RefCell<Vec<Weak<Families>>> = const { RefCell::new(Vec::new()) };
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let first = ADDED.with(|added| {
        let mut added = added.borrow_mut();
        added.retain(|w| w.strong_count() > 0);
        let me = Arc::as_ptr(&observe.families);
        if added.iter().any(|w| std::ptr::eq(w.as_ptr(), me)) {
            return false;
        }
        added.push(Arc::downgrade(&observe.families));
        true
    });
    if first {
        observe.families.runtimes.add(handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

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

    const NATIVE_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8";

    #[test]
    fn protobuf_only_with_native_histograms_on() {
        let off = Observe::builder().build().unwrap();
        assert_eq!(
            off.scrape(Some(NATIVE_ACCEPT)).content_type,
            Format::OpenMetrics.content_type()
        );
        let on = Observe::builder().native_histograms(true).build().unwrap();
        let mut t = on.start_request("GET", Some("/a"));
        t.response(200);
        t.finish();
        let scrape = on.scrape(Some(NATIVE_ACCEPT));
        assert_eq!(scrape.content_type, Format::Protobuf.content_type());
        assert!(
            String::from_utf8_lossy(&scrape.body).contains("http_server_request_duration_seconds")
        );
        // Text scrapers see the classic document, and render gives text.
        assert_eq!(
            on.render(Format::Protobuf).content_type,
            Format::Protobuf.content_type()
        );
        let text = String::from_utf8(on.scrape(None).body).unwrap();
        assert!(
            text.contains("http_server_request_duration_seconds_bucket{"),
            "{text}"
        );
    }

    #[test]
    fn a_document_protobuf_cannot_carry_is_served_as_openmetrics() {
        use prometheus_client::metrics::counter::Counter;
        let observe = Observe::builder().native_histograms(true).build().unwrap();
        // prometheus-client takes a name Prometheus would not: the reader
        // refuses it, and the scrape falls back instead of failing.
        observe.with_registry(|r| r.register("shop-orders", "Orders.", Counter::<u64>::default()));
        let scrape = observe.scrape(Some(NATIVE_ACCEPT));
        assert_eq!(scrape.content_type, Format::OpenMetrics.content_type());
        let text = String::from_utf8(scrape.body).unwrap();
        assert!(text.contains("shop-orders_total 0"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn protobuf_straight_from_the_series_is_the_text_read_back() {
        use crate::encoding::protobuf::encode;
        let observe = Observe::builder()
            .native_histograms(true)
            .const_label("region", "eu\\west\"1")
            .build()
            .unwrap();
        for (i, route) in ["/a", "/b/{id}", "/c\"q"].iter().enumerate() {
            for status in [200, 404, 500, 503] {
                for n in 0..(3 + i as u64) {
                    let mut t =
                        observe.start_request(if n % 2 == 0 { "GET" } else { "POST" }, Some(route));
                    t.request_body_size(n * 700);
                    t.response(status);
                    t.add_response_body_bytes(n * 9_000 + 1);
                    t.finish();
                }
            }
        }
        drop(observe.start_request("GET", Some("/gone")));
        observe.start_request("PUT", Some("/boom")).panicked();
        let direct = observe.families.render_protobuf().unwrap();
        // The former path: the whole OpenMetrics document read back.
        let mut natives = crate::encoding::NativeHistograms::default();
        let text = observe
            .families
            .render_text(Format::OpenMetrics, Some(&mut natives));
        let read_back = encode(&text, &natives).unwrap();
        // Family by family, byte for byte, but for the process' own
        // figures, which move between two renders.
        fn families(mut bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
            let mut out = Vec::new();
            while !bytes.is_empty() {
                let (mut length, mut shift) = (0usize, 0);
                loop {
                    let b = bytes[0];
                    bytes = &bytes[1..];
                    length |= usize::from(b & 0x7f) << shift;
                    shift += 7;
                    if b < 0x80 {
                        break;
                    }
                }
                let (family, rest) = bytes.split_at(length);
                // Field 1 (the name) comes first, shorter than 128 bytes.
                let name = String::from_utf8(family[2..2 + usize::from(family[1])].to_vec());
                out.push((name.unwrap(), family.to_vec()));
                bytes = rest;
            }
            out.retain(|(name, _)| !name.starts_with("process_") && !name.starts_with("tokio_"));
            out
        }
        let (direct, read_back) = (families(&direct), families(&read_back));
        let names: Vec<&str> = direct.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"http_server_request_duration_seconds"),
            "{names:?}"
        );
        assert!(
            names.contains(&"http_server_response_body_size_bytes"),
            "{names:?}"
        );
        assert_eq!(direct.len(), read_back.len(), "{names:?}");
        for ((name, a), (other, b)) in direct.iter().zip(&read_back) {
            assert_eq!(name, other);
            assert!(a == b, "{name}: the two encodings differ");
        }
    }

    #[test]
    fn instances_do_not_share_series() {
        let a = Observe::builder().build().unwrap();
        let b = Observe::builder().build().unwrap();
        let mut t = a.start_request("GET", Some("/only-a"));
        t.response(200);
        t.finish();
        assert!(a.render(Format::Text).into_text().contains("/only-a"));
        assert!(!b.render(Format::Text).into_text().contains("/only-a"));
    }

    #[test]
    fn excluded_route_records_nothing() {
        let o = Observe::builder().exclude_route("/health").build().unwrap();
        let mut t = o.start_request("GET", Some("/health"));
        t.response(200);
        t.finish();
        assert!(!o.render(Format::Text).into_text().contains("/health"));
    }

    #[test]
    fn drop_is_cancelled_and_panic_is_500() {
        let o = Observe::builder().build().unwrap();
        drop(o.start_request("GET", Some("/slow")));
        o.start_request("GET", Some("/boom")).panicked();
        let text = o.render(Format::Text).into_text();
        assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"499\",http_route=\"/slow\",error_type=\"cancelled\"} 1"), "{text}");
        assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"500\",http_route=\"/boom\",error_type=\"panic\"} 1"), "{text}");
        assert!(
            text.contains("http_server_active_requests{http_request_method=\"GET\"} 0"),
            "{text}"
        );
    }
}
