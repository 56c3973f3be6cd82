//! The SLOs in OpenSLO v1 (`apiVersion: openslo/v1`), for tools that read
//! that specification: a `Service`, then one `SLO` per objective whose
//! indicator is a `ratioMetric` of two Prometheus counter queries, good
//! over total, on the same series and selectors as the rules' error
//! ratios; a rolling window of the SLO's days, budgeting by occurrences.

use serde_json::{Value, json};

use super::{GRPC_SERVER_ERRORS, Indicator, Slo, SloError, Slos};

/// The specification's `apiVersion`.
pub const OPENSLO_API_VERSION: &str = "openslo/v1";

/// An OpenSLO `metadata.name`: an RFC 1123 label (lowercase letters,
/// digits and '-', at most 63 characters, alphanumeric at both ends).
fn dns_label(name: &str) -> String {
    let label: String = name
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' => c,
            _ => '-',
        })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "slo".to_string()
    } else {
        label.to_string()
    }
}

/// A Prometheus counter query as an OpenSLO metric source.
fn prometheus(query: String) -> Value {
    json!({"metricSource": {"type": "Prometheus", "spec": {"query": query}}})
}

impl Slo {
    /// The good and total counters: the complement of the rules' bad
    /// events, over the same series.
    fn good_and_total(&self, service: &str) -> (String, String) {
        let sel = self.selector(service);
        let metric = self.counted_metric();
        let total = format!("sum({metric}{{{sel}}})");
        let good = match &self.indicator {
            Indicator::Availability => {
                format!("sum({metric}{{{sel},http_response_status_code!~\"5..\"}})")
            }
            Indicator::GrpcAvailability => {
                format!("sum({metric}{{{sel},rpc_grpc_status_code!~\"{GRPC_SERVER_ERRORS}\"}})")
            }
            Indicator::Latency { threshold_seconds } => format!(
                "sum(http_server_request_duration_seconds_bucket{{{sel},le=\"{threshold_seconds:?}\"}})"
            ),
        };
        (good, total)
    }

    /// What the SLO promises, in words.
    fn description(&self, service: &str) -> String {
        let share = format!("{}%", self.objective * 100.0);
        let scope = match &self.route {
            Some(route) => format!("of {route}"),
            None => "on every route".to_string(),
        };
        match &self.indicator {
            Indicator::Availability => {
                format!("{service}: {share} of requests {scope} answered without a 5xx")
            }
            Indicator::Latency { threshold_seconds } => {
                format!("{service}: {share} of requests {scope} within {threshold_seconds}s")
            }
            Indicator::GrpcAvailability => {
                format!("{service}: {share} of gRPC calls {scope} without a server-error code")
            }
        }
    }
}

impl Slos {
    /// The OpenSLO v1 documents, as JSON values: the `Service`, then one
    /// `SLO` per objective. Checked as
    /// [`prometheus_rules`](Self::prometheus_rules) is.
    ///
    /// ```
    /// use observe_slo::{Slo, Slos};
    ///
    /// let slos = Slos::new("shop").with(Slo::availability("shop-availability", 0.999));
    /// let documents = slos.openslo().unwrap();
    /// let slo = &documents[1];
    /// assert_eq!(slo["kind"], "SLO");
    /// assert_eq!(slo["spec"]["objectives"][0]["target"], 0.999);
    /// assert_eq!(
    ///     slo["spec"]["indicator"]["spec"]["ratioMetric"]["total"]["metricSource"]["spec"]["query"],
    ///     "sum(http_server_request_duration_seconds_count{job=\"shop\"})"
    /// );
    /// ```
    pub fn openslo(&self) -> Result<Vec<Value>, SloError> {
        self.check()?;
        let service = dns_label(&self.service);
        let mut documents = vec![json!({
            "apiVersion": OPENSLO_API_VERSION,
            "kind": "Service",
            "metadata": {"name": service, "displayName": self.service},
            "spec": {
                "description": format!("{}, as Prometheus scrapes it (job=\"{}\")", self.service, self.service),
            },
        })];
        for slo in &self.slos {
            let (good, total) = slo.good_and_total(&self.service);
            let name = dns_label(&slo.name);
            documents.push(json!({
                "apiVersion": OPENSLO_API_VERSION,
                "kind": "SLO",
                "metadata": {"name": name, "displayName": slo.name},
                "spec": {
                    "description": slo.description(&self.service),
                    "service": service,
                    "indicator": {
                        "metadata": {"name": format!("{name}-sli"), "displayName": slo.name},
                        "spec": {
                            "ratioMetric": {
                                "counter": true,
                                "good": prometheus(good),
                                "total": prometheus(total),
                            },
                        },
                    },
                    "timeWindow": [{"duration": format!("{}d", slo.window_days), "isRolling": true}],
                    "budgetingMethod": "Occurrences",
                    "objectives": [{"displayName": slo.name, "target": slo.objective}],
                },
            }));
        }
        Ok(documents)
    }

