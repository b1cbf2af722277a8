/* trainer.c - the trainer as a library: the command line
 * (aert_train_parse), a run (aert_trainer_open: state, data and their
 * checks; aert_trainer_run: the epoch loop with its progress bar, per-epoch
 * report and step hook, and between epochs the training controls of
 * schedule.c: the learning rate, the validation loss's best epoch, early
 * stopping; aert_trainer_save), and aert_train_main, the main() of a
 * compiled model's trainer, which calls them in a row. */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
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

/* Samples the model is evaluated on: some samples of a data set. */
typedef struct heldout {
	const char *name;             /* "val_loss", "test_loss" */
	const char *set;              /* its name in the log: "val", "test" */
	const aert_data *data;        /* where the samples are */
	const size_t *idx;            /* which of them */
	size_t n;                     /* how many; 0: none */
	uint64_t draws;               /* --test-loss sampled: the seed of its first chunk */
} heldout;

/* A loss and its terms (the model's n_loss_terms of them). */
typedef struct losses {
	double loss;
	double *terms;
} losses;

/* Everything a training run holds. */
typedef struct aert_trainer {
	const aert_model *m;          /* the model being trained */
	options o;                    /* what the run does */
	void *state, *work;           /* the model's state and scratch */
	aert_data train, test, val;   /* the data sets (n 0: none) */
	void *buf[AERT_MAX_INPUTS];   /* one batch per input, max_batch rows */
	const void *in[AERT_MAX_INPUTS]; /* the same, as the model reads them */
	size_t *perm;                 /* training order: n_train indices into train */
	size_t n_train;               /* samples trained on: train.n less the split */
	size_t *val_idx;              /* validate: the held-out samples of train */
	size_t *order;                /* 0, 1, 2, ...: in-file order of the largest set */
	heldout held_val, held_test;  /* what val_loss and test_loss are computed on */
	int terms;                    /* loss terms to report: the model's, if more than one */
	double *step_terms;           /* the terms of one step */
	long long epochs;             /* epochs this run makes at most */
	long long steps;              /* train_step calls so far */
	int threads;                  /* what set_threads gave; 0: not asked */
	aert_governor gov;            /* the thread count when not asked */
	aert_step_fn step;            /* computes each step instead of train_step, or NULL */
	void *step_ctx;               /* its first argument */
	aert_step_hook hook;          /* called after every step, or NULL */
	void *hook_ctx;               /* its first argument */
	int stopped;                  /* the hook ended the run */
	aert_scheduler lr;            /* the learning rate of each epoch */
	aert_monitor best;            /* the best epoch by validation loss */
	void *best_state;             /* early_stop: the state after that epoch */
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

/* The schedule as the .ae file writes it: "plateau(factor = 0.5, patience = 2)". */
static const char *format_schedule(char *buf, size_t cap, const aert_schedule *s)
{
	switch (s->kind) {
	case AERT_SCHEDULE_STEP:
		snprintf(buf, cap, "step(every = %lld, factor = %g)", s->every, s->factor);
		break;
	case AERT_SCHEDULE_COSINE:
		snprintf(buf, cap, "cosine(min_lr = %g)", s->min_lr);
		break;
	case AERT_SCHEDULE_PLATEAU:
		snprintf(buf, cap, "plateau(factor = %g, patience = %lld, threshold = %g, min_lr = %g)", s->factor,
			 s->patience, s->threshold, s->min_lr);
		break;
	default:
		snprintf(buf, cap, "none");
	}
	return buf;
}

/* The validation data the model's file gives, for --help. */
static const char *default_validation(char *buf, size_t cap, const aert_model *m)
{
	if (m->validate > 0)
		snprintf(buf, cap, "validate %g", m->validate);
	else
		snprintf(buf, cap, "%s", m->validation_path[0] ? m->validation_path[0] : "none");
	return buf;
}

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
	printf("  --threads N        threads for the model's products (default: all cores, or\n"
	       "                     one while that is faster); results are the same for every N\n");
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
	printf("  --classes LIST     train on samples of these classes only (0-8, 0,2,5-7)\n");
	if (m->classes)
		printf("                     (default %s, from the .ae file)\n", m->classes);
	printf("  --train-labels FILE  the training samples' classes, for --classes\n");
	printf("  --log FILE         write the losses as CSV: step,epoch,set,lr,loss and a\n"
	       "                     column per loss term; a row per step (set train)\n"
	       "                     and per epoch for val and test\n");
	printf("  --quiet            no progress bar\n");
	char buf[160];
	printf("\nTraining controls (between epochs; the learning rate is constant within one):\n");
	printf("  --schedule SPEC    the learning rate from epoch to epoch (default %s):\n",
	       format_schedule(buf, sizeof buf, &m->schedule));
	printf("                     none, step(every = N, factor = F), cosine(min_lr = X),\n"
	       "                     plateau(factor = F, patience = N, threshold = T, min_lr = X)\n");
	printf("  --validate F       hold out the fraction F of the training data, chosen by\n"
	       "                     the seed, for val_loss (0: none; default %s)\n",
	       default_validation(buf, sizeof buf, m));
	printf("  --validation PATH  validation data of input '%s' instead\n", x->name);
	if (m->n_inputs > 1)
		printf("  --validation-INPUT PATH   the same for the input named INPUT\n");
	if (m->early_stop.on)
		snprintf(buf, sizeof buf, "patience %lld, min_delta %g", m->early_stop.patience, m->early_stop.min_delta);
	printf("  --early-stop N     stop after N epochs in a row without a better val_loss,\n"
	       "                     then go back to the best epoch's state (default %s)\n",
	       m->early_stop.on ? buf : "off");
	printf("  --min-delta X      a better val_loss is lower by more than X (default %g)\n", m->early_stop.min_delta);
	printf("  --no-early-stop    train every epoch\n");
	printf("  --save-best FILE   write the parameters whenever val_loss is the best yet\n");
	printf("  --png-every N      every N epochs write DIR/reconstruction_EPOCH.png (8 test\n"
	       "                     images above their reconstructions)%s\n",
	       m->latent_kind == AERT_LATENT_GAUSSIAN && m->sample ? " and sample_EPOCH.png\n"
								     "                     (64 draws from the prior)" : "");
	printf("  --png-dir DIR      where --png-every writes (default .)\n");
	if (m->draws_latent)
		printf("  --test-loss mean|sampled   held-out losses with the latent at its mean\n"
		       "                     (z = mu, the default) or drawn as in training (the\n"
		       "                     sampled ELBO, as pytorch/examples' VAE reports)\n");
	printf("  --help, --version\n\n");
	printf("Data files are IDX (raw or gzipped), .csv or .npy. --save, --checkpoint\n");
	printf("and --save-best replace their files atomically. Each epoch prints one line\n");
	printf("on stdout (lr with a schedule, val_loss with validation data, test_loss\n");
	printf("with test data, each loss followed by its terms when the loss has several;\n");
	printf("losses with %%.4f, or %%.4g below 0.001; the rate of the training part, with a\n");
	printf("k or M suffix):\n");
	printf("  epoch 3/10  train_loss 0.0145  test_loss 0.0147  12.3k samples/s\n");
	printf("plateau, early_stop and --save-best watch val_loss, never test_loss.\n");
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

/* Where --train, --test, --validation or one of them with -INPUT goes, or
 * NULL. */
static const char **data_option(const aert_model *m, options *o, const char *arg, size_t len)
{
	static const char *const prefixes[3] = {"--train", "--test", "--validation"};
	for (int k = 0; k < 3; k++) {
		size_t plen = strlen(prefixes[k]);
		if (len < plen || memcmp(arg, prefixes[k], plen) != 0)
			continue;
		const char **paths = k == 0 ? o->train : k == 1 ? o->test : o->validation;
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
	if (is(arg, len, "--png-dir"))
		return &o->png_dir;
	if (is(arg, len, "--classes"))
		return &o->classes;
	if (is(arg, len, "--train-labels"))
		return &o->train_labels;
	if (is(arg, len, "--save-best"))
		return &o->save_best;
	return data_option(m, o, arg, len);
}

/* Options that take a number, or a word. */
static const char *const NUMBER_OPTIONS[] = {"--epochs",   "--steps",    "--batch",    "--seed",     "--lr",
					     "--threads",  "--validate", "--early-stop", "--min-delta", "--schedule",
					     "--test-loss", "--png-every"};

/* 1 if arg (len bytes of it) is an option that takes a value. */
static int takes_value(const aert_model *m, options *o, const char *arg, size_t len)
{
	for (size_t k = 0; k < sizeof NUMBER_OPTIONS / sizeof NUMBER_OPTIONS[0]; k++)
		if (is(arg, len, NUMBER_OPTIONS[k]))
			return 1;
	return path_option(m, o, arg, len) != NULL;
}

/* --schedule SPEC, --early-stop N, --test-loss mean|sampled. */
static int control_option(const aert_model *m, options *o, const char *arg, size_t len, const char *value,
			  aert_err *err)
{
	if (is(arg, len, "--schedule")) {
		if (aert_schedule_parse(value, &o->schedule, err) != 0) {
			aert_err why = *err;
			return aert_fail(err, NULL, "--schedule: %s", why.msg);
		}
		return 0;
	}
	if (is(arg, len, "--early-stop")) {
		uint64_t v;
		if (parse_integer("--early-stop", value, 1, 1000000000, &v, err) != 0)
			return -1;
		o->early_stop.on = 1;
		o->early_stop.patience = (long long)v;
		return 0;
	}
	(void)m;
	if (!strcmp(value, "mean") || !strcmp(value, "sampled")) { /* --test-loss */
		o->sampled = value[0] == 's';
		return 0;
	}
	return aert_fail(err, NULL, "--test-loss: '%s' must be mean or sampled", value);
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
		if (path >= o->validation && path < o->validation + AERT_MAX_INPUTS)
			o->validate = 0; /* files instead of the split */
		return 0;
	}
	if (is(arg, len, "--schedule") || is(arg, len, "--test-loss") || is(arg, len, "--early-stop"))
		return control_option(m, o, arg, len, value, err);
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
	if (is(arg, len, "--png-every")) {
		if (parse_integer("--png-every", value, 1, INT_MAX, &v, err) != 0)
			return -1;
		o->png_every = (int)v;
		return 0;
	}
	if (is(arg, len, "--threads")) {
		if (parse_integer("--threads", value, 1, 1024, &v, err) != 0)
			return -1;
		o->threads = (int)v;
		return 0;
	}
	char *end; /* --lr, --validate, --min-delta */
	double x = strtod(value, &end);
	int number = end != value && !*end && isfinite(x);
	if (is(arg, len, "--validate")) {
		if (!number || x < 0 || x >= 1)
			return aert_fail(err, NULL, "--validate: '%s' must be a fraction from 0 to below 1", value);
		o->validate = x;
		memset(o->validation, 0, sizeof o->validation); /* the split instead of files */
		return 0;
	}
	if (is(arg, len, "--min-delta")) {
		if (!number || x < 0)
			return aert_fail(err, NULL, "--min-delta: '%s' must be a number from 0", value);
		o->early_stop.min_delta = x;
		return 0;
	}
	if (!number || x <= 0)
		return aert_fail(err, NULL, "--lr: '%s' must be a positive number", value);
	o->h.lr = x;
	return 0;
}

/* Options without a value. */
enum flag { FLAG_HELP, FLAG_VERSION, FLAG_NO_SHUFFLE, FLAG_NO_NOISE, FLAG_QUIET, FLAG_NO_EARLY_STOP, N_FLAGS };
static const char *const FLAGS[N_FLAGS] = {"--help", "--version", "--no-shuffle", "--no-noise", "--quiet",
					   "--no-early-stop"};

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
	case FLAG_NO_EARLY_STOP:
		o->early_stop.on = 0;
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
	o->classes = m->classes;
	o->train_labels = m->train_labels;
	o->schedule = m->schedule;
	o->early_stop = m->early_stop;
	o->validate = m->validate;
	for (int i = 0; i < m->n_inputs; i++) {
		o->train[i] = m->train_path[i];
		o->test[i] = m->test_path[i];
		o->validation[i] = m->validation_path[i];
	}
}

