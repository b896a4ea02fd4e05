#!/usr/bin/env python3
"""Test vectors for the GGUF block dequantizers (tests/quant/dequantize_test.cpp), from gguf-py, the
reference Python package that ships with llama.cpp (pip install gguf numpy).

For every block type: <TYPE>.blocks (packed blocks) and <TYPE>.f32 (little-endian f32, what
gguf.quants.dequantize makes of them). The blocks are random bytes, so every bit of every field is
exercised, except the f16/f32 scale fields, which are set to random finite values so that the expected
output has no inf/NaN. With --models DIR it also takes the first blocks of a few tensors of the real GGUF
files (real_<file>__<tensor>.blocks/.f32, and .json naming the tensor and type).

Deterministic: seed 1234. Run from this directory: python3 make_vectors.py [--models ../../../models]
"""
import argparse
import json
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGML_QUANT_SIZES, GGUFReader
from gguf.quants import dequantize

OUT = pathlib.Path(__file__).resolve().parent

# Byte offsets of the f16 scale fields in each block (ggml-common.h), and of Q8_K's f32 scale.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
BLOCK_TYPES = list(F16_FIELDS)
N_BLOCKS = 8


def write(name, blocks: np.ndarray, expected: np.ndarray):
    (OUT / f"{name}.blocks").write_bytes(blocks.astype(np.uint8).tobytes())
    (OUT / f"{name}.f32").write_bytes(expected.astype("<f4").tobytes())


def random_blocks(rng, qtype):
    elems, nbytes = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(N_BLOCKS, nbytes), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        # Scales of the size real models have, both signs (a negative d or dmin is legal).
        d = (rng.standard_normal(N_BLOCKS) * 0.02).astype(np.float16)
        blocks[:, off:off + 2] = d.view(np.uint8).reshape(N_BLOCKS, 2)
    return blocks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=pathlib.Path)
    args = ap.parse_args()
    rng = np.random.default_rng(1234)

    for qtype in BLOCK_TYPES:
        blocks = random_blocks(rng, qtype)
        expected = dequantize(blocks.reshape(-1), qtype)
        write(qtype.name, blocks, expected.reshape(-1))

    # Scalar types: 64 random values each, including signed zero, subnormals and infinities.
    values = np.concatenate([rng.standard_normal(56).astype(np.float32),
                             np.array([0.0, -0.0, 1e-40, -1e-40, 65504.0, np.inf, -np.inf, 3.0e38], np.float32)])
    write("F32", values.view(np.uint8), dequantize(values.view(np.uint8), T.F32))
    f16 = values.astype(np.float16)
    write("F16", f16.view(np.uint8), dequantize(f16.view(np.uint8), T.F16))
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)  # truncation: any bit pattern is a valid input
    write("BF16", bf16.view(np.uint8), dequantize(bf16.view(np.uint8), T.BF16))

    if args.models:
        for path in sorted(args.models.glob("*.gguf")):
            reader = GGUFReader(path)
            seen = set()
            for t in reader.tensors:
                qtype = t.tensor_type
                if qtype in seen or qtype in (T.F32,):
                    continue
                seen.add(qtype)
                elems, nbytes = GGML_QUANT_SIZES[qtype]
                n = 4
                raw = np.asarray(t.data).reshape(-1).view(np.uint8)[: n * nbytes]
                name = f"real_{path.stem}__{t.name}"
                write(name, raw, dequantize(raw, qtype).reshape(-1))
                (OUT / f"{name}.json").write_text(json.dumps(
                    {"file": path.name, "tensor": t.name, "type": qtype.name, "blocks": n}) + "\n")


if __name__ == "__main__":
    main()
