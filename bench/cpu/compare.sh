#!/usr/bin/env bash
# Synaptix against llama.cpp on this CPU, same weights, same thread count; prints one table:
#   engine | weights | pp128 | pp512 | tg64 | × llama.cpp | × roofline
# Steps: install the real model (scripts/install-models.sh), build the peer (bench/cpu/build-peer.sh, llama.cpp
# from the llama-cpp-python source package) and Synaptix (Release), refuse to time on a busy machine, then
# `llama-bench` and `synaptix bench` on each weight variant.
#
# Weights: the model on hand is SmolLM2-135M-Instruct as a Q4_1 GGUF (no bf16 original is installed). The
# bf16 variant is that file requantized by llama-quantize (--allow-requantize --pure BF16): the Q4_1 values
# dequantized and rounded to bf16, one file both engines read, so both multiply identical bf16 weights (the
# 1-D norm weights stay f32 in both). WEIGHTS=bf16,q4_1 adds the Q4_1 file as it is: both engines execute its
# Q4_1 and Q8_0 blocks (Synaptix keeps a GGUF's blocks natively by default; llama.cpp also rounds activations
# to 8 bits, Synaptix's default kernels keep them f32 unless a tuned recipe picks a q8-activation kernel).
#
# Usage: bench/cpu/compare.sh [BUILD_DIR]        (default build-bench-rel: Release, no tests, no CUDA)
# Environment:
#   THREADS=N      threads for both engines (default: all logical CPUs, as `synaptix bench` measures its ceilings)
#   PROMPTS=128,512  GEN=64  REPS=5               prompt lengths, decoded tokens, repetitions
#   WEIGHTS=bf16   comma-separated: bf16, q4_1, q4_0, q8_0 (the bf16 file requantized by llama-quantize --pure:
#                  every tensor in that block type), synth-1b (a llama-3.2-1b-shaped GGUF with random bf16
#                  weights and SmolLM2's tokenizer padded to 128256 tokens, written by make_synth_gguf.py: speed only)
#   BATCH=8        also decode BATCH sequences at once (128 tokens of context each, GEN steps) in both engines:
#                  llama-batched-bench -npl BATCH against `synaptix bench --batch BATCH` (the batch table)
#   FORCE=1        time even when the machine is busy (the table is then marked NOT IDLE: not for publishing)
#   SKIP_BUILD=1   use BUILD_DIR/synaptix as it is (e.g. a dry run with an existing build); JOBS=N build jobs
#   SYNAPTIX_MODEL=PATH  give Synaptix other weights than the GGUF (dry runs of the script only: marked)
#   OUT=DIR        where the JSON files and table.md go (default out/cpu-compare, git-ignored)
#   TUNE=1         also `synaptix tune` each variant within the default budget (recipe kept in OUT/recipes,
#                  RETUNE=1 tunes again) and time Synaptix with that recipe: the "Synaptix tuned" rows.
#                  Rounded activations (bf16) are searched and kept only if the model passes
#                  the 8bit quality gate on GATE_TEXT (default ../shared/data/wiki.test.raw) against the exact
#                  defaults. TUNE_WEIGHTS=bf16,q4_1 limits tuning to those variants; TUNE_BUDGET=5m (default 10m);
#                  TUNE_BUCKETS=prefill tunes those buckets only; TUNE_ACTS (default f32,bf16) the activations.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-bench-rel}
threads=${THREADS:-$(nproc)}
prompts=${PROMPTS:-128,512}
gen=${GEN:-64}
reps=${REPS:-5}
weights=${WEIGHTS:-bf16}
work=${OUT:-out/cpu-compare}
mkdir -p "$work"
rm -f "$work/idle.log"
not_idle=0

idle() {  # idle <what is about to be timed>: refuse on a busy machine unless FORCE=1
  local line rc=0
  line=$(python3 bench/cpu/idle_check.py --seconds 3 --ignore $$) || rc=$?
  echo "$1: $line" | tee -a "$work/idle.log"
  if [ "$rc" != 0 ]; then
    if [ "${FORCE:-0}" = 1 ]; then
      not_idle=1
      echo "!!! WARNING: the machine is NOT idle; timings from this run are not valid (FORCE=1) !!!" >&2
    else
      echo "compare: the machine is busy (see above); timings would be meaningless. Stop the other work and" \
           "run again, or FORCE=1 to time anyway (the table is then marked NOT IDLE)." >&2
      exit 3
    fi
  fi
}

echo "== models"
scripts/install-models.sh --quiet
q4=models/SmolLM2-135M-Instruct.Q4_1.gguf

echo "== peer: llama.cpp"
peer_bin=$(bench/cpu/build-peer.sh)
cat "$peer_bin/../PEER_VERSION"