/* Data for all inputs or for none: test (which = "test") or validation. */
static int all_or_none(const aert_model *m, const char *const *paths, const char *which, aert_err *err)
{
	int given = 0;
	for (int i = 0; i < m->n_inputs; i++)
		given += paths[i] != NULL;
	for (int i = 0; i < m->n_inputs && given; i++)
		if (!paths[i])
			return aert_fail(err, NULL, "%s data for some inputs but not for '%s': give --%s-%s PATH", which,
					 m->inputs[i].name, which, m->inputs[i].name);
	return 0;
}

/* The training controls: settings in range, and validation data for what
 * watches the validation loss. */
static int check_controls(const aert_model *m, const options *o, aert_err *err)
{
	if (aert_schedule_check(&o->schedule, err) != 0)
		return -1;
	if (o->early_stop.on && (o->early_stop.patience < 1 || !(o->early_stop.min_delta >= 0)))
		return aert_fail(err, NULL, "early_stop: patience must be from 1 and min_delta from 0");
	if (!(o->validate >= 0 && o->validate < 1))
		return aert_fail(err, NULL, "validate %g is not a fraction from 0 to below 1", o->validate);
	if (o->validate > 0 && o->validation[0])
		return aert_fail(err, NULL, "validate %g and validation data cannot be combined", o->validate);
	if (all_or_none(m, o->validation, "validation", err) != 0)
		return -1;
	const char *watcher = o->schedule.kind == AERT_SCHEDULE_PLATEAU ? "the plateau schedule"
			      : o->early_stop.on			  ? "early stopping"
			      : o->save_best				  ? "--save-best"
									  : NULL;
	if (watcher && o->validate == 0 && !o->validation[0])
		return aert_fail(err, NULL, "%s watches the validation loss, but there is no validation data: "
					    "give --validate F or --validation PATH",
				 watcher);
	if (o->sampled && (!m->draws_latent || !m->loss_terms))
		return aert_fail(err, NULL, "--test-loss sampled: model '%s' draws no latent", m->name);
	return 0;
}

