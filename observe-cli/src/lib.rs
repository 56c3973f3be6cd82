//! The `observe` command line: what Prometheus, Grafana and a deploy
//! pipeline need from a service's SLOs ([`observe_slo::Slos`]), taken from a
//! file or from the running service itself.
//!
//! ```sh
//! observe rules     --slos slos.yaml > rules.yml          # Prometheus rule_files
//! observe dashboard --from http://127.0.0.1:9464 > dashboard.json
//! observe judge     --slos slos.yaml --prometheus http://prometheus:9090 \
//!                   --baseline 1.4.2 --canary 1.5.0      # exit 0 continue, 1 roll back, 3 wait
//! observe analysis  --slos slos.yaml --for argo          # Argo Rollouts AnalysisTemplate
//! observe slos      --from http://127.0.0.1:9464 --openslo
//! observe alert-quality --slos slos.yaml [--json]        # exit 0 when the generated alerts hold
//! ```
//!
//! | command | prints | exit |
//! |---|---|---|
//! | `rules` | the Prometheus rule file (YAML): recording rules, burn-rate alerts | 0 |
//! | `dashboard` | the Grafana dashboard (JSON model) | 0 |
//! | `judge` | the canary judge's verdict: one JSON object; a summary on stderr | 0 continue, 1 roll back, 3 wait |
//! | `analysis --for argo\|flagger` | the rollout tool's templates, whose queries give the judge's verdict | 0 |
//! | `slos [--yaml\|--openslo]` | the SLOs: observe's JSON form, YAML, or OpenSLO v1 | 0 |
//! | `alert-quality [--json]` | an incident corpus replayed through promtool: pages, tickets, times, false pages and missed incidents of the generated rules beside a naive threshold and single-window burn rates ([`observe_slo::quality`]) | 0 the generated rules hold, 1 not (each broken property on stderr), 2 usage error or no promtool |
//!
//! Every command reads the SLOs from `--slos FILE` (observe's JSON or YAML
//! form, by extension or content; `observe slos` writes it; `-` for standard
//! input) or `--from URL`
//! (a running service's admin listener, which serves them at
//! `/observe/api/slos` once the service passed them to
//! `AdminConfig::slos`). Bad input, an unreadable source or an unreachable
//! Prometheus exits [`EXIT_USAGE`] (2) with a message that names the flag,
//! the file or URL, and the field.
//!
//! # In the service's own binary
//!
//! A service can carry the same commands, with its SLOs built in code, so
//! that `shop judge ...` needs no file:
//!
//! ```no_run
//! use observe_slo::{Slo, Slos};
//!
//! fn slos() -> Slos {
//!     Slos::new("shop").with(Slo::availability("shop-availability", 0.999))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     // `shop rules`, `shop judge ...`: the deploy tools. No argument: serve.
//!     if std::env::args_os().len() > 1 {
//!         return observe_cli::run(&slos());
//!     }
//!     // ... build Observe, and the admin listener with
//!     // AdminConfig::slos(slos().to_json()), then serve ...
//!     std::process::ExitCode::SUCCESS
//! }
//! ```
//!
//! [`run_from`] takes the arguments instead of the process's, for tests:
//!
//! ```
//! use observe_slo::{Slo, Slos};
//!
//! let slos = Slos::new("shop").with(Slo::availability("shop-availability", 0.999));
//! let code = observe_cli::run_from(["shop", "slos", "--yaml"], &slos); // prints the YAML
//! assert_eq!(code, std::process::ExitCode::SUCCESS);
//! ```
//!
//! A service with a clap command line of its own can embed [`Command`] as a
//! subcommand and call [`Command::run`].

mod judge;
mod source;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use observe_slo::quality::AlertQuality;
use observe_slo::{DEFAULT_CONFIDENCE, DEFAULT_MIN_REQUESTS, DEFAULT_TOLERANCE, Slos};

pub use source::{LoadError, fetch_slos, read_slos};

/// The exit code of `judge`'s `continue` verdict, and of every other
/// command that succeeded.
pub const EXIT_CONTINUE: u8 = 0;
/// The exit code of `judge`'s `rollback` verdict.
pub const EXIT_ROLLBACK: u8 = 1;
/// The exit code of `alert-quality` when the generated rules do not hold
/// its properties.
pub const EXIT_FAILED: u8 = 1;
/// The exit code of a usage error, an unreadable SLO file or service, or
/// an unreachable Prometheus.
pub const EXIT_USAGE: u8 = 2;
/// The exit code of `judge`'s `wait` verdict: too little data yet.
pub const EXIT_WAIT: u8 = 3;

