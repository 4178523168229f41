/*
 * cpu.c
 *		CPU feature detection: cpuid, xgetbv, and Linux's AMX permission
 *		(see cpu.h for what makes a feature usable).
 */
#include "cpu.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MAAS_X86 1
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* XCR0 state components */
#define XCR0_SSE		(1u << 1)
#define XCR0_AVX		(1u << 2)
#define XCR0_OPMASK		(1u << 5)
#define XCR0_ZMM_HI256	(1u << 6)
#define XCR0_HI16_ZMM	(1u << 7)
#define XCR0_TILECFG	(1u << 17)
#define XCR0_TILEDATA	(1u << 18)

/* Linux, arch/x86/include/uapi/asm/prctl.h */
#define MAAS_ARCH_GET_XCOMP_PERM	0x1022
#define MAAS_ARCH_REQ_XCOMP_PERM	0x1023
#define MAAS_XFEATURE_XTILEDATA		18

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)

static const struct
{
	const char *name;
	MaasCpuMask needs;			/* prerequisites, themselves closed */
}			features[MAAS_CPU_N_FEATURES] = {
	[MAAS_CPU_SSE3] = {"sse3", 0},
	[MAAS_CPU_SSSE3] = {"ssse3", B(SSE3)},
	[MAAS_CPU_SSE41] = {"sse4_1", B(SSSE3)},
	[MAAS_CPU_SSE42] = {"sse4_2", B(SSE41)},
	[MAAS_CPU_AVX] = {"avx", B(SSE42)},
	[MAAS_CPU_F16C] = {"f16c", B(AVX)},
	[MAAS_CPU_FMA] = {"fma", B(AVX)},
	[MAAS_CPU_AVX2] = {"avx2", B(AVX)},
	[MAAS_CPU_AVX512F] = {"avx512f", B(AVX2) | B(FMA) | B(F16C)},
	[MAAS_CPU_AVX512CD] = {"avx512cd", B(AVX512F)},
	[MAAS_CPU_AVX512BW] = {"avx512bw", B(AVX512F)},
	[MAAS_CPU_AVX512DQ] = {"avx512dq", B(AVX512F)},
	[MAAS_CPU_AVX512VL] = {"avx512vl", B(AVX512F)},
	[MAAS_CPU_AVX512_VNNI] = {"avx512_vnni", B(AVX512F)},
	[MAAS_CPU_AVX512_BF16] = {"avx512_bf16", B(AVX512F)},
	[MAAS_CPU_AVX512_FP16] = {"avx512_fp16", B(AVX512BW)},
	[MAAS_CPU_AVX_VNNI] = {"avx_vnni", B(AVX2)},
	[MAAS_CPU_AMX_TILE] = {"amx_tile", 0},
	[MAAS_CPU_AMX_INT8] = {"amx_int8", B(AMX_TILE)},
	[MAAS_CPU_AMX_BF16] = {"amx_bf16", B(AMX_TILE)},
	[MAAS_CPU_SHA] = {"sha", B(SSE41)},
};

static const struct
{
	const char *name;
	MaasCpuMask mask;
}			groups[] = {
	{"avx512", B(AVX512F)},		/* the closure removes the rest */
	{"amx", B(AMX_TILE)},
	{"vnni", B(AVX512_VNNI) | B(AVX_VNNI) | B(AMX_INT8)},
	{"bf16", B(AVX512_BF16) | B(AMX_BF16)},
	{"all", ~(MaasCpuMask) 0},
};

static MaasCpu cpu;
static bool detected = false;
static MaasCpuMask disabled = 0;

const char *
maas_cpu_feature_name(MaasCpuFeature f)
{
	if ((int) f < 0 || f >= MAAS_CPU_N_FEATURES)
		return "unknown";
	return features[f].name;
}

MaasCpuMask
maas_cpu_close(MaasCpuMask mask)
{
	bool		changed = true;

	mask &= MAAS_CPU_BIT(MAAS_CPU_N_FEATURES) - 1;
	while (changed)
	{
		changed = false;
		for (int f = 0; f < MAAS_CPU_N_FEATURES; f++)
			if ((mask & MAAS_CPU_BIT(f)) && (mask & features[f].needs) != features[f].needs)
			{
				mask &= ~MAAS_CPU_BIT(f);
				changed = true;
			}
	}
	return mask;
}

