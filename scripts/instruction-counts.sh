#!/usr/bin/env bash
# Instruction-count benches for the hot kernels (statistics, texture matrices, mesh shape, a
# small ResNet forward pass). Counts from callgrind are deterministic for one binary on one CPU
# model, so a > 5 % change is a real change, not noise — unlike wall-clock benches on a shared
# machine.
#
#   scripts/instruction-counts.sh save NAME            # writes benches/instructions/NAME.tsv
#   scripts/instruction-counts.sh compare OLD [NEW]    # compares OLD with NEW (default: now);
#                                                      # exit 1 on a > THRESHOLD % increase
#
# THRESHOLD (percent, default 5) and KERNELS (space-separated subset) come from the environment.
# Each kernel is run with 0 and with 1 repetition after identical setup; the difference is the
# kernel's own count. Needs valgrind (Debian: `apt-get install valgrind`); it is not part of the
# CI test command (see README "Latency tracking").
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
name=${2:-}
if [[ -z "$mode" || -z "$name" ]]; then
    sed -n '7,10p' "$0"
    exit 2
fi
command -v valgrind >/dev/null || {
    echo "instruction counts need valgrind (Debian: apt-get install valgrind)" >&2
    exit 2
}
threshold=${THRESHOLD:-5}
dir=benches/instructions
mkdir -p "$dir"

measure() { # writes "kernel<TAB>instructions" lines to $1
    cargo build --release --locked --example kernels >&2
    local bin=${CARGO_TARGET_DIR:-target}/release/examples/kernels
    local kernels=${KERNELS:-$("$bin" --list)}
    : >"$1"
    for k in $kernels; do
        local counts=()
        for reps in 0 1; do
            counts+=("$(RAYON_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
                "$bin" "$k" "$reps" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')")
        done
        printf '%s\t%s\n' "$k" "$((counts[1] - counts[0]))" >>"$1"
        printf '%s\t%s\n' "$k" "$((counts[1] - counts[0]))" >&2
    done
}

case "$mode" in
save)
    measure "$dir/$name.tsv"
    echo "saved $dir/$name.tsv"
    ;;
compare)
    old="$dir/$name.tsv"
    [[ -f "$old" ]] || { echo "no saved counts $old" >&2; exit 2; }
    if [[ -n "${3:-}" ]]; then
        new="$dir/$3.tsv"
    else
        new=$(mktemp)
        measure "$new"
    fi
    awk -F'\t' -v t="$threshold" '
        NR == FNR { old[$1] = $2; next }
        FNR == 1 { print "| kernel | old instructions | new instructions | change | verdict |";
                   print "|---|---:|---:|---:|---|" }
        ($1 in old) {
            c = 100 * ($2 / old[$1] - 1); v = "unchanged";
            if (c > t) { v = "**regressed**"; bad++ } else if (c < -t) v = "**improved**";
            printf "| %s | %d | %d | %+.2f %% | %s |\n", $1, old[$1], $2, c, v }
        END { if (bad) { printf "\n%d kernel(s) regressed beyond %s %%\n", bad, t; exit 1 } }
    ' "$old" "$new"
    ;;
*)
    echo "unknown mode $mode (save | compare)" >&2
    exit 2
    ;;
esac
