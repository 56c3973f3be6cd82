//! The log filter at run time: read it, replace it in the running
//! subscriber without a restart, and have it restored by itself after a
//! while, so DEBUG cannot be left on by accident.
//!
//! The filter sits inside observe's layer, after level remapping (a
//! remapped event is filtered at its new level), so it is swapped there
//! under a lock rather than through a `tracing_subscriber::reload` layer,
//! which would filter before remapping; then every callsite's interest is
//! rebuilt, as `reload` does.

use std::str::FromStr;
use std::sync::{Condvar, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use tracing_subscriber::filter::Targets;

use crate::metrics::signals::counters;

/// How long a change lasts when the caller does not say.
pub const DEFAULT_REVERT_AFTER: Duration = Duration::from_secs(15 * 60);
/// The longest a change may last.
pub const MAX_REVERT_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest directives accepted.
pub const MAX_DIRECTIVES_LEN: usize = 1024;

/// The filter in force.
#[derive(Debug)]
pub(super) struct Filter {
    pub(super) targets: Targets,
    directives: String,
}

/// The filter and its history: what start-up set, and when a change ends.
#[derive(Debug)]
pub(crate) struct LevelFilter {
    filter: RwLock<Filter>,
    /// What start-up configured; restored at `revert_at`.
    default: String,
    state: Mutex<Change>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Change {
    /// When the change in force ends, if one is.
    revert_at: Option<(Instant, SystemTime)>,
    /// Whether the reverting thread runs.
    reverter: bool,
}

/// The log level as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLevel {
    /// The directives in force (`info,shop=debug`).
    pub directives: String,
    /// The directives start-up set, restored when a change ends.
    pub default: String,
    /// When the change in force ends; `None` when the default is in force.
    pub revert_at: Option<SystemTime>,
}

/// Why the level was not changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LevelError {
    /// observe's logging is not set up in this process.
    #[error("observe's logging is not set up in this process: nothing to change")]
    NotInstalled,
    /// The directives do not parse.
    #[error(
        "invalid directives {value:?}: {reason}; expected comma-separated LEVEL or TARGET=LEVEL with levels off, error, warn, info, debug, trace (e.g. \"info,shop=debug\")"
    )]
    Directives {
        /// What was given (cut at 200 characters).
        value: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The revert delay is malformed, zero or too long.
    #[error(
        "invalid revert_after {0:?}: expected a duration from 1s to 24h such as \"90s\", \"15m\", \"2h\" or \"1h30m\""
    )]
    RevertAfter(String),
}

/// Parses `90s`, `15m`, `2h`, `1h30m`: whole numbers with `h`, `m` or `s`,
/// largest unit first; `None` for anything else, zero or more than
/// [`MAX_REVERT_AFTER`].
pub fn parse_revert_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    let mut total = 0u64;
    let mut number = String::new();
    let mut last_unit = u64::MAX;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if number.len() >= 6 {
                return None;
            }
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        if number.is_empty() || unit >= last_unit {
            return None;
        }
        total += number.parse::<u64>().ok()? * unit;
        number.clear();
        last_unit = unit;
    }
    if !number.is_empty() || total == 0 {
        return None;
    }
    let duration = Duration::from_secs(total);
    (duration <= MAX_REVERT_AFTER).then_some(duration)
}

/// Parses `directives` as the filter accepts them.
pub(super) fn parse(directives: &str) -> Result<Targets, String> {
    Targets::from_str(directives).map_err(|e| e.to_string())
}

/// Parses directives given at run time, which are stricter than the
/// start-up filter's: comma-separated `LEVEL`, `TARGET` or `TARGET=LEVEL`,
/// a target being a Rust path (`shop`, `tower_http::trace`) and a level
/// one of `off`, `error`, `warn`, `info`, `debug`, `trace`. Anything else
/// (control characters, markup, bidirectional overrides, an empty list)
/// is refused, naming the part.
pub(super) fn parse_strict(directives: &str) -> Result<Targets, String> {
    // Spaces only: `str::trim` would take a line break or a tab off
    // `shop\n=debug` and let it through.
    fn trim(text: &str) -> &str {
        text.trim_matches(' ')
    }
    let mut any = false;
    for directive in directives.split(',').map(trim) {
        if directive.is_empty() {
            continue;
        }
        any = true;
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(trim(target)), Some(trim(level))),
            None if is_level(directive) => (None, Some(directive)),
            None => (Some(directive), None),
        };
        if let Some(target) = target
            && !is_rust_path(target)
        {
            return Err(format!(
                "target {target:?} is not a Rust path (letters, digits and _, joined by ::)"
            ));
        }
        if let Some(level) = level
            && !is_level(level)
        {
            return Err(format!("level {level:?} is not a level"));
        }
    }
    if !any {
        return Err("no directive".to_string());
    }
    parse(directives)
}

fn is_level(text: &str) -> bool {
    ["off", "error", "warn", "info", "debug", "trace"]
        .iter()
        .any(|level| text.eq_ignore_ascii_case(level))
}

