//! Who is speaking: the identity one `Observe` gives every signal it
//! feeds, so two instances in one process never borrow each other's name.

use observe_redact::Redactor;

/// The service an `Observe` describes, as its metrics, log lines, request
/// events, error events and spans name it.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    /// `service.name`.
    pub(crate) name: String,
    /// `service.version`, when known.
    pub(crate) version: Option<String>,
    /// The git commit the service was built from, when known.
    pub(crate) git_commit: Option<String>,
    /// The other resource attributes (`deployment.track`, ...), by their
    /// OpenTelemetry keys, in the order given; never `service.name` or
    /// `service.version`, which are the fields above.
    pub(crate) attributes: Vec<(String, String)>,
    /// What every value this instance sends out goes through.
    pub(crate) redactor: Redactor,
    /// `name` as a JSON string, quoted and escaped once for every line.
    #[cfg(feature = "logging")]
    json_name: Box<str>,
}

impl Service {
    /// The service called `name`.
    pub(crate) fn new(
        name: String,
        version: Option<String>,
        git_commit: Option<String>,
        attributes: Vec<(String, String)>,
        redactor: Redactor,
    ) -> Self {
        #[cfg(feature = "logging")]
        let json_name = {
            let mut quoted = String::with_capacity(name.len() + 2);
            super::json::string(&mut quoted, &name);
            quoted.into()
        };
        Self {
            name,
            version,
            git_commit,
            attributes,
            redactor,
            #[cfg(feature = "logging")]
            json_name,
        }
    }

    /// The name as a JSON string, quoted and escaped.
    #[cfg(feature = "logging")]
    pub(crate) fn json_name(&self) -> &str {
        &self.json_name
    }
}
