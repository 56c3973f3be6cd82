//! The process's own metrics, read from Linux's /proc at scrape time, under
//! the names the Prometheus client libraries use.

use crate::encoding::{Format, counter_header, float, gauge_header, write_counter, write_sample};

/// Clock ticks per second in /proc: USER_HZ, fixed at 100 in Linux's ABI.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProcessStats {
    pub(crate) cpu_seconds: f64,
    pub(crate) resident_bytes: u64,
    pub(crate) virtual_bytes: u64,
    pub(crate) threads: u64,
    pub(crate) start_time_seconds: f64,
    pub(crate) open_fds: u64,
    pub(crate) max_fds: Option<u64>,
}

/// Reads the current process's figures; `None` where /proc is missing or
/// unreadable (not Linux), in which case the families are left out.
pub(crate) fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let system = std::fs::read_to_string("/proc/stat").ok()?;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    parse(&stat, &status, &system, &limits, open_fds)
}

/// The soft limit on open files (`ulimit -n`), from /proc; `None` off
/// Linux or when unlimited.
pub(crate) fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_max_open_files(&limits)
}

fn parse_max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

fn parse(
    stat: &str,
    status: &str,
    system: &str,
    limits: &str,
    open_fds: u64,
) -> Option<ProcessStats> {
    // The command name (field 2) may contain spaces and parentheses: the
    // fields proper start after the last ')'.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let boot_time: f64 = system
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let resident_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let max_fds = parse_max_open_files(limits);
    Some(ProcessStats {
        cpu_seconds: (field(14)? + field(15)?) as f64 / TICKS_PER_SECOND,
        resident_bytes: resident_kib * 1024,
        virtual_bytes: field(23)?,
        threads: field(20)?,
        start_time_seconds: boot_time + field(22)? as f64 / TICKS_PER_SECOND,
        open_fds,
        max_fds,
    })
}

pub(crate) fn render(out: &mut String, format: Format, const_labels: &str) {
    let Some(stats) = read() else {
        return;
    };
    counter_header(
        out,
        format,
        "process_cpu_seconds",
        "User and system CPU time spent, in seconds.",
    );
    // A counter's `_created` is when it started counting: process start.
    write_counter(
        out,
        format,
        "process_cpu_seconds",
        const_labels,
        float(stats.cpu_seconds),
        stats.start_time_seconds,
    );
    let gauges: [(&str, &str, f64); 6] = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            stats.resident_bytes as f64,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            stats.virtual_bytes as f64,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            stats.open_fds as f64,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            stats.start_time_seconds,
        ),
        (
            "process_threads",
            "Number of OS threads in the process.",
            stats.threads as f64,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            stats.max_fds.map_or(f64::NAN, |m| m as f64),
        ),
    ];
    for (name, help, value) in gauges {
        if value.is_nan() {
            continue;
        }
        gauge_header(out, format, name, help);
        write_sample(out, name, const_labels, float(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615";
        let status = "Name:\tx\nVmRSS:\t   10240 kB\n";
        let system = "cpu  1 2 3\nbtime 1700000000\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 1048576              files\n";
        let stats = parse(stat, status, system, limits, 9).unwrap();
        assert_eq!(stats.cpu_seconds, 3.0);
        assert_eq!(stats.threads, 7);
        assert_eq!(stats.virtual_bytes, 104_857_600);
        assert_eq!(stats.resident_bytes, 10 * 1024 * 1024);
        assert_eq!(stats.start_time_seconds, 1_700_000_123.45);
        assert_eq!(stats.max_fds, Some(1024));
        assert_eq!(stats.open_fds, 9);
    }

    #[test]
    fn reads_this_process() {
        let stats = read().expect("Linux /proc");
        assert!(stats.resident_bytes > 0 && stats.threads >= 1 && stats.open_fds >= 3);
        assert!(stats.start_time_seconds > 1.0e9);
    }
}
