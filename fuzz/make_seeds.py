#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from real files: the Hugging Face fixtures in
../shared/fixtures (config.json, safetensors headers, tokenizers trimmed to a small vocabulary, chat templates),
the published chat templates the model tests carry, the chat templates inside the GGUF models when they are
installed, and a tiny GGUF written here by the format's spec. Run from the repository root; deterministic."""
import json
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "..", "shared", "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def models():
    d = os.path.join(FIX, "models")
    return sorted(n for n in os.listdir(d) if os.path.isdir(os.path.join(d, n)))


def config_seeds():
    for m in models():
        with open(os.path.join(FIX, "models", m, "config.json"), "rb") as f:
            write("config", m + ".json", f.read())


def safetensors_seeds():
    # Small tensors only (norm weights, 1-D), so that seeds stay a few KB.
    for m in ["llama", "qwen2", "mixtral-moe", "gemma3"]:
        path = os.path.join(FIX, "models", m, "model.safetensors")
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        small = {k: v for k, v in header.items() if k == "__metadata__" or len(v["shape"]) == 1}
        keep = [k for k in small if k != "__metadata__"][:3]
        # Rebuild from the chosen 1-D tensors only.
        with open(path, "rb") as f:
            f.seek(8 + n)
            data = f.read()
        out, blobs, off = {"__metadata__": header.get("__metadata__", {})}, [], 0
        for k in keep:
            b, e = header[k]["data_offsets"]
            out[k] = dict(header[k], data_offsets=[off, off + e - b])
            blobs.append(data[b:e])
            off += e - b
        h = json.dumps(out, separators=(",", ":")).encode()
        write("safetensors", m + ".safetensors", struct.pack("<Q", len(h)) + h + b"".join(blobs))
    write("safetensors", "empty_header.safetensors", struct.pack("<Q", 2) + b"{}")


def trim_tokenizer(tok, keep_merges):
    """A smaller tokenizer of the same layout: the base symbols (bytes, specials) and the first merges."""
    vocab = tok["model"]["vocab"]
    merges = tok["model"].get("merges", [])
    pairs = [m.split(" ", 1) if isinstance(m, str) else m for m in merges]
    produced = {a + b for a, b in pairs}
    base = {t: i for t, i in vocab.items() if t not in produced}
    kept = []
    for a, b in pairs:
        if len(kept) == keep_merges:
            break
        if (a in base or a in {x + y for x, y in kept}) and (b in base or b in {x + y for x, y in kept}):
            kept.append((a, b))
    new_vocab = dict(base)
    for a, b in kept:
        if a + b in vocab:
            new_vocab[a + b] = vocab[a + b]
    out = dict(tok)
    out["model"] = dict(tok["model"], vocab=dict(sorted(new_vocab.items(), key=lambda kv: kv[1])),
                        merges=[a + " " + b if isinstance(merges[0], str) else [a, b] for a, b in kept])
    return out


def tokenizer_seeds():
    for style in ["byte_level", "llama3_style", "sentencepiece_style"]:
        d = os.path.join(FIX, "tokenizers", style)
        with open(os.path.join(d, "tokenizer.json")) as f:
            tok = json.load(f)
        with open(os.path.join(d, "tokenizer_config.json"), "rb") as f:
            cfg = f.read()
        with open(os.path.join(d, "cases.jsonl")) as f:
            text = json.loads(f.readline())["text"]
        small = json.dumps(trim_tokenizer(tok, 24), ensure_ascii=False, separators=(",", ":")).encode()
        write("tokenizer", style + ".bin", small + b"\0" + cfg + b"\0" + text.encode())
        write("tokenizer", style + "_noconfig.bin", small)


def tokenizer_text_seeds():
    for style in ["byte_level", "llama3_style", "sentencepiece_style"]:
        with open(os.path.join(FIX, "tokenizers", style, "cases.jsonl")) as f:
            for i, line in enumerate(f):
                if i == 3:
                    break
                write("tokenizer_text", "%s_%d.txt" % (style, i), json.loads(line)["text"])
    write("tokenizer_text", "mixed.txt", "Hello, world! 123 h\u00e9llo \u65e5\u672c\u8a9e \U0001f642\n"
                                         "<|im_start|>user\n  two  spaces\ttab\r\n")


