//! CPU profiles of the running process, for the question the trace cannot
//! answer: *where in the code* is a slow handler spending its time
//! (feature `profiling`, off by default; Linux and macOS).
//!
//! The admin listener serves them where Go services do, so the tools that
//! read Go's profiles read these:
//!
//! | request | answer |
//! |---|---|
//! | `GET /debug/pprof/profile?seconds=30` | the [pprof format] (gzip'd protobuf): `go tool pprof`, Pyroscope, Parca, Grafana |
//! | `GET /debug/pprof/profile?seconds=30&format=svg` | a flame graph, for a browser; the status page links to it |
//!
//! `seconds` is 1 to [`MAX_SECONDS`] (default [`DEFAULT_SECONDS`]); `hz`,
//! the sampling rate, 1 to [`MAX_FREQUENCY`] (default
//! [`DEFAULT_FREQUENCY`]: 99 rather than 100, so the samples do not beat
//! in step with work that runs every 10 ms). The answer comes when the
//! profile ends; the profile covers every thread of the process.
//!
//! **Access.** A profile shows the code and costs CPU, so it is guarded
//! like a write: when the admin listener has a token, the request needs it
//! (`Authorization: Bearer …`, else 401); without one (a loopback
//! listener) it needs a loopback or own `Host` and no foreign `Origin`, the
//! proof of intent writes need, so a page in the operator's browser cannot
//! read one after DNS rebinding. One profile runs at a time: a second is
//! answered 409 while the first runs. A refused or failed profile touches
//! nothing but its own answer.
//!
//! ```sh
//! # A 30-second profile, read interactively (a web UI on :8081):
//! curl -sfH "Authorization: Bearer $OBSERVE_ADMIN_TOKEN" \
//!     'http://127.0.0.1:9464/debug/pprof/profile?seconds=30' -o cpu.pb.gz
//! go tool pprof -http=:8081 cpu.pb.gz
//! # On a loopback listener without a token, go tool pprof fetches it itself:
//! go tool pprof -seconds 30 http://127.0.0.1:9464/debug/pprof/profile
//! # A flame graph:
//! curl -sfH "Authorization: Bearer $OBSERVE_ADMIN_TOKEN" \
//!     'http://127.0.0.1:9464/debug/pprof/profile?seconds=10&format=svg' -o cpu.svg
//! ```
//!
//! Pyroscope pulls it with Grafana Alloy: a `pyroscope.scrape` target at the
//! admin address with only `profile.process_cpu` enabled,
//! `path = "/debug/pprof/profile"`, `delta = true` (Go's convention: the
//! scraper asks for `seconds=` itself) and `bearer_token` set to the admin
//! token. Parca's scrape configuration takes the same path and token.
//!
//! **How.** pprof-rs's sampler: a `SIGPROF` timer at the rate asked for,
//! and in the handler a stack walk (DWARF unwind tables, so it needs no
//! frame pointers), counted per distinct stack. Symbols are resolved after
//! the profile, off the async workers. The pprof encoding (one location per
//! return address, inlined calls as its lines, a `thread` label per
//! sample, a comment with the coverage below), its gzip framing and the
//! flame graph are observe's own.
//!
//! **What is sampled.** A sample that lands in libc, libgcc, pthread or the
//! vDSO is skipped: the unwinder can deadlock or crash when it starts
//! there (it takes the loader's lock, which the interrupted code may hold).
//! That includes the return from every system call, and a thread asleep in
//! one (the timer's signal goes to any thread of the process), so the profile shows
//! where the *Rust code* spends CPU, not the kernel's share. How much of
//! the process's CPU time the samples cover is measured (Linux,
//! [`CpuProfile::coverage`]) and stated in the flame graph's header and the
//! profile's comment (`go tool pprof -comments`). On `bench-server`'s
//! one-route axum service under wrk, it is 23%: at 127,000 requests a
//! second the rest is the kernel's network stack. The more of its time a
//! service spends in its own code, the higher the share.
//!
//! **Cost.** Sampling at 99 Hz under full load (`bench/run.sh`, axum,
//! `metrics` against `profiled`, median of 5 rounds, same run): CPU per
//! request 8.02 µs → 8.05 µs (+0.4%), throughput 0.840 → 0.836 of bare
//! axum, p99 1.12 → 1.33 ms (each sample interrupts a thread for its stack
//! walk). Symbol resolution at the end runs on the blocking pool.
//!
//! **Release builds.** Function names come from the symbol table, which a
//! release build keeps unless it is stripped (`strip = true` leaves only
//! addresses). File and line numbers, and the frames of inlined functions
//! (most of a Rust release build's calls), need line tables:
//!
//! ```toml
//! [profile.release]
//! debug = "line-tables-only"   # file:line and inlined frames in profiles
//! ```
//!
//! Frame pointers are not needed (the walk uses the unwind tables every
//! build has). Measured with `bench/profile-stacks.py` on a 5-second
//! profile of `bench-server` under wrk:
//!
//! | release build | binary | functions | locations with file:line | locations with inlined frames | mean stack depth |
//! |---|---:|---:|---:|---:|---:|
//! | default (symbols, no debug info) | 13.4 MB | 130 | 1.5% | 0 of 130 | 25.3 |
//! | `debug = "line-tables-only"` | 76.7 MB | 477 | 98% | 148 of 205 | 84.9 |
//!
//! Without line tables, the time of an inlined call is charged to its
//! caller; with them, each call appears with its line, at the price of a
//! larger binary: line tables are not loaded until a profile resolves them.
//!
//! Heap profiles are not offered: they need a profiling allocator
//! (jemalloc's `prof`) that observe does not impose.
//!
//! [pprof format]: https://github.com/google/pprof/blob/main/proto/profile.proto

