//! Saturation: the tokio runtimes that serve the requests, read from tokio's
//! stable `RuntimeMetrics` at scrape time (nothing per request).
//!
//! OpenTelemetry has no convention for an async runtime's scheduler, so the
//! names follow tokio's own metric names (as tokio-metrics reports them)
//! under a `tokio_` prefix, in Prometheus' naming style. With several
//! runtimes (actix-web runs one per worker thread) the figures are summed.
//!
//! Built with `RUSTFLAGS="--cfg tokio_unstable"`, tokio's unstable metrics
//! are reported too (their names may change with tokio): steals, polls and
//! forced yields; the blocking pool's threads and queue (where
//! `spawn_blocking` work waits, and where the framework crates render
//! `/metrics`); the mean poll time; and, when the runtime was built with
//! `enable_metrics_poll_time_histogram()`, the poll-time histogram
//! (`tokio_task_poll_duration_seconds`; tokio keeps bucket counts only, so
//! the family has buckets only: no `_sum`, and so no `_count`, which
//! OpenMetrics allows only beside a `_sum`).

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
        #[cfg(tokio_unstable)]
        unstable::render(&self.lock(), out, format, const_labels, created);
    }
}

/// tokio's unstable metrics (`--cfg tokio_unstable`).
#[cfg(tokio_unstable)]
mod unstable {
    use std::fmt::Write;

    use tokio::runtime::Handle;

    use crate::encoding::{
        Format, counter_header, float, gauge_header, histogram_header, write_counter, write_sample,
    };

    #[derive(Default)]
    struct Sum {
        steals: u64,
        polls: u64,
        forced_yields: u64,
        blocking_threads: usize,
        idle_blocking_threads: usize,
        blocking_queue_depth: usize,
        /// Sum of the workers' mean poll times, and how many.
        mean_poll_seconds: f64,
        workers: usize,
        /// Upper bounds (seconds; the last is +Inf) and counts.
        poll_histogram: Option<(Vec<f64>, Vec<u64>)>,
    }

