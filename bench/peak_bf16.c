/* peak_bf16.c - the bf16 peaks of one core, where the CPU has them: AMX
 * (four accumulator tiles of _tile_dpbf16ps, as the 960 GFLOP/s
 * were measured) and AVX512-BF16 (twelve independent chains of
 * _mm512_dpbf16_ps). Prints two lines, `amx G` and `avx512_bf16 G`, each
 * in GFLOP/s (a multiply and an add counted as two), or `-` and the reason
 * when the CPU or the kernel does not offer it; each the best of 30 short
 * runs, as bench/peak.c. x86-64 with gcc or clang only; elsewhere both
 * are `-`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* the time it ran: the peak while it had the core */
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

__attribute__((target("avx512f,avx512bf16"))) static double avx512_bf16(void)
{
	enum { CHAINS = 12 };
	const long iters = 2500000;
	__m512 acc[CHAINS];
	const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
	for (int c = 0; c < CHAINS; c++)
		acc[c] = _mm512_set1_ps((float)c);
	double best = 0;
	for (int rep = 0; rep < 30; rep++) {
		double t0 = now();
		for (long i = 0; i < iters; i++)
			for (int c = 0; c < CHAINS; c++)
				acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
		/* 16 lanes, each two products and their sum into the lane */
		double dt = now() - t0, gf = 2.0 * 32 * CHAINS * (double)iters / dt / 1e9;
		if (gf > best)
			best = gf;
	}
	float lanes[16], sink = 0;
	for (int c = 0; c < CHAINS; c++) {
		_mm512_storeu_ps(lanes, acc[c]);
		sink += lanes[0];
	}
	return sink == sink ? best : 0;
}

/* The tile configuration: palette 1, tiles 0-7 of 16 rows of 64 bytes. */
struct tilecfg {
	unsigned char palette, start;
	unsigned char reserved[14];
	unsigned short colsb[16];
	unsigned char rows[16];
};

__attribute__((target("amx-tile,amx-bf16"))) static double amx(void)
{
	static unsigned short a[16 * 32] __attribute__((aligned(64))), b[16 * 32] __attribute__((aligned(64)));
	static float c[16 * 16] __attribute__((aligned(64)));
	for (int i = 0; i < 16 * 32; i++)
		a[i] = b[i] = 0x3c00; /* small values: nothing overflows */
	struct tilecfg cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.palette = 1;
	for (int t = 0; t < 8; t++) {
		cfg.colsb[t] = 64;
		cfg.rows[t] = 16;
	}
	_tile_loadconfig(&cfg);
	_tile_zero(0);
	_tile_zero(1);
	_tile_zero(2);
	_tile_zero(3);
	_tile_loadd(4, a, 64);
	_tile_loadd(5, a, 64);
	_tile_loadd(6, b, 64);
	_tile_loadd(7, b, 64);
	const long iters = 1000000;
	double best = 0;
	for (int rep = 0; rep < 30; rep++) {
		double t0 = now();
		for (long i = 0; i < iters; i++) {
			_tile_dpbf16ps(0, 4, 6);
			_tile_dpbf16ps(1, 4, 7);
			_tile_dpbf16ps(2, 5, 6);
			_tile_dpbf16ps(3, 5, 7);
		}
		/* each: a 16 x 32 by 32 x 16 product into 16 x 16 */
		double dt = now() - t0, gf = 4 * 2.0 * 16 * 16 * 32 * (double)iters / dt / 1e9;
		if (gf > best)
			best = gf;
	}
	_tile_stored(0, c, 64);
	_tile_release();
	return c[0] == c[0] ? best : 0;
}

/* CPUID leaf 7: AMX-BF16 and AMX-TILE (subleaf 0, EDX bits 22 and 24),
 * AVX512-BF16 (subleaf 1, EAX bit 5). */
static int has(int amx)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, amx ? 0 : 1, &a, &b, &c, &d))
		return 0;
	return amx ? (d >> 22 & 1) && (d >> 24 & 1) : a >> 5 & 1;
}

int main(void)
{
	if (!has(1))
		printf("amx - (the CPU has no AMX-BF16)\n");
	else if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
		printf("amx - (the kernel refused the AMX tile state: arch_prctl(ARCH_REQ_XCOMP_PERM))\n");
	else
		printf("amx %.1f\n", amx());
	if (!has(0))
		printf("avx512_bf16 - (the CPU has no AVX512-BF16)\n");
	else
		printf("avx512_bf16 %.1f\n", avx512_bf16());
	return 0;
}
#else
int main(void)
{
	printf("amx - (not an x86-64 build)\navx512_bf16 - (not an x86-64 build)\n");
	return 0;
}
#endif
