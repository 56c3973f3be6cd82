#!/usr/bin/env bash
# The regression gate on the hot path: measures observe's own share of a
# request's instructions (bench/instructions.sh) for the variants in
# bench/instructions-baseline.txt and fails when one grew more than
# GATE_TOLERANCE (default 10%) over its committed baseline. Instruction
# counts are the same for the same binary and input whatever the machine
# is doing, so the gate needs no wall clock.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=bench/instructions-baseline.txt
tolerance=${GATE_TOLERANCE:-0.10}
variants=$(awk '!/^#/ && NF == 3 {print $1; print $2}' "$baseline" | sort -u | tr '\n' ' ')
table=$(VARIANTS="$variants" bash bench/instructions.sh)
echo "$table"

declare -A per
while read -r variant count _; do
    per[$variant]=$count
done < <(echo "$table" | awk 'NR > 1 {sub("/", ":", $1); print $1, $2}')

failed=0
while read -r observed reference allowed; do
    share=$(( ${per[$observed]} - ${per[$reference]} ))
    verdict=$(python3 -c "print('ok' if $share <= $allowed * (1 + $tolerance) else 'REGRESSED')")
    printf '%-16s own share %6d instructions, baseline %6d: %s\n' "$observed" "$share" "$allowed" "$verdict"
    [ "$verdict" = ok ] || failed=1
done < <(awk '!/^#/ && NF == 3' "$baseline")
if [ "$failed" -ne 0 ]; then
    echo "the hot path regressed by more than ${tolerance} over $baseline" >&2
    exit 1
fi