/// The whole command line: where the SLOs come from, and the command.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "observe",
    version,
    about = "Prometheus rules, the Grafana dashboard, the canary judge and rollout templates from a service's SLOs",
    long_about = None,
    after_help = "The SLOs come from --slos FILE (observe's JSON or YAML form, as `observe slos` writes it) or --from URL (a running service's admin listener)."
)]
pub struct Cli {
    /// Where the SLOs come from.
    #[command(flatten)]
    pub source: Source,
    /// What to print.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the SLOs come from: a file, or a running service.
#[derive(Debug, Clone, Default, Args)]
pub struct Source {
    /// A file with the SLOs in observe's JSON or YAML form.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "from",
        display_order = 900,
        help = "A file with the SLOs: observe's JSON or YAML form (by extension, else by content)"
    )]
    pub slos: Option<PathBuf>,
    /// A running service's admin listener, e.g. `http://127.0.0.1:9464`,
    /// which serves its SLOs at `/observe/api/slos`.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        display_order = 901,
        help = "A running service's admin listener, e.g. http://127.0.0.1:9464: its SLOs from GET URL/observe/api/slos"
    )]
    pub from: Option<String>,
}

/// One command.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print the Prometheus rules (YAML for rule_files): error ratios, burn-rate alerts, canary and log alerts
    Rules,
    /// Print the Grafana dashboard (JSON model, import as is)
    Dashboard,
    /// Judge a canary (or a change) from Prometheus; exit 0 continue, 1 roll back, 3 wait, 2 error
    Judge(JudgeArgs),
    /// Print Argo Rollouts' or Flagger's templates, whose queries give the judge's verdict
    Analysis(AnalysisArgs),
    /// Print the SLOs: observe's JSON form, --yaml, or --openslo (OpenSLO v1)
    Slos(SlosArgs),
    /// Replay an incident corpus through promtool: pages, tickets and times of the generated rules beside naive and single-window ones; exit 0 when the generated rules hold, 1 when not
    AlertQuality(AlertQualityArgs),
    /// Print a store's schema for the request events: `schema clickhouse [--table T] [--cluster C]` (needs no SLOs)
    Schema(SchemaArgs),
}

/// `alert-quality`: the incident corpus through promtool.
#[derive(Debug, Clone, Args)]
pub struct AlertQualityArgs {
    /// One JSON object instead of the table
    #[arg(long)]
    pub json: bool,
    /// The promtool binary [default: promtool on PATH]
    #[arg(long, value_name = "PATH")]
    pub promtool: Option<PathBuf>,
    /// How many promtool processes run at once
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

/// `schema`: the DDL of a request-event store.
#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// The store: `clickhouse`.
    pub store: SchemaStore,
    /// The table (`OBSERVE_CLICKHOUSE_TABLE`'s default otherwise).
    #[arg(long, default_value = observe_core::clickhouse::DEFAULT_TABLE)]
    pub table: String,
    /// A cluster (from the servers' `remote_servers`): adds a
    /// `Distributed` table `{table}_all` over it; run both statements on
    /// every server.
    #[arg(long)]
    pub cluster: Option<String>,
}

/// The stores `schema` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaStore {
    /// ClickHouse: a `MergeTree` table (and a `Distributed` one with `--cluster`).
    Clickhouse,
}

/// `judge`: two sides told apart by a `target_info` label, or the window
/// after a change against the one before it.
#[derive(Debug, Clone, Args)]
#[command(group(
    ArgGroup::new("compare")
        .args(["baseline", "canary", "after", "flag"])
        .multiple(true)
        .required(true)
))]
pub struct JudgeArgs {
    /// A Prometheus-compatible query API (Prometheus, Thanos, Mimir,
    /// VictoriaMetrics), e.g. `http://127.0.0.1:9090`.
    #[arg(
        long,
        value_name = "URL",
        help = "A Prometheus-compatible query API (Prometheus, Thanos, Mimir, VictoriaMetrics), e.g. http://127.0.0.1:9090"
    )]
    pub prometheus: String,
    /// The baseline's value of --label, e.g. 1.4.2
    #[arg(long, value_name = "VALUE", requires = "canary")]
    pub baseline: Option<String>,
    /// The canary's value of --label, e.g. 1.5.0
    #[arg(long, value_name = "VALUE", requires = "baseline")]
    pub canary: Option<String>,
    /// The target_info label that tells the sides apart [default: service_version]
    #[arg(long, value_name = "LABEL", value_parser = label, conflicts_with_all = ["after", "flag"])]
    pub label: Option<String>,
    /// Judge the window after this time (RFC 3339, e.g. 2026-12-01T09:30:00Z) against the one before it
    #[arg(long, value_name = "TIME", value_parser = rfc3339, conflicts_with_all = ["baseline", "canary", "flag"])]
    pub after: Option<f64>,
    /// Judge the window after this StateSet's (feature flag's) last change against the one before it
    #[arg(long, value_name = "NAME", conflicts_with_all = ["baseline", "canary"])]
    pub flag: Option<String>,
    /// How far back --flag looks for the change [default: 1d]
    #[arg(long, value_name = "DURATION", value_parser = duration, conflicts_with_all = ["baseline", "canary", "after"])]
    pub lookback: Option<String>,
    /// The statistics' settings.
    #[command(flatten)]
    pub settings: JudgeSettings,
}

