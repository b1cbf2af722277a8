/* descriptor.c - NAME_main.c's aert_model against NAME.h, for
 * tests/loader.sh: its tables are NAME_param(i), NAME_buffer(i) and the
 * header's sizes, its defaults NAME_default_hparams(), and every entry
 * point, called through the descriptor, gives what the direct call gives,
 * bit for bit. Built with driver.h's -DMODEL, -DMODEL_UPPER, and
 * -DDECODE_ARGS (the inputs NAME_decode takes after z: "in1," or nothing),
 * -DHAS_SAMPLE (1 if NAME.h declares NAME_sample), -DAERT_NO_MAIN, with
 * NAME.c and NAME_main.c. The loss terms add up to the loss, in
 * evaluation and in a train step; a Gaussian latent is drawn when
 * loss_terms is given a seed, the same for the same seed. Prints one line
 * per failure, then `NAME: N checks, M failed`; exits 1 if any failed. */
#include <aecc_rt.h>
#include <math.h>
#include <stdint.h>

#include "../driver.h"

const aert_model *FN(_aert_model)(void);

#if UP(_NUM_INPUTS) == 1
#define INPUTS in0,
#else
#define INPUTS in0, in1,
#endif

enum { B = 5 }; /* rows in every call */

static int checks, failed;

static void check(int ok, const char *what)
{
	checks++;
	if (!ok) {
		failed++;
		printf("FAIL: %s: %s\n", STR(MODEL), what);
	}
}

/* n reals in [0, 1), the same for the same seed. */
static real *input(size_t n, unsigned seed)
{
	real *x = alloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (real)((i * 2654435761u + seed * 40503u) % 1000) / 1000;
	return x;
}

/* The tables against the header's accessors. */
static void check_tables(const aert_model *d)
{
	check(d->n_params == UP(_NUM_PARAMS) && d->n_buffers == UP(_NUM_BUFFERS) &&
		      d->n_inputs == UP(_NUM_INPUTS) && d->param_elems == UP(_PARAM_ELEMS) &&
		      d->latent_size == UP(_LATENT_SIZE) && d->output_size == UP(_OUTPUT_SIZE) &&
		      d->max_batch == UP(_MAX_BATCH) && d->state_bytes == UP(_STATE_BYTES) &&
		      d->work_bytes == UP(_WORK_BYTES) && d->real_size == (int)sizeof(real),
	      "sizes");
	for (int i = 0; i < d->n_params; i++) {
		const FN(_param_info) *p = FN(_param)(i);
		const aert_param *q = &d->params[i];
		int same = !strcmp(p->name, q->name) && p->rank == q->rank && p->offset == q->offset && p->size == q->size;
		for (int k = 0; k < 4; k++)
			same &= (size_t)p->dims[k] == q->dims[k];
		check(same, "a parameter's row");
	}
	for (int i = 0; i < d->n_buffers; i++) {
		const FN(_buffer_info) *b = FN(_buffer)(i);
		const aert_buffer *q = &d->buffers[i];
		int same = !strcmp(b->name, q->name) && b->rank == q->rank && b->offset == q->offset &&
			   b->size == q->size && (q->dtype == AERT_I64) == b->integer;
		for (int k = 0; k < 4; k++)
			same &= (size_t)b->dims[k] == q->dims[k];
		check(same, "a buffer's row");
	}
	FN(_hparams) h = FN(_default_hparams)();
	check(h.lr == d->hparams.lr && h.beta1 == d->hparams.beta1 && h.beta2 == d->hparams.beta2 &&
		      h.eps == d->hparams.eps && h.weight_decay == d->hparams.weight_decay && d->hparams.stochastic,
	      "the default hyperparameters");
	check((d->sample != NULL) == HAS_SAMPLE, "sample is there when NAME.h has it");
	check(d->set_threads && d->set_threads(1) == 1, "set_threads");
}

/* The weighted sum of the terms, as the loss adds them up. */
static double weighted(const aert_model *d, const double *terms)
{
	double sum = 0;
	for (int i = 0; i < d->n_loss_terms; i++)
		sum += d->loss_term_weights[i] * terms[i];
	return sum;
}

/* 1 if a and b agree to the model's precision. */
static int close_to(double a, double b)
{
	return fabs(a - b) <= (sizeof(real) == 4 ? 1e-6 : 1e-14) * fabs(b);
}

/* Both sides of one comparison: what the descriptor wrote, what the direct
 * call wrote. */
typedef struct pair {
	void *a, *b;
	size_t bytes;
} pair;

static pair pair_new(size_t bytes)
{
	pair p = {alloc(bytes), alloc(bytes), bytes};
	return p;
}

