//! What each rule set did with each scenario: scores, the properties the
//! generated rules must hold, the table and the JSON.

use std::fmt::Write;

use serde_json::{Value, json};

use super::promtool::Firing;
use super::{QualityReport, RuleSet, ScenarioResult, SloQuality};

/// The share of the budget an incident may spend without a page.
pub const PAGE_SHARE: f64 = 0.02;
/// The share of the budget an incident may spend without a ticket.
pub const TICKET_SHARE: f64 = 0.10;

/// What one rule set did with one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The rule set.
    pub rule_set: RuleSet,
    /// How many times a page started firing.
    pub pages: u32,
    /// Minutes from the incident's start to the first page firing (`for:`
    /// included); negative when it fired before the incident.
    pub first_page: Option<f64>,
    /// Minutes from the incident's end until the last page stopped;
    /// `None` when no page fired or one was still firing at the end.
    pub page_clears: Option<f64>,
    /// A page was still firing when the replay ended.
    pub page_open: bool,
    /// How many times a ticket started firing.
    pub tickets: u32,
    /// Minutes from the incident's start to the first ticket.
    pub first_ticket: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
}

/// How an outcome counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Quiet on a healthy case, or the alert the incident's spend asks for.
    Ok,
    /// A page on a healthy case.
    FalsePage,
    /// A page on an incident that spent at most 2% of the budget: not
    /// wrong, but more than the budget asks for.
    NoisyPage,
    /// More than 2% of the budget spent without a page.
    MissedPage,
    /// More than 10% spent with neither a page nor a ticket.
    MissedPageAndTicket,
}

impl Verdict {
    /// Its words in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::FalsePage => "false page",
            Verdict::NoisyPage => "noisy page",
            Verdict::MissedPage => "missed page",
            Verdict::MissedPageAndTicket => "missed page and ticket",
        }
    }

    /// A missed incident.
    pub fn is_missed(self) -> bool {
        matches!(self, Verdict::MissedPage | Verdict::MissedPageAndTicket)
    }
}

/// The verdict on one rule set's alerts for one scenario: a healthy case
/// must not page; an incident that spent more than [`PAGE_SHARE`] of the
/// budget must page, one that spent more than [`TICKET_SHARE`] must at
/// least ticket (a page counts: it is the stronger call).
///
/// ```
/// use observe_slo::quality::{Verdict, verdict};
///
/// assert_eq!(verdict(true, 0.01, true, false), Verdict::FalsePage);
/// assert_eq!(verdict(false, 0.05, false, true), Verdict::MissedPage);
/// assert_eq!(verdict(false, 0.15, false, false), Verdict::MissedPageAndTicket);
/// assert_eq!(verdict(false, 0.15, true, false), Verdict::Ok);
/// assert_eq!(verdict(false, 0.001, true, false), Verdict::NoisyPage);
/// ```
pub fn verdict(healthy: bool, budget_spent: f64, paged: bool, ticketed: bool) -> Verdict {
    if healthy {
        return if paged {
            Verdict::FalsePage
        } else {
            Verdict::Ok
        };
    }
    if budget_spent > TICKET_SHARE && !paged && !ticketed {
        Verdict::MissedPageAndTicket
    } else if budget_spent > PAGE_SHARE && !paged {
        Verdict::MissedPage
    } else if budget_spent <= PAGE_SHARE && paged {
        Verdict::NoisyPage
    } else {
        Verdict::Ok
    }
}

/// The outcome of `rule_set` from promtool's firings, in a timeline of
/// `length` minutes with the incident from `start` to `end`.
pub(super) fn outcome(
    rule_set: RuleSet,
    firings: &[Firing],
    (start, end, length): (u32, u32, u32),
    healthy: bool,
    budget_spent: f64,
) -> Outcome {
    let find = |severity: &str| {
        firings
            .iter()
            .find(|f| f.rule_set.as_deref() == rule_set.label() && f.severity == severity)
    };
    let minutes = |seconds: f64| seconds / 60.0;
    let page = find("page");
    let ticket = find("ticket");
    let page_open = page.is_some_and(|p| minutes(p.last) >= f64::from(length));
    let page_clears = page
        .filter(|_| !page_open)
        .map(|p| minutes(p.last) + 1.0 - f64::from(end));
    let count = |f: Option<&Firing>| f.map_or(0, |f| f.starts.round().max(1.0) as u32);
    Outcome {
        rule_set,
        pages: count(page),
        first_page: page.map(|p| minutes(p.first) - f64::from(start)),
        page_clears,
        page_open,
        tickets: count(ticket),
        first_ticket: ticket.map(|t| minutes(t.first) - f64::from(start)),
        verdict: verdict(healthy, budget_spent, page.is_some(), ticket.is_some()),
    }
}

