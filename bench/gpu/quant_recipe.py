#!/usr/bin/env python3
"""Writes a quantization recipe (quant/quant_recipe.h) that puts every attention and MLP projection of a
dense model's LAYERS layers in one weight FORMAT, round to nearest: the recipe run.sh STAGE=quant-eval gives
`eval compare --incumbent target=cpu,quant=R --candidate target=cuda:0,quant=R`.

    bench/gpu/quant_recipe.py FORMAT LAYERS OUT.json
"""
import json
import sys

PROJECTIONS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    fmt, layers, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tensors = {f"model.layers.{l}.{p}.weight": fmt for l in range(layers) for p in PROJECTIONS}
    with open(out, "w") as f:
        json.dump({"synaptix_quant_recipe": 1, "method": "rtn", "model": f"{layers} layers, every projection {fmt}",
                   "tensors": tensors}, f, indent=1)


if __name__ == "__main__":
    main()
