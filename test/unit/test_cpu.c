/*
 * test_cpu.c
 *		Unit tests of CPU feature detection (src/kernel/cpu.c).
 *
 * What cpuid reports must agree with the kernel's /proc/cpuinfo flags;
 * every feature called usable must really execute (one instruction of
 * each, AMX tiles included, which fault unless the OS support check and
 * the arch_prctl permission were right); the closure, the forced-off mask,
 * the setting's parser and the formatter behave as cpu.h says.
 */
#include <stdlib.h>

#include "cpu.h"
#include "unit.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)

/* /proc/cpuinfo's name of each feature */
static const char *const proc_names[MAAS_CPU_N_FEATURES] = {
	[MAAS_CPU_SSE3] = "pni",
	[MAAS_CPU_SSSE3] = "ssse3",
	[MAAS_CPU_SSE41] = "sse4_1",
	[MAAS_CPU_SSE42] = "sse4_2",
	[MAAS_CPU_AVX] = "avx",
	[MAAS_CPU_F16C] = "f16c",
	[MAAS_CPU_FMA] = "fma",
	[MAAS_CPU_AVX2] = "avx2",
	[MAAS_CPU_AVX512F] = "avx512f",
	[MAAS_CPU_AVX512CD] = "avx512cd",
	[MAAS_CPU_AVX512BW] = "avx512bw",
	[MAAS_CPU_AVX512DQ] = "avx512dq",
	[MAAS_CPU_AVX512VL] = "avx512vl",
	[MAAS_CPU_AVX512_VNNI] = "avx512_vnni",
	[MAAS_CPU_AVX512_BF16] = "avx512_bf16",
	[MAAS_CPU_AVX512_FP16] = "avx512_fp16",
	[MAAS_CPU_AVX_VNNI] = "avx_vnni",
	[MAAS_CPU_AMX_TILE] = "amx_tile",
	[MAAS_CPU_AMX_INT8] = "amx_int8",
	[MAAS_CPU_AMX_BF16] = "amx_bf16",
	[MAAS_CPU_SHA] = "sha_ni",
};

/* the flags line of /proc/cpuinfo, padded with spaces, or NULL */
static char *
proc_flags(void)
{
	static char line[8192];
	FILE	   *f = fopen("/proc/cpuinfo", "r");
	char		buf[8192];

	if (f == NULL)
		return NULL;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "flags", 5) == 0)
		{
			char	   *colon = strchr(buf, ':');
			size_t		n;

			fclose(f);
			if (colon == NULL)
				return NULL;
			snprintf(line, sizeof(line), "%s ", colon + 1);
			n = strlen(line);
			for (size_t i = 0; i < n; i++)
				if (line[i] == '\n')
					line[i] = ' ';
			return line;
		}
	fclose(f);
	return NULL;
}

static bool
has_flag(const char *flags, const char *name)
{
	char		pat[64];

	snprintf(pat, sizeof(pat), " %s ", name);
	return strstr(flags, pat) != NULL;
}

static void
test_detection_matches_cpuinfo(void)
{
	const MaasCpu *cpu = maas_cpu();
	char	   *flags = proc_flags();
	char		buf[512];

	printf("    cpu: %s, %s family %d model %d stepping %d\n", cpu->brand,
		   cpu->vendor, cpu->family, cpu->model, cpu->stepping);
	printf("    cpuid:  %s\n", maas_cpu_format(cpu->cpuid, buf, sizeof(buf)));
	printf("    usable: %s\n", maas_cpu_format(cpu->usable, buf, sizeof(buf)));
	printf("    xcr0 %#llx, amx permission %s\n", (unsigned long long) cpu->xcr0,
		   cpu->amx_errno == 0 ? "granted or not asked" : strerror(cpu->amx_errno));
	CHECK(maas_cpu() == cpu);
	CHECK((cpu->usable & ~cpu->cpuid) == 0);
	CHECK(maas_cpu_close(cpu->usable) == cpu->usable);
#if defined(__x86_64__)
	CHECK(cpu->brand[0] != '\0');
	CHECK(strlen(cpu->vendor) == 12);
	/* every x86-64 CPU has SSE2; nearly all SSE3 */
	CHECK(cpu->cpuid & B(SSE3));
	if (flags == NULL)
	{
		printf("    skipped the /proc/cpuinfo comparison: cannot read it\n");
		return;
	}
	for (int f = 0; f < MAAS_CPU_N_FEATURES; f++)
	{
		bool		flag = has_flag(flags, proc_names[f]);

		/* Linux lists what the CPU has and it supports */
		if ((cpu->usable & MAAS_CPU_BIT(f)) && !flag)
		{
			printf("    usable %s is not in /proc/cpuinfo\n", maas_cpu_feature_name(f));
			CHECK(false);
		}
		if (flag && !(cpu->cpuid & MAAS_CPU_BIT(f)))
		{
			printf("    /proc/cpuinfo has %s, cpuid does not\n", proc_names[f]);
			CHECK(false);
		}
	}
#else
	printf("    not x86-64: nothing detected\n");
	CHECK(cpu->usable == 0);
	(void) flags;
	(void) has_flag;
#endif
}

