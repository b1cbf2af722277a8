/* fusion.c - a fingerprint of a generated model's training, to compare
 * builds that must agree bit for bit: fused and unfused (--no-fuse), one
 * thread and two.
 *
 *   cc -O2 -fopenmp -DMODEL=NAME -DMODEL_UPPER=UPPER -I DIR fusion.c DIR/NAME.c -lm
 *
 * Runs `steps` (argv[1], default 4) train steps at the compiled batch size
 * on fixed synthetic inputs, with the model's random parts on, and prints
 * every step's loss exactly (%a), then a hash of the whole state
 * (parameters, Adam moments, buffers), of the output of NAME_forward and
 * of NAME_encode, and the results of NAME_loss and NAME_gradient. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../driver.h"


enum { B = UP(_MAX_BATCH) };

static real *input(size_t elems, unsigned salt)
{
	real *x = alloc(elems * sizeof *x);
	for (size_t i = 0; i < elems; i++)
		x[i] = (real)(((i + salt) * 2654435761u) % 1000) / 1000;
	return x;
}

/* FNV-1a over bytes. */
static uint64_t hash(const void *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3u;
	return h;
}

#if UP(_NUM_INPUTS) == 1
#define INPUTS in0,
#else
#define INPUTS in0, in1,
#endif

int main(int argc, char **argv)
{
	const int steps = argc > 1 ? atoi(argv[1]) : 4;
	void *state = alloc(UP(_STATE_BYTES)), *work = alloc(UP(_WORK_BYTES));
	real *in0 = input((size_t)B * UP(_INPUT0_SIZE), 0);
#if UP(_NUM_INPUTS) > 1
	real *in1 = input((size_t)B * UP(_INPUT1_SIZE), 7);
#endif
	real *out = alloc((size_t)B * UP(_OUTPUT_SIZE) * sizeof *out);
	FN(_init)(state, 1);
	FN(_hparams) h = FN(_default_hparams)();
	for (int i = 0; i < steps; i++)
		printf("step %d loss %a\n", i + 1, (double)FN(_train_step)(state, work, INPUTS B, &h));
	FN(_forward)(state, work, INPUTS B, out);
	printf("state %016llx\n", (unsigned long long)hash(state, UP(_STATE_BYTES)));
	printf("output %016llx\n", (unsigned long long)hash(out, (size_t)B * UP(_OUTPUT_SIZE) * sizeof *out));
	real *z = alloc((size_t)B * UP(_LATENT_SIZE) * sizeof *z);
	FN(_encode)(state, work, INPUTS B, z);
	printf("latent %016llx\n", (unsigned long long)hash(z, (size_t)B * UP(_LATENT_SIZE) * sizeof *z));
	printf("eval loss %a\n", (double)FN(_loss)(state, work, INPUTS B));
	real *grad = alloc(UP(_PARAM_ELEMS) * sizeof *grad);
	printf("gradient loss %a\n", (double)FN(_gradient)(state, work, INPUTS B, &h, grad));
	printf("gradient %016llx\n", (unsigned long long)hash(grad, UP(_PARAM_ELEMS) * sizeof *grad));
	return 0;
}
