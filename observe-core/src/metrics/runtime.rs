//! Saturation: the tokio runtimes that serve the requests, read from tokio's
//! stable `RuntimeMetrics` at scrape time (nothing per request).
//!
//! OpenTelemetry has no convention for an async runtime's scheduler, so the
//! names follow tokio's own metric names (as tokio-metrics reports them)
//! under a `tokio_` prefix, in Prometheus' naming style. With several
//! runtimes (actix-web runs one per worker thread) the figures are summed.

use std::sync::Mutex;

use tokio::runtime::Handle;

use crate::encoding::{Format, counter_header, float, gauge_header, write_counter, write_sample};

/// The runtimes one `Observe` reports on.
#[derive(Debug, Default)]
pub(crate) struct Runtimes {
    handles: Mutex<Vec<Handle>>,
    /// The figures when the last runtime was added: the start of a busy
    /// ratio before any later sample.
    since_added: Mutex<Option<(std::time::Instant, Saturation)>>,
}

/// The summed figures of every runtime, at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Saturation {
    pub(crate) runtimes: usize,
    pub(crate) workers: usize,
    pub(crate) busy_seconds: f64,
    pub(crate) parks: u64,
    pub(crate) global_queue_depth: usize,
    pub(crate) alive_tasks: usize,
}

impl Runtimes {
    /// Reports on `handle`'s runtime from now on.
    pub(crate) fn add(&self, handle: Handle) {
        self.lock().push(handle);
        let now = (std::time::Instant::now(), self.read());
        *self
            .since_added
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(now);
    }

    /// When the last runtime was added, and the figures then.
    pub(crate) fn since_added(&self) -> Option<(std::time::Instant, Saturation)> {
        *self
            .since_added
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Handle>> {
        self.handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The figures now, summed over the runtimes.
    pub(crate) fn read(&self) -> Saturation {
        let handles = self.lock().clone();
        let mut sum = Saturation {
            runtimes: handles.len(),
            ..Saturation::default()
        };
        for handle in &handles {
            let metrics = handle.metrics();
            let workers = metrics.num_workers();
            sum.workers += workers;
            sum.global_queue_depth += metrics.global_queue_depth();
            sum.alive_tasks += metrics.num_alive_tasks();
            for worker in 0..workers {
                sum.busy_seconds += metrics.worker_total_busy_duration(worker).as_secs_f64();
                sum.parks += metrics.worker_park_count(worker);
            }
        }
        sum
    }

    /// The `tokio_` families; nothing when no runtime was added.
    pub(crate) fn render(
        &self,
        out: &mut String,
        format: Format,
        const_labels: &str,
        created: f64,
    ) {
        let now = self.read();
        if now.runtimes == 0 {
            return;
        }
        let counters: [(&str, &str, String); 2] = [
            (
                "tokio_worker_busy_seconds",
                "Time the runtime's worker threads spent running tasks, summed over the workers. Its rate divided by tokio_workers is how saturated the runtime is: near 1, requests wait for a worker.",
                float(now.busy_seconds),
            ),
            (
                "tokio_worker_parks",
                "Times a worker thread went to sleep for lack of work, summed over the workers.",
                now.parks.to_string(),
            ),
        ];
        for (name, help, value) in counters {
            counter_header(out, format, name, help);
            write_counter(out, format, name, const_labels, value, created);
        }
        let gauges: [(&str, &str, usize); 4] = [
            (
                "tokio_workers",
                "Worker threads of the runtimes that serve requests.",
                now.workers,
            ),
            (
                "tokio_global_queue_depth",
                "Tasks waiting in the runtimes' global queue for a worker: above zero for long, the runtime is saturated.",
                now.global_queue_depth,
            ),
            (
                "tokio_alive_tasks",
                "Tasks alive in the runtimes (spawned and not yet finished; not those of a LocalSet, where actix-web spawns its own).",
                now.alive_tasks,
            ),
            (
                "tokio_runtimes",
                "Runtimes reported on (actix-web runs one per worker thread).",
                now.runtimes,
            ),
        ];
        for (name, help, value) in gauges {
            gauge_header(out, format, name, help);
            write_sample(out, name, const_labels, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_without_a_runtime_then_the_summed_figures() {
        let runtimes = Runtimes::default();
        let mut out = String::new();
        runtimes.render(&mut out, Format::Text, "", 0.0);
        assert!(out.is_empty());

        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtimes.add(runtime.handle().clone());
        runtimes.add(runtime.handle().clone());
        runtime.block_on(async { tokio::task::yield_now().await });
        let now = runtimes.read();
        assert_eq!((now.runtimes, now.workers), (2, 2));
        runtimes.render(&mut out, Format::OpenMetrics, ",service=\"a\"", 1.0);
        for line in [
            "# TYPE tokio_worker_busy_seconds counter",
            "tokio_workers{service=\"a\"} 2",
            "tokio_runtimes{service=\"a\"} 2",
            "tokio_worker_parks_created{service=\"a\"} 1.0",
        ] {
            assert!(out.contains(line), "{line} not in\n{out}");
        }
    }
}