echo "== Synaptix ($build)"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  [ -f "$build/CMakeCache.txt" ] ||
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNAPTIX_TESTS=OFF -DSYNAPTIX_CUDA=OFF > /dev/null
  cmake --build "$build" -j "${JOBS:-$(nproc)}" --target synaptix | tail -1
fi
bin=$build/synaptix
[ -x "$bin" ] || { echo "compare: $bin not built" >&2; exit 1; }

gguf_of() {  # the GGUF file of a weight variant
  case "$1" in
    q4_1) echo "$q4" ;;
    bf16)
      local f=$work/SmolLM2-135M-Instruct.bf16.gguf
      [ -s "$f" ] || "$peer_bin/llama-quantize" --allow-requantize --pure "$q4" "$f" BF16 > "$work/quantize.log" 2>&1 ||
        { tail -5 "$work/quantize.log" >&2; echo "compare: llama-quantize to BF16 failed" >&2; exit 1; }
      echo "$f" ;;
    q4_0|q8_0)
      # From the bf16 file (itself the shipped Q4_1 values), every tensor in the one type (--pure), so both
      # engines run the same blocks everywhere, the tied embedding/LM head included.
      local f=$work/SmolLM2-135M-Instruct.$1.gguf t
      t=$(echo "$1" | tr a-z A-Z)
      [ -s "$f" ] || "$peer_bin/llama-quantize" --allow-requantize --pure "$(gguf_of bf16)" "$f" "$t" > "$work/quantize-$1.log" 2>&1 ||
        { tail -5 "$work/quantize-$1.log" >&2; echo "compare: llama-quantize to $t failed" >&2; exit 1; }
      echo "$f" ;;
    synth-1b)
      local f=$work/synth-llama-3.2-1b.bf16.gguf
      if [ ! -s "$f" ]; then
        # numpy and PyYAML for llama.cpp's gguf-py, in a git-ignored environment beside the peer
        [ -x peers/.venv/bin/python ] || python3 -m venv peers/.venv >&2
        peers/.venv/bin/python -c "import numpy, yaml" 2>/dev/null || peers/.venv/bin/pip install -q numpy pyyaml >&2
        peers/.venv/bin/python bench/cpu/make_synth_gguf.py --like llama-3.2-1b --tokenizer-from "$q4" --out "$f" >&2
      fi
      echo "$f" ;;
    *) echo "compare: unknown weights '$1' (bf16, q4_1, q4_0, q8_0, synth-1b)" >&2; exit 1 ;;
  esac
}

echo "== ceilings"
idle "profile"
"$bin" profile --target cpu --json > "$work/profile.json"
python3 - "$work/profile.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
print(f"{p['model_name']}, {p['logical_cores']} logical cores, {p['isa']}: "
      f"read {p['mem_read_gbps']:.1f} GB/s, f32 FMA {p['fma_gflops']:.1f} GFLOP/s")
PY

synaptix_runs() {  # synaptix_runs DIR PREFIX RECIPE: pp<P> runs (the first also times tg) into DIR/PREFIX-pp<P>.json
  local dir=$1 prefix=$2 recipe=$3 first=1 p steps
  local extra=()
  [ -n "$recipe" ] && extra=(--recipe "$recipe")
  for p in "${prompt_list[@]}"; do
    # tg: decode steps from a 1-token context (llama-bench's tg starts from an empty one), timed in the first run only
    if [ "$first" = 1 ]; then steps=$gen; else steps=1; fi
    if ! SYNAPTIX_THREADS=$threads "$bin" bench --model "$model" --target cpu --batch 1 --prompt-tokens "$p" \
         --context 1 --decode-steps "$steps" --repeats "$reps" "${extra[@]}" --json > "$dir/$prefix-pp$p.json" 2> "$dir/$prefix.log"; then
      { echo "could not run $model${recipe:+ with $recipe}:"; tail -3 "$dir/$prefix.log"; } > "$dir/$prefix.err"
      cat "$dir/$prefix.err" >&2
      break
    fi
    first=0
  done
}

