//! Error events and their scrubbing.

use std::borrow::Cow;

use sentry::protocol::{Event, Exception, Level, Map, Mechanism, Request, Url, Value};

use crate::context::RequestContext;
use crate::logging::Redactor;
use crate::logging::redact::REDACTED;

use super::MAX_HEADERS;

/// The longest path and query kept, in bytes.
const MAX_TARGET: usize = 2048;

/// The longest header value kept, in bytes.
const MAX_HEADER_VALUE: usize = 512;

/// Headers that say who the client is: personal data, sent only when
/// opted in.
const CLIENT_ADDRESS_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "true-client-ip",
];

/// What an error event may say about its request, copied when the request
/// starts (only while error tracking is on), as cheaply as possible: one
/// bounded buffer, `target \0 name \0 value \0 ...` (none of them can
/// hold a NUL). Nothing is classified here: every request pays for this,
/// only failing ones are scrubbed, when the event is built (sensitive and
/// client-address headers dropped or replaced, the rest redacted).
#[derive(Debug, Default)]
pub(crate) struct RequestDetails {
    buffer: String,
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl RequestDetails {
    pub(crate) fn new<'a>(
        path_and_query: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Self {
        let mut buffer = String::with_capacity(256);
        buffer.push_str(cut(path_and_query, MAX_TARGET));
        for (name, value) in headers.into_iter().take(MAX_HEADERS) {
            buffer.push('\0');
            buffer.push_str(name);
            buffer.push('\0');
            match std::str::from_utf8(value) {
                Ok(text) => buffer.push_str(cut(text, MAX_HEADER_VALUE)),
                Err(_) => buffer.push_str(cut(&String::from_utf8_lossy(value), MAX_HEADER_VALUE)),
            }
        }
        Self { buffer }
    }

    fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self.buffer.split('\0').skip(1);
        std::iter::from_fn(move || Some((parts.next()?, parts.next().unwrap_or(""))))
    }

    fn to_request(&self, method: &str) -> Request {
        let target = self.buffer.split('\0').next().unwrap_or("/");
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_string())),
            None => (target, None),
        };
        let host = self
            .headers()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map(|(_, value)| value);
        let url = host.and_then(|host| Url::parse(&format!("http://{host}{path}")).ok());
        Request {
            url,
            method: Some(method.to_string()),
            query_string: query,
            // Scrubbed (sensitive values replaced, client addresses dropped
            // unless opted in) by `scrub`, before anything leaves.
            headers: self
                .headers()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
                .collect(),
            ..Default::default()
        }
    }
}

fn is_sensitive_header(redactor: &Redactor, name: &str) -> bool {
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || redactor.is_sensitive_key(name)
}

/// The parts every event of a request shares: tags, transaction, request.
fn base(
    kind: &'static str,
    context: Option<&RequestContext>,
) -> (Event<'static>, Cow<'static, str>, Cow<'static, str>) {
    let mut event = Event {
        level: Level::Error,
        logger: Some("observe".to_string()),
        ..Default::default()
    };
    event.tags.insert("observe.kind".into(), kind.into());
    let Some(context) = context else {
        return (event, Cow::Borrowed("-"), Cow::Borrowed("-"));
    };
    let method = context.method().to_string();
    let route = context.route().to_string();
    event
        .tags
        .insert("http.request.method".into(), method.clone());
    event.tags.insert("http.route".into(), route.clone());
    event
        .tags
        .insert("request_id".into(), context.request_id().to_string());
    let trace = context.trace_ids();
    event.tags.insert("trace_id".into(), trace.trace_id_hex());
    event.tags.insert("span_id".into(), trace.span_id_hex());
    event.transaction = Some(format!("{method} {route}"));
    if let Some(details) = context.details() {
        event.request = Some(details.to_request(&method));
    }
    (event, method.into(), route.into())
}

/// A 5xx response. One issue per method, route and status.
pub(crate) fn server_error(context: &RequestContext, route: &str, status: u16) -> Event<'static> {
    let (mut event, method, _) = base("server_error", Some(context));
    event.tags.insert("http.route".into(), route.to_string());
    event.transaction = Some(format!("{method} {route}"));
    let status = status.to_string();
    event.message = Some(format!("HTTP {status} from {method} {route}"));
    event
        .tags
        .insert("http.response.status_code".into(), status.clone());
    event.tags.insert("error.type".into(), status.clone());
    event.fingerprint = Cow::Owned(vec![
        "server_error".into(),
        method,
        route.to_string().into(),
        status.into(),
    ]);
    event
}

/// An ERROR log line. One issue per callsite (and route, inside a request).
pub(crate) fn log_line(
    context: Option<&RequestContext>,
    target: &str,
    callsite: &str,
    message: &str,
    fields: &str,
) -> Event<'static> {
    let (mut event, method, route) = base("log", context);
    event.logger = Some(target.to_string());
    event.message = Some(message.to_string());
    if !fields.is_empty() {
        event
            .extra
            .insert("fields".into(), Value::String(fields.to_string()));
    }
    event.fingerprint = Cow::Owned(vec![
        "log".into(),
        target.to_string().into(),
        callsite.to_string().into(),
        method,
        route,
    ]);
    event
}

/// A panic (its backtrace is added off the request path). One issue per
/// source location (and route, inside a request).
pub(crate) fn panic(
    context: Option<&RequestContext>,
    info: &std::panic::PanicHookInfo<'_>,
) -> Event<'static> {
    let (mut event, method, route) = base("panic", context);
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_string());
    let location = info.location().map_or_else(
        || "unknown".to_string(),
        |l| format!("{}:{}", l.file(), l.line()),
    );
    event.tags.insert("error.type".into(), "panic".into());
    if context.is_some() {
        // The framework crates answer a panicking handler with a 500.
        event
            .tags
            .insert("http.response.status_code".into(), "500".into());
    }
    event.culprit = Some(location.clone());
    event.exception = vec![Exception {
        ty: "panic".into(),
        value: Some(message),
        // Filled in by the capture thread from the unresolved backtrace.
        stacktrace: None,
        mechanism: Some(Mechanism {
            ty: "panic".into(),
            handled: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }]
    .into();
    event.fingerprint = Cow::Owned(vec!["panic".into(), location.into(), method, route]);
    event
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

/// Resolves a panic's backtrace into the event's exception, dropping the
/// frames of the panic machinery and of observe's own hook.
pub(crate) fn attach_backtrace(event: &mut Event<'static>, mut backtrace: backtrace::Backtrace) {
    backtrace.resolve();
    let Some(mut stacktrace) = sentry::integrations::backtrace::backtrace_to_stacktrace(&backtrace)
    else {
        return;
    };
    // Frames are listed outermost first; cut everything from the hook on.
    let hook = stacktrace.frames.iter().position(|frame| {
        frame
            .function
            .as_deref()
            .is_some_and(|f| f.contains("observe_core::errors") || f.contains("std::panicking"))
    });
    if let Some(hook) = hook {
        stacktrace.frames.truncate(hook);
    }
    if let Some(exception) = event.exception.values.first_mut() {
        exception.stacktrace = Some(stacktrace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