#ifdef MAAS_X86
static uint64_t
read_xcr0(void)
{
	uint32_t	lo,
				hi;

	__asm__ volatile ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t) hi << 32) | lo;
}

/*
 * Ask Linux for the AMX tile data state.  Until a process has asked, its
 * first tile instruction faults; the grant is for the whole process and
 * cannot be taken back, and it is only asked when the CPU and XCR0 have
 * AMX.  Returns 0 or an errno.
 */
static int
request_amx(void)
{
#if defined(__linux__) && defined(__x86_64__)
	unsigned long bits = 0;

	if (syscall(SYS_arch_prctl, MAAS_ARCH_REQ_XCOMP_PERM, MAAS_XFEATURE_XTILEDATA) != 0)
		return errno ? errno : EPERM;
	if (syscall(SYS_arch_prctl, MAAS_ARCH_GET_XCOMP_PERM, &bits) != 0)
		return errno ? errno : EPERM;
	return (bits & (1ul << MAAS_XFEATURE_XTILEDATA)) ? 0 : EPERM;
#else
	return ENOSYS;
#endif
}

static void
detect(void)
{
	unsigned int a,
				b,
				c,
				d;
	unsigned int max_leaf;
	MaasCpuMask m = 0;
	uint32_t	l1c = 0,
				l7b = 0,
				l7c = 0,
				l7d = 0,
				l71a = 0;

	memset(&cpu, 0, sizeof(cpu));
	if (!__get_cpuid(0, &max_leaf, &b, &c, &d))
		return;
	memcpy(cpu.vendor + 0, &b, 4);
	memcpy(cpu.vendor + 4, &d, 4);
	memcpy(cpu.vendor + 8, &c, 4);
	cpu.vendor[12] = '\0';

	if (max_leaf >= 1)
	{
		int			base_family,
					base_model;

		__cpuid(1, a, b, c, d);
		l1c = c;
		base_family = (a >> 8) & 0xf;
		base_model = (a >> 4) & 0xf;
		cpu.stepping = a & 0xf;
		cpu.family = base_family == 0xf ? base_family + (int) ((a >> 20) & 0xff) : base_family;
		cpu.model = (base_family == 0x6 || base_family == 0xf)
			? base_model | (int) (((a >> 16) & 0xf) << 4) : base_model;
	}
	if (max_leaf >= 7)
	{
		unsigned int sub;

		__cpuid_count(7, 0, sub, b, c, d);
		l7b = b;
		l7c = c;
		l7d = d;
		if (sub >= 1)
		{
			__cpuid_count(7, 1, a, b, c, d);
			l71a = a;
		}
	}

	if (l1c & (1u << 0))
		m |= B(SSE3);
	if (l1c & (1u << 9))
		m |= B(SSSE3);
	if (l1c & (1u << 19))
		m |= B(SSE41);
	if (l1c & (1u << 20))
		m |= B(SSE42);
	if (l1c & (1u << 28))
		m |= B(AVX);
	if (l1c & (1u << 29))
		m |= B(F16C);
	if (l1c & (1u << 12))
		m |= B(FMA);
	if (l7b & (1u << 5))
		m |= B(AVX2);
	if (l7b & (1u << 16))
		m |= B(AVX512F);
	if (l7b & (1u << 17))
		m |= B(AVX512DQ);
	if (l7b & (1u << 28))
		m |= B(AVX512CD);
	if (l7b & (1u << 30))
		m |= B(AVX512BW);
	if (l7b & (1u << 31))
		m |= B(AVX512VL);
	if (l7b & (1u << 29))
		m |= B(SHA);
	if (l7c & (1u << 11))
		m |= B(AVX512_VNNI);
	if (l7d & (1u << 23))
		m |= B(AVX512_FP16);
	if (l7d & (1u << 22))
		m |= B(AMX_BF16);
	if (l7d & (1u << 24))
		m |= B(AMX_TILE);
	if (l7d & (1u << 25))
		m |= B(AMX_INT8);
	if (l71a & (1u << 4))
		m |= B(AVX_VNNI);
	if (l71a & (1u << 5))
		m |= B(AVX512_BF16);
	cpu.cpuid = m;

	/* what the OS saves on a context switch */
	if (l1c & (1u << 27))		/* OSXSAVE */
		cpu.xcr0 = read_xcr0();
	if ((cpu.xcr0 & (XCR0_SSE | XCR0_AVX)) != (XCR0_SSE | XCR0_AVX))
		m &= ~(B(AVX) | B(AVX512F));	/* the closure removes dependants */
	if ((cpu.xcr0 & (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)) !=
		(XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM))
		m &= ~B(AVX512F);
	if ((cpu.xcr0 & (XCR0_TILECFG | XCR0_TILEDATA)) != (XCR0_TILECFG | XCR0_TILEDATA))
		m &= ~B(AMX_TILE);
	else if (m & B(AMX_TILE))
	{
		cpu.amx_errno = request_amx();
		if (cpu.amx_errno != 0)
			m &= ~B(AMX_TILE);
	}
	cpu.usable = maas_cpu_close(m);

	/* brand string, leading and trailing blanks trimmed */
	__cpuid(0x80000000, a, b, c, d);
	if (a >= 0x80000004)
	{
		char		raw[49];
		char	   *s;
		size_t		n;

		for (unsigned int i = 0; i < 3; i++)
		{
			__cpuid(0x80000002 + i, a, b, c, d);
			memcpy(raw + 16 * i + 0, &a, 4);
			memcpy(raw + 16 * i + 4, &b, 4);
			memcpy(raw + 16 * i + 8, &c, 4);
			memcpy(raw + 16 * i + 12, &d, 4);
		}
		raw[48] = '\0';
		s = raw;
		while (*s == ' ')
			s++;
		n = strlen(s);
		while (n > 0 && s[n - 1] == ' ')
			n--;
		memcpy(cpu.brand, s, n);
		cpu.brand[n] = '\0';
	}
}
#else
static void
detect(void)
{
	memset(&cpu, 0, sizeof(cpu));
}
#endif

