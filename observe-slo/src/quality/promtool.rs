//! Replaying a scenario through `promtool test rules`, and reading when
//! each rule set's alerts fired.
//!
//! promtool evaluates the rules once a minute over the whole timeline and
//! writes the `ALERTS` series of every alert into its storage, as
//! Prometheus does. After the last minute, three PromQL tests ask that
//! storage, per rule set and severity, for the first and the last minute
//! an alert was firing and how many times one started firing; each test
//! expects nothing, so promtool prints what it got: exact values (Go's
//! shortest round-trip form, e.g. `2.5968E+05`). A fourth test,
//! `vector(1)`, always fails, so a run whose output lacks it did not
//! evaluate (a rule file promtool refused, a crash) and is an error.

use std::path::Path;
use std::process::Command;

use super::super::{BURN_RATE_ALERTS, Slo, yaml_quote};
use super::corpus::{Scenario, input_series};

/// The label that tells the comparison rule sets apart; observe's own
/// alerts do not carry it.
pub(super) const RULE_SET_LABEL: &str = "quality_ruleset";

/// The comparison rules for `slo`, a rule group to append to its
/// generated rules: the naive threshold and single-window burn rates,
/// both on the generated recording rules (the same error ratios).
pub(super) fn comparison_rules(slo: &Slo) -> String {
    let name = &slo.name;
    let budget = 1.0 - slo.objective;
    let mut out = format!("  - name: quality-comparison-{name}\n    rules:\n");
    out.push_str(&format!(
        "      - alert: NaiveErrorRatio\n        expr: {}\n        for: 5m\n        labels:\n          severity: page\n          {RULE_SET_LABEL}: naive\n",
        yaml_quote(&format!("slo:error_ratio:rate5m{{slo=\"{name}\"}} > 0.01"))
    ));
    for (severity, long, _short, burn, hold) in BURN_RATE_ALERTS {
        let threshold = burn * budget;
        out.push_str(&format!(
            "      - alert: SingleWindowBurn\n        expr: {}\n        for: {hold}\n        labels:\n          severity: {severity}\n          window: {long}\n          {RULE_SET_LABEL}: single-window\n",
            yaml_quote(&format!(
                "slo:error_ratio:rate{long}{{slo=\"{name}\"}} > {threshold:?}"
            ))
        ));
    }
    out
}

/// The promtool test file that replays `scenario` against `rules.yml`.
pub(super) fn test_file(scenario: &Scenario, slo: &Slo, service: &str) -> String {
    let end = scenario.length;
    let firing = format!("count by ({RULE_SET_LABEL}, severity) (ALERTS{{alertstate=\"firing\"}})");
    let started = format!(
        "{firing} unless count by ({RULE_SET_LABEL}, severity) (ALERTS{{alertstate=\"firing\"}} offset 1m)"
    );
    // The comparison rules read the recording rules of the same minute:
    // promtool would otherwise evaluate the groups in any order.
    let mut groups = vec![format!("slo-{}", slo.name)];
    if scenario.versions {
        groups.push(format!("observe-{service}"));
    }
    groups.push(format!("quality-comparison-{}", slo.name));
    let order: Vec<String> = groups.iter().map(|g| yaml_quote(g)).collect();
    let mut out = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ngroup_eval_order: [{}]\ntests:\n  - name: {}\n    interval: 1m\n    input_series:\n",
        order.join(", "),
        yaml_quote(&scenario.name)
    );
    out.push_str(&input_series(scenario, slo, service));
    out.push_str("    promql_expr_test:\n");
    let mut test = |query: &str, at: u32| {
        out.push_str(&format!(
            "      - expr: {}\n        eval_time: {at}m\n        exp_samples: []\n",
            yaml_quote(query)
        ));
    };
    test("vector(1)", end);
    // promtool's query engine loads at most 50,000 samples a query: the
    // timeline is asked in chunks, and the chunks' answers combined.
    let mut from = 0;
    while from < end {
        let to = (from + CHUNK).min(end);
        let range = to - from;
        test(
            &format!("min_over_time(timestamp({firing})[{range}m:1m])"),
            to,
        );
        test(
            &format!("max_over_time(timestamp({firing})[{range}m:1m])"),
            to,
        );
        test(&format!("sum_over_time(({started})[{range}m:1m])"), to);
        from = to;
    }
    out
}

/// Minutes of timeline one query covers.
const CHUNK: u32 = 720;

/// When one rule set's alerts of one severity fired, in seconds since
/// the start of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Firing {
    /// `naive`, `single-window`, or `None` for observe's own alerts.
    pub(super) rule_set: Option<String>,
    pub(super) severity: String,
    pub(super) first: f64,
    pub(super) last: f64,
    pub(super) starts: f64,
}

/// Runs `promtool test rules tests.yml` in `dir`: its whole output.
pub(super) fn run(promtool: &Path, dir: &Path) -> std::io::Result<String> {
    let output = Command::new(promtool)
        .args(["test", "rules", "tests.yml"])
        .current_dir(dir)
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr))
}

