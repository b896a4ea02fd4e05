#!/usr/bin/env python3
"""A tokenizer for a synthetic full-size model served on the device (bench/gpu/run.sh STAGE=serve).

`synaptix synth --like PRESET` writes random weights and a config but no tokenizer (a preset has none), and
the server decodes every generated id to text, so the vocabulary must cover the model's. This takes the small
llama3-style fixture tokenizer and fills its vocabulary up to VOCAB ids with plain ASCII filler tokens.

    synth_tokenizer.py FIXTURE_DIR OUT_DIR VOCAB
"""
import json
import os
import shutil
import sys

src, out, vocab = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(os.path.join(src, "tokenizer.json")) as f:
    tok = json.load(f)
used = set(tok["model"]["vocab"].values()) | {t["id"] for t in tok.get("added_tokens", [])}
for i in range(vocab):
    if i not in used:
        tok["model"]["vocab"]["<synth%d>" % i] = i
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "tokenizer.json"), "w") as f:
    json.dump(tok, f)
shutil.copyfile(os.path.join(src, "tokenizer_config.json"), os.path.join(out, "tokenizer_config.json"))
