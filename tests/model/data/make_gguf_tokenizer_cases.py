#!/usr/bin/env python3
"""Make tests/model/data/gguf_tokenizer_cases_<model>.jsonl: texts and the token ids llama.cpp gives them.

The reference is llama.cpp's llama-tokenize run on the GGUF file itself (BOS/EOS as the file asks, special
tokens parsed, the text passed on stdin byte for byte with no escape processing):

    llama-tokenize -m FILE.gguf --stdin --ids --log-disable --no-escape

Usage (from the repository root, with llama.cpp built into peers/llama.cpp/build):
    python3 tests/model/data/make_gguf_tokenizer_cases.py \
        --llama-tokenize peers/llama.cpp/build/bin/llama-tokenize \
        --shared ../shared models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf

Each output line is {"text": ..., "ids": [...]}, where ids include what add_special adds (the test encodes
with add_special_tokens = true).
"""
import argparse
import json
import os
import subprocess
import sys

HANDWRITTEN = [
    # whitespace
    " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n\n", " \n", "\n ", " \n \n ", "\r\n", "a\r\nb",
    "Hello world", " Hello world", "Hello world ", "Hello  world", "Hello   world", "  Hello\t\tworld  ",
    "line one\nline two\n\nline four\n", "trailing spaces   ", "    indented code", "\u00a0non-breaking\u00a0space",
    "tab\tseparated\tvalues\t1\t2", "a\u2003em\u2002en\u2009thin",
    # digits
    "0", "12", "123", "1234", "12345678901234567890", "3.14159", "1,000,000", "2024-01-01T12:34:56Z",
    "$19.99 or 20%", "x1y22z333", "\u0661\u0662\u0663 arabic digits", "\u2460\u2461 circled", "\u00bd half",
    # apostrophes and case
    "don't", "DON'T", "I'm we'll they've she'd it's", "I'M WE'LL", "rock 'n' roll", "'s 't 're", "the cat's hat",
    "\u017fong s", "\u212a kelvin", "ALL CAPS SENTENCE.", "camelCaseIdentifier", "snake_case_name",
    # punctuation and symbols
    "Hello, world! How are you?", "...", "!!!???", "(a) [b] {c} <d>", "a->b => c", "x <= y >= z != w",
    "#include <stdio.h>", "email@example.com", "https://example.com/path?q=1&r=2#frag", "C:\\path\\to\\file",
    "~`!@#$%^&*()_+-=", "\u201cquoted\u201d \u2018single\u2019 \u2014 dash \u2013 en", "\u2026 ellipsis",
    # unicode
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9", "cafe\u0301 (combining)", "\u00c5ngstr\u00f6m", "Stra\u00dfe",
    "\u4e2d\u6587\u5b57\u7b26", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5",
    "\U0001f600\U0001f680\U0001f30d", "\U0001f468\u200d\U0001f469\u200d\U0001f467 family", "\U0001f44d\U0001f3fd",
    "\u2200x \u2208 \u211d: x\u00b2 \u2265 0", "\u00a9\u00ae\u2122", "\uff21\uff22\uff23 fullwidth", "\u200b zero width",
    "\U00010348 gothic", "\U0001d4b3 math script", "\ufeffbom", "\u0300 leading combining mark",
    # code and markup
    "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    '{"key": "value", "list": [1, 2, 3]}', "<table><tr><td>1</td></tr></table>", "<h1>Title</h1>\n<p>text</p>",
    "<div class=\"x\"><span>y</span></div>", "| a | b |\n|---|---|\n| 1 | 2 |",
    # special tokens of both vocabularies
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", "text<|endoftext|>more",
    "<|im_start|><|im_end|>", "<|im_start", "im_end|>", "< |im_end| >",
    "<start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n", "<bos>text", "<eos>", "<pad><unk><mask>",
    "<unused0> <unused12>", "<start_of_image>", "<end_of_turn><end_of_turn>", "a<bos>b", " <bos> ",
    "<repo_name>synaptix<file_sep>main.cpp", "<0x41>", "<0xZZ>",
]


def wiki_lines(path, count):
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    nonempty = [l for l in lines if l.strip()]
    step = max(1, len(nonempty) // count)
    picked = nonempty[::step][:count]
    # a few multi-line blocks exactly as the file has them (headings, blank lines, leading spaces)
    blocks = ["\n".join(lines[i:i + 6]) + "\n" for i in range(0, min(len(lines), 6 * 40), 6 * 8)]
    return picked + blocks


def story_lines(path, count):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    paras = [p for p in text.split("\n") if p.strip()]
    step = max(1, len(paras) // count)
    return paras[::step][:count]


def llama_ids(tool, model, text):
    out = subprocess.run([tool, "-m", model, "--stdin", "--ids", "--log-disable", "--no-escape"],
                         input=text.encode("utf-8"), capture_output=True, check=True)
    lines = [l for l in out.stdout.decode().splitlines() if l.startswith("[")]
    if len(lines) != 1:
        raise RuntimeError(f"unexpected llama-tokenize output for {text!r}: {out.stdout!r}")
    return json.loads(lines[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-tokenize", required=True)
    ap.add_argument("--shared", required=True, help="the shared directory (data/wiki.test.raw, data/tinystories_val.txt)")
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()

    texts = list(HANDWRITTEN)
    texts += wiki_lines(os.path.join(args.shared, "data/wiki.test.raw"), 120)
    texts += story_lines(os.path.join(args.shared, "data/tinystories_val.txt"), 60)
    seen = set()
    texts = [t for t in texts if not (t in seen or seen.add(t))]

    for model in args.models:
        name = os.path.basename(model).split(".")[0]  # SmolLM2-135M-Instruct, gemma-3-270m-q4_k_m
        path = os.path.join(args.out_dir, f"gguf_tokenizer_cases_{name}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for text in texts:
                f.write(json.dumps({"text": text, "ids": llama_ids(args.llama_tokenize, model, text)},
                                   ensure_ascii=False) + "\n")
        print(f"{path}: {len(texts)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
