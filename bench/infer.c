/* infer.c - time an exported model's forward (aecc export at BATCH
 * samples a call) on one thread: calls per second in the best
 * quarter-second window of SECONDS, as bench/step.c times a train step.
 *
 *   infer SECONDS
 *
 * Compiled with -DINFER=NAME_infer -DUPPER=NAME_INFER -include
 * NAME_infer.h and FWD_ARGS, the inputs forward takes ("x, y,"). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(INFER, name)
#define M(name) CAT(UPPER, name)

typedef FN(_real) real;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* n values uniform in [0, 1) from a fixed seed. */
static real *inputs(long n)
{
	real *v = malloc((size_t)n * sizeof *v);
	unsigned long s = 12345;
	for (long i = 0; v && i < n; i++) {
		s = s * 6364136223846793005ul + 1442695040888963407ul;
		v[i] = (real)((s >> 40) / 16777216.0);
	}
	return v;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3, best = 0;
	real *x = inputs(M(_BATCH) * M(_INPUT0_SIZE));
#if M(_NUM_INPUTS) > 1
	real *y = inputs(M(_BATCH) * M(_INPUT1_SIZE));
	for (long i = 0; i < M(_BATCH) * M(_INPUT1_SIZE); i++)
		y[i] = i % M(_INPUT1_SIZE) == 0; /* one-hot */
#endif
	real *out = malloc(sizeof *out * M(_BATCH) * M(_OUTPUT_SIZE));
	void *work = malloc(M(_WORK_BYTES));
	if (!x || !out || !work)
		return 1;
	for (int i = 0; i < 3; i++)
		FN(_forward)(work, FWD_ARGS out);
	for (double start = now(); now() - start < seconds;) {
		long calls = 0;
		double t0 = now(), t;
		do {
			FN(_forward)(work, FWD_ARGS out);
			calls++;
		} while ((t = now() - t0) < 0.25);
		if (calls / t > best)
			best = calls / t;
	}
	printf("%.1f\n", best);
	return 0;
}
