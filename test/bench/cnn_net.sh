#!/usr/bin/env bash
# Builds and runs test/bench/cnn_net.c: the layer runtime's batch inference
# of the benchmark's CNN (cnn.onnx, imported as maas_register does) with the
# runtime's tiles of rows against one pass a batch, at the kernels.  Makes
# the model first when DIR has none (cnn_torch.py --save, an untrained CNN
# with --epochs 0 is enough for speed).  Prints figures; never fails on time.
#
#   [CPU=1] test/bench/cnn_net.sh [threads]   (MAAS_BENCH_DIR, default /var/tmp/maas-bench;
#   CPU=1: CPU time, steadier under load with 1 thread; PROFILE=k: the default
#   tiles only, k passes; PROFILE_ROW=k: one row a call only, k passes, for perf;
#   UNPACKED=1 with it: the convolutions' weights not packed)
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${MAAS_BENCH_DIR:-/var/tmp/maas-bench}
OUT=$D/conv
mkdir -p "$OUT"
[ -f "$D/cnn/cnn.onnx" ] ||
	/usr/bin/python3 test/bench/cnn_torch.py --epochs "${EPOCHS:-0}" --save "$D/cnn" >/dev/null
K=src/kernel
SRCS="test/bench/cnn_net.c test/unit/arena.c test/unit/onnx_testutil.c
	$(sed -n '/^KERNEL =/,/^HEADERS/p' test/onnx/Makefile | grep -o '\$(SRC)/kernel/[a-z_0-9]*\.c' |
		sed 's|\$(SRC)/kernel|'$K'|')"
# the flags the extension builds the kernels with (Makefile), no -march=native
gcc -std=gnu99 -O3 -fno-math-errno -Wall -Wextra -I$K -Itest/unit -o "$OUT/cnn_net" $SRCS \
	-ldl -lpthread -lcurl -lm
uptime
CPU=${CPU:-} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX} "$OUT/cnn_net" "$D/cnn" "${1:-2}"