def published_templates():
    """The published templates (Qwen2.5, Qwen3, Llama-3.2, Mistral-Nemo) the chat template tests carry."""
    path = os.path.join(ROOT, "tests", "model", "chat_template_test.cpp")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        src = f.read()
    return {m.group(1): m.group(2) for m in re.finditer(r'const char\* const (k\w+) = R"TPL\((.*?)\)TPL";', src, re.S)}


def gguf_strings(path, wanted):
    """String values of the wanted keys from a GGUF file's metadata (v2/v3, little-endian)."""
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    found = {}
    with open(path, "rb") as f:
        magic, version, n_tensors, n_kv = struct.unpack("<4sIQQ", f.read(24))
        if magic != b"GGUF":
            return found

        def rstr():
            (n,) = struct.unpack("<Q", f.read(8))
            return f.read(n)

        def skip(t):
            if t == 8:
                rstr()
            elif t == 9:
                et, cnt = struct.unpack("<IQ", f.read(12))
                if et == 8:
                    for _ in range(cnt):
                        rstr()
                else:
                    f.seek(sizes[et] * cnt, 1)
            else:
                f.seek(sizes[t], 1)

        for _ in range(n_kv):
            key = rstr().decode()
            (t,) = struct.unpack("<I", f.read(4))
            if t == 8 and key in wanted:
                found[key] = rstr().decode()
            else:
                skip(t)
    return found


def chat_template_seeds():
    seen = set()
    with open(os.path.join(FIX, "chat", "cases.jsonl")) as f:
        for line in f:
            t = json.loads(line)["template"]
            if t not in seen:
                seen.add(t)
                write("chat_template", "fixture_%d.jinja" % len(seen), t)
    for m in models():
        with open(os.path.join(FIX, "models", m, "tokenizer_config.json")) as f:
            t = json.load(f).get("chat_template")
        if isinstance(t, str) and t not in seen:
            seen.add(t)
            write("chat_template", m + ".jinja", t)
    for name, t in published_templates().items():
        write("chat_template", name[1:] + ".jinja", t)
    for g in ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]:
        p = os.path.join(ROOT, "models", g)
        if os.path.exists(p):
            t = gguf_strings(p, {"tokenizer.chat_template"}).get("tokenizer.chat_template")
            if t:
                write("chat_template", g.split(".")[0] + ".jinja", t)


def request_body_seeds():
    bodies = {
        "completion_text": {"model": "fuzz-model", "prompt": "Once upon a time", "max_tokens": 8,
                            "temperature": 0.7, "top_p": 0.9, "stop": ["\n", "."], "seed": 7},
        "completion_ids": {"model": "fuzz-model", "prompt": [1, 2, 3], "max_tokens": 4, "logprobs": 1,
                           "echo": True, "n": 2, "best_of": 2},
        "completion_nested": {"model": "fuzz-model", "prompt": [[5, 6, 7]], "stream": True,
                              "stream_options": {"include_usage": True}, "ignore_eos": True, "min_tokens": 2},
        "chat": {"model": "fuzz-model", "messages": [{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": "Hello!"}],
                 "max_completion_tokens": 16, "top_k": 40, "repetition_penalty": 1.1,
                 "presence_penalty": 0.5, "frequency_penalty": -0.5, "logprobs": True},
        "chat_parts": {"model": "fuzz-model", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
            {"role": "tool", "content": "1", "tool_call_id": "c1"}], "stream": True},
        "wrong_model": {"model": "other", "prompt": "x"},
    }
    for name, b in bodies.items():
        write("request_body", name + ".json", json.dumps(b, ensure_ascii=False))


def gguf_value(t, v):
    if t == 8:
        b = v.encode()
        return struct.pack("<Q", len(b)) + b
    if t == 9:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gguf_value(et, x) for x in items)
    fmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}[t]
    return struct.pack(fmt, v)


