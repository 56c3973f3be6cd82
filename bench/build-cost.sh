#!/usr/bin/env bash
# What a user pays to compile HTTP metrics for axum: observe without its
# default features (metrics only) against axum-prometheus 0.10, as two tiny
# apps under bench/build-cost/, each its own workspace with its own
# Cargo.lock. Per app: distinct crates in the normal dependency tree, cold
# release build time in a fresh target dir (after `cargo fetch`, so
# downloads are not timed) and the release binary's size.
#
#   bench/build-cost.sh
#   RUNS=3 bench/build-cost.sh     # three cold builds per app, interleaved
#
# On a shared 2-core VM build times move with whatever else runs: compare
# the two apps within one run, not across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-1}
apps=(observe-app prometheus-app)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# `(*)` marks a crate already printed; dropping it lets sort -u count each
# crate version once. The app's own root crate is counted for both apps.
count_crates() { # $@ = extra cargo tree arguments
    cargo tree --locked -e normal --prefix none "$@" | sed 's/ (\*)//' | sort -u | wc -l
}

echo "date:   $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc:  $(nproc)"
echo "rustc:  $(rustc --version)"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs:   $RUNS"
# Before the builds, so a stale workspace lock fails in seconds, not after them.
echo "observe-axum (no default features) in the workspace: $(count_crates -p observe-axum --no-default-features) crates"
echo

declare -A crates bytes total
for app in "${apps[@]}"; do
    manifest=bench/build-cost/$app/Cargo.toml
    # The observe app's lock goes stale when observe's own dependencies change.
    cargo fetch --locked -q --manifest-path "$manifest" || {
        echo "$app: Cargo.lock out of date; run: cargo generate-lockfile --manifest-path $manifest" >&2
        exit 1
    }
    crates[$app]=$(count_crates --manifest-path "$manifest")
    total[$app]=0
done

# Interleaved, so a slow spell on the machine hits both apps alike.
for run in $(seq "$RUNS"); do
    for app in "${apps[@]}"; do
        target=$(mktemp -d "$work/target.XXXXXX")
        log=$work/$app.$run.log
        start=$(date +%s.%N)
        if ! CARGO_TARGET_DIR=$target cargo build --release --locked \
            --manifest-path "bench/build-cost/$app/Cargo.toml" >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            exit 1
        fi
        end=$(date +%s.%N)
        secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
        bytes[$app]=$(stat -c %s "$target/release/$app")
        total[$app]=$(awk -v t="${total[$app]}" -v s="$secs" 'BEGIN { print t + s }')
        printf '%-16s run %d: %7.1f s cold release build, %d bytes\n' "$app" "$run" "$secs" "${bytes[$app]}"
        # Each release target dir is hundreds of MB; drop it once measured.
        rm -rf "$target"
    done
done

echo
printf '%-16s%8s%14s%12s\n' app crates 'build s' 'binary MB'
for app in "${apps[@]}"; do
    awk -v app="$app" -v c="${crates[$app]}" -v t="${total[$app]}" -v r="$RUNS" -v b="${bytes[$app]}" \
        'BEGIN { printf "%-16s%8d%14.1f%12.2f\n", app, c, t / r, b / 1e6 }'
done
awk -v to="${total[observe-app]}" -v tp="${total[prometheus-app]}" \
    -v co="${crates[observe-app]}" -v cp="${crates[prometheus-app]}" \
    -v bo="${bytes[observe-app]}" -v bp="${bytes[prometheus-app]}" \
    'BEGIN { printf "observe/axum-prometheus: build time %.2fx, crates %.2fx, binary %.2fx\n", to / tp, co / cp, bo / bp }'
echo "(build s: mean of $RUNS cold build(s); MB = 10^6 bytes)"
