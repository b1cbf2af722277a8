/* trainer.c - the trainer as a library: the command line
 * (aert_train_parse), a run (aert_trainer_open: state, data and their
 * checks; aert_trainer_run: the epoch loop with its progress bar, per-epoch
 * report and step hook; aert_trainer_save), and aert_train_main, the main()
 * of a compiled model's trainer, which calls them in a row. */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* The progress bar redraws at most this often (seconds) ... */
#define PROGRESS_PERIOD 0.1
/* ... and is this many characters wide. */
enum { PROGRESS_WIDTH = 30 };

typedef aert_train_options options;

/* The progress bar on stderr. */
typedef struct progress {
	int on;          /* stderr is a terminal and not --quiet */
	double last;     /* when it was last drawn */
	int drawn;       /* characters on the line now */
} progress;

/* Everything a training run holds. */
typedef struct aert_trainer {
	const aert_model *m;          /* the model being trained */
	options o;                    /* what the run does */
	void *state, *work;           /* the model's state and scratch */
	aert_data train, test;        /* the data sets (test.n 0: no test set) */
	void *buf[AERT_MAX_INPUTS];   /* one batch per input, max_batch rows */
	const void *in[AERT_MAX_INPUTS]; /* the same, as the model reads them */
	size_t *perm;                 /* training order, train.n entries */
	size_t *order;                /* 0, 1, 2, ...: in-file order of the larger set */
	long long epochs;             /* epochs this run makes at most */
	long long steps;              /* train_step calls so far */
	int threads;                  /* what set_threads gave; 0: not asked */
	aert_step_fn step;            /* computes each step instead of train_step, or NULL */
	void *step_ctx;               /* its first argument */
	aert_step_hook hook;          /* called after every step, or NULL */
	void *hook_ctx;               /* its first argument */
	int stopped;                  /* the hook ended the run */
	FILE *log;                    /* --log, or NULL */
	progress bar;                 /* on stderr */
	aert_err err;                 /* the failure to report */
} trainer;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *alloc_aligned(size_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
		return NULL;
	memset(p, 0, bytes);
	return p;
}

/* ---- the command line ---- */

static void print_help(const aert_model *m)
{
	const aert_input *x = &m->inputs[0];
	printf("usage: %s-train [options]\n", m->name);
	printf("Train the %s model", m->name);
	if (m->source)
		printf(" (compiled from %s)", m->source);
	printf(" with Adam, reporting the mean loss of\nevery epoch.\n\n");
	printf("  --epochs N         passes over the training data (default %d)\n", m->epochs);
	printf("  --steps N          stop after N optimizer steps in this run; without\n");
	printf("                     --epochs, run as many epochs as that takes\n");
	printf("  --batch N          samples per step, 1..%d (default %d)\n", m->max_batch, m->batch);
	printf("  --lr X             learning rate (default %g)\n", m->hparams.lr);
	printf("  --seed N           initialisation and shuffling seed (default %llu)\n",
	       (unsigned long long)m->seed);
	printf("  --no-shuffle       train on the samples in file order\n");
	printf("  --no-noise         turn off noise, dropout and sampling\n");
	printf("  --threads N        threads for the model's products (default: all cores);\n"
	       "                     results are the same for every N\n");
	printf("  --train PATH       training data of input '%s' (default %s)\n", x->name,
	       m->train_path[0] ? m->train_path[0] : "none");
	printf("  --test PATH        test data of input '%s' (default %s)\n", x->name,
	       m->test_path[0] ? m->test_path[0] : "none");
	if (m->n_inputs > 1)
		printf("  --train-INPUT PATH, --test-INPUT PATH   the same for the input named INPUT\n");
	printf("  --init FILE        start from the parameters in FILE (safetensors)\n");
	printf("  --resume FILE      start from a checkpoint: parameters and, if present,\n");
	printf("                     Adam state\n");
	printf("  --save FILE        write the parameters at the end (safetensors with\n");
	printf("                     PyTorch names, for load_state_dict)\n");
	printf("  --checkpoint FILE  write parameters and Adam state after every epoch\n");
	printf("  --log FILE         write the loss of every step as CSV: step,epoch,loss\n");
	printf("  --quiet            no progress bar\n");
	printf("  --help, --version\n\n");
	printf("Data files are IDX (raw or gzipped), .csv or .npy. --save and\n");
	printf("--checkpoint replace their files atomically. Each epoch prints one line\n");
	printf("on stdout (test_loss only with test data; losses with %%.4f, or %%.4g\n");
	printf("below 0.001; the rate of the training part, with a k or M suffix):\n");
	printf("  epoch 3/10  train_loss 0.0145  test_loss 0.0147  12.3k samples/s\n");
	printf("On a terminal, a progress bar on stderr follows each epoch.\n");
	printf("Exit status: 0 done, 1 failure, 2 usage error.\n");
}

