#!/usr/bin/env python3
"""Prints the Synaptix vs llama.cpp table from the files bench/cpu/compare.sh wrote into WORK:

  WORK/profile.json                    `synaptix profile --target cpu --json` (measured ceilings)
  WORK/<weights>/llama-bench.json      `llama-bench -o json` (pp<P> and tg<N> rows; model_size, model_n_params)
  WORK/<weights>/synaptix-pp<P>.json   `synaptix bench --json` with --prompt-tokens P (the first also holds tg<N>)
  WORK/<weights>/synaptix.err          why Synaptix could not run these weights (when it could not)
  WORK/<weights>/llama-batched.jsonl   with --batch B: `llama-batched-bench -npl B --output-format jsonl`
  WORK/<weights>/synaptix[-tuned]-b<B>.json  with --batch B: `synaptix bench --batch B --json`

Rooflines use the same figures for both engines: bytes per decoded token = the GGUF's tensor bytes
(llama-bench's model_size: every weight read once per token), FLOPs per prompt token = 2 x its parameter
count (attention's own FLOPs left out), against the measured read bandwidth and f32 FMA peak.
"""
import argparse
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def fmt(x, digits=1):
    return "n/a" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def read_synaptix(d, prefix, w, prompts, gen, notes):
    """Figures of one set of `synaptix bench` runs (PREFIX-pp<P>.json) and the bytes it held; {} if absent."""
    ours, held = {}, None
    err = os.path.join(d, f"{prefix}.err")
    if os.path.exists(err):
        with open(err) as f:
            notes.append(f"{prefix} on {w}: {f.read().strip()}")
        return ours, held
    for i, p in enumerate(prompts):
        path = os.path.join(d, f"{prefix}-pp{p}.json")
        if not os.path.exists(path):
            return {}, None
        sj = load(path)
        ours[f"pp{p}"] = sj["prefill"]["tokens_per_s"]
        if i == 0:
            ours[f"tg{gen}"] = sj["decode"][0]["tokens_per_s"]
            held = sj["weight_bytes"]
    return ours, held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("--weights", required=True, help="comma-separated weight variants (sub-folders of WORK)")
    ap.add_argument("--prompts", required=True, help="comma-separated prompt lengths, e.g. 128,512")
    ap.add_argument("--gen", type=int, required=True, help="decoded tokens, e.g. 64")
    ap.add_argument("--batch", type=int, default=0, help="also the batch-B decode table")
    a = ap.parse_args()
    prompts = [int(p) for p in a.prompts.split(",")]
    prof = load(os.path.join(a.work, "profile.json"))
    bw, fma = prof["mem_read_gbps"], prof["fma_gflops"]

    rows, notes = [], []
    for w in a.weights.split(","):
        d = os.path.join(a.work, w)
        lb = load(os.path.join(d, "llama-bench.json"))
        size, params = lb[0]["model_size"], lb[0]["model_n_params"]
        peer = {f"pp{r['n_prompt']}": r["avg_ts"] for r in lb if r["n_gen"] == 0}
        peer.update({f"tg{r['n_gen']}": r["avg_ts"] for r in lb if r["n_prompt"] == 0})
        ours, held = read_synaptix(d, "synaptix", w, prompts, a.gen, notes)
        tuned, _ = read_synaptix(d, "synaptix-tuned", w, prompts, a.gen, notes)
        cols = [f"pp{p}" for p in prompts] + [f"tg{a.gen}"]
        roof = {f"pp{p}": fma * 1e9 / (2.0 * params) for p in prompts}
        roof[f"tg{a.gen}"] = bw * 1e9 / size
        label = f"{w} ({size / 1e6:.0f} MB)"
        ours_label = label
        if held is not None and abs(held - size) > 0.01 * size:
            # e.g. a quantized file that Synaptix dequantizes at load: it then reads more bytes per token
            ours_label = f"{w} (held as {held / 1e6:.0f} MB)"
            notes.append(f"Synaptix holds the {w} weights as {held / 1e6:.0f} MB, the file's tensors are "
                         f"{size / 1e6:.0f} MB; its roofline ratios are against the file's bytes.")
        engines = [("Synaptix", ours, ours_label)]
        if tuned:
            engines.append(("Synaptix tuned", tuned, ours_label))
        for engine, got, lab in engines + [("llama.cpp", peer, label)]:
            rows.append([engine, lab] + [fmt(got.get(c)) for c in cols] +
                        [" / ".join(fmt(ratio(got.get(c), peer.get(c)), 2) for c in cols),
                         " / ".join(fmt(ratio(got.get(c), roof[c]), 2) for c in cols)])
        rows.append(["roofline", label] + [fmt(roof[c]) for c in cols] + ["", ""])

    head = ["engine", "weights"] + [f"pp{p}" for p in prompts] + [f"tg{a.gen}", "× llama.cpp", "× roofline"]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(wd) for c, wd in zip(r, widths)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for r in rows:
        print(line(r))
    cols = ", ".join([f"pp{p}" for p in prompts] + [f"tg{a.gen}"])
    print(f"tokens/s (llama-bench: mean of its repetitions; synaptix bench: median). Ratios are listed as {cols}.")
    print(f"roofline: pp = f32 FMA peak {fma:.1f} GFLOP/s / (2 x parameters) per token; "
          f"tg = read bandwidth {bw:.1f} GB/s / weight bytes per token (both measured by `synaptix profile`). "
          "bf16 dot-product instructions can exceed the f32 FMA peak (ratio > 1).")
    if a.batch:
        print_batch_table(a, bw, notes)
    for n in notes:
        print(n)
    return 0


def print_batch_table(a, bw, notes):
    """Decode of B sequences at once: aggregate tokens/s of both engines and the roofline of B tokens per read
    of the weights (the KV cache's bytes left out: 128-192 positions are small beside the weights)."""
    B, rows = a.batch, []
    for w in a.weights.split(","):
        d = os.path.join(a.work, w)
        size = load(os.path.join(d, "llama-bench.json"))[0]["model_size"]
        roof = B * bw * 1e9 / size
        peer = None
        path = os.path.join(d, "llama-batched.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        if r.get("pl") == B:
                            peer = r["speed_tg"]
        got = []
        for prefix, engine in (("synaptix", "Synaptix"), ("synaptix-tuned", "Synaptix tuned")):
            p = os.path.join(d, f"{prefix}-b{B}.json")
            e = os.path.join(d, f"{prefix}-b{B}.err")
            if os.path.exists(e):
                with open(e) as f:
                    notes.append(f"{prefix} batch {B} on {w}: {f.read().strip()}")
            if os.path.exists(p):
                got.append((engine, load(p)["decode"][0]["tokens_per_s"]))
        for engine, v in got + [("llama.cpp", peer)]:
            rows.append([engine, w, fmt(v), fmt(ratio(v, peer), 2), fmt(ratio(v, roof), 2)])
        rows.append(["roofline", w, fmt(roof), "", ""])
    head = ["engine", "weights", f"decode b={B} tok/s", "× llama.cpp", "× roofline"]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(wd) for c, wd in zip(r, widths)) + " |"
    print()
    print(line(head))
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for r in rows:
        print(line(r))
    print(f"decode b={B}: {B} sequences with 128 prompt tokens each, then {a.gen} steps of all {B} at once; tokens/s "
          f"counts every sequence's tokens (llama-batched-bench's S_TG, one run; synaptix bench: median step). "
          f"roofline = {B} x read bandwidth / weight bytes.")


if __name__ == "__main__":
    sys.exit(main())
