#!/usr/bin/env bash
# CNN inference only, maas beside its peers on the same model, in one run,
# interleaved (issue 14's targets: maas_predict_batch over the 10,000 test
# rows >= 1.0x ONNX Runtime's rows/s on the same cnn.onnx; maas_predict per
# row >= 2x PL/Python + torch per row).  maas imports the file
# (maas_register 'onnx') and scores fmnist_test through SQL:
# maas_predict_batch over the 10,000 rows and maas_predict per row over
# 1,000, each warmed up in its session ("warm"), and each as the first
# statement of a new session ("cold": loading the model and making its
# oneDNN primitives included); and, warm, the batch over fmnist_test_plain,
# the same rows with their arrays stored uncompressed (STORAGE PLAIN; made
# here when missing), which spares maas_predict_batch the decompression of
# each row that the default storage's compressed arrays cost.  ONNX Runtime
# (test/bench/cnn_ort.js) runs
# one batch of 10,000 and 1,000 single-row calls with THREADS threads (2);
# the PL/Python + torch peer (test/bench/cnn_plpython.sql, torch's own
# state dict of the same CNN, one thread as a backend) scores the same
# 1,000 rows one call a row, warmed up in its session.
# Needs a cluster with maas (PG* environment, a superuser) holding
# fmnist_test (cnn_maas.py loads it); installs what else it needs:
# onnxruntime-node with npm under DIR, plpython3u into the cluster's
# server (test/bench/plpython_install.sh), the peer function, and
# DIR/cnn.onnx with torch's state (cnn_torch.py --save DIR; --epochs 0, an
# untrained CNN, is enough for speed).  PEERS=maas skips ORT and PL/Python.
# Prints the CPU, its SIMD features, the peers' versions and the kernels
# maas picked (maas_blas_info, after a batch), then figures; never fails
# on time.
#
#   test/bench/cnn_infer.sh [rounds]     (MAAS_BENCH_DIR, default /var/tmp/maas-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${MAAS_BENCH_DIR:-/var/tmp/maas-bench}
T=${THREADS:-2}
ROUNDS=${1:-3}
PEERS=${PEERS:-all}
[ -f "$D/cnn/cnn.onnx" ] && [ -f "$D/cnn/cnn_pt.bytes" ] ||
	/usr/bin/python3 test/bench/cnn_torch.py --epochs 0 --save "$D/cnn" >/dev/null
# the server reads the model files
chmod a+rx "$D" "$D/cnn"
chmod a+r "$D/cnn/"*
if [ "$PEERS" = all ]; then
	if [ ! -d "$D/ortnode/node_modules/onnxruntime-node" ]; then
		mkdir -p "$D/ortnode"
		(cd "$D/ortnode" && { [ -f package.json ] || npm init -y >/dev/null; } &&
			ONNXRUNTIME_NODE_INSTALL=skip npm install -s --no-audit --no-fund onnxruntime-node@1.30.0)
	fi
	test/bench/plpython_install.sh
	psql -X -q -v ON_ERROR_STOP=1 -v state_file="$D/cnn/cnn_pt.bytes" <<SQL
SET client_min_messages = warning;
DROP FUNCTION IF EXISTS peer_cnn_torch(real[]);
DROP TABLE IF EXISTS peer_torch_model;
\\i test/bench/cnn_plpython.sql
SQL
fi
psql -X -q -A -t -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT maas_drop('cnn_bench') FROM maas.models WHERE model = 'cnn_bench';
SELECT maas_register('cnn_bench', 'onnx', pg_read_binary_file('$D/cnn/cnn.onnx')) IS NULL;
SELECT maas_deploy('cnn_bench', 'latest') IS NULL;
SQL
# the same rows with their arrays stored uncompressed in line (STORAGE PLAIN;
# array_cat makes new, uncompressed values): no decompression a row
psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS fmnist_test_plain (id int PRIMARY KEY, pixels real[], label int);
ALTER TABLE fmnist_test_plain ALTER pixels SET STORAGE PLAIN;
INSERT INTO fmnist_test_plain
SELECT id, array_cat(pixels, '{}'::real[]), label FROM fmnist_test
 WHERE NOT EXISTS (SELECT FROM fmnist_test_plain);