/* A whole number in text; fails on anything else, or overflow. */
static int parse_u64(const char *text, uint64_t *v)
{
	uint64_t x = 0;
	if (!*text)
		return -1;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = 10 * x + d;
	}
	*v = x;
	return 0;
}

/* An integer option's value in lo..hi. */
static int parse_integer(const char *name, const char *text, uint64_t lo, uint64_t hi, uint64_t *v,
			 aert_err *err)
{
	if (parse_u64(text, v) != 0 || *v < lo || *v > hi)
		return aert_fail(err, NULL, "%s: '%s' must be an integer from %llu to %llu", name, text,
				 (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

/* The input named `name` (len bytes), or -1. */
static int input_named(const aert_model *m, const char *name, size_t len)
{
	for (int i = 0; i < m->n_inputs; i++)
		if (strlen(m->inputs[i].name) == len && memcmp(m->inputs[i].name, name, len) == 0)
			return i;
	return -1;
}

/* 1 if the first len bytes of arg are the option `name`. */
static int is(const char *arg, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(arg, name, len) == 0;
}

/* Where --train, --test, --train-INPUT or --test-INPUT goes, or NULL. */
static const char **data_option(const aert_model *m, options *o, const char *arg, size_t len)
{
	static const char *const prefixes[2] = {"--train", "--test"};
	for (int k = 0; k < 2; k++) {
		size_t plen = strlen(prefixes[k]);
		if (len < plen || memcmp(arg, prefixes[k], plen) != 0)
			continue;
		const char **paths = k == 0 ? o->train : o->test;
		if (len == plen)
			return &paths[0];
		int i = arg[plen] == '-' ? input_named(m, arg + plen + 1, len - plen - 1) : -1;
		if (i >= 0)
			return &paths[i];
	}
	return NULL;
}

/* The string option arg names, or NULL if it is not one. */
static const char **path_option(const aert_model *m, options *o, const char *arg, size_t len)
{
	if (is(arg, len, "--init"))
		return &o->init;
	if (is(arg, len, "--resume"))
		return &o->resume;
	if (is(arg, len, "--save"))
		return &o->save;
	if (is(arg, len, "--checkpoint"))
		return &o->checkpoint;
	if (is(arg, len, "--log"))
		return &o->log;
	return data_option(m, o, arg, len);
}

/* Options that take a number. */
static const char *const NUMBER_OPTIONS[] = {"--epochs", "--steps", "--batch", "--seed", "--lr", "--threads"};

/* 1 if arg (len bytes of it) is an option that takes a value. */
static int takes_value(const aert_model *m, options *o, const char *arg, size_t len)
{
	for (size_t k = 0; k < sizeof NUMBER_OPTIONS / sizeof NUMBER_OPTIONS[0]; k++)
		if (is(arg, len, NUMBER_OPTIONS[k]))
			return 1;
	return path_option(m, o, arg, len) != NULL;
}

/* Apply an option that takes a value (takes_value is true of it). */
static int value_option(const aert_model *m, options *o, const char *arg, size_t len, const char *value,
			aert_err *err)
{
	uint64_t v;
	const char **path = path_option(m, o, arg, len);
	if (path) {
		if (!*value)
			return aert_fail(err, NULL, "%.*s: empty path", (int)len, arg);
		*path = value;
		return 0;
	}
	if (is(arg, len, "--epochs") || is(arg, len, "--steps")) {
		int epochs = is(arg, len, "--epochs");
		if (parse_integer(epochs ? "--epochs" : "--steps", value, 1, epochs ? INT_MAX : LLONG_MAX, &v,
				  err) != 0)
			return -1;
		*(epochs ? &o->epochs : &o->steps) = (long long)v;
		return 0;
	}
	if (is(arg, len, "--batch")) {
		if (parse_integer("--batch", value, 1, (uint64_t)m->max_batch, &v, err) != 0)
			return -1;
		o->batch = (int)v;
		return 0;
	}
	if (is(arg, len, "--seed"))
		return parse_integer("--seed", value, 0, UINT64_MAX, &o->seed, err);
	if (is(arg, len, "--threads")) {
		if (parse_integer("--threads", value, 1, 1024, &v, err) != 0)
			return -1;
		o->threads = (int)v;
		return 0;
	}
	char *end; /* --lr */
	double x = strtod(value, &end);
	if (end == value || *end || !isfinite(x) || x <= 0)
		return aert_fail(err, NULL, "--lr: '%s' must be a positive number", value);
	o->h.lr = x;
	return 0;
}

/* Options without a value. */
enum flag { FLAG_HELP, FLAG_VERSION, FLAG_NO_SHUFFLE, FLAG_NO_NOISE, FLAG_QUIET, N_FLAGS };
static const char *const FLAGS[N_FLAGS] = {"--help", "--version", "--no-shuffle", "--no-noise", "--quiet"};

/* The flag arg (len bytes of it) is, or N_FLAGS. */
static enum flag flag_named(const char *arg, size_t len)
{
	int k = 0;
	while (k < N_FLAGS && !is(arg, len, FLAGS[k]))
		k++;
	return (enum flag)k;
}

/* Apply a flag; --help and --version print and end the run. */
static aert_parsed apply_flag(const aert_model *m, options *o, enum flag f)
{
	switch (f) {
	case FLAG_HELP:
		print_help(m);
		return AERT_PARSE_DONE;
	case FLAG_VERSION:
		printf("%s-train (aecc runtime %s)\n", m->name, AERT_VERSION);
		return AERT_PARSE_DONE;
	case FLAG_NO_SHUFFLE:
		o->shuffle = 0;
		break;
	case FLAG_NO_NOISE:
		o->h.stochastic = 0;
		break;
	case FLAG_QUIET:
		o->quiet = 1;
		break;
	case N_FLAGS: /* not a flag: parse_arg never passes it */
		break;
	}
	return AERT_PARSE_OK;
}

void aert_train_defaults(const aert_model *m, options *o)
{
	memset(o, 0, sizeof *o);
	o->batch = m->batch;
	o->h = m->hparams;
	o->seed = m->seed;
	o->shuffle = 1;
	for (int i = 0; i < m->n_inputs; i++) {
		o->train[i] = m->train_path[i];
		o->test[i] = m->test_path[i];
	}
}

/* What the options must satisfy together: no --init with --resume,
 * training data for every input, test data for all inputs or for none;
 * and, when they come from elsewhere than the command line, a batch the
 * model takes. */
static int check_options(const aert_model *m, const options *o, aert_err *err)
{
	if (o->batch < 1 || o->batch > m->max_batch)
		return aert_fail(err, NULL, "batch %d is not in 1..%d", o->batch, m->max_batch);
	if (o->init && o->resume)
		return aert_fail(err, NULL, "--init and --resume cannot be combined");
	int with_test = 0;
	for (int i = 0; i < m->n_inputs; i++) {
		if (!o->train[i])
			return aert_fail(err, NULL, "no training data for input '%s': give --train%s%s PATH",
					 m->inputs[i].name, i ? "-" : "", i ? m->inputs[i].name : "");
		with_test += o->test[i] != NULL;
	}
	for (int i = 0; i < m->n_inputs && with_test; i++)
		if (!o->test[i])
			return aert_fail(err, NULL, "test data for some inputs but not for '%s': give --test-%s PATH",
					 m->inputs[i].name, m->inputs[i].name);
	return 0;
}

/* One argument (and the next one, for "--name VALUE"): *i moves past
 * what it used. */
static int parse_arg(const aert_model *m, int argc, char **argv, int *i, options *o, aert_parsed *done,
		     aert_err *err)
{
	const char *arg = argv[*i];
	if (strncmp(arg, "--", 2) != 0)
		return aert_fail(err, NULL, "unexpected argument '%s'", arg);
	size_t len = strcspn(arg, "=");
	const char *value = arg[len] == '=' ? arg + len + 1 : NULL;
	enum flag f = flag_named(arg, len);
	if (f != N_FLAGS) {
		if (value)
			return aert_fail(err, NULL, "%.*s takes no value", (int)len, arg);
		*done = apply_flag(m, o, f);
		return 0;
	}
	if (!takes_value(m, o, arg, len))
		return aert_fail(err, NULL, "unknown option '%.*s'", (int)len, arg);
	if (!value && *i + 1 == argc)
		return aert_fail(err, NULL, "%s needs a value", arg);
	return value_option(m, o, arg, len, value ? value : argv[++*i], err);
}

aert_parsed aert_train_parse(const aert_model *m, int argc, char **argv, options *o, aert_err *err)
{
	aert_train_defaults(m, o);
	for (int i = 1; i < argc; i++) {
		aert_parsed done = AERT_PARSE_OK;
		if (parse_arg(m, argc, argv, &i, o, &done, err) != 0)
			return AERT_PARSE_USAGE;
		if (done != AERT_PARSE_OK)
			return done;
	}
	return check_options(m, o, err) != 0 ? AERT_PARSE_USAGE : AERT_PARSE_OK;
}

/* ---- the model and its state ---- */

int aert_model_check(const aert_model *m, aert_err *err)
{
	const char *bad = NULL;
	if (!m->name || !m->params_of || !m->adam_m_of || !m->adam_v_of || !m->step_of || !m->init ||
	    !m->train_step || !m->eval_loss)
		bad = "a name or function is missing";
	else if (m->n_inputs < 1 || m->n_inputs > AERT_MAX_INPUTS || !m->inputs)
		bad = "it needs 1 to 4 inputs";
	else if (m->real_size != 4 && m->real_size != 8)
		bad = "real_size is not 4 or 8";
	else if (m->max_batch < 1 || m->batch < 1 || m->batch > m->max_batch || m->epochs < 1)
		bad = "batch, max_batch or epochs out of range";
	else if (m->n_params < 0 || (m->n_params > 0 && !m->params))
		bad = "bad parameter table";
	else if (m->n_buffers < 0 || (m->n_buffers > 0 && (!m->buffers || !m->buffers_of)))
		bad = "bad buffer table";
	for (int i = 0; !bad && i < m->n_inputs; i++) {
		const aert_input *x = &m->inputs[i];
		if (!x->name || x->size == 0)
			bad = "an input has no name or no size";
		else if (x->onehot_classes > 0 && x->size != (size_t)x->onehot_classes)
			bad = "a one-hot input's size is not its number of classes";
		else if (!isfinite(m->scale[i]) || m->scale[i] == 0)
			bad = "an input's scale is 0 or not finite";
	}
	if (bad)
		return aert_fail(err, NULL, "invalid model descriptor: %s", bad);
	return 0;
}

static int setup_state(trainer *t)
{
	const aert_model *m = t->m;
	t->state = alloc_aligned(m->state_bytes);
	t->work = alloc_aligned(m->work_bytes);
	if (!t->state || !t->work)
		return aert_fail(&t->err, NULL, "out of memory for the model's state and work buffers");
	m->init(t->state, t->o.seed);
	if (t->o.init)
		return aert_load_model(m, t->state, t->o.init, 0, &t->err);
	if (t->o.resume)
		return aert_load_model(m, t->state, t->o.resume, 1, &t->err);
	return 0;
}

/* ---- data ---- */

/* Batch buffers, the training permutation and the test order. */
static int alloc_batches(trainer *t)
{
	const aert_model *m = t->m;
	for (int i = 0; i < m->n_inputs; i++) {
		const aert_input *x = &m->inputs[i];
		size_t width = x->onehot_classes > 0 ? (size_t)x->onehot_classes : x->size, bytes;
		if (aert_mul_size(width, (size_t)m->max_batch, &bytes) != 0 ||
		    aert_mul_size(bytes, (size_t)m->real_size, &bytes) != 0 || !(t->buf[i] = alloc_aligned(bytes)))
			return aert_fail(&t->err, NULL, "out of memory for the batch of input '%s'", x->name);
		t->in[i] = t->buf[i];
	}
	size_t most = t->train.n > t->test.n ? t->train.n : t->test.n;
	t->perm = malloc(t->train.n * sizeof *t->perm);
	t->order = malloc(most * sizeof *t->order);
	if (!t->perm || !t->order)
		return aert_fail(&t->err, NULL, "out of memory for %zu sample indices", t->train.n + most);
	for (size_t k = 0; k < t->train.n; k++)
		t->perm[k] = k;
	for (size_t k = 0; k < most; k++)
		t->order[k] = k;
	return 0;
}

static int load_data(trainer *t)
{
	if (aert_data_load(t->m, t->o.train, &t->train, &t->err) != 0)
		return -1;
	if (t->o.test[0] && !t->o.mute && aert_data_load(t->m, t->o.test, &t->test, &t->err) != 0)
		return -1;
	return alloc_batches(t);
}

/* ---- progress and reports ---- */

/* "0.0145", or "1.234e-05" for losses below 0.001. */
static const char *format_loss(char *buf, size_t cap, double loss)
{
	snprintf(buf, cap, loss != 0 && fabs(loss) < 0.001 ? "%.4g" : "%.4f", loss);
	return buf;
}

/* "950.0", "12.3k" or "1.2M". */
static const char *format_rate(char *buf, size_t cap, double rate)
{
	if (rate < 999.95)
		snprintf(buf, cap, "%.1f", rate);
	else if (rate < 999950)
		snprintf(buf, cap, "%.1fk", rate / 1e3);
	else
		snprintf(buf, cap, "%.1fM", rate / 1e6);
	return buf;
}

static void progress_clear(progress *p)
{
	if (p->on && p->drawn > 0) {
		fprintf(stderr, "\r%*s\r", p->drawn, "");
		fflush(stderr);
		p->drawn = 0;
	}
}

/* Redraw the bar if it is time: done of total samples, running loss. */
static void progress_draw(trainer *t, long long epoch, size_t done, size_t total, double loss)
{
	progress *p = &t->bar;
	double when = now();
	if (!p->on || when - p->last < PROGRESS_PERIOD)
		return;
	p->last = when;
	int filled = (int)((double)PROGRESS_WIDTH * (double)done / (double)total);
	char bar[PROGRESS_WIDTH + 1], l[32];
	memset(bar, '#', (size_t)filled);
	memset(bar + filled, '.', (size_t)(PROGRESS_WIDTH - filled));
	bar[PROGRESS_WIDTH] = '\0';
	int len = fprintf(stderr, "\repoch %lld/%lld [%s] %3d%%  loss %s", epoch, t->epochs, bar,
			  (int)(100.0 * (double)done / (double)total), format_loss(l, sizeof l, loss));
	if (len > 1 && len - 1 < p->drawn)
		fprintf(stderr, "%*s", p->drawn - (len - 1), "");
	if (len > 1 && len - 1 > p->drawn)
		p->drawn = len - 1;
	fflush(stderr);
}

static void report_epoch(const trainer *t, long long epoch, double train_loss, double test_loss, double rate)
{
	char a[32], b[32], r[32];
	if (t->o.mute)
		return;
	printf("epoch %lld/%lld  train_loss %s", epoch, t->epochs, format_loss(a, sizeof a, train_loss));
	if (t->test.n)
		printf("  test_loss %s", format_loss(b, sizeof b, test_loss));
	printf("  %s samples/s\n", format_rate(r, sizeof r, rate));
	fflush(stdout);
}

/* ---- training ---- */

/* The sample-weighted mean test loss, in chunks of max_batch. */
static int evaluate(trainer *t, double *loss)
{
	size_t chunk = (size_t)t->m->max_batch;
	double sum = 0;
	for (size_t at = 0; at < t->test.n; at += chunk) {
		size_t n = t->test.n - at < chunk ? t->test.n - at : chunk;
		if (aert_data_batch(t->m, &t->test, t->order + at, n, t->buf, &t->err) != 0)
			return -1;
		sum += t->m->eval_loss(t->state, t->work, t->in, (int)n) * (double)n;
	}
	*loss = sum / (double)t->test.n;
	return 0;
}

/* One optimizer step on samples perm[at..at+n); adds its loss * n to *sum. */
static int train_batch(trainer *t, long long epoch, size_t at, size_t n, double *sum)
{
	double loss;
	if (t->step) {
		aert_batch_step s = {t->m, t->state, t->work, &t->train, t->perm + at, n, &t->o.h, t->buf, t->in};
		if (t->step(t->step_ctx, &s, &loss, &t->err) != 0)
			return -1;
	} else {
		if (aert_data_batch(t->m, &t->train, t->perm + at, n, t->buf, &t->err) != 0)
			return -1;
		loss = t->m->train_step(t->state, t->work, t->in, (int)n, &t->o.h);
	}
	t->steps++;
	if (t->log)
		/* Enough digits to read the model's loss back exactly. */
		fprintf(t->log, "%lld,%lld,%.*g\n", t->steps, epoch, t->m->real_size == 8 ? 17 : 9, loss);
	if (!isfinite(loss)) {
		progress_clear(&t->bar);
		return aert_fail(&t->err, NULL, "training loss is %g at epoch %lld, step %lld; stopping", loss, epoch,
				 t->steps);
	}
	*sum += loss * (double)n;
	if (t->hook) {
		aert_step_info s = {t->steps, epoch, t->epochs, (int)n, loss};
		t->stopped = t->hook(t->hook_ctx, &s) != 0;
	}
	return 0;
}

/* One epoch (cut short when --steps runs out or the hook says so); *loss is
 * its sample-weighted
 * mean loss and *rate the samples trained per second. */
static int train_epoch(trainer *t, long long epoch, aert_rng *rng, double *loss, double *rate)
{
	size_t batch = (size_t)t->o.batch, done = 0, planned = t->train.n;
	double sum = 0, start = now();
	if (t->o.steps) {
		unsigned long long left = (unsigned long long)(t->o.steps - t->steps);
		if (left < (t->train.n + batch - 1) / batch)
			planned = (size_t)left * batch;
	}
	if (t->o.shuffle)
		aert_shuffle(t->perm, t->train.n, rng);
	while (done < planned && !t->stopped) {
		size_t n = planned - done < batch ? planned - done : batch;
		if (train_batch(t, epoch, done, n, &sum) != 0)
			return -1;
		done += n;
		progress_draw(t, epoch, done, planned, sum / (double)done);
	}
	double secs = now() - start;
	progress_clear(&t->bar);
	*loss = done ? sum / (double)done : 0;
	*rate = (double)done / (secs > 1e-9 ? secs : 1e-9);
	return 0;
}

/* Epochs to run: --epochs, or as many as --steps needs, or the model's. */
static long long epochs_to_run(const trainer *t)
{
	size_t batch = (size_t)t->o.batch;
	long long per_epoch = (long long)((t->train.n + batch - 1) / batch);
	long long for_steps = t->o.steps ? (t->o.steps - 1) / per_epoch + 1 : 0;
	long long epochs = t->o.epochs ? t->o.epochs : t->m->epochs;
	if (for_steps && (!t->o.epochs || for_steps < epochs))
		epochs = for_steps;
	return epochs;
}

static int run_epochs(trainer *t)
{
	aert_rng rng;
	aert_rng_seed(&rng, t->o.seed);
	t->epochs = epochs_to_run(t);
	for (long long e = 1; e <= t->epochs; e++) {
		double train_loss, test_loss = 0, rate;
		if (train_epoch(t, e, &rng, &train_loss, &rate) != 0 || (t->test.n && evaluate(t, &test_loss) != 0))
			return -1;
		report_epoch(t, e, train_loss, test_loss, rate);
		if (t->log && fflush(t->log) != 0)
			return aert_fail(&t->err, t->o.log, "cannot write: %s", strerror(errno));
		if (t->o.checkpoint && !t->o.mute && aert_save_model(t->m, t->state, t->o.checkpoint, 1, &t->err) != 0)
			return -1;
		if (t->stopped)
			break;
	}
	return 0;
}

static int open_log(trainer *t)
{
	if (!t->o.log || t->o.mute)
		return 0;
	t->log = fopen(t->o.log, "w");
	if (!t->log)
		return aert_fail(&t->err, t->o.log, "cannot create: %s", strerror(errno));
	fprintf(t->log, "step,epoch,loss\n");
	return 0;
}

static int close_log(trainer *t)
{
	if (!t->log)
		return 0;
	int bad = ferror(t->log);
	bad |= fclose(t->log) != 0;
	t->log = NULL;
	return bad ? aert_fail(&t->err, t->o.log, "cannot write: %s", strerror(errno ? errno : EIO)) : 0;
}

/* ---- a run ---- */

int aert_trainer_open(aert_trainer **out, const aert_model *m, const options *o, aert_err *err)
{
	*out = NULL;
	trainer *t = calloc(1, sizeof *t);
	if (!t)
		return aert_fail(err, NULL, "out of memory for the trainer");
	t->m = m;
	t->o = *o;
	if (aert_model_check(m, &t->err) != 0 || check_options(m, o, &t->err) != 0) {
		*err = t->err;
		aert_trainer_close(t);
		return -1;
	}
	if (o->threads > 0)
		t->threads = m->set_threads ? m->set_threads(o->threads) : 1;
	if (setup_state(t) != 0 || load_data(t) != 0 || open_log(t) != 0) {
		*err = t->err;
		aert_trainer_close(t);
		return -1;
	}
	*out = t;
	return 0;
}

int aert_trainer_run(trainer *t, aert_step_hook hook, void *ctx, aert_err *err)
{
	t->hook = hook;
	t->hook_ctx = ctx;
	t->bar.on = !t->o.quiet && !t->o.mute && isatty(STDERR_FILENO);
	if (run_epochs(t) != 0 || close_log(t) != 0) {
		*err = t->err;
		return -1;
	}
	return 0;
}

void aert_trainer_set_step(trainer *t, aert_step_fn fn, void *ctx)
{
	t->step = fn;
	t->step_ctx = ctx;
}

int aert_trainer_save(trainer *t, aert_err *err)
{
	return t->o.save && !t->o.mute ? aert_save_model(t->m, t->state, t->o.save, 0, err) : 0;
}

void *aert_trainer_state(trainer *t) { return t->state; }

size_t aert_trainer_samples(const trainer *t) { return t->train.n; }

int aert_trainer_threads(const trainer *t) { return t->threads; }

void aert_trainer_close(trainer *t)
{
	if (!t)
		return;
	if (t->log)
		fclose(t->log);
	aert_data_free(&t->train);
	aert_data_free(&t->test);
	for (int i = 0; i < AERT_MAX_INPUTS; i++)
		free(t->buf[i]);
	free(t->perm);
	free(t->order);
	free(t->state);
	free(t->work);
	free(t);
}

int aert_train_main(const aert_model *m, int argc, char **argv)
{
	aert_err err;
	options o;
	if (aert_model_check(m, &err) != 0) {
		fprintf(stderr, "%s-train: error: %s\n", m->name ? m->name : "aecc", err.msg);
		return EXIT_FAIL;
	}
	switch (aert_train_parse(m, argc, argv, &o, &err)) {
	case AERT_PARSE_DONE:
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	case AERT_PARSE_USAGE:
		fprintf(stderr, "%s-train: error: %s\nTry '%s-train --help' for more information.\n", m->name,
			err.msg, m->name);
		return EXIT_USAGE;
	case AERT_PARSE_OK:
		break;
	}
	aert_trainer *t;
	int rc = aert_trainer_open(&t, m, &o, &err);
	if (rc == 0) {
		int got = aert_trainer_threads(t);
		if (o.threads > 0 && got != o.threads)
			fprintf(stderr, "%s-train: warning: using %d thread%s (compiled without OpenMP)\n", m->name, got,
				got == 1 ? "" : "s");
		rc = aert_trainer_run(t, NULL, NULL, &err);
	}
	if (rc == 0)
		rc = aert_trainer_save(t, &err);
	if (rc != 0)
		fprintf(stderr, "%s-train: error: %s\n", m->name, err.msg);
	aert_trainer_close(t);
	return rc != 0 ? EXIT_FAIL : EXIT_OK;
}
