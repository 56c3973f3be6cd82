//! Audit lines: what an operator did to the logging itself (a level change,
//! a reset, a revert, a refused write), written whatever the filter in force
//! says, as a panic line is. An audit trail that the audited action could
//! switch off (`off`, `error`, `observe=off`) would not be one.

use tracing::Level;

use super::installed;
use crate::base::json;
use crate::base::line::LogFormat;

/// Writes one WARN line under `target`, bypassing the filter and level
/// remapping, with `message` and `fields` redacted by the installing
/// instance's redactor. Returns `false`, writing nothing, when observe's
/// logging is not installed (the caller then logs through `tracing`).
pub(crate) fn write(target: &str, message: &str, fields: &[(&str, &str)]) -> bool {
    let Some(sink) = installed() else {
        return false;
    };
    let service = sink.service();
    let redactor = &service.redactor;
    let mut line = sink.begin(Level::WARN, Level::WARN, target, service, None, 256);
    #[cfg(feature = "otlp")]
    if let Some(record) = &mut line.record {
        record.body(&redactor.redact_value(message));
        let mut attributes = record.attributes();
        for (name, value) in fields {
            attributes.string(name, &redactor.redact_field(name, value));
        }
    }
    if let Some(line) = &mut line.text {
        match sink.format() {
            LogFormat::Json => {
                json::own_key!(line, "message");
                json::string(line, &redactor.redact_value(message));
                json::own_key!(line, "fields");
                json::redacted_object(line, redactor, fields.iter().copied());
                line.push('}');
            }
            LogFormat::Text => {
                use std::fmt::Write as _;
                let _ = write!(line, " {}", redactor.redact_value(message));
                for (name, value) in fields {
                    let _ = write!(line, " {name}={:?}", redactor.redact_field(name, value));
                }
            }
        }
        line.push('\n');
    }
    sink.send(Level::WARN, line);
    true
}

/// [`write`], or a `tracing` WARN line under `target` when observe's
/// logging is not installed (another subscriber may be listening).
pub(crate) fn audit(target: &str, message: &str, fields: &[(&str, &str)]) {
    if !write(target, message, fields) {
        let fields = fields
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect::<Vec<_>>()
            .join(" ");
        tracing::warn!(target: "observe::audit", audit_target = target, fields, "{message}");
    }
}
