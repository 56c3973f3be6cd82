//! The canary judge's statistics: is the canary worse than the baseline on
//! an SLO's indicator, with enough confidence and by enough to matter? Pure
//! functions of the counts; where the counts come from (Prometheus, a test)
//! is the caller's business.
//!
//! The method is documented on [`Judge`].

use std::fmt;

use serde_json::{Value, json};

use super::{Indicator, Slo, Slos};

/// What to do with the canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Not worse: go on with the rollout.
    Continue,
    /// Too little data to say: judge again later.
    Wait,
    /// Worse, with confidence and by more than the tolerance: roll back.
    Rollback,
}

impl Verdict {
    /// `continue`, `wait` or `rollback`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Continue => "continue",
            Verdict::Wait => "wait",
            Verdict::Rollback => "rollback",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One side's requests in the window and how many of them were bad (5xx,
/// or slower than the threshold). Floating point: Prometheus'
/// `increase()` extrapolates to the window's edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    /// Requests in the window.
    pub requests: f64,
    /// Bad requests among them.
    pub bad: f64,
}

impl Counts {
    /// `bad` of `requests`; `bad` is clamped to `0..=requests`.
    pub fn new(requests: f64, bad: f64) -> Self {
        let requests = if requests.is_finite() {
            requests.max(0.0)
        } else {
            0.0
        };
        let bad = if bad.is_finite() { bad } else { 0.0 };
        Self {
            requests,
            bad: bad.clamp(0.0, requests),
        }
    }

    /// The bad share, 0 without requests.
    pub fn ratio(&self) -> f64 {
        if self.requests > 0.0 {
            self.bad / self.requests
        } else {
            0.0
        }
    }

    fn to_json(self) -> Value {
        json!({"requests": self.requests, "bad": self.bad, "ratio": self.ratio()})
    }
}

/// Why a judge cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JudgeError {
    /// The confidence is not strictly between 0.5 and 1.
    #[error("invalid confidence {0}: expected a number between 0.5 and 1, e.g. 0.995")]
    Confidence(f64),
    /// The tolerance is negative or not a number.
    #[error("invalid tolerance {0}: expected a share of the error budget of 0 or more, e.g. 0.1")]
    Tolerance(f64),
    /// The minimum number of requests is not a positive number.
    #[error("invalid minimum of requests {0}: expected a whole number of at least 1, e.g. 1000")]
    MinRequests(f64),
    /// The SLOs themselves are invalid.
    #[error(transparent)]
    Slo(#[from] super::SloError),
}

/// Judges a canary against a baseline, SLO by SLO.
///
/// # Method
/// For each SLO, each side has `requests` and `bad` requests in the window
/// (availability: 5xx answers; latency: answers slower than the SLO's
/// threshold). The canary is judged worse with a **one-sided
/// two-proportion z-test** (pooled variance):
///
/// ```text
/// z = (|p_canary - p_baseline| - (1/n_baseline + 1/n_canary) / 2)
///     / sqrt(p (1 - p) (1/n_baseline + 1/n_canary))
/// ```
///
/// with the sign of `p_canary - p_baseline`, where `p` is the pooled bad
/// ratio and the subtracted term is Yates' continuity correction (the
/// counts are whole numbers; without it a dozen errors a side would roll
/// back a healthy canary too often). The verdict, in this order:
/// 1. **wait** when either side has no series or fewer than
///    [`min_requests`](Judge::min_requests) requests (default 1,000): too
///    little data never says continue;
/// 2. **rollback** when the canary is worse at the
///    [`confidence`](Judge::confidence) (default 99.5%) *and* its bad ratio
///    exceeds the baseline's by more than the
///    [`tolerance`](Judge::tolerance) (default a tenth of the SLO's error
///    budget, `0.1 × (1 − objective)`): significant and large enough to
///    matter;
/// 3. **continue** otherwise.
///
/// The confidence is for the whole judgement: with `k` SLOs each is tested
/// at `1 − (1 − confidence) / k` (Bonferroni), so a healthy canary is
/// rolled back at most `1 − confidence` of the time whatever the number of
/// SLOs. The service's verdict is the worst of its SLOs': a rollback on any
/// SLO wins, then wait. The default confidence is high because a rollout
/// runs the judge again and again: each run's false alarms add up, while
/// a real regression only grows clearer with more requests.
///
/// Simulation tests (seeded, deterministic: `slo/judge/tests.rs`) measure it
/// with the defaults and two SLOs (availability 99.9%, latency 99% within
/// 250 ms): A/A at 0.5% errors and 2% slow requests, 2,000 requests a side,
/// rolls back in 0 of 1,000 trials; a canary with 3× the errors (0.5% →
/// 1.5%) at 5,000 a side is rolled back in 98.7%, one with twice the slow
/// share (2% → 4%) in 100%. Over twenty other seeds the rates ranged
/// 0–0.5%, 98.2–99.6% and 99.8–100%.
///
/// ```
/// use observe_slo::{Counts, Judge, Slo, Slos, Verdict};
///
/// let slos = Slos::new("shop").with(Slo::availability("available", 0.999));
/// let judgement = Judge::new().judge(&slos, |_slo| {
///     (Some(Counts::new(5_000.0, 25.0)), Some(Counts::new(5_000.0, 80.0)))
/// })?;
/// assert_eq!(judgement.verdict, Verdict::Rollback);
/// # Ok::<(), observe_slo::JudgeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Judge {
    min_requests: f64,
    confidence: f64,
    tolerance: f64,
    names: [&'static str; 2],
}

