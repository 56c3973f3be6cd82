//! Level remapping by target: a library whose levels mean something else
//! than ours is "retroactively fixed by configuration".
//!
//! Syntax (the `OBSERVE_LOG_REMAP` variable and the builder):
//! `TARGET=FROM:TO` entries separated by commas, e.g.
//! `hyper=error:warn,sqlx::query=info:debug`. A target matches itself and
//! its `::` children; the longest matching target wins.

use tracing::Level;

/// The accepted form, quoted in every error.
pub const REMAP_SYNTAX: &str = "TARGET=FROM:TO[,TARGET=FROM:TO...] with levels error, warn, info, debug or trace (e.g. \"hyper=error:warn,sqlx=info:debug\")";

/// A malformed remap entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {source_name} entry {entry:?}: {reason}; expected {REMAP_SYNTAX}")]
pub struct RemapError {
    /// Where the entry came from (`OBSERVE_LOG_REMAP` or `builder`).
    pub source_name: String,
    /// The offending entry, as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// One rule: events of `target` at `from` are treated as `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remap {
    target: String,
    from: Level,
    to: Level,
}

impl Remap {
    /// A rule; `target` matches itself and its `::` children.
    pub fn new(target: impl Into<String>, from: Level, to: Level) -> Self {
        Self {
            target: target.into(),
            from,
            to,
        }
    }
}

/// A set of rules, consulted once per callsite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemapTable {
    rules: Vec<Remap>,
}

fn parse_level(text: &str) -> Option<Level> {
    match text.trim().to_ascii_lowercase().as_str() {
        "error" => Some(Level::ERROR),
        "warn" | "warning" => Some(Level::WARN),
        "info" => Some(Level::INFO),
        "debug" => Some(Level::DEBUG),
        "trace" => Some(Level::TRACE),
        _ => None,
    }
}

impl RemapTable {
    /// Parses `spec`; `source_name` names it in errors. Empty entries (a
    /// trailing comma) are ignored.
    pub fn parse(spec: &str, source_name: &str) -> Result<Self, RemapError> {
        let mut rules = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let error = |reason: &str| RemapError {
                source_name: source_name.to_string(),
                entry: entry.chars().take(200).collect(),
                reason: reason.to_string(),
            };
            let (target, levels) = entry.split_once('=').ok_or_else(|| error("missing '='"))?;
            let target = target.trim();
            let valid_target = !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'));
            if !valid_target {
                return Err(error(
                    "the target must be a module path such as hyper::proto",
                ));
            }
            let (from, to) = levels
                .split_once(':')
                .ok_or_else(|| error("missing ':' between the two levels"))?;
            let from = parse_level(from).ok_or_else(|| error("unknown level before ':'"))?;
            let to = parse_level(to).ok_or_else(|| error("unknown level after ':'"))?;
            rules.push(Remap::new(target, from, to));
        }
        Ok(Self { rules })
    }

    /// Adds a rule (the builder's rules come after the variable's and win
    /// on equal targets).
    pub fn push(&mut self, rule: Remap) {
        self.rules.push(rule);
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The level an event of `target` at `level` is treated as.
    pub fn apply(&self, target: &str, level: Level) -> Level {
        let mut best: Option<&Remap> = None;
        for rule in self.rules.iter().filter(|r| r.from == level) {
            let matches = target == rule.target
                || target
                    .strip_prefix(rule.target.as_str())
                    .is_some_and(|rest| rest.starts_with("::"));
            if matches && best.is_none_or(|b| rule.target.len() >= b.target.len()) {
                best = Some(rule);
            }
        }
        best.map_or(level, |r| r.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_applies_the_longest_target() {
        let table = RemapTable::parse(
            "hyper=error:warn, hyper::proto=error:debug,sqlx=INFO:debug,",
            "OBSERVE_LOG_REMAP",
        )
        .unwrap();
        assert_eq!(table.apply("hyper", Level::ERROR), Level::WARN);
        assert_eq!(table.apply("hyper::client", Level::ERROR), Level::WARN);
        assert_eq!(table.apply("hyper::proto::h1", Level::ERROR), Level::DEBUG);
        assert_eq!(table.apply("hyperx", Level::ERROR), Level::ERROR);
        assert_eq!(table.apply("hyper", Level::INFO), Level::INFO);
        assert_eq!(table.apply("sqlx::query", Level::INFO), Level::DEBUG);
    }

    #[test]
    fn bad_entries_are_quoted_with_the_accepted_form() {
        for (spec, quoted) in [
            ("hyper=errr:warn", "hyper=errr:warn"),
            ("hyper", "hyper"),
            ("hyper=error", "hyper=error"),
            ("=error:warn", "=error:warn"),
            ("a b=error:warn", "a b=error:warn"),
        ] {
            let err = RemapTable::parse(spec, "OBSERVE_LOG_REMAP").unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&format!("{quoted:?}")), "{text}");
            assert!(text.contains("OBSERVE_LOG_REMAP"), "{text}");
            assert!(text.contains("TARGET=FROM:TO"), "{text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(spec in ".{0,200}") {
            let _ = RemapTable::parse(&spec, "X");
        }
    }
}