IFS=, read -r -a prompt_list <<< "$prompts"
IFS=, read -r -a weight_list <<< "$weights"
for w in "${weight_list[@]}"; do
  d=$work/$w
  rm -rf "$d"
  mkdir -p "$d"
  file=$(gguf_of "$w")
  echo "== $w: $file"

  idle "llama.cpp $w"
  "$peer_bin/llama-bench" -m "$file" -p "$prompts" -n "$gen" -t "$threads" -r "$reps" -o json > "$d/llama-bench.json" 2> "$d/llama-bench.log" ||
    { tail -5 "$d/llama-bench.log" >&2; echo "compare: llama-bench failed on $file" >&2; exit 1; }

  idle "Synaptix $w"
  model=${SYNAPTIX_MODEL:-$file}
  synaptix_runs "$d" synaptix ""
  if [ "${TUNE:-0}" = 1 ] && [[ ",${TUNE_WEIGHTS:-$w}," == *",$w,"* ]]; then
    # The recipe users get from `synaptix tune` within its default budget (kept in $work/recipes; RETUNE=1
    # tunes again), then the same runs with it.
    recipe=$work/recipes/$w.json
    mkdir -p "$work/recipes"
    if [ ! -s "$recipe" ] || [ "${RETUNE:-0}" = 1 ]; then
      idle "tune $w"
      t0=$(date +%s)
      # bf16 activations for every variant (linear_onednn expands GGUF blocks to bf16 for prefill); q8 ones
      # (llama.cpp's rounding) failed the 8bit gate on Q4_1, and the gate keeps or drops all rounding kernels
      # of a recipe together, so they are searched only when asked: TUNE_ACTS=f32,bf16,q8.
      acts=${TUNE_ACTS:-f32,bf16}
      rm -f "$work/recipes/$w.db"
      SYNAPTIX_THREADS=$threads "$bin" tune --model "$model" --target cpu --budget "${TUNE_BUDGET:-10m}" \
        ${TUNE_BUCKETS:+--buckets "$TUNE_BUCKETS"} --activations "$acts" --gate-text "${GATE_TEXT:-../shared/data/wiki.test.raw}" \
        --db "$work/recipes/$w.db" --out "$recipe" \
        > "$work/recipes/$w.log" 2>&1 || { tail -5 "$work/recipes/$w.log" >&2; echo "compare: tune failed on $model" >&2; exit 1; }
      echo "Synaptix tuned on $w: recipe $recipe, tuned in $(( $(date +%s) - t0 )) s (budget ${TUNE_BUDGET:-10m}," \
           "activations $acts gated: $(grep '^precision gate' "$work/recipes/$w.log" || echo 'no rounding kernel promoted')) on $(date -u +%F)" \
        > "$work/recipes/$w.note"
    fi
    cat "$work/recipes/$w.note" >> "$d/note" 2>/dev/null || echo "Synaptix tuned on $w: recipe $recipe" >> "$d/note"
    idle "Synaptix $w tuned"
    synaptix_runs "$d" synaptix-tuned "$recipe"
  fi
  if [ -n "${BATCH:-}" ]; then
    # BATCH sequences of 128 prompt tokens, then GEN decode steps over all of them at once
    idle "llama.cpp $w batch $BATCH"
    "$peer_bin/llama-batched-bench" -m "$file" -c $(( BATCH * (128 + gen) + 64 )) -b 2048 -ub 512 -npp 128 -ntg "$gen" \
      -npl "$BATCH" -t "$threads" --output-format jsonl > "$d/llama-batched.jsonl" 2> "$d/llama-batched.log" ||
      { tail -5 "$d/llama-batched.log" >&2; echo "compare: llama-batched-bench failed on $file" >&2; exit 1; }
    for run in synaptix synaptix-tuned; do
      extra=()
      if [ "$run" = synaptix-tuned ]; then
        [ -s "$work/recipes/$w.json" ] && [ "${TUNE:-0}" = 1 ] && [[ ",${TUNE_WEIGHTS:-$w}," == *",$w,"* ]] || continue
        extra=(--recipe "$work/recipes/$w.json")
      fi
      idle "$run $w batch $BATCH"
      SYNAPTIX_THREADS=$threads "$bin" bench --model "$model" --target cpu --batch "$BATCH" --prompt-tokens 16 --repeats 1 \
        --context 128 --decode-steps "$gen" "${extra[@]}" --json > "$d/$run-b$BATCH.json" 2> "$d/$run-b$BATCH.log" ||
        { tail -3 "$d/$run-b$BATCH.log" > "$d/$run-b$BATCH.err"; cat "$d/$run-b$BATCH.err" >&2; }
    done
  fi
  if [ -n "${SYNAPTIX_MODEL:-}" ]; then
    echo "weights differ: Synaptix ran $SYNAPTIX_MODEL, llama.cpp $file (script check only, not a comparison)" >> "$d/note"
  fi
done

idle "after the runs"
table=$work/table.md
{
  echo "Synaptix $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src apps || echo '+local changes') vs $(cat "$peer_bin/../PEER_VERSION" | cut -d, -f1-2)," \
       "$threads threads, $reps repetitions, $(date -u +%FT%TZ)"
  [ "$not_idle" = 1 ] && echo "**NOT IDLE: another process used the CPU during this run (FORCE=1); these timings are not valid.**"
  python3 bench/cpu/compare_table.py "$work" --weights "$weights" --prompts "$prompts" --gen "$gen" ${BATCH:+--batch "$BATCH"}
  cat "$work"/*/note 2>/dev/null || true
  echo "idle checks:"
  sed 's/^/  /' "$work/idle.log"
} > "$table"
cat "$table"