/// Minutes as the table shows them: `46m`, `13.2h`, `2.1d`.
fn duration(minutes: f64) -> String {
    let sign = if minutes < 0.0 { "-" } else { "" };
    let m = minutes.abs();
    if m < 120.0 {
        format!("{sign}{}m", m.round())
    } else if m < 48.0 * 60.0 {
        format!("{sign}{:.1}h", m / 60.0)
    } else {
        format!("{sign}{:.1}d", m / 1440.0)
    }
}

/// A share of the budget: `2.3%`, `69%`, `0.23%`.
fn share(ratio: f64) -> String {
    let percent = ratio * 100.0;
    // Thresholds on the rounded value: 0.99999 reads 1.0%, not 1.00%.
    if percent >= 9.95 {
        format!("{percent:.0}%")
    } else if percent >= 0.995 {
        format!("{percent:.1}%")
    } else {
        format!("{percent:.2}%")
    }
}

/// One cell: `page 46m, ticket 13h, clears 4m` and the verdict if not ok.
fn cell(outcome: &Outcome) -> String {
    let mut parts = Vec::new();
    if let Some(first) = outcome.first_page {
        let times = if outcome.pages > 1 {
            format!(" (x{})", outcome.pages)
        } else {
            String::new()
        };
        parts.push(format!("page {}{times}", duration(first)));
    }
    if let Some(first) = outcome.first_ticket {
        parts.push(format!("ticket {}", duration(first)));
    }
    if let Some(clears) = outcome.page_clears {
        parts.push(format!("clears {}", duration(clears)));
    } else if outcome.page_open {
        parts.push("still paging".to_string());
    }
    let mut text = if parts.is_empty() {
        "quiet".to_string()
    } else {
        parts.join(", ")
    };
    if outcome.verdict != Verdict::Ok {
        let _ = write!(text, " [{}]", outcome.verdict.name().to_uppercase());
    }
    text
}

impl ScenarioResult {
    fn outcome(&self, rule_set: RuleSet) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.rule_set == rule_set)
    }
}

