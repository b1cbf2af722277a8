/* reference.c - the results run.c writes, from a model's training build
 * (NAME.c and NAME_main.c, through the aert_model of DESCRIPTOR), with the
 * weights that WEIGHTS holds:
 *
 *   reference WEIGHTS IN OUT N FUNCTIONS
 *
 * N samples per input in IN; FUNCTIONS names what to write, in run.c's
 * order: e (encode), f (forward), d (decode of encode's z), s (the loss of
 * each sample alone, in evaluation form). With `reference --init SEED
 * WEIGHTS IN N STEPS` it writes weights instead: the initial ones from
 * SEED after STEPS train steps on the N samples of IN (which moves
 * BatchNorm's running statistics too). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#include <aecc_rt.h>

const aert_model *DESCRIPTOR(void);

int main(int argc, char **argv)
{
	const aert_model *d = DESCRIPTOR();
	void *state, *work;
	aert_err err;
	if (posix_memalign(&state, 64, d->state_bytes) || posix_memalign(&work, 64, d->work_bytes))
		return 1;
	const int init = argc == 7 && !strcmp(argv[1], "--init");
	if (argc != 6 && !init)
		return 2;
	d->init(state, init ? strtoull(argv[2], NULL, 10) : 1);
	if (!init && aert_load_model(d, state, argv[1], 0, &err) != 0) {
		fprintf(stderr, "reference: %s\n", err.msg);
		return 1;
	}
	const int n = atoi(argv[4 + init]);
	const size_t r = (size_t)d->real_size;
	size_t total = 0;
	for (int i = 0; i < d->n_inputs; i++)
		total += (size_t)n * d->inputs[i].size;
	unsigned char *all = read_all(argv[2 + init * 2], total * r);
	const void *in[AERT_MAX_INPUTS], *one[AERT_MAX_INPUTS];
	for (int i = 0, at = 0; i < d->n_inputs; at += n * (int)d->inputs[i].size, i++)
		in[i] = all + (size_t)at * r;
	if (init) {
		for (int step = atoi(argv[6]); step > 0; step--)
			d->train_step(state, work, in, n, &d->hparams);
		if (aert_save_model(d, state, argv[3], 0, &err) != 0) {
			fprintf(stderr, "reference: %s\n", err.msg);
			return 1;
		}
		return 0;
	}
	unsigned char *z = calloc((size_t)n * d->latent_size, r), *out = calloc((size_t)n * d->output_size, r);
	FILE *f = fopen(argv[3], "wb");
	if (!f || !z || !out)
		return 1;
	for (const char *fn = argv[5]; *fn; fn++) {
		if (*fn == 'e') {
			d->encode(state, work, in, n, z);
			fwrite(z, r, (size_t)n * d->latent_size, f);
		} else if (*fn == 'f' || *fn == 'd') {
			if (*fn == 'f')
				d->forward(state, work, in, n, out);
			else
				d->decode(state, work, z, in, n, out);
			fwrite(out, r, (size_t)n * d->output_size, f);
		} else {
			for (int b = 0; b < n; b++) {
				for (int i = 0; i < d->n_inputs; i++)
					one[i] = (const unsigned char *)in[i] + (size_t)b * d->inputs[i].size * r;
				double s = d->eval_loss(state, work, one, 1);
				float s32 = (float)s;
				fwrite(r == 4 ? (void *)&s32 : (void *)&s, r, 1, f);
			}
		}
	}
	return fclose(f) != 0;
}
