//! Judging a flag flip or a config change (feature `judge`): the window
//! after the change against the same-length window before it, on every
//! instance of the job, and finding a StateSet's last change in
//! Prometheus itself.

use std::time::{SystemTime, UNIX_EPOCH};

use observe_core::time::format_rfc3339;

use super::Slos;
use super::judge::{Judge, Judgement};
use super::prometheus::{PrometheusApi, QueryError};
use super::query::{Side, duration_seconds};

/// The judgement of a change, with the windows compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeJudgement {
    /// "baseline" is the window before the change, "canary" the one after
    /// (and the reasons say so).
    pub judgement: Judgement,
    /// When the change happened (Unix seconds).
    pub at: f64,
    /// The length of both windows in seconds: the window asked for, or
    /// less when the change is more recent than that.
    pub seconds: f64,
}

/// Unix seconds now.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl PrometheusApi {
    /// Judges the change at `at` (Unix seconds): the `window` after it
    /// (the "canary") against the same length before it (the
    /// "baseline"), on every instance of the job. A change more recent
    /// than `window` compares the shorter time since, so too few requests
    /// say wait.
    pub fn judge_change(
        &self,
        judge: &Judge,
        slos: &Slos,
        at: f64,
        window: &str,
    ) -> Result<ChangeJudgement, QueryError> {
        let window_seconds = duration_seconds(window)
            .filter(|s| *s >= 1.0)
            .ok_or_else(|| QueryError::Window(window.to_string()))?;
        judge.check()?;
        let since = now() - at;
        if since < 1.0 {
            return Err(QueryError::NotYet(format_rfc3339(at)));
        }
        let seconds = window_seconds.min(since).floor();
        let range = format!("{seconds}s");
        let mut counted = Vec::with_capacity(slos.slos().len());
        for slo in slos.slos() {
            counted.push((
                self.counts(slos, slo, Side::ALL, &range, Some(at))?,
                self.counts(slos, slo, Side::ALL, &range, Some(at + seconds))?,
            ));
        }
        let mut counted = counted.into_iter();
        let judge = judge.clone().side_names("before", "after");
        let judgement = judge.judge(slos, |_| counted.next().unwrap_or((None, None)))?;
        Ok(ChangeJudgement {
            judgement,
            at,
            seconds,
        })
    }

    /// When the StateSet `metric` of the job last changed state on any
    /// instance within `lookback` (a Prometheus duration), in Unix
    /// seconds, to the scrape.
    pub fn last_change(
        &self,
        slos: &Slos,
        metric: &str,
        lookback: &str,
    ) -> Result<f64, QueryError> {
        let lookback_seconds =
            duration_seconds(lookback).ok_or_else(|| QueryError::Window(lookback.to_string()))?;
        let valid = metric
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let no_change = |series| QueryError::NoChange {
            metric: metric.to_string(),
            job: slos.service().to_string(),
            lookback: lookback.to_string(),
            series,
        };
        if !valid {
            return Err(no_change(0));
        }
        let end = now();
        // A point a second resolves a scrape; Prometheus allows 11,000
        // points a series.
        let step = (lookback_seconds / 10_000.0).max(1.0);
        let promql = format!("{metric}{{job=\"{}\"}}", slos.service());
        let series = self.query_range(&promql, end - lookback_seconds, end, step)?;
        let mut last: Option<f64> = None;
        for (_, points) in &series {
            for pair in points.windows(2) {
                if pair[0].1 != pair[1].1 {
                    last = Some(last.map_or(pair[1].0, |l: f64| l.max(pair[1].0)));
                }
            }
        }
        last.ok_or_else(|| no_change(series.len()))
    }
}
