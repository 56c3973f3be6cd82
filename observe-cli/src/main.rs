//! `observe`: Prometheus rules, the Grafana dashboard, the canary judge,
//! rollout templates and the SLO documents, from `--slos FILE` or `--from
//! URL`. See the observe-cli crate docs.

fn main() -> std::process::ExitCode {
    observe_cli::main()
}