/// Default for [`Judge::min_requests`].
pub const DEFAULT_MIN_REQUESTS: u64 = 1000;
/// Default for [`Judge::confidence`].
pub const DEFAULT_CONFIDENCE: f64 = 0.995;
/// Default for [`Judge::tolerance`].
pub const DEFAULT_TOLERANCE: f64 = 0.1;

impl Default for Judge {
    fn default() -> Self {
        Self {
            min_requests: DEFAULT_MIN_REQUESTS as f64,
            confidence: DEFAULT_CONFIDENCE,
            tolerance: DEFAULT_TOLERANCE,
            names: ["baseline", "canary"],
        }
    }
}

/// The judgement of one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct SloJudgement {
    /// The SLO's name.
    pub slo: String,
    /// `availability` or `latency`.
    pub indicator: &'static str,
    /// The baseline's counts; `None` when it has no series.
    pub baseline: Option<Counts>,
    /// The canary's counts; `None` when it has no series.
    pub canary: Option<Counts>,
    /// The z statistic (positive: the canary is worse); `None` when there
    /// was too little data to test.
    pub z: Option<f64>,
    /// The one-sided p-value of `z`.
    pub p_value: Option<f64>,
    /// The p-value below which the canary is significantly worse (`1 −
    /// confidence` shared among the SLOs).
    pub alpha: f64,
    /// How much worse than the baseline's the canary's bad ratio may be
    /// before it matters (absolute, e.g. 0.0001 for 0.01 points).
    pub tolerance: f64,
    /// This SLO's verdict.
    pub verdict: Verdict,
    /// Why, in one line.
    pub reason: String,
}

impl SloJudgement {
    /// The judgement as JSON: counts and ratios of both sides, the test's
    /// statistic, the verdict and the reason.
    pub fn to_json(&self) -> Value {
        json!({
            "slo": self.slo,
            "indicator": self.indicator,
            "baseline": self.baseline.map(Counts::to_json),
            "canary": self.canary.map(Counts::to_json),
            "test": "one-sided two-proportion z-test",
            "z": self.z,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "tolerance": self.tolerance,
            "verdict": self.verdict.as_str(),
            "reason": self.reason,
        })
    }
}

/// The judgement of every SLO of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The worst of the SLOs' verdicts (rollback, then wait); `wait` when
    /// there are no SLOs.
    pub verdict: Verdict,
    /// One per SLO, in declaration order.
    pub slos: Vec<SloJudgement>,
}