/// The judge's settings, shared by `judge` and `analysis`.
#[derive(Debug, Clone, Args)]
pub struct JudgeSettings {
    /// The window judged: a Prometheus duration
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "10m")]
    pub window: String,
    /// Fewer requests than this on either side is a wait
    #[arg(long, value_name = "N", value_parser = min_requests, default_value_t = DEFAULT_MIN_REQUESTS, allow_negative_numbers = true)]
    pub min_requests: u64,
    /// How sure "worse" must be, between 0.5 and 1
    #[arg(long, value_name = "C", value_parser = confidence, default_value_t = DEFAULT_CONFIDENCE, allow_negative_numbers = true)]
    pub confidence: f64,
    /// How much worse is tolerated, as a share of the error budget
    #[arg(long, value_name = "T", value_parser = tolerance, default_value_t = DEFAULT_TOLERANCE, allow_negative_numbers = true)]
    pub tolerance: f64,
}

/// `analysis`: the rollout tool's templates.
#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    /// The rollout tool
    #[arg(long = "for", value_name = "TOOL")]
    pub tool: Tool,
    /// The target_info label that tells the sides apart
    #[arg(long, value_name = "LABEL", value_parser = label, default_value = "service_version")]
    pub label: String,
    /// The Prometheus address the templates name
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// The statistics' settings.
    #[command(flatten)]
    pub settings: JudgeSettings,
}

/// A rollout tool `analysis` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tool {
    /// Argo Rollouts: one `AnalysisTemplate`.
    Argo,
    /// Flagger: one `MetricTemplate` per SLO.
    Flagger,
}

/// `slos`: the SLOs themselves.
#[derive(Debug, Clone, Args)]
pub struct SlosArgs {
    /// observe's form in YAML rather than JSON
    #[arg(long, conflicts_with = "openslo")]
    pub yaml: bool,
    /// OpenSLO v1 YAML: a Service, and one SLO per objective
    #[arg(long)]
    pub openslo: bool,
}

/// Runs the command in the process's arguments on `slos`, the service's
/// own (unless `--slos` or `--from` names others): for a service binary
/// that carries the commands (`shop judge ...`). Messages name the binary.
/// Call it only when there are arguments; a service serves without any.
pub fn run(slos: &Slos) -> ExitCode {
    run_from(std::env::args_os(), slos)
}

/// [`run`] with the arguments given, the first being the program's name.
pub fn run_from<I, T>(args: I, slos: &Slos) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    execute(args.into_iter().map(Into::into).collect(), Some(slos))
}

/// The `observe` binary: the command in the process's arguments, on the
/// SLOs of `--slos FILE` or `--from URL`.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// [`main`] with the arguments given, the first being the program's name.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    execute(args.into_iter().map(Into::into).collect(), None)
}

