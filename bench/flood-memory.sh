#!/usr/bin/env bash
# Memory after slow-connection floods: RSS of the same server, bare and
# observed, after rounds of CONNECTIONS concurrent connections that send
# half a request head (or nothing) and are held HOLD seconds, then closed.
#
#   bench/flood-memory.sh                      # 9 rounds of 2,000
#   ROUNDS=3 VARIANTS="axum:bare axum:metrics" bench/flood-memory.sh
#
# Variants are framework:mode[:server][:arena]: server `observe` serves axum
# with observe's own server (head and idle timeouts, a connection cap)
# instead of axum::serve; arena `a2` runs with MALLOC_ARENA_MAX=2 (glibc
# keeps fewer per-thread heaps) and `trim` with one arena and a trim
# threshold of 0 (glibc gives the top of its heap back on every free),
# which tells allocator retention from memory a server still holds. Two worker threads. Prints a Markdown table:
# RSS at start, after round 1, after the last round, and 10 s after it.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-9}
CONNECTIONS=${CONNECTIONS:-2000}
HOLD=${HOLD:-5}
PORT=${PORT:-18090}
VARIANTS=${VARIANTS:-"axum:bare axum:metrics axum:metrics:observe axum:metrics::a2 actix:bare actix:metrics"}

ulimit -n 8192
cargo build --release --locked -q -p observe-bench
server=target/release/bench-server
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

echo "| variant | start MB | after 1 round | after $ROUNDS rounds | 10 s later | after malloc_trim(0) |"
echo "|---|---:|---:|---:|---:|---:|"
for variant in $VARIANTS; do
    IFS=: read -r framework mode serve arena <<<"$variant"
    env=(BENCH_WORKERS=2)
    [ "$serve" = observe ] && env+=(BENCH_SERVER=observe)
    [ "$arena" = a2 ] && env+=(MALLOC_ARENA_MAX=2)
    [ "$arena" = trim ] && env+=(GLIBC_TUNABLES=glibc.malloc.trim_threshold=0:glibc.malloc.arena_max=1)
    env "${env[@]}" "$server" "$framework" "$mode" "127.0.0.1:$PORT" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/users/1" >/dev/null 2>&1 && break
        sleep 0.05
    done
    start=$(rss_mb "$pid")
    first=
    for round in $(seq "$ROUNDS"); do
        result=$(python3 bench/flood.py 127.0.0.1 "$PORT" "$CONNECTIONS" "$HOLD")
        sleep 1
        [ -z "$first" ] && first=$(rss_mb "$pid")
        echo "$variant round $round: $result, RSS $(rss_mb "$pid") MB" >&2
        curl -sf "http://127.0.0.1:$PORT/users/1" >/dev/null || echo "$variant: not answering after round $round" >&2
    done
    last=$(rss_mb "$pid")
    sleep 10
    later=$(rss_mb "$pid")
    trimmed=n/a
    if command -v gdb >/dev/null; then
        # Twice: gdb's call into the process now and then does not take.
        for _ in 1 2; do
            timeout 60 gdb -p "$pid" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
        done
        sleep 0.5
        trimmed=$(rss_mb "$pid")
    fi
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    echo "| $variant | $start | $first | $last | $later | $trimmed |"
done
