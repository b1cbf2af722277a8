/* test_trainer.c - aert_train_main driving a hand-written model: a linear
 * least-squares fit t ~ w.x + b of input "x" [3] to input "t" [1], trained
 * with Adam exactly as torch.optim.Adam does; for the training controls,
 * the same with validation losses the test sets (scripted_eval) or with
 * two loss terms (terms_model). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aecc_rt.h"
#include "helpers.h"

enum { D = 3, N_TRAIN = 10, N_TEST = 6, MAX_BATCH = 4, MAX_CALLS = 64 };

/* The model's state: step, then parameters and moments (w[3], b). */
typedef struct lin_state {
	int64_t step;
	int64_t pad[7];
	float p[D + 1], m[D + 1], v[D + 1];
} lin_state;

/* What the model saw, for the tests to check. */
static struct {
	int calls;             /* train_step calls */
	int n[MAX_CALLS];      /* batch size of each */
	float x0[MAX_CALLS];   /* first x value of each batch */
	float p0[MAX_CALLS];   /* w[0] when each started */
	float p1[MAX_CALLS];   /* w[0] after each */
	double lr[MAX_CALLS];  /* h->lr of each */
	int stochastic;        /* h->stochastic of the last call */
	int eval_rows;         /* rows given to eval_loss in all */
	int evals;             /* eval_loss (or loss_terms) calls */
	int trained[N_TRAIN];  /* rows of training sample i given to train_step */
	int evaluated[N_TRAIN]; /* the same for eval_loss */
	uint64_t seed[MAX_CALLS]; /* loss_terms' sample_seed of each call */
} seen;

/* Which training sample a row of x is (-1: none): their x[0] differ. */
static int sample_of(const float *x);

/* Count the rows of x[0..n) that are training samples into count. */
static void count_rows(const float *x, int n, int *count)
{
	for (int i = 0; i < n; i++) {
		int k = sample_of(x + i * D);
		if (k >= 0)
			count[k]++;
	}
}

static void *lin_params(void *s) { return ((lin_state *)s)->p; }
static void *lin_m(void *s) { return ((lin_state *)s)->m; }
static void *lin_v(void *s) { return ((lin_state *)s)->v; }
static int64_t *lin_step(void *s) { return &((lin_state *)s)->step; }

static void lin_init(void *state, uint64_t seed)
{
	lin_state *s = state;
	memset(s, 0, sizeof *s);
	for (int j = 0; j <= D; j++)
		s->p[j] = 0.01f * (float)((seed + (uint64_t)j) % 5);
}

/* Mean squared error over n rows and, if grad, its gradient. */
static double lin_loss(const lin_state *s, const float *x, const float *t, int n, double *grad)
{
	double loss = 0;
	if (grad)
		memset(grad, 0, (D + 1) * sizeof *grad);
	for (int i = 0; i < n; i++) {
		double r = s->p[D] - t[i];
		for (int j = 0; j < D; j++)
			r += (double)s->p[j] * x[i * D + j];
		loss += r * r;
		for (int j = 0; grad && j < D; j++)
			grad[j] += 2 * r * x[i * D + j] / n;
		if (grad)
			grad[D] += 2 * r / n;
	}
	return (float)(loss / n);
}

static double lin_train_step(void *state, void *work, const void *const *in, int n, const aert_hparams *h)
{
	lin_state *s = state;
	double g[D + 1];
	(void)work;
	if (seen.calls < MAX_CALLS) {
		seen.n[seen.calls] = n;
		seen.x0[seen.calls] = ((const float *)in[0])[0];
		seen.p0[seen.calls] = s->p[0];
	}
	if (seen.calls < MAX_CALLS)
		seen.lr[seen.calls] = h->lr;
	count_rows(in[0], n, seen.trained);
	seen.stochastic = h->stochastic;
	double loss = lin_loss(s, in[0], in[1], n, g);
	int64_t step = ++s->step;
	for (int j = 0; j <= D; j++) {
		s->m[j] = (float)(h->beta1 * s->m[j] + (1 - h->beta1) * g[j]);
		s->v[j] = (float)(h->beta2 * s->v[j] + (1 - h->beta2) * g[j] * g[j]);
		double mhat = s->m[j] / (1 - pow(h->beta1, (double)step));
		double vhat = s->v[j] / (1 - pow(h->beta2, (double)step));
		s->p[j] -= (float)(h->lr * mhat / (sqrt(vhat) + h->eps));
	}
	if (seen.calls < MAX_CALLS)
		seen.p1[seen.calls] = s->p[0];
	seen.calls++;
	return loss;
}

static double lin_eval(const void *state, void *work, const void *const *in, int n)
{
	(void)work;
	seen.eval_rows += n;
	seen.evals++;
	count_rows(in[0], n, seen.evaluated);
	return lin_loss(state, in[0], in[1], n, NULL);
}

/* ---- the same model with two loss terms: the loss is mse + 0.5 * b^2 ---- */

static const char *const TERM_NAMES[2] = {"mse", "bias2"};
static const double TERM_WEIGHTS[2] = {1, 0.5};

static double lin_train_terms(void *state, void *work, const void *const *in, int n, const aert_hparams *h,
			      double *terms)
{
	double b = ((lin_state *)state)->p[D];
	terms[0] = lin_train_step(state, work, in, n, h);
	terms[1] = b * b;
	return terms[0] + 0.5 * terms[1];
}

static double lin_eval_terms(const void *state, void *work, const void *const *in, int n, uint64_t sample_seed,
			     double *terms)
{
	double b = ((const lin_state *)state)->p[D], mse = lin_eval(state, work, in, n);
	if (seen.evals - 1 < MAX_CALLS)
		seen.seed[seen.evals - 1] = sample_seed;
	if (terms) {
		terms[0] = mse;
		terms[1] = b * b;
	}
	return mse + 0.5 * b * b;
}

/* ---- validation losses set by the test: the loss of evaluation k ---- */

static double script[MAX_CALLS];

static double scripted_eval(const void *state, void *work, const void *const *in, int n)
{
	(void)state;
	(void)work;
	(void)in;
	seen.eval_rows += n;
	return script[seen.evals++];
}

static const aert_param LIN_PARAMS[2] = {
	{"lin.weight", 2, {1, D}, 0, D},
	{"lin.bias", 1, {1}, D, 1},
};

static const aert_input LIN_INPUTS[2] = {
	{"x", 1, {D}, D, 0},
	{"t", 1, {1}, 1, 0},
};

/* The data files in tmp_dir (written by write_data): x, t, x_test, t_test. */
static char *data_paths[4];