/* What the options must satisfy together: no --init with --resume,
 * training data for every input, test and validation data for all inputs
 * or for none, the training controls; and, when they come from elsewhere
 * than the command line, a batch the model takes. */
static int check_options(const aert_model *m, const options *o, aert_err *err)
{
	if (o->batch < 1 || o->batch > m->max_batch)
		return aert_fail(err, NULL, "batch %d is not in 1..%d", o->batch, m->max_batch);
	if (o->init && o->resume)
		return aert_fail(err, NULL, "--init and --resume cannot be combined");
	for (int i = 0; i < m->n_inputs; i++)
		if (!o->train[i])
			return aert_fail(err, NULL, "no training data for input '%s': give --train%s%s PATH",
					 m->inputs[i].name, i ? "-" : "", i ? m->inputs[i].name : "");
	if (all_or_none(m, o->test, "test", err) != 0)
		return -1;
	aert_image im;
	if (o->png_every && (aert_image_shape(&m->inputs[0], &im) != 0 || m->output_size != m->inputs[0].size))
		return aert_fail(err, NULL, "--png-every: input '%s' of model %s is not an image its output reconstructs",
				 m->inputs[0].name, m->name);
	return check_controls(m, o, err);
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
	else if (m->n_loss_terms < 0 || (m->n_loss_terms > 0 && (!m->loss_term_names || !m->loss_term_weights ||
								 !m->loss_terms || !m->train_step_terms)))
		bad = "bad loss term table";
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
	aert_train_options o;
	aert_train_defaults(m, &o);
	if (check_controls(m, &o, err) != 0) {
		aert_err why = *err;
		return aert_fail(err, NULL, "invalid model descriptor: %s", why.msg);
	}
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

/* Batch buffers, the training permutation (less the split) and the
 * in-file order of the held-out sets. */
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
	most = most > t->val.n ? most : t->val.n;
	t->perm = malloc(t->train.n * sizeof *t->perm);
	t->order = malloc(most * sizeof *t->order);
	t->val_idx = t->o.validate > 0 ? malloc(t->train.n * sizeof *t->val_idx) : NULL;
	if (!t->perm || !t->order || (t->o.validate > 0 && !t->val_idx))
		return aert_fail(&t->err, NULL, "out of memory for %zu sample indices", 2 * t->train.n + most);
	for (size_t k = 0; k < most; k++)
		t->order[k] = k;
	t->n_train = t->train.n;
	if (t->o.validate == 0) {
		memcpy(t->perm, t->order, t->train.n * sizeof *t->perm);
		return 0;
	}
	size_t n_val;
	if (aert_split(t->train.n, t->o.validate, t->o.seed, t->val_idx, &n_val, t->perm, &t->n_train, &t->err) != 0) {
		aert_err why = t->err;
		return aert_fail(&t->err, t->o.train[0], "%s", why.msg);
	}
	t->held_val = (heldout){"val_loss", "val", &t->train, t->val_idx, n_val, (uint64_t)1 << 40};
	return 0;
}

