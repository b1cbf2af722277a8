/* peak.c - the fp32 fused multiply-add peak of one core: twelve
 * independent chains of vector FMAs, as wide as the build target allows
 * (SIMDe maps them to AVX-512, AVX2 or NEON). Prints GFLOP/s: the best of
 * 30 runs of about a tenth of a second, each timed by the CPU time of the
 * thread, so that other tenants of a shared machine do not decide it. */
#define _POSIX_C_SOURCE 200809L
#include <simde/x86/avx512.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* the time it ran: the peak while it had the core */
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void)
{
	enum { CHAINS = 12 };
	const long iters = 5000000;
	simde__m512 acc[CHAINS], a = simde_mm512_set1_ps(0.999999f), b = simde_mm512_set1_ps(1e-7f);
	for (int c = 0; c < CHAINS; c++)
		acc[c] = simde_mm512_set1_ps((float)c);
	double best = 0;
	for (int rep = 0; rep < 30; rep++) {
		double t0 = now();
		for (long i = 0; i < iters; i++)
			for (int c = 0; c < CHAINS; c++)
				acc[c] = simde_mm512_fmadd_ps(acc[c], a, b);
		double dt = now() - t0, gf = 2.0 * 16 * CHAINS * (double)iters / dt / 1e9;
		if (gf > best)
			best = gf;
	}
	/* Keep the chains alive: store them and fold one lane. */
	float lanes[16], sink = 0;
	for (int c = 0; c < CHAINS; c++) {
		simde_mm512_storeu_ps(lanes, acc[c]);
		sink += lanes[0];
	}
	printf("%.1f\n", sink == sink ? best : 0);
	return 0;
}
