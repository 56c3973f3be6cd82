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
//! profile ends.
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
//! frame pointers), counted per distinct stack; frames in libc, libgcc,
//! pthread and the vDSO end the walk (unwinding through them can crash).
//! Symbols are resolved after the profile, off the async workers. The
//! pprof encoding (one location per return address, inlined calls as its
//! lines, a `thread` label per sample), its gzip framing and the flame graph
//! are observe's own.
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
//! What that changes is measured by `tests/tests/profile.rs`'s companion,
//! the table in `bench/README.md` ("CPU profiles"): the same load profiled
//! with and without line tables.
//!
//! [pprof format]: https://github.com/google/pprof/blob/main/proto/profile.proto

mod encode;
mod flame;
mod gzip;

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
        gzip::compress(&encode::profile(self))
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
        Ok(collect(report, frequency))
    })
    .await
    .map_err(|e| ProfileError::Profiler(e.to_string()))?;
    drop(slot);
    profile
}

/// observe's form of pprof-rs's report: lines resolved, the sampler's own
/// frames dropped.
fn collect(report: pprof::Report, frequency: u32) -> CpuProfile {
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
    }
}

#[cfg(test)]
mod tests;