    pub(super) fn render(
        handles: &[Handle],
        out: &mut String,
        format: Format,
        const_labels: &str,
        created: f64,
    ) {
        let mut sum = Sum::default();
        for handle in handles {
            let m = handle.metrics();
            sum.forced_yields += m.budget_forced_yield_count();
            sum.blocking_threads += m.num_blocking_threads();
            sum.idle_blocking_threads += m.num_idle_blocking_threads();
            sum.blocking_queue_depth += m.blocking_queue_depth();
            let histogram = m.poll_time_histogram_enabled().then(|| {
                (0..m.poll_time_histogram_num_buckets())
                    .map(|b| {
                        let end = m.poll_time_histogram_bucket_range(b).end;
                        if b + 1 == m.poll_time_histogram_num_buckets() {
                            f64::INFINITY
                        } else {
                            end.as_secs_f64()
                        }
                    })
                    .collect::<Vec<f64>>()
            });
            for worker in 0..m.num_workers() {
                sum.steals += m.worker_steal_count(worker);
                sum.polls += m.worker_poll_count(worker);
                sum.mean_poll_seconds += m.worker_mean_poll_time(worker).as_secs_f64();
                sum.workers += 1;
            }
            // Runtimes with the same buckets add up; others are left out.
            if let Some(bounds) = histogram {
                let (kept, counts) = sum
                    .poll_histogram
                    .get_or_insert_with(|| (bounds.clone(), vec![0; bounds.len()]));
                if *kept == bounds {
                    for worker in 0..m.num_workers() {
                        for (bucket, count) in counts.iter_mut().enumerate() {
                            *count += m.poll_time_histogram_bucket_count(worker, bucket);
                        }
                    }
                }
            }
        }
        let counters: [(&str, &str, u64); 3] = [
            (
                "tokio_worker_steals",
                "Tasks workers stole from each other's queues (unstable tokio metric). Many steals: the load arrives unevenly.",
                sum.steals,
            ),
            (
                "tokio_worker_polls",
                "Task polls by the workers (unstable tokio metric).",
                sum.polls,
            ),
            (
                "tokio_budget_forced_yields",
                "Times a task used up its cooperative budget and was made to yield (unstable tokio metric): tasks that do much work per poll.",
                sum.forced_yields,
            ),
        ];
        for (name, help, value) in counters {
            counter_header(out, format, name, help);
            write_counter(out, format, name, const_labels, value, created);
        }
        let gauges: [(&str, &str, String); 4] = [
            (
                "tokio_blocking_threads",
                "Threads of the blocking pool, idle or not (unstable tokio metric): spawn_blocking work and the /metrics rendering run there.",
                sum.blocking_threads.to_string(),
            ),
            (
                "tokio_blocking_idle_threads",
                "Idle threads of the blocking pool (unstable tokio metric).",
                sum.idle_blocking_threads.to_string(),
            ),
            (
                "tokio_blocking_queue_depth",
                "Tasks waiting for a blocking-pool thread (unstable tokio metric): above zero, spawn_blocking work waits.",
                sum.blocking_queue_depth.to_string(),
            ),
            (
                "tokio_worker_mean_poll_time_seconds",
                "Mean time a task poll takes, averaged over the workers (unstable tokio metric, a moving average). Long polls block the other tasks of their worker.",
                float(if sum.workers > 0 {
                    sum.mean_poll_seconds / sum.workers as f64
                } else {
                    0.0
                }),
            ),
        ];
        for (name, help, value) in gauges {
            gauge_header(out, format, name, help);
            write_sample(out, name, const_labels, value);
        }
        if let Some((bounds, counts)) = sum.poll_histogram {
            let name = "tokio_task_poll_duration_seconds";
            histogram_header(
                out,
                format,
                name,
                "seconds",
                "How long task polls took, by tokio's buckets (unstable tokio metric; tokio keeps counts only: no _sum; the +Inf bucket is the count).",
            );
            let labels = const_labels.trim_start_matches(',');
            let separator = if labels.is_empty() { "" } else { "," };
            let mut cumulative = 0;
            for (bound, count) in bounds.iter().zip(&counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{labels}{separator}le=\"{}\"}} {cumulative}",
                    float(*bound)
                );
            }
            if format == Format::OpenMetrics {
                write_sample(
                    out,
                    &format!("{name}_created"),
                    const_labels,
                    float(created),
                );
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::Runtimes;
        use crate::encoding::Format;

        /// The reference OpenMetrics parser (prometheus-client for Python).
        const STRICT_PARSER: &str = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nlist(p(sys.stdin.read()))";

        #[test]
        fn the_unstable_set_with_the_poll_histogram() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_metrics_poll_time_histogram()
                .build()
                .unwrap();
            let runtimes = Runtimes::default();
            runtimes.add(runtime.handle().clone());
            runtime.block_on(async {
                for _ in 0..100 {
                    tokio::spawn(async { tokio::task::yield_now().await })
                        .await
                        .unwrap();
                }
                tokio::task::spawn_blocking(|| ()).await.unwrap();
            });
            let mut out = String::new();
            runtimes.render(&mut out, Format::OpenMetrics, ",service=\"a\"", 1.0);
            for line in [
                "# TYPE tokio_worker_steals counter",
                "# TYPE tokio_worker_polls counter",
                "# TYPE tokio_blocking_threads gauge",
                "tokio_blocking_queue_depth{service=\"a\"} 0",
                "# TYPE tokio_task_poll_duration_seconds histogram",
                "tokio_task_poll_duration_seconds_bucket{service=\"a\",le=\"+Inf\"}",
            ] {
                assert!(out.contains(line), "{line} not in\n{out}");
            }
            let polls: u64 = out
                .lines()
                .find(|l| l.starts_with("tokio_worker_polls_total"))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap();
            assert!(polls >= 100, "{polls} polls");
            let count = out
                .lines()
                .find(|l| {
                    l.starts_with("tokio_task_poll_duration_seconds_bucket") && l.contains("+Inf")
                })
                .unwrap();
            assert!(
                count.ends_with(&format!(" {polls}")),
                "{count} vs {polls} polls"
            );
            assert!(
                out.contains("tokio_blocking_threads{service=\"a\"} 1"),
                "{out}"
            );
            // Strict OpenMetrics and promtool, when installed.
            let strict = std::process::Command::new("python3")
                .args(["-c", STRICT_PARSER])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn();
            if let Ok(mut child) = strict {
                use std::io::Write as _;
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(out.as_bytes()).unwrap();
                stdin.write_all(b"# EOF\n").unwrap();
                drop(stdin);
                let output = child.wait_with_output().unwrap();
                let report = String::from_utf8_lossy(&output.stderr);
                assert!(
                    output.status.success() || report.contains("No module named"),
                    "strict OpenMetrics parser: {report}\n{out}"
                );
            }
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
