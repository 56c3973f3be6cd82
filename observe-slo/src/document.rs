//! observe's own form of the SLOs: one JSON object (or the same in YAML),
//! written by [`Slos::to_json`] and read back by [`Slos::from_json`] with the
//! same checks as [`Slos::prometheus_rules`]. The admin listener serves it
//! at `/observe/api/slos`, and `observe --slos FILE` reads it.
//!
//! ```json
//! {
//!   "format": "observe-slos/v1",
//!   "service": "shop",
//!   "slos": [
//!     {"name": "shop-availability", "indicator": "availability", "objective": 0.999, "window_days": 30},
//!     {"name": "users-fast", "indicator": "latency", "objective": 0.99,
//!      "threshold_seconds": 0.25, "route": "/users/{id}", "window_days": 30}
//!   ],
//!   "duration_buckets": [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
//!   "dashboard_url": "https://grafana.example.com",
//!   "runbook_url": "https://wiki.example.com/shop/slo-runbook",
//!   "status_url": "http://{instance}/observe",
//!   "events_table": "observe_requests"
//! }
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{Indicator, Slo, SloError, Slos};

/// The `format` of observe's SLO document; a document without one is read
/// as this version.
pub const SLOS_FORMAT: &str = "observe-slos/v1";

/// The keys of one SLO, in the order they are written.
const SLO_KEYS: [&str; 6] = [
    "name",
    "indicator",
    "objective",
    "threshold_seconds",
    "route",
    "window_days",
];
/// The keys of the document.
const TOP_KEYS: [&str; 8] = [
    "format",
    "service",
    "slos",
    "duration_buckets",
    "dashboard_url",
    "runbook_url",
    "status_url",
    "events_table",
];

/// The document as written: fields in a fixed order, for YAML readers.
#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    service: &'a str,
    slos: Vec<SloEntry<'a>>,
    duration_buckets: &'a [f64],
    #[serde(skip_serializing_if = "Option::is_none")]
    dashboard_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runbook_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events_table: Option<&'a str>,
}

#[derive(Serialize)]
struct SloEntry<'a> {
    name: &'a str,
    indicator: &'static str,
    objective: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
    window_days: u32,
}

impl Indicator {
    /// Its name in the document.
    fn key(&self) -> &'static str {
        match self {
            Indicator::Availability => "availability",
            Indicator::Latency { .. } => "latency",
            Indicator::GrpcAvailability => "grpc_availability",
        }
    }
}

