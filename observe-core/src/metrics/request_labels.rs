//! Request-derived labels on the HTTP families: a few label names the
//! service declares ([`ObserveBuilder::http_label`](crate::ObserveBuilder::http_label)),
//! whose values come from a classifier of the request or from handler code
//! ([`set_http_label`](crate::context::set_http_label)).
//!
//! Every value becomes a small id, so a series key stays one integer and
//! the hot path stays a hash lookup: 0 is [`NONE_VALUE`] (not set), 1 is
//! [`OVERFLOW_VALUE`] (past the label's value limit), the rest are the
//! values in the order they came. Each label has at most
//! [`MAX_HTTP_LABEL_VALUES`] values; past its limit new values are recorded
//! as `_OVERFLOW` and counted in `observe_http_label_overflow_total{label}`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::encoding::{Format, counter_header, escape_label_value, write_counter};
use crate::metrics::labels::{NONE_VALUE, OVERFLOW_VALUE};

/// Labels one `Observe` may declare: each multiplies the HTTP series.
pub const MAX_HTTP_LABELS: usize = 3;
/// Default for [`ObserveBuilder::http_label_values`](crate::ObserveBuilder::http_label_values).
pub const DEFAULT_HTTP_LABEL_VALUES: usize = 50;
/// The most values one label may have (ids are one byte; two are taken).
pub const MAX_HTTP_LABEL_VALUES: usize = 250;
/// The longest value kept; longer ones are cut at a character boundary.
pub const MAX_HTTP_LABEL_VALUE_LEN: usize = 64;

/// The id of "not set".
pub(crate) const NONE_ID: u8 = 0;
const OVERFLOW_ID: u8 = 1;

/// What a label classifier sees of a request: the method, the path and
/// the headers. No body: the classifier runs before the handler.
#[derive(Debug, Clone, Copy)]
pub struct LabelRequest<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(&'a str, &'a [u8])],
}

impl<'a> LabelRequest<'a> {
    /// A request with these parts.
    pub fn new(method: &'a str, path: &'a str, headers: &'a [(&'a str, &'a [u8])]) -> Self {
        Self {
            method,
            path,
            headers,
        }
    }

    /// The method as sent.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The path, without the query.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The first value of header `name` (any case), when it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// A label classifier: the label's value for a request, or `None` to leave
/// it to the handler (or `_NONE`).
pub(crate) type Classifier =
    std::sync::Arc<dyn Fn(&LabelRequest<'_>) -> Option<String> + Send + Sync>;

/// One declared label: its values, in the order they came.
struct Label {
    name: Box<str>,
    ids: RwLock<HashMap<Box<str>, u8>>,
    values: RwLock<Vec<Arc<str>>>,
    overflowed: AtomicU64,
    classifier: Option<Classifier>,
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Label")
            .field("name", &self.name)
            .field("classifier", &self.classifier.is_some())
            .finish_non_exhaustive()
    }
}

/// The request-derived labels of one `Observe`.
#[derive(Debug, Default)]
pub(crate) struct HttpLabels {
    labels: Vec<Label>,
    limit: usize,
    created: f64,
}

/// The ids of a request's label values, one per declared label.
pub(crate) type LabelIds = [u8; MAX_HTTP_LABELS];

fn cut(value: &str) -> &str {
    if value.len() <= MAX_HTTP_LABEL_VALUE_LEN {
        return value;
    }
    let mut end = MAX_HTTP_LABEL_VALUE_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

impl HttpLabels {
    /// `labels` (names validated by the builder, with their classifiers).
    pub(crate) fn new(
        labels: Vec<(String, Option<Classifier>)>,
        limit: usize,
        created: f64,
    ) -> Self {
        Self {
            labels: labels
                .into_iter()
                .map(|(name, classifier)| Label {
                    name: name.into(),
                    ids: RwLock::default(),
                    values: RwLock::new(vec![NONE_VALUE.into(), OVERFLOW_VALUE.into()]),
                    overflowed: AtomicU64::new(0),
                    classifier,
                })
                .collect(),
            limit,
            created,
        }
    }

    /// Whether any label has a classifier (then the recorder builds a
    /// [`LabelRequest`]).
    pub(crate) fn classifies(&self) -> bool {
        self.labels.iter().any(|l| l.classifier.is_some())
    }

    /// The ids the classifiers give `request`.
    pub(crate) fn classify(&self, request: &LabelRequest<'_>) -> LabelIds {
        let mut ids = [NONE_ID; MAX_HTTP_LABELS];
        for (index, label) in self.labels.iter().enumerate() {
            if let Some(value) = label.classifier.as_ref().and_then(|c| c(request)) {
                ids[index] = self.id(index, &value);
            }
        }
        ids
    }

    /// Whether any label is declared.
    pub(crate) fn any(&self) -> bool {
        !self.labels.is_empty()
    }

    /// The declared names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|l| &*l.name)
    }

    /// The position of the label `name`, if declared.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.labels.iter().position(|l| &*l.name == name)
    }