static int same(pair p)
{
	return memcmp(p.a, p.b, p.bytes) == 0;
}

int main(void)
{
	const aert_model *d = FN(_aert_model)();
	check_tables(d);
	real *in0 = input((size_t)B * UP(_INPUT0_SIZE), 1);
#if UP(_NUM_INPUTS) > 1
	real *in1 = input((size_t)B * UP(_INPUT1_SIZE), 2);
	const void *in[2] = {in0, in1};
#else
	const void *in[1] = {in0};
#endif
	void *work = alloc(UP(_WORK_BYTES));
	pair state = pair_new(UP(_STATE_BYTES)), out = pair_new((size_t)B * UP(_OUTPUT_SIZE) * sizeof(real));
	pair z = pair_new((size_t)B * UP(_LATENT_SIZE) * sizeof(real)), grad = pair_new(UP(_PARAM_ELEMS) * sizeof(real));
	d->init(state.a, 11);
	FN(_init)(state.b, 11);
	check(same(state), "init");
	FN(_hparams) h = FN(_default_hparams)();
	aert_hparams a = d->hparams;
	check(d->train_step(state.a, work, in, B, &a) == (double)FN(_train_step)(state.b, work, INPUTS B, &h) &&
		      same(state),
	      "train_step");
	check(d->gradient(state.a, work, in, B, &a, grad.a) ==
			      (double)FN(_gradient)(state.b, work, INPUTS B, &h, grad.b) &&
		      same(grad),
	      "gradient");
	d->update(state.a, grad.a, &a);
	FN(_update)(state.b, grad.b, &h);
	check(same(state), "update");
	check(d->eval_loss(state.a, work, in, B) == (double)FN(_loss)(state.b, work, INPUTS B), "eval_loss");

	/* The loss terms: their table, the evaluation loss with them, a train
	 * step with them. */
	enum { MAX_TERMS = 8 };
	double ta[MAX_TERMS] = {0}, tb[MAX_TERMS] = {0};
	check(d->n_loss_terms == UP(_NUM_LOSS_TERMS) && d->n_loss_terms <= MAX_TERMS && d->loss_terms &&
		      d->train_step_terms,
	      "the loss terms' entry points");
	for (int i = 0; i < d->n_loss_terms; i++)
		check(!strcmp(FN(_loss_term)(i)->name, d->loss_term_names[i]) &&
			      FN(_loss_term)(i)->weight == d->loss_term_weights[i],
		      "a loss term's row");
	double mean = d->loss_terms(state.a, work, in, B, 0, ta);
	check(mean == (double)FN(_loss_terms)(state.b, work, INPUTS B, 0, tb) && !memcmp(ta, tb, sizeof ta),
	      "loss_terms");
	check(mean == d->eval_loss(state.a, work, in, B), "loss_terms with seed 0 is eval_loss");
	check(close_to(weighted(d, ta), mean), "the terms add up to the evaluation loss");
	double drawn = d->loss_terms(state.a, work, in, B, 7, ta);
	check(drawn == d->loss_terms(state.a, work, in, B, 7, NULL), "the same seed, the same draws");
	check(close_to(weighted(d, ta), drawn), "the terms add up to the sampled loss");
	if (d->draws_latent)
		check(drawn != mean && drawn != d->loss_terms(state.a, work, in, B, 8, NULL),
		      "a seed draws the latent, another seed draws it otherwise");
	else
		check(drawn == mean, "a model that draws no latent: the seed changes nothing");
	memcpy(state.b, state.a, state.bytes);
	double step = d->train_step_terms(state.a, work, in, B, &a, ta);
	check(step == d->train_step(state.b, work, in, B, &a) && same(state), "train_step_terms is train_step");
	check(close_to(weighted(d, ta), step), "the terms add up to the train step's loss");
	d->forward(state.a, work, in, B, out.a);
	FN(_forward)(state.b, work, INPUTS B, out.b);
	check(same(out), "forward");
	d->encode(state.a, work, in, B, z.a);
	FN(_encode)(state.b, work, INPUTS B, z.b);
	check(same(z), "encode");
	d->decode(state.a, work, z.a, in, B, out.a);
	FN(_decode)(state.b, work, z.b, DECODE_ARGS B, out.b);
	check(same(out), "decode");
#if HAS_SAMPLE
	d->sample(state.a, work, 5, B, out.a);
	FN(_sample)(state.b, work, 5, B, out.b);
	check(same(out), "sample");
#endif
	printf("%s: %d checks, %d failed\n", STR(MODEL), checks, failed);
	return failed != 0;
}
