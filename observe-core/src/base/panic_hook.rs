//! The process's panic hook. A panic hook is process-wide, so observe
//! installs one, once, the first time a signal asks, and fans each panic
//! out to what is registered: error tracking's report first, then
//! logging's JSON line. The hook that was there before (the standard one,
//! which prints plain text to stderr) runs after them, unless logging
//! wrote the panic as a line and was not asked to keep it.

use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, OnceLock};

/// Reports a panic (error tracking).
pub(crate) type Report = Box<dyn Fn(&PanicHookInfo<'_>) + Send + Sync>;

/// Writes a panic as a line; returns whether it did (the filter may say no).
pub(crate) type Line = Box<dyn Fn(&PanicHookInfo<'_>) -> bool + Send + Sync>;

static REPORT: OnceLock<Report> = OnceLock::new();
static LINE: OnceLock<Line> = OnceLock::new();
/// Whether the previous hook still runs after a written line.
static KEEP_PREVIOUS: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(report) = REPORT.get() {
                report(info);
            }
            let written = LINE.get().is_some_and(|line| line(info));
            if !written || KEEP_PREVIOUS.load(Ordering::Relaxed) {
                previous(info);
            }
        }));
    });
}

/// Registers error tracking's report (once per process).
pub(crate) fn set_report(report: Report) {
    let _ = REPORT.set(report);
    install();
}

/// Registers logging's line (once per process); `keep_previous` keeps the
/// previous hook's output too.
pub(crate) fn set_line(line: Line, keep_previous: bool) {
    KEEP_PREVIOUS.store(keep_previous, Ordering::Relaxed);
    let _ = LINE.set(line);
    install();
}

/// Whether panics are written as log lines: then nothing else needs to
/// write one.
pub(crate) fn writes_lines() -> bool {
    LINE.get().is_some()
}
