//! The flush handshake shared by observe's background threads (log
//! writer, error capture, span export): each drains a bounded queue, and a
//! flush is a message that the thread acknowledges once everything queued
//! before it has been handled.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// How a flush ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Everything queued before the flush was handled.
    Done,
    /// The deadline passed first (the queue stayed full, or the thread
    /// did not get to the flush in time).
    TimedOut,
    /// The thread is gone.
    Gone,
}

/// Queues the flush message `flush(ack)` (retrying while the queue is
/// full) and waits for its acknowledgement, all before `deadline`: a stuck
/// thread cannot hold up whoever flushes.
pub(crate) fn flush_through<M>(
    queue: &SyncSender<M>,
    flush: impl FnOnce(SyncSender<()>) -> M,
    deadline: Instant,
) -> Flushed {
    let (ack, done) = sync_channel(1);
    let mut message = flush(ack);
    loop {
        match queue.try_send(message) {
            Ok(()) => break,
            Err(TrySendError::Disconnected(_)) => return Flushed::Gone,
            Err(TrySendError::Full(back)) => {
                if Instant::now() >= deadline {
                    return Flushed::TimedOut;
                }
                message = back;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    match done.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(()) => Flushed::Done,
        Err(_) => Flushed::TimedOut,
    }
}
