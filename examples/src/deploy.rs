//! Deploy feedback from the command line, for every example binary:
//!
//! - `judge --prometheus URL --baseline V --canary V [--label L]
//!   [--window D] [--min-requests N] [--confidence C] [--tolerance T]`
//!   asks Prometheus (or anything answering its query API) for both sides'
//!   counts and judges each SLO: JSON on stdout, a summary on stderr, and
//!   the exit code a pipeline gates on: 0 continue, 1 roll back, 3 wait,
//!   2 usage error or Prometheus unreachable. `--after TIME` (RFC 3339)
//!   instead compares the window after a change with the one before it,
//!   on every instance; `--flag NAME [--lookback D]` finds that time as a
//!   StateSet's last change in Prometheus.
//! - `analysis --for argo|flagger [--label L] [--window D] [--prometheus URL]
//!   [--min-requests N] [--confidence C] [--tolerance T]` prints the
//!   rollout tool's templates, whose queries give the same verdicts.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use observe_core::time::{format_rfc3339, parse_rfc3339};
use observe_slo::{
    Analysis, Comparison, DEFAULT_CONFIDENCE, DEFAULT_MIN_REQUESTS, DEFAULT_TOLERANCE, Judge,
    PrometheusApi, QueryError, Slos, Verdict, is_duration,
};

/// How long one query to Prometheus may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The exit code for usage errors and an unreachable Prometheus.
const USAGE: u8 = 2;

/// `judge ...` or `analysis ...` when that is what the binary was asked
/// (`binary` names it in messages); `None` for anything else.
pub fn command(binary: &str, slos: &Slos) -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, rest) = args.split_first()?;
    let code = match mode.as_str() {
        "judge" => judge(binary, slos, rest),
        "analysis" => analysis(binary, slos, rest),
        _ => return None,
    };
    Some(ExitCode::from(code))
}

/// `--name value` and `--name=value` pairs, each name at most once and
/// from `accepted`.
struct Flags {
    pairs: Vec<(String, String)>,
}

impl Flags {
    fn parse(args: &[String], accepted: &[&str]) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (arg.as_str(), None),
            };
            let Some(bare) = name.strip_prefix("--").filter(|n| accepted.contains(n)) else {
                return Err(format!(
                    "unknown argument {arg:?}: expected {}",
                    accepted
                        .iter()
                        .map(|a| format!("--{a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            let value = match inline {
                Some(value) => value,
                None => args
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("--{bare} needs a value"))?,
            };
            if pairs.iter().any(|(n, _)| n == bare) {
                return Err(format!("--{bare} given twice"));
            }
            pairs.push((bare.to_string(), value));
        }
        Ok(Self { pairs })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str, example: &str) -> Result<&str, String> {
        match self.get(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(format!("--{name} is required, e.g. --{name} {example}")),
        }
    }

    fn window(&self) -> Result<&str, String> {
        let window = self.get("window").unwrap_or("10m");
        if is_duration(window) {
            Ok(window)
        } else {
            Err(format!(
                "--window {window:?}: expected a Prometheus duration such as 10m, 1h or 90s"
            ))
        }
    }

    fn label(&self) -> Result<&str, String> {
        let label = self.get("label").unwrap_or("service_version");
        let mut chars = label.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(label)
        } else {
            Err(format!(
                "--label {label:?}: expected a target_info label name such as service_version or deployment_track (dots become underscores)"
            ))
        }
    }

    fn judge(&self) -> Result<Judge, String> {
        let number = |name: &str, default: f64, accepted: &str| -> Result<f64, String> {
            match self.get(name) {
                None => Ok(default),
                Some(text) => text
                    .parse::<f64>()
                    .map_err(|_| format!("--{name} {text:?}: expected {accepted}")),
            }
        };
        let min = match self.get("min-requests") {
            None => DEFAULT_MIN_REQUESTS,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    format!(
                        "--min-requests {text:?}: expected a whole number of at least 1, e.g. 1000"
                    )
                })?,
        };
        let confidence = number(
            "confidence",
            DEFAULT_CONFIDENCE,
            "a number between 0.5 and 1, e.g. 0.995",
        )?;
        let tolerance = number(
            "tolerance",
            DEFAULT_TOLERANCE,
            "a share of the error budget of 0 or more, e.g. 0.1",
        )?;
        let judge = Judge::new()
            .min_requests(min)
            .confidence(confidence)
            .tolerance(tolerance);
        judge.check().map_err(|e| {
            let flag = if e.to_string().contains("confidence") {
                "--confidence"
            } else {
                "--tolerance"
            };
            format!("{flag}: {e}")
        })?;
        Ok(judge)
    }
}

