//! The installed error tracker: admits, counts and throttles errors, and
//! hands events to the capture thread, where everything slow happens.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{SystemTime, UNIX_EPOCH};

use sentry::protocol::Event;

use super::event;
use super::scrub::scrub;
use crate::context::RequestContext;
use crate::metrics::signals::{DropReason, ErrorKind, counters};
use observe_redact::Redactor;

/// The process's error tracker, once [`ErrorsBuilder::init`](super::ErrorsBuilder::init)
/// found a DSN.
#[derive(Debug)]
pub(crate) struct Tracker {
    pub(super) server_errors: bool,
    pub(super) throttle: Throttle,
    /// Whether the release was given (builder or `SENTRY_RELEASE`); if
    /// not, each event names its own instance's release.
    pub(super) release_fixed: bool,
    /// To the capture thread, which finishes events (backtraces, scrubbing)
    /// and hands them to the Sentry client.
    pub(super) capture: SyncSender<Job>,
}

/// An event on its way to the capture thread, with the redactor of the
/// instance it speaks for.
pub(crate) enum Job {
    Event(Box<Event<'static>>, Option<Redactor>),
    Panic(Box<Event<'static>>, Option<Redactor>, backtrace::Backtrace),
    /// Acknowledged once every job before it was handed to the client.
    Flush(SyncSender<()>),
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// What the capture thread is handing to the Sentry client right now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handover {
    /// Nothing: an event captured now was sent by the application.
    None,
    /// One of observe's own events, still to be scrubbed by `before_send`.
    Own,
    /// One of observe's own events, scrubbed already.
    Scrubbed,
}

thread_local! {
    /// Set on the capture thread while it hands over one of observe's own
    /// events, so the client's event processor does not count it as the
    /// application's and `before_send` does not scrub it twice.
    static HANDOVER: Cell<Handover> = const { Cell::new(Handover::None) };
}

/// Whether the event being sent now is one of observe's own.
pub(super) fn own_event() -> bool {
    HANDOVER.with(Cell::get) != Handover::None
}

/// Whether the event being sent now was scrubbed by the capture thread.
pub(super) fn scrubbed_already() -> bool {
    HANDOVER.with(Cell::get) == Handover::Scrubbed
}

/// Hands `event` to the Sentry client as observe's own.
fn hand_over(event: Event<'static>, handover: Handover) {
    HANDOVER.with(|h| h.set(handover));
    sentry::capture_event(event);
    HANDOVER.with(|h| h.set(Handover::None));
}

/// The capture thread: everything slow about an event happens here. An
/// event made in a request is scrubbed with its instance's redactor; any
/// other (outside a request, or sent by the application with the `sentry`
/// API) by the client's `before_send`, with the installing instance's.
pub(super) fn capture_events(jobs: Receiver<Job>, client_ip: bool) {
    while let Ok(job) = jobs.recv() {
        let (event, redactor) = match job {
            Job::Event(event, redactor) => (*event, redactor),
            Job::Panic(mut event, redactor, backtrace) => {
                event::attach_backtrace(&mut event, backtrace);
                (*event, redactor)
            }
            Job::Flush(ack) => {
                let _ = ack.send(());
                continue;
            }
        };
        match &redactor {
            Some(redactor) => hand_over(scrub(event, redactor, client_ip), Handover::Scrubbed),
            None => hand_over(event, Handover::Own),
        }
    }
}

/// At most `limit` events per wall-clock second, for the whole process: a
/// panic on every request must not spend the service's CPU on backtraces
/// nor flood the queue.
#[derive(Debug)]
pub(super) struct Throttle {
    pub(super) limit: u32,
    /// `second << 32 | count`.
    pub(super) window: AtomicU64,
}

impl Throttle {
    pub(super) fn admit(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (second, count) = (current >> 32, current & 0xffff_ffff);
            let next = if second == now & 0xffff_ffff {
                if count >= u64::from(self.limit) {
                    return false;
                }
                current + 1
            } else {
                ((now & 0xffff_ffff) << 32) | 1
            };
            match self.window.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }
}

impl Tracker {
    /// Counts the error and decides whether it may be sent now.
    fn admit(&self, kind: ErrorKind) -> bool {
        let counters = &counters().errors;
        counters.captured(kind);
        if self.throttle.admit() {
            true
        } else {
            counters.dropped(DropReason::Throttled);
            false
        }
    }

    /// Names the event's release after its instance, unless one was given.
    fn finish(
        &self,
        mut event: Event<'static>,
        context: Option<&RequestContext>,
    ) -> Box<Event<'static>> {
        if !self.release_fixed
            && let Some(release) = context.and_then(|c| event::default_release(c.service()))
        {
            event.release = Some(release.into());
        }
        Box::new(event)
    }

    /// Hands an event to the capture thread; never blocks.
    fn submit(&self, job: Job) {
        if self.capture.try_send(job).is_err() {
            counters().errors.dropped(DropReason::QueueFull);
        }
    }

    /// A 5xx response (not a panic, not already reported by an ERROR line).
    pub(crate) fn server_error(&self, context: &RequestContext, route: &str, status: u16) {
        self.request_failure(context, || event::server_error(context, route, status));
    }

    /// A gRPC call that ended with a server-error code.
    pub(crate) fn rpc_error(
        &self,
        context: &RequestContext,
        service: &str,
        method: &str,
        code: u8,
    ) {
        self.request_failure(context, || event::rpc_error(context, service, method, code));
    }

    /// Reports the request's failure once (unless a panic or an ERROR line
    /// did already), within the rate limit; `event` is built only then.
    fn request_failure(&self, context: &RequestContext, event: impl FnOnce() -> Event<'static>) {
        if !self.server_errors
            || context.mark_error_reported()
            || !self.admit(ErrorKind::ServerError)
        {
            return;
        }
        let event = self.finish(event(), Some(context));
        let redactor = context.service().redactor.clone();
        self.submit(Job::Event(event, Some(redactor)));
    }

    /// An ERROR line (after remapping), forwarded from logging.
    pub(crate) fn log_line(&self, target: &str, callsite: &str, message: &str, fields: &str) {
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.mark_error_reported();
        }
        if !self.admit(ErrorKind::Log) {
            return;
        }
        let context = context.as_deref();
        let event = event::log_line(context, target, callsite, message, fields);
        let event = self.finish(event, context);
        let redactor = context.map(|c| c.service().redactor.clone());
        self.submit(Job::Event(event, redactor));
    }

    pub(super) fn panic(&self, info: &std::panic::PanicHookInfo<'_>) {
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.mark_error_reported();
        }
        if !self.admit(ErrorKind::Panic) {
            return;
        }
        let context = context.as_deref();
        let event = self.finish(event::panic(context, info), context);
        let redactor = context.map(|c| c.service().redactor.clone());
        // Walking the stack is quick; resolving symbols takes milliseconds
        // and happens on the capture thread.
        let backtrace = backtrace::Backtrace::new_unresolved();
        self.submit(Job::Panic(event, redactor, backtrace));
    }
}

/// Reports panics to `tracker` from observe's process-wide panic hook.
pub(super) fn install_panic_hook(tracker: &'static Tracker) {
    crate::base::panic_hook::set_report(Box::new(move |info| tracker.panic(info)));
}
