//! Who the service says it is: name, version and the other OpenTelemetry
//! resource attributes, from code and from `OTEL_RESOURCE_ATTRIBUTES`,
//! with the precedence [`ObserveBuilder::build`] documents, checked so every attribute can be a `target_info` label.

use super::{BuildError, ObserveBuilder};
use crate::base::resource;

/// Labels of `target_info` an attribute may not become: observe's own, and
/// the two Prometheus sets on every scraped series.
const TAKEN: [&str; 5] = [
    "service_name",
    "service_version",
    "git_commit",
    "job",
    "instance",
];

/// Where an attribute set in code is said to come from.
const FROM_CODE: &str = "ObserveBuilder::resource_attribute";

/// The identity `build` gives the service.
#[derive(Debug)]
pub(super) struct Identity {
    pub(super) name: String,
    pub(super) version: Option<String>,
    pub(super) attributes: Vec<(String, String)>,
}

impl ObserveBuilder {
    /// An OpenTelemetry resource attribute, e.g. `("deployment.track",
    /// "canary")`, written on `target_info` as a label whose name has the
    /// dots replaced by underscores (`deployment_track="canary"`), so a
    /// query can join any series to it through `job` and `instance`. Can be
    /// repeated; a later value for the same key replaces the earlier.
    /// `service.version` is the same as [`service_version`](Self::service_version);
    /// `service.name` names the service only when neither
    /// [`service_name`](Self::service_name) nor `OTEL_SERVICE_NAME` does.
    /// A key a label cannot hold fails [`build`](Self::build).
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        if key == "service.version" {
            self.service_version = Some(value);
        } else {
            resource::set(&mut self.resource_attributes, &key, value);
        }
        self
    }

    /// The identity from the builder and `variable` (the text of
    /// `OTEL_RESOURCE_ATTRIBUTES`, when read); `otel_service_name` is
    /// `OTEL_SERVICE_NAME`.
    pub(super) fn identity(
        &mut self,
        variable: Option<&str>,
        otel_service_name: Option<String>,
    ) -> Result<Identity, BuildError> {
        let mut attributes: Vec<(String, String, &'static str)> =
            std::mem::take(&mut self.resource_attributes)
                .into_iter()
                .map(|(k, v)| (k, v, FROM_CODE))
                .collect();
        let mut version = self.service_version.take();
        let mut name_attribute = None;
        if let Some(text) = variable {
            let parsed =
                resource::parse(text).map_err(|refused| BuildError::ResourceAttribute {
                    from: resource::VARIABLE,
                    entry: refused.entry,
                    reason: refused.reason,
                })?;
            for (key, value) in parsed {
                match key.as_str() {
                    "service.version" => version = Some(value),
                    "service.name" => name_attribute = Some(value),
                    _ => match attributes.iter_mut().find(|(k, _, _)| *k == key) {
                        Some(slot) => *slot = (key, value, resource::VARIABLE),
                        None => attributes.push((key, value, resource::VARIABLE)),
                    },
                }
            }
        }
        if let Some(index) = attributes.iter().position(|(k, _, _)| k == "service.name") {
            let (_, value, _) = attributes.remove(index);
            name_attribute.get_or_insert(value);
        }
        let mut labels: Vec<String> = Vec::with_capacity(attributes.len());
        for (key, value, from) in &attributes {
            let from = *from;
            let refused = |reason: String| BuildError::ResourceAttribute {
                from,
                entry: format!("{key}={value}"),
                reason,
            };
            let Some(label) = resource::label_name(key) else {
                return Err(refused(format!("key {key:?} is not a valid attribute key")));
            };
            if value.is_empty() {
                return Err(refused(format!("key {key:?} has an empty value")));
            }
            let taken = TAKEN.contains(&label.as_str())
                || self.const_labels.iter().any(|(name, _)| *name == label)
                || labels.contains(&label);
            if taken {
                return Err(refused(format!(
                    "key {key:?} becomes label {label:?}, which target_info already has"
                )));
            }
            labels.push(label);
        }
        let name = self
            .service_name
            .take()
            .or(otel_service_name)
            .or(name_attribute)
            .unwrap_or_else(|| "unknown_service".to_string());
        Ok(Identity {
            name,
            version,
            attributes: attributes.into_iter().map(|(k, v, _)| (k, v)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Observe;

    fn identity(builder: ObserveBuilder, variable: &str) -> Result<Identity, BuildError> {
        let mut builder = builder;
        builder.identity(Some(variable), None)
    }

    #[test]
    fn the_variable_wins_over_code_except_for_the_name() {
        let code = Observe::builder()
            .service_name("shop")
            .service_version("1.4.2")
            .resource_attribute("deployment.track", "stable")
            .resource_attribute("region", "eu");
        let id = identity(
            code,
            "service.name=other,service.version=1.5.0,deployment.track=canary",
        )
        .unwrap();
        assert_eq!(id.name, "shop");
        assert_eq!(id.version.as_deref(), Some("1.5.0"));
        assert_eq!(
            id.attributes,
            [
                ("deployment.track".to_string(), "canary".to_string()),
                ("region".to_string(), "eu".to_string()),
            ]
        );
        // Nothing in code: the variable names the service.
        let id = identity(Observe::builder(), "service.name=shop").unwrap();
        assert_eq!(id.name, "shop");
        // OTEL_SERVICE_NAME wins over the variable's service.name.
        let id = Observe::builder()
            .identity(Some("service.name=a"), Some("b".to_string()))
            .unwrap();
        assert_eq!(id.name, "b");
    }

    #[test]
    fn target_info_carries_the_attributes_as_escaped_labels() {
        let observe = Observe::builder()
            .service_name("shop")
            .resource_attribute("service.version", "1.5.0")
            .resource_attribute("deployment.track", "can\"ary\\\n")
            .const_label("region", "eu")
            .build()
            .unwrap();
        let text = observe.render(crate::Format::Text).into_text();
        assert!(
            text.contains(
                "target_info{service_name=\"shop\",service_version=\"1.5.0\",deployment_track=\"can\\\"ary\\\\\\n\",region=\"eu\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn bad_attributes_name_where_they_came_from() {
        let err = identity(Observe::builder(), "deployment.track").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("\"deployment.track\" in OTEL_RESOURCE_ATTRIBUTES"),
            "{text}"
        );
        assert!(text.contains("no '='"), "{text}");
        assert!(
            text.contains("expected comma-separated key=value"),
            "{text}"
        );
        let err = identity(Observe::builder(), "git.commit=abc").unwrap_err();
        assert!(
            err.to_string().contains("becomes label \"git_commit\""),
            "{err}"
        );
        let err =
            identity(Observe::builder().const_label("region", "eu"), "region=us").unwrap_err();
        assert!(err.to_string().contains("label \"region\""), "{err}");
        let err = identity(Observe::builder(), "a.b=1,a_b=2").unwrap_err();
        assert!(err.to_string().contains("label \"a_b\""), "{err}");
        let err = Observe::builder()
            .resource_attribute("pod-name", "x")
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("\"pod-name=x\" in ObserveBuilder::resource_attribute"),
            "{err}"
        );
    }
}
