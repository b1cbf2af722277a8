/* step.c - time one generated model's train step.
 *
 *   cc -O3 -march=native -fopenmp -DMODEL=NAME -DMODEL_UPPER=UPPER -I DIR -I build/include \
 *      step.c DIR/NAME.c build/lib/libaecc_rt.a -lpng -lz -lm
 *
 * Runs NAME_train_step at the compiled batch size (or on ROWS rows, a
 * number among the arguments after `seconds`) on synthetic inputs in
 * [0, 1) (labels for one-hot inputs make no difference to the time) for
 * at least `seconds` (argv[1], default 3) after a warm-up, in windows of
 * at least WINDOW seconds, and prints the samples per second of the best
 * window: on a shared machine, the rate while no other tenant ran.
 * bench/torch_step.py measures PyTorch the same way. With `cpu`
 * the windows are timed by the process's CPU time instead (for one
 * thread: the rate while it had the core, which other tenants of a shared
 * machine do not change); with `mean` it prints the mean rate over the
 * whole (wall) time: what a busy machine gives. The threads wait as the
 * trainer's do (aert_threads_wait_policy). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/driver.h"
#include "aecc_rt.h"


static real *input(size_t elems)
{
	real *x = alloc(elems * sizeof *x);
	for (size_t i = 0; i < elems; i++)
		x[i] = (real)((i * 2654435761u) % 1000) / 1000;
	return x;
}

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec t;
	clock_gettime(clock_id, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { B = UP(_MAX_BATCH) };

#if UP(_NUM_INPUTS) == 1
#define INPUTS in0,
#else
#define INPUTS in0, in1,
#endif

int main(int argc, char **argv)
{
	aert_threads_wait_policy(argv);
	double seconds = argc > 1 ? atof(argv[1]) : 3;
	int mean = 0, rows = B;
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "mean"))
			mean = 1;
		else if (!strcmp(argv[i], "cpu"))
			clock_id = CLOCK_PROCESS_CPUTIME_ID;
		else if (atoi(argv[i]) > 0 && atoi(argv[i]) < B)
			rows = atoi(argv[i]);
	void *state = alloc(UP(_STATE_BYTES)), *work = alloc(UP(_WORK_BYTES));
	real *in0 = input((size_t)B * UP(_INPUT0_SIZE));
#if UP(_NUM_INPUTS) > 1
	real *in1 = input((size_t)B * UP(_INPUT1_SIZE));
#endif
	FN(_init)(state, 1);
	FN(_hparams) h = FN(_default_hparams)();
	for (int i = 0; i < 3; i++)
		FN(_train_step)(state, work, INPUTS rows, &h);
	const double WINDOW = 0.25, start = now();
	double best = 0, samples = 0;
	do {
		long steps = 0;
		double t0 = now(), t;
		do {
			FN(_train_step)(state, work, INPUTS rows, &h);
			steps++;
			t = now() - t0;
		} while (t < WINDOW);
		if ((double)steps * rows / t > best)
			best = (double)steps * rows / t;
		samples += (double)steps * rows;
	} while (now() - start < seconds);
	printf("%.1f\n", mean ? samples / (now() - start) : best);
	return 0;
}
