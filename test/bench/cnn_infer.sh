#!/usr/bin/env bash
# CNN inference only, maas beside ONNX Runtime on the same cnn.onnx, in one
# run, interleaved (issue 14's batch target: >= 1.0x ORT's rows/s over the
# 10,000 test rows).  maas imports the file (maas_register 'onnx') and scores
# fmnist_test through SQL: maas_predict_batch over the 10,000 rows, and
# maas_predict per row over 1,000; ORT (test/bench/cnn_ort.js) runs one batch
# of 10,000 and 1,000 single-row calls, both with THREADS threads (2).
# Needs a cluster with maas (PG* environment) holding fmnist_test
# (cnn_maas.py loads it), node with onnxruntime-node (cnn_peers.sh installs
# it) and DIR/cnn.onnx (cnn_torch.py --save DIR; --epochs 0, an untrained
# CNN, is enough for speed).  Prints figures; never fails on time.
#
#   test/bench/cnn_infer.sh [rounds]     (MAAS_BENCH_DIR, default /var/tmp/maas-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${MAAS_BENCH_DIR:-/var/tmp/maas-bench}
T=${THREADS:-2}
ROUNDS=${1:-3}
[ -f "$D/cnn/cnn.onnx" ] ||
	/usr/bin/python3 test/bench/cnn_torch.py --epochs 0 --save "$D/cnn" >/dev/null
psql -X -q -A -t -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT maas_drop('cnn_bench') FROM maas.models WHERE model = 'cnn_bench';
SELECT maas_register('cnn_bench', 'onnx', pg_read_binary_file('$D/cnn/cnn.onnx')) IS NULL;
SELECT maas_deploy('cnn_bench', 'latest') IS NULL;
SQL
maas_round() {
	psql -X -q -v ON_ERROR_STOP=1 <<SQL | grep '^Time:' | awk '{print $2}' | tr '\n' ' '
SET maas.blas_threads = $T;
SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test') \\g /dev/null
\\timing on
SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test') \\g /dev/null
SELECT count(maas_predict('cnn_bench', pixels)) FROM (SELECT pixels FROM fmnist_test ORDER BY id LIMIT 1000) s \\g /dev/null
SQL
}
uptime
res=()
for r in $(seq "$ROUNDS"); do
	m=$(maas_round)
	o=$(ORT_NODE_DIR="$D/ortnode/node_modules" THREADS=$T node test/bench/cnn_ort.js "$D/cnn" |
		awk '/^RESULT (batch|row)/ {printf "%s ", $3 * 1000}')
	echo "round $r: maas batch, row ms: $m; ORT batch, row ms: $o"
	res+=("$m $o")
done
uptime
printf '%s\n' "${res[@]}" | /usr/bin/python3 -c '
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
mb, mr, ob, orow = (st.median(r[i] for r in rows) for i in range(4))
print("maas: batch 10k %.0f rows/s, per row %.0f rows/s (through SQL)" % (1e7 / mb, 1e6 / mr))
print("ORT:  batch 10k %.0f rows/s, per row %.0f rows/s" % (1e7 / ob, 1e6 / orow))
print("RATIO batch maas/ORT %.2f (target >= 1.0), per row maas/ORT %.2f" % (ob / mb, orow / mr))'