impl Slos {
    fn document(&self) -> Document<'_> {
        Document {
            format: SLOS_FORMAT,
            service: &self.service,
            slos: self
                .slos
                .iter()
                .map(|slo| SloEntry {
                    name: &slo.name,
                    indicator: slo.indicator.key(),
                    objective: slo.objective,
                    threshold_seconds: match slo.indicator {
                        Indicator::Latency { threshold_seconds } => Some(threshold_seconds),
                        _ => None,
                    },
                    route: slo.route.as_deref(),
                    window_days: slo.window_days,
                })
                .collect(),
            duration_buckets: &self.bounds,
            dashboard_url: self.dashboard_url.as_deref(),
            runbook_url: self.runbook_url.as_deref(),
            status_url: self.status_url.as_deref(),
            events_table: self.events_table.as_deref(),
        }
    }

    /// observe's own form of these SLOs (see the crate docs, "Files"), as
    /// the admin listener serves it at `/observe/api/slos`.
    ///
    /// ```
    /// use observe_slo::{Slo, Slos};
    ///
    /// let slos = Slos::new("shop").with(Slo::availability("shop-availability", 0.999));
    /// let json = slos.to_json();
    /// assert_eq!(json["slos"][0]["objective"], 0.999);
    /// assert_eq!(Slos::from_json(&json.to_string()).unwrap(), slos);
    /// ```
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.document()).expect("strings and finite numbers serialize")
    }

    /// Reads observe's form from JSON text, with the checks
    /// [`prometheus_rules`](Self::prometheus_rules) makes: errors name the
    /// field (`slos[1].objective`) and what it accepts.
    ///
    /// ```
    /// let err = observe_slo::Slos::from_json(
    ///     r#"{"service": "shop", "slos": [{"name": "a", "indicator": "availability", "objective": 1.5}]}"#,
    /// )
    /// .unwrap_err();
    /// assert!(err.to_string().starts_with("slos[0].objective: "), "{err}");
    /// ```
    pub fn from_json(text: &str) -> Result<Self, SloError> {
        let value: Value = serde_json::from_str(text).map_err(|e| SloError::Syntax {
            format: "JSON",
            message: e.to_string(),
        })?;
        Self::from_value(&value)
    }

    /// Reads observe's form from a parsed JSON (or YAML) value; see
    /// [`from_json`](Self::from_json).
    pub fn from_value(value: &Value) -> Result<Self, SloError> {
        let top = object(
            value,
            "(document)",
            "an object with \"service\" and \"slos\", e.g. {\"service\": \"shop\", \"slos\": []}",
        )?;
        known_keys(top, "", &TOP_KEYS)?;
        if let Some(format) = top.get("format")
            && format.as_str() != Some(SLOS_FORMAT)
        {
            return Err(field(
                "format",
                format!("expected \"{SLOS_FORMAT}\" (or no format)"),
                format,
            ));
        }
        let service = match top.get("service") {
            Some(Value::String(service)) if !service.trim().is_empty() => service,
            other => {
                return Err(field(
                    "service",
                    "expected the Prometheus job of the service, a string such as \"shop\"",
                    other.unwrap_or(&Value::Null),
                ));
            }
        };
        let mut slos = Slos::new(service);
        if let Some(buckets) = top.get("duration_buckets") {
            slos.bounds = bounds(buckets)?;
        }
        for key in ["dashboard_url", "runbook_url", "status_url"] {
            let url = match top.get(key) {
                None | Some(Value::Null) => continue,
                Some(Value::String(url)) if super::is_http_url(url) => url,
                Some(other) => {
                    return Err(field(
                        key,
                        "expected an http:// or https:// URL, e.g. https://grafana.example.com",
                        other,
                    ));
                }
            };
            slos = match key {
                "dashboard_url" => slos.dashboard_url(url),
                "status_url" => slos.status_url(url),
                _ => slos.runbook_url(url),
            };
        }
        match top.get("events_table") {
            None | Some(Value::Null) => {}
            Some(Value::String(table)) if super::is_table_name(table) => {
                slos = slos.events_table(table);
            }
            Some(other) => {
                return Err(field(
                    "events_table",
                    "expected a table name (letters, digits, '_'), optionally after a database and '.', e.g. observe_requests",
                    other,
                ));
            }
        }
        let Some(Value::Array(entries)) = top.get("slos") else {
            return Err(field(
                "slos",
                "expected a list of SLOs, e.g. [{\"name\": \"shop-availability\", \"indicator\": \"availability\", \"objective\": 0.999}]",
                top.get("slos").unwrap_or(&Value::Null),
            ));
        };
        for (i, entry) in entries.iter().enumerate() {
            let slo = slo(entry, &format!("slos[{i}]"))?;
            // The checks of `prometheus_rules`, named by field.
            slo.check(&slos.bounds).map_err(|e| {
                let key = match e {
                    SloError::Objective { .. } => "objective",
                    SloError::Threshold { .. } => "threshold_seconds",
                    _ => "name",
                };
                SloError::Field {
                    field: format!("slos[{i}].{key}"),
                    message: e.to_string(),
                }
            })?;
            if slos.slos.iter().any(|s| s.name == slo.name) {
                return Err(SloError::Field {
                    field: format!("slos[{i}].name"),
                    message: SloError::Duplicate(slo.name).to_string(),
                });
            }
            slos.slos.push(slo);
        }
        Ok(slos)
    }

    /// observe's form as YAML: the same fields as [`to_json`](Self::to_json).
    ///
    /// ```
    /// use observe_slo::{Slo, Slos};
    ///
    /// let slos = Slos::new("shop").with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"));
    /// let yaml = slos.to_yaml();
    /// assert!(yaml.contains("threshold_seconds: 0.25"), "{yaml}");
    /// assert_eq!(Slos::from_yaml(&yaml).unwrap(), slos);
    /// ```
    #[cfg(feature = "yaml")]
    #[cfg_attr(docsrs, doc(cfg(feature = "yaml")))]
    pub fn to_yaml(&self) -> String {
        yaml(&self.document())
    }

    /// Reads observe's form from YAML (JSON is YAML too), with the checks
    /// of [`from_json`](Self::from_json).
    #[cfg(feature = "yaml")]
    #[cfg_attr(docsrs, doc(cfg(feature = "yaml")))]
    pub fn from_yaml(text: &str) -> Result<Self, SloError> {
        let value: Value = serde_saphyr::from_str(text).map_err(|e| SloError::Syntax {
            format: "YAML",
            message: e.to_string(),
        })?;
        Self::from_value(&value)
    }
}

