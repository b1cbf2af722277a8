/* driver.h - what every program built against one generated model shares
 * (bench/step.c, tests/fusion/fusion.c, tests/gradcheck/gradcheck.c and
 * noise_check.c). The model is named at compile time, -DMODEL=NAME
 * -DMODEL_UPPER=UPPER with -I its folder: FN(_x) is NAME_x, UP(_X) is
 * UPPER_X, `real` its element type. Include it after the system headers. */
#ifndef AECC_TESTS_DRIVER_H
#define AECC_TESTS_DRIVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define FN(x) CAT(MODEL, x)
#define UP(x) CAT(MODEL_UPPER, x)

#include STR(MODEL.h)

typedef FN(_real) real;

/* bytes of zeroed memory, 64-byte aligned; exits 2 when there is none. */
static void *alloc(size_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
		fputs(STR(MODEL) ": out of memory\n", stderr);
		exit(2);
	}
	memset(p, 0, bytes);
	return p;
}

#endif