#if defined(__x86_64__)
/* one instruction (or a few) of each feature; each must not fault */
__attribute__((target("avx2"))) static int
run_avx2(void)
{
	volatile int in = 3;
	__m256i		v = _mm256_add_epi32(_mm256_set1_epi32(in), _mm256_set1_epi32(4));

	return _mm256_extract_epi32(v, 7);
}

__attribute__((target("fma"))) static float
run_fma(void)
{
	volatile float in = 2.0f;
	__m128		v = _mm_fmadd_ps(_mm_set1_ps(in), _mm_set1_ps(3.0f), _mm_set1_ps(1.0f));

	return _mm_cvtss_f32(v);
}

__attribute__((target("avx512f"))) static float
run_avx512f(void)
{
	volatile float in = 1.5f;
	__m512		v = _mm512_add_ps(_mm512_set1_ps(in), _mm512_set1_ps(in));

	return _mm512_reduce_add_ps(v);
}

__attribute__((target("avx512f,avx512bw"))) static int
run_avx512bw(void)
{
	volatile char in = 3;
	__m512i		v = _mm512_adds_epi8(_mm512_set1_epi8(in), _mm512_set1_epi8(120));

	return (signed char) _mm_cvtsi128_si32(_mm512_castsi512_si128(v));
}

__attribute__((target("avx512f,avx512vnni"))) static int
run_avx512_vnni(void)
{
	volatile int in = 0x01010101;
	__m512i		v = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi32(in),
										_mm512_set1_epi32(0x02020202));

	return _mm512_reduce_add_epi32(v);
}

__attribute__((target("avx512f,avx512bf16"))) static float
run_avx512_bf16(void)
{
	volatile float in = 1.0f;
	__m512bh	a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(in), _mm512_set1_ps(in));
	__m512		v = _mm512_dpbf16_ps(_mm512_setzero_ps(), a, a);

	return _mm512_reduce_add_ps(v);
}

__attribute__((target("avx2,avxvnni"))) static int
run_avx_vnni(void)
{
	volatile int in = 0x01010101;
	__m256i		v = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_set1_epi32(in),
											_mm256_set1_epi32(0x03030303));

	return _mm256_extract_epi32(v, 0);
}

/* a 1 x 4-byte tile of each operand: C[0][0] = A . B */
typedef struct TileConfig
{
	uint8_t		palette;
	uint8_t		start_row;
	uint8_t		reserved[14];
	uint16_t	colsb[16];
	uint8_t		rows[16];
} TileConfig;

static void
tile_config(TileConfig *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->palette = 1;
	for (int t = 0; t < 3; t++)
	{
		tc->colsb[t] = 4;
		tc->rows[t] = 1;
	}
}

__attribute__((target("amx-tile,amx-int8"))) static int
run_amx_int8(void)
{
	TileConfig	tc;
	int32_t		c[1] = {0};
	int8_t		a[4] = {1, 2, 3, 4};
	int8_t		b[4] = {5, 6, 7, 8};

	tile_config(&tc);
	_tile_loadconfig(&tc);
	_tile_zero(0);
	_tile_loadd(1, a, 4);
	_tile_loadd(2, b, 4);
	_tile_dpbssd(0, 1, 2);
	_tile_stored(0, c, 4);
	_tile_release();
	return c[0];
}

