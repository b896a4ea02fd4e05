# Sourced by bench/gpu/run.sh for STAGE=tune | recipe-bench | serve (see its header): the tuned CUDA path as a
# user runs it, on the $PRESET shape. Expects SX, BIN, OUT, WORK, PRESET, RECIPE from run.sh.
mkdir -p "$WORK"
case "$STAGE" in
tune)
  # The search, timed as a whole (isolated trials in forked children, then whole decode steps).
  t0=$(date +%s)
  timeout 570 "$SX" tune --target cuda:0 --like "$PRESET" --db "$WORK/tuning.db" \
    --precision "${PRECISION:-kv=bf16,products=1}" --out "$RECIPE" ${TUNE_ARGS:-} > "$OUT/tune.log" 2>&1
  rc=$?
  echo "tune rc=$rc, wall $(( $(date +%s) - t0 )) s" | tee -a "$OUT/tune.log"
  grep -vE '^\[tune cuda\] in-context' "$OUT/tune.log" | tail -n 20
  [ -f "$RECIPE" ] && cp "$RECIPE" "$OUT/"
  exit $rc
  ;;
recipe-bench)
  [ -f "$RECIPE" ] || { echo "no recipe at $RECIPE: run STAGE=tune first"; exit 1; }
  timeout 570 "$SX" gpu-bench --like "$PRESET" --recipe "$RECIPE" --json "$WORK/bench-recipe.json" ${BENCH_ARGS:-} \
    > "$OUT/bench-recipe.log" 2>&1
  rc=$?
  echo "gpu-bench --recipe rc=$rc"
  cp "$WORK/bench-recipe.json" "$OUT/" 2>/dev/null
  tail -n 14 "$OUT/bench-recipe.log"
  exit $rc
  ;;
serve)
  [ -f "$RECIPE" ] || { echo "no recipe at $RECIPE: run STAGE=tune first"; exit 1; }
  MODEL=$WORK/model-$PRESET
  if [ ! -f "$MODEL/config.json" ]; then
    "$SX" synth --like "$PRESET" --out "$MODEL" > "$OUT/synth.log" 2>&1 || { tail -5 "$OUT/synth.log"; exit 1; }
    cp .gpu-carry/shared/tokenizer-128256/* "$MODEL/"
  fi
  PORT=${PORT:-18080}
  URL=http://127.0.0.1:$PORT
  "$SX" serve --model "$MODEL" --target cuda:0 --recipe "$RECIPE" --port "$PORT" --served-model-name synth \
    --kv-blocks 4096 --max-running 64 --max-batched-tokens 2048 --no-prefix-cache > "$OUT/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 240); do
    grep -q '^serving ' "$OUT/serve.log" && break
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 1
  done
  if ! grep -q '^serving ' "$OUT/serve.log"; then
    echo "server did not start:"; tail -20 "$OUT/serve.log"; kill "$SERVER" 2>/dev/null; exit 1
  fi
  head -5 "$OUT/serve.log"
  # Decode: one wave of c requests (128-token prompts, 256 tokens out) at concurrency c; the step time is the
  # median time per output token, so c / TPOT is the batch-c decode rate the server delivers.
  for c in 1 8 32 64; do
    : > "$WORK/decode-$c.jsonl"
    for i in $(seq 1 "$c"); do
      echo "{\"id\": \"d$i\", \"arrival_s\": 0, \"prompt_tokens\": 128, \"max_tokens\": 256}" >> "$WORK/decode-$c.jsonl"
    done
    timeout 120 "$SX" bench serve --url "$URL" --trace "$WORK/decode-$c.jsonl" --concurrency "$c" --json \
      > "$OUT/serve-decode-$c.json" 2> "$OUT/serve-decode-$c.err"
    echo "bench serve c=$c rc=$?"
  done
  # Prefill: three 2048-token prompts one at a time, one token out; prefill rate from the median TTFT.
  : > "$WORK/prefill.jsonl"
  for i in 1 2 3; do
    echo "{\"id\": \"p$i\", \"arrival_s\": 0, \"prompt_tokens\": 2048, \"max_tokens\": 1}" >> "$WORK/prefill.jsonl"
  done
  timeout 120 "$SX" bench serve --url "$URL" --trace "$WORK/prefill.jsonl" --concurrency 1 --json \
    > "$OUT/serve-prefill.json" 2> "$OUT/serve-prefill.err"
  echo "bench serve prefill rc=$?"
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null
  # The table of issue 19: gpu-bench's rows on this recipe (ceilings of that run) and the served path.
  python3 - "$WORK/bench-recipe.json" "$OUT" <<'PY' | tee "$OUT/table.md"
import json, os, sys
bench, out = sys.argv[1], sys.argv[2]
b = json.load(open(bench)) if os.path.exists(bench) else None
if b is None:
    print("no gpu-bench results at %s: run STAGE=recipe-bench first (ceilings come from it)" % bench)
c = b["ceilings"] if b else {}
roof, peak, flops = c.get("roofline_b1_tok_s", 0), c.get("bf16_tflops", 0), c.get("prefill_flops", 0)
print("| plan | b=1 tok/s | b=8 | b=32 | b=64 | b1 / roofline | prefill tok/s | prefill / peak |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
def row(name, dec, pre_tok_s):
    cells = ["%.1f" % dec.get(k, 0) if dec.get(k) else "-" for k in (1, 8, 32, 64)]
    r1 = "%.1f%%" % (100 * dec[1] / roof) if roof and dec.get(1) else "-"
    pp = "%.1f%%" % (100 * flops / (2048 / pre_tok_s) / 1e12 / peak) if peak and pre_tok_s else "-"
    print("| %s | %s | %s | %s | %s |" % (name, " | ".join(cells), r1, "%.0f" % pre_tok_s if pre_tok_s else "-", pp))
for run in (b or {}).get("runs", []):
    dec = {d["batch"]: d["tok_s"] for d in run.get("decode", [])}
    row("gpu-bench " + run["plan"], dec, run.get("prefill_tok_s", 0))
served = {}
for c in (1, 8, 32, 64):
    try:
        r = json.load(open(os.path.join(out, "serve-decode-%d.json" % c)))
        if r["succeeded"] == c and r["tpot_ms"]["p50"] > 0:
            served[c] = c * 1000.0 / r["tpot_ms"]["p50"]
    except Exception as e:
        print("serve c=%d: %s" % (c, e))
pre = 0
try:
    r = json.load(open(os.path.join(out, "serve-prefill.json")))
    pre = 2048 * 1000.0 / r["ttft_ms"]["p50"] if r["succeeded"] == 3 else 0
except Exception as e:
    print("serve prefill: %s" % e)
row("serve --recipe (bench serve: c / TPOT p50, 2048 / TTFT p50)", served, pre)
rec = [r for r in (b or {}).get("runs", []) if r["plan"] == "recipe"]
if rec and served.get(1):
    g = {d["batch"]: d["tok_s"] for d in rec[0]["decode"]}
    print("\nserved / gpu-bench (recipe row), b=1: %.1f%%" % (100 * served[1] / g[1]))
sync = (b or {}).get("decode_b1_tuned_host_sync", {}).get("tok_s", 0)
if sync and served.get(1):
    # serve runs one greedy step per launch and reads its ids before the next (no pipelining, no multi-step).
    print("served / gpu-bench host-synchronous steps (as serve runs them), b=1: %.1f%% (%.1f tok/s)"
          % (100 * served[1] / sync, sync))
PY
  ;;
esac
