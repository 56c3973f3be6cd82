//! Scrubbing: what is removed from every event before it leaves the
//! process.

use std::borrow::Cow;

use sentry::protocol::{Event, Map, Value};

use observe_redact::{REDACTED, Redactor};

/// Headers that say who the client is: personal data, sent only when
/// opted in.
const CLIENT_ADDRESS_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "true-client-ip",
];

fn is_sensitive_header(redactor: &Redactor, name: &str) -> bool {
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || redactor.is_sensitive_key(name)
}

/// Removes secrets and personal data from any event before it leaves the
/// process: ours, and those the application captures with the `sentry` API.
pub(crate) fn scrub(
    mut event: Event<'static>,
    redactor: &Redactor,
    client_ip: bool,
) -> Event<'static> {
    let value = |text: &mut String| {
        if let Cow::Owned(clean) = redactor.redact_value(text) {
            *text = clean;
        }
    };
    if let Some(message) = event.message.as_mut() {
        value(message);
    }
    if let Some(entry) = event.logentry.as_mut() {
        value(&mut entry.message);
        for param in &mut entry.params {
            scrub_value(redactor, "param", param);
        }
    }
    for exception in event.exception.values.iter_mut() {
        if let Some(text) = exception.value.as_mut() {
            value(text);
        }
    }
    if let Some(request) = event.request.as_mut() {
        request.data = None;
        request.cookies = None;
        request.env.clear();
        if let Some(query) = request.query_string.as_mut() {
            value(query);
        }
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
            let _ = url.set_password(None);
            let _ = url.set_username("");
        }
        request.headers = std::mem::take(&mut request.headers)
            .into_iter()
            .filter(|(name, _)| {
                client_ip || !CLIENT_ADDRESS_HEADERS.contains(&name.to_ascii_lowercase().as_str())
            })
            .map(|(name, mut text)| {
                if is_sensitive_header(redactor, &name.to_ascii_lowercase()) {
                    text = REDACTED.to_string();
                } else {
                    value(&mut text);
                }
                (name, text)
            })
            .collect();
    }
    if let Some(user) = event.user.as_mut() {
        user.email = None;
        user.username = None;
        if !client_ip {
            user.ip_address = None;
        }
        scrub_map(redactor, &mut user.other);
    }
    for crumb in event.breadcrumbs.values.iter_mut() {
        if let Some(message) = crumb.message.as_mut() {
            value(message);
        }
        scrub_map(redactor, &mut crumb.data);
    }
    scrub_map(redactor, &mut event.extra);
    for (name, text) in event.tags.iter_mut() {
        if let Cow::Owned(clean) = redactor.redact_field(name, text) {
            *text = clean;
        }
    }
    event
}

fn scrub_map(redactor: &Redactor, map: &mut Map<String, Value>) {
    for (key, item) in map.iter_mut() {
        scrub_value(redactor, key, item);
    }
}

fn scrub_value(redactor: &Redactor, key: &str, item: &mut Value) {
    if redactor.is_sensitive_key(key) {
        *item = Value::String(REDACTED.to_string());
        return;
    }
    match item {
        Value::String(text) => {
            if let Cow::Owned(clean) = redactor.redact_value(text) {
                *text = clean;
            }
        }
        Value::Array(items) => {
            for inner in items {
                scrub_value(redactor, key, inner);
            }
        }
        Value::Object(map) => {
            for (inner_key, inner) in map.iter_mut() {
                scrub_value(redactor, inner_key, inner);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Exception, Request, Url};

    #[test]
    fn scrubbing_removes_planted_secrets_everywhere() {
        let redactor = Redactor::default();
        let mut event = Event {
            message: Some("login failed for alice@example.com token=abc123".into()),
            ..Default::default()
        };
        event.request = Some(Request {
            url: Url::parse("http://u:pw@shop.test/cb?token=abc123").ok(),
            query_string: Some("token=abc123&page=2".into()),
            cookies: Some("session=abc123".into()),
            data: Some("{\"password\":\"abc123\"}".into()),
            headers: [
                ("Authorization".to_string(), "Bearer abc123".to_string()),
                ("X-Api-Key".to_string(), "abc123".to_string()),
                ("X-Forwarded-For".to_string(), "203.0.113.9".to_string()),
                ("Accept".to_string(), "text/html".to_string()),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        });
        event
            .extra
            .insert("password".into(), Value::String("abc123".into()));
        event.exception = vec![Exception {
            ty: "panic".into(),
            value: Some("bad card 4111 1111 1111 1111".into()),
            ..Default::default()
        }]
        .into();
        let event = scrub(event, &redactor, false);
        let json = serde_json::to_string(&event).expect("serialises");
        for secret in [
            "abc123",
            "alice@example.com",
            "4111 1111",
            "203.0.113.9",
            ":pw@",
        ] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(json.contains("text/html"), "{json}");
        assert!(json.contains("page=2"), "{json}");
    }
}
