//! `judge` and `analysis`: the canary judge against a Prometheus-compatible
//! API, and the rollout tools' templates whose queries give its verdict.

use std::io::Write;
use std::time::Duration;

use observe_core::time::format_rfc3339;
use observe_slo::{
    Analysis, Comparison, Judge, Judgement, PrometheusApi, QueryError, Slos, Verdict,
};

use super::{
    AnalysisArgs, EXIT_CONTINUE, EXIT_ROLLBACK, EXIT_USAGE, EXIT_WAIT, JudgeArgs, JudgeSettings,
    Tool,
};

/// How long one query to Prometheus may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What `judge` compares.
enum Mode<'a> {
    /// Two sides told apart by a `target_info` label.
    Sides {
        label: &'a str,
        baseline: &'a str,
        canary: &'a str,
    },
    /// The window after a change against the one before it.
    After(f64),
    /// The same, at a StateSet's last change.
    Flag { name: &'a str, lookback: &'a str },
}

impl JudgeArgs {
    /// The comparison asked for (clap's rules leave exactly one).
    fn mode(&self) -> Option<Mode<'_>> {
        match (&self.baseline, &self.canary, self.after, &self.flag) {
            (Some(baseline), Some(canary), None, None) => Some(Mode::Sides {
                label: self.label.as_deref().unwrap_or("service_version"),
                baseline,
                canary,
            }),
            (None, None, Some(at), None) => Some(Mode::After(at)),
            (None, None, None, Some(name)) => Some(Mode::Flag {
                name,
                lookback: self.lookback.as_deref().unwrap_or("1d"),
            }),
            _ => None,
        }
    }
}

impl JudgeSettings {
    fn judge(&self) -> Result<Judge, String> {
        let judge = Judge::new()
            .min_requests(self.min_requests)
            .confidence(self.confidence)
            .tolerance(self.tolerance);
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

/// `judge`: the verdict as JSON on stdout, a summary on stderr, and the
/// exit code a pipeline gates on.
pub(crate) fn judge(program: &str, slos: &Slos, args: &JudgeArgs) -> u8 {
    let usage = |message: &str| {
        eprintln!("{program} judge: {message}");
        EXIT_USAGE
    };
    let judge = match args.settings.judge() {
        Ok(judge) => judge,
        Err(message) => return usage(&message),
    };
    let api = match PrometheusApi::new(&args.prometheus, QUERY_TIMEOUT) {
        Ok(api) => api,
        Err(e) => return usage(&format!("--prometheus: {e}")),
    };
    let window = args.settings.window.as_str();
    let Some(mode) = args.mode() else {
        return usage(
            "expected --baseline and --canary (two sides), or --after TIME, or --flag NAME (a change)",
        );
    };
    let mut meta = serde_json::json!({
        "service": slos.service(),
        "prometheus": args.prometheus,
        "window": window,
        "min_requests": judge.min_requests_value(),
        "confidence": judge.confidence_value(),
        "tolerance": judge.tolerance_value(),
    });
    let judged = match mode {
        Mode::Sides {
            label,
            baseline,
            canary,
        } => {
            let comparison = Comparison {
                label,
                baseline,
                canary,
                window,
            };
            meta["label"] = label.into();
            meta["baseline"] = baseline.into();
            meta["canary"] = canary.into();
            api.judge(&judge, slos, &comparison).map(|judgement| {
                let title = format!(
                    "the canary {label}={canary:?} against the baseline {baseline:?}, last {window}"
                );
                (judgement, title)
            })
        }
        Mode::After(at) => judge_change(&api, &judge, slos, at, window, &mut meta),
        Mode::Flag { name, lookback } => api.last_change(slos, name, lookback).and_then(|at| {
            meta["flag"] = name.into();
            judge_change(&api, &judge, slos, at, window, &mut meta)
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
            return usage(&message);
        }
    };
    let mut json = judgement.to_json();
    if let (Some(object), Some(meta)) = (json.as_object_mut(), meta.as_object()) {
        object.extend(meta.clone());
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{json}");
    let _ = stdout.flush();
    eprintln!("{program} judge: {} for {title}", judgement.verdict);
    for slo in &judgement.slos {
        eprintln!("  {:<8} {}: {}", slo.verdict.as_str(), slo.slo, slo.reason);
    }
    match judgement.verdict {
        Verdict::Continue => EXIT_CONTINUE,
        Verdict::Rollback => EXIT_ROLLBACK,
        Verdict::Wait => EXIT_WAIT,
    }
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
) -> Result<(Judgement, String), QueryError> {
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

/// `analysis`: the templates' text.
pub(crate) fn analysis(slos: &Slos, args: &AnalysisArgs) -> Result<String, String> {
    let analysis = Analysis {
        label: &args.label,
        window: &args.settings.window,
        judge: args.settings.judge()?,
        prometheus: args.prometheus.as_deref(),
    };
    match args.tool {
        Tool::Argo => slos.argo_analysis_template(&analysis),
        Tool::Flagger => slos.flagger_metric_templates(&analysis),
    }
    .map_err(|e| e.to_string())
}