/// `value` in YAML, each string on one line (a PromQL query stays one
/// plain or quoted scalar, not a folded block).
#[cfg(feature = "yaml")]
pub(crate) fn yaml(value: &impl Serialize) -> String {
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(value, options)
        .expect("strings, finite numbers, lists and maps serialize")
}

impl Serialize for Slos {
    /// observe's form, as [`Slos::to_json`] writes it.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.document().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Slos {
    /// observe's form, checked as [`Slos::from_value`] does.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Slos::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// One SLO of the document; `path` names it in errors.
fn slo(value: &Value, path: &str) -> Result<Slo, SloError> {
    let entry = object(
        value,
        path,
        "an object such as {\"name\": \"shop-availability\", \"indicator\": \"availability\", \"objective\": 0.999}",
    )?;
    known_keys(entry, path, &SLO_KEYS)?;
    let at = |key: &str| format!("{path}.{key}");
    let name = match entry.get("name") {
        Some(Value::String(name)) => name,
        other => {
            return Err(field(
                &at("name"),
                "expected a string of letters, digits, '-' or '_', e.g. \"shop-availability\"",
                other.unwrap_or(&Value::Null),
            ));
        }
    };
    let objective = match entry.get("objective") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        other => {
            return Err(field(
                &at("objective"),
                "expected a number between 0 and 1 (exclusive), e.g. 0.999",
                other.unwrap_or(&Value::Null),
            ));
        }
    };
    let threshold = entry.get("threshold_seconds");
    let indicator = entry.get("indicator");
    let mut slo = match indicator.and_then(Value::as_str) {
        Some("availability") => Slo::availability(name, objective),
        Some("grpc_availability") => Slo::grpc_availability(name, objective),
        Some("latency") => match threshold {
            Some(Value::Number(n)) => Slo::latency(name, objective, n.as_f64().unwrap_or(f64::NAN)),
            other => {
                return Err(field(
                    &at("threshold_seconds"),
                    "expected the latency threshold in seconds, a bucket bound such as 0.25",
                    other.unwrap_or(&Value::Null),
                ));
            }
        },
        _ => {
            return Err(field(
                &at("indicator"),
                "expected \"availability\", \"latency\" or \"grpc_availability\"",
                indicator.unwrap_or(&Value::Null),
            ));
        }
    };
    if !matches!(slo.indicator, Indicator::Latency { .. }) && threshold.is_some() {
        return Err(SloError::Field {
            field: at("threshold_seconds"),
            message: format!(
                "only a latency SLO has a threshold; this one's indicator is \"{}\"",
                slo.indicator.key()
            ),
        });
    }
    match entry.get("route") {
        None | Some(Value::Null) => {}
        Some(Value::String(route)) if !route.is_empty() => slo = slo.route(route),
        Some(other) => {
            return Err(field(
                &at("route"),
                "expected a route template such as \"/users/{id}\" (gRPC: \"shop.v1.Users/GetUser\"), or no route for all",
                other,
            ));
        }
    }
    match entry.get("window_days") {
        None => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|d| (1..=366).contains(&d)) => {
            slo = slo.window_days(n.as_u64().and_then(|d| u32::try_from(d).ok()).unwrap_or(30));
        }
        Some(other) => {
            return Err(field(
                &at("window_days"),
                "expected a whole number of days from 1 to 366, e.g. 30",
                other,
            ));
        }
    }
    Ok(slo)
}

/// `duration_buckets`: finite, positive, increasing.
fn bounds(value: &Value) -> Result<Vec<f64>, SloError> {
    const EXPECTED: &str = "expected the duration histogram's bucket bounds in seconds, increasing, e.g. [0.005, 0.01, 0.025]";
    let Value::Array(items) = value else {
        return Err(field("duration_buckets", EXPECTED, value));
    };
    let mut bounds = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_f64() {
            Some(bound)
                if bound.is_finite()
                    && bound > 0.0
                    && bounds.last().is_none_or(|last| bound > *last) =>
            {
                bounds.push(bound);
            }
            _ => return Err(field(&format!("duration_buckets[{i}]"), EXPECTED, item)),
        }
    }
    Ok(bounds)
}