mod encode;
mod flame;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The profile's length when `seconds` is not given (Go's default).
pub const DEFAULT_SECONDS: u64 = 30;
/// The longest profile.
pub const MAX_SECONDS: u64 = 300;
/// Samples a second when `hz` is not given.
pub const DEFAULT_FREQUENCY: u32 = 99;
/// The highest sampling rate: each sample interrupts a thread to walk its
/// stack, so the rate bounds what a profile costs.
pub const MAX_FREQUENCY: u32 = 250;

/// Frames of libraries whose unwind tables are not safe to walk from a
/// signal handler; a stack walk stops at them.
const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// Set while a profile runs: the sampler is process-wide.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Why no profile came.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Another profile is running; the sampler is one per process.
    #[error("a CPU profile is already running: one at a time, try again when it ends")]
    Busy,
    /// `seconds` or `hz` out of range.
    #[error("{0}")]
    Settings(String),
    /// The sampler could not start or report (its message).
    #[error("the CPU profiler failed: {0}")]
    Profiler(String),
}

/// One line of a frame: a function, where it is, and the line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Line {
    /// Demangled, without the hash suffix.
    function: String,
    /// As in the symbol table.
    system_name: String,
    file: String,
    line: u32,
}

/// One return address: its lines, the innermost inlined call first.
type Frame = Vec<Line>;

/// A distinct stack, leaf first, and how often it was sampled.
#[derive(Debug, Clone)]
struct Stack {
    frames: Vec<Frame>,
    thread: String,
    count: u64,
}

/// A finished CPU profile: render it with [`pprof`](Self::pprof) or
/// [`flame_graph`](Self::flame_graph).
#[derive(Debug, Clone)]
pub struct CpuProfile {
    stacks: Vec<Stack>,
    frequency: u32,
    start: SystemTime,
    duration: Duration,
    /// The process's CPU time while it ran (Linux), to say how much of it
    /// the samples cover.
    cpu_seconds: Option<f64>,
}

impl CpuProfile {
    /// Samples taken.
    pub fn samples(&self) -> u64 {
        self.stacks.iter().map(|s| s.count).sum()
    }

    /// The sampling rate, per second.
    pub fn frequency(&self) -> u32 {
        self.frequency
    }

    /// How long it ran.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The process's CPU time (user and system) while the profile ran,
    /// where the platform tells it (Linux); `None` elsewhere.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.cpu_seconds
    }

    /// The share of the process's CPU time the samples stand for (each
    /// sample is one period of CPU time): below 1 by the time spent where
    /// no sample is taken (libc, system calls, the vDSO; see the module
    /// docs). `None` without [`cpu_seconds`](Self::cpu_seconds).
    pub fn coverage(&self) -> Option<f64> {
        let cpu = self.cpu_seconds.filter(|c| *c > 0.0)?;
        let sampled = self.samples() as f64 / f64::from(self.frequency.max(1));
        Some((sampled / cpu).min(1.0))
    }

    /// One line on the coverage, for the flame graph's header and the
    /// pprof comment.
    fn coverage_note(&self) -> Option<String> {
        let cpu = self.cpu_seconds?;
        let coverage = self.coverage().unwrap_or(0.0);
        Some(format!(
            "samples cover {:.0}% of the process's {cpu:.2} s of CPU time; the rest was in system calls, libc or the vDSO, which are not sampled",
            coverage * 100.0
        ))
    }

    /// Whether some sampled frame belongs to a function whose name
    /// contains `text`.
    pub fn has_function(&self, text: &str) -> bool {
        self.stacks
            .iter()
            .flat_map(|s| &s.frames)
            .flatten()
            .any(|line| line.function.contains(text))
    }

    /// The pprof format: `profile.proto`, gzip'd, as Go's
    /// `/debug/pprof/profile` answers.
    pub fn pprof(&self) -> Vec<u8> {
        crate::base::gzip::compress(&encode::profile(self))
    }

    /// A flame graph as a standalone SVG document: callers below callees,
    /// widths by samples, one colour per function, each box titled with
    /// its function, samples and share.
    pub fn flame_graph(&self) -> String {
        flame::svg(self)
    }
}

