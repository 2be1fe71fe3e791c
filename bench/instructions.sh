#!/usr/bin/env bash
# Counts the user-space instructions (perf stat) that the asyncredis
# library at two commits spends per GET/SET, with today's benchmark
# harness built against each: far steadier than time on a shared machine,
# so it can resolve differences of well under 1 %.
#
#   bench/instructions.sh OLD NEW ADDR [RUNS] [OPS] [GOROUTINES]
#   bench/instructions.sh cb6bb7a 4c10cdf 127.0.0.1:6399 7 200000 1
#
# Needs perf (Debian: linux-perf) with kernel.perf_event_paranoid <= 2.
set -euo pipefail
old=$1 new=$2 addr=$3 runs=${4:-7} ops=${5:-200000} conc=${6:-1}
out=${OUT:-$(mktemp -d)}
source "$(dirname "$0")/build-at.sh"
build_at "$old" "$out/bench-old" current
build_at "$new" "$out/bench-new" current
for i in $(seq "$runs"); do
  for v in old new; do
    perf stat -x, -e instructions:u -o "$out/$v-$i.perf" "$out/bench-$v" -addr "$addr" -oploop "$ops" -concurrency "$conc"
  done
done
for v in old new; do
  for i in $(seq "$runs"); do cut -d, -f1 "$out/$v-$i.perf" | grep -E '^[0-9]+$'; done | sort -n |
    awk -v v="$v" -v rev="${!v}" -v ops="$ops" '{a[NR]=$1} END {printf "%s %s: median %.0f instructions per op (min %.0f, max %.0f, %d runs)\n", v, rev, a[int((NR+1)/2)]/ops, a[1]/ops, a[NR]/ops, NR}'
done
