#!/usr/bin/env bash
# The CNN benchmark's peers, side by side on this machine (issue 14): trains
# the classic Fashion-MNIST CNN with PyTorch (3 epochs, batch 64, Adam 1e-3, 2
# threads), times its batch and per-row inference, exports it to ONNX and
# times ONNX Runtime on the same file.  The maas side (maas_train 'cnn', and
# maas_predict over the same 10k rows) and the PL/Python + torch per-row peer
# (test/bench/cnn_plpython.sql) run in a cluster: test/bench/cnn_maas.py for
# training, test/bench/cnn_infer.sh for inference beside ONNX Runtime and
# PL/Python in one run (it installs plpython3u and the peer function).
# Prints figures; never fails on time.
#
#   test/bench/cnn_peers.sh            (MAAS_BENCH_DIR, default /var/tmp/maas-bench)
#   THREADS=1 EPOCHS=1 test/bench/cnn_peers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${MAAS_BENCH_DIR:-/var/tmp/maas-bench}
PY=/usr/bin/python3
mkdir -p "$D/cnn"
if [ ! -d "$D/ortnode/node_modules/onnxruntime-node" ]; then
	# as test/bench/inference: the CPU provider is in the package
	mkdir -p "$D/ortnode"
	(cd "$D/ortnode" && { [ -f package.json ] || npm init -y >/dev/null; } &&
		ONNXRUNTIME_NODE_INSTALL=skip npm install -s --no-audit --no-fund onnxruntime-node@1.30.0)
fi
echo "== PyTorch: training, inference, export"
$PY test/bench/cnn_torch.py --epochs "${EPOCHS:-3}" --save "$D/cnn" --json "$D/cnn/torch.json"
echo "== ONNX Runtime on cnn.onnx"
ORT_NODE_DIR="$D/ortnode/node_modules" THREADS=${THREADS:-2} node test/bench/cnn_ort.js "$D/cnn" |
	tee "$D/cnn/ort.txt"
$PY - "$D/cnn" <<'PYEOF'
import json, sys
d = sys.argv[1]
t = json.load(open(d + "/torch.json"))
ort = {l.split()[1]: l.split()[2:] for l in open(d + "/ort.txt") if l.startswith("RESULT")}
b = float(ort["batch10000"][1]) / float(ort["batch10000"][0])
r = float(ort["row"][1]) / float(ort["row"][0])
print(f"torch: train {t['train_s_median']:.1f} s ({t['epochs']} epochs, {t['threads']} threads), "
      f"test accuracy {t['test_acc_median']:.4f}")
print(f"torch: batch 10k {t['batch10k_rows_per_s']:.0f} rows/s, per-row {t['row_rows_per_s']:.0f} rows/s")
print(f"ORT:   batch 10k {b:.0f} rows/s, per-row {r:.0f} rows/s, accuracy {ort['accuracy'][0]}")
print("targets: maas training <= %.1f s (0.7x torch), accuracy >= %.4f; batch >= %.0f rows/s (1.0x ORT)"
      % (0.7 * t["train_s_median"], t["test_acc_median"] - 0.003, b))
PYEOF
