/* capi.c - the reference the model commands are checked against: the
 * model's own entry points called directly through its descriptor.
 *
 *   capi WEIGHTS DATA [LABELS] OUTDIR
 *
 * loads the weights and the samples (LABELS feeds a conditional model's
 * label input) and writes OUTDIR/encode.npy (NAME_encode), forward.npy
 * (NAME_forward), decoded.npy (NAME_decode of the codes, when the model
 * has it) and loss1.npy (NAME_loss of each sample on its own), each as
 * [n, width] float64. Built with -DDESC=NAME_aert_model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aecc_rt.h"

const aert_model *DESC(void);

static void die(const aert_err *e)
{
	fprintf(stderr, "capi: %s\n", e->msg);
	exit(1);
}

static double at(const aert_model *m, const void *p, size_t i)
{
	return m->real_size == 8 ? ((const double *)p)[i] : ((const float *)p)[i];
}

static void save(const aert_model *m, const char *dir, const char *name, const void *v, size_t n, size_t w)
{
	char path[4096];
	double *d = malloc(n * w * sizeof *d);
	aert_err e;
	for (size_t i = 0; i < n * w; i++)
		d[i] = at(m, v, i);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (aert_write_array(path, AERT_F64, n, w, d, NULL, &e) != 0)
		die(&e);
	free(d);
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: capi WEIGHTS DATA [LABELS] OUTDIR\n");
		return 2;
	}
	const aert_model *m = DESC();
	const char *dir = argv[argc - 1], *paths[AERT_MAX_INPUTS] = {argv[2], argc == 5 ? argv[3] : NULL};
	aert_err e;
	aert_data d;
	void *state = calloc(1, m->state_bytes), *work = calloc(1, m->work_bytes);
	m->init(state, 0);
	if (aert_load_model(m, state, argv[1], 0, &e) != 0 || aert_data_load(m, paths, &d, &e) != 0)
		die(&e);
	size_t n = d.n, rs = (size_t)m->real_size, *idx = malloc(n * sizeof *idx);
	void *in[AERT_MAX_INPUTS] = {0};
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (int i = 0; i < m->n_inputs; i++)
		in[i] = malloc(n * m->inputs[i].size * rs);
	void *z = malloc(n * m->latent_size * rs), *out = malloc(n * m->output_size * rs),
	     *dec = malloc(n * m->output_size * rs), *one[AERT_MAX_INPUTS];
	double *loss = malloc(n * sizeof *loss);
	if (aert_data_batch(m, &d, idx, n, in, &e) != 0)
		die(&e);
	/* in batches the work buffer takes */
	for (size_t first = 0; first < n; first += (size_t)m->max_batch) {
		int k = n - first < (size_t)m->max_batch ? (int)(n - first) : m->max_batch;
		const void *b[AERT_MAX_INPUTS] = {0};
		for (int i = 0; i < m->n_inputs; i++)
			b[i] = (char *)in[i] + first * m->inputs[i].size * rs;
		m->encode(state, work, b, k, (char *)z + first * m->latent_size * rs);
		m->forward(state, work, b, k, (char *)out + first * m->output_size * rs);
		if (m->decode)
			m->decode(state, work, (char *)z + first * m->latent_size * rs, b, k,
				  (char *)dec + first * m->output_size * rs);
	}
	for (size_t s = 0; s < n; s++) {
		for (int i = 0; i < m->n_inputs; i++)
			one[i] = (char *)in[i] + s * m->inputs[i].size * rs;
		loss[s] = m->eval_loss(state, work, (const void *const *)one, 1);
	}
	save(m, dir, "encode.npy", z, n, m->latent_size);
	save(m, dir, "forward.npy", out, n, m->output_size);
	if (m->decode)
		save(m, dir, "decoded.npy", dec, n, m->output_size);
	char path[4096];
	snprintf(path, sizeof path, "%s/loss1.npy", dir);
	if (aert_write_array(path, AERT_F64, n, 1, loss, NULL, &e) != 0)
		die(&e);
	return 0;
}