/// What went wrong, and the flag it is about when it is one.
fn usage(binary: &str, mode: &str, message: &str) -> u8 {
    eprintln!("{binary} {mode}: {message}");
    USAGE
}

/// What `judge` compares.
enum Mode {
    /// Two sides told apart by a `target_info` label.
    Sides {
        label: String,
        baseline: String,
        canary: String,
    },
    /// The window after a change against the one before it.
    After(f64),
    /// The same, at a StateSet's last change.
    Flag { name: String, lookback: String },
}

fn judge(binary: &str, slos: &Slos, args: &[String]) -> u8 {
    const ACCEPTED: [&str; 11] = [
        "prometheus",
        "baseline",
        "canary",
        "label",
        "after",
        "flag",
        "lookback",
        "window",
        "min-requests",
        "confidence",
        "tolerance",
    ];
    let parsed = Flags::parse(args, &ACCEPTED).and_then(|flags| {
        let prometheus = flags.required("prometheus", "http://127.0.0.1:9090")?;
        let mode = mode(&flags)?;
        let window = flags.window()?;
        let judge = flags.judge()?;
        let api = PrometheusApi::new(prometheus, QUERY_TIMEOUT)
            .map_err(|e| format!("--prometheus: {e}"))?;
        Ok((api, judge, prometheus.to_string(), mode, window.to_string()))
    });
    let (api, judge, prometheus, mode, window) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return usage(binary, "judge", &message),
    };
    let mut meta = serde_json::json!({
        "service": slos.service(),
        "prometheus": prometheus,
        "window": window,
        "min_requests": judge.min_requests_value(),
        "confidence": judge.confidence_value(),
        "tolerance": judge.tolerance_value(),
    });
    let judged = match &mode {
        Mode::Sides {
            label,
            baseline,
            canary,
        } => {
            let comparison = Comparison {
                label,
                baseline,
                canary,
                window: &window,
            };
            meta["label"] = label.as_str().into();
            meta["baseline"] = baseline.as_str().into();
            meta["canary"] = canary.as_str().into();
            api.judge(&judge, slos, &comparison).map(|judgement| {
                let title = format!(
                    "the canary {label}={canary:?} against the baseline {baseline:?}, last {window}"
                );
                (judgement, title)
            })
        }
        Mode::After(at) => judge_change(&api, &judge, slos, *at, &window, &mut meta),
        Mode::Flag { name, lookback } => api.last_change(slos, name, lookback).and_then(|at| {
            meta["flag"] = name.as_str().into();
            judge_change(&api, &judge, slos, at, &window, &mut meta)
        }),
    };
    let (judgement, title) = match judged {
        Ok(judged) => judged,
        Err(error) => {
            let message = match (&error, &mode) {
                (QueryError::UnknownSide(unknown), _) => format!("--{}: {error}", unknown.side),
                (QueryError::NoChange { .. }, Mode::Flag { .. }) => format!("--flag: {error}"),
                (QueryError::NotYet(_), _) => format!("--after: {error}"),
                _ => error.to_string(),
            };
            return usage(binary, "judge", &message);
        }
    };
    let mut json = judgement.to_json();
    if let (Some(object), Some(meta)) = (json.as_object_mut(), meta.as_object()) {
        object.extend(meta.clone());
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{json}");
    let _ = stdout.flush();
    eprintln!("{binary} judge: {} for {title}", judgement.verdict);
    for slo in &judgement.slos {
        eprintln!("  {:<8} {}: {}", slo.verdict.as_str(), slo.slo, slo.reason);
    }
    match judgement.verdict {
        Verdict::Continue => 0,
        Verdict::Rollback => 1,
        Verdict::Wait => 3,
    }
}

