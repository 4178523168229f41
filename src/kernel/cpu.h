/*
 * cpu.h
 *		What this CPU can run: cpuid feature bits, checked against what the
 *		operating system has enabled, minus what a setting forces off.
 *
 * Every choice of a SIMD kernel or a library's code path in maas is made
 * from maas_cpu_features(), never from the model number and never at build
 * time (the shipped build has no -march).  A feature counts only when
 *
 *	  - cpuid reports it,
 *	  - the OS saves its registers (XCR0, read with xgetbv: SSE/AVX state
 *		for AVX, opmask/ZMM state for AVX-512, XTILECFG/XTILEDATA for AMX),
 *	  - for AMX, Linux granted this process the tile data state
 *		(arch_prctl(ARCH_REQ_XCOMP_PERM), asked once, on first detection),
 *	  - every feature it builds on counts too (AVX-512 VL needs F, AMX-INT8
 *		needs AMX-TILE, ...), and
 *	  - it is not in the forced-off mask (maas.cpu_features_disable), which
 *		lets a test pretend to be an older CPU.
 *
 * Detection runs once per process, on first use, in the calling thread (in
 * the server: a backend, never the postmaster).  No PostgreSQL header here.
 */
#ifndef MAAS_CPU_H
#define MAAS_CPU_H

#include "kernel.h"

typedef enum MaasCpuFeature
{
	MAAS_CPU_SSE3,
	MAAS_CPU_SSSE3,
	MAAS_CPU_SSE41,
	MAAS_CPU_SSE42,
	MAAS_CPU_AVX,
	MAAS_CPU_F16C,
	MAAS_CPU_FMA,
	MAAS_CPU_AVX2,
	MAAS_CPU_AVX512F,
	MAAS_CPU_AVX512CD,
	MAAS_CPU_AVX512BW,
	MAAS_CPU_AVX512DQ,
	MAAS_CPU_AVX512VL,
	MAAS_CPU_AVX512_VNNI,
	MAAS_CPU_AVX512_BF16,
	MAAS_CPU_AVX512_FP16,
	MAAS_CPU_AVX_VNNI,
	MAAS_CPU_AMX_TILE,
	MAAS_CPU_AMX_INT8,
	MAAS_CPU_AMX_BF16,
	MAAS_CPU_SHA,				/* SHA-256 instructions (SHA-NI) */
	MAAS_CPU_N_FEATURES
} MaasCpuFeature;

typedef uint64_t MaasCpuMask;

#define MAAS_CPU_BIT(f)		((MaasCpuMask) 1 << (f))

/* the AVX-512 subset Skylake-SP and later share, which most kernels need */
#define MAAS_CPU_AVX512_CORE \
	(MAAS_CPU_BIT(MAAS_CPU_AVX512F) | MAAS_CPU_BIT(MAAS_CPU_AVX512CD) | \
	 MAAS_CPU_BIT(MAAS_CPU_AVX512BW) | MAAS_CPU_BIT(MAAS_CPU_AVX512DQ) | \
	 MAAS_CPU_BIT(MAAS_CPU_AVX512VL))

typedef struct MaasCpu
{
	char		vendor[13];		/* "GenuineIntel", "AuthenticAMD", ... */
	char		brand[49];		/* cpuid brand string, trimmed */
	int			family;			/* shown, never used for a choice */
	int			model;
	int			stepping;
	uint64_t	xcr0;			/* 0 when the OS has no XSAVE */
	int			amx_errno;		/* why arch_prctl refused AMX, or 0 */
	MaasCpuMask cpuid;			/* what cpuid reports */
	MaasCpuMask usable;			/* ... that the OS supports, closed over
								 * prerequisites */
} MaasCpu;

/* detected once; the same pointer every call */
extern const MaasCpu *maas_cpu(void);

/* usable features less the forced-off mask: what kernels may execute */
extern MaasCpuMask maas_cpu_features(void);

/* true when every feature of need may be used */
static inline bool
maas_cpu_has(MaasCpuMask need)
{
	return (maas_cpu_features() & need) == need;
}

/*
 * Force features off (replacing the previous mask).  Features that build on
 * a disabled one go with it: disabling avx2 also removes fma-using AVX-512,
 * AVX-VNNI and so on.  Libraries already loaded keep the code paths they
 * chose at load (see blas.h); maas's own kernels follow at once.
 */
extern void maas_cpu_set_disabled(MaasCpuMask mask);
extern MaasCpuMask maas_cpu_disabled(void);

/*
 * Parse a list of feature names separated by commas or spaces (the value
 * of maas.cpu_features_disable): "avx512f, amx_tile".  Besides the names of
 * maas_cpu_feature_name() it accepts the groups "avx512" (all AVX-512),
 * "amx", "vnni", "bf16" and "all", case-insensitively.  An empty list is
 * the empty mask.  Unknown names fail with MAAS_ERR_INVALID.  Allocates
 * nothing, so a setting's check hook may call it.
 */
extern bool maas_cpu_parse_features(const char *list, MaasCpuMask *mask,
									MaasError *err);

/* "avx2", "avx512_vnni", ... */
extern const char *maas_cpu_feature_name(MaasCpuFeature f);

/*
 * The names of the features in mask, separated by single spaces, cut at a
 * name boundary when buf is too small; returns buf.
 */
extern char *maas_cpu_format(MaasCpuMask mask, char *buf, size_t len);

/* the closure: mask less every feature whose prerequisites are not in it */
extern MaasCpuMask maas_cpu_close(MaasCpuMask mask);

#endif							/* MAAS_CPU_H */