/* Its descriptor, reading data_paths. */
static aert_model lin_model(void)
{
	aert_model m = {0};
	m.name = "lin";
	m.source = "lin.ae";
	m.real_size = 4;
	m.max_batch = MAX_BATCH;
	m.state_bytes = sizeof(lin_state);
	m.work_bytes = 0;
	m.n_inputs = 2;
	m.inputs = LIN_INPUTS;
	m.n_params = 2;
	m.params = LIN_PARAMS;
	m.param_elems = D + 1;
	m.params_of = lin_params;
	m.adam_m_of = lin_m;
	m.adam_v_of = lin_v;
	m.step_of = lin_step;
	m.init = lin_init;
	m.train_step = lin_train_step;
	m.eval_loss = lin_eval;
	m.hparams = (aert_hparams){0.1, 0.9, 0.999, 1e-8, 0, 1};
	m.batch = MAX_BATCH;
	m.epochs = 3;
	m.seed = 1;
	m.train_path[0] = data_paths[0];
	m.train_path[1] = data_paths[1];
	m.test_path[0] = data_paths[2];
	m.test_path[1] = data_paths[3];
	m.scale[0] = 1;
	m.scale[1] = 1;
	return m;
}

/* Sample i of the data: x in [-1, 1], t = 2 x0 - x1 + 0.5 x2 + 1. */
static void sample(int i, float x[D], float *t)
{
	for (int j = 0; j < D; j++)
		x[j] = (float)((i * 7 + j * 3) % 11) / 5.0f - 1;
	*t = 2 * x[0] - x[1] + 0.5f * x[2] + 1;
}

static int sample_of(const float *x)
{
	for (int i = 0; i < N_TRAIN; i++) {
		float xi[D], t;
		sample(i, xi, &t);
		if (xi[0] == x[0])
			return i;
	}
	return -1;
}

static void write_npy_f4(const char *path, const float *v, int rows, int cols)
{
	char dict[128];
	snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
	size_t len;
	unsigned char *img = make_npy(1, dict, v, (size_t)rows * (size_t)cols * sizeof *v, &len);
	write_bytes(path, img, len);
	free(img);
}

static void write_csv(const char *path, const float *v, int rows, int cols)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++)
			fprintf(f, "%.9g%c", v[i * cols + j], j + 1 < cols ? ',' : '\n');
	fclose(f);
}

/* The four data files of lin_model: NPY, CSV, CSV, NPY. */
static void write_data(const aert_model *m)
{
	float x[N_TRAIN * D], t[N_TRAIN], tx[N_TEST * D], tt[N_TEST];
	for (int i = 0; i < N_TRAIN; i++)
		sample(i, x + i * D, t + i);
	for (int i = 0; i < N_TEST; i++)
		sample(100 + i, tx + i * D, tt + i);
	write_npy_f4(m->train_path[0], x, N_TRAIN, D);
	write_csv(m->train_path[1], t, N_TRAIN, 1);
	write_csv(m->test_path[0], tx, N_TEST, D);
	write_npy_f4(m->test_path[1], tt, N_TEST, 1);
}

static void setup(void)
{
	static const char *const names[4] = {"x.npy", "t.csv", "x_test.csv", "t_test.npy"};
	tmp_setup();
	for (int i = 0; i < 4; i++)
		data_paths[i] = tmp_path(names[i]);
	cr_redirect_stdout();
	cr_redirect_stderr();
	memset(&seen, 0, sizeof seen);
}

static void teardown(void)
{
	for (int i = 0; i < 4; i++)
		free(data_paths[i]);
	tmp_teardown();
}

TestSuite(trainer, .init = setup, .fini = teardown);

/* aert_train_main with "lin-train" and the arguments up to NULL. */
static int train(const aert_model *m, ...)
{
	char *argv[32] = {"lin-train"};
	int argc = 1;
	va_list ap;
	va_start(ap, m);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	return aert_train_main(m, argc, argv);
}