impl Judgement {
    /// `{"verdict": ..., "slos": [...]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "verdict": self.verdict.as_str(),
            "slos": self.slos.iter().map(SloJudgement::to_json).collect::<Vec<_>>(),
        })
    }
}

impl Judge {
    /// A judge with the defaults: 1,000 requests a side, 99.5% confidence,
    /// a tolerance of a tenth of the error budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fewer requests than this on either side is `wait` (default 1,000).
    pub fn min_requests(mut self, requests: u64) -> Self {
        self.min_requests = requests as f64;
        self
    }

    /// The confidence that the canary is worse before it is rolled back,
    /// for all SLOs together (default 0.995).
    pub fn confidence(mut self, confidence: f64) -> Self {
        self.confidence = confidence;
        self
    }

    /// How much worse the canary's bad ratio may be than the baseline's,
    /// as a share of the SLO's error budget (default 0.1: with a 99.9%
    /// objective, 0.01 points).
    pub fn tolerance(mut self, share_of_budget: f64) -> Self {
        self.tolerance = share_of_budget;
        self
    }

    /// What the reasons call the two sides (default `baseline` and
    /// `canary`; `before` and `after` for a change).
    pub fn side_names(mut self, baseline: &'static str, canary: &'static str) -> Self {
        self.names = [baseline, canary];
        self
    }

    /// The configured minimum of requests a side.
    pub fn min_requests_value(&self) -> f64 {
        self.min_requests
    }

    /// The configured confidence.
    pub fn confidence_value(&self) -> f64 {
        self.confidence
    }

    /// The configured tolerance, as a share of the budget.
    pub fn tolerance_value(&self) -> f64 {
        self.tolerance
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<(), JudgeError> {
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err(JudgeError::Confidence(self.confidence));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(JudgeError::Tolerance(self.tolerance));
        }
        if self.min_requests < 1.0 {
            return Err(JudgeError::MinRequests(self.min_requests));
        }
        Ok(())
    }

    /// The p-value under which one of `slos` SLOs is significantly worse.
    pub fn alpha(&self, slos: usize) -> f64 {
        (1.0 - self.confidence) / slos.max(1) as f64
    }

    /// Judges every SLO of `slos`; `counts` gives the baseline's and the
    /// canary's counts for an SLO (`None` for a side without series).
    pub fn judge(
        &self,
        slos: &Slos,
        mut counts: impl FnMut(&Slo) -> (Option<Counts>, Option<Counts>),
    ) -> Result<Judgement, JudgeError> {
        self.check()?;
        slos.check()?;
        let alpha = self.alpha(slos.slos.len());
        let judged: Vec<SloJudgement> = slos
            .slos
            .iter()
            .map(|slo| {
                let (baseline, canary) = counts(slo);
                self.judge_slo(slo, baseline, canary, alpha)
            })
            .collect();
        let verdict = judged
            .iter()
            .map(|j| j.verdict)
            .max()
            .unwrap_or(Verdict::Wait);
        Ok(Judgement {
            verdict,
            slos: judged,
        })
    }

