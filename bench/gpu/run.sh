#!/usr/bin/env bash
# The CUDA target on the device machine in one call: the GPU tests (backend isolation, every kernel against
# its CPU reference, every fixture model end to end), `synaptix verify --target cuda:0` on each fixture,
# `synaptix profile --target cuda:0`, then the GPU benchmark (untuned and tuned); a short table last.
# The tuned path as users run it, in three calls (each fits the device tool's 600 s; a warm machine keeps
# $WORK between them):
#   STAGE=tune         synaptix tune --target cuda:0 --like $PRESET -> $WORK/recipe-$PRESET.json (timed)
#   STAGE=recipe-bench gpu-bench --recipe: the recipe as serve runs it, beside the untuned executor, with the
#                      ceilings measured in the same run
#   STAGE=serve        a synthetic $PRESET model, `serve --target cuda:0 --recipe`, `bench serve` at
#                      concurrency 1/8/32/64 and one 2048-token prefill; the table of issue 19
# The weight formats (issues 18 and 21), in two calls:
#   STAGE=quant-tests  the quantized kernels against their formats' CPU reference (test_kernels_cuda
#                      QuantGemvDevice.*) and the CUDA executor on the llama fixture quantized to each format
#                      against the CPU executor on the same model (test_engine_cuda *CudaQuantized*)
#   STAGE=quant-bench  gpu-bench --weights $WEIGHTS on $PRESET: bf16 beside each format, b=1/8/32 decode and a
#                      prefill, each against its own roofline from the bandwidth measured in the same run
#   STAGE=quant-eval   a real model ($MODEL, $LAYERS layers; carried as for eval.sh) with every projection in
#                      each of $FORMATS (quant_recipe below, round to nearest): `eval compare` of the CPU
#                      (incumbent) against cuda:0 (candidate) on the same recipe, wikitext-2 at ctx 512
# PRECISION (default kv=bf16,products=1) is recorded in the recipe by tune --precision: not gate-checked here
# (random weights), see eval.sh for the gate on a real model.
# Logs go to $OUT. Uses the binaries that bench/gpu/pack.sh put in .gpu-carry/ when present, else builds
# here (Release, tests on) — which needs the project's C++ dependencies installed on this machine.
set -uo pipefail
source "$(dirname "$0")/env.sh"
STAGE=${STAGE:-all}   # all | tests | bench | tune | recipe-bench | serve | quant-tests | quant-bench | quant-eval
PRESET=${PRESET:-llama-3.1-8b}
WORK=${WORK:-/tmp/synaptix-tuned}
RECIPE=${RECIPE:-$WORK/recipe-$PRESET.json}
# gtest filter for test_kernels_cuda: the whole suite compiles hundreds of kernels and can pass the 300 s
# limit on a machine with a cold NVRTC cache; e.g. KERNEL_FILTER='Argmax.*:Embedding.*'.
KERNEL_FILTER=${KERNEL_FILTER:-*}

if [ -x .gpu-carry/bin/synaptix ]; then
  BIN=.gpu-carry/bin
  # The test binaries look for the fixtures where they were built: /work/main/../shared.
  if [ ! -e /work/shared/fixtures ]; then mkdir -p /work && ln -sfn "$PWD/.gpu-carry/shared" /work/shared; fi
else
  BIN=build-gpu
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNAPTIX_TESTS=ON -DSYNAPTIX_NATIVE=OFF > "$OUT/build.log" 2>&1 &&
    ninja -C build-gpu synaptix test_backend_cuda test_kernels_cuda test_engine_cuda test_tune_cuda test_apps_cuda >> "$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log"; echo "build failed"; exit 1; }
fi
SX=$BIN/synaptix
export SYNAPTIX_TEST_BINARY=$PWD/$BIN/synaptix  # CLI tests (test_apps_cuda) run the carried binary
FIX=/work/shared/fixtures/models
[ -d "$FIX" ] || FIX=../shared/fixtures/models

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

