#!/usr/bin/python3
"""Write a checkpoint of GPT-2 small's shape in Hugging Face's layout
(model.safetensors in F32 with GPT-2's tensor names, config.json), with
random weights (normal, std 0.02, seeded), for test/bench/shared_weights.
NumPy only, a tensor at a time.

    /usr/bin/python3 test/bench/gpt2_shape.py DIR
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


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
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
