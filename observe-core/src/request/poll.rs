//! Polling the handler: inside the request's context, and with a rule for
//! a panic, whether observe catches it or a layer outside does.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;

use super::RequestTracker;
use crate::context::{LateRoute, enter, enter_with_late_route};

/// The handler panicked and observe caught the panic: answer an empty 500
/// and call [`RequestTracker::panicked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaughtPanic;

/// Polls the handler of the request `slot` tracks (with `poll`), inside the
/// request's context so handler code sees it; `late` names the route on
/// demand for frameworks that route after their middleware (actix-web).
///
/// With `catch` (`ObserveBuilder::catch_panics`, the default) a panic is
/// caught and comes back as [`CaughtPanic`]. Without it the panic goes on
/// unwinding and the request is recorded as panicked on its way out, once:
/// a layer outside (tower-http's `CatchPanicLayer`) may keep the future
/// long after, and must not make it look cancelled.
pub fn poll_handler<R>(
    slot: &mut Option<RequestTracker>,
    catch: bool,
    late: Option<&Rc<dyn LateRoute>>,
    poll: impl FnOnce() -> R,
) -> Result<R, CaughtPanic> {
    let Some(tracker) = slot.as_ref() else {
        return if catch {
            catch_unwind(AssertUnwindSafe(poll)).map_err(|_| CaughtPanic)
        } else {
            Ok(poll())
        };
    };
    if catch {
        let context = tracker.context();
        let run = || match late {
            Some(late) => enter_with_late_route(context, late, poll),
            None => enter(context, poll),
        };
        return catch_unwind(AssertUnwindSafe(run)).map_err(|_| CaughtPanic);
    }
    let context = Arc::clone(tracker.context());
    let _watch = UnwindWatch { slot, late };
    Ok(match late {
        Some(late) => enter_with_late_route(&context, late, poll),
        None => enter(&context, poll),
    })
}

/// Records the request as panicked if dropped while its thread unwinds,
/// with its route named first where the framework routes late.
struct UnwindWatch<'a> {
    slot: &'a mut Option<RequestTracker>,
    late: Option<&'a Rc<dyn LateRoute>>,
}

impl Drop for UnwindWatch<'_> {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(mut tracker) = self.slot.take()
        {
            if let Some(late) = self.late {
                tracker.route_after_handler(late.late_route().as_deref());
            }
            tracker.panicked();
        }
    }
}
