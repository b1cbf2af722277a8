/* common.h - helpers shared by the runtime's sources. Internal: not
 * installed with aecc_rt.h, and not part of its interface. */
#ifndef AERT_COMMON_H
#define AERT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aecc_rt.h"

#if defined(__GNUC__)
#define AERT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define AERT_PRINTF(fmt, args)
#endif

/* Write "PATH: problem" into err (just "problem" when path is NULL) and
 * return -1, so that a failing function can end with `return aert_fail(...)`.
 * A path too long to fit is shortened in the middle with "..."; err may be
 * NULL. */
int aert_fail(aert_err *err, const char *path, const char *fmt, ...) AERT_PRINTF(3, 4);

/* *out = a * b; returns -1 (leaving *out alone) if that overflows size_t. */
static inline int aert_mul_size(size_t a, size_t b, size_t *out)
{
	if (b != 0 && a > SIZE_MAX / b)
		return -1;
	*out = a * b;
	return 0;
}

/* 1 on a little-endian host. */
static inline int aert_host_is_le(void)
{
	const uint16_t one = 1;
	unsigned char first;
	memcpy(&first, &one, 1);
	return first == 1;
}

/* Reverse the bytes of each of the n elements of `width` bytes at p. */
void aert_swap_bytes(void *p, size_t n, size_t width);

/* The thread count of a model's kernels while a trainer runs, when the
 * user did not choose one (threads.c): every RUN_STEPS steps, a few steps
 * are timed on all cores and a few on one thread, and the faster runs
 * until the next probe. The results do not depend on the thread count, so
 * this changes only the time: on an idle machine the cores win; when
 * other processes hold them, waiting for a descheduled thread can cost
 * more than the second thread gives, and one thread wins. */
typedef struct aert_governor {
	int (*set_threads)(int n); /* the model's */
	int most;                  /* threads on all cores; 0: not governed */
	int now;                   /* threads set now; 0: not set yet */
	int phase, left, rounds;   /* where in run, probe, probe it is */
	double spent[2];           /* seconds in the probes: all cores, one */
	long samples[2];           /* samples in them */
} aert_governor;

/* Govern set_threads between 1 and most (no governing when most < 2 or
 * set_threads is NULL). */
void aert_governor_init(aert_governor *g, int (*set_threads)(int n), int most);
/* Before a step: set the threads it runs on; returns them (0: not governed). */
int aert_governor_threads(aert_governor *g);
/* After it: the step took seconds for n samples. */
void aert_governor_done(aert_governor *g, double seconds, int n);

#endif
