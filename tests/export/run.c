/* run.c - tests/export.sh's driver of an exported model: every function
 * the export has, on the samples of a file, the results into another.
 *
 *   run IN OUT [WEIGHTS.safetensors]
 *
 * IN holds BATCH samples of each input in turn (float or double, as the
 * model's reals); OUT gets z = encode(IN), forward(IN), decode(z) and
 * score(IN), those the export has, in that order. Compiled with
 * -DINFER=NAME_infer -DUPPER=NAME_INFER -include NAME_infer.h, -DHAS_ENCODE
 * and the like for the functions there are, ENC_ARGS, FWD_ARGS, DEC_ARGS
 * and SCORE_ARGS for the inputs each takes ("in[0], in[1],"), and -DPOINTER
 * when the export takes the weights as a pointer: they are then read from
 * WEIGHTS with the aecc runtime, by the export's table of tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(INFER, name)
#define M(name) CAT(UPPER, name)

typedef FN(_real) real;

#ifdef POINTER
#include <aecc_rt.h>
#define W weights,
#else
#define W
#endif

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const long size[] = {
		M(_INPUT0_SIZE),
#if M(_NUM_INPUTS) > 1
		M(_INPUT1_SIZE),
#endif
	};
	const long n = M(_BATCH), nin = M(_NUM_INPUTS);
	size_t total = 0;
	for (long i = 0; i < nin; i++)
		total += (size_t)(n * size[i]);
	real *all = read_all(argv[1], total * sizeof(real)), *in[2] = {all, all};
	for (long i = 1; i < nin; i++)
		in[i] = in[i - 1] + n * size[i - 1];
#ifdef POINTER
	real *weights = calloc(M(_WEIGHT_ELEMS) + 1, sizeof(real));
	aert_tensor t[M(_NUM_TENSORS)];
	for (int i = 0; i < M(_NUM_TENSORS); i++) {
		const FN(_tensor) *s = &FN(_tensors)[i];
		t[i] = (aert_tensor){s->name, sizeof(real) == 4 ? AERT_F32 : AERT_F64, s->rank, {0}, weights + s->offset};
		for (int d = 0; d < s->rank; d++)
			t[i].dims[d] = (size_t)s->dims[d];
	}
	aert_err err;
	if (argc < 4 || aert_st_load(argv[3], t, M(_NUM_TENSORS), NULL, &err) != 0) {
		fprintf(stderr, "run: %s\n", argc < 4 ? "no weights" : err.msg);
		return 1;
	}
#endif
	void *work = malloc(M(_WORK_BYTES) + 1);
	real *z = calloc((size_t)(n * M(_LATENT_SIZE)), sizeof(real));
	real *out = calloc((size_t)(n * M(_OUTPUT_SIZE)), sizeof(real));
	real score[M(_BATCH)];
	FILE *f = fopen(argv[2], "wb");
	if (!f || !work || !z || !out)
		return 1;
#ifdef HAS_ENCODE
	FN(_encode)(W work, ENC_ARGS z);
	fwrite(z, sizeof(real), (size_t)(n * M(_LATENT_SIZE)), f);
#endif
#ifdef HAS_FORWARD
	FN(_forward)(W work, FWD_ARGS out);
	fwrite(out, sizeof(real), (size_t)(n * M(_OUTPUT_SIZE)), f);
#endif
#ifdef HAS_DECODE
	FN(_decode)(W work, z, DEC_ARGS out);
	fwrite(out, sizeof(real), (size_t)(n * M(_OUTPUT_SIZE)), f);
#endif
#ifdef HAS_SCORE
	FN(_score)(W work, SCORE_ARGS score);
	fwrite(score, sizeof(real), (size_t)n, f);
#endif
	return fclose(f) != 0;
}