__attribute__((target("amx-tile,amx-bf16"))) static float
run_amx_bf16(void)
{
	TileConfig	tc;
	float		c[1] = {0};
	uint16_t	a[2] = {0x3f80, 0x4000};	/* 1, 2 */
	uint16_t	b[2] = {0x4040, 0x4080};	/* 3, 4 */

	tile_config(&tc);
	_tile_loadconfig(&tc);
	_tile_zero(0);
	_tile_loadd(1, a, 4);
	_tile_loadd(2, b, 4);
	_tile_dpbf16ps(0, 1, 2);
	_tile_stored(0, c, 4);
	_tile_release();
	return c[0];
}
#endif

static void
test_usable_features_execute(void)
{
#if defined(__x86_64__)
	MaasCpuMask u = maas_cpu()->usable;
	int			ran = 0;

	if (u & B(AVX2))
		{
			CHECK(run_avx2() == 7);
			ran++;
		}
	if (u & B(FMA))
		{
			CHECK(run_fma() == 7.0f);
			ran++;
		}
	if (u & B(AVX512F))
		{
			CHECK(run_avx512f() == 48.0f);
			ran++;
		}
	if (u & B(AVX512BW))
		{
			CHECK(run_avx512bw() == 123);
			ran++;
		}
	if (u & B(AVX512_VNNI))
		{
			CHECK(run_avx512_vnni() == 16 * 8);
			ran++;
		}
	if (u & B(AVX512_BF16))
		{
			CHECK(run_avx512_bf16() == 16 * 2.0f);
			ran++;
		}
	if (u & B(AVX_VNNI))
		{
			CHECK(run_avx_vnni() == 12);
			ran++;
		}
	if (u & B(AMX_INT8))
		{
			CHECK(run_amx_int8() == 5 + 12 + 21 + 32);
			ran++;
		}
	if (u & B(AMX_BF16))
		{
			CHECK(run_amx_bf16() == 3.0f + 8.0f);
			ran++;
		}
	printf("    ran an instruction of %d usable features\n", ran);
#else
	printf("    skipped: not x86-64\n");
#endif
}

static void
test_closure_and_mask(void)
{
	MaasCpuMask all = MAAS_CPU_BIT(MAAS_CPU_N_FEATURES) - 1;
	MaasCpuMask u = maas_cpu()->usable;

	/* the closure removes dependants, never adds */
	CHECK(maas_cpu_close(all) == all);
	CHECK((maas_cpu_close(all & ~B(AVX512F)) &
		   (B(AVX512CD) | B(AVX512BW) | B(AVX512DQ) | B(AVX512VL) |
			B(AVX512_VNNI) | B(AVX512_BF16) | B(AVX512_FP16))) == 0);
	CHECK(maas_cpu_close(all & ~B(AVX512F)) & B(AVX_VNNI));
	CHECK((maas_cpu_close(all & ~B(AVX)) & ~(B(SSE3) | B(SSSE3) | B(SSE41) | B(SSE42) |
											  B(AMX_TILE) | B(AMX_INT8) | B(AMX_BF16) | B(SHA))) == 0);
	CHECK((maas_cpu_close(all & ~B(AMX_TILE)) & (B(AMX_INT8) | B(AMX_BF16))) == 0);
	CHECK(maas_cpu_close(all & ~B(AVX512BW)) & B(AVX512_VNNI));
	CHECK(!(maas_cpu_close(all & ~B(AVX512BW)) & B(AVX512_FP16)));

	/* the mask applies at once and can be lifted */
	CHECK(maas_cpu_features() == u);
	maas_cpu_set_disabled(B(AVX2));
	CHECK(maas_cpu_disabled() == B(AVX2));
	CHECK((maas_cpu_features() & (B(AVX2) | B(AVX512F) | B(AVX_VNNI))) == 0);
	CHECK(!maas_cpu_has(B(AVX2)));
	CHECK(maas_cpu_has(u & (B(SSE3) | B(AVX))));
	CHECK((maas_cpu_features() & ~u) == 0);
	maas_cpu_set_disabled(~(MaasCpuMask) 0);
	CHECK(maas_cpu_features() == 0);
	CHECK(maas_cpu_has(0));
	maas_cpu_set_disabled(0);
	CHECK(maas_cpu_features() == u);
}