summary=()
if [ "$STAGE" = quant-tests ]; then
  for t in "test_kernels_cuda:QuantGemvDevice.*" "test_engine_cuda:*CudaQuantized*"; do
    b=${t%%:*}
    f=${t#*:}
    timeout 280 "$BIN/$b" --gtest_filter="$f" > "$OUT/$b-quant.log" 2>&1
    echo "$b $f rc=$? $(grep -E '^\[  (PASSED|FAILED)  \]' "$OUT/$b-quant.log" | head -2 | tr '\n' ' ')"
    grep -E '^\[  (FAILED|SKIPPED)  \]|Failure|error|Expected|Which is|max_rel_err' "$OUT/$b-quant.log" | head -60
  done
  exit 0
fi
if [ "$STAGE" = quant-bench ]; then
  timeout 540 "$SX" gpu-bench --like "$PRESET" --weights "${WEIGHTS:-int4-g128,fp8-e4m3-pc,int8-pc,mxfp4}" \
    --json "$OUT/quant-bench.json" ${BENCH_ARGS:-} > "$OUT/quant-bench.log" 2>&1
  echo "gpu-bench --weights rc=$?"
  grep -v '^\[gpu-bench' "$OUT/quant-bench.log" | tail -n 40
  exit 0
fi
# A quantization recipe (quant/quant_recipe.h) with every attention and MLP projection of $2 layers in format $1.
quant_recipe() {
  local l p sep=
  printf '{"synaptix_quant_recipe": 1, "method": "rtn", "tensors": {'
  for ((l = 0; l < $2; l++)); do
    for p in self_attn.q_proj self_attn.k_proj self_attn.v_proj self_attn.o_proj mlp.gate_proj mlp.up_proj mlp.down_proj; do
      printf '%s"model.layers.%d.%s.weight": "%s"' "$sep" "$l" "$p" "$1"
      sep=', '
    done
  done
  printf '}}\n'
}
if [ "$STAGE" = quant-eval ]; then
  MODEL=${MODEL:-/tmp/model.gguf}
  if [ ! -s "$MODEL" ] && ls .gpu-m*/*.part* > /dev/null 2>&1; then cat $(ls .gpu-m*/*.part* | sort -t. -k3) > "$MODEL"; fi
  mkdir -p "$WORK"
  for F in ${FORMATS:-int8-pc fp8-e4m3-pc int4-g64 mxfp4}; do
    R=$WORK/quant-$F.json
    quant_recipe "$F" "${LAYERS:-30}" > "$R"
    timeout "${EVAL_TIMEOUT:-130}" "$SX" eval compare --model "$MODEL" --incumbent "target=cpu,quant=$R" \
      --candidate "target=cuda:0,quant=$R" --text "${TEXT:-.gpu-carry/shared/data/wiki.test.raw}" --ctx 512 \
      --max-windows "${WINDOWS:-20}" --gate 8bit > "$OUT/quant-eval-$F.log" 2>&1
    echo "== $F rc=$?"
    grep -E 'mean KL|top-1|perplexity ratio|verdict|rror' "$OUT/quant-eval-$F.log" | head -8
  done
  exit 0
fi
if [ "$STAGE" = tune ] || [ "$STAGE" = recipe-bench ] || [ "$STAGE" = serve ]; then
  source bench/gpu/tuned_path.sh
  exit $?
fi
if [ "$STAGE" != bench ]; then
  # The test binaries side by side and verify on every fixture (parallel_tests.sh: TrialRunner alone, the
  # kernel tests in gtest shards).
  BIN=$BIN FIX=$FIX KERNEL_FILTER=$KERNEL_FILTER bash "$(dirname "$0")/parallel_tests.sh"
  for f in "$OUT"/test_*.log; do summary+=("$(basename "$f" .log): $(grep -E '^\[  (PASSED|FAILED)  \]' "$f" | head -2 | tr '\n' ' ')"); done
  timeout 120 "$SX" profile --target cuda:0 > "$OUT/profile.json" 2>&1
  echo "profile rc=$?"; head -c 3000 "$OUT/profile.json"; echo
fi
if [ "$STAGE" != tests ]; then
  # Does crash isolation (CUDA in forked children) work on this machine?
  "$BIN/test_backend_cuda" --gtest_filter='TrialRunner.Good*' 2>&1 | grep -E '^\[  (PASSED|FAILED)|Failure|error' | head -5
  timeout 420 "$SX" gpu-bench --like llama-3.1-8b --json "$OUT/bench.json" --db /tmp/synaptix-tuning.db ${BENCH_ARGS:-} > "$OUT/bench.log" 2>&1
  echo "gpu-bench rc=$?"
  tail -n 12 "$OUT/bench.log"
fi
echo "== summary =="
for s in "${summary[@]}"; do echo "$s"; done
grep -c '"pass":true' "$OUT/verify.log" 2>/dev/null | sed 's/^/verify passes: /'
