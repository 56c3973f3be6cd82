#!/usr/bin/env bash
# CPU cost per request as instructions, counted by valgrind's callgrind: the
# same count for the same binary and input whatever the machine is doing,
# unlike wall-clock or CPU time on a shared 2-core VM. Each variant of
# bench-server runs under callgrind; after a warm-up the counters are zeroed,
# REQUESTS keep-alive requests are sent, and the dump's total is divided by
# REQUESTS.
#
#   bench/instructions.sh                       # all variants, 5000 requests
#   REQUESTS=20000 VARIANTS="axum:bare axum:metrics" bench/instructions.sh
#   PEERS=1 bench/instructions.sh               # and the peers (bench/peers), same run
#   KEEP=/tmp/prof bench/instructions.sh        # keep the dumps for callgrind_annotate
#                                               # (names uncompressed: the kept dump is
#                                               # the last part, readable on its own)
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-5000}
VARIANTS=${VARIANTS:-"axum:bare axum:noop axum:metrics axum:logged axum:full axum:traced actix:bare actix:metrics actix:logged actix:full actix:traced"}
PORT=${PORT:-18081}

if ! command -v valgrind >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
fi
# The sinks and the profiler are compiled in only for the variants that
# use them, so the other variants measure the build the gate's baseline is.
features=()
case " $VARIANTS " in *otlp-*|*:clickhouse*) features+=(sinks) ;; esac
case " $VARIANTS " in *:profiled*) features+=(profiling) ;; esac
cargo build --release --locked -q -p observe-bench --features "$(IFS=,; echo "${features[*]}")"
server=${CARGO_TARGET_DIR:-target}/release/bench-server
# The peers: PEERS=1, `peer:` variants, peer_server, base_of.
source bench/peers.sh
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT

load() { # $1 = number of requests, over one keep-alive connection
    python3 - "$PORT" "$1" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    conn.request("GET", f"/users/{i % 1000}")
    r = conn.getresponse()
    r.read()
    assert r.status == 200, r.status
PY
}

printf '%-24s%16s%10s\n' variant 'instr/request' ratio
declare -A bare
for variant in $VARIANTS; do
    framework=${variant%%:*}
    mode=${variant##*:}
    out="$work/$framework-$mode"
    extra=()
    if [ "$mode" = otlp-logs ] || [ "$mode" = otlp-metrics ] || [ "$mode" = clickhouse ]; then
        # OTLP logs, the metrics push or ClickHouse inserts, to an HTTP
        # endpoint that takes every POST (the receiver's own work is not
        # the service's).
        collector_port=$((PORT + 1))
        python3 - "$collector_port" <<'PY' &
import http.server, sys
class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Collector).serve_forever()
PY
        collector=$!
        extra=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$collector_port")
        if [ "$mode" = clickhouse ]; then
            extra=(OBSERVE_CLICKHOUSE_URL="http://127.0.0.1:$collector_port" OBSERVE_CLICKHOUSE_CREATE=0)
        elif [ "$mode" = otlp-logs ]; then
            extra+=(OTEL_LOGS_EXPORTER=otlp)
        else
            # A push a second (the default is a minute): what one costs shows.
            extra+=(OTEL_METRICS_EXPORTER=otlp OTEL_METRIC_EXPORT_INTERVAL=1000)
        fi
    fi
    command=("$server" "$framework" "$mode")
    if [ "$framework" = peer ]; then command=("$peer_server" "$mode"); fi
    env "${extra[@]}" valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$out.%p" "${command[@]}" "127.0.0.1:$PORT" \
        >/dev/null 2>"$work/valgrind.log" &
    pid=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$PORT/users/1" >/dev/null 2>&1 && break
        sleep 0.1
    done
    load 500
    callgrind_control -z "$pid" >/dev/null 2>&1
    load "$REQUESTS"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    if [ -n "${collector:-}" ]; then kill "$collector" 2>/dev/null || true; collector=; fi
    # The explicit dump is the file with the highest part number.
    dump=$(ls -v "$out".*.[0-9]* 2>/dev/null | tail -1)
    total=$(awk '/^totals:|^summary:/ {print $2; exit}' "$dump")
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$dump" "$KEEP/$framework-$mode.callgrind"; fi
    per=$((total / REQUESTS))
    key=$(bare_key "$framework" "$mode")
    [ -n "$key" ] && bare[$key]=$per
    peers_bare=0
    case "$framework:$mode" in peer:actix-*) [ -n "${bare[peer-actix]:-}" ] && peers_bare=1 ;; peer:*) [ -n "${bare[peer-axum]:-}" ] && peers_bare=1 ;; esac
    base=$(base_of "$framework" "$mode" "$peers_bare")
    ratio=-
    if [ -n "${bare[$base]:-}" ]; then
        ratio=$(python3 -c "print(f'{$per / ${bare[$base]}:.3f}')")
    fi
    printf '%-24s%16d%10s\n' "$framework/$mode" "$per" "$ratio"
done
