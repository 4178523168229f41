/*
 * quantize.h
 *		Making weights smaller: int8 per output channel, bf16 and f16
 *		conversion, the row quantizer of int8 GEMM, and magnitude pruning.
 *
 * These are the kernels of model optimization (maas_quantize, maas_prune);
 * the SQL functions build on them.  Every function with SIMD variants
 * chooses one from maas_cpu_features() and gives bit-for-bit the results
 * of its plain C version.  No PostgreSQL header here.
 */
#ifndef MAAS_QUANTIZE_H
#define MAAS_QUANTIZE_H

#include "blas.h"
#include "kernel.h"

/* ---- bf16 and f16 ---- */

/*
 * float to bf16, round to nearest, ties to even; infinities stay infinite,
 * a NaN stays a NaN (quiet, sign kept), values beyond the largest bf16
 * round to infinity as IEEE rounding does.
 */
static inline uint16_t
maas_f32_to_bf16(float f)
{
	uint32_t	u;

	__builtin_memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t) ((u >> 16) | 0x0040u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t) (u >> 16);
}

static inline float
maas_bf16_to_f32(uint16_t h)
{
	uint32_t	u = (uint32_t) h << 16;
	float		f;

	__builtin_memcpy(&f, &u, 4);
	return f;
}

/* IEEE half: round to nearest even, subnormals kept, overflow to infinity */
extern uint16_t maas_f32_to_f16(float f);
extern float maas_f16_to_f32(uint16_t h);

/* the same over arrays (F16C or AVX-512 where present) */
extern void maas_f32_to_bf16_n(const float *x, size_t n, uint16_t *y);
extern void maas_bf16_to_f32_n(const uint16_t *x, size_t n, float *y);
extern void maas_f32_to_f16_n(const float *x, size_t n, uint16_t *y);
extern void maas_f16_to_f32_n(const uint16_t *x, size_t n, float *y);

/* ---- int8 weights ---- */

/*
 * Quantize w [n, k] (row-major) per output channel, symmetrically:
 * scale[j] = max |w[j, :]| / 127 and q = round(w / scale[j]) in -127..127
 * (nearest, ties to even).  A row whose largest magnitude is 0 or below
 * FLT_MIN gets scale 0 and q 0.  Fills out (type S8) with maas_kalloc'd
 * q, scale and sum.  Fails on non-finite weights (MAAS_ERR_INVALID),
 * k > MAAS_S8_MAX_K (MAAS_ERR_LIMIT), or memory.
 */
extern bool maas_quantize_weights_s8(const float *w, int n, int k,
									 MaasWeights *out, MaasError *err);

/*
 * Int8 weights that were stored (a safetensors file's int8 tensor and F32
 * scales): checks the scales (finite, >= 0) and k, computes the sums
 * (maas_kalloc), and points out at q and scale, which must outlive it.
 */
extern bool maas_weights_s8(const int8_t *q, const float *scale, int n, int k,
							MaasWeights *out, MaasError *err);

/* w [n, k] back to float: data * scale per row */
extern void maas_dequantize_weights_s8(const MaasWeights *w, float *out);

/* bf16 weights from float (maas_kalloc'd data); fails only on memory */
extern bool maas_weights_bf16(const float *w, int n, int k, MaasWeights *out,
							  MaasError *err);

/* ---- activations (the row quantizer of gemm_s8) ---- */

/*
 * Quantize each of m rows of a (k floats, lda apart) to u8 with its own
 * scale and zero point:
 *		lo = min(0, min a), hi = max(0, max a), scale = (hi - lo) / 255,
 *		zero = round(-lo * 255 / (hi - lo)),
 *		q = clamp(round(a * 255 / (hi - lo)) + zero, 0, 255)
 * so that a ~ (q - zero) * scale and 0 is exact.  Rounding is the current
 * mode's (nearest even).  A row of zeros (or of a range too small to
 * invert) gets scale 0, zero 0, q 0; a row holding NaN or infinity gets
 * scale NaN, zero 0, q 0, which makes its products NaN.
 */
extern void maas_quantize_rows_u8(int m, int k, const float *a, size_t lda,
								  uint8_t *q, size_t ldq, float *scale,
								  int32_t *zero);

/*
 * Static quantization with a given scale (inv_scale = 1 / scale) and zero
 * point, as calibration gives: q = clamp(round(a * inv_scale) + zero, 0,
 * 255), saturating; NaN gives zero.
 */
extern void maas_quantize_u8(const float *a, int k, float inv_scale,
							 int32_t zero, uint8_t *q);

/* ---- pruning ---- */

typedef enum MaasPruneScope
{
	MAAS_PRUNE_GLOBAL,			/* one threshold over all the tensors */
	MAAS_PRUNE_PER_TENSOR		/* each tensor to the sparsity on its own */
} MaasPruneScope;

/*
 * Magnitude pruning masks: for n tensors w[t] of len[t] floats, set
 * mask[t][i] = 0 for the floor(sparsity * N) weights of smallest magnitude
 * (N all weights for GLOBAL, each tensor's for PER_TENSOR) and 1 for the
 * rest.  Ties at the threshold are broken by position (earlier pruned
 * first), so exactly that many are pruned.  sparsity must be in [0, 1);
 * weights must be finite.  *pruned (may be NULL) gets the count.
 * Scratch from maas_kalloc; tick is called every so often.
 */
extern bool maas_prune_magnitude(int n, const float *const *w, const size_t *len,
								 double sparsity, MaasPruneScope scope,
								 uint8_t *const *mask, size_t *pruned,
								 const MaasTick *tick, MaasError *err);

/* w[i] = 0 where mask[i] == 0 */
extern void maas_prune_apply(float *w, const uint8_t *mask, size_t n);

/*
 * Structured pruning of the h hidden units between two dense layers,
 * w_in [h, n_in] (the layer that makes them) and w_out [n_out, h] (the one
 * that reads them): unit u scores ||w_in[u, :]|| * ||w_out[:, u]|| (L2),
 * and keep[u] = 0 for the floor(fraction * h) lowest scores (ties by
 * position), 1 for the others.  fraction in [0, 1).
 */
extern bool maas_prune_units(int h, int n_in, const float *w_in, int n_out,
							 const float *w_out, double fraction,
							 uint8_t *keep, MaasError *err);

#endif							/* MAAS_QUANTIZE_H */
