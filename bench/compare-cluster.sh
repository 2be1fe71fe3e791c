#!/usr/bin/env bash
# Compares asyncredis at two commits on the cluster benchmark (-cluster:
# a loopback cluster of six redis-server processes the benchmark starts
# itself), alternating the two builds; rueidis and go-redis run in every
# invocation too, as the control for the machine's noise.
#
#   bench/compare-cluster.sh OLD NEW [RUNS] [BENCH FLAGS...]
#   bench/compare-cluster.sh 82d3283 HEAD 3 -duration 1s -rounds 1 -concurrency 1,256,10000
#
# Each build uses its own commit's bench/ program and library. Outputs go
# to $OUT (default a new temporary folder); the summary lists, per
# workload and goroutine count, asyncredis's median ops/s and CPU µs per
# operation for each build, their ratios, and the median ratio to
# rueidis in the same run.
set -euo pipefail
old=$1 new=$2 runs=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
out=${OUT:-$(mktemp -d)}
source "$(dirname "$0")/build-at.sh"
build_at "$old" "$out/bench-old"
build_at "$new" "$out/bench-new"
for i in $(seq "$runs"); do
  for v in old new; do
    "$out/bench-$v" -cluster -cluster-out "$out/$v-$i.report.md" "$@" > "$out/$v-$i.txt" 2>&1
  done
done
echo "outputs in $out"
# rows: build workload goroutines ops cpu ratio-to-rueidis
for v in old new; do
  for f in "$out/$v"-*.report.md; do
    awk -v b="$v" -F'|' '
      /^## / { w = substr($0, 4) }
      $3 ~ /^ asyncredis / { gsub(/ /, "", $2); gsub(/ /, "", $4); gsub(/[ ×]/, "", $5); gsub(/ /, "", $7); print b "\t" w "\t" $2 "\t" $4 "\t" $7 "\t" $5 }
    ' "$f"
  done
done > "$out/rows.tsv"
echo "| workload | goroutines | $old ops/s | $new ops/s | new/old | $old ÷ rueidis | $new ÷ rueidis | $old CPU µs/op | $new CPU µs/op | new/old CPU |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
python3 - "$out/rows.tsv" <<'PY'
import sys, statistics as st, collections
rows = collections.defaultdict(lambda: collections.defaultdict(list))
order = []
for line in open(sys.argv[1]):
    b, w, g, ops, cpu, rat = line.rstrip("\n").split("\t")
    k = (w, int(g))
    if k not in order:
        order.append(k)
    rows[k][b].append((float(ops), float(cpu), float(rat)))
for k in order:
    o, n = rows[k]["old"], rows[k]["new"]
    if not o or not n:
        continue
    med = lambda xs, i: st.median(x[i] for x in xs)
    print(f"| {k[0]} | {k[1]} | {med(o,0):.0f} | {med(n,0):.0f} | {med(n,0)/med(o,0):.2f} | {med(o,2):.2f} | {med(n,2):.2f} | {med(o,1):.2f} | {med(n,1):.2f} | {med(n,1)/med(o,1):.2f} |")
PY