/// The firings in promtool's failure report; `Err` with the reason when
/// the report is not one of a completed run.
pub(super) fn parse(output: &str) -> Result<Vec<Firing>, String> {
    let mut firings: Vec<Firing> = Vec::new();
    let mut sentinel = false;
    let mut current: Option<&str> = None;
    for line in output.lines() {
        let line = line.trim();
        if let Some(expr) = line.strip_prefix("expr: ") {
            if let Some((_, error)) = expr.rsplit_once(", err: ") {
                return Err(format!("promtool could not evaluate {expr:?}: {error}"));
            }
            current = [
                ("vector(1)", "sentinel"),
                ("min_over_time(", "first"),
                ("max_over_time(", "last"),
                ("sum_over_time(", "starts"),
            ]
            .into_iter()
            .find(|(prefix, _)| expr.starts_with(&format!("\"{prefix}")))
            .map(|(_, which)| which);
            continue;
        }
        let Some(got) = line.strip_prefix("got: ") else {
            continue;
        };
        let samples = samples(got).map_err(|e| format!("{e} in {line:?}"))?;
        match current {
            Some("sentinel") => sentinel = samples.len() == 1 && samples[0].1 == 1.0,
            Some(which) => {
                for (labels, value) in samples {
                    let get = |name: &str| {
                        labels
                            .iter()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.clone())
                    };
                    let rule_set = get(RULE_SET_LABEL);
                    let severity = get("severity").unwrap_or_default();
                    let index = match firings
                        .iter()
                        .position(|f| f.rule_set == rule_set && f.severity == severity)
                    {
                        Some(index) => index,
                        None => {
                            firings.push(Firing {
                                rule_set,
                                severity,
                                first: f64::INFINITY,
                                last: f64::NEG_INFINITY,
                                starts: 0.0,
                            });
                            firings.len() - 1
                        }
                    };
                    // Chunks combine: the earliest first, the latest last,
                    // the starts summed.
                    let firing = &mut firings[index];
                    match which {
                        "first" => firing.first = firing.first.min(value),
                        "last" => firing.last = firing.last.max(value),
                        _ => firing.starts += value,
                    }
                }
            }
            None => return Err(format!("a result of an unknown expression: {line:?}")),
        }
    }
    if !sentinel {
        return Err("promtool did not evaluate the scenario (no result for vector(1))".into());
    }
    if let Some(firing) = firings
        .iter()
        .find(|f| !f.first.is_finite() || !f.last.is_finite())
    {
        return Err(format!("an incomplete result for {firing:?}"));
    }
    Ok(firings)
}

/// One sample list as promtool prints it: `{a="b", c="d"} 1.5E+03, {} 1E+00`.
type Sample = (Vec<(String, String)>, f64);

fn samples(text: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        let Some(open) = chars.next() else {
            return Ok(out);
        };
        if open != '{' {
            return Err(format!("expected '{{', found {open:?}"));
        }
        let mut labels = Vec::new();
        loop {
            while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
                chars.next();
            }
            match chars.next() {
                Some('}') => break,
                Some(first) => {
                    let mut name = String::from(first);
                    for c in chars.by_ref() {
                        if c == '=' {
                            break;
                        }
                        name.push(c);
                    }
                    if chars.next() != Some('"') {
                        return Err(format!("expected a quoted value for {name}"));
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next() {
                            Some('\\') => value.extend(chars.next()),
                            Some('"') => break,
                            Some(c) => value.push(c),
                            None => return Err("an unterminated label value".into()),
                        }
                    }
                    labels.push((name, value));
                }
                None => return Err("an unterminated label set".into()),
            }
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut number = String::new();
        while let Some(c) = chars.peek().copied().filter(|c| *c != ',' && *c != ' ') {
            number.push(c);
            chars.next();
        }
        let value = number
            .parse::<f64>()
            .map_err(|_| format!("expected a number, found {number:?}"))?;
        out.push((labels, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// promtool 2.42's report, as it prints it.
    const REPORT: &str = r#"Unit Testing:  tests.yml
  FAILED:
    expr: "vector(1)", time: 3d3h,
        exp: nil
        got: {} 1E+00
    expr: "min_over_time(timestamp(count by (quality_ruleset, severity) (ALERTS{alertstate=\"firing\"}))[4500m:1m])", time: 3d3h,
        exp: nil
        got: {quality_ruleset="naive", severity="page"} 2.5968E+05, {severity="page"} 2.6196E+05
    expr: "max_over_time(timestamp(count by (quality_ruleset, severity) (ALERTS{alertstate=\"firing\"}))[4500m:1m])", time: 3d3h,
        exp: nil
        got: {quality_ruleset="naive", severity="page"} 2.6298E+05, {severity="page"} 2.6292E+05
    expr: "sum_over_time((count by (quality_ruleset, severity) (ALERTS{alertstate=\"firing\"}) unless count by (quality_ruleset, severity) (ALERTS{alertstate=\"firing\"} offset 1m))[4500m:1m])", time: 3d3h,
        exp: nil
        got: {quality_ruleset="naive", severity="page"} 2E+00, {severity="page"} 1E+00
"#;

    #[test]
    fn the_report_gives_each_rule_sets_firings() {
        let firings = parse(REPORT).unwrap();
        assert_eq!(
            firings,
            [
                Firing {
                    rule_set: Some("naive".into()),
                    severity: "page".into(),
                    first: 259_680.0,
                    last: 262_980.0,
                    starts: 2.0,
                },
                Firing {
                    rule_set: None,
                    severity: "page".into(),
                    first: 261_960.0,
                    last: 262_920.0,
                    starts: 1.0,
                },
            ]
        );
    }

    #[test]
    fn a_run_that_did_not_evaluate_is_an_error() {
        let err = parse(
            "  FAILED:\n    rules.yml: 3:9: group \"x\", rule 1: could not parse expression\n",
        )
        .unwrap_err();
        assert!(err.contains("did not evaluate"), "{err}");
        let err = parse(&REPORT.replace("2.5968E+05", "soon")).unwrap_err();
        assert!(err.contains("expected a number, found \"soon\""), "{err}");
        let limited = REPORT.replace(
            "[4500m:1m])\", time: 3d3h,",
            "[4500m:1m])\", time: 3d3h, err: query processing would load too many samples into memory in query execution",
        );
        let err = parse(&limited).unwrap_err();
        assert!(err.contains("too many samples"), "{err}");
    }
}
