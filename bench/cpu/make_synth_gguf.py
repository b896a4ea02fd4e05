#!/usr/bin/env python3
"""Writes a llama-architecture GGUF with random bf16 weights in the shape of a published model, so both
engines can be timed on the same large file without downloading one (speed only: the weights are noise).

The tokenizer is SmolLM2's (read from its GGUF), padded with unused tokens to the preset's vocabulary, so
both engines load a real byte-level BPE tokenizer and the LM head has the preset's size.
Usage: make_synth_gguf.py --like llama-3.2-1b --tokenizer-from SmolLM2.gguf --out FILE.gguf [--seed N]
Needs numpy and llama.cpp's gguf-py (peers/llama.cpp/gguf-py, from bench/cpu/build-peer.sh).
"""
import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "peers", "llama.cpp", "gguf-py"))
import gguf  # noqa: E402

# Hugging Face config values of the published models (config.json); rope scaling left out (speed only).
PRESETS = {
    "llama-3.2-1b": dict(hidden=2048, layers=16, heads=32, kv_heads=8, inter=8192, vocab=128256,
                         rope_theta=500000.0, eps=1e-5, ctx=8192, tied=True),
    "llama-3.2-3b": dict(hidden=3072, layers=28, heads=24, kv_heads=8, inter=8192, vocab=128256,
                         rope_theta=500000.0, eps=1e-5, ctx=8192, tied=True),
}


def bf16(rng, shape, scale):
    x = rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)
    return (x.view(np.uint32) >> 16).astype(np.uint16)  # truncation: these are random numbers anyway


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--like", required=True, choices=sorted(PRESETS))
    ap.add_argument("--tokenizer-from", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    p = PRESETS[a.like]
    rng = np.random.default_rng(a.seed)

    src = gguf.GGUFReader(a.tokenizer_from)
    w = gguf.GGUFWriter(a.out + ".tmp", "llama")
    w.add_name(f"synth {a.like} (random bf16 weights)")
    w.add_context_length(p["ctx"])
    w.add_embedding_length(p["hidden"])
    w.add_block_count(p["layers"])
    w.add_feed_forward_length(p["inter"])
    w.add_head_count(p["heads"])
    w.add_head_count_kv(p["kv_heads"])
    w.add_rope_dimension_count(p["hidden"] // p["heads"])
    w.add_rope_freq_base(p["rope_theta"])
    w.add_layer_norm_rms_eps(p["eps"])
    w.add_vocab_size(p["vocab"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)

    for name, field in src.fields.items():
        if not name.startswith("tokenizer.") or name == "tokenizer.chat_template":
            continue
        val = field.contents()
        if name in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"):
            pad = p["vocab"] - len(val)
            if pad < 0:
                sys.exit(f"{a.tokenizer_from}: {len(val)} tokens, more than the preset's vocabulary {p['vocab']}")
            if name == "tokenizer.ggml.tokens":
                val = val + [f"<|synth_unused_{i}|>" for i in range(pad)]
            elif name == "tokenizer.ggml.token_type":
                val = val + [int(gguf.TokenType.UNUSED)] * pad
            else:
                val = val + [0.0] * pad
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            w.add_key_value(name, val, gguf.GGUFValueType.ARRAY, sub_type=field.types[-1])
        else:
            w.add_key_value(name, val, field.types[0])

    h, kvd, f = p["hidden"], p["kv_heads"] * (p["hidden"] // p["heads"]), p["inter"]
    w.add_tensor("token_embd.weight", bf16(rng, (p["vocab"], h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
    for l in range(p["layers"]):
        b = f"blk.{l}."
        w.add_tensor(b + "attn_norm.weight", np.ones(h, np.float32))
        w.add_tensor(b + "attn_q.weight", bf16(rng, (h, h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
        w.add_tensor(b + "attn_k.weight", bf16(rng, (kvd, h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
        w.add_tensor(b + "attn_v.weight", bf16(rng, (kvd, h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
        w.add_tensor(b + "attn_output.weight", bf16(rng, (h, h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
        w.add_tensor(b + "ffn_norm.weight", np.ones(h, np.float32))
        w.add_tensor(b + "ffn_gate.weight", bf16(rng, (f, h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
        w.add_tensor(b + "ffn_up.weight", bf16(rng, (f, h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
        w.add_tensor(b + "ffn_down.weight", bf16(rng, (h, f), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.add_tensor("output_norm.weight", np.ones(h, np.float32))
    if not p["tied"]:
        w.add_tensor("output.weight", bf16(rng, (p["vocab"], h), 0.02), raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(a.out + ".tmp", a.out)
    print(a.out)


if __name__ == "__main__":
    main()