    /// Judges one SLO, testing at `alpha`.
    pub fn judge_slo(
        &self,
        slo: &Slo,
        baseline: Option<Counts>,
        canary: Option<Counts>,
        alpha: f64,
    ) -> SloJudgement {
        let tolerance = self.tolerance * (1.0 - slo.objective);
        let mut judged = SloJudgement {
            slo: slo.name.clone(),
            indicator: match slo.indicator {
                Indicator::Availability => "availability",
                Indicator::Latency { .. } => "latency",
                Indicator::GrpcAvailability => "grpc_availability",
            },
            baseline,
            canary,
            z: None,
            p_value: None,
            alpha,
            tolerance,
            verdict: Verdict::Wait,
            reason: String::new(),
        };
        let (b, c) = match (baseline, canary) {
            (None, None) => {
                judged.reason = "no series for either side in the window".to_string();
                return judged;
            }
            (None, Some(_)) => {
                judged.reason = format!("no series for the {} in the window", self.names[0]);
                return judged;
            }
            (Some(_), None) => {
                judged.reason = format!("no series for the {} in the window", self.names[1]);
                return judged;
            }
            (Some(b), Some(c)) => (b, c),
        };
        if b.requests < self.min_requests || c.requests < self.min_requests {
            judged.reason = format!(
                "too few requests: {} {}, {} {}; at least {} a side are needed",
                self.names[0],
                whole(b.requests),
                self.names[1],
                whole(c.requests),
                whole(self.min_requests)
            );
            return judged;
        }
        let z = z_statistic(b, c);
        let p_value = upper_tail(z);
        judged.z = Some(z);
        judged.p_value = Some(p_value);
        let (rb, rc) = (b.ratio(), c.ratio());
        let what = match slo.indicator {
            Indicator::Availability => "5xx".to_string(),
            Indicator::GrpcAvailability => "gRPC server errors".to_string(),
            Indicator::Latency { threshold_seconds } => format!("slower than {threshold_seconds}s"),
        };
        let [baseline_name, canary_name] = self.names;
        let sides = format!(
            "{canary_name} {} {what} vs {baseline_name} {}",
            percent(rc),
            percent(rb)
        );
        let significant = p_value < alpha;
        let matters = rc - rb > tolerance;
        let test = format!("z = {z:.2}, p = {}", significant_digits(p_value));
        let alpha = significant_digits(alpha);
        let tolerance = points(tolerance);
        (judged.verdict, judged.reason) = match (significant, matters) {
            (true, true) => (
                Verdict::Rollback,
                format!(
                    "{sides}: significantly worse ({test} < {alpha}) and by more than the tolerance of {tolerance} points"
                ),
            ),
            (true, false) => (
                Verdict::Continue,
                format!(
                    "{sides}: significantly worse ({test} < {alpha}) but within the tolerance of {tolerance} points"
                ),
            ),
            (false, _) => (
                Verdict::Continue,
                format!("{sides}: not significantly worse ({test}, not below {alpha})"),
            ),
        };
        judged
    }
}

/// The pooled two-proportion z statistic, positive when the canary is
/// worse; 0 when the pooled ratio is 0 or 1 (no variance: no evidence).
pub fn z_statistic(baseline: Counts, canary: Counts) -> f64 {
    let (nb, nc) = (baseline.requests, canary.requests);
    if nb <= 0.0 || nc <= 0.0 {
        return 0.0;
    }
    let pooled = (baseline.bad + canary.bad) / (nb + nc);
    let variance = pooled * (1.0 - pooled) * (1.0 / nb + 1.0 / nc);
    if variance <= 0.0 {
        return 0.0;
    }
    // Yates' continuity correction: the counts are whole numbers, and
    // without it a test on a dozen events rolls back too often.
    let difference = canary.ratio() - baseline.ratio();
    let corrected = (difference.abs() - 0.5 * (1.0 / nb + 1.0 / nc)).max(0.0);
    corrected.copysign(difference) / variance.sqrt()
}

/// `P(Z > z)` for a standard normal `Z`.
pub fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The `z` with `P(Z > z) = alpha`, for `0 < alpha < 1`.
pub fn critical_z(alpha: f64) -> f64 {
    // Bisection: upper_tail is decreasing; 100 halvings of [-40, 40] are
    // far below f64 resolution.
    let (mut low, mut high) = (-40.0_f64, 40.0_f64);
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if upper_tail(mid) > alpha {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

/// The complementary error function (Numerical Recipes' `erfcc`,
/// fractional error below 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Three significant digits, trailing zeros dropped: 0.0025, 0.000125,
/// 1.23e-9.
fn significant_digits(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if x.abs() < 1e-6 {
        return format!("{x:.2e}");
    }
    let decimals = (2 - x.abs().log10().floor() as i32).clamp(0, 17) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn whole(n: f64) -> String {
    format!("{}", n.round() as i64)
}

fn percent(ratio: f64) -> String {
    format!("{}%", significant_digits(ratio * 100.0))
}

fn points(ratio: f64) -> String {
    let text = format!("{:.4}", ratio * 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests;