/// `--baseline` and `--canary`, or `--after`, or `--flag`: exactly one.
fn mode(flags: &Flags) -> Result<Mode, String> {
    let sides = flags.get("baseline").is_some() || flags.get("canary").is_some();
    let chosen = [
        sides,
        flags.get("after").is_some(),
        flags.get("flag").is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() != 1 {
        return Err(
            "expected --baseline and --canary (two sides), or --after TIME, or --flag NAME (a change)"
                .to_string(),
        );
    }
    if !sides && flags.get("label").is_some() {
        return Err(
            "--label goes with --baseline and --canary, not with --after or --flag".to_string(),
        );
    }
    if flags.get("lookback").is_some() && flags.get("flag").is_none() {
        return Err("--lookback goes with --flag".to_string());
    }
    if sides {
        return Ok(Mode::Sides {
            label: flags.label()?.to_string(),
            baseline: flags.required("baseline", "1.4.2")?.to_string(),
            canary: flags.required("canary", "1.5.0")?.to_string(),
        });
    }
    if let Some(text) = flags.get("after") {
        return parse_rfc3339(text).map(Mode::After).ok_or_else(|| {
            format!("--after {text:?}: expected an RFC 3339 time such as 2026-12-01T09:30:00Z")
        });
    }
    let name = flags.required("flag", "shop_checkout_v2")?.to_string();
    let lookback = flags.get("lookback").unwrap_or("1d");
    if !is_duration(lookback) {
        return Err(format!(
            "--lookback {lookback:?}: expected a Prometheus duration such as 1h or 1d"
        ));
    }
    Ok(Mode::Flag {
        name,
        lookback: lookback.to_string(),
    })
}

/// The change at `at`: its judgement and the summary's title; the windows
/// go into `meta`.
fn judge_change(
    api: &PrometheusApi,
    judge: &Judge,
    slos: &Slos,
    at: f64,
    window: &str,
    meta: &mut serde_json::Value,
) -> Result<(observe_slo::Judgement, String), QueryError> {
    let judged = api.judge_change(judge, slos, at, window)?;
    let (before, after) = (at - judged.seconds, at + judged.seconds);
    meta["after"] = format_rfc3339(at).into();
    meta["before_window"] = serde_json::json!([format_rfc3339(before), format_rfc3339(at)]);
    meta["after_window"] = serde_json::json!([format_rfc3339(at), format_rfc3339(after)]);
    let title = format!(
        "the {}s after the change at {} against the {}s before it",
        judged.seconds,
        format_rfc3339(at),
        judged.seconds
    );
    Ok((judged.judgement, title))
}

fn analysis(binary: &str, slos: &Slos, args: &[String]) -> u8 {
    const ACCEPTED: [&str; 7] = [
        "for",
        "label",
        "window",
        "prometheus",
        "min-requests",
        "confidence",
        "tolerance",
    ];
    let printed = Flags::parse(args, &ACCEPTED).and_then(|flags| {
        let tool = flags.required("for", "argo")?;
        let analysis = Analysis {
            label: flags.label()?,
            window: flags.window()?,
            judge: flags.judge()?,
            prometheus: flags.get("prometheus"),
        };
        let text = match tool {
            "argo" => slos.argo_analysis_template(&analysis),
            "flagger" => slos.flagger_metric_templates(&analysis),
            other => return Err(format!("--for {other:?}: expected argo or flagger")),
        };
        text.map_err(|e| e.to_string())
    });
    match printed {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(message) => usage(binary, "analysis", &message),
    }
}
