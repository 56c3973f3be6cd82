//! Runs the checks of one probe concurrently: a join of boxed futures, so
//! a slow check costs the probe its own timeout, not the sum of them all.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Every future's output, in order, once all are ready.
pub(super) fn all<T: Unpin>(futures: Vec<Boxed<T>>) -> JoinAll<T> {
    JoinAll {
        slots: futures.into_iter().map(Slot::Pending).collect(),
    }
}

enum Slot<T> {
    Pending(Boxed<T>),
    Done(T),
    Taken,
}

pub(super) struct JoinAll<T> {
    slots: Vec<Slot<T>>,
}

impl<T: Unpin> Future for JoinAll<T> {
    type Output = Vec<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let mut pending = false;
        for slot in &mut self.slots {
            if let Slot::Pending(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *slot = Slot::Done(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            return Poll::Pending;
        }
        let outputs = self
            .slots
            .iter_mut()
            .filter_map(|slot| match std::mem::replace(slot, Slot::Taken) {
                Slot::Done(value) => Some(value),
                _ => None,
            })
            .collect();
        Poll::Ready(outputs)
    }
}