VACUUM ANALYZE fmnist_test_plain;
SQL
ROWS1K="(SELECT pixels FROM fmnist_test ORDER BY id LIMIT 1000) s"
# the Time: lines of a psql session, in ms, on one line
timed() {
	psql -X -q -v ON_ERROR_STOP=1 | grep '^Time:' | awk '{print $2}' | tr '\n' ' '
}
maas_warm() {
	timed <<SQL
SET maas.blas_threads = $T;
SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test') \\g /dev/null
SELECT count(maas_predict('cnn_bench', pixels)) FROM $ROWS1K \\g /dev/null
SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test_plain') \\g /dev/null
\\timing on
SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test') \\g /dev/null
SELECT count(maas_predict('cnn_bench', pixels)) FROM $ROWS1K \\g /dev/null
SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test_plain') \\g /dev/null
SQL
}
# a new session's first statement (SET is not timed)
maas_cold() {
	timed <<SQL
SET maas.blas_threads = $T;
\\timing on
$1 \\g /dev/null
SQL
}
plpython_row() {
	timed <<SQL
SELECT sum(peer_cnn_torch(pixels)) FROM (SELECT pixels FROM fmnist_test ORDER BY id LIMIT 20) s \\g /dev/null
\\timing on
SELECT sum(peer_cnn_torch(pixels)) FROM $ROWS1K \\g /dev/null
SQL
}
# the machine, and what each side runs on
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
	"(family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
	"model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(nproc) cores"
echo "simd: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
	grep -E '^(avx2|fma|avx512[a-z_0-9]*|amx[a-z_0-9]*)$' | tr '\n' ' ')"
if [ "$PEERS" = all ]; then
	echo "onnxruntime-node $(sed -n 's/^  "version": "\(.*\)",/\1/p' \
		"$D/ortnode/node_modules/onnxruntime-node/package.json"), CPU execution provider (MLAS)"
	/usr/bin/python3 -c 'import torch; c = [l.strip() for l in torch.__config__.show().splitlines() if "CPU capability" in l]; print("torch", torch.__version__, "(the PL/Python peer):", c[0].lstrip("- ") if c else "")'
fi
uptime
res=()
for r in $(seq "$ROUNDS"); do
	m=$(maas_warm)
	cb=$(maas_cold "SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test')")
	cr=$(maas_cold "SELECT count(maas_predict('cnn_bench', pixels)) FROM $ROWS1K")
	if [ "$PEERS" = all ]; then
		p=$(plpython_row)
		o=$(ORT_NODE_DIR="$D/ortnode/node_modules" THREADS=$T node test/bench/cnn_ort.js "$D/cnn" |
			awk '/^RESULT (batch|row)/ {printf "%s ", $3 * 1000}')
	else
		p="nan "
		o="nan nan "
	fi
	echo "round $r: maas warm batch, row, batch of PLAIN rows ms: $m; cold batch, row: $cb$cr; PL/Python row: $p; ORT batch, row: $o"
	res+=("$m $cb $cr $p $o")
done
uptime
# the kernels maas picked, in a session that ran the model's batch
psql -X -q -A -F ' | ' -P footer=off -v ON_ERROR_STOP=1 <<SQL | sed 's/^/maas_blas_info: /'
SET maas.blas_threads = $T;
SELECT count(*) FROM maas_predict_batch('cnn_bench', 'SELECT id, pixels FROM fmnist_test WHERE id <= 500') \\g /dev/null
SELECT component, backend, kernel, library, threads FROM maas_blas_info()
 WHERE component IN ('blas', 'conv2d', 'onednn') OR component LIKE 'gemm%';
SQL
printf '%s\n' "${res[@]}" | /usr/bin/python3 -c '
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
mb, mr, mp, cb, cr, pr, ob, orow = (st.median(r[i] for r in rows) for i in range(8))
print("maas warm: batch 10k %.0f rows/s, per row %.0f rows/s (through SQL)" % (1e7 / mb, 1e6 / mr))
print("maas warm: batch 10k from fmnist_test_plain (arrays uncompressed) %.0f rows/s" % (1e7 / mp))
print("maas cold: batch 10k %.0f rows/s, per row %.0f rows/s (a new session each)" % (1e7 / cb, 1e6 / cr))
print("PL/Python + torch: per row %.0f rows/s" % (1e6 / pr))
print("ORT:  batch 10k %.0f rows/s, per row %.0f rows/s" % (1e7 / ob, 1e6 / orow))
print("RATIO batch maas/ORT %.2f warm, %.2f cold (target >= 1.0); per row maas/ORT %.2f"
      % (ob / mb, ob / cb, orow / mr))
print("RATIO batch maas/ORT %.2f warm, from the PLAIN table" % (ob / mp))
print("RATIO per row maas/PL/Python+torch %.2f warm, %.2f cold (target >= 2.0)" % (pr / mr, pr / cr))'