fn execute(args: Vec<OsString>, own: Option<&Slos>) -> ExitCode {
    // A service's binary names itself in usage and messages.
    let program = match own {
        Some(_) => args
            .first()
            .map(PathBuf::from)
            .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "observe".to_string()),
        None => "observe".to_string(),
    };
    let mut command = Cli::command().bin_name(program.clone());
    if own.is_some() {
        command = command
            .disable_version_flag(true)
            .after_help(format!(
                "Without --slos or --from, the SLOs are {program}'s own. Without a command, {program} serves."
            ));
    }
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version on stdout with 0; usage errors on stderr with 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE));
        }
    };
    if let Command::Schema(args) = &cli.command {
        let valid = |name: &str| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !valid(&args.table) || args.cluster.as_deref().is_some_and(|c| !valid(c)) {
            eprintln!(
                "{program} schema: --table and --cluster take names of letters, digits, _ and ."
            );
            return ExitCode::from(EXIT_USAGE);
        }
        print_out(&observe_core::clickhouse::ddl(
            &args.table,
            args.cluster.as_deref(),
        ));
        return ExitCode::from(EXIT_CONTINUE);
    }
    let slos = match cli.source.load() {
        Ok(Some(slos)) => slos,
        Ok(None) => match own {
            Some(slos) => slos.clone(),
            None => {
                eprintln!(
                    "{program} {}: no SLOs: expected --slos FILE (observe's JSON or YAML form) or --from URL (a running service's admin listener, e.g. http://127.0.0.1:9464)",
                    cli.command.name()
                );
                return ExitCode::from(EXIT_USAGE);
            }
        },
        Err(error) => {
            eprintln!("{program} {}: {error}", cli.command.name());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    cli.command.run(&program, &slos)
}

impl Source {
    /// The SLOs of `--slos` or `--from`; `None` when neither was given.
    pub fn load(&self) -> Result<Option<Slos>, LoadError> {
        match (&self.slos, &self.from) {
            (Some(path), _) => read_slos(path).map(Some),
            (None, Some(url)) => fetch_slos(url, source::FETCH_TIMEOUT).map(Some),
            (None, None) => Ok(None),
        }
    }
}

impl Command {
    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Rules => "rules",
            Command::Dashboard => "dashboard",
            Command::Judge(_) => "judge",
            Command::Analysis(_) => "analysis",
            Command::Slos(_) => "slos",
            Command::Schema(_) => "schema",
            Command::AlertQuality(_) => "alert-quality",
        }
    }

    /// Runs the command on `slos`; `program` names the binary in messages.
    /// The exit code: [`EXIT_CONTINUE`] (0) on success, `judge`'s verdict,
    /// or [`EXIT_USAGE`] (2) with a message on stderr.
    pub fn run(&self, program: &str, slos: &Slos) -> ExitCode {
        let printed = match self {
            Command::Rules => slos.prometheus_rules().map_err(|e| e.to_string()),
            Command::Dashboard => serde_json::to_string_pretty(&slos.grafana_dashboard())
                .map(|text| text + "\n")
                .map_err(|e| e.to_string()),
            Command::Judge(args) => return ExitCode::from(judge::judge(program, slos, args)),
            Command::AlertQuality(args) => {
                return ExitCode::from(alert_quality(program, slos, args));
            }
            Command::Analysis(args) => judge::analysis(slos, args),
            Command::Slos(args) if args.openslo => slos.openslo_yaml().map_err(|e| e.to_string()),
            Command::Slos(args) if args.yaml => Ok(slos.to_yaml()),
            Command::Slos(_) => serde_json::to_string_pretty(&slos.to_json())
                .map(|text| text + "\n")
                .map_err(|e| e.to_string()),
            Command::Schema(args) => Ok(observe_core::clickhouse::ddl(
                &args.table,
                args.cluster.as_deref(),
            )),
        };
        match printed {
            Ok(text) => {
                print_out(&text);
                ExitCode::from(EXIT_CONTINUE)
            }
            Err(message) => {
                eprintln!("{program} {}: {message}", self.name());
                ExitCode::from(EXIT_USAGE)
            }
        }
    }
}

/// `alert-quality`: the table (or JSON) on stdout; 0 when the generated
/// rules hold, 1 when not (the broken properties on stderr), 2 when the
/// corpus could not be replayed.
fn alert_quality(program: &str, slos: &Slos, args: &AlertQualityArgs) -> u8 {
    let mut quality = AlertQuality::new().jobs(usize::from(args.jobs));
    if let Some(path) = &args.promtool {
        quality = quality.promtool(path);
    }
    let report = match quality.measure(slos) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("{program} alert-quality: {error}");
            return EXIT_USAGE;
        }
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        print_out(&(text + "\n"));
    } else {
        print_out(&report.table());
    }
    let failures = report.failures();
    if failures.is_empty() {
        EXIT_CONTINUE
    } else {
        for failure in failures {
            eprintln!("{program} alert-quality: {failure}");
        }
        EXIT_FAILED
    }
}

/// Writes `text` to stdout; a closed pipe (`observe rules | head`) is not
/// an error worth a panic.
fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// `--label`: a `target_info` label name.
fn label(text: &str) -> Result<String, String> {
    if observe_core::labels::is_valid_label_name(text) {
        Ok(text.to_string())
    } else {
        Err("expected a target_info label name such as service_version or deployment_track (dots become underscores)".to_string())
    }
}

