//! The dependency call in progress: its own span id, so an outgoing
//! `traceparent` names the call (not the request) as its parent, with or
//! without span export.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::base::ids::TraceIds;

thread_local! {
    static CALL: Cell<Option<TraceIds>> = const { Cell::new(None) };
}

/// The ids of the dependency call running on this thread, if any.
pub(crate) fn current_call() -> Option<TraceIds> {
    CALL.get()
}

pin_project! {
    /// A dependency call's future, with the call's ids current around each
    /// poll.
    pub(crate) struct InCall<F> {
        #[pin]
        inner: F,
        ids: Option<TraceIds>,
    }
}

/// Runs `future` as the call `ids` names (as it is, for `None`).
pub(crate) fn in_call<F: Future>(ids: Option<TraceIds>, future: F) -> InCall<F> {
    InCall { inner: future, ids }
}

impl<F: Future> Future for InCall<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(ids) = *this.ids else {
            return this.inner.poll(cx);
        };
        let previous = CALL.replace(Some(ids));
        let _restore = Restore(previous);
        this.inner.poll(cx)
    }
}

struct Restore(Option<TraceIds>);

impl Drop for Restore {
    fn drop(&mut self) {
        CALL.set(self.0);
    }
}