/// Releases the one-profile slot, also when the profile's future is
/// dropped (the client went away).
struct Slot;

impl Slot {
    fn take() -> Result<Self, ProfileError> {
        RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Slot)
            .map_err(|_| ProfileError::Busy)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

/// Whether a profile is running now.
pub fn is_running() -> bool {
    RUNNING.load(Ordering::Acquire)
}

/// Checks `seconds` and `hz` as the admin listener takes them.
pub fn check_settings(seconds: u64, frequency: u32) -> Result<(), ProfileError> {
    if !(1..=MAX_SECONDS).contains(&seconds) {
        return Err(ProfileError::Settings(format!(
            "seconds: expected a whole number from 1 to {MAX_SECONDS}, got {seconds}"
        )));
    }
    if !(1..=MAX_FREQUENCY).contains(&frequency) {
        return Err(ProfileError::Settings(format!(
            "hz: expected samples a second from 1 to {MAX_FREQUENCY}, got {frequency}"
        )));
    }
    Ok(())
}

/// Profiles the whole process for `duration` at `frequency` samples a
/// second (on tokio's timer), then resolves the symbols on the blocking
/// pool. [`ProfileError::Busy`] while another profile runs; dropping the
/// future stops the sampler.
pub async fn cpu(duration: Duration, frequency: u32) -> Result<CpuProfile, ProfileError> {
    check_settings(duration.as_secs().max(1), frequency)?;
    let slot = Slot::take()?;
    let cpu_before = process_cpu_seconds();
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(frequency as i32)
        .blocklist(&BLOCKLIST)
        .build()
        .map_err(|e| ProfileError::Profiler(e.to_string()))?;
    tokio::time::sleep(duration).await;
    let profile = tokio::task::spawn_blocking(move || {
        let report = guard
            .report()
            .build()
            .map_err(|e| ProfileError::Profiler(e.to_string()))?;
        // The sampler stops here, before the slot is released.
        drop(guard);
        let cpu_seconds = match (cpu_before, process_cpu_seconds()) {
            (Some(before), Some(after)) => Some(after - before),
            _ => None,
        };
        Ok(collect(report, frequency, cpu_seconds))
    })
    .await
    .map_err(|e| ProfileError::Profiler(e.to_string()))?;
    drop(slot);
    profile
}

/// observe's form of pprof-rs's report: lines resolved, the sampler's own
/// frames dropped.
fn collect(report: pprof::Report, frequency: u32, cpu_seconds: Option<f64>) -> CpuProfile {
    let mut stacks = Vec::with_capacity(report.data.len());
    for (frames, count) in &report.data {
        let mut stack: Vec<Frame> = frames
            .frames
            .iter()
            .map(|symbols| {
                symbols
                    .iter()
                    .map(|symbol| Line {
                        function: symbol.name(),
                        system_name: symbol.sys_name().into_owned(),
                        file: symbol.filename().into_owned(),
                        line: symbol.lineno(),
                    })
                    .collect()
            })
            .collect();
        // The walk starts in the signal handler: drop it and what it
        // called (the leaf end), up to the interrupted code.
        if let Some(handler) = stack.iter().position(|frame| {
            frame
                .iter()
                .any(|line| line.function.contains("perf_signal_handler"))
        }) {
            let mut rest = stack.split_off(handler + 1);
            // The kernel's return trampoline sits between the handler and
            // the interrupted frame.
            if rest.first().is_some_and(|frame| {
                frame
                    .iter()
                    .any(|line| line.function.contains("restore_rt"))
            }) {
                rest.remove(0);
            }
            stack = rest;
        }
        if stack.is_empty() || *count <= 0 {
            continue;
        }
        stacks.push(Stack {
            frames: stack,
            thread: frames.thread_name_or_id(),
            count: *count as u64,
        });
    }
    CpuProfile {
        stacks,
        frequency,
        start: report.timing.start_time,
        duration: report.timing.duration,
        cpu_seconds,
    }
}

/// The process's user and system CPU time so far, from `/proc/self/stat`
/// (fields 14 and 15, in USER_HZ ticks: 100 a second on Linux, a fixed
/// part of the `/proc` interface).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests;