def gguf_file(kvs, tensors, alignment=32):
    """A GGUF v3 file: header, metadata, tensor infos, padding, tensor data (ggml's gguf.md)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, t, v in kvs:
        k = key.encode()
        out += struct.pack("<Q", len(k)) + k + struct.pack("<I", t) + gguf_value(t, v)
    offset, blobs = 0, []
    for name, ggml_type, dims, data in tensors:
        n = name.encode()
        out += struct.pack("<Q", len(n)) + n + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ggml_type, offset)
        pad = (-len(data)) % alignment
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    out += b"\0" * ((-len(out)) % alignment)
    return out + b"".join(blobs)


def gguf_seeds():
    vocab = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(8)] + ["a", "b", "ab"]
    hidden, layers, ff, heads = 8, 1, 16, 2
    kvs = [
        ("general.architecture", 8, "llama"),
        ("general.name", 8, "tiny"),
        ("general.alignment", 4, 32),
        ("llama.context_length", 4, 64),
        ("llama.embedding_length", 4, hidden),
        ("llama.block_count", 4, layers),
        ("llama.feed_forward_length", 4, ff),
        ("llama.attention.head_count", 4, heads),
        ("llama.attention.head_count_kv", 4, heads),
        ("llama.attention.layer_norm_rms_epsilon", 6, 1e-5),
        ("llama.rope.freq_base", 6, 10000.0),
        ("tokenizer.ggml.model", 8, "llama"),
        ("tokenizer.ggml.tokens", 9, (8, vocab)),
        ("tokenizer.ggml.scores", 9, (6, [0.0] * len(vocab))),
        ("tokenizer.ggml.token_type", 9, (5, [2, 3, 3] + [6] * 8 + [1, 1, 1])),
        ("tokenizer.ggml.bos_token_id", 4, 1),
        ("tokenizer.ggml.eos_token_id", 4, 2),
        ("tokenizer.chat_template", 8, "{% for m in messages %}{{ m['content'] }}{% endfor %}"),
    ]
    v = len(vocab)

    def f32(n):
        return struct.pack("<%df" % n, *[((i * 7) % 5 - 2) / 8 for i in range(n)])

    tensors = [("token_embd.weight", 0, [hidden, v], f32(hidden * v)),
               ("output_norm.weight", 0, [hidden], f32(hidden))]
    for l in range(layers):
        p = "blk.%d." % l
        tensors += [(p + "attn_norm.weight", 0, [hidden], f32(hidden)),
                    (p + "attn_q.weight", 0, [hidden, hidden], f32(hidden * hidden)),
                    (p + "attn_k.weight", 0, [hidden, hidden], f32(hidden * hidden)),
                    (p + "attn_v.weight", 0, [hidden, hidden], f32(hidden * hidden)),
                    (p + "attn_output.weight", 0, [hidden, hidden], f32(hidden * hidden)),
                    (p + "ffn_norm.weight", 0, [hidden], f32(hidden)),
                    (p + "ffn_gate.weight", 0, [hidden, ff], f32(hidden * ff)),
                    (p + "ffn_up.weight", 0, [hidden, ff], f32(hidden * ff)),
                    (p + "ffn_down.weight", 0, [ff, hidden], f32(hidden * ff))]
    write("gguf", "tiny_llama_f32.gguf", gguf_file(kvs, tensors))
    write("gguf", "metadata_only.gguf", gguf_file(kvs[:3], []))

    # The same model 32 wide with Q8_0 matrices (blocks of 32: an f16 scale of 1.0, then 32 int8), so that
    # inputs reach the dequantizers through the model load.
    hidden = ff = 32
    q8_kvs = [(k, t, hidden if k in ("llama.embedding_length", "llama.feed_forward_length") else val)
              for k, t, val in kvs]

    def q8(rows):
        block = struct.pack("<H", 0x3C00) + bytes((i * 7) % 9 for i in range(32))
        return block * rows

    q8_tensors = [("token_embd.weight", 8, [hidden, v], q8(v)), ("output_norm.weight", 0, [hidden], f32(hidden))]
    for l in range(layers):
        p = "blk.%d." % l
        q8_tensors += [(p + "attn_norm.weight", 0, [hidden], f32(hidden)), (p + "ffn_norm.weight", 0, [hidden], f32(hidden))]
        q8_tensors += [(p + n, 8, [hidden, hidden], q8(hidden))
                       for n in ["attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                                 "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"]]
    write("gguf", "tiny_llama_q8_0.gguf", gguf_file(q8_kvs, q8_tensors))

    # One block of every quantized type the loader dequantizes (ggml ids; 32-wide blocks, 256-wide K blocks).
    block_bytes = {2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
                   10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210)}
    blocks = [("t%d" % t, t, [n], bytes((i * 37 + t) % 251 for i in range(size)))
              for t, (n, size) in sorted(block_bytes.items())]
    write("gguf", "quant_blocks.gguf", gguf_file(kvs[:1], blocks))


def main():
    if not os.path.isdir(FIX):
        sys.exit("missing " + FIX)
    config_seeds()
    safetensors_seeds()
    tokenizer_seeds()
    tokenizer_text_seeds()
    chat_template_seeds()
    request_body_seeds()
    gguf_seeds()


if __name__ == "__main__":
    main()