impl QualityReport {
    /// The properties the generated rules must hold, each broken one in
    /// words: no page on a healthy case; the outage paged within 5
    /// minutes; every steady burn alerted by its deadline (see the module
    /// docs). Empty: they hold.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for slo in &self.slos {
            for result in &slo.scenarios {
                let Some(generated) = result.outcome(RuleSet::Generated) else {
                    continue;
                };
                let at = format!("{} {}", slo.name, result.name);
                if result.healthy && generated.pages > 0 {
                    out.push(format!("{at}: a page on a healthy case"));
                }
                if let Some(deadline) = &result.deadline {
                    let first = if deadline.severity == "page" {
                        generated.first_page
                    } else {
                        [generated.first_page, generated.first_ticket]
                            .into_iter()
                            .flatten()
                            .reduce(f64::min)
                    };
                    match first {
                        Some(first) if first <= deadline.minutes => {}
                        Some(first) => out.push(format!(
                            "{at}: first {} after {}, later than {} ({})",
                            deadline.severity,
                            duration(first),
                            duration(deadline.minutes),
                            deadline.reason
                        )),
                        None => out.push(format!(
                            "{at}: no {} at all; expected one within {} ({})",
                            deadline.severity,
                            duration(deadline.minutes),
                            deadline.reason
                        )),
                    }
                }
            }
        }
        out
    }

    /// The generated rules hold every property.
    pub fn holds(&self) -> bool {
        self.failures().is_empty()
    }

    /// The table: per SLO, one row per scenario, one column per rule set;
    /// then per rule set the false pages, noisy pages and missed
    /// incidents, and the properties.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Alert quality of {}'s SLOs: {} scenarios through {} in {:.0} s.",
            self.service,
            self.slos.iter().map(|s| s.scenarios.len()).sum::<usize>(),
            self.promtool,
            self.seconds
        );
        out.push_str("Times from the incident's start (page, ticket) and end (clears); `for:` included. budget: the share of the SLO's error budget the incident spent.\n");
        let width = 44;
        for slo in &self.slos {
            let _ = writeln!(out, "\n{} ({})", slo.name, slo.kind);
            let _ = write!(out, "{:<20} {:>7}", "scenario", "budget");
            for rule_set in RuleSet::ALL {
                let _ = write!(out, "  {:<width$}", rule_set.name());
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            for result in &slo.scenarios {
                let budget = if result.healthy {
                    "-".to_string()
                } else {
                    share(result.budget_spent)
                };
                let _ = write!(out, "{:<20} {budget:>7}", result.name);
                for rule_set in RuleSet::ALL {
                    let text = result.outcome(rule_set).map(cell).unwrap_or_default();
                    let _ = write!(out, "  {text:<width$}");
                }
                out.truncate(out.trim_end().len());
                out.push('\n');
            }
        }
        out.push('\n');
        for rule_set in RuleSet::ALL {
            let count = |verdict: fn(Verdict) -> bool| {
                self.slos
                    .iter()
                    .flat_map(|s| &s.scenarios)
                    .filter_map(|r| r.outcome(rule_set))
                    .filter(|o| verdict(o.verdict))
                    .count()
            };
            let _ = writeln!(
                out,
                "{:<14} false pages {}, noisy pages {}, missed incidents {}",
                rule_set.name(),
                count(|v| v == Verdict::FalsePage),
                count(|v| v == Verdict::NoisyPage),
                count(Verdict::is_missed),
            );
        }
        let failures = self.failures();
        if failures.is_empty() {
            out.push_str("\nThe generated rules hold: no page on a healthy case, the outage paged within 5m, every burn alerted by its deadline.\n");
        } else {
            out.push_str("\nThe generated rules do NOT hold:\n");
            for failure in failures {
                let _ = writeln!(out, "  - {failure}");
            }
        }
        out
    }

    /// The same as JSON: per SLO and scenario, each rule set's pages,
    /// tickets, times (minutes) and verdict; the properties.
    pub fn to_json(&self) -> Value {
        let slos: Vec<Value> = self.slos.iter().map(SloQuality::to_json).collect();
        json!({
            "service": self.service,
            "promtool": self.promtool,
            "seconds": self.seconds,
            "slos": slos,
            "holds": self.holds(),
            "failures": self.failures(),
        })
    }
}

