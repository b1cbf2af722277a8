/* entry_points.c - every entry point of one compiled model, through its
 * descriptor, for the sanitizers: init, three train steps, the loss,
 * forward, encode, decode and sample, then the gradient and an update, at
 * batch sizes 1, 7 and the model's largest. Every buffer is allocated at
 * exactly the size the descriptor gives (64-byte aligned where the
 * generated code asks for it), so that ASan sees any access beyond the
 * state, the work arena, an input or an output; inputs the decoder does
 * not read are NULL there. Results must be finite.
 *
 * Built with a model's NAME.c and NAME_main.c (-DAERT_NO_MAIN) and
 * -DMODEL=NAME_aert_model by tests/sanitize.sh. Prints
 * "NAME: n=1 n=7 n=MAX ok" and exits 0, or aborts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aecc_rt.h"

const aert_model *MODEL(void);

#define CHECK(c) ((c) ? (void)0 : (fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c), abort()))

static void *aligned(size_t bytes)
{
	void *p = NULL;
	CHECK(posix_memalign(&p, 64, bytes) == 0);
	memset(p, 0, bytes);
	return p;
}

static void *exactly(size_t count, size_t size)
{
	void *p = malloc(count * size);
	CHECK(p != NULL);
	return p;
}

/* count reals of the model's type, all finite. */
static void check_finite(const aert_model *m, const void *v, size_t count, const char *what)
{
	for (size_t i = 0; i < count; i++) {
		double x = m->real_size == 8 ? ((const double *)v)[i] : ((const float *)v)[i];
		if (!isfinite(x)) {
			fprintf(stderr, "%s: %s[%zu] is %g\n", m->name, what, i, x);
			abort();
		}
	}
}

/* n rows of input i: one-hot rows of a label input, else values in [0, 1). */
static void *make_input(const aert_model *m, int i, int n, unsigned *seed)
{
	const aert_input *x = &m->inputs[i];
	size_t count = (size_t)n * x->size;
	void *v = exactly(count, (size_t)m->real_size);
	for (size_t k = 0; k < count; k++) {
		double e;
		if (x->onehot_classes > 0)
			e = (int)(k % x->size) == (int)((k / x->size) * 7 % x->size);
		else
			e = (double)((*seed = *seed * 1103515245u + 12345u) >> 8 & 0xFFFF) / 65536.0;
		if (m->real_size == 8)
			((double *)v)[k] = e;
		else
			((float *)v)[k] = (float)e;
	}
	return v;
}

static void run(const aert_model *m, int n)
{
	size_t real = (size_t)m->real_size;
	void *state = aligned(m->state_bytes), *work = aligned(m->work_bytes);
	void *in[AERT_MAX_INPUTS] = {0};
	const void *only_decode[AERT_MAX_INPUTS] = {0};
	unsigned seed = (unsigned)n;
	for (int i = 0; i < m->n_inputs; i++) {
		in[i] = make_input(m, i, n, &seed);
		if (m->decode_inputs >> i & 1)
			only_decode[i] = in[i];
	}
	const void *const *x = (const void *const *)in;
	aert_hparams h = m->hparams;

	m->init(state, 42);
	for (int step = 0; step < 3; step++)
		CHECK(isfinite(m->train_step(state, work, x, n, &h)));
	CHECK(isfinite(m->eval_loss(state, work, x, n)));
	void *out = exactly((size_t)n * m->output_size, real);
	void *z = exactly((size_t)n * m->latent_size, real);
	m->forward(state, work, x, n, out);
	check_finite(m, out, (size_t)n * m->output_size, "forward");
	m->encode(state, work, x, n, z);
	check_finite(m, z, (size_t)n * m->latent_size, "encode");
	if (m->decode) {
		m->decode(state, work, z, only_decode, n, out);
		check_finite(m, out, (size_t)n * m->output_size, "decode");
	}
	if (m->sample) {
		m->sample(state, work, 7, n, out);
		check_finite(m, out, (size_t)n * m->output_size, "sample");
	}
	if (m->gradient && m->update) {
		void *grad = aligned(m->param_elems * real);
		CHECK(isfinite(m->gradient(state, work, x, n, &h, grad)));
		check_finite(m, grad, m->param_elems, "gradient");
		m->update(state, grad, &h);
		free(grad);
	}
	for (int i = 0; i < m->n_inputs; i++)
		free(in[i]);
	free(out);
	free(z);
	free(state);
	free(work);
}

int main(void)
{
	const aert_model *m = MODEL();
	if (m->set_threads)
		m->set_threads(2);
	int sizes[3] = {1, 7, m->max_batch};
	printf("%s:", m->name);
	for (int k = 0; k < 3; k++) {
		int n = sizes[k] < m->max_batch ? sizes[k] : m->max_batch;
		if (k > 0 && n == sizes[k - 1])
			continue;
		run(m, n);
		printf(" n=%d", n);
	}
	printf(" ok\n");
	return 0;
}
