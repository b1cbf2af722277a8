/* roundtrip.c - the weights an export writes as C literals are the bits of
 * its safetensors file: NAME_infer_weights from NAME_infer_weights.c
 * (aecc export --weights-as extern --weights FILE) against each tensor of
 * FILE, read by the aecc runtime through the export's table of tensors.
 *
 *   roundtrip FILE
 *
 * Compiled with -DINFER=NAME_infer -DUPPER=NAME_INFER -include
 * NAME_infer.h. Prints how many values it compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aecc_rt.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(INFER, name)
#define M(name) CAT(UPPER, name)

int main(int argc, char **argv)
{
	FN(_real) *file = calloc(M(_WEIGHT_ELEMS), sizeof *file);
	aert_tensor t[M(_NUM_TENSORS)];
	for (int i = 0; i < M(_NUM_TENSORS); i++) {
		const FN(_tensor) *s = &FN(_tensors)[i];
		t[i] = (aert_tensor){s->name, sizeof *file == 4 ? AERT_F32 : AERT_F64, s->rank, {0}, file + s->offset};
		for (int d = 0; d < s->rank; d++)
			t[i].dims[d] = (size_t)s->dims[d];
	}
	aert_err err;
	if (argc != 2 || !file || aert_st_load(argv[1], t, M(_NUM_TENSORS), NULL, &err) != 0) {
		fprintf(stderr, "roundtrip: %s\n", argc != 2 || !file ? "usage: roundtrip FILE" : err.msg);
		return 2;
	}
	for (long i = 0; i < M(_WEIGHT_ELEMS); i++)
		if (memcmp(&file[i], &FN(_weights)[i], sizeof *file)) {
			printf("roundtrip: value %ld is %.9g in the file, %.9g in the C\n", i, (double)file[i],
			       (double)FN(_weights)[i]);
			return 1;
		}
	printf("roundtrip: %ld values, every one the same bits\n", (long)M(_WEIGHT_ELEMS));
	return 0;
}
