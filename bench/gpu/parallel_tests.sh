#!/usr/bin/env bash
# The CUDA test binaries at once on one GPU (each in its own process; they share the device) and
# `synaptix verify --target cuda:0` on every fixture beside them: the correctness half of bench/gpu/run.sh in
# about the time of the slowest binary. Logs under $OUT; a summary line per binary and per fixture last.
set -uo pipefail
BIN=${BIN:-.gpu-carry/bin}
LIMIT=${LIMIT:-280}
FIX=${FIX:-/work/shared/fixtures/models}
export SYNAPTIX_TEST_BINARY=$PWD/$BIN/synaptix
# TrialRunner forks children that use CUDA: it needs a process whose driver is not initialised yet, so it runs
# alone. test_kernels_cuda compiles hundreds of kernels: SHARDS gtest shards of it run side by side.
SHARDS=${SHARDS:-4}
pids=()
launch() {  # log name, binary, filter, [shard index]
  if [ -n "${4:-}" ]; then
    GTEST_TOTAL_SHARDS=$SHARDS GTEST_SHARD_INDEX=$4 timeout "$LIMIT" "$BIN/$2" --gtest_filter="$3" > "$OUT/$1.log" 2>&1 &
  else
    timeout "$LIMIT" "$BIN/$2" --gtest_filter="$3" > "$OUT/$1.log" 2>&1 &
  fi
  pids+=($!)
}
for t in ${TESTS:-test_backend_cuda test_kernels_cuda test_engine_cuda test_tune_cuda test_apps_cuda}; do
  case $t in
  test_backend_cuda)
    launch test_backend_cuda-trial-runner $t 'TrialRunner.*'
    launch $t $t "${FILTER:-*}:-TrialRunner.*" ;;
  test_kernels_cuda)
    for ((s = 0; s < SHARDS; s++)); do launch $t-shard$s $t "${KERNEL_FILTER:-${FILTER:-*}}" $s; done ;;
  *) launch $t $t "${FILTER:-*}" ;;
  esac
done
: > "$OUT/verify.log"
for d in "$FIX"/*/; do
  n=$(basename "$d")
  r=$(timeout 120 "$BIN/synaptix" verify --model "$d" --reference "$d/reference.safetensors" --target cuda:0 2>&1 | tail -1)
  echo "$n rc=$? $r" >> "$OUT/verify.log"
done
for p in "${pids[@]}"; do wait "$p"; done
for f in "$OUT"/test_*.log; do
  echo "$(basename "$f" .log): $(grep -E '^\[  (PASSED|FAILED)  \]' "$f" | head -2 | tr '\n' ' ') $(grep -c '^\[  FAILED  \]' "$f") failed lines"
  grep -E '^\[  FAILED  \]' "$f" | head -10
done
cut -c1-200 "$OUT/verify.log"