/* The train and test loss printed for epoch e (1-based) in out. */
static void epoch_losses(const char *out, int e, double *train_loss, double *test_loss)
{
	const char *line = out;
	for (int k = 1; k < e; k++) {
		line = strchr(line, '\n');
		cr_assert_not_null(line, "no line for epoch %d in:\n%s", e, out);
		line++;
	}
	int got_e, total;
	cr_assert_eq(sscanf(line, "epoch %d/%d  train_loss %lf  test_loss %lf", &got_e, &total, train_loss, test_loss),
		     4, "bad line: %.80s", line);
	cr_assert_eq(got_e, e);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(trainer, loss_falls)
{
	aert_model m = lin_model();
	write_data(&m);
	cr_assert_eq(train(&m, "--epochs", "40", "--quiet", NULL), 0);
	char *out = take_stdout(), *err = take_stderr();
	cr_assert_str_eq(err, "");
	cr_assert_eq(count_lines(out), 40, "%s", out);
	cr_assert_eq(strncmp(out, "epoch 1/40  train_loss ", 23), 0, "%s", out);
	double first, first_test, last, last_test;
	epoch_losses(out, 1, &first, &first_test);
	epoch_losses(out, 40, &last, &last_test);
	cr_assert_lt(last, first / 20, "train loss %g -> %g", first, last);
	cr_assert_lt(last_test, first_test / 20, "test loss %g -> %g", first_test, last_test);
	cr_assert_eq(seen.calls, 40 * 3);
	cr_assert_eq(seen.eval_rows, 40 * N_TEST, "the whole test set every epoch");
	cr_assert_eq(seen.stochastic, 1);
	free(out);
	free(err);
}

Test(trainer, epoch_line_format)
{
	aert_model m = lin_model();
	write_data(&m);
	cr_assert_eq(train(&m, "--epochs", "1", NULL), 0);
	char *out = take_stdout();
	char rate[32], rest[8] = "";
	double train_loss, test_loss;
	cr_assert_eq(sscanf(out, "epoch 1/1  train_loss %lf  test_loss %lf  %31s samples/s\n%7s", &train_loss,
			    &test_loss, rate, rest),
		     3, "%s", out);
	cr_assert(strchr("0123456789", rate[0]) && strchr("0123456789kM", rate[strlen(rate) - 1]), "%s", rate);
	char expect[64];
	snprintf(expect, sizeof expect, "train_loss %.4f  test_loss %.4f  ", train_loss, test_loss);
	cr_assert_not_null(strstr(out, expect), "%s", out);
	free(out);
}

Test(trainer, without_test_set)
{
	aert_model m = lin_model();
	write_data(&m);
	m.test_path[0] = m.test_path[1] = NULL;
	cr_assert_eq(train(&m, "--epochs", "2", NULL), 0);
	char *out = take_stdout();
	cr_assert_null(strstr(out, "test_loss"), "%s", out);
	cr_assert_eq(strncmp(out, "epoch 1/2  train_loss ", 22), 0, "%s", out);
	cr_assert_eq(seen.eval_rows, 0);
	free(out);
}

Test(trainer, steps_stop_exactly)
{
	aert_model m = lin_model();
	write_data(&m);
	cr_assert_eq(train(&m, "--steps", "7", "--no-shuffle", NULL), 0);
	cr_assert_eq(seen.calls, 7);
	/* Batches of 4, 4 and the 2 left over, like drop_last=False. */
	const int want[7] = {4, 4, 2, 4, 4, 2, 4};
	for (int i = 0; i < 7; i++)
		cr_assert_eq(seen.n[i], want[i], "batch %d", i);
	char *out = take_stdout();
	cr_assert_eq(count_lines(out), 3, "%s", out);
	cr_assert_not_null(strstr(out, "epoch 3/3  train_loss"), "%s", out);

	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--steps", "7", "--epochs", "1", NULL), 0);
	cr_assert_eq(seen.calls, 3, "--epochs 1 ends first");
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--steps", "5", "--batch", "2", "--epochs", "9", NULL), 0);
	cr_assert_eq(seen.calls, 5, "--steps 5 ends first");
	free(out);
}

Test(trainer, batch_option)
{
	aert_model m = lin_model();
	write_data(&m);
	cr_assert_eq(train(&m, "--batch=3", "--epochs", "1", NULL), 0);
	cr_assert_eq(seen.calls, 4);
	cr_assert_eq(seen.n[3], 1);
}

Test(trainer, no_shuffle_keeps_file_order_and_shuffle_does_not)
{
	aert_model m = lin_model();
	write_data(&m);
	float x[D], t;
	cr_assert_eq(train(&m, "--epochs", "2", "--no-shuffle", NULL), 0);
	for (int k = 0; k < 6; k++) {
		sample(4 * (k % 3), x, &t);
		cr_assert_eq(seen.x0[k], x[0], "batch %d starts with sample %d", k, 4 * (k % 3));
	}
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--epochs", "4", NULL), 0);
	int moved = 0;
	for (int k = 0; k < 12; k++) {
		sample(4 * (k % 3), x, &t);
		moved += seen.x0[k] != x[0];
	}
	cr_assert_gt(moved, 0, "shuffling changes the order");
}

Test(trainer, same_seed_same_weights)
{
	aert_model m = lin_model();
	write_data(&m);
	char *a = tmp_path("a.safetensors"), *b = tmp_path("b.safetensors"), *c = tmp_path("c.safetensors");
	cr_assert_eq(train(&m, "--epochs", "2", "--save", a, NULL), 0);
	cr_assert_eq(train(&m, "--epochs", "2", "--save", b, NULL), 0);
	cr_assert_eq(train(&m, "--epochs", "2", "--seed", "99", "--save", c, NULL), 0);
	size_t la, lb, lc;
	unsigned char *da = read_bytes(a, &la), *db = read_bytes(b, &lb), *dc = read_bytes(c, &lc);
	cr_assert_eq(la, lb);
	cr_assert_arr_eq(da, db, la);
	cr_assert_eq(la, lc);
	cr_assert_neq(memcmp(da, dc, la), 0, "another seed, other weights");
	free(da);
	free(db);
	free(dc);
	free(a);
	free(b);
	free(c);
}

Test(trainer, bad_options_exit_2)
{
	static const struct {
		char *args[4];   /* up to NULL */
		const char *msg; /* after "lin-train: error: " */
	} cases[] = {
		{{"--epochs", "abc"}, "--epochs: 'abc' must be an integer from 1 to 2147483647"},
		{{"--epochs", "-1"}, "--epochs: '-1' must be an integer"},
		{{"--epochs", "0"}, "--epochs: '0' must be an integer"},
		{{"--epochs", "3x"}, "--epochs: '3x' must be an integer"},
		{{"--epochs"}, "--epochs needs a value"},
		{{"--steps", "99999999999999999999"}, "--steps: '99999999999999999999' must be an integer"},
		{{"--batch", "5"}, "--batch: '5' must be an integer from 1 to 4"},
		{{"--batch", "0"}, "--batch: '0' must be an integer from 1 to 4"},
		{{"--lr", "0"}, "--lr: '0' must be a positive number"},
		{{"--lr", "nan"}, "--lr: 'nan' must be a positive number"},
		{{"--lr", "1e-3x"}, "--lr: '1e-3x' must be a positive number"},
		{{"--seed", "1.5"}, "--seed: '1.5' must be an integer from 0 to 18446744073709551615"},
		{{"--bogus"}, "unknown option '--bogus'"},
		{{"--train-nope", "f"}, "unknown option '--train-nope'"},
		{{"--quiet=1"}, "--quiet takes no value"},
		{{"--help=1"}, "--help takes no value"},
		{{"stray"}, "unexpected argument 'stray'"},
		{{"--save", ""}, "--save: empty path"},
		{{"--init", "a", "--resume", "b"}, "--init and --resume cannot be combined"},
		{{"--schedule", "linear"}, "--schedule: unknown schedule 'linear'"},
		{{"--schedule", "step(factor = 0.5)"}, "--schedule: step needs every = N"},
		{{"--schedule", "plateau"}, "the plateau schedule watches the validation loss, but there is no "
					    "validation data: give --validate F or --validation PATH"},
		{{"--early-stop", "3"}, "early stopping watches the validation loss"},
		{{"--early-stop", "0"}, "--early-stop: '0' must be an integer from 1 to 1000000000"},
		{{"--save-best", "b.st"}, "--save-best watches the validation loss"},
		{{"--validate", "1"}, "--validate: '1' must be a fraction from 0 to below 1"},
		{{"--validate", "-0.1"}, "--validate: '-0.1' must be a fraction"},
		{{"--min-delta", "-1"}, "--min-delta: '-1' must be a number from 0"},
		{{"--test-loss", "median"}, "--test-loss: 'median' must be mean or sampled"},
		{{"--test-loss", "sampled"}, "--test-loss sampled: model 'lin' draws no latent"},
		{{"--validation", "v.npy"}, "validation data for some inputs but not for 't': give --validation-t PATH"},
	};
	enum { N_CASES = sizeof cases / sizeof cases[0] };
	aert_model m = lin_model();
	write_data(&m);
	for (size_t i = 0; i < N_CASES; i++) {
		char *const *a = cases[i].args;
		cr_assert_eq(train(&m, a[0], a[1], a[2], a[3], NULL), 2, "case %zu", i);
	}
	cr_assert_eq(seen.calls, 0);
	char *err = take_stderr(), want[256];
	for (size_t i = 0; i < N_CASES; i++) {
		snprintf(want, sizeof want, "lin-train: error: %s", cases[i].msg);
		cr_assert_not_null(strstr(err, want), "'%s' not in:\n%s", want, err);
	}
	cr_assert_not_null(strstr(err, "Try 'lin-train --help' for more information.\n"));
	char *out = take_stdout();
	cr_assert_str_eq(out, "", "usage errors print nothing on stdout");
	free(out);
	free(err);
}

Test(trainer, help_and_version)
{
	aert_model m = lin_model();
	cr_assert_eq(train(&m, "--version", NULL), 0);
	cr_assert_eq(train(&m, "--help", "--bogus", NULL), 0);
	char *out = take_stdout();
	const char *start = "lin-train (aecc runtime " AERT_VERSION ")\nusage: lin-train [options]\n";
	cr_assert_eq(strncmp(out, start, strlen(start)), 0, "%s", out);
	cr_assert_not_null(strstr(out, "--batch N          samples per step, 1..4 (default 4)"), "%s", out);
	cr_assert_not_null(strstr(out, "--train-INPUT PATH"), "%s", out);
	free(out);
}

Test(trainer, missing_data_file_exit_1_without_output)
{
	aert_model m = lin_model();
	write_data(&m);
	char *nope = tmp_path("nope.npy"), *save = tmp_path("out.safetensors"), *log = tmp_path("log.csv");
	int before = count_entries(tmp_dir);
	cr_assert_eq(train(&m, "--train", nope, "--save", save, "--checkpoint", save, "--log", log, NULL), 1);
	cr_assert_eq(seen.calls, 0);
	cr_assert(!file_exists(save), "no --save output");
	cr_assert_eq(count_entries(tmp_dir), before, "nothing written at all");
	char *err = take_stderr(), want[512];
	snprintf(want, sizeof want, "lin-train: error: %s: cannot open: No such file or directory\n", nope);
	cr_assert_str_eq(err, want);
	free(err);
	free(nope);
	free(save);
	free(log);
}

Test(trainer, truncated_data_file)
{
	aert_model m = lin_model();
	write_data(&m);
	size_t len;
	unsigned char *bytes = read_bytes(m.train_path[0], &len);
	write_bytes(m.train_path[0], bytes, len - 5);
	char *save = tmp_path("out.safetensors");
	cr_assert_eq(train(&m, "--save", save, NULL), 1);
	cr_assert(!file_exists(save));
	char *err = take_stderr();
	cr_assert_not_null(strstr(err, "x.npy: truncated: expected 120 bytes of data, found 115"), "%s", err);
	free(err);
	free(bytes);
	free(save);
}

Test(trainer, wrong_sample_size_names_the_file)
{
	aert_model m = lin_model();
	write_data(&m);
	const float x2[N_TRAIN * 2] = {0};
	char *path = tmp_path("x2.npy");
	write_npy_f4(path, x2, N_TRAIN, 2);
	cr_assert_eq(train(&m, "--train", path, NULL), 1);
	cr_assert_eq(seen.calls, 0);
	char *err = take_stderr(), want[512];
	snprintf(want, sizeof want, "lin-train: error: %s: samples have 2 values, model input 'x' needs 3\n", path);
	cr_assert_str_eq(err, want);
	free(err);
	free(path);
}

Test(trainer, inputs_must_agree_on_sample_count)
{
	aert_model m = lin_model();
	write_data(&m);
	const float t[N_TRAIN - 1] = {0};
	char *path = tmp_path("t9.csv");
	write_csv(path, t, N_TRAIN - 1, 1);
	cr_assert_eq(train(&m, "--train-t", path, NULL), 1);
	char *err = take_stderr();
	cr_assert_not_null(strstr(err, "t9.csv: 9 samples, but "), "%s", err);
	cr_assert_not_null(strstr(err, "x.npy has 10"), "%s", err);
	free(err);
	free(path);
}

Test(trainer, test_data_for_every_input_or_none)
{
	aert_model m = lin_model();
	write_data(&m);
	const char *x_test = m.test_path[0];
	m.test_path[0] = m.test_path[1] = NULL;
	cr_assert_eq(train(&m, "--test", x_test, NULL), 2);
	char *err = take_stderr();
	cr_assert_not_null(strstr(err, "test data for some inputs but not for 't': give --test-t PATH"), "%s", err);
	free(err);
	m.train_path[1] = NULL;
	cr_assert_eq(train(&m, NULL), 2);
}

Test(trainer, non_finite_loss_stops_without_saving)
{
	aert_model m = lin_model();
	write_data(&m);
	float x[N_TRAIN * D];
	for (int i = 0; i < N_TRAIN * D; i++)
		x[i] = 3e38f;
	write_npy_f4(m.train_path[0], x, N_TRAIN, D);
	char *save = tmp_path("out.safetensors");
	cr_assert_eq(train(&m, "--save", save, NULL), 1);
	cr_assert_eq(seen.calls, 1);
	cr_assert(!file_exists(save));
	char *err = take_stderr();
	cr_assert_str_eq(err, "lin-train: error: training loss is inf at epoch 1, step 1; stopping\n");
	free(err);
	free(save);
}

Test(trainer, save_checkpoint_resume_init)
{
	aert_model m = lin_model();
	write_data(&m);
	char *save = tmp_path("w.safetensors"), *ckpt = tmp_path("c.safetensors");
	cr_assert_eq(train(&m, "--epochs", "2", "--save", save, "--checkpoint", ckpt, NULL), 0);
	aert_err err;
	int64_t step = 0;
	float w[D], m_w[D];
	aert_tensor t[3] = {{"optimizer.step", AERT_I64, 0, {0}, &step},
			    {"lin.weight", AERT_F32, 2, {1, D}, w},
			    {"optimizer.m.lin.weight", AERT_F32, 2, {1, D}, m_w}};
	cr_assert_eq(aert_st_load(ckpt, t, 3, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(step, 6);
	cr_assert_eq(aert_st_load(save, &t[1], 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_st_load(save, t, 1, NULL, &err), -1, "--save holds weights only");

	/* Resume: the step count goes on from the checkpoint. */
	char *ckpt2 = tmp_path("c2.safetensors");
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--resume", ckpt, "--epochs", "1", "--checkpoint", ckpt2, NULL), 0);
	cr_assert_eq(seen.p0[0], w[0], "training starts from the checkpoint");
	t[0].data = &step;
	cr_assert_eq(aert_st_load(ckpt2, t, 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(step, 9);

	/* Init: parameters from a file, Adam from zero. */
	memset(&seen, 0, sizeof seen);
	char *log = tmp_path("log.csv");
	cr_assert_eq(train(&m, "--init", save, "--steps", "1", "--checkpoint", ckpt2, "--log", log, NULL), 0);
	cr_assert_eq(seen.p0[0], w[0]);
	cr_assert_eq(aert_st_load(ckpt2, t, 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(step, 1);
	cr_assert_eq(count_entries(tmp_dir), 8, "data, outputs and the log; no temporary files");
	free(save);
	free(ckpt);
	free(ckpt2);
	free(log);
}

Test(trainer, bad_weights_file)
{
	aert_model m = lin_model();
	write_data(&m);
	float w[2] = {0};
	aert_tensor t = {"lin.weight", AERT_F32, 2, {1, 2}, w};
	char *path = tmp_path("w.safetensors"), *save = tmp_path("out.safetensors");
	aert_err err;
	cr_assert_eq(aert_st_save(path, &t, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(train(&m, "--init", path, "--save", save, NULL), 1);
	cr_assert(!file_exists(save));
	char *msg = take_stderr();
	cr_assert_not_null(strstr(msg, "w.safetensors: tensor lin.weight has shape [1, 2], model expects [1, 3]\n"),
			   "%s", msg);
	free(msg);
	free(path);
	free(save);
}

Test(trainer, log_every_step)
{
	aert_model m = lin_model();
	write_data(&m);
	char *log = tmp_path("log.csv");
	cr_assert_eq(train(&m, "--epochs", "2", "--log", log, "--no-noise", NULL), 0);
	cr_assert_eq(seen.stochastic, 0, "--no-noise");
	char *text = (char *)read_bytes(log, NULL);
	cr_assert_eq(strncmp(text, "step,epoch,set,lr,loss\n1,1,train,0.1,", 36), 0, "%s", text);
	int lines = 0;
	for (char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, 1 + 6 + 2, "a row per step and per epoch's test loss:\n%s", text);
	cr_assert_not_null(strstr(text, "\n6,2,train,0.1,"), "%s", text);
	cr_assert_not_null(strstr(text, "\n3,1,test,0.1,"), "%s", text);
	cr_assert_not_null(strstr(text, "\n6,2,test,0.1,"), "%s", text);
	free(text);
	free(log);
}

/* ---- labels fed as one-hot rows ---- */

static const aert_input ONEHOT_INPUTS[2] = {
	{"x", 1, {D}, D, 0},
	{"t", 1, {1}, 1, 1},
};

Test(trainer, onehot_labels)
{
	aert_model m = lin_model();
	write_data(&m);
	m.inputs = ONEHOT_INPUTS;
	m.test_path[0] = m.test_path[1] = NULL;
	uint8_t labels[N_TRAIN] = {0};
	const uint32_t dims[1] = {N_TRAIN};
	size_t len;
	unsigned char *img = make_idx(0x08, 1, dims, labels, sizeof labels, &len);
	char *path = tmp_path("labels.idx");
	write_bytes(path, img, len);
	free(img);
	cr_assert_eq(train(&m, "--train-t", path, "--epochs", "1", NULL), 0);
	cr_assert_eq(seen.calls, 3);

	/* A label out of range fails before the first step. */
	labels[7] = 1;
	img = make_idx(0x08, 1, dims, labels, sizeof labels, &len);
	write_bytes(path, img, len);
	free(img);
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--train-t", path, NULL), 1);
	cr_assert_eq(seen.calls, 0);
	/* So does a file that is not a label set. */
	cr_assert_eq(train(&m, "--train-t", m.train_path[0], NULL), 1);
	char *err = take_stderr();
	cr_assert_not_null(strstr(err, "labels.idx: label 1 of sample 7 is out of range for 1 classes\n"), "%s", err);
	cr_assert_not_null(strstr(err, "x.npy: samples have 3 values, model input 't' needs labels (1 value each)\n"),
			   "%s", err);
	free(err);
	free(path);
}

Test(trainer, invalid_descriptor)
{
	aert_model m = lin_model();
	m.batch = 9;
	cr_assert_eq(train(&m, NULL), 1);
	char *err = take_stderr();
	cr_assert_str_eq(err, "lin-train: error: invalid model descriptor: batch, max_batch or epochs out of range\n");
	free(err);
}

/* ---- the trainer as a library ---- */

/* What the step hook saw. */
typedef struct hook_log {
	int calls;                   /* hook calls */
	long long step[MAX_CALLS];   /* info.step of each */
	long long epoch[MAX_CALLS];  /* info.epoch of each */
	int n[MAX_CALLS];            /* info.n of each */
	int stop_at;                 /* return 1 at this step */
} hook_log;

static int record_step(void *ctx, const aert_step_info *s)
{
	hook_log *h = ctx;
	if (h->calls < MAX_CALLS) {
		h->step[h->calls] = s->step;
		h->epoch[h->calls] = s->epoch;
		h->n[h->calls] = s->n;
	}
	h->calls++;
	cr_assert(isfinite(s->loss));
	return s->step == h->stop_at;
}

Test(trainer, hook_sees_every_step_and_can_stop_the_run)
{
	aert_model m = lin_model();
	write_data(&m);
	aert_train_options o;
	aert_train_defaults(&m, &o);
	o.epochs = 4;
	o.shuffle = 0;
	char *save = tmp_path("w.safetensors");
	o.save = save;
	aert_err err;
	aert_trainer *t;
	cr_assert_eq(aert_trainer_open(&t, &m, &o, &err), 0, "%s", err.msg);
	hook_log h = {.stop_at = 5};
	cr_assert_eq(aert_trainer_run(t, record_step, &h, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_trainer_save(t, &err), 0, "%s", err.msg);
	cr_assert_eq(*m.step_of(aert_trainer_state(t)), 5);
	aert_trainer_close(t);
	cr_assert_eq(h.calls, 5, "the run ends at the step the hook stops");
	cr_assert_eq(seen.calls, 5);
	const long long epoch[5] = {1, 1, 1, 2, 2};
	const int n[5] = {4, 4, 2, 4, 4};
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(h.step[i], i + 1);
		cr_assert_eq(h.epoch[i], epoch[i], "step %d", i + 1);
		cr_assert_eq(h.n[i], n[i], "step %d", i + 1);
	}
	char *out = take_stdout();
	cr_assert_eq(count_lines(out), 2, "the cut epoch is still reported:\n%s", out);
	cr_assert_not_null(strstr(out, "epoch 2/4  train_loss"), "%s", out);
	cr_assert(file_exists(save));
	free(out);
	free(save);
}

/* A step function that counts its calls and takes the step with
 * train_step, on the batch it makes itself. */
typedef struct step_log {
	int calls;
	size_t first[MAX_CALLS]; /* idx[0] of each batch */
	size_t n[MAX_CALLS];
} step_log;

static int own_step(void *ctx, const aert_batch_step *s, double *loss, aert_err *err)
{
	step_log *l = ctx;
	if (l->calls < MAX_CALLS) {
		l->first[l->calls] = s->idx[0];
		l->n[l->calls] = s->n;
	}
	l->calls++;
	cr_assert_eq(s->train->n, (size_t)N_TRAIN);
	if (aert_data_batch(s->m, s->train, s->idx, s->n, s->buf, err) != 0)
		return -1;
	*loss = s->m->train_step(s->state, s->work, s->in, (int)s->n, s->h);
	return 0;
}

Test(trainer, a_step_function_takes_every_step_and_mute_writes_nothing)
{
	aert_model m = lin_model();
	write_data(&m);
	aert_train_options o;
	aert_train_defaults(&m, &o);
	o.epochs = 2;
	o.shuffle = 0;
	char *save = tmp_path("w.safetensors"), *ck = tmp_path("ck.safetensors"), *log = tmp_path("log.csv");
	o.save = save;
	o.checkpoint = ck;
	o.log = log;
	o.mute = 1;
	aert_err err;
	aert_trainer *t;
	cr_assert_eq(aert_trainer_open(&t, &m, &o, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_trainer_samples(t), (size_t)N_TRAIN);
	step_log l = {0};
	aert_trainer_set_step(t, own_step, &l);
	cr_assert_eq(aert_trainer_run(t, NULL, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_trainer_save(t, &err), 0, "%s", err.msg);
	cr_assert_eq(*m.step_of(aert_trainer_state(t)), 6);
	aert_trainer_close(t);
	cr_assert_eq(l.calls, 6, "three batches of 4, 4 and 2 rows per epoch");
	cr_assert_eq(seen.calls, 6);
	const size_t first[3] = {0, 4, 8}, n[3] = {4, 4, 2};
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(l.first[i], first[i % 3], "step %d", i + 1);
		cr_assert_eq(l.n[i], n[i % 3], "step %d", i + 1);
	}
	cr_assert_eq(seen.eval_rows, 0, "a mute run evaluates no test set");
	char *out = take_stdout();
	cr_assert_str_eq(out, "", "a mute run prints nothing");
	cr_assert(!file_exists(save) && !file_exists(ck) && !file_exists(log), "a mute run writes no file");
	free(out);
	free(save);
	free(ck);
	free(log);
}

Test(trainer, open_checks_the_options)
{
	aert_model m = lin_model();
	write_data(&m);
	aert_train_options o;
	aert_train_defaults(&m, &o);
	o.batch = 5;
	aert_err err;
	aert_trainer *t = (aert_trainer *)&o;
	cr_assert_eq(aert_trainer_open(&t, &m, &o, &err), -1);
	cr_assert_null(t);
	cr_assert_str_eq(err.msg, "batch 5 is not in 1..4");
	aert_train_defaults(&m, &o);
	o.train[1] = NULL;
	cr_assert_eq(aert_trainer_open(&t, &m, &o, &err), -1);
	cr_assert_str_eq(err.msg, "no training data for input 't': give --train-t PATH");
	aert_trainer_close(NULL);
}

Test(trainer, state_beyond_the_machines_memory)
{
	/* Checked before anything is allocated (a real allocation of this
	 * size would fail, or succeed lazily and fault later). */
	aert_model m = lin_model();
	write_data(&m);
	m.state_bytes = (size_t)1 << 62;
	m.work_bytes = (size_t)1 << 60;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	char want[256];
	snprintf(want, sizeof want,
		 "lin-train: error: model 'lin' needs 4611686018427387904 bytes of state and 1152921504606846976 "
		 "bytes of work arena, more than this machine's memory (%zu bytes)\n",
		 (size_t)pages * (size_t)page);
	cr_assert_eq(train(&m, NULL), 1);
	char *err = take_stderr();
	cr_assert_str_eq(err, want);
	free(err);
	/* Sizes whose sum overflows fail the same way. */
	m.work_bytes = SIZE_MAX;
	aert_err e;
	cr_assert_eq(aert_model_fits(&m, &e), -1);
	cr_assert_not_null(strstr(e.msg, "more than this machine's memory"), "%s", e.msg);
	m = lin_model();
	cr_assert_eq(aert_model_fits(&m, &e), 0);
}

Test(trainer, parse_gives_the_options)
{
	aert_model m = lin_model();
	char *argv[] = {"lin-train", "--epochs", "7", "--batch=2", "--no-shuffle", "--test-t", "tt.csv",
			"--test", "tx.csv", "--threads", "3", NULL};
	aert_train_options o;
	aert_err err;
	cr_assert_eq(aert_train_parse(&m, 11, argv, &o, &err), AERT_PARSE_OK, "%s", err.msg);
	cr_assert_eq(o.epochs, 7);
	cr_assert_eq(o.batch, 2);
	cr_assert_eq(o.shuffle, 0);
	cr_assert_eq(o.threads, 3);
	cr_assert_str_eq(o.test[0], "tx.csv");
	cr_assert_str_eq(o.test[1], "tt.csv");
	cr_assert_eq(o.train[0], m.train_path[0], "defaults for what is not given");
	cr_assert_eq(o.seed, 1);
	char *bad[] = {"lin-train", "--steps", "0", NULL};
	cr_assert_eq(aert_train_parse(&m, 3, bad, &o, &err), AERT_PARSE_USAGE);
	cr_assert_str_eq(err.msg, "--steps: '0' must be an integer from 1 to 9223372036854775807");
	char *help[] = {"lin-train", "--version", NULL};
	cr_assert_eq(aert_train_parse(&m, 2, help, &o, &err), AERT_PARSE_DONE);
}

Test(trainer, data_of_some_inputs)
{
	aert_model m = lin_model();
	write_data(&m);
	const char *paths[2] = {NULL, m.train_path[1]};
	aert_data d;
	aert_err err;
	cr_assert_eq(aert_data_load(&m, paths, &d, &err), 0, "%s", err.msg);
	cr_assert_eq(d.n, N_TRAIN);
	cr_assert_null(d.in[0].data, "input x left out");
	float t[2] = {0}, x[D], want;
	const size_t idx[2] = {3, 0};
	void *out[2] = {NULL, t};
	cr_assert_eq(aert_data_batch(&m, &d, idx, 2, out, &err), 0, "%s", err.msg);
	sample(3, x, &want);
	cr_assert_float_eq(t[0], want, 1e-6);
	sample(0, x, &want);
	cr_assert_float_eq(t[1], want, 1e-6);
	aert_data_free(&d);
	cr_assert_eq(d.n, 0);

	paths[1] = NULL;
	cr_assert_eq(aert_data_load(&m, paths, &d, &err), -1);
	cr_assert_str_eq(err.msg, "no data file for any input of model 'lin'");
	const char *mismatch[2] = {m.train_path[0], m.test_path[1]};
	cr_assert_eq(aert_data_load(&m, mismatch, &d, &err), -1);
	cr_assert_not_null(strstr(err.msg, "t_test.npy: 6 samples, but "), "%s", err.msg);
	cr_assert_null(d.in[0].data, "freed on failure");
}

/* ---- training controls ---- */

/* lin_model with its data written, validate 0.3 (3 of the 10 training
 * samples held out, so 2 steps of 4 and 3 per epoch) and no test data. */
static aert_model validated_model(void)
{
	aert_model m = lin_model();
	write_data(&m);
	m.validate = 0.3;
	m.test_path[0] = m.test_path[1] = NULL;
	return m;
}

/* The text of the lines of out that start with prefix, one after another. */
static char *lines_with(const char *out, const char *prefix)
{
	size_t cap = strlen(out) + 1, len = 0;
	char *got = calloc(1, cap);
	for (const char *line = out; *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line + 1) : strlen(line);
		if (!strncmp(line, prefix, strlen(prefix))) {
			memcpy(got + len, line, n);
			len += n;
		}
		line += n;
	}
	return got;
}

Test(trainer, validation_split_is_disjoint_and_fixed)
{
	aert_model m = validated_model();
	cr_assert_eq(train(&m, "--epochs", "2", NULL), 0);
	size_t val[N_TRAIN], rest[N_TRAIN], nv, nt;
	aert_err err;
	cr_assert_eq(aert_split(N_TRAIN, 0.3, m.seed, val, &nv, rest, &nt, &err), 0, "%s", err.msg);
	cr_assert_eq(nv, 3);
	int held[N_TRAIN] = {0};
	for (size_t k = 0; k < nv; k++)
		held[val[k]] = 1;
	for (int i = 0; i < N_TRAIN; i++) {
		if (held[i]) {
			cr_assert_eq(seen.trained[i], 0, "held-out sample %d was trained on", i);
			cr_assert_eq(seen.evaluated[i], 2, "held-out sample %d: evaluated once per epoch", i);
		} else {
			cr_assert_eq(seen.trained[i], 2, "sample %d: trained on once per epoch", i);
			cr_assert_eq(seen.evaluated[i], 0, "training sample %d was evaluated", i);
		}
	}
	cr_assert_eq(seen.calls, 4, "7 samples in batches of 4: 2 steps an epoch");
	char *out = take_stdout();
	cr_assert_not_null(strstr(out, "epoch 1/2  train_loss "), "%s", out);
	cr_assert_not_null(strstr(out, "  val_loss "), "%s", out);
	cr_assert_null(strstr(out, "test_loss"), "%s", out);

	/* the same split again; another with another seed; none with --validate 0 */
	int again[N_TRAIN];
	memcpy(again, seen.trained, sizeof again);
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--epochs", "2", NULL), 0);
	cr_assert_arr_eq(seen.trained, again, sizeof again);
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--epochs", "1", "--seed", "5", NULL), 0);
	size_t val5[N_TRAIN];
	cr_assert_eq(aert_split(N_TRAIN, 0.3, 5, val5, &nv, rest, &nt, &err), 0, "%s", err.msg);
	cr_assert_neq(memcmp(val5, val, sizeof val5[0] * nv), 0, "seed 5 splits otherwise");
	for (size_t k = 0; k < nv; k++)
		cr_assert_eq(seen.trained[val5[k]], 0);
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--epochs", "1", "--validate", "0", NULL), 0);
	cr_assert_eq(seen.calls, 3, "all 10 samples trained on");
	cr_assert_eq(seen.eval_rows, 0);
	free(out);
}

Test(trainer, validation_file)
{
	aert_model m = lin_model();
	write_data(&m);
	cr_assert_eq(train(&m, "--epochs", "1", "--validation", m.test_path[0], "--validate", "0.5", "--validation",
			   m.test_path[0], "--validation-t", m.test_path[1], NULL),
		     0, "the last of --validate and --validation counts");
	cr_assert_eq(seen.calls, 3, "no samples held out of the training data");
	cr_assert_eq(seen.eval_rows, 2 * N_TEST, "val_loss and test_loss on the test files");
	char *out = take_stdout();
	double val, test;
	const char *v = strstr(out, "val_loss "), *t = strstr(out, "test_loss ");
	cr_assert(v && t, "%s", out);
	cr_assert_eq(sscanf(v, "val_loss %lf", &val), 1);
	cr_assert_eq(sscanf(t, "test_loss %lf", &test), 1);
	cr_assert_eq(val, test, "the same files, the same loss");
	free(out);
}

Test(trainer, schedules_set_the_learning_rate_of_each_epoch)
{
	aert_model m = lin_model();
	write_data(&m);
	m.hparams.lr = 0.1;
	cr_assert_eq(train(&m, "--epochs", "5", "--schedule", "step(every = 2, factor = 0.3)", "--quiet", NULL), 0);
	const double step_lr[5] = {0.1, 0.1, 0.03, 0.03, 0.009};
	cr_assert_eq(seen.calls, 15);
	for (int k = 0; k < 15; k++)
		cr_assert_eq(seen.lr[k], step_lr[k / 3], "step %d: lr %.17g", k + 1, seen.lr[k]);
	char *out = take_stdout();
	cr_assert_not_null(strstr(out, "epoch 3/5  lr 0.03  train_loss "), "%s", out);

	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--epochs", "4", "--schedule", "cosine(min_lr = 0.02)", NULL), 0);
	for (int k = 0; k < 12; k++) {
		double want = 0.02 + (0.1 - 0.02) * (1 + cos(3.14159265358979323846 * (k / 3) / 4)) / 2;
		cr_assert(fabs(seen.lr[k] - want) <= 1e-17, "step %d: lr %.17g, want %.17g", k + 1, seen.lr[k], want);
	}
	free(out);
}

Test(trainer, plateau_lowers_the_rate_on_the_validation_loss)
{
	aert_model m = validated_model();
	m.eval_loss = scripted_eval;
	m.schedule = (aert_schedule){.kind = AERT_SCHEDULE_PLATEAU, .factor = 0.5, .patience = 1, .threshold = 1e-4};
	const double val[8] = {10, 9, 9.5, 9.2, 9.0, 8.99995, 7, 8};
	memcpy(script, val, sizeof val);
	cr_assert_eq(train(&m, "--epochs", "8", NULL), 0);
	cr_assert_eq(seen.evals, 8, "one evaluation of the 3 held-out samples an epoch");
	const double want[8] = {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025};
	for (int k = 0; k < 16; k++)
		cr_assert_eq(seen.lr[k], want[k / 2], "step %d: lr %g, want %g", k + 1, seen.lr[k], want[k / 2]);
	char *out = take_stdout(), *said = lines_with(out, "plateau: ");
	cr_assert_str_eq(said,
			 "plateau: val_loss has not improved on 9.0000 for 2 epochs; lr 0.1 -> 0.05\n"
			 "plateau: val_loss has not improved on 9.0000 for 2 epochs; lr 0.05 -> 0.025\n",
			 "%s", out);
	cr_assert_not_null(strstr(out, "epoch 4/8  lr 0.1  train_loss"), "%s", out);
	cr_assert_not_null(strstr(out, "epoch 5/8  lr 0.05  train_loss"), "%s", out);
	free(out);
	free(said);
}

Test(trainer, early_stop_restores_the_best_epoch)
{
	aert_model m = validated_model();
	m.eval_loss = scripted_eval;
	m.early_stop = (aert_early_stop){1, 3, 0.01};
	const double val[10] = {5, 4, 3, 3.5, 2.995, 3.1, 3.2, 1, 1, 1};
	memcpy(script, val, sizeof val);
	char *save = tmp_path("w.safetensors"), *best = tmp_path("best.safetensors"), *ck = tmp_path("ck.safetensors");
	cr_assert_eq(train(&m, "--epochs", "10", "--save", save, "--save-best", best, "--checkpoint", ck, NULL), 0);
	/* epoch 5 is better by less than min_delta: epochs 4, 5, 6 do not improve */
	cr_assert_eq(seen.evals, 6, "stopped after epoch 6");
	cr_assert_eq(seen.calls, 12);
	char *out = take_stdout();
	cr_assert_not_null(strstr(out, "epoch 6/10  train_loss"), "%s", out);
	cr_assert_null(strstr(out, "epoch 7/10"), "%s", out);
	char *said = lines_with(out, "early stop: ");
	cr_assert_str_eq(said,
			 "early stop: val_loss has not improved on 3.0000 (epoch 3) for 3 epochs\n"
			 "early stop: back to the state after epoch 3 (val_loss 3.0000)\n",
			 "%s", out);
	/* --save and --save-best hold the parameters after epoch 3 (step 6),
	 * the checkpoint those after epoch 6 */
	aert_err err;
	float w[D];
	int64_t step;
	aert_tensor t[2] = {{"lin.weight", AERT_F32, 2, {1, D}, w}, {"optimizer.step", AERT_I64, 0, {0}, &step}};
	cr_assert_eq(aert_st_load(save, t, 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w[0], seen.p1[5], "--save: w0 %g, after epoch 3 %g", w[0], seen.p1[5]);
	cr_assert_neq(w[0], seen.p1[11]);
	cr_assert_eq(aert_st_load(best, t, 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w[0], seen.p1[5], "--save-best");
	cr_assert_eq(aert_st_load(ck, t, 2, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w[0], seen.p1[11], "the checkpoint of the last epoch");
	cr_assert_eq(step, 12);
	cr_assert_eq(count_entries(tmp_dir), 7, "data, three outputs; no temporary files");

	/* without a stop, the run still ends at its best epoch */
	memset(&seen, 0, sizeof seen);
	const double val2[4] = {5, 4, 4.5, 4.6};
	memcpy(script, val2, sizeof val2);
	cr_assert_eq(train(&m, "--epochs", "4", "--save", save, NULL), 0);
	cr_assert_eq(seen.calls, 8);
	cr_assert_eq(aert_st_load(save, t, 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w[0], seen.p1[3], "the state after epoch 2");
	/* --no-early-stop trains on and keeps the last state */
	memset(&seen, 0, sizeof seen);
	memcpy(script, val, sizeof val);
	cr_assert_eq(train(&m, "--epochs", "8", "--no-early-stop", "--save", save, NULL), 0);
	cr_assert_eq(seen.calls, 16);
	cr_assert_eq(aert_st_load(save, t, 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w[0], seen.p1[15]);
	free(out);
	free(said);
	free(save);
	free(best);
	free(ck);
}

Test(trainer, early_stop_patience_and_min_delta_options)
{
	aert_model m = validated_model();
	m.eval_loss = scripted_eval;
	const double val[6] = {5, 4.95, 4.9, 4.85, 4.8, 4.75};
	memcpy(script, val, sizeof val);
	cr_assert_eq(train(&m, "--epochs", "6", "--early-stop", "2", "--min-delta", "0.1", NULL), 0);
	cr_assert_eq(seen.evals, 3, "improvements of 0.05 do not count: stop after epoch 3");
	char *out = take_stdout();
	cr_assert_not_null(strstr(out, "early stop: val_loss has not improved on 5.0000 (epoch 1) for 2 epochs\n"),
			   "%s", out);
	free(out);
}

/* lin_model with two loss terms. */
static aert_model terms_model(void)
{
	aert_model m = lin_model();
	m.n_loss_terms = 2;
	m.loss_term_names = TERM_NAMES;
	m.loss_term_weights = TERM_WEIGHTS;
	m.loss_terms = lin_eval_terms;
	m.train_step_terms = lin_train_terms;
	return m;
}

Test(trainer, loss_terms_in_the_report_and_the_log)
{
	aert_model m = terms_model();
	write_data(&m);
	char *log = tmp_path("log.csv");
	cr_assert_eq(train(&m, "--epochs", "2", "--log", log, NULL), 0);
	char *out = take_stdout();
	double tl, t0, t1, vl, v0, v1;
	cr_assert_eq(sscanf(out, "epoch 1/2  train_loss %lf (mse %lf, bias2 %lf)  test_loss %lf (mse %lf, bias2 %lf)",
			    &tl, &t0, &t1, &vl, &v0, &v1),
		     6, "%s", out);
	cr_assert(fabs(tl - (t0 + 0.5 * t1)) <= 2e-4, "%s", out);
	cr_assert(fabs(vl - (v0 + 0.5 * v1)) <= 2e-4, "%s", out);
	char *text = (char *)read_bytes(log, NULL), *line = strchr(text, '\n') + 1;
	cr_assert_eq(strncmp(text, "step,epoch,set,lr,loss,mse,bias2\n", 33), 0, "%s", text);
	int rows = 0, tests = 0;
	for (; *line; line = strchr(line, '\n') + 1, rows++) {
		long long step, epoch;
		char set[8];
		double lr, loss, mse, b2;
		cr_assert_eq(sscanf(line, "%lld,%lld,%7[a-z],%lf,%lf,%lf,%lf", &step, &epoch, set, &lr, &loss, &mse, &b2), 7,
			     "%s", line);
		cr_assert(fabs(loss - (mse + 0.5 * b2)) <= 1e-6 * fabs(loss), "the terms add up: %s", line);
		tests += !strcmp(set, "test");
	}
	cr_assert_eq(rows, 6 + 2);
	cr_assert_eq(tests, 2);
	free(text);
	free(log);
	free(out);
}

Test(trainer, sampled_test_loss)
{
	aert_model m = terms_model();
	m.draws_latent = 1;
	write_data(&m);
	cr_assert_eq(train(&m, "--epochs", "2", NULL), 0);
	for (int k = 0; k < seen.evals; k++)
		cr_assert_eq(seen.seed[k], 0, "the mean by default");
	char *out = take_stdout();
	const char *said = "lin: test_loss takes the latent at its mean (z = mu); --test-loss sampled draws it as "
			   "training does (the sampled ELBO)\nepoch 1/2";
	cr_assert_eq(strncmp(out, said, strlen(said)), 0, "%s", out);
	free(out);

	memset(&seen, 0, sizeof seen);
	cr_assert_eq(train(&m, "--epochs", "2", "--test-loss", "sampled", "--batch", "2", NULL), 0);
	cr_assert_eq(seen.evals, 4, "6 test samples in chunks of 4, two epochs");
	cr_assert(seen.seed[0] != 0 && seen.seed[1] != 0 && seen.seed[0] != seen.seed[1], "a seed per chunk");
	cr_assert_eq(seen.seed[2], seen.seed[0], "the same draws every epoch");
	cr_assert_eq(seen.seed[3], seen.seed[1]);
}

Test(trainer, invalid_controls_in_the_descriptor)
{
	aert_model m = lin_model();
	m.schedule.kind = AERT_SCHEDULE_PLATEAU;
	m.schedule.factor = 0.5;
	cr_assert_eq(train(&m, NULL), 1);
	m = lin_model();
	m.n_loss_terms = 2;
	cr_assert_eq(train(&m, NULL), 1);
	char *err = take_stderr();
	cr_assert_not_null(strstr(err, "lin-train: error: invalid model descriptor: the plateau schedule watches the "
				       "validation loss"),
			   "%s", err);
	cr_assert_not_null(strstr(err, "lin-train: error: invalid model descriptor: bad loss term table\n"), "%s", err);
	free(err);
}