    /// The id of `value` for the label at `index`: a new value takes the
    /// next id while the label has room, else `_OVERFLOW` (counted).
    pub(crate) fn id(&self, index: usize, value: &str) -> u8 {
        let Some(label) = self.labels.get(index) else {
            return NONE_ID;
        };
        let value = cut(value);
        if let Some(id) = label
            .ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(value)
        {
            return *id;
        }
        let mut ids = label.ids.write().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = ids.get(value) {
            return *id;
        }
        if ids.len() >= self.limit {
            label.overflowed.fetch_add(1, Ordering::Relaxed);
            return OVERFLOW_ID;
        }
        let mut values = label.values.write().unwrap_or_else(|p| p.into_inner());
        // The limit is at most 250: the id fits a byte with 0 and 1 taken.
        let id = u8::try_from(values.len()).unwrap_or(OVERFLOW_ID);
        values.push(value.into());
        ids.insert(value.into(), id);
        id
    }

    /// The value of `id` for the label at `index`.
    pub(crate) fn value(&self, index: usize, id: u8) -> Arc<str> {
        self.labels
            .get(index)
            .and_then(|label| {
                label
                    .values
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(usize::from(id))
                    .cloned()
            })
            .unwrap_or_else(|| NONE_VALUE.into())
    }

    /// Every declared label with its value for `ids`.
    pub(crate) fn pairs(&self, ids: &LabelIds) -> Vec<(&str, Arc<str>)> {
        self.labels
            .iter()
            .enumerate()
            .map(|(index, label)| (&*label.name, self.value(index, ids[index])))
            .collect()
    }

    /// Appends `,name="value"` for each declared label.
    pub(crate) fn write(&self, out: &mut String, ids: &LabelIds) {
        for (index, label) in self.labels.iter().enumerate() {
            out.push(',');
            out.push_str(&label.name);
            out.push_str("=\"");
            escape_label_value(out, &self.value(index, ids[index]));
            out.push('"');
        }
    }

    /// Writes `observe_http_label_overflow_total{label}` when labels are
    /// declared.
    pub(crate) fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        if self.labels.is_empty() {
            return;
        }
        const NAME: &str = "observe_http_label_overflow";
        counter_header(
            out,
            format,
            NAME,
            "Requests whose request-derived label value was recorded as _OVERFLOW: the label had its limit of values.",
        );
        for label in &self.labels {
            let mut labels = String::from("label=\"");
            escape_label_value(&mut labels, &label.name);
            labels.push('"');
            labels.push_str(const_labels);
            write_counter(
                out,
                format,
                NAME,
                &labels,
                label.overflowed.load(Ordering::Relaxed),
                self.created,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bounded_and_overflow_is_counted() {
        let labels = HttpLabels::new(
            vec![("tenant_tier".into(), None), ("client".into(), None)],
            3,
            0.0,
        );
        assert_eq!(labels.index_of("client"), Some(1));
        assert_eq!(labels.index_of("nope"), None);
        let gold = labels.id(0, "gold");
        assert_eq!(labels.id(0, "gold"), gold);
        labels.id(0, "silver");
        labels.id(0, "bronze");
        assert_eq!(labels.id(0, "platinum"), OVERFLOW_ID);
        assert_eq!(&*labels.value(0, OVERFLOW_ID), "_OVERFLOW");
        assert_eq!(&*labels.value(0, gold), "gold");
        assert_eq!(&*labels.value(1, NONE_ID), "_NONE");
        let long = "x".repeat(500);
        assert_eq!(
            labels.value(1, labels.id(1, &long)).len(),
            MAX_HTTP_LABEL_VALUE_LEN
        );
        let mut out = String::new();
        labels.write(&mut out, &[gold, NONE_ID, NONE_ID]);
        assert_eq!(out, ",tenant_tier=\"gold\",client=\"_NONE\"");
        let mut out = String::new();
        labels.render(&mut out, Format::Text, "");
        assert!(
            out.contains("observe_http_label_overflow_total{label=\"tenant_tier\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("observe_http_label_overflow_total{label=\"client\"} 0"),
            "{out}"
        );
    }
}

#[cfg(test)]
mod classifier_tests {
    use super::*;

    #[test]
    fn a_classifier_reads_headers_case_insensitively() {
        let classifier: Classifier = Arc::new(|r| r.header("X-Client-Kind").map(str::to_string));
        let labels = HttpLabels::new(vec![("client".into(), Some(classifier))], 10, 0.0);
        assert!(labels.classifies());
        let headers: [(&str, &[u8]); 2] = [("accept", b"*/*"), ("x-client-kind", b"ios")];
        let ids = labels.classify(&LabelRequest::new("GET", "/", &headers));
        assert_eq!(&*labels.value(0, ids[0]), "ios");
        let ids = labels.classify(&LabelRequest::new("GET", "/", &[]));
        assert_eq!(ids[0], NONE_ID);
    }
}
