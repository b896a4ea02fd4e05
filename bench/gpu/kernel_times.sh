#!/usr/bin/env bash
# Per-kernel durations of the batch-1 decode step under Nsight Compute (each kernel timed alone, so PDL
# overlap is not seen; the sum against the graph's step time shows what overlap and launch gaps cost).
# Needs .gpu-carry from bench/gpu/pack.sh; writes $OUT/ncu.csv and prints a table per kernel and grid.
set -uo pipefail
source "$(dirname "$0")/env.sh"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || { echo "ncu not found"; exit 1; }
# Decode kernels only (small grids); the prefill of the context and the ceilings are skipped by name.
timeout 400 "$NCU" --clock-control none --csv --metrics gpu__time_duration.sum \
  --kernel-name regex:'^(rope_kv_write|paged_attention|decode_attention_rope|argmax_partial|argmax_final|attention_combine|embedding|argmax_rows|gemv_bf16|rmsnorm|swiglu)$' \
  --cache-control none --launch-skip 0 --launch-count 1500 \
  .gpu-carry/bin/synaptix-cuda gpu-bench --no-tune --no-accurate --batches 1 --decode-steps 4 --prompt 128 --context 128 \
  > "$OUT/ncu.csv" 2> "$OUT/ncu.err"
echo "ncu rc=$?"
python3 - "$OUT/ncu.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows: print("no rows"); sys.exit()
h = rows[0]; ki = h.index("Kernel Name"); gi = h.index("Grid Size"); vi = h.index("Metric Value"); ui = h.index("Metric Unit")
agg = collections.defaultdict(list)
for r in rows[1:]:
    v = float(r[vi].replace(",", "")); v = {"ns": v / 1000, "nsecond": v / 1000, "ms": v * 1000, "msecond": v * 1000}.get(r[ui], v)
    agg[(r[ki], r[gi])].append(v)
print(f"{'kernel':22} {'grid':18} {'count':>6} {'mean us':>9}")
for (k, g), v in sorted(agg.items(), key=lambda kv: -sum(kv[1])):
    print(f"{k:22} {g:18} {len(v):6d} {sum(v)/len(v):9.2f}")
PY
