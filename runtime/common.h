/* common.h - helpers shared by the runtime's sources. Internal: not
 * installed with aecc_rt.h, and not part of its interface. */
#ifndef AERT_COMMON_H
#define AERT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Remove the temporary files "PATH.tmp.PID" that saves of PATH by
 * processes no longer running left behind (killed while they saved).
 * aert_st_save calls it; so does the trainer when it opens a run. */
void aert_st_clean(const char *path);

/* Reverse the bytes of each of the n elements of `width` bytes at p. */
void aert_swap_bytes(void *p, size_t n, size_t width);

/* Create the temporary file tmp for writing (0666 before the umask),
 * replacing one a dead process left behind, locked (flock) while it is
 * open; returns the descriptor or -1
 * with errno set. */
int aert_create_temp(const char *tmp);
/* Make a finished rename of path durable. Best effort: a file system that
 * cannot open or sync a directory does not undo the write. */
void aert_sync_directory(const char *path);

/* Element i of reals of type t (AERT_F32 or AERT_F64), as a double. */
double aert_real_at(aert_dtype t, const void *data, size_t i);

/* ---- statistics of the model commands (stats.c) ---- */

/* ROC-AUC of scores against positive flags, ties counting one half
 * (scikit-learn's roc_auc_score); NAN without both classes. */
double aert_roc_auc(const double *score, const int *positive, size_t n);
/* Average precision (scikit-learn's average_precision_score); NAN without
 * positives. */
double aert_average_precision(const double *score, const int *positive, size_t n);
/* The q-th percentile (0..100), interpolated as numpy.percentile. */
double aert_percentile(const double *v, size_t n, double q);
/* Project n rows of d values onto their two leading principal axes: out is
 * n x 2. -1 when out of memory. */
int aert_pca2(const double *x, size_t n, size_t d, double *out);
/* Fit a softmax regression of labels y (0..classes-1) on ntr rows of d
 * features (standardized with the training rows' mean and deviation) by
 * Adam over `epochs` shuffled passes, and return its accuracy on the nte
 * test rows; NAN when out of memory. */
double aert_probe(const float *xtr, const int *ytr, size_t ntr, const float *xte, const int *yte, size_t nte,
		  size_t d, int classes, int epochs, uint64_t seed);

/* An output file written atomically: stdio into PATH.tmp.PID, then renamed
 * over PATH by aert_out_commit. Until then PATH is untouched; on any
 * failure the temporary file is removed. */
typedef struct aert_out {
	FILE *f;          /* write here */
	char *tmp;        /* the temporary file's name (malloc'd) */
	const char *path; /* the file it becomes */
} aert_out;
/* Open the temporary file for path. */
int aert_out_open(aert_out *o, const char *path, aert_err *err);
/* Flush, sync, close and rename it over the path; -1 (and nothing left
 * behind) if any of that or an earlier write failed. */
int aert_out_commit(aert_out *o, aert_err *err);
/* Give up: close and remove the temporary file. */
void aert_out_abort(aert_out *o);
/* The thread count of a model's kernels while a trainer runs, when the
 * user did not choose one (threads.c): now and then (less often while the
 * choice holds) a few steps are timed on all cores and on one thread in
 * turns, and the faster by its median step runs until the next probe (a
 * probe that disagrees with the choice by less than half changes it only
 * when the next one agrees); a few steps in a row much slower than the
 * choice's median bring the next probe forward. The results do not depend on the thread count, so this changes
 * only the time: on an idle machine the cores win; when other processes
 * hold them, waiting for a descheduled thread can cost more than the
 * second thread gives, and one thread wins. */
enum { AERT_PROBE_TURNS = 6 }; /* steps of each count in a probe, at most */
typedef struct aert_governor {
	int (*set_threads)(int n); /* the model's */
	int most;                  /* threads on all cores; 0: not governed */
	int now;                   /* threads set now; 0: not set yet */
	int choice;                /* what runs between probes: most or 1 */
	int probing, left, rounds; /* in a probe or not, steps left in it, probes so far */
	int doubt;                 /* the last probe disagreed with the choice */
	int run_steps;             /* steps between this probe and the next */
	int timed[2];              /* steps timed in the probe: all cores, one */
	double per[2][AERT_PROBE_TURNS]; /* their seconds per sample */
	double usual;              /* the choice's median in the last probe; 0: none yet */
	int slow;                  /* steps in a row since then much slower than usual */
} aert_governor;

/* Govern set_threads between 1 and most (no governing when most < 2 or
 * set_threads is NULL). */
void aert_governor_init(aert_governor *g, int (*set_threads)(int n), int most);
/* Before a step: set the threads it runs on; returns them (0: not governed). */
int aert_governor_threads(aert_governor *g);
/* After it: the step took seconds for n samples. */
void aert_governor_done(aert_governor *g, double seconds, int n);

#endif
