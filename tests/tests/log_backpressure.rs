//! A stdout that never drains cannot stall the service: lines beyond the
//! queue are dropped and counted, and logging calls keep returning.
//! (Its own test binary: logging is process-wide.)

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};

/// A writer stuck forever on its first write, like a pipe nobody reads.
struct Blocked(Arc<(Mutex<bool>, Condvar)>);

impl Write for Blocked {
    fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        let (lock, cvar) = &*self.0;
        let mut released = lock.lock().unwrap();
        while !*released {
            released = cvar.wait(released).unwrap();
        }
        Ok(_buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_blocked_stdout_drops_and_counts_lines_instead_of_blocking() {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let observe = observe_core::Observe::builder().build().unwrap();
    let guard = observe
        .logging()
        .filter("info")
        .buffer_lines(16)
        .writer(Blocked(Arc::clone(&gate)))
        .try_init()
        .unwrap();
    // 10,000 lines against a writer that accepts none: every call returns.
    for i in 0..10_000 {
        tracing::info!(i, "line");
    }
    let text = observe.render(observe_core::Format::Text).into_text();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let dropped = value("observe_log_lines_dropped_total");
    // Only what fits the queue (16 lines) and the writer's 64 KiB buffer
    // got through; the rest was dropped, and counted.
    assert!(dropped >= 9_000.0, "dropped {dropped}");
    assert_eq!(value("observe_log_events_total{level=\"info\"}"), 10_000.0);
    // Shutdown does not hang on the stuck writer either: the flush gives up
    // after its deadline.
    guard.flush(std::time::Duration::from_millis(200));
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    drop(guard);
}
