#!/usr/bin/env bash
# The real models and the quality gate on the device machine (the GPU-run issue for the quality work):
# perplexity of a GGUF model on wikitext-2 test at ctx 512 on cuda:0 and on this machine's CPU, and
# `eval compare` of the fast CUDA path (bf16 KV cache, one bf16 product) against the accurate one (f32 KV,
# two products) under the default 8-bit gate, with golden sets. Uses the binaries of bench/gpu/pack.sh.
#   MODEL=path.gguf PPL_WINDOWS=0 WINDOWS=40 LIMIT=30 bench/gpu/eval.sh   (PPL_WINDOWS 0: the whole text)
# A model larger than one call can carry arrives in parts (.gpu-m1/, .gpu-m2/, ...), joined here.
set -uo pipefail
source "$(dirname "$0")/env.sh"
BIN=.gpu-carry/bin
SX=$BIN/synaptix
TEXT=${TEXT:-.gpu-carry/shared/data/wiki.test.raw}
WINDOWS=${WINDOWS:-40}
PPL_WINDOWS=${PPL_WINDOWS:-0}
LIMIT=${LIMIT:-30}
MODEL=${MODEL:-/tmp/model.gguf}
if [ ! -s "$MODEL" ] && ls .gpu-m*/*.part* > /dev/null 2>&1; then
  cat $(ls .gpu-m*/*.part* | sort -t. -k3) > "$MODEL"
fi
ls -la "$MODEL" && sha256sum "$MODEL"
run() {  # name, timeout, command...
  local name=$1 t=$2; shift 2
  local start=$SECONDS
  timeout "$t" "$@" > "$OUT/$name.log" 2>&1
  echo "== $name rc=$? $((SECONDS - start)) s"
  tail -n 6 "$OUT/$name.log"
}
run ppl_cuda_accurate 240 "$SX" eval perplexity --model "$MODEL" --target cuda:0 --text "$TEXT" --ctx 512 --max-windows "$PPL_WINDOWS"
run ppl_cpu 300 "$SX" eval perplexity --model "$MODEL" --target cpu --text "$TEXT" --ctx 512 --max-windows "$PPL_WINDOWS"
run compare_fast_vs_accurate 400 "$SX" eval compare --model "$MODEL" \
  --incumbent target=cuda:0,kv=f32,products=2 --candidate target=cuda:0,kv=bf16,products=1 \
  --text "$TEXT" --ctx 512 --max-windows "$WINDOWS" \
  --set eval/sets/choice.jsonl --set eval/sets/format.jsonl --set eval/sets/gsm8k.jsonl --limit "$LIMIT" --gate 8bit