/// `value` as an object, or an error naming `path`.
fn object<'v>(
    value: &'v Value,
    path: &str,
    expected: &str,
) -> Result<&'v Map<String, Value>, SloError> {
    value
        .as_object()
        .ok_or_else(|| field(path, format!("expected {expected}"), value))
}

/// Refuses a key not in `known`: a typo would otherwise be ignored.
fn known_keys(object: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), SloError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) => Err(SloError::Field {
            field: if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            },
            message: format!("unknown field; expected one of {}", known.join(", ")),
        }),
    }
}

/// An error for `path`: what is accepted and what was found.
fn field(path: &str, expected: impl Into<String>, found: &Value) -> SloError {
    let found = match found {
        Value::Null => "nothing".to_string(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 60 {
                format!("{}...", text.chars().take(60).collect::<String>())
            } else {
                text
            }
        }
    };
    SloError::Field {
        field: path.to_string(),
        message: format!("{}; found {found}", expected.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Slos {
        Slos::new("shop")
            .with(Slo::availability("shop-availability", 0.999))
            .with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"))
            .with(
                Slo::grpc_availability("users-grpc", 0.9995)
                    .route("shop.v1.Users/GetUser")
                    .window_days(28),
            )
    }

    #[test]
    fn json_round_trips() {
        let slos = every_kind();
        let json = slos.to_json();
        assert_eq!(json["format"], SLOS_FORMAT);
        assert_eq!(json["slos"][1]["threshold_seconds"], 0.25);
        assert_eq!(json["slos"][1]["route"], "/users/{id}");
        assert!(json["slos"][0].get("route").is_none(), "{json}");
        assert_eq!(json["slos"][2]["window_days"], 28);
        assert_eq!(Slos::from_json(&json.to_string()).unwrap(), slos);
        let text = serde_json::to_string(&slos).unwrap();
        assert_eq!(serde_json::from_str::<Slos>(&text).unwrap(), slos);
        // The alerts' links travel with the SLOs; without them, no keys.
        assert!(json.get("dashboard_url").is_none(), "{json}");
        let linked = slos
            .clone()
            .dashboard_url("https://grafana.example.com/")
            .runbook_url("https://wiki.example.com/slo");
        let json = linked.to_json();
        assert_eq!(json["dashboard_url"], "https://grafana.example.com");
        assert_eq!(json["runbook_url"], "https://wiki.example.com/slo");
        assert_eq!(Slos::from_json(&json.to_string()).unwrap(), linked);
        let linked = linked
            .status_url("http://{instance}/observe")
            .events_table("analytics.observe_requests");
        let json = linked.to_json();
        assert_eq!(json["status_url"], "http://{instance}/observe");
        assert_eq!(json["events_table"], "analytics.observe_requests");
        assert_eq!(Slos::from_json(&json.to_string()).unwrap(), linked);
        // Other buckets travel with the SLOs.
        let custom = Slos::new("shop")
            .duration_buckets([0.1, 0.3, 1.0])
            .with(Slo::latency("fast", 0.9, 0.3));
        assert_eq!(
            Slos::from_json(&custom.to_json().to_string()).unwrap(),
            custom
        );
    }

    #[test]
    fn a_minimal_document_takes_the_defaults() {
        let slos = Slos::from_json(
            r#"{"service": "shop", "slos": [{"name": "a", "indicator": "availability", "objective": 0.999}]}"#,
        )
        .unwrap();
        assert_eq!(slos, Slos::new("shop").with(Slo::availability("a", 0.999)));
    }

    fn refused(text: &str) -> String {
        Slos::from_json(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field_and_what_it_accepts() {
        let slo = |fields: &str| format!(r#"{{"service": "shop", "slos": [{{{fields}}}]}}"#);
        let cases = [
            (
                slo(r#""name": "a", "indicator": "availability", "objective": 1.5"#),
                "slos[0].objective: SLO \"a\": objective 1.5 must be between 0 and 1",
            ),
            (
                slo(r#""name": "a", "indicator": "availability", "objective": "high""#),
                "slos[0].objective: expected a number between 0 and 1 (exclusive), e.g. 0.999; found \"high\"",
            ),
            (
                slo(r#""name": "a", "indicator": "speed", "objective": 0.9"#),
                "slos[0].indicator: expected \"availability\", \"latency\" or \"grpc_availability\"; found \"speed\"",
            ),
            (
                slo(
                    r#""name": "a", "indicator": "latency", "objective": 0.9, "threshold_seconds": 0.3"#,
                ),
                "slos[0].threshold_seconds: SLO \"a\": latency threshold 0.3s is not a bucket bound",
            ),
            (
                slo(r#""name": "a", "indicator": "latency", "objective": 0.9"#),
                "slos[0].threshold_seconds: expected the latency threshold in seconds",
            ),
            (
                slo(
                    r#""name": "a", "indicator": "availability", "objective": 0.9, "threshold_seconds": 0.25"#,
                ),
                "slos[0].threshold_seconds: only a latency SLO has a threshold",
            ),
            (
                slo(r#""name": "bad name", "indicator": "availability", "objective": 0.9"#),
                "slos[0].name: SLO name \"bad name\": expected letters, digits",
            ),
            (
                slo(r#""name": "a", "indicator": "availability", "objective": 0.9, "objectve": 1"#),
                "slos[0].objectve: unknown field; expected one of name, indicator, objective",
            ),
            (
                slo(
                    r#""name": "a", "indicator": "availability", "objective": 0.9, "window_days": 0"#,
                ),
                "slos[0].window_days: expected a whole number of days from 1 to 366",
            ),
            (
                r#"{"slos": []}"#.to_string(),
                "service: expected the Prometheus job of the service, a string such as \"shop\"; found nothing",
            ),
            (
                r#"{"service": "shop", "slos": [], "format": "openslo/v1"}"#.to_string(),
                "format: expected \"observe-slos/v1\"",
            ),
            (
                r#"{"service": "shop", "slos": [], "duration_buckets": [0.1, 0.05]}"#.to_string(),
                "duration_buckets[1]: expected the duration histogram's bucket bounds",
            ),
            (
                r#"{"service": "shop", "slos": {}}"#.to_string(),
                "slos: expected a list of SLOs",
            ),
            (
                r#"{"service": "shop", "slos": [1]}"#.to_string(),
                "slos[0]: expected an object such as",
            ),
            ("[]".to_string(), "(document): expected an object"),
            (
                r#"{"service": "shop", "slos": [], "runbook_url": "wiki/slo"}"#.to_string(),
                "runbook_url: expected an http:// or https:// URL, e.g. https://grafana.example.com; found \"wiki/slo\"",
            ),
            (
                r#"{"service": "shop", "slos": [], "dashboard": "https://g"}"#.to_string(),
                "dashboard: unknown field; expected one of format, service, slos, duration_buckets, dashboard_url, runbook_url, status_url, events_table",
            ),
            (
                r#"{"service": "shop", "slos": [], "events_table": "requests; DROP"}"#.to_string(),
                "events_table: expected a table name (letters, digits, '_'), optionally after a database and '.', e.g. observe_requests; found \"requests; DROP\"",
            ),
            ("{".to_string(), "not valid JSON: EOF while parsing"),
        ];
        for (text, expected) in cases {
            let message = refused(&text);
            assert!(message.starts_with(expected), "{text}\n{message}");
        }
        let twice = r#"{"service": "shop", "slos": [
            {"name": "a", "indicator": "availability", "objective": 0.9},
            {"name": "a", "indicator": "availability", "objective": 0.99}]}"#;
        assert!(
            refused(twice).starts_with("slos[1].name: SLO name \"a\" is used twice"),
            "{}",
            refused(twice)
        );
    }

    #[cfg(feature = "yaml")]
    #[test]
    fn yaml_round_trips_and_names_the_field() {
        let slos = every_kind();
        let yaml = slos.to_yaml();
        assert!(
            yaml.starts_with("format: observe-slos/v1\nservice: shop\n"),
            "{yaml}"
        );
        assert_eq!(Slos::from_yaml(&yaml).unwrap(), slos);
        // JSON is YAML, and hand-written YAML reads the same.
        assert_eq!(Slos::from_yaml(&slos.to_json().to_string()).unwrap(), slos);
        let written = "service: shop\nslos:\n  - name: users-fast\n    indicator: latency\n    objective: 0.99\n    threshold_seconds: 0.25\n    route: /users/{id}\n";
        assert_eq!(
            Slos::from_yaml(written).unwrap(),
            Slos::new("shop").with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"))
        );
        let err = Slos::from_yaml(
            "service: shop\nslos:\n  - name: a\n    indicator: availability\n    objective: 2\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("slos[0].objective: "), "{err}");
        let err = Slos::from_yaml("service: [shop\n").unwrap_err().to_string();
        assert!(err.starts_with("not valid YAML: "), "{err}");
    }
}