/* Loss terms, when the model reports more than one: a step's, and the
 * sums of an epoch's or an evaluation's. */
static int alloc_terms(trainer *t)
{
	t->terms = t->m->n_loss_terms > 1 ? t->m->n_loss_terms : 0;
	if (t->terms && !(t->step_terms = calloc((size_t)t->terms, sizeof *t->step_terms)))
		return aert_fail(&t->err, NULL, "out of memory for the loss terms");
	if (t->o.early_stop.on && !(t->best_state = alloc_aligned(t->m->state_bytes)))
		return aert_fail(&t->err, NULL, "out of memory for the best epoch's state");
	return 0;
}

/* A message of the run on stdout; a muted trainer says nothing. */
static void say(const trainer *t, const char *fmt, ...)
{
	if (t->o.mute)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* Keep the training samples of the classes the options ask for. */
static int filter_classes(trainer *t)
{
	unsigned char keep[AERT_MAX_CLASSES];
	aert_dataset labels = {0};
	if (!t->o.train_labels)
		return aert_fail(&t->err, NULL, "--classes %s: the training samples' classes are needed: give "
						"--train-labels FILE, or train_labels in the .ae file's data section",
				 t->o.classes);
	if (aert_classes_parse(t->o.classes, keep, &t->err) != 0 ||
	    aert_load_any(t->o.train_labels, &labels, &t->err) != 0)
		return -1;
	size_t all = t->train.n;
	int rc = aert_data_filter(&t->train, &labels, keep, &t->err);
	aert_dataset_free(&labels);
	if (rc == 0)
		say(t, "training on the %zu of %zu samples of classes %s\n", t->train.n, all, t->o.classes);
	return rc;
}

static int load_data(trainer *t)
{
	if (aert_data_load(t->m, t->o.train, &t->train, &t->err) != 0)
		return -1;
	if (t->o.classes && filter_classes(t) != 0)
		return -1;
	if (t->o.test[0] && aert_data_load(t->m, t->o.test, &t->test, &t->err) != 0)
		return -1;
	if (t->o.validation[0] && aert_data_load(t->m, t->o.validation, &t->val, &t->err) != 0)
		return -1;
	if (alloc_batches(t) != 0 || alloc_terms(t) != 0)
		return -1;
	t->held_test = (heldout){"test_loss", "test", &t->test, t->order, t->test.n, (uint64_t)1 << 41};
	if (t->val.n)
		t->held_val = (heldout){"val_loss", "val", &t->val, t->order, t->val.n, (uint64_t)1 << 40};
	return 0;
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

/* "  train_loss 243.1234 (bce 220.1000, kl_normal 23.0234)": a loss, and
 * its terms when there are several. */
static void print_losses(const trainer *t, const char *name, const losses *l)
{
	char a[32];
	printf("  %s %s", name, format_loss(a, sizeof a, l->loss));
	for (int k = 0; k < t->terms; k++)
		printf("%s%s %s%s", k ? ", " : " (", t->m->loss_term_names[k], format_loss(a, sizeof a, l->terms[k]),
		       k + 1 == t->terms ? ")" : "");
}

/* What an epoch measured: the losses of training, validation and test. */
typedef struct epoch_result {
	losses train, val, test;
	double rate; /* samples trained per second */
} epoch_result;

static void report_epoch(const trainer *t, long long epoch, const epoch_result *r)
{
	char rate[32];
	if (t->o.mute)
		return;
	printf("epoch %lld/%lld", epoch, t->epochs);
	if (t->o.schedule.kind != AERT_SCHEDULE_NONE)
		printf("  lr %g", t->o.h.lr);
	print_losses(t, "train_loss", &r->train);
	if (t->held_val.n)
		print_losses(t, "val_loss", &r->val);
	if (t->held_test.n)
		print_losses(t, "test_loss", &r->test);
	printf("  %s samples/s\n", format_rate(rate, sizeof rate, r->rate));
	fflush(stdout);
}

/* For a model whose loss reads a drawn latent: how the held-out losses
 * take it. */
static void report_latent(const trainer *t)
{
	if (t->o.mute || !t->m->draws_latent || !(t->held_val.n || t->held_test.n))
		return;
	int both = t->held_val.n && t->held_test.n;
	const char *which = both ? "val_loss and test_loss" : t->held_val.n ? "val_loss" : "test_loss";
	if (t->o.sampled)
		printf("%s: %s draw%s the latent as training does (z = mu + sigma * eps, the sampled ELBO); "
		       "--test-loss mean takes z = mu\n",
		       t->m->name, which, both ? "" : "s");
	else
		printf("%s: %s take%s the latent at its mean (z = mu); --test-loss sampled draws it as training "
		       "does (the sampled ELBO)\n",
		       t->m->name, which, both ? "" : "s");
}

/* One row of the log: step, epoch, set, lr, the loss and its terms. */
static void log_row(trainer *t, long long epoch, const char *set, const losses *l)
{
	int digits = t->m->real_size == 8 ? 17 : 9; /* enough to read the model's loss back exactly */
	fprintf(t->log, "%lld,%lld,%s,%.9g,%.*g", t->steps, epoch, set, t->o.h.lr, digits, l->loss);
	for (int k = 0; k < t->terms; k++)
		fprintf(t->log, ",%.*g", digits, l->terms[k]);
	fputc('\n', t->log);
}

/* ---- training ---- */

/* The sample-weighted mean loss (and terms) of a held-out set, in chunks
 * of max_batch; with --test-loss sampled, chunk c draws its latents with
 * the seed h->draws + c. */
static int evaluate(trainer *t, const heldout *h, losses *out)
{
	const aert_model *m = t->m;
	size_t chunk = (size_t)m->max_batch;
	double sum = 0;
	for (int k = 0; k < t->terms; k++)
		out->terms[k] = 0;
	for (size_t at = 0; at < h->n; at += chunk) {
		size_t n = h->n - at < chunk ? h->n - at : chunk;
		if (aert_data_batch(m, h->data, h->idx + at, n, t->buf, &t->err) != 0)
			return -1;
		double loss;
		if (m->loss_terms) {
			uint64_t seed = t->o.sampled ? h->draws + at / chunk : 0;
			loss = m->loss_terms(t->state, t->work, t->in, (int)n, seed, t->terms ? t->step_terms : NULL);
		} else {
			loss = m->eval_loss(t->state, t->work, t->in, (int)n);
		}
		sum += loss * (double)n;
		for (int k = 0; k < t->terms; k++)
			out->terms[k] += t->step_terms[k] * (double)n;
	}
	out->loss = sum / (double)h->n;
	for (int k = 0; k < t->terms; k++)
		out->terms[k] /= (double)h->n;
	return 0;
}

/* One optimizer step on samples perm[at..at+n); adds its loss (and terms)
 * times n to *sum. */
static int train_batch(trainer *t, long long epoch, size_t at, size_t n, losses *sum)
{
	const aert_model *m = t->m;
	losses step = {0, t->step_terms};
	if (t->step) { /* the data-parallel trainer's step: the loss alone */
		aert_batch_step s = {m, t->state, t->work, &t->train, t->perm + at, n, &t->o.h, t->buf, t->in};
		if (t->step(t->step_ctx, &s, &step.loss, &t->err) != 0)
			return -1;
	} else {
		if (aert_data_batch(m, &t->train, t->perm + at, n, t->buf, &t->err) != 0)
			return -1;
		/* the next batch's first samples arrive while this one runs */
		aert_data_prefetch(m, &t->train, t->perm + at + n, t->n_train - (at + n));
		aert_governor_threads(&t->gov);
		double t0 = now();
		if (t->terms)
			step.loss = m->train_step_terms(t->state, t->work, t->in, (int)n, &t->o.h, t->step_terms);
		else
			step.loss = m->train_step(t->state, t->work, t->in, (int)n, &t->o.h);
		aert_governor_done(&t->gov, now() - t0, (int)n);
	}
	t->steps++;
	if (t->log)
		log_row(t, epoch, "train", &step);
	if (!isfinite(step.loss)) {
		progress_clear(&t->bar);
		return aert_fail(&t->err, NULL, "training loss is %g at epoch %lld, step %lld; stopping", step.loss,
				 epoch, t->steps);
	}
	sum->loss += step.loss * (double)n;
	for (int k = 0; k < t->terms; k++)
		sum->terms[k] += step.terms[k] * (double)n;
	if (t->hook) {
		aert_step_info s = {t->steps, epoch, t->epochs, (int)n, step.loss};
		t->stopped = t->hook(t->hook_ctx, &s) != 0;
	}
	return 0;
}

/* One epoch (cut short when --steps runs out or the hook says so): its
 * sample-weighted mean loss and terms, and the samples trained per second. */
static int train_epoch(trainer *t, long long epoch, aert_rng *rng, epoch_result *r)
{
	size_t batch = (size_t)t->o.batch, done = 0, planned = t->n_train;
	double start = now();
	losses *sum = &r->train;
	sum->loss = 0;
	for (int k = 0; k < t->terms; k++)
		sum->terms[k] = 0;
	if (t->o.steps) {
		unsigned long long left = (unsigned long long)(t->o.steps - t->steps);
		if (left < (t->n_train + batch - 1) / batch)
			planned = (size_t)left * batch;
	}
	if (t->o.shuffle)
		aert_shuffle(t->perm, t->n_train, rng);
	while (done < planned && !t->stopped) {
		size_t n = planned - done < batch ? planned - done : batch;
		if (train_batch(t, epoch, done, n, sum) != 0)
			return -1;
		done += n;
		progress_draw(t, epoch, done, planned, sum->loss / (double)done);
	}
	double secs = now() - start;
	progress_clear(&t->bar);
	sum->loss = done ? sum->loss / (double)done : 0;
	for (int k = 0; k < t->terms; k++)
		sum->terms[k] = done ? sum->terms[k] / (double)done : 0;
	r->rate = (double)done / (secs > 1e-9 ? secs : 1e-9);
	return 0;
}

/* Epochs to run: --epochs, or as many as --steps needs, or the model's. */
static long long epochs_to_run(const trainer *t)
{
	size_t batch = (size_t)t->o.batch;
	long long per_epoch = (long long)((t->n_train + batch - 1) / batch);
	long long for_steps = t->o.steps ? (t->o.steps - 1) / per_epoch + 1 : 0;
	long long epochs = t->o.epochs ? t->o.epochs : t->m->epochs;
	if (for_steps && (!t->o.epochs || for_steps < epochs))
		epochs = for_steps;
	return epochs;
}

/* After epoch e's report: the schedule sees the validation loss, the best
 * epoch is kept (--save-best, early stopping's state); *stop when early
 * stopping ends the run. */
static int between_epochs(trainer *t, long long e, const losses *val, int *stop)
{
	char a[32];
	*stop = 0;
	if (!t->held_val.n)
		return 0;
	double lr = t->o.h.lr;
	if (aert_scheduler_observe(&t->lr, val->loss))
		say(t, "plateau: val_loss has not improved on %s for %lld epoch%s; lr %g -> %g\n",
		       format_loss(a, sizeof a, t->lr.best), t->o.schedule.patience + 1,
		       t->o.schedule.patience ? "s" : "", lr, t->lr.lr);
	if (aert_monitor_observe(&t->best, e, val->loss)) {
		if (t->best_state)
			memcpy(t->best_state, t->state, t->m->state_bytes);
		if (t->o.save_best && aert_save_model(t->m, t->state, t->o.save_best, 0, &t->err) != 0)
			return -1;
	} else if (t->o.early_stop.on && t->best.wait >= t->o.early_stop.patience) {
		say(t, "early stop: val_loss has not improved on %s (epoch %lld) for %lld epoch%s\n",
		    format_loss(a, sizeof a, t->best.best), t->best.best_epoch, t->best.wait, t->best.wait == 1 ? "" : "s");
		*stop = 1;
	}
	return 0;
}

/* Early stopping ends a run at its best epoch: back to the state after it. */
static void restore_best(trainer *t, long long last)
{
	char a[32];
	if (!t->best_state || !t->best.best_epoch || t->best.best_epoch == last)
		return;
	memcpy(t->state, t->best_state, t->m->state_bytes);
	say(t, "early stop: back to the state after epoch %lld (val_loss %s)\n", t->best.best_epoch,
	    format_loss(a, sizeof a, t->best.best));
}

/* --png-every: the first 8 held-out samples (test, else training) above
 * their reconstructions, and for a VAE 64 draws from the prior, as
 * pytorch/examples' VAE writes them every epoch. */
static int pictures(trainer *t, long long epoch)
{
	const aert_model *m = t->m;
	if (!t->o.png_every || (epoch % t->o.png_every != 0 && epoch != t->epochs))
		return 0;
	const aert_data *d = t->test.n ? &t->test : &t->train;
	size_t rs = (size_t)m->real_size, k = d->n < 8 ? d->n : 8, draws = m->max_batch < 64 ? (size_t)m->max_batch : 64;
	size_t idx[8];
	void *in[AERT_MAX_INPUTS] = {0}, *out = malloc((k > draws ? k : draws) * m->output_size * rs);
	int rc = out ? 0 : aert_fail(&t->err, NULL, "out of memory for the pictures");
	for (int i = 0; rc == 0 && i < m->n_inputs; i++)
		if (!(in[i] = malloc(k * m->inputs[i].size * rs)))
			rc = aert_fail(&t->err, NULL, "out of memory for the pictures");
	for (size_t i = 0; i < k; i++)
		idx[i] = i;
	const char *dir = t->o.png_dir ? t->o.png_dir : ".";
	char path[4096];
	aert_image im;
	aert_image_shape(&m->inputs[0], &im);
	aert_dtype real = rs == 8 ? AERT_F64 : AERT_F32;
	if (rc == 0 && aert_data_batch(m, d, idx, k, in, &t->err) != 0)
		rc = -1;
	if (rc == 0) {
		m->forward(t->state, t->work, (const void *const *)in, (int)k, out);
		aert_grid_row rows[2] = {{real, in[0], (int)k}, {real, out, (int)k}};
		snprintf(path, sizeof path, "%s/reconstruction_%lld.png", dir, epoch);
		rc = aert_write_grid(path, &im, rows, 2, 8, 3, &t->err);
	}
	if (rc == 0 && m->latent_kind == AERT_LATENT_GAUSSIAN && m->sample) {
		m->sample(t->state, t->work, t->o.seed, (int)draws, out);
		aert_grid_row rows[8];
		int nr = 0;
		for (size_t r = 0; r * 8 < draws; r++)
			rows[nr++] = (aert_grid_row){real, (char *)out + r * 8 * m->output_size * rs,
						     draws - r * 8 < 8 ? (int)(draws - r * 8) : 8};
		snprintf(path, sizeof path, "%s/sample_%lld.png", dir, epoch);
		rc = aert_write_grid(path, &im, rows, nr, 8, 3, &t->err);
	}
	for (int i = 0; i < m->n_inputs; i++)
		free(in[i]);
	free(out);
	return rc;
}

static int run_epochs(trainer *t)
{
	aert_rng rng;
	aert_rng_seed(&rng, t->o.seed);
	t->epochs = epochs_to_run(t);
	aert_scheduler_start(&t->lr, &t->o.schedule, t->o.h.lr, t->epochs);
	aert_monitor_start(&t->best, t->o.early_stop.on ? t->o.early_stop.min_delta : 0);
	report_latent(t);
	size_t nt = (size_t)t->terms;
	double *terms = calloc(3 * nt + 1, sizeof *terms);
	if (!terms)
		return aert_fail(&t->err, NULL, "out of memory for the loss terms");
	epoch_result r = {{0, terms}, {0, terms + nt}, {0, terms + 2 * nt}, 0};
	int rc = 0, stop = 0;
	long long e = 1;
	for (; e <= t->epochs && rc == 0; e++) {
		t->o.h.lr = aert_scheduler_lr(&t->lr, e);
		if (train_epoch(t, e, &rng, &r) != 0 || (t->held_val.n && evaluate(t, &t->held_val, &r.val) != 0) ||
		    (t->held_test.n && evaluate(t, &t->held_test, &r.test) != 0)) {
			rc = -1;
			break;
		}
		report_epoch(t, e, &r);
		if (t->log && t->held_val.n)
			log_row(t, e, "val", &r.val);
		if (t->log && t->held_test.n)
			log_row(t, e, "test", &r.test);
		if (t->log && fflush(t->log) != 0)
			rc = aert_fail(&t->err, t->o.log, "cannot write: %s", strerror(errno));
		else if (t->o.checkpoint && aert_save_model(t->m, t->state, t->o.checkpoint, 1, &t->err) != 0)
			rc = -1;
		else if (pictures(t, e) != 0)
			rc = -1;
		else if (between_epochs(t, e, &r.val, &stop) != 0)
			rc = -1;
		if (t->stopped || stop)
			break;
	}
	free(terms);
	if (rc == 0)
		restore_best(t, e > t->epochs ? t->epochs : e);
	return rc;
}

static int open_log(trainer *t)
{
	if (!t->o.log)
		return 0;
	t->log = fopen(t->o.log, "w");
	if (!t->log)
		return aert_fail(&t->err, t->o.log, "cannot create: %s", strerror(errno));
	fprintf(t->log, "step,epoch,set,lr,loss");
	for (int k = 0; k < t->terms; k++)
		fprintf(t->log, ",%s", t->m->loss_term_names[k]);
	fputc('\n', t->log);
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
	if (aert_model_check(m, &t->err) != 0 || check_options(m, o, &t->err) != 0 ||
	    aert_model_fits(m, &t->err) != 0) {
		*err = t->err;
		aert_trainer_close(t);
		return -1;
	}
	if (o->mute) { /* no file written, no test set, no bar; say() prints nothing */
		t->o.save = t->o.checkpoint = t->o.save_best = t->o.log = NULL;
		memset(t->o.test, 0, sizeof t->o.test);
		t->o.png_every = 0;
		t->o.quiet = 1;
	}
	/* What a run killed while it saved left beside its files goes now. */
	if (t->o.checkpoint)
		aert_st_clean(t->o.checkpoint);
	if (t->o.save)
		aert_st_clean(t->o.save);
	if (o->threads > 0)
		t->threads = m->set_threads ? m->set_threads(o->threads) : 1;
	aert_governor_init(&t->gov, m->set_threads,
			   o->threads > 0 || getenv("OMP_NUM_THREADS") ? 0 : (int)sysconf(_SC_NPROCESSORS_ONLN));
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
	t->bar.on = !t->o.quiet && isatty(STDERR_FILENO);
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
	t->terms = 0; /* such a step gives the loss alone: losses are reported without their terms */
}

int aert_trainer_save(trainer *t, aert_err *err)
{
	return t->o.save ? aert_save_model(t->m, t->state, t->o.save, 0, err) : 0;
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
	aert_data_free(&t->val);
	for (int i = 0; i < AERT_MAX_INPUTS; i++)
		free(t->buf[i]);
	free(t->perm);
	free(t->val_idx);
	free(t->order);
	free(t->step_terms);
	free(t->best_state);
	free(t->state);
	free(t->work);
	free(t);
}

int aert_train_main(const aert_model *m, int argc, char **argv)
{
	aert_err err;
	options o;
	aert_threads_wait_policy(NULL);
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
