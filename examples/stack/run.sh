#!/usr/bin/env bash
# The axum example and a real Prometheus with the example's generated rules,
# scraping it on loopback, and Alertmanager routing the alerts by severity
# (examples/stack/alertmanager.yml: `page` and `ticket` webhooks on
# 127.0.0.1:9099): `examples/stack/run.sh`, then open http://127.0.0.1:9090
# (alerts under /alerts, rules under /rules) and http://127.0.0.1:9093.
#
#   APP_PORT=3000 PROMETHEUS_PORT=9090 ALERTMANAGER_PORT=9093 examples/stack/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

APP_PORT=${APP_PORT:-3000}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-9093}

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
cargo build --locked -q -p observe-examples --bin axum-service
service=target/debug/axum-service

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
"$service" rules >"$work/rules.yml"
"$service" dashboard >"$work/dashboard.json"
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:${ALERTMANAGER_PORT}"]
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: ["127.0.0.1:${APP_PORT}"]
YAML

LISTEN_ADDR="127.0.0.1:${APP_PORT}" "$service" >"$work/service.log" &
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:${PROMETHEUS_PORT}" >"$work/prometheus.log" 2>&1 &
# One instance: no gossip port.
prometheus-alertmanager --config.file=examples/stack/alertmanager.yml \
    --storage.path="$work/alertmanager" --web.listen-address="127.0.0.1:${ALERTMANAGER_PORT}" \
    --cluster.listen-address= >"$work/alertmanager.log" 2>&1 &

echo "service:    http://127.0.0.1:${APP_PORT}  (logs: $work/service.log)"
echo "prometheus: http://127.0.0.1:${PROMETHEUS_PORT}  (rules: $work/rules.yml)"
echo "alertmanager: http://127.0.0.1:${ALERTMANAGER_PORT}  (page and ticket webhooks: examples/stack/alertmanager.yml)"
echo "dashboard:  $work/dashboard.json (import it in Grafana)"
echo "Ctrl-C stops them all."
wait
