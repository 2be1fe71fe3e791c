#!/usr/bin/env bash
# Compares asyncredis at two commits with the same benchmark, alternating
# the two builds against one redis-server (rueidis and go-redis run in
# every invocation too, as a control for the machine's noise).
#
#   bench/compare.sh OLD NEW ADDR [RUNS] [BENCH FLAGS...]
#   bench/compare.sh e7b52e8 HEAD 127.0.0.1:6399 5 -duration 2s -rounds 1 -concurrency 1,1024
#
# (the builds must have the bench flags passed; -addr is added here, and
# -server-pid too when a build knows it and the server runs on this
# machine, so that the server's CPU is not taken for other processes')
#
# Each build uses its own commit's bench/ program and library. Outputs go
# to $OUT (default a new temporary folder); the summary lists, per
# workload and goroutine count, the median ops/s of asyncredis for each
# build, their ratio, and the median ratio to rueidis in the same run.
set -euo pipefail
old=$1 new=$2 addr=$3 runs=${4:-5}
shift $(( $# < 4 ? $# : 4 ))
out=${OUT:-$(mktemp -d)}
source "$(dirname "$0")/build-at.sh"
build_at "$old" "$out/bench-old"
build_at "$new" "$out/bench-new"
pid=$(pgrep -f "redis-server.*:${addr##*:}" | head -n 1 || true)
declare -A extra
for v in old new; do
  extra[$v]=""
  help=$("$out/bench-$v" -h 2>&1 || true)
  if [ -n "$pid" ] && [[ $help == *$'\n  -server-pid '* ]]; then extra[$v]="-server-pid $pid"; fi
done
for i in $(seq "$runs"); do
  for v in old new; do
    # -out keeps the report (and its chart) out of the working tree
    # shellcheck disable=SC2086 # extra is empty or two words
    "$out/bench-$v" -addr "$addr" ${extra[$v]} -out "$out/$v-$i.report.md" "$@" > "$out/$v-$i.md" 2> "$out/$v-$i.txt"
  done
done
echo "outputs in $out"
echo "| workload | goroutines | $old ops/s | $new ops/s | new/old | $old ÷ rueidis | $new ÷ rueidis | $old CPU µs/op | $new CPU µs/op | new/old CPU |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk '
  / goroutines / {
    split(FILENAME, p, "/"); f = p[length(p)]; split(f, q, "-"); v = q[1]; run = q[2]
    for (i = 1; i <= NF; i++) if ($i == "goroutines") break
    w = $1; for (j = 2; j <= i - 3; j++) w = w " " $j
    c = $(i - 2); g = $(i - 1); ops = $(i + 1); cpu = $(i + 4); sub(/µs\/op/, "", cpu)
    key = w SUBSEP g
    if (c == "asyncredis") { a[v, key, run] = ops; u[v, key, run] = cpu }
    if (c == "rueidis") r[v, key, run] = ops
    keys[key] = 1; runs[run] = 1
  }
  function median(arr, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
  }
  END {
    for (key in keys) {
      split(key, k, SUBSEP)
      n = 0
      for (run in runs) { n++; ao[n] = a["old", key, run]; an[n] = a["new", key, run]; ro[n] = a["old", key, run] / r["old", key, run]; rn[n] = a["new", key, run] / r["new", key, run]; uo[n] = u["old", key, run]; un[n] = u["new", key, run] }
      mo = median(ao, n); mn = median(an, n); co = median(uo, n); cn = median(un, n)
      printf "| %s | %s | %.0f | %.0f | %.3f | %.2f | %.2f | %.2f | %.2f | %.3f |\n", k[1], k[2], mo, mn, mn / mo, median(ro, n), median(rn, n), co, cn, cn / co
    }
  }' "$out"/old-*.txt "$out"/new-*.txt | sort -t'|' -k2,2 -k3,3n
