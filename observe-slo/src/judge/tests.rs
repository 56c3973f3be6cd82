//! The judge on seeded simulated counts, and its rules on hand-made ones.

use super::*;

/// SplitMix64: a tiny seeded generator, so every run draws the same
/// numbers and the measured rates below are exact, not flaky.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// A simulated service: each request fails with `error_ratio`, and
/// takes an exponentially distributed time whose share above the SLO
/// threshold is `slow_share`.
struct Side {
    error_ratio: f64,
    slow_share: f64,
}

const THRESHOLD: f64 = 0.25;

impl Side {
    /// `(availability counts, latency counts)` of `n` requests.
    fn serve(&self, rng: &mut Rng, n: u32) -> (Counts, Counts) {
        // P(d > t) = exp(-t / mean) = slow_share.
        let mean = THRESHOLD / (1.0 / self.slow_share).ln();
        let (mut errors, mut slow) = (0u32, 0u32);
        for _ in 0..n {
            if rng.uniform() < self.error_ratio {
                errors += 1;
            }
            let duration = -rng.uniform().ln() * mean;
            if duration > THRESHOLD {
                slow += 1;
            }
        }
        let n = f64::from(n);
        (
            Counts::new(n, f64::from(errors)),
            Counts::new(n, f64::from(slow)),
        )
    }
}

fn shop() -> Slos {
    Slos::new("shop")
        .with(Slo::availability("shop-availability", 0.999))
        .with(Slo::latency("users-fast", 0.99, THRESHOLD))
}

/// The share of `trials` whose verdict is rollback.
fn rollback_rate(seed: u64, trials: u32, n: u32, baseline: &Side, canary: &Side) -> f64 {
    let mut rng = Rng(seed);
    let slos = shop();
    let judge = Judge::new();
    let mut rollbacks = 0;
    for _ in 0..trials {
        let b = baseline.serve(&mut rng, n);
        let c = canary.serve(&mut rng, n);
        let judgement = judge
            .judge(&slos, |slo| match slo.indicator {
                Indicator::Availability | Indicator::GrpcAvailability => (Some(b.0), Some(c.0)),
                Indicator::Latency { .. } => (Some(b.1), Some(c.1)),
            })
            .unwrap();
        if judgement.verdict == Verdict::Rollback {
            rollbacks += 1;
        }
    }
    f64::from(rollbacks) / f64::from(trials)
}

const HEALTHY: Side = Side {
    error_ratio: 0.005,
    slow_share: 0.02,
};

#[test]
fn a_healthy_canary_is_rarely_rolled_back() {
    let rate = rollback_rate(1, 1000, 2000, &HEALTHY, &HEALTHY);
    eprintln!("A/A: rollback in {:.1}% of trials", rate * 100.0);
    assert!(rate <= 0.01, "A/A rolled back in {rate} of trials");
}

#[test]
fn three_times_the_errors_is_rolled_back() {
    let canary = Side {
        error_ratio: 0.015,
        ..HEALTHY
    };
    let rate = rollback_rate(2, 1000, 5000, &HEALTHY, &canary);
    eprintln!("3x errors: rollback in {:.1}% of trials", rate * 100.0);
    assert!(rate >= 0.95, "3x errors rolled back in only {rate}");
}

#[test]
fn twice_the_slow_share_is_rolled_back() {
    let canary = Side {
        slow_share: 0.04,
        ..HEALTHY
    };
    let rate = rollback_rate(3, 1000, 5000, &HEALTHY, &canary);
    eprintln!("2x slow: rollback in {:.1}% of trials", rate * 100.0);
    assert!(rate >= 0.95, "2x slow share rolled back in only {rate}");
}

#[test]
fn too_little_data_waits_and_never_continues() {
    let slos = Slos::new("shop").with(Slo::availability("a", 0.999));
    let judge = Judge::new();
    let few = Counts::new(37.0, 3.0);
    let many = Counts::new(20_000.0, 0.0);
    for (b, c) in [
        (Some(many), Some(few)),
        (Some(few), Some(many)),
        (None, Some(many)),
        (Some(many), None),
        (None, None),
    ] {
        let judgement = judge.judge(&slos, |_| (b, c)).unwrap();
        assert_eq!(judgement.verdict, Verdict::Wait, "{b:?} {c:?}");
        assert_eq!(judgement.slos[0].z, None);
    }
    let reason = &judge
        .judge(&slos, |_| (Some(many), Some(few)))
        .unwrap()
        .slos[0]
        .reason;
    assert_eq!(
        reason,
        "too few requests: baseline 20000, canary 37; at least 1000 a side are needed"
    );
    // No SLOs at all: nothing was judged.
    let none = judge.judge(&Slos::new("shop"), |_| (None, None)).unwrap();
    assert_eq!(none.verdict, Verdict::Wait);
}

