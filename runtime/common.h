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

/* Remove the temporary files "PATH.tmp.PID" that saves of PATH by
 * processes no longer running left behind (killed while they saved).
 * aert_st_save calls it; so does the trainer when it opens a run. */
void aert_st_clean(const char *path);

/* Reverse the bytes of each of the n elements of `width` bytes at p. */
void aert_swap_bytes(void *p, size_t n, size_t width);

#endif
