/* two.c - two exported models in one program: small_ae's and conv_vae's
 * reconstructions of the same image (the first of IN, 784 floats) into
 * OUT, one after the other, with a work buffer each.
 *
 *   two IN OUT */
#include <stdio.h>

#include "conv_vae_infer.h"
#include "small_ae_infer.h"

static double small_work[(SMALL_AE_INFER_WORK_BYTES + 7) / 8];
static double conv_work[(CONV_VAE_INFER_WORK_BYTES + 7) / 8];

int main(int argc, char **argv)
{
	float x[784], a[SMALL_AE_INFER_OUTPUT_SIZE], b[CONV_VAE_INFER_OUTPUT_SIZE];
	FILE *in = argc == 3 ? fopen(argv[1], "rb") : NULL, *out = argc == 3 ? fopen(argv[2], "wb") : NULL;
	if (!in || !out || fread(x, sizeof x, 1, in) != 1)
		return 2;
	small_ae_infer_forward(small_work, x, a);
	conv_vae_infer_forward(conv_work, x, b);
	fwrite(a, sizeof a, 1, out);
	fwrite(b, sizeof b, 1, out);
	return fclose(out) != 0;
}
