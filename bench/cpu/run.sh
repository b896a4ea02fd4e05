#!/usr/bin/env bash
# CPU benchmark of the tuning loop on a llama-3.2-1b-shaped model (random weights from `synaptix synth`):
#   1. cold tune (empty database, empty module cache), timed;  2. the same tune again (warm), timed;
#   3. `synaptix bench` untuned and with the recipe: prefill and decode (batch 1 and 8) tok/s with roofline ratios.
# The per-op table that `synaptix tune` prints (default vs tuned time per linear op, % of the bandwidth
# roofline) is the kernel-level figure. Usage: bench/cpu/run.sh [BUILD_DIR] [BUDGET]   (defaults: build-tune-rel 8m)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-tune-rel}
budget=${2:-8m}
bin=$build/synaptix
work=${SYNAPTIX_BENCH_DIR:-/tmp/synaptix-bench-cpu}
model=$work/llama-3.2-1b
mkdir -p "$work"
[ -f "$model/config.json" ] || "$bin" synth --like llama-3.2-1b --out "$model"

export SYNAPTIX_CACHE_DIR=$work/cache
rm -rf "$SYNAPTIX_CACHE_DIR"
db=$work/tuning.db
rm -f "$db" "$db-wal" "$db-shm"
buckets=${SYNAPTIX_BENCH_BUCKETS:-1,5-16,prefill}

echo "== cold tune (empty database and module cache), budget $budget, buckets $buckets"
t0=$(date +%s.%N)
"$bin" tune --model "$model" --target cpu --budget "$budget" --db "$db" --buckets "$buckets" --out "$work/recipe.json" \
  2> "$work/tune-cold.log" | tee "$work/tune-cold.txt"
t1=$(date +%s.%N)
echo "== warm tune (same command, database remembers)"
"$bin" tune --model "$model" --target cpu --budget "$budget" --db "$db" --buckets "$buckets" --out "$work/recipe-warm.json" \
  2> "$work/tune-warm.log" | tail -3
t2=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:])
cold, warm = t1 - t0, t2 - t1
print(f"tune time: cold {cold:.1f} s, warm {warm:.1f} s, warm/cold = {warm / cold:.3f} (goal < 0.1)")
PY
"$bin" db stats --db "$db"

echo "== bench untuned"
"$bin" bench --model "$model" --target cpu --batch 1,8 | tee "$work/bench-untuned.txt"
echo "== bench tuned"
"$bin" bench --model "$model" --target cpu --batch 1,8 --recipe "$work/recipe.json" | tee "$work/bench-tuned.txt" ||
  echo "(bench --recipe failed: see above)"
