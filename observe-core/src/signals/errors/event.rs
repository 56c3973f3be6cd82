//! Error events: what each kind of error becomes, before scrubbing.

use std::borrow::Cow;

use sentry::protocol::{Event, Exception, Level, Mechanism, Request, TraceContext, Url, Value};

use crate::base::ids::TraceIds;
use crate::base::service::Service;
use crate::context::{RequestContext, RequestDetails};

/// Sentry's release naming, `shop@1.2.0+abc1234`, from the service's own
/// version (and commit); `None` when neither is known.
pub(crate) fn default_release(service: &Service) -> Option<String> {
    let mut release = service.name.clone();
    release.push('@');
    match (&service.version, &service.git_commit) {
        (Some(version), commit) => {
            release.push_str(version);
            if let Some(commit) = commit {
                release.push('+');
                release.push_str(commit);
            }
        }
        (None, Some(commit)) => release.push_str(commit),
        (None, None) => return None,
    }
    Some(release)
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
    let (method, route) = with_request(&mut event, context);
    (event, method.into(), route.into())
}

/// Adds what an event made inside `context`'s request says about it, where
/// the event does not say it already: the service (the request's own
/// instance, whoever installed the client), method, route, request id,
/// trace and span ids, the transaction and the (unscrubbed) request; and
/// Sentry's trace context, always (see [`trace_context`]).
/// Returns the method and route.
pub(crate) fn with_request(
    event: &mut Event<'static>,
    context: &RequestContext,
) -> (String, String) {
    let service = context.service();
    let tags = &mut event.tags;
    let mut tag = |key: &str, value: String| {
        tags.entry(key.to_string()).or_insert(value);
    };
    tag("service.name", service.name.clone());
    if let Some(version) = &service.version {
        tag("service.version", version.clone());
    }
    let method = context.method().to_string();
    let route = context.route().to_string();
    tag("http.request.method", method.clone());
    tag("http.route", route.clone());
    tag("request_id", context.request_id().to_string());
    let trace = context.current_ids();
    tag("trace_id", trace.trace_id_hex());
    tag("span_id", trace.span_id_hex());
    event
        .contexts
        .insert("trace".into(), trace_context(context, &trace).into());
    event
        .server_name
        .get_or_insert_with(|| service.name.clone().into());
    event
        .transaction
        .get_or_insert_with(|| format!("{method} {route}"));
    if event.request.is_none()
        && let Some(details) = context.details()
    {
        event.request = Some(to_request(details, &method));
    }
    (method, route)
}

/// Sentry's trace context for an event made now inside `context`'s request,
/// whose current ids are `ids`: the request's trace, the span the event
/// happened in (the request's own, or the dependency call in progress) and
/// that span's parent (the caller's span, or the request's). Sentry links
/// an event to its trace through this, not through tags, so it replaces
/// whatever the hub filled in (the hub's own trace, unrelated to the
/// request's: observe binds no hub per request).
fn trace_context(context: &RequestContext, ids: &TraceIds) -> TraceContext {
    let request = context.trace_ids();
    let parent = if ids.span_id == request.span_id {
        context.trace.parent_span_id()
    } else {
        Some(request.span_id)
    };
    TraceContext {
        trace_id: ids.trace_id.into(),
        span_id: ids.span_id.into(),
        parent_span_id: parent.map(Into::into),
        ..Default::default()
    }
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

/// A gRPC call that ended with a server-error code. One issue per method
/// and code.
pub(crate) fn rpc_error(
    context: &RequestContext,
    service: &str,
    method: &str,
    code: u8,
) -> Event<'static> {
    let (mut event, _, _) = base("server_error", Some(context));
    let name = crate::metrics::rpc::GRPC_CODES
        .get(usize::from(code))
        .copied()
        .unwrap_or("UNKNOWN");
    let call = format!("{service}/{method}");
    event.transaction = Some(call.clone());
    event.message = Some(format!("gRPC {name} ({code}) from {call}"));
    let code = code.to_string();
    for (key, value) in [
        ("rpc.system", "grpc".to_string()),
        ("rpc.service", service.to_string()),
        ("rpc.method", method.to_string()),
        ("rpc.grpc.status_code", code.clone()),
        ("error.type", code.clone()),
    ] {
        event.tags.insert(key.into(), value);
    }
    event.fingerprint = Cow::Owned(vec!["rpc_error".into(), call.into(), code.into()]);
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

/// The Sentry request of `details`: still raw, scrubbed by `scrub`.
fn to_request(details: &RequestDetails, method: &str) -> Request {
    let target = details.target();
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_string())),
        None => (&*target, None),
    };
    let host = details
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
        headers: details
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.into_owned()))
            .collect(),
        ..Default::default()
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
        frame.function.as_deref().is_some_and(|f| {
            f.contains("observe_core::signals::errors") || f.contains("std::panicking")
        })
    });
    if let Some(hook) = hook {
        stacktrace.frames.truncate(hook);
    }
    if let Some(exception) = event.exception.values.first_mut() {
        exception.stacktrace = Some(stacktrace);
    }
}
