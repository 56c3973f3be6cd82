//! OpenTelemetry resource attributes as `target_info` labels: the text of
//! `OTEL_RESOURCE_ATTRIBUTES` parsed as the specification says
//! (comma-separated `key=value`, values percent-decoded as in W3C Baggage),
//! and the Prometheus label name each key becomes (dots to underscores, as
//! OpenTelemetry's Prometheus exporters do).

/// The standard variable.
pub(crate) const VARIABLE: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// What a well-formed attribute list looks like, for error messages.
pub(crate) const ACCEPTED: &str = "comma-separated key=value pairs such as \
service.version=1.5.0,deployment.track=canary; keys of ASCII letters, digits, '_' and '.' \
starting with a letter (a '.' becomes '_' in the label: deployment.track -> deployment_track); \
non-empty values, percent-encoded where they hold ',', '=' or '%'";

/// One refused entry: the entry as written and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) entry: String,
    pub(crate) reason: String,
}

/// Parses `key=value,...`. Empty entries (`a=1,,b=2`, a trailing comma) are
/// skipped; a later duplicate key replaces the earlier one.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, Refused> {
    let mut attributes: Vec<(String, String)> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let refused = |reason: String| Refused {
            entry: entry.to_string(),
            reason,
        };
        let Some((key, raw)) = entry.split_once('=') else {
            return Err(refused("no '=' between key and value".to_string()));
        };
        let key = key.trim();
        if label_name(key).is_none() {
            return Err(refused(format!("key {key:?} is not a valid attribute key")));
        }
        let value = percent_decode(raw.trim())
            .ok_or_else(|| refused(format!("value {raw:?} is not valid percent-encoding")))?;
        if value.is_empty() {
            return Err(refused(format!("key {key:?} has an empty value")));
        }
        set(&mut attributes, key, value);
    }
    Ok(attributes)
}

/// Sets `key` to `value`, replacing an earlier value in place.
pub(crate) fn set(attributes: &mut Vec<(String, String)>, key: &str, value: String) {
    match attributes.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => attributes.push((key.to_string(), value)),
    }
}

/// The label `key` becomes (`deployment.track` -> `deployment_track`), or
/// `None` when `key` has characters a label cannot hold. Stricter than the
/// specification's "replace anything invalid by `_`": a key that would be
/// mangled is refused, so what an operator types is what they can query.
pub(crate) fn label_name(key: &str) -> Option<String> {
    let mut chars = key.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    (starts_with_letter && rest_ok).then(|| key.replace('.', "_"))
}

/// `%XX` sequences to bytes; the result must be UTF-8 (also for the OTLP
/// headers' values).
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_specification_format() {
        let parsed =
            parse(" service.version=1.5.0 , deployment.track=canary,,note=a%2Cb%3Dc ,").unwrap();
        assert_eq!(
            parsed,
            [
                ("service.version".to_string(), "1.5.0".to_string()),
                ("deployment.track".to_string(), "canary".to_string()),
                ("note".to_string(), "a,b=c".to_string()),
            ]
        );
        assert_eq!(
            parse("a=1,a=2").unwrap(),
            [("a".to_string(), "2".to_string())]
        );
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn refuses_what_cannot_become_a_label() {
        let reason = |text: &str| parse(text).unwrap_err();
        assert_eq!(reason("a=1,track").entry, "track");
        assert!(
            reason("deployment track=x")
                .reason
                .contains("\"deployment track\"")
        );
        assert!(reason("k8s.pod-name=x").reason.contains("not a valid"));
        assert!(reason("_x=1").reason.contains("not a valid"));
        assert!(reason("a=%zz").reason.contains("percent"));
        assert!(reason("a=%e2%28").reason.contains("percent"));
        assert!(reason("a= ").reason.contains("empty value"));
        assert_eq!(
            label_name("deployment.track").as_deref(),
            Some("deployment_track")
        );
        assert_eq!(
            label_name("service.version").as_deref(),
            Some("service_version")
        );
    }
}