/// `shop`, `tower_http::trace`, `r#type`-free Rust paths.
fn is_rust_path(text: &str) -> bool {
    !text.is_empty()
        && text.split("::").all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

impl LevelFilter {
    pub(super) fn new(targets: Targets, directives: String) -> Self {
        Self {
            filter: RwLock::new(Filter {
                targets,
                directives: directives.clone(),
            }),
            default: directives,
            state: Mutex::new(Change::default()),
            wake: Condvar::new(),
        }
    }

    /// Whether `target` at `level` passes the filter in force.
    pub(super) fn enables(&self, target: &str, level: &tracing::Level) -> bool {
        self.filter
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .targets
            .would_enable(target, level)
    }

    /// The level in force.
    pub(crate) fn current(&self) -> LogLevel {
        let directives = self
            .filter
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .directives
            .clone();
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        LogLevel {
            directives,
            default: self.default.clone(),
            revert_at: state.revert_at.map(|(_, at)| at),
        }
    }

    fn swap(&self, targets: Targets, directives: String) {
        *self.filter.write().unwrap_or_else(|p| p.into_inner()) = Filter {
            targets,
            directives,
        };
        // Callsites cached their interest under the old filter.
        tracing::callsite::rebuild_interest_cache();
        counters().logs.level_changed();
    }

    /// Puts `directives` in force now, and the default back after
    /// `revert_after`. Returns the level before and after.
    pub(crate) fn set(
        &'static self,
        directives: &str,
        revert_after: Duration,
    ) -> Result<(LogLevel, LogLevel), LevelError> {
        let directives = directives.trim();
        let invalid = |reason: String| LevelError::Directives {
            value: directives.chars().take(200).collect(),
            reason,
        };
        if directives.is_empty() {
            return Err(invalid("no directive given".into()));
        }
        if directives.len() > MAX_DIRECTIVES_LEN {
            return Err(invalid(format!("longer than {MAX_DIRECTIVES_LEN} bytes")));
        }
        if revert_after.is_zero() || revert_after > MAX_REVERT_AFTER {
            return Err(LevelError::RevertAfter(format!(
                "{}s",
                revert_after.as_secs()
            )));
        }
        let targets = parse_strict(directives).map_err(invalid)?;
        let before = self.current();
        self.swap(targets, directives.to_string());
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.revert_at = Some((
            Instant::now() + revert_after,
            SystemTime::now() + revert_after,
        ));
        if !state.reverter {
            state.reverter = std::thread::Builder::new()
                .name("observe-log-level".into())
                .spawn(move || self.revert_when_due())
                .is_ok();
        }
        drop(state);
        self.wake.notify_all();
        Ok((before, self.current()))
    }

    /// Restores the default now; `None` when it was in force already.
    pub(crate) fn reset(&self) -> Option<LogLevel> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.revert_at.take()?;
        drop(state);
        let before = self.current();
        // The default parsed at start-up; it parses again.
        if let Ok(targets) = parse(&self.default) {
            self.swap(targets, self.default.clone());
        }
        Some(before)
    }

    /// The reverting thread: sleeps until the change in force is due.
    fn revert_when_due(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            state = match state.revert_at {
                None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some((due, _)) => {
                    let now = Instant::now();
                    if now >= due {
                        drop(state);
                        if let Some(before) = self.reset() {
                            super::audit::audit(
                                super::LEVEL_TARGET,
                                "log level reverted to the default",
                                &[
                                    ("previous", &before.directives),
                                    ("directives", &self.default),
                                ],
                            );
                        }
                        self.state.lock().unwrap_or_else(|p| p.into_inner())
                    } else {
                        self.wake
                            .wait_timeout(state, due - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_directives_are_rust_paths_and_levels() {
        for good in [
            "info",
            "OFF",
            "info,shop=debug",
            "observe=off,info",
            "tower_http::trace=warn, shop",
            "r2d2=error",
        ] {
            assert!(parse_strict(good).is_ok(), "{good:?}");
        }
        for (bad, named) in [
            ("shop\0=debug", r#"target "shop\0""#),
            ("shop\n=debug", r#"target "shop\n""#),
            ("info,shop\r", r#"target "shop\r""#),
            ("shop\u{1b}[31m=debug", r#"target "shop\u{1b}[31m""#),
            ("shop\u{202e}=debug", r#"target "shop\u{202e}""#),
            ("<script>=debug", r#"target "<script>""#),
            ("shop\t=debug", r#"target "shop\t""#),
            ("shop[span]=debug", r#"target "shop[span]""#),
            ("shop::=debug", r#"target "shop::""#),
            ("=debug", r#"target """#),
            ("shop=loud", r#"level "loud""#),
            ("shop=debug\n", r#"level "debug\n""#),
            ("shop=", r#"level """#),
            (",,,,", "no directive"),
        ] {
            let reason = parse_strict(bad).expect_err(bad);
            assert!(reason.contains(named), "{bad:?}: {reason}");
            assert!(
                !reason.chars().any(|c| c.is_control() || c == '\u{202e}'),
                "{reason:?}"
            );
        }
    }

    #[test]
    fn revert_after_takes_units_largest_first() {
        assert_eq!(parse_revert_after("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_revert_after("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_revert_after("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_revert_after("24h"), Some(MAX_REVERT_AFTER));
        for bad in [
            "",
            "0s",
            "25h",
            "15",
            "m",
            "30m1h",
            "1.5h",
            "-1m",
            "15 m",
            "1000000000h",
        ] {
            assert_eq!(parse_revert_after(bad), None, "{bad:?}");
        }
    }
}