static void
test_parse(void)
{
	MaasCpuMask m = 123;
	MaasError	err;

	CHECK(maas_cpu_parse_features("", &m, &err) && m == 0);
	CHECK(maas_cpu_parse_features(NULL, &m, &err) && m == 0);
	CHECK(maas_cpu_parse_features(" , ,", &m, &err) && m == 0);
	CHECK(maas_cpu_parse_features("avx512f, amx_tile", &m, &err));
	CHECK(m == (B(AVX512F) | B(AMX_TILE)));
	CHECK(maas_cpu_parse_features("AVX2 Fma,sse4_2", &m, &err));
	CHECK(m == (B(AVX2) | B(FMA) | B(SSE42)));
	CHECK(maas_cpu_parse_features("avx512", &m, &err) && m == B(AVX512F));
	CHECK(maas_cpu_parse_features("vnni", &m, &err));
	CHECK(m == (B(AVX512_VNNI) | B(AVX_VNNI) | B(AMX_INT8)));
	CHECK(maas_cpu_parse_features("bf16", &m, &err) && m == (B(AVX512_BF16) | B(AMX_BF16)));
	CHECK(maas_cpu_parse_features("amx", &m, &err) && m == B(AMX_TILE));
	CHECK(maas_cpu_parse_features("all", &m, &err));
	CHECK(m == MAAS_CPU_BIT(MAAS_CPU_N_FEATURES) - 1);
	for (int f = 0; f < MAAS_CPU_N_FEATURES; f++)
		CHECK(maas_cpu_parse_features(maas_cpu_feature_name(f), &m, &err) &&
			  m == MAAS_CPU_BIT(f));

	m = 77;
	CHECK_ERR(maas_cpu_parse_features("avx2,bogus", &m, &err), err.msg,
			  "unknown CPU feature \"bogus\"");
	CHECK(err.status == MAAS_ERR_INVALID);
	CHECK(m == 77);				/* untouched on failure */
	CHECK_ERR(maas_cpu_parse_features("avx2;fma", &m, &err), err.msg,
			  "unknown CPU feature \"avx2;fma\"");
	{
		char		longname[200];

		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CHECK(!maas_cpu_parse_features(longname, &m, &err));
		CHECK(strlen(err.msg) < 100);
	}
	CHECK(strcmp(maas_cpu_feature_name(MAAS_CPU_N_FEATURES), "unknown") == 0);
}

static void
test_format(void)
{
	char		buf[64];
	char		tiny[12];
	MaasCpuMask m = B(AVX2) | B(FMA) | B(AVX512_VNNI);

	CHECK(strcmp(maas_cpu_format(m, buf, sizeof(buf)), "fma avx2 avx512_vnni") == 0);
	CHECK(strcmp(maas_cpu_format(0, buf, sizeof(buf)), "") == 0);
	/* cut at a name boundary */
	CHECK(strcmp(maas_cpu_format(m, tiny, sizeof(tiny)), "fma avx2") == 0);
	CHECK(strcmp(maas_cpu_format(m, tiny, 4), "fma") == 0);
	CHECK(strcmp(maas_cpu_format(m, tiny, 3), "") == 0);
	/* what is formatted parses back */
	{
		char		all[512];
		MaasCpuMask back;
		MaasError	err;

		maas_cpu_format(maas_cpu()->usable, all, sizeof(all));
		CHECK(maas_cpu_parse_features(all, &back, &err) && back == maas_cpu()->usable);
	}
}

int
main(void)
{
	UNIT_RUN(test_detection_matches_cpuinfo);
	UNIT_RUN(test_usable_features_execute);
	UNIT_RUN(test_closure_and_mask);
	UNIT_RUN(test_parse);
	UNIT_RUN(test_format);
	return unit_finish("cpu");
}
