//! Label values that stay bounded whatever the traffic looks like: a raw
//! path, header or method never becomes a label value.
//!
//! - **`http_request_method`**: the nine standard methods as sent
//!   (case-sensitive), plus any configured with
//!   [`ObserveBuilder::extra_method`](crate::ObserveBuilder::extra_method);
//!   anything else is [`OTHER_METHOD`] (`_OTHER`).
//! - **`http_route`**: the route template the framework matched
//!   (`/users/{id}`). [`UNMATCHED_ROUTE`] (`_UNMATCHED`) for a request that
//!   matched no route (the 404 fallback); [`OVERFLOW_ROUTE`] (`_OVERFLOW`)
//!   past [`max_routes`](crate::ObserveBuilder::max_routes) distinct routes
//!   (default 1,000), a second line of defence against a route classifier
//!   that leaks raw paths; [`OUTSIDE_REQUEST_ROUTE`] (`_NONE`) on application
//!   metrics recorded outside any request.
//! - **`http_response_status_code`**: the status sent;
//!   [`CANCELLED_STATUS`] (499, nginx's "client closed request") for a
//!   request cancelled before any response. One cancelled while its body was
//!   streaming keeps the status it sent.
//! - **`error_type`**: absent on success and on 4xx; the status code
//!   (`"500"`, `"503"`) for 5xx; `panic` when the handler panicked (answered
//!   with an empty 500, and the server keeps serving); `cancelled` when the
//!   request future or its response body was dropped before the end,
//!   typically because the client went away.
//! - **Request-derived labels** take at most
//!   [`http_label_values`](crate::ObserveBuilder::http_label_values) values
//!   each, then [`OVERFLOW_VALUE`]; one that neither the classifier nor the
//!   handler set is [`NONE_VALUE`].
//! - **Families observe owns** (cache, dependency, counter families) keep at
//!   most [`series_limit`](crate::ObserveBuilder::series_limit) series; past
//!   it new label sets share one series whose labels are all
//!   [`OVERFLOW_VALUE`], counted in `observe_series_overflow_total{metric}`.

/// `http_route` value for a request that matched no route (the framework's
/// 404 fallback). A raw path never becomes a label value.
pub const UNMATCHED_ROUTE: &str = "_UNMATCHED";

/// `http_route` value used once [`crate::ObserveBuilder::max_routes`]
/// distinct routes have been seen: a guard against a route classifier that
/// returns raw paths.
pub const OVERFLOW_ROUTE: &str = "_OVERFLOW";

/// `http_route` value of application metrics (cache, dependency) recorded
/// outside any request: at start-up, in a background task.
pub const OUTSIDE_REQUEST_ROUTE: &str = "_NONE";

/// Value of a request-derived label (
/// [`ObserveBuilder::http_label`](crate::ObserveBuilder::http_label)) that
/// neither the classifier nor the handler set.
pub const NONE_VALUE: &str = "_NONE";

/// Label value of the one series a family falls back to once it has
/// reached its series limit.
pub const OVERFLOW_VALUE: &str = "_OVERFLOW";

/// `http_request_method` value for any method outside the standard nine and
/// the configured extras.
pub const OTHER_METHOD: &str = "_OTHER";

/// `http_response_status_code` value for a request cancelled before the
/// handler produced a response (the client went away). Borrowed from nginx,
/// where 499 means "client closed request".
pub const CANCELLED_STATUS: u16 = 499;

/// The nine methods of RFC 9110 and RFC 5789, in the order of their indices.
pub(crate) const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Upper bound on extra methods, so a method index fits the series key and
/// the in-flight bitmask.
pub(crate) const MAX_EXTRA_METHODS: usize = 32;

/// The set of method label values: the standard nine, the configured extras,
/// then `_OTHER`. A method is carried around as its index.
#[derive(Debug, Clone)]
pub(crate) struct Methods {
    names: Box<[Box<str>]>,
}

impl Methods {
    pub(crate) fn new(extra: &[String]) -> Self {
        let names = STANDARD_METHODS
            .iter()
            .map(|m| Box::<str>::from(*m))
            .chain(extra.iter().map(|m| Box::<str>::from(m.as_str())))
            .chain(std::iter::once(Box::<str>::from(OTHER_METHOD)))
            .collect();
        Self { names }
    }

    /// Index of `method`'s label value. Methods are case-sensitive (RFC 9110
    /// section 9.1), so `get` is `_OTHER`, as OpenTelemetry specifies.
    pub(crate) fn index(&self, method: &str) -> u8 {
        let standard = match method {
            "GET" => Some(0),
            "HEAD" => Some(1),
            "POST" => Some(2),
            "PUT" => Some(3),
            "DELETE" => Some(4),
            "CONNECT" => Some(5),
            "OPTIONS" => Some(6),
            "TRACE" => Some(7),
            "PATCH" => Some(8),
            _ => None,
        };
        if let Some(i) = standard {
            return i;
        }
        let extras = &self.names[STANDARD_METHODS.len()..self.names.len() - 1];
        let found = extras.iter().position(|m| &**m == method);
        let index = found.map_or(self.names.len() - 1, |i| i + STANDARD_METHODS.len());
        u8::try_from(index).expect("at most 9 + 32 + 1 methods")
    }

    pub(crate) fn name(&self, index: u8) -> &str {
        &self.names[usize::from(index)]
    }

    /// The name as a `'static` string when it is a standard method (no
    /// copy needed to hand it to an API that keeps it).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn static_name(index: u8) -> Option<&'static str> {
        STANDARD_METHODS.get(usize::from(index)).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// Whether `name` is a valid Prometheus label name a user may set: the
/// Prometheus grammar (`[a-zA-Z_][a-zA-Z0-9_]*`), without the reserved
/// `__` prefix.
///
/// ```
/// use observe_core::labels::is_valid_label_name;
/// assert!(is_valid_label_name("deployment_track"));
/// assert!(!is_valid_label_name("__name__"));
/// assert!(!is_valid_label_name("2xx"));
/// ```
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with("__")
}

/// Whether `method` is an HTTP token (RFC 9110 section 5.6.2).
pub(crate) fn is_method_token(method: &str) -> bool {
    !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_lowercase_methods_are_other() {
        let methods = Methods::new(&["PROPFIND".to_string()]);
        assert_eq!(methods.name(methods.index("GET")), "GET");
        assert_eq!(methods.name(methods.index("PATCH")), "PATCH");
        assert_eq!(methods.name(methods.index("PROPFIND")), "PROPFIND");
        assert_eq!(methods.name(methods.index("get")), OTHER_METHOD);
        assert_eq!(methods.name(methods.index("FOO")), OTHER_METHOD);
        assert_eq!(methods.len(), 11);
    }

    #[test]
    fn label_names() {
        assert!(is_valid_label_name("region"));
        assert!(is_valid_label_name("_x1"));
        assert!(!is_valid_label_name("1x"));
        assert!(!is_valid_label_name("__reserved"));
        assert!(!is_valid_label_name("a-b"));
        assert!(!is_valid_label_name(""));
    }
}
