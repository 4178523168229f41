#!/usr/bin/python3
"""Write a checkpoint of GPT-2 small's shape in Hugging Face's layout
(model.safetensors in F32 with GPT-2's tensor names, config.json), with
random weights (normal, std 0.02, seeded), for test/bench/shared_weights.
NumPy only, a tensor at a time.

    /usr/bin/python3 test/bench/gpt2_shape.py DIR [--width N --layers N --heads N
                                                   --positions N --tokenizer]

The options make a narrower GPT-2 of the same structure (every tensor,
tied head, GPT-2's vocabulary size) for tests (test/t/053_text_memory.pl);
--tokenizer also writes a byte-level BPE tokenizer of GPT-2's size
(vocab.json: 50,257 tokens, merges.txt: 50,000 merges), made up from the
256 bytes by seeded random merges, so that a test needs no download.
"""

import json
import os
import struct
import sys

import numpy as np

CFG = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 768, "n_layer": 12,
       "n_head": 12, "n_positions": 1024, "n_ctx": 1024, "vocab_size": 50257,
       "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "torch_dtype": "float32",
       "bos_token_id": 50256, "eos_token_id": 50256}


def tensors():
    C, V, P, L = CFG["n_embd"], CFG["vocab_size"], CFG["n_positions"], CFG["n_layer"]
    yield "wte.weight", (V, C), "normal"
    yield "wpe.weight", (P, C), "normal"
    for i in range(L):
        h = "h.%d." % i
        yield h + "ln_1.weight", (C,), "ones"
        yield h + "ln_1.bias", (C,), "zeros"
        yield h + "attn.c_attn.weight", (C, 3 * C), "normal"
        yield h + "attn.c_attn.bias", (3 * C,), "zeros"
        yield h + "attn.c_proj.weight", (C, C), "normal"
        yield h + "attn.c_proj.bias", (C,), "zeros"
        yield h + "ln_2.weight", (C,), "ones"
        yield h + "ln_2.bias", (C,), "zeros"
        yield h + "mlp.c_fc.weight", (C, 4 * C), "normal"
        yield h + "mlp.c_fc.bias", (4 * C,), "zeros"
        yield h + "mlp.c_proj.weight", (4 * C, C), "normal"
        yield h + "mlp.c_proj.bias", (C,), "zeros"
    yield "ln_f.weight", (C,), "ones"
    yield "ln_f.bias", (C,), "zeros"


def bytes_to_unicode():
    """GPT-2's spelling of the 256 bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_tokenizer(out, n_merges=50000):
    """A GPT-2-sized byte-level BPE: each merge joins two tokens into a new one."""
    spell = bytes_to_unicode()
    letters = [spell[b] for b in b" etaoinshrdlucmfwypvbgkjqxz"]
    rng = np.random.default_rng(53)
    tokens = [spell[b] for b in range(256)]
    seen = set(tokens)
    merges = []
    while len(merges) < n_merges:
        # mostly short pieces from letters, then longer ones from earlier merges
        pool = letters if len(merges) < 400 or rng.random() < 0.3 else tokens[256:]
        a = pool[int(rng.integers(len(pool)))]
        b = tokens[256 + int(rng.integers(len(tokens) - 256))] if len(tokens) > 256 and rng.random() < 0.5 \
            else letters[int(rng.integers(len(letters)))]
        if a + b in seen or len(a + b) > 16:
            continue
        merges.append((a, b))
        tokens.append(a + b)
        seen.add(a + b)
    tokens.append("<|endoftext|>")
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(tokens)}, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))
    return len(tokens)


def main():
    args = sys.argv[1:]
    out = args.pop(0)
    tokenizer = False
    while args:
        opt = args.pop(0)
        if opt == "--tokenizer":
            tokenizer = True
            continue
        key = {"--width": "n_embd", "--layers": "n_layer", "--heads": "n_head",
               "--positions": "n_positions"}[opt]
        CFG[key] = int(args.pop(0))
    CFG["n_ctx"] = CFG["n_positions"]
    os.makedirs(out, exist_ok=True)
    if tokenizer:
        assert write_tokenizer(out) == CFG["vocab_size"]
    header, offset = {}, 0
    for name, shape, _ in tensors():
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(12)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, init in tensors():
            if init == "normal":
                a = rng.normal(0.0, 0.02, size=shape).astype("<f4")
            elif init == "ones":
                a = np.ones(shape, dtype="<f4")
            else:
                a = np.zeros(shape, dtype="<f4")
            f.write(a.tobytes())
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CFG, f)
    print("%s: %d bytes" % (os.path.join(out, "model.safetensors"), 8 + len(text) + offset))


if __name__ == "__main__":
    main()
