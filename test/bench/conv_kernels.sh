#!/usr/bin/env bash
# Builds and runs test/bench/conv_kernels.c: the conv and pool kernels at the
# Fashion-MNIST CNN's shapes, with 1 and 2 BLAS threads (or those given), the
# default im2col chunk against a smaller and a larger one, and a whole
# training step beside torch's (cnn_torch.py --steps, same threads).  Prints
# figures; never fails on time.
#
#   test/bench/conv_kernels.sh [threads...]
#   BENCH_SECONDS=1 test/bench/conv_kernels.sh 2     (longer repeats)
#
# OpenBLAS 0.3.21 takes this machine's CPU (Xeon family 6 model 207) for a
# Prescott and runs its slowest kernels; unless OPENBLAS_CORETYPE is set the
# figures are taken with SkylakeX kernels (what a correct BLAS backend gives),
# and the whole step also with the library's own choice.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${MAAS_BENCH_DIR:-/var/tmp/maas-bench}/conv
mkdir -p "$OUT"
SRCS="test/bench/conv_kernels.c src/kernel/conv.c src/kernel/conv_direct.c src/kernel/pool.c src/kernel/pool_nhwc.c src/kernel/error.c
	src/kernel/blas.c src/kernel/blas_dispatch.c src/kernel/cpu.c src/kernel/quantize.c
	src/kernel/gemm_int8.c src/kernel/gemm_bf16.c src/kernel/gemm_onednn.c src/kernel/gemm_onednn_conv.c src/kernel/gemm_onednn_convbwd.c src/kernel/gemm_onednn_stub.c"
# the flags the extension builds conv.c with (Makefile), no -march=native
CFLAGS="-std=gnu99 -O3 -fno-math-errno -Wall -Wextra -Isrc/kernel"
for cols in 4096 1024 16384; do
	gcc $CFLAGS -DMAAS_CONV_COLS=$cols -o "$OUT/conv_kernels_$cols" $SRCS -ldl -lm -lpthread
done
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
core=${OPENBLAS_CORETYPE:-SkylakeX}
for t in "${threads[@]}"; do
	OPENBLAS_CORETYPE=$core "$OUT/conv_kernels_4096" "$t"
done
echo "## whole training step beside torch's"
for t in "${threads[@]}"; do
	OPENBLAS_CORETYPE=$core "$OUT/conv_kernels_4096" "$t" step
	[ -n "${OPENBLAS_CORETYPE:-}" ] || "$OUT/conv_kernels_4096" "$t" step
	THREADS=$t OPENBLAS_CORETYPE=$core /usr/bin/python3 test/bench/cnn_torch.py --steps 200
done
# the chunk size only matters for im2col: conv2 at n = 64 and 1024
for cols in 1024 16384; do
	OPENBLAS_CORETYPE=$core "$OUT/conv_kernels_$cols" "${threads[-1]}" | grep -E "^# |conv2 .*im2col"
done