/// `--window`, `--lookback`: a Prometheus duration.
fn duration(text: &str) -> Result<String, String> {
    if observe_slo::is_duration(text) {
        Ok(text.to_string())
    } else {
        Err("expected a Prometheus duration such as 10m, 1h or 90s".to_string())
    }
}

/// `--after`: an RFC 3339 time, as Unix seconds.
fn rfc3339(text: &str) -> Result<f64, String> {
    observe_core::time::parse_rfc3339(text)
        .ok_or_else(|| "expected an RFC 3339 time such as 2026-12-01T09:30:00Z".to_string())
}

/// `--min-requests`: a whole number of at least 1.
fn min_requests(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| "expected a whole number of at least 1, e.g. 1000".to_string())
}

/// `--confidence`: strictly between 0.5 and 1.
fn confidence(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|c| *c > 0.5 && *c < 1.0)
        .ok_or_else(|| "expected a number between 0.5 and 1, e.g. 0.995".to_string())
}

/// `--tolerance`: a share of the error budget, 0 or more.
fn tolerance(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|t| *t >= 0.0 && t.is_finite())
        .ok_or_else(|| "expected a share of the error budget of 0 or more, e.g. 0.1".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_from(std::iter::once("observe").chain(args.iter().copied()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn slos_come_from_a_file_or_a_service_not_both() {
        let cli = parse(&["rules", "--slos", "slos.yaml"]).expect("valid");
        assert_eq!(cli.source.slos, Some(PathBuf::from("slos.yaml")));
        let cli = parse(&["--from", "http://127.0.0.1:9464", "dashboard"]).expect("valid");
        assert_eq!(cli.source.from.as_deref(), Some("http://127.0.0.1:9464"));
        let err = parse(&["rules", "--slos", "a.json", "--from", "http://x"]).expect_err("both");
        assert!(err.contains("cannot be used with"), "{err}");
    }

    #[test]
    fn judge_compares_sides_or_a_change() {
        let cli = parse(&[
            "judge",
            "--prometheus",
            "http://p:9090",
            "--baseline",
            "1.4.2",
            "--canary",
            "1.5.0",
        ])
        .expect("valid");
        let Command::Judge(args) = cli.command else {
            panic!("judge")
        };
        assert_eq!(args.settings.window, "10m");
        assert_eq!(args.settings.min_requests, DEFAULT_MIN_REQUESTS);
        let refused = [
            (&["--baseline", "1"][..], "--canary <VALUE>"),
            (
                &[][..],
                "<--baseline <VALUE>|--canary <VALUE>|--after <TIME>|--flag <NAME>>",
            ),
            (
                &["--after", "yesterday"][..],
                "invalid value 'yesterday' for '--after <TIME>': expected an RFC 3339 time",
            ),
            (
                &["--flag", "f", "--after", "2026-01-01T00:00:00Z"][..],
                "cannot be used with",
            ),
            (&["--flag", "f", "--label", "x"][..], "cannot be used with"),
            (
                &["--after", "2026-01-01T00:00:00Z", "--lookback", "1h"][..],
                "cannot be used with",
            ),
            (
                &["--flag", "f", "--window", "ten"][..],
                "invalid value 'ten' for '--window <DURATION>': expected a Prometheus duration",
            ),
            (
                &["--flag", "f", "--confidence", "0.2"][..],
                "expected a number between 0.5 and 1",
            ),
            (
                &["--flag", "f", "--min-requests", "0"][..],
                "expected a whole number of at least 1",
            ),
            (
                &["--flag", "f", "--tolerance", "-1"][..],
                "expected a share of the error budget",
            ),
            (
                &["--flag", "f", "--window", "1m", "--window", "2m"][..],
                "cannot be used multiple times",
            ),
        ];
        for (extra, expected) in refused {
            let mut args = vec!["judge", "--prometheus", "http://p:9090"];
            args.extend_from_slice(extra);
            let err = parse(&args).expect_err("refused");
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn analysis_names_its_tool() {
        let cli = parse(&["analysis", "--for", "flagger", "--window", "5m"]).expect("valid");
        let Command::Analysis(args) = cli.command else {
            panic!("analysis")
        };
        assert_eq!(args.tool, Tool::Flagger);
        assert_eq!(args.label, "service_version");
        let err = parse(&["analysis", "--for", "spinnaker"]).expect_err("unknown tool");
        assert!(err.contains("[possible values: argo, flagger]"), "{err}");
    }
}
