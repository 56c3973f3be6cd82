#!/usr/bin/env bash
# End-to-end overhead of observe: the same server bare and observed, loaded by
# wrk on loopback in alternating runs, reported as ratios to bare.
#
#   bench/run.sh                  # 5 rounds x 5 s per variant
#   ROUNDS=9 DURATION=10 VARIANTS="axum:bare axum:metrics" bench/run.sh
#   PEERS=1 bench/run.sh          # and the peers (bench/peers), same rounds
#
# The server runs one worker pinned to CPU 0, wrk one thread pinned to CPU 1,
# so the two do not fight over a core. CPU time per request is the server's
# utime+stime from /proc/PID/stat over the run, divided by the requests wrk
# completed.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
VARIANTS=${VARIANTS:-"axum:bare axum:metrics axum:full actix:bare actix:metrics actix:full"}
PORT=${PORT:-18080}

if ! command -v wrk >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
# The sinks and the profiler are compiled in only for the variants that
# use them, so the other variants measure the build the gate's baseline is.
features=()
case " $VARIANTS " in *otlp-*|*:clickhouse*) features+=(sinks) ;; esac
case " $VARIANTS " in *:profiled*) features+=(profiling) ;; esac
cargo build --release --locked -q -p observe-bench --features "$(IFS=,; echo "${features[*]}")"
server=target/release/bench-server
# The peers: PEERS=1, `peer:` variants, peer_server, base_of.
source bench/peers.sh
results=$(mktemp)
trap 'rm -f "$results"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for round in $(seq "$ROUNDS"); do
    for variant in $VARIANTS; do
        framework=${variant%%:*}
        mode=${variant##*:}
        command=("$server" "$framework" "$mode")
        if [ "$framework" = peer ]; then command=("$peer_server" "$mode"); fi
        taskset -c 0 "${command[@]}" "127.0.0.1:$PORT" >/dev/null &
        pid=$!
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$PORT/users/1" >/dev/null 2>&1 && break
            sleep 0.05
        done
        # Warm-up: connection setup, allocator, first series.
        taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/users/7" >/dev/null
        before=$(cpu_ticks "$pid")
        out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/users/7")
        after=$(cpu_ticks "$pid")
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        pid=
        requests=$(echo "$out" | awk '/requests in/ {print $1}')
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
        echo "$framework $mode $round $requests $rps $p99 $((after - before))" >>"$results"
        echo "round $round $framework/$mode: $rps req/s, p99 $p99" >&2
    done
done

python3 - "$results" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
tick_us = 1e6 / int(sys.argv[2])
def to_ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit) and not (unit == "s" and v.endswith(("us", "ms"))):
            return float(v[: -len(unit)]) * f
    return float(v)
agg = {}
for fw, mode, _round, reqs, rps, p99, ticks in rows:
    a = agg.setdefault((fw, mode), {"rps": [], "p99": [], "cpu": []})
    a["rps"].append(float(rps))
    a["p99"].append(to_ms(p99))
    a["cpu"].append(int(ticks) * tick_us / int(reqs))
print(f"{'variant':<24}{'req/s':>10}{'p99 ms':>9}{'CPU us/req':>12}{'thrpt x':>9}{'p99 x':>7}{'CPU x':>7}")
for (fw, mode), a in agg.items():
    med = {k: statistics.median(v) for k, v in a.items()}
    # A peer against the handler alone in its own binary when measured,
    # else against bench-server's bare server of its framework.
    if fw == "peer":
        kind = "actix" if mode.startswith("actix-") else "axum"
        key = ("peer", kind + "-bare") if ("peer", kind + "-bare") in agg else (kind, "bare")
    else:
        key = (fw, "bare")
    if key not in agg:
        print(f"{fw + '/' + mode:<24}{med['rps']:>10.0f}{med['p99']:>9.2f}{med['cpu']:>12.2f}  (no {key[0]}/{key[1]} in this run)")
        continue
    base = {k: statistics.median(v) for k, v in agg[key].items()}
    print(f"{fw + '/' + mode:<24}{med['rps']:>10.0f}{med['p99']:>9.2f}{med['cpu']:>12.2f}"
          f"{med['rps'] / base['rps']:>9.3f}{med['p99'] / base['p99']:>7.2f}{med['cpu'] / base['cpu']:>7.3f}")
print(f"(median of {len(a['rps'])} alternating rounds; ratios against the bare framework in the same run)")
PY