#[test]
fn a_rollback_on_any_slo_wins() {
    let slos = shop();
    let judgement = Judge::new()
        .judge(&slos, |slo| match slo.indicator {
            // Availability would wait, latency is clearly worse.
            Indicator::Availability | Indicator::GrpcAvailability => {
                (Some(Counts::new(5000.0, 0.0)), None)
            }
            Indicator::Latency { .. } => (
                Some(Counts::new(5000.0, 100.0)),
                Some(Counts::new(5000.0, 400.0)),
            ),
        })
        .unwrap();
    assert_eq!(judgement.slos[0].verdict, Verdict::Wait);
    assert_eq!(judgement.slos[1].verdict, Verdict::Rollback);
    assert_eq!(judgement.verdict, Verdict::Rollback);
    let json = judgement.to_json();
    assert_eq!(json["verdict"], "rollback");
    assert_eq!(json["slos"][1]["canary"]["ratio"], 0.08);
    assert!(
        json["slos"][1]["reason"].as_str().unwrap().starts_with(
            "canary 8% slower than 0.25s vs baseline 2%: significantly worse (z = 13.7"
        ),
        "{json}"
    );
}

#[test]
fn significant_but_tiny_differences_continue() {
    // Ten million requests a side: 0.100% vs 0.105% is significant
    // (z = 3.5), but 0.005 points is below the tolerance of 0.01.
    let slos = Slos::new("shop").with(Slo::availability("a", 0.999));
    let judgement = Judge::new()
        .judge(&slos, |_| {
            (Some(Counts::new(1e7, 1e4)), Some(Counts::new(1e7, 1.05e4)))
        })
        .unwrap();
    let slo = &judgement.slos[0];
    assert!(slo.p_value.unwrap() < slo.alpha, "{slo:?}");
    assert_eq!(judgement.verdict, Verdict::Continue, "{slo:?}");
    assert!(
        slo.reason.contains("within the tolerance"),
        "{}",
        slo.reason
    );
}

#[test]
fn no_errors_on_either_side_continues() {
    let slos = Slos::new("shop").with(Slo::availability("a", 0.999));
    let judgement = Judge::new()
        .judge(&slos, |_| {
            (
                Some(Counts::new(5000.0, 0.0)),
                Some(Counts::new(5000.0, 0.0)),
            )
        })
        .unwrap();
    assert_eq!(judgement.verdict, Verdict::Continue);
    assert_eq!(judgement.slos[0].z, Some(0.0));
}

#[test]
fn the_normal_tail_is_accurate() {
    assert!((upper_tail(0.0) - 0.5).abs() < 1e-7);
    assert!((upper_tail(1.959_964) - 0.025).abs() < 1e-7);
    assert!((upper_tail(-2.326_348) - 0.99).abs() < 1e-7);
    assert!((critical_z(0.01) - 2.326_348).abs() < 1e-5);
    assert!((critical_z(0.005) - 2.575_829).abs() < 1e-5);
}

#[test]
fn bad_settings_name_the_value() {
    let slos = shop();
    let err = Judge::new().confidence(1.0).judge(&slos, |_| (None, None));
    assert_eq!(err.unwrap_err(), JudgeError::Confidence(1.0));
    let err = Judge::new().tolerance(-1.0).judge(&slos, |_| (None, None));
    assert!(err.unwrap_err().to_string().contains("tolerance -1"));
    let err = Judge::new().min_requests(0).judge(&slos, |_| (None, None));
    assert!(err.unwrap_err().to_string().contains("requests 0"));
}

#[test]
fn reasons_round_to_three_digits() {
    assert_eq!(significant_digits(0.0025000000000000022), "0.0025");
    assert_eq!(significant_digits(0.000125), "0.000125");
    assert_eq!(significant_digits(0.5000000150000002), "0.5");
    assert_eq!(significant_digits(1.234e-9), "1.23e-9");
}