    /// [`openslo`](Self::openslo) as one YAML stream, a `---` before each
    /// document: what `observe slos --openslo` prints.
    ///
    /// ```
    /// use observe_slo::{Slo, Slos};
    ///
    /// let yaml = Slos::new("shop")
    ///     .with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"))
    ///     .openslo_yaml()
    ///     .unwrap();
    /// assert!(yaml.contains("apiVersion: openslo/v1"), "{yaml}");
    /// assert!(yaml.contains("budgetingMethod: Occurrences"), "{yaml}");
    /// ```
    #[cfg(feature = "yaml")]
    #[cfg_attr(docsrs, doc(cfg(feature = "yaml")))]
    pub fn openslo_yaml(&self) -> Result<String, SloError> {
        let mut out = String::new();
        for document in self.openslo()? {
            out.push_str("---\n");
            out.push_str(&super::document::yaml(&document));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slos() -> Slos {
        Slos::new("shop")
            .with(Slo::availability("shop-availability", 0.999))
            .with(Slo::latency("Users_Fast", 0.99, 0.25).route("/users/{id}"))
            .with(Slo::grpc_availability("users-grpc", 0.999).route("shop.v1.Users/GetUser"))
    }

    /// The metric name and the label matchers of a `sum(metric{...})`.
    fn matchers(query: &str) -> (&str, Vec<&str>) {
        let inner = query
            .strip_prefix("sum(")
            .and_then(|q| q.strip_suffix("})"))
            .expect("sum(metric{...})");
        let (metric, labels) = inner.split_once('{').expect("a selector");
        (metric, labels.split(',').collect())
    }

    #[test]
    fn one_slo_per_objective_on_the_rules_series() {
        let slos = slos();
        let documents = slos.openslo().unwrap();
        assert_eq!(documents.len(), 4);
        assert_eq!(documents[0]["kind"], "Service");
        assert_eq!(documents[0]["metadata"]["name"], "shop");
        // The rules' expressions, unquoted.
        let rules = slos.prometheus_rules().unwrap().replace("\\\"", "\"");
        for (document, slo) in documents[1..].iter().zip(slos.slos()) {
            assert_eq!(document["apiVersion"], "openslo/v1");
            assert_eq!(document["kind"], "SLO");
            let spec = &document["spec"];
            assert_eq!(spec["service"], "shop");
            assert_eq!(spec["budgetingMethod"], "Occurrences");
            assert_eq!(
                spec["timeWindow"],
                json!([{"duration": "30d", "isRolling": true}])
            );
            assert_eq!(spec["objectives"][0]["target"], slo.objective());
            let ratio = &spec["indicator"]["spec"]["ratioMetric"];
            assert_eq!(ratio["counter"], true);
            let query = |side: &str| {
                assert_eq!(ratio[side]["metricSource"]["type"], "Prometheus");
                ratio[side]["metricSource"]["spec"]["query"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            // The total is the rules' denominator; good adds one matcher
            // to it (or, for latency, is the rules' bucket).
            let total = query("total");
            let (total_metric, total_labels) = matchers(&total);
            let denominator = format!(
                "sum(rate({total_metric}{{{}}}[5m]))",
                total_labels.join(",")
            );
            assert!(rules.contains(&denominator), "{denominator}\n{rules}");
            let good = query("good");
            let (good_metric, good_labels) = matchers(&good);
            assert!(good_labels.starts_with(&total_labels), "{good}");
            assert_eq!(good_labels.len(), total_labels.len() + 1, "{good}");
            let bucket = format!("{good_metric}{{{}}}[5m]", good_labels.join(","));
            let negated = good.replace("!~", "=~");
            assert!(
                rules.contains(&bucket) || rules.contains(&negated[4..negated.len() - 1]),
                "{good}\n{rules}"
            );
        }
        // RFC 1123 names; the SLO's own name stays the display name.
        assert_eq!(documents[2]["metadata"]["name"], "users-fast");
        assert_eq!(documents[2]["metadata"]["displayName"], "Users_Fast");
        assert_eq!(
            documents[2]["spec"]["description"],
            "shop: 99% of requests of /users/{id} within 0.25s"
        );
    }

    #[test]
    fn invalid_slos_are_refused() {
        let err = Slos::new("shop")
            .with(Slo::latency("fast", 0.99, 0.3))
            .openslo()
            .unwrap_err();
        assert!(matches!(err, SloError::Threshold { .. }), "{err}");
    }

    #[cfg(feature = "yaml")]
    #[test]
    fn the_yaml_stream_parses_back_to_the_documents() {
        let slos = slos();
        let yaml = slos.openslo_yaml().unwrap();
        let parsed: Vec<Value> = yaml
            .split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_saphyr::from_str(d).unwrap())
            .collect();
        assert_eq!(parsed, slos.openslo().unwrap(), "{yaml}");
    }
}