impl SloQuality {
    fn to_json(&self) -> Value {
        let scenarios: Vec<Value> = self
            .scenarios
            .iter()
            .map(|result| {
                let mut rule_sets = serde_json::Map::new();
                for o in &result.outcomes {
                    rule_sets.insert(
                        o.rule_set.name().to_string(),
                        json!({
                            "pages": o.pages,
                            "first_page_minutes": o.first_page,
                            "page_clears_minutes": o.page_clears,
                            "page_open": o.page_open,
                            "tickets": o.tickets,
                            "first_ticket_minutes": o.first_ticket,
                            "verdict": o.verdict.name(),
                        }),
                    );
                }
                json!({
                    "name": result.name,
                    "description": result.description,
                    "healthy": result.healthy,
                    "budget_spent": result.budget_spent,
                    "deadline": result.deadline.as_ref().map(|d| json!({
                        "severity": d.severity,
                        "minutes": d.minutes,
                        "reason": d.reason,
                    })),
                    "rule_sets": rule_sets,
                })
            })
            .collect();
        json!({"name": self.name, "kind": self.kind, "scenarios": scenarios})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration(3.0), "3m");
        assert_eq!(duration(-2.0), "-2m");
        assert_eq!(duration(792.0), "13.2h");
        assert_eq!(duration(2766.0), "46.1h");
        assert_eq!(duration(4320.0), "3.0d");
        assert_eq!(share(0.694), "69%");
        assert_eq!(share(1.0 / 43.2), "2.3%");
        assert_eq!(share(0.002314), "0.23%");
        assert_eq!(share(0.0099999), "1.0%");
    }

    fn quiet(rule_set: RuleSet) -> Outcome {
        Outcome {
            rule_set,
            pages: 0,
            first_page: None,
            page_clears: None,
            page_open: false,
            tickets: 0,
            first_ticket: None,
            verdict: Verdict::Ok,
        }
    }

    fn report(outage_page: Option<f64>, healthy_pages: u32, ticket: Option<f64>) -> QualityReport {
        let generated = |first_page: Option<f64>, pages: u32, first_ticket: Option<f64>| Outcome {
            pages,
            first_page,
            first_ticket,
            tickets: u32::from(first_ticket.is_some()),
            ..quiet(RuleSet::Generated)
        };
        let result = |name: &str, healthy, deadline, generated| ScenarioResult {
            name: name.to_string(),
            description: String::new(),
            healthy,
            budget_spent: 0.1,
            deadline,
            outcomes: vec![
                generated,
                quiet(RuleSet::Naive),
                quiet(RuleSet::SingleWindow),
            ],
        };
        QualityReport {
            service: "shop".into(),
            promtool: "promtool 2.42.0".into(),
            seconds: 1.0,
            slos: vec![SloQuality {
                name: "a".into(),
                kind: "availability 99.9%".into(),
                scenarios: vec![
                    result(
                        "healthy-0.01%",
                        true,
                        None,
                        generated(Some(5.0).filter(|_| healthy_pages > 0), healthy_pages, None),
                    ),
                    result(
                        "outage",
                        false,
                        Some(super::super::Deadline {
                            severity: "page",
                            minutes: 5.0,
                            reason: "r".into(),
                        }),
                        generated(outage_page, u32::from(outage_page.is_some()), None),
                    ),
                    result(
                        "burn-1.5x",
                        false,
                        Some(super::super::Deadline {
                            severity: "ticket",
                            minutes: 3240.0,
                            reason: "r".into(),
                        }),
                        generated(None, 0, ticket),
                    ),
                ],
            }],
        }
    }

    #[test]
    fn the_properties_fail_on_a_false_page_a_late_page_or_no_ticket() {
        let good = report(Some(3.0), 0, Some(2778.0));
        assert!(good.holds(), "{:?}", good.failures());
        assert!(
            good.table().contains("The generated rules hold"),
            "{}",
            good.table()
        );
        assert_eq!(good.to_json()["holds"], true);
        let bad = report(Some(6.0), 1, None);
        assert_eq!(
            bad.failures(),
            [
                "a healthy-0.01%: a page on a healthy case",
                "a outage: first page after 6m, later than 5m (r)",
                "a burn-1.5x: no ticket at all; expected one within 2.2d (r)",
            ]
        );
        let json = bad.to_json();
        assert_eq!(json["holds"], false);
        let outage = &json["slos"][0]["scenarios"][1];
        assert_eq!(outage["rule_sets"]["generated"]["first_page_minutes"], 6.0);
        assert_eq!(outage["rule_sets"]["naive"]["verdict"], "ok");
        assert_eq!(outage["deadline"]["minutes"], 5.0);
        let table = bad.table();
        assert!(
            table.contains("The generated rules do NOT hold:\n  - a healthy-0.01%"),
            "{table}"
        );
        assert!(table.contains("\noutage "), "{table}");
    }

    #[test]
    fn outcomes_count_from_the_incident() {
        let firings = [
            Firing {
                rule_set: None,
                severity: "page".into(),
                first: 60.0 * 4366.0,
                last: 60.0 * 4383.0,
                starts: 1.0,
            },
            Firing {
                rule_set: Some("naive".into()),
                severity: "page".into(),
                first: 60.0 * 4328.0,
                last: 60.0 * 4500.0,
                starts: 2.0,
            },
        ];
        let generated = outcome(
            RuleSet::Generated,
            &firings,
            (4320, 4380, 4500),
            false,
            0.05,
        );
        assert_eq!(generated.first_page, Some(46.0));
        assert_eq!(generated.page_clears, Some(4.0));
        assert_eq!(generated.verdict, Verdict::Ok);
        let naive = outcome(RuleSet::Naive, &firings, (4320, 4380, 4500), false, 0.05);
        assert_eq!(
            (naive.pages, naive.page_open, naive.page_clears),
            (2, true, None)
        );
        let single = outcome(
            RuleSet::SingleWindow,
            &firings,
            (4320, 4380, 4500),
            false,
            0.05,
        );
        assert_eq!(single.verdict, Verdict::MissedPage);
        assert_eq!(cell(&single), "quiet [MISSED PAGE]");
    }
}