const MaasCpu *
maas_cpu(void)
{
	if (!detected)
	{
		detect();
		detected = true;
	}
	return &cpu;
}

MaasCpuMask
maas_cpu_features(void)
{
	static MaasCpuMask features;
	static MaasCpuMask features_for = 0;
	static bool valid = false;

	if (!valid || features_for != disabled)
	{
		features = maas_cpu_close(maas_cpu()->usable & ~disabled);
		features_for = disabled;
		valid = true;
	}
	return features;
}

void
maas_cpu_set_disabled(MaasCpuMask mask)
{
	disabled = mask;
}

MaasCpuMask
maas_cpu_disabled(void)
{
	return disabled;
}

static bool
name_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

bool
maas_cpu_parse_features(const char *list, MaasCpuMask *mask, MaasError *err)
{
	const char *p = list ? list : "";
	MaasCpuMask m = 0;

	for (;;)
	{
		const char *start;
		size_t		len;
		bool		found = false;

		while (*p == ',' || isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',' && !isspace((unsigned char) *p))
			p++;
		len = p - start;

		for (int f = 0; f < MAAS_CPU_N_FEATURES && !found; f++)
			if (name_is(start, len, features[f].name))
			{
				m |= MAAS_CPU_BIT(f);
				found = true;
			}
		for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]) && !found; g++)
			if (name_is(start, len, groups[g].name))
			{
				m |= groups[g].mask;
				found = true;
			}
		if (!found)
			return maas_error(err, MAAS_ERR_INVALID, "unknown CPU feature \"%.*s\"",
							  (int) (len > 64 ? 64 : len), start);
	}
	*mask = m & (MAAS_CPU_BIT(MAAS_CPU_N_FEATURES) - 1);
	return true;
}

char *
maas_cpu_format(MaasCpuMask mask, char *buf, size_t len)
{
	size_t		used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (int f = 0; f < MAAS_CPU_N_FEATURES; f++)
	{
		size_t		n;

		if (!(mask & MAAS_CPU_BIT(f)))
			continue;
		n = strlen(features[f].name);
		if (used + (used > 0) + n + 1 > len)
			break;
		if (used > 0)
			buf[used++] = ' ';
		memcpy(buf + used, features[f].name, n + 1);
		used += n;
	}
	return buf;
}
