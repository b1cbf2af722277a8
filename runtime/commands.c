/* commands.c - the model commands: a compiled model and its trained
 * weights put to the uses autoencoders are trained for.
 *
 *   encode       the code of every sample            [n, latent] (NPY/CSV)
 *   reconstruct  the reconstructions, a PNG grid     [n, output]
 *   score        anomaly scores, a threshold, flags, ROC-AUC
 *   denoise      corrupt, reconstruct, MSE and PSNR
 *   sample       decodes of draws from the prior
 *   interpolate  decodes along a line between two codes, or one unit traversed
 *   probe        a linear classifier on the codes against one on the inputs
 *   plot-latent  the codes in 2-D (PCA), coloured by class
 *
 * Each loads the weights into a state of its own, reads the model's data
 * (or --data) through aert_data_load, and drives the entry points of the
 * descriptor batch by batch. Every output file is written atomically. */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- options ---- */

enum {
	C_ENCODE = 1 << 0,
	C_RECONSTRUCT = 1 << 1,
	C_SCORE = 1 << 2,
	C_DENOISE = 1 << 3,
	C_SAMPLE = 1 << 4,
	C_INTERPOLATE = 1 << 5,
	C_PROBE = 1 << 6,
	C_PLOT_LATENT = 1 << 7,
	C_DATA = C_ENCODE | C_RECONSTRUCT | C_SCORE | C_DENOISE | C_INTERPOLATE | C_PROBE | C_PLOT_LATENT,
	C_ALL = (1 << 8) - 1,
};

static const struct command {
	const char *name;
	int bit;
	const char *what;
	const char *output; /* what -o receives */
} commands[] = {
	{"encode", C_ENCODE, "write the code of every sample (for a VAE the mean)", "the codes [n, latent]"},
	{"reconstruct", C_RECONSTRUCT, "write the reconstruction of every sample", "the reconstructions [n, output]"},
	{"score", C_SCORE, "anomaly scores: the loss of each sample, a threshold and flags",
	 "a CSV of index, score and flag"},
	{"denoise", C_DENOISE, "corrupt the samples, reconstruct them, report MSE and PSNR",
	 "the denoised samples [n, output]"},
	{"sample", C_SAMPLE, "decode draws from the prior N(0, I) (VAEs)", "the decodes [n, output]"},
	{"interpolate", C_INTERPOLATE, "decode codes between two samples, or one unit traversed",
	 "the decodes [steps, output]"},
	{"probe", C_PROBE, "fit a linear classifier on the codes and on the inputs; report test accuracy",
	 "a CSV of the two accuracies"},
	{"plot-latent", C_PLOT_LATENT, "draw the codes in 2-D (PCA when wider), coloured by class",
	 "the PNG chart"},
};

typedef struct cmd {
	const aert_model *m;
	const char *prog, *python, *plot;
	const struct command *c;
	/* options */
	const char *weights, *data, *labels, *out, *png, *normal, *noise, *classes;
	const char *train_data, *train_labels; /* score: the training samples, if not the model's */
	int split_train;  /* --split train: the training data instead of the test data */
	long long limit;  /* --limit: the first N samples only; 0 all */
	int batch, threads, rows, cols, zoom, samples, iwae, n, label, steps, slerp, logvar, epochs;
	long long from, to, traverse; /* -1: not given */
	double contamination, threshold;
	int has_threshold, has_contamination, all_labels;
	uint64_t seed;
	/* the model at work */
	void *state, *work;
	aert_dtype real; /* the model's reals */
	size_t rs;       /* bytes per real */
	aert_err err;
} cmd;

typedef enum kind { STR, INT, LONG, REAL, FLAG, SEED } kind;
static const struct option {
	const char *name;
	kind k;
	size_t at;  /* offset in cmd */
	int cmds;   /* bit set of the commands that take it */
	const char *arg, *help;
} options[] = {
#define AT(f) offsetof(cmd, f)
	{"--weights", STR, AT(weights), C_ALL, "FILE", "trained weights (safetensors, as --save writes them); required"},
	{"--data", STR, AT(data), C_DATA, "PATH", "samples to use (IDX, CSV or NPY; the .ae file's scale applies) "
						 "instead of the model's test data"},
	{"--labels", STR, AT(labels), C_DATA | C_SAMPLE, "FILE", "class labels of those samples (IDX); a conditional "
								"model's label input"},
	{"--split", STR, 0, C_DATA & ~C_PROBE, "test|train", "which of the model's data sets (default test)"},
	{"--limit", LONG, AT(limit), C_DATA, "N", "the first N samples only"},
	{"-o", STR, AT(out), C_ALL, "PATH", "output file: NPY, or CSV when it ends in .csv"},
	{"--png", STR, AT(png), C_RECONSTRUCT | C_DENOISE | C_SAMPLE | C_INTERPOLATE, "FILE", "draw a picture grid"},
	{"--rows", INT, AT(rows), C_RECONSTRUCT | C_DENOISE, "R", "row groups in the picture (default 1)"},
	{"--cols", INT, AT(cols), C_RECONSTRUCT | C_DENOISE | C_SAMPLE, "C", "images per picture row (default 8)"},
	{"--zoom", INT, AT(zoom), C_RECONSTRUCT | C_DENOISE | C_SAMPLE | C_INTERPOLATE, "K",
	 "enlarge each image K times (default 3)"},
	{"--logvar", FLAG, AT(logvar), C_ENCODE, NULL, "VAEs: the log-variances after the means ([n, 2 latent])"},
	{"--samples", INT, AT(samples), C_SCORE, "K", "VAEs: the negative ELBO averaged over K draws (default 1)"},
	{"--iwae", INT, AT(iwae), C_SCORE, "K", "VAEs: the importance-weighted bound with K draws, -log p(x)"},
	{"--contamination", REAL, AT(contamination), C_SCORE, "F",
	 "threshold: the (1 - F) percentile of the training scores (default 0.05)"},
	{"--threshold", REAL, AT(threshold), C_SCORE, "X", "threshold: this score"},
	{"--normal", STR, AT(normal), C_SCORE, "CLASSES", "the normal classes (as 0-8): report ROC-AUC, average "
							 "precision, precision and recall"},
	{"--train-data", STR, AT(train_data), C_SCORE, "PATH", "the training samples for the threshold (default "
								  "the model's training data)"},
	{"--train-labels", STR, AT(train_labels), C_SCORE, "FILE", "their labels (for --classes)"},
	{"--classes", STR, AT(classes), C_SCORE, "CLASSES", "the training scores of these classes only (default: the "
							 ".ae file's class filter)"},
	{"--noise", STR, AT(noise), C_DENOISE, "gaussian:S|mask:P", "the corruption (default the model's own)"},
	{"--seed", SEED, AT(seed), C_SCORE | C_DENOISE | C_SAMPLE, "S", "random draws (default 1)"},
	{"--n", INT, AT(n), C_SAMPLE, "N", "draws (default 64)"},
	{"--label", INT, AT(label), C_SAMPLE, "K", "conditional models: this class only (default one row per class)"},
	{"--from", LONG, AT(from), C_INTERPOLATE, "I", "the first sample (default 0)"},
	{"--to", LONG, AT(to), C_INTERPOLATE, "J", "the last sample (default 1)"},
	{"--steps", INT, AT(steps), C_INTERPOLATE, "N", "decodes along the way, ends included (default 10)"},
	{"--slerp", FLAG, AT(slerp), C_INTERPOLATE, NULL, "spherical instead of linear interpolation"},
	{"--traverse", LONG, AT(traverse), C_INTERPOLATE, "DIM",
	 "vary latent unit DIM of sample --from over +-3 sigma instead"},
	{"--epochs", INT, AT(epochs), C_PROBE, "N", "passes of the probe over the training codes (default 10)"},
	{"--batch", INT, AT(batch), C_ALL, "N", "samples per call of the model (default its largest)"},
	{"--threads", INT, AT(threads), C_ALL, "N", "threads of the model's kernels"},
#undef AT
};

static void print_help(const cmd *c)
{
	printf("usage: %s %s FILE.ae --weights W.safetensors [options]\n\n%s of model %s.\n\noptions:\n",
	       c->prog, c->c->name, c->c->what, c->m->name);
	for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
		const struct option *o = &options[i];
		if (!(o->cmds & c->c->bit))
			continue;
		char left[64];
		snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		printf("  %-26s %s\n", left, o->help);
	}
	printf("  %-26s %s\n", "--help", "this help");
	printf("\n-o receives %s.\n", c->c->output);
}

static int usage(cmd *c, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s %s: error: ", c->prog, c->c->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s %s FILE.ae --help'.\n", c->prog, c->c->name);
	return 2;
}

/* -1: go on; otherwise the exit status. */
static int parse(cmd *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_help(c);
			return 0;
		}
		const struct option *o = NULL;
		for (size_t k = 0; k < sizeof options / sizeof *options; k++)
			if (!strcmp(a, options[k].name) && (options[k].cmds & c->c->bit))
				o = &options[k];
		if (!o)
			return usage(c, "unknown option '%s'", a);
		if (o->k == FLAG) {
			*(int *)((char *)c + o->at) = 1;
			continue;
		}
		if (++i >= argc)
			return usage(c, "%s needs a value", a);
		const char *v = argv[i];
		char *end;
		errno = 0;
		void *at = (char *)c + o->at;
		if (!strcmp(o->name, "--split")) {
			if (strcmp(v, "test") && strcmp(v, "train"))
				return usage(c, "--split is test or train, not '%s'", v);
			c->split_train = !strcmp(v, "train");
		} else if (o->k == STR) {
			*(const char **)at = v;
		} else if (o->k == REAL) {
			double x = strtod(v, &end);
			if (end == v || *end || errno || !isfinite(x))
				return usage(c, "%s needs a number", a);
			*(double *)at = x;
			c->has_threshold |= !strcmp(o->name, "--threshold");
			c->has_contamination |= !strcmp(o->name, "--contamination");
		} else {
			long long x = strtoll(v, &end, 10);
			if (end == v || *end || errno || x < 0 || (o->k == INT && x > 1000000000))
				return usage(c, "%s needs a whole number >= 0", a);
			if (o->k == INT)
				*(int *)at = (int)x;
			else if (o->k == LONG)
				*(long long *)at = x;
			else
				*(uint64_t *)at = (uint64_t)x;
		}
	}
	if (!c->weights)
		return usage(c, "%s", "--weights FILE is required (the weights aecc train --save wrote)");
	if (!c->out && !c->png && c->c->bit != C_SCORE && c->c->bit != C_PROBE)
		return usage(c, "%s", "nothing to write: give -o PATH (or --png FILE)");
	if (c->batch < 0 || c->batch > c->m->max_batch || c->rows < 1 || c->cols < 1 || c->zoom < 1 || c->zoom > 32)
		return usage(c, "%s", "--batch is 1..the model's largest, --rows and --cols at least 1, --zoom 1..32");
	if (c->samples < 1 || c->steps < 2 || c->n < 1 || c->epochs < 1)
		return usage(c, "%s", "--samples, --n and --epochs must be at least 1, --steps at least 2");
	if (c->has_contamination && !(c->contamination > 0 && c->contamination < 0.5))
		return usage(c, "%s", "--contamination is a fraction in (0, 0.5), as PyOD's");
	if (c->has_contamination && c->has_threshold)
		return usage(c, "%s", "give --contamination or --threshold, not both");
	return -1;
}

/* ---- the model, its weights and its data ---- */

static int fail(cmd *c)
{
	fprintf(stderr, "%s %s: error: %s\n", c->prog, c->c->name, c->err.msg);
	return 1;
}

static int open_model(cmd *c)
{
	const aert_model *m = c->m;
	c->rs = (size_t)m->real_size;
	c->real = c->rs == 8 ? AERT_F64 : AERT_F32;
	if (!c->batch)
		c->batch = m->max_batch;
	c->state = calloc(1, m->state_bytes);
	c->work = calloc(1, m->work_bytes ? m->work_bytes : 1);
	if (!c->state || !c->work)
		return aert_fail(&c->err, NULL, "out of memory for the model's state and work buffers");
	m->init(c->state, 0);
	if (aert_load_model(m, c->state, c->weights, 0, &c->err) != 0)
		return -1;
	if (c->threads && m->set_threads)
		m->set_threads(c->threads);
	return 0;
}

static double rd(const cmd *c, const void *p, size_t i)
{
	return c->rs == 8 ? ((const double *)p)[i] : ((const float *)p)[i];
}

static void wr(const cmd *c, void *p, size_t i, double v)
{
	if (c->rs == 8)
		((double *)p)[i] = v;
	else
		((float *)p)[i] = (float)v;
}

/* The index of the model's label input (one-hot rows), or -1. */
static int label_input(const aert_model *m)
{
	for (int i = 0; i < m->n_inputs; i++)
		if (m->inputs[i].onehot_classes > 0)
			return i;
	return -1;
}

/* One data set: the model's inputs, and the class of each sample when
 * labels are known (y NULL otherwise). */
typedef struct set {
	aert_data d;
	int *y;
	const char *labels_path;
	void *in[AERT_MAX_INPUTS]; /* a batch of each input */
	size_t *idx;               /* a batch's sample numbers */
} set;

static void set_free(set *s)
{
	aert_data_free(&s->d);
	free(s->y);
	for (int i = 0; i < AERT_MAX_INPUTS; i++)
		free(s->in[i]);
	free(s->idx);
	*s = (set){0};
}

/* Load the data set the command runs on: --data (and --labels), or the
 * model's training or test files and their labels. classes (may be NULL)
 * keeps only samples of those classes. need_labels: fail without them. */
static int load_set(cmd *c, set *s, int train, const char *classes, int need_labels)
{
	const aert_model *m = c->m;
	const char *paths[AERT_MAX_INPUTS] = {0};
	const int li = label_input(m);
	*s = (set){0};
	if (c->data) {
		if (m->n_inputs > 1 + (li >= 0))
			return aert_fail(&c->err, c->data, "model %s has %d inputs; --data gives only the first",
					 m->name, m->n_inputs);
		paths[0] = c->data;
		if (li >= 0 && !c->labels)
			return aert_fail(&c->err, c->data, "model %s is conditional: give its labels with --labels FILE",
					 m->name);
		if (li >= 0)
			paths[li] = c->labels;
		s->labels_path = c->labels;
	} else {
		for (int i = 0; i < m->n_inputs; i++)
			paths[i] = train ? m->train_path[i] : m->test_path[i];
		if (!paths[0])
			return aert_fail(&c->err, m->source, "the model has no %s data: give --data PATH",
					 train ? "training" : "test");
		s->labels_path = c->labels ? c->labels : train ? m->train_labels : m->test_labels;
	}
	if (aert_data_load(m, paths, &s->d, &c->err) != 0)
		return -1;
	aert_dataset lab = {0};
	if (s->labels_path) {
		if (aert_load_any(s->labels_path, &lab, &c->err) != 0)
			goto bad;
		if (lab.n != s->d.n) {
			aert_fail(&c->err, s->labels_path, "%zu labels for the %zu samples of %s", lab.n, s->d.n,
				  s->d.in[0].path);
			goto bad;
		}
		if (classes) {
			unsigned char keep[AERT_MAX_CLASSES];
			if (aert_classes_parse(classes, keep, &c->err) != 0 ||
			    aert_data_filter(&s->d, &lab, keep, &c->err) != 0)
				goto bad;
			/* the labels of the kept samples, in order */
			int *all = malloc(lab.n * sizeof *all);
			if (!all || aert_labels_read(&lab, all, &c->err) != 0) {
				free(all);
				goto bad;
			}
			size_t k = 0;
			s->y = malloc(s->d.n * sizeof *s->y);
			for (size_t i = 0; s->y && i < lab.n; i++)
				if (keep[all[i]])
					s->y[k++] = all[i];
			free(all);
		} else {
			s->y = malloc(lab.n * sizeof *s->y);
			if (s->y && aert_labels_read(&lab, s->y, &c->err) != 0)
				goto bad;
		}
		if (!s->y) {
			aert_fail(&c->err, s->labels_path, "out of memory");
			goto bad;
		}
	} else if (need_labels || classes) {
		aert_fail(&c->err, m->source, "the samples' classes are needed: give --labels FILE, or "
					      "train_labels and test_labels in the .ae file's data section");
		goto bad;
	}
	aert_dataset_free(&lab);
	if (c->limit && (size_t)c->limit < s->d.n)
		s->d.n = (size_t)c->limit;
	s->idx = malloc((size_t)c->batch * sizeof *s->idx);
	for (int i = 0; i < m->n_inputs; i++)
		if (!s->idx || !(s->in[i] = malloc((size_t)c->batch * m->inputs[i].size * c->rs))) {
			aert_fail(&c->err, NULL, "out of memory");
			goto bad;
		}
	return 0;
bad:
	aert_dataset_free(&lab);
	set_free(s);
	return -1;
}

/* Samples [first, first + n) of s into s->in, as the model reads them. */
static int fetch(cmd *c, set *s, size_t first, int n)
{
	for (int i = 0; i < n; i++)
		s->idx[i] = first + (size_t)i;
	return aert_data_batch(c->m, &s->d, s->idx, (size_t)n, s->in, &c->err);
}

static int batch_at(const cmd *c, const set *s, size_t first)
{
	size_t left = s->d.n - first;
	return left < (size_t)c->batch ? (int)left : c->batch;
}

/* Pointers to row r of each batch input. */
static void rows_of(const cmd *c, const set *s, int r, const void **in)
{
	for (int i = 0; i < c->m->n_inputs; i++)
		in[i] = (const char *)s->in[i] + (size_t)r * c->m->inputs[i].size * c->rs;
}

static void *alloc_reals(cmd *c, size_t a, size_t b)
{
	size_t n;
	void *p = NULL;
	if (aert_mul_size(a, b, &n) == 0 && aert_mul_size(n, c->rs, &n) == 0)
		p = calloc(n ? n : 1, 1);
	if (!p)
		aert_fail(&c->err, NULL, "out of memory for %zu x %zu values", a, b);
	return p;
}

/* Run what (FORWARD: the reconstruction, ENCODE: the code, MU_LOGVAR:
 * both halves of a Gaussian code) over every sample of s into out. */
enum { FORWARD, ENCODE, MU_LOGVAR };
static int run_all(cmd *c, set *s, int what, void *out)
{
	const aert_model *m = c->m;
	size_t width = what == FORWARD ? m->output_size : m->latent_size;
	void *lv = NULL;
	if (what == MU_LOGVAR && !(lv = alloc_reals(c, (size_t)c->batch, m->latent_size)))
		return -1;
	for (size_t first = 0; first < s->d.n; first += (size_t)c->batch) {
		int n = batch_at(c, s, first);
		if (fetch(c, s, first, n) != 0) {
			free(lv);
			return -1;
		}
		const void *const *in = (const void *const *)s->in;
		char *dst = (char *)out + first * width * (what == MU_LOGVAR ? 2 : 1) * c->rs;
		if (what == FORWARD)
			m->forward(c->state, c->work, in, n, dst);
		else if (what == ENCODE)
			m->encode(c->state, c->work, in, n, dst);
		else {
			/* [mu, logvar] per row */
			void *mu = dst + (size_t)n * width * c->rs;
			m->encode_gaussian(c->state, c->work, in, n, mu, lv);
			for (int r = 0; r < n; r++) {
				memmove(dst + (size_t)r * 2 * width * c->rs, (char *)mu + (size_t)r * width * c->rs,
					width * c->rs);
				memcpy(dst + ((size_t)r * 2 + 1) * width * c->rs, (char *)lv + (size_t)r * width * c->rs,
				       width * c->rs);
			}
		}
	}
	free(lv);
	return 0;
}

/* Column names "NAME0, NAME1, ..." for a CSV header. */
static const char **names(const char *stem, size_t n, const char *stem2)
{
	const char **v = malloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; v && i < n; i++) {
		char b[32];
		size_t half = stem2 ? n / 2 : n;
		snprintf(b, sizeof b, "%s%zu", i < half ? stem : stem2, i < half ? i : i - half);
		v[i] = strdup(b);
	}
	return v;
}

static int write_out(cmd *c, size_t rows, size_t cols, const void *data, const char *stem, const char *stem2)
{
	if (!c->out)
		return 0;
	const char **h = names(stem, cols, stem2);
	int rc = aert_write_array(c->out, c->real, rows, cols, data, h, &c->err);
	for (size_t i = 0; h && i < cols; i++)
		free((void *)h[i]);
	free(h);
	return rc;
}

/* The picture of the model's first input; its output has the same. */
static int image_of(cmd *c, aert_image *im)
{
	if (aert_image_shape(&c->m->inputs[0], im) != 0 || c->m->output_size != c->m->inputs[0].size)
		return aert_fail(&c->err, c->png, "model %s's input '%s' is not an image (it is neither [C, H, W], "
						  "[H, W] nor a square number of values) or its output differs",
				 c->m->name, c->m->inputs[0].name);
	return 0;
}

/* ---- encode, reconstruct ---- */

static int cmd_encode(cmd *c)
{
	const aert_model *m = c->m;
	if (c->logvar && m->latent_kind != AERT_LATENT_GAUSSIAN)
		return aert_fail(&c->err, m->source, "--logvar: the code of model %s is not a gaussian(mu, logvar) draw",
				 m->name);
	set s;
	if (load_set(c, &s, c->split_train, NULL, 0) != 0)
		return -1;
	size_t w = m->latent_size * (c->logvar ? 2 : 1);
	void *z = alloc_reals(c, s.d.n, w);
	int rc = !z || run_all(c, &s, c->logvar ? MU_LOGVAR : ENCODE, z) != 0 ? -1
		 : write_out(c, s.d.n, w, z, c->logvar || m->latent_kind ? "mu" : "z", c->logvar ? "logvar" : NULL);
	if (rc == 0)
		printf("%s: %zu codes of %zu values%s\n", c->out, s.d.n, m->latent_size,
		       c->logvar ? ", then their log-variances" : m->latent_kind ? " (the means)" : "");
	free(z);
	set_free(&s);
	return rc;
}

/* A grid of row groups: for each of rows groups, one row of each array in
 * arrays (originals, reconstructions, ...) cols samples wide. */
static int grid(cmd *c, void *const *arrays, int narrays, size_t n)
{
	aert_image im;
	if (image_of(c, &im) != 0)
		return -1;
	aert_grid_row rows[3 * 64];
	int nr = 0;
	size_t per = c->m->output_size;
	for (int g = 0; g < c->rows && g < 64 && (size_t)g * (size_t)c->cols < n; g++)
		for (int a = 0; a < narrays; a++) {
			size_t first = (size_t)g * (size_t)c->cols;
			int k = n - first < (size_t)c->cols ? (int)(n - first) : c->cols;
			rows[nr++] = (aert_grid_row){c->real, (char *)arrays[a] + first * per * c->rs, k};
		}
	return aert_write_grid(c->png, &im, rows, nr, c->cols, c->zoom, &c->err);
}

static int cmd_reconstruct(cmd *c)
{
	set s;
	if (load_set(c, &s, c->split_train, NULL, 0) != 0)
		return -1;
	size_t n = s.d.n, w = c->m->output_size;
	void *out = alloc_reals(c, n, w), *orig = alloc_reals(c, n < 512 ? n : 512, w);
	int rc = -1;
	if (!out || !orig || run_all(c, &s, FORWARD, out) != 0)
		goto done;
	/* the originals of the first rows, as the model read them */
	size_t shown = n < 512 ? n : 512;
	for (size_t first = 0; first < shown; first += (size_t)c->batch) {
		int k = shown - first < (size_t)c->batch ? (int)(shown - first) : c->batch;
		if (fetch(c, &s, first, k) != 0)
			goto done;
		memcpy((char *)orig + first * w * c->rs, s.in[0], (size_t)k * w * c->rs);
	}
	void *arrays[2] = {orig, out};
	if ((c->png && grid(c, arrays, 2, shown) != 0) || write_out(c, n, w, out, "x", NULL) != 0)
		goto done;
	double se = 0;
	for (size_t first = 0; first < n; first += (size_t)c->batch) {
		int k = batch_at(c, &s, first);
		if (fetch(c, &s, first, k) != 0)
			goto done;
		for (size_t i = 0; i < (size_t)k * w; i++) {
			double d = rd(c, s.in[0], i) - rd(c, out, first * w + i);
			se += d * d;
		}
	}
	printf("%zu reconstructions  mse %.6g%s%s%s%s\n", n, se / ((double)n * (double)w), c->out ? "  -> " : "",
	       c->out ? c->out : "", c->png ? "  picture " : "", c->png ? c->png : "");
	rc = 0;
done:
	free(out);
	free(orig);
	set_free(&s);
	return rc;
}

/* ---- score ---- */

/* A standard normal for draw `draw` of sample i, element j: the same for
 * any batch size. */
static double normal_at(uint64_t seed, uint64_t i, uint64_t draw, uint64_t j)
{
	aert_rng r;
	aert_rng_seed(&r, seed ^ (i * 0x9e3779b97f4a7c15u) ^ (draw * 0xbf58476d1ce4e5b9u) ^ (j * 0x94d049bb133111ebu));
	double u1 = ((double)(aert_rng_next(&r) >> 11) + 1) / 9007199254740993.0;
	double u2 = (double)(aert_rng_next(&r) >> 11) / 9007199254740992.0;
	return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static double logsumexp(const double *v, int n)
{
	double top = -INFINITY, s = 0;
	for (int i = 0; i < n; i++)
		top = v[i] > top ? v[i] : top;
	for (int i = 0; i < n; i++)
		s += exp(v[i] - top);
	return top + log(s);
}

/* -log p(x | z) of a Bernoulli decoder, as bce(reduction = "sum") with the
 * log clamped at -100 (PyTorch's binary_cross_entropy). */
static double bernoulli_nll(const cmd *c, const void *x, const void *p, size_t w)
{
	double s = 0;
	for (size_t j = 0; j < w; j++) {
		double t = rd(c, x, j), q = rd(c, p, j);
		double lq = q > 0 ? fmax(log(q), -100) : -100, l1q = q < 1 ? fmax(log1p(-q), -100) : -100;
		s -= t * lq + (1 - t) * l1q;
	}
	return s;
}

/* Per-sample losses of rows [lo, hi) of a batch, on a work buffer of
 * their own: the model's entry points share nothing else, so workers run
 * side by side, each with one kernel thread. */
typedef struct loss_job {
	cmd *c;
	set *s;
	void *work;
	int lo, hi;
	double *out;
} loss_job;

static void *loss_rows(void *arg)
{
	loss_job *j = arg;
	const void *in[AERT_MAX_INPUTS];
	if (j->c->m->set_threads)
		j->c->m->set_threads(1);
	for (int r = j->lo; r < j->hi; r++) {
		rows_of(j->c, j->s, r, in);
		j->out[r] = j->c->m->eval_loss(j->c->state, j->work, in, 1);
	}
	return NULL;
}

/* The score of every sample of s: its loss under the model, one sample at
 * a time in evaluation mode; for a VAE with a Bernoulli decoder the
 * negative ELBO over --samples draws, or the importance-weighted bound. */
static int scores(cmd *c, set *s, double *out)
{
	const aert_model *m = c->m;
	int elbo = m->latent_kind == AERT_LATENT_GAUSSIAN && m->likelihood == AERT_LIKELIHOOD_BERNOULLI;
	size_t L = m->latent_size, W = m->output_size;
	void *mu = NULL, *lv = NULL, *z = NULL, *xh = NULL;
	double *lw = NULL;
	int K = c->iwae ? c->iwae : c->samples, rc = -1;
	/* one sample per call: as many workers as cores (or --threads) */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int T = c->threads ? c->threads : cores > 0 ? (int)(cores < 16 ? cores : 16) : 1;
	loss_job jobs[16];
	void *works[16] = {0};
	T = elbo ? 1 : T > 16 ? 16 : T;
	for (int t = 1; t < T; t++)
		if (!(works[t] = malloc(m->work_bytes ? m->work_bytes : 1))) {
			aert_fail(&c->err, NULL, "out of memory for a work buffer");
			goto done;
		}
	works[0] = c->work;
	if (elbo && (!(mu = alloc_reals(c, (size_t)c->batch, L)) || !(lv = alloc_reals(c, (size_t)c->batch, L)) ||
		     !(z = alloc_reals(c, (size_t)c->batch, L)) || !(xh = alloc_reals(c, (size_t)c->batch, W)) ||
		     !(lw = malloc((size_t)K * (size_t)c->batch * sizeof *lw))))
		goto done;
	for (size_t first = 0; first < s->d.n; first += (size_t)c->batch) {
		int n = batch_at(c, s, first);
		if (fetch(c, s, first, n) != 0)
			goto done;
		if (!elbo) {
			pthread_t tid[16];
			int started[16] = {0};
			for (int t = 0; t < T; t++) {
				jobs[t] = (loss_job){c, s, works[t], n * t / T, n * (t + 1) / T, out + first};
				started[t] = t > 0 && pthread_create(&tid[t], NULL, loss_rows, &jobs[t]) == 0;
			}
			for (int t = 0; t < T; t++)
				if (!started[t])
					loss_rows(&jobs[t]); /* the caller's share, or a worker that did not start */
			for (int t = 1; t < T; t++)
				if (started[t])
					pthread_join(tid[t], NULL);
			continue;
		}
		m->encode_gaussian(c->state, c->work, (const void *const *)s->in, n, mu, lv);
		for (int k = 0; k < K; k++) {
			for (int r = 0; r < n; r++)
				for (size_t j = 0; j < L; j++) {
					size_t e = (size_t)r * L + j;
					wr(c, z, e, rd(c, mu, e) + exp(0.5 * rd(c, lv, e)) *
							 normal_at(c->seed, first + (size_t)r, (uint64_t)k, j));
				}
			m->decode(c->state, c->work, z, (const void *const *)s->in, n, xh);
			for (int r = 0; r < n; r++) {
				double nll = bernoulli_nll(c, (char *)s->in[0] + (size_t)r * W * c->rs,
							   (char *)xh + (size_t)r * W * c->rs, W);
				double logp = 0, logq = 0, kl = 0;
				for (size_t j = 0; j < L; j++) {
					size_t e = (size_t)r * L + j;
					double zz = rd(c, z, e), u = rd(c, mu, e), v = rd(c, lv, e), eps = (zz - u);
					logp += -0.5 * (zz * zz + 1.8378770664093453);
					logq += -0.5 * (1.8378770664093453 + v + eps * eps / exp(v));
					kl += 0.5 * (u * u + exp(v) - 1 - v);
				}
				lw[(size_t)r * (size_t)K + (size_t)k] = c->iwae ? -nll + logp - logq : nll + kl;
			}
		}
		for (int r = 0; r < n; r++) {
			double *v = lw + (size_t)r * (size_t)K;
			if (c->iwae)
				out[first + (size_t)r] = -(logsumexp(v, K) - log((double)K));
			else {
				double sum = 0;
				for (int k = 0; k < K; k++)
					sum += v[k];
				out[first + (size_t)r] = sum / K;
			}
		}
	}
	rc = 0;
done:
	for (int t = 1; t < 16; t++)
		free(works[t]);
	if (!elbo && m->set_threads)
		m->set_threads(c->threads ? c->threads : (int)(cores > 0 ? cores : 1));
	free(mu), free(lv), free(z), free(xh), free(lw);
	return rc;
}

static int cmd_score(cmd *c)
{
	const aert_model *m = c->m;
	int elbo = m->latent_kind == AERT_LATENT_GAUSSIAN && m->likelihood == AERT_LIKELIHOOD_BERNOULLI;
	if ((c->iwae || c->samples > 1) && !elbo)
		return aert_fail(&c->err, m->source, "--samples and --iwae need a VAE whose loss is a likelihood: a "
						     "gaussian(mu, logvar) code and bce(%s, %s, reduction = \"sum\")",
				 "OUTPUT", m->inputs[0].name);
	set tr = {0}, te;
	double *str = NULL, *ste = NULL, threshold = c->threshold;
	int rc = -1;
	if (load_set(c, &te, c->split_train, NULL, c->normal != NULL) != 0)
		return -1;
	if (!(ste = malloc(te.d.n * sizeof *ste)) || scores(c, &te, ste) != 0)
		goto done;
	if (!c->has_threshold) {
		/* PyOD: the (1 - contamination) percentile of the training scores */
		const char *data = c->data, *labels = c->labels;
		c->data = c->train_data, c->labels = c->train_labels;
		const char *classes = c->classes ? c->classes : m->classes;
		long long limit = c->limit;
		c->limit = 0;
		int ok = load_set(c, &tr, 1, classes, 0) == 0;
		c->data = data, c->labels = labels, c->limit = limit;
		if (!ok || !(str = malloc(tr.d.n * sizeof *str)) || scores(c, &tr, str) != 0)
			goto done;
		threshold = aert_percentile(str, tr.d.n, 100 * (1 - c->contamination));
	}
	size_t flagged = 0;
	int *flag = malloc(te.d.n * sizeof *flag);
	double *table = malloc(te.d.n * 3 * sizeof *table);
	if (!flag || !table) {
		free(flag), free(table);
		aert_fail(&c->err, NULL, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < te.d.n; i++) {
		flag[i] = ste[i] > threshold;
		flagged += (size_t)flag[i];
		table[i * 3] = (double)i, table[i * 3 + 1] = ste[i], table[i * 3 + 2] = flag[i];
	}
	static const char *const cols[] = {"index", "score", "flag"};
	if (c->out && aert_write_array(c->out, AERT_F64, te.d.n, 3, table, cols, &c->err) != 0) {
		free(flag), free(table);
		goto done;
	}
	const char *what = !elbo ? "the loss" : c->iwae ? "the importance-weighted bound" : "the negative ELBO";
	printf("scores: %s of each of %zu samples", what, te.d.n);
	if (elbo)
		printf(" (%d draw%s)", c->iwae ? c->iwae : c->samples, (c->iwae ? c->iwae : c->samples) > 1 ? "s" : "");
	printf("\nthreshold %.6g (%s)\nflagged %zu of %zu (%.2f%%)\n", threshold,
	       c->has_threshold ? "--threshold" : "the training scores' percentile", flagged, te.d.n,
	       100.0 * (double)flagged / (double)te.d.n);
	if (!c->has_threshold)
		printf("training scores: %zu samples%s%s, contamination %g\n", tr.d.n,
		       (c->classes || m->classes) ? " of classes " : "",
		       c->classes ? c->classes : m->classes ? m->classes : "", c->contamination);
	if (c->normal) {
		unsigned char normal[AERT_MAX_CLASSES];
		if (aert_classes_parse(c->normal, normal, &c->err) != 0) {
			free(flag), free(table);
			goto done;
		}
		int *anomaly = malloc(te.d.n * sizeof *anomaly);
		size_t tp = 0, pos = 0;
		for (size_t i = 0; anomaly && i < te.d.n; i++) {
			anomaly[i] = !normal[te.y[i]];
			pos += (size_t)anomaly[i];
			tp += (size_t)(anomaly[i] && flag[i]);
		}
		if (!anomaly || pos == 0 || pos == te.d.n) {
			free(anomaly), free(flag), free(table);
			aert_fail(&c->err, te.labels_path, pos == 0 ? "every sample is of the normal classes %s"
								     : "no sample is of the normal classes %s",
				  c->normal);
			goto done;
		}
		printf("anomalies (classes not in %s): %zu of %zu\n", c->normal, pos, te.d.n);
		printf("ROC-AUC %.4f  average precision %.4f  precision %.4f  recall %.4f\n",
		       aert_roc_auc(ste, anomaly, te.d.n), aert_average_precision(ste, anomaly, te.d.n),
		       flagged ? (double)tp / (double)flagged : 0.0, (double)tp / (double)pos);
		free(anomaly);
	}
	free(flag), free(table);
	rc = 0;
done:
	free(str), free(ste);
	set_free(&tr);
	set_free(&te);
	return rc;
}

/* ---- denoise ---- */

static int cmd_denoise(cmd *c)
{
	const aert_model *m = c->m;
	const char *spec = c->noise ? c->noise : m->noise;
	if (!spec)
		return aert_fail(&c->err, m->source, "model %s adds no noise to its input: give --noise gaussian:S or "
						     "--noise mask:P",
				 m->name);
	int gauss = !strncmp(spec, "gaussian", 8), mask = !strncmp(spec, "mask", 4);
	const char *colon = strchr(spec, ':');
	char *end = NULL;
	double level = colon ? strtod(colon + 1, &end) : NAN;
	if ((!gauss && !mask) || !colon || *end || !(level >= 0) || (mask && level >= 1) || !isfinite(level))
		return aert_fail(&c->err, NULL, "--noise '%s': expected gaussian:STD (STD >= 0) or mask:P (0 <= P < 1)",
				 spec);
	if (m->output_size != m->inputs[0].size)
		return aert_fail(&c->err, m->source, "model %s's output is not the shape of its input", m->name);
	set s;
	if (load_set(c, &s, c->split_train, NULL, 0) != 0)
		return -1;
	size_t n = s.d.n, w = m->output_size, shown = n < 512 ? n : 512;
	void *noisy = alloc_reals(c, shown, w), *clean = alloc_reals(c, shown, w), *out = alloc_reals(c, n, w);
	void *bn = alloc_reals(c, (size_t)c->batch, w);
	int rc = -1;
	if (!noisy || !clean || !out || !bn)
		goto done;
	/* the clean data's range bounds the corrupted values and is the PSNR's peak */
	double lo = INFINITY, hi = -INFINITY, se_noisy = 0, se_out = 0;
	for (size_t first = 0; first < n; first += (size_t)c->batch) {
		int k = batch_at(c, &s, first);
		if (fetch(c, &s, first, k) != 0)
			goto done;
		for (size_t i = 0; i < (size_t)k * w; i++) {
			double v = rd(c, s.in[0], i);
			lo = v < lo ? v : lo, hi = v > hi ? v : hi;
		}
	}
	for (size_t first = 0; first < n; first += (size_t)c->batch) {
		int k = batch_at(c, &s, first);
		if (fetch(c, &s, first, k) != 0)
			goto done;
		for (size_t i = 0; i < (size_t)k * w; i++) {
			double x = rd(c, s.in[0], i), e = normal_at(c->seed, first * w + i, 7, 0), v;
			if (gauss)
				v = fmin(fmax(x + level * e, lo), hi);
			else
				v = 0.5 * (1 + erf(e / sqrt(2))) < level ? 0 : x; /* uniform from the normal */
			wr(c, bn, i, v);
			se_noisy += (v - x) * (v - x);
		}
		if (first < shown) {
			size_t take = (size_t)k < shown - first ? (size_t)k : shown - first;
			memcpy((char *)noisy + first * w * c->rs, bn, take * w * c->rs);
			memcpy((char *)clean + first * w * c->rs, s.in[0], take * w * c->rs);
		}
		void *keep = s.in[0];
		s.in[0] = bn;
		m->forward(c->state, c->work, (const void *const *)s.in, k, (char *)out + first * w * c->rs);
		s.in[0] = keep;
		for (size_t i = 0; i < (size_t)k * w; i++) {
			double d = rd(c, out, first * w + i) - rd(c, s.in[0], i);
			se_out += d * d;
		}
	}
	double cnt = (double)n * (double)w, peak = hi > lo ? hi - lo : 1;
	double mse_n = se_noisy / cnt, mse_d = se_out / cnt;
	void *arrays[3] = {noisy, out, clean};
	if ((c->png && grid(c, arrays, 3, shown) != 0) || write_out(c, n, w, out, "x", NULL) != 0)
		goto done;
	printf("noise %s on %zu samples\n", spec, n);
	printf("noisy     mse %.6g  psnr %.2f dB\n", mse_n, 10 * log10(peak * peak / mse_n));
	printf("denoised  mse %.6g  psnr %.2f dB\n", mse_d, 10 * log10(peak * peak / mse_d));
	rc = 0;
done:
	free(noisy), free(clean), free(out), free(bn);
	set_free(&s);
	return rc;
}

/* ---- sample, interpolate ---- */

/* Decode n codes z; for a conditional model every row gets class label
 * (rows of labels when labels is not NULL). */
static int decode_codes(cmd *c, const void *z, size_t n, const int *labels, int label, void *out)
{
	const aert_model *m = c->m;
	int li = label_input(m);
	void *y = NULL;
	const void *in[AERT_MAX_INPUTS] = {0};
	if (li >= 0 && (m->decode_inputs >> li & 1)) {
		if (!(y = alloc_reals(c, (size_t)c->batch, (size_t)m->inputs[li].onehot_classes)))
			return -1;
		in[li] = y;
	}
	for (size_t first = 0; first < n; first += (size_t)c->batch) {
		int k = n - first < (size_t)c->batch ? (int)(n - first) : c->batch;
		for (int r = 0; y && r < k; r++)
			for (int j = 0; j < m->inputs[li].onehot_classes; j++)
				wr(c, y, (size_t)r * (size_t)m->inputs[li].onehot_classes + (size_t)j,
				   j == (labels ? labels[first + (size_t)r] : label));
		m->decode(c->state, c->work, (const char *)z + first * m->latent_size * c->rs, in, k,
			  (char *)out + first * m->output_size * c->rs);
	}
	free(y);
	return 0;
}

static int need_decoder(cmd *c)
{
	if (!c->m->decode)
		return aert_fail(&c->err, c->m->source, "model %s cannot decode a given code: its decoder reads more "
						       "of the encoder than the latent",
				 c->m->name);
	return 0;
}

static int cmd_sample(cmd *c)
{
	const aert_model *m = c->m;
	if (m->latent_kind != AERT_LATENT_GAUSSIAN)
		return aert_fail(&c->err, m->source, "model %s has no prior to sample from: its code is not a "
						     "gaussian(mu, logvar) draw trained towards N(0, I) (a VAE's); "
						     "decode real codes with interpolate instead",
				 m->name);
	if (need_decoder(c) != 0)
		return -1;
	int li = label_input(m), classes = li >= 0 ? m->inputs[li].onehot_classes : 0;
	if (li >= 0 && c->label >= classes)
		return aert_fail(&c->err, m->source, "--label %d: model %s has classes 0..%d", c->label, m->name,
				 classes - 1);
	/* a conditional model without --label: one row of cols draws per class */
	int per_class = li >= 0 && c->label < 0;
	size_t n = per_class ? (size_t)classes * (size_t)c->cols : (size_t)c->n, L = m->latent_size;
	void *z = alloc_reals(c, n, L), *out = alloc_reals(c, n, m->output_size);
	int *labels = malloc(n * sizeof *labels), rc = -1;
	if (!z || !out || !labels)
		goto done;
	for (size_t i = 0; i < n; i++) {
		labels[i] = per_class ? (int)(i / (size_t)c->cols) : c->label;
		for (size_t j = 0; j < L; j++)
			wr(c, z, i * L + j, normal_at(c->seed, per_class ? i % (size_t)c->cols : i, 0, j));
	}
	if (decode_codes(c, z, n, labels, 0, out) != 0)
		goto done;
	if (c->png) {
		aert_image im;
		if (image_of(c, &im) != 0)
			goto done;
		int cols = per_class ? c->cols : (int)ceil(sqrt((double)n));
		int nr = (int)((n + (size_t)cols - 1) / (size_t)cols);
		aert_grid_row *rows = malloc((size_t)nr * sizeof *rows);
		if (!rows)
			goto done;
		for (int r = 0; r < nr; r++) {
			size_t first = (size_t)r * (size_t)cols;
			rows[r] = (aert_grid_row){c->real, (char *)out + first * m->output_size * c->rs,
						  n - first < (size_t)cols ? (int)(n - first) : cols};
		}
		int bad = aert_write_grid(c->png, &im, rows, nr, cols, c->zoom, &c->err);
		free(rows);
		if (bad)
			goto done;
	}
	if (write_out(c, n, m->output_size, out, "x", NULL) != 0)
		goto done;
	printf("%zu draws from the prior N(0, I), seed %llu%s\n", n, (unsigned long long)c->seed,
	       per_class ? ", one row per class" : "");
	rc = 0;
done:
	free(z), free(out), free(labels);
	return rc;
}

static int cmd_interpolate(cmd *c)
{
	const aert_model *m = c->m;
	if (need_decoder(c) != 0)
		return -1;
	set s;
	if (load_set(c, &s, c->split_train, NULL, 0) != 0)
		return -1;
	size_t L = m->latent_size, n = s.d.n, steps = (size_t)c->steps;
	int rc = -1;
	void *codes = alloc_reals(c, n, L), *z = NULL, *out = NULL;
	int *labels = NULL;
	if (c->from >= (long long)n || c->to >= (long long)n) {
		aert_fail(&c->err, s.d.in[0].path, "--from %lld and --to %lld must be sample numbers below %zu", c->from,
			  c->to, n);
		goto done;
	}
	if (c->traverse >= (long long)L) {
		aert_fail(&c->err, m->source, "--traverse %lld: the code has units 0..%zu", c->traverse, L - 1);
		goto done;
	}
	if (!codes || run_all(c, &s, ENCODE, codes) != 0 || !(z = alloc_reals(c, steps, L)) ||
	    !(out = alloc_reals(c, steps, m->output_size)) || !(labels = malloc(steps * sizeof *labels)))
		goto done;
	const size_t a = (size_t)c->from, b = (size_t)c->to;
	double sigma = 1, mean = 0;
	if (c->traverse >= 0 && m->latent_kind != AERT_LATENT_GAUSSIAN) {
		/* a plain code has no prior: the unit's own spread over the data */
		double s1 = 0, s2 = 0;
		for (size_t i = 0; i < n; i++) {
			double v = rd(c, codes, i * L + (size_t)c->traverse);
			s1 += v, s2 += v * v;
		}
		mean = s1 / (double)n;
		sigma = sqrt(fmax(s2 / (double)n - mean * mean, 0));
	}
	/* slerp: the angle between the two codes */
	double na = 0, nb = 0, dot = 0;
	for (size_t j = 0; j < L; j++) {
		double u = rd(c, codes, a * L + j), v = rd(c, codes, b * L + j);
		na += u * u, nb += v * v, dot += u * v;
	}
	double omega = acos(fmax(-1, fmin(1, dot / sqrt(na * nb + 1e-300))));
	for (size_t k = 0; k < steps; k++) {
		double t = (double)k / (double)(steps - 1);
		for (size_t j = 0; j < L; j++) {
			double u = rd(c, codes, a * L + j), v = rd(c, codes, b * L + j), x;
			if (c->traverse >= 0)
				x = j == (size_t)c->traverse ? mean + sigma * (6 * t - 3) : u;
			else if (c->slerp && omega > 1e-6)
				x = (sin((1 - t) * omega) * u + sin(t * omega) * v) / sin(omega);
			else
				x = (1 - t) * u + t * v;
			wr(c, z, k * L + j, x);
		}
		labels[k] = s.y ? s.y[a] : 0;
	}
	int li = label_input(m);
	if (li >= 0 && !s.y) {
		aert_fail(&c->err, m->source, "model %s is conditional: its samples' labels are needed", m->name);
		goto done;
	}
	if (decode_codes(c, z, steps, labels, 0, out) != 0)
		goto done;
	if (c->png) {
		aert_image im;
		aert_grid_row row = {c->real, out, (int)steps};
		if (image_of(c, &im) != 0 || aert_write_grid(c->png, &im, &row, 1, (int)steps, c->zoom, &c->err) != 0)
			goto done;
	}
	if (write_out(c, steps, m->output_size, out, "x", NULL) != 0)
		goto done;
	if (c->traverse >= 0)
		printf("unit %lld of sample %zu's code from %.4g to %.4g in %zu steps\n", c->traverse, a,
		       mean - 3 * sigma, mean + 3 * sigma, steps);
	else
		printf("%s from sample %zu to sample %zu in %zu steps\n", c->slerp ? "slerp" : "lerp", a, b, steps);
	rc = 0;
done:
	free(codes), free(z), free(out), free(labels);
	set_free(&s);
	return rc;
}

/* ---- probe, plot-latent ---- */

static float *as_floats(cmd *c, const void *v, size_t n)
{
	float *f = malloc((n ? n : 1) * sizeof *f);
	for (size_t i = 0; f && i < n; i++)
		f[i] = (float)rd(c, v, i);
	if (!f)
		aert_fail(&c->err, NULL, "out of memory");
	return f;
}

/* The inputs of every sample of s as floats (n x size of input 0). */
static float *inputs_of(cmd *c, set *s)
{
	size_t w = c->m->inputs[0].size;
	float *f = malloc(s->d.n * w * sizeof *f);
	if (!f) {
		aert_fail(&c->err, NULL, "out of memory");
		return NULL;
	}
	for (size_t first = 0; first < s->d.n; first += (size_t)c->batch) {
		int k = batch_at(c, s, first);
		if (fetch(c, s, first, k) != 0) {
			free(f);
			return NULL;
		}
		for (size_t i = 0; i < (size_t)k * w; i++)
			f[first * w + i] = (float)rd(c, s->in[0], i);
	}
	return f;
}

static int cmd_probe(cmd *c)
{
	const aert_model *m = c->m;
	set tr = {0}, te = {0};
	void *ztr = NULL, *zte = NULL;
	float *ftr = NULL, *fte = NULL, *xtr = NULL, *xte = NULL;
	int rc = -1;
	if (c->data) {
		aert_fail(&c->err, c->data, "probe fits on the model's training data and tests on its test data; "
					    "--data does not apply");
		return -1;
	}
	if (load_set(c, &tr, 1, NULL, 1) != 0 || load_set(c, &te, 0, NULL, 1) != 0)
		goto done;
	int classes = 0;
	for (size_t i = 0; i < tr.d.n; i++)
		classes = tr.y[i] + 1 > classes ? tr.y[i] + 1 : classes;
	size_t L = m->latent_size, D = m->inputs[0].size;
	if (!(ztr = alloc_reals(c, tr.d.n, L)) || !(zte = alloc_reals(c, te.d.n, L)) ||
	    run_all(c, &tr, ENCODE, ztr) != 0 || run_all(c, &te, ENCODE, zte) != 0 ||
	    !(ftr = as_floats(c, ztr, tr.d.n * L)) || !(fte = as_floats(c, zte, te.d.n * L)) ||
	    !(xtr = inputs_of(c, &tr)) || !(xte = inputs_of(c, &te)))
		goto done;
	for (size_t i = 0; i < te.d.n; i++)
		if (te.y[i] >= classes) {
			aert_fail(&c->err, te.labels_path, "test sample %zu is of class %d, which the training data lacks",
				  i, te.y[i]);
			goto done;
		}
	double acc_z = aert_probe(ftr, tr.y, tr.d.n, fte, te.y, te.d.n, L, classes, c->epochs, 1);
	double acc_x = aert_probe(xtr, tr.y, tr.d.n, xte, te.y, te.d.n, D, classes, c->epochs, 1);
	printf("linear probe (softmax regression, %d epochs) on %zu training samples, %d classes\n", c->epochs,
	       tr.d.n, classes);
	printf("test accuracy on the codes  (%5zu values): %.4f\n", L, acc_z);
	printf("test accuracy on the inputs (%5zu values): %.4f\n", D, acc_x);
	if (c->out) {
		double row[2] = {acc_z, acc_x};
		static const char *const cols[] = {"codes", "inputs"};
		if (aert_write_array(c->out, AERT_F64, 1, 2, row, cols, &c->err) != 0)
			goto done;
	}
	rc = 0;
done:
	free(ztr), free(zte), free(ftr), free(fte), free(xtr), free(xte);
	set_free(&tr);
	set_free(&te);
	return rc;
}

/* Run the plotting script: python plot ARGS...; 0 when it succeeded. */
static int run_plot(cmd *c, char **args)
{
	pid_t pid;
	int e = posix_spawnp(&pid, args[0], NULL, NULL, args, environ), status = 0;
	if (e != 0)
		return aert_fail(&c->err, args[0], "cannot run it (%s); plots need Python 3 with matplotlib "
						   "(python3-matplotlib)",
				 strerror(e));
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return aert_fail(&c->err, args[1], "the plotting script failed (its message is above)");
	return 0;
}

static int cmd_plot_latent(cmd *c)
{
	const aert_model *m = c->m;
	set s;
	if (!c->limit)
		c->limit = 5000;
	if (load_set(c, &s, c->split_train, NULL, 0) != 0)
		return -1;
	size_t n = s.d.n, L = m->latent_size;
	void *z = alloc_reals(c, n, L);
	double *zd = malloc(n * L * sizeof *zd), *xy = malloc(n * 3 * sizeof *xy);
	char tmp[] = "/tmp/aecc-latent-XXXXXX.npy";
	int rc = -1, fd = -1;
	if (!z || !zd || !xy || run_all(c, &s, ENCODE, z) != 0)
		goto done;
	for (size_t i = 0; i < n * L; i++)
		zd[i] = rd(c, z, i);
	if (L == 2) {
		for (size_t i = 0; i < n; i++)
			xy[i * 3] = zd[i * 2], xy[i * 3 + 1] = zd[i * 2 + 1];
	} else {
		double *p = malloc(n * 2 * sizeof *p);
		if (!p || (L == 1 ? 0 : aert_pca2(zd, n, L, p)) != 0) {
			free(p);
			aert_fail(&c->err, NULL, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			xy[i * 3] = L == 1 ? zd[i] : p[i * 2], xy[i * 3 + 1] = L == 1 ? 0 : p[i * 2 + 1];
		free(p);
	}
	for (size_t i = 0; i < n; i++)
		xy[i * 3 + 2] = s.y ? s.y[i] : -1;
	if ((fd = mkstemps(tmp, 4)) < 0) {
		aert_fail(&c->err, tmp, "cannot create: %s", strerror(errno));
		goto done;
	}
	close(fd);
	static const char *const cols[] = {"x", "y", "label"};
	if (aert_write_array(tmp, AERT_F64, n, 3, xy, cols, &c->err) != 0)
		goto done;
	char title[256];
	snprintf(title, sizeof title, "%s: %zu codes of %zu values%s", m->name, n, L,
		 L > 2 ? ", first two principal components" : "");
	char *args[] = {(char *)c->python, (char *)c->plot, "latent", tmp, (char *)c->out, title,
			L > 2 ? "PC 1" : "z 0", L > 2 ? "PC 2" : "z 1", NULL};
	if (run_plot(c, args) != 0)
		goto done;
	printf("%s: %zu codes%s\n", c->out, n, s.y ? ", coloured by class" : "");
	rc = 0;
done:
	if (fd >= 0)
		unlink(tmp);
	free(z), free(zd), free(xy);
	set_free(&s);
	return rc;
}

/* ---- plot-loss: no model, the logs of training runs ---- */

int aert_plot_main(const char *prog, const char *python, const char *plot, int argc, char **argv)
{
	static const struct command self = {"plot-loss", 0, "draw the loss curves of training runs", "the PNG chart"};
	cmd c = {.prog = prog, .c = &self};
	const char *out = NULL;
	char **args = calloc((size_t)argc + 4, sizeof *args);
	int n = 0;
	if (!args)
		return 1;
	args[n++] = (char *)python;
	args[n++] = (char *)plot;
	args[n++] = "loss";
	args[n++] = NULL; /* the output, below */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: %s plot-loss LOG.csv [LOG.csv ...] -o FILE.png\n\n"
			       "Draw the loss curves in the --log files of training runs, one panel per\n"
			       "loss (train, test, validation and each loss term), one line per run.\n",
			       prog);
			free(args);
			return 0;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if (argv[i][0] == '-') {
			free(args);
			return usage(&c, "unknown option '%s'", argv[i]);
		} else {
			args[n++] = argv[i];
		}
	}
	if (!out || n == 4) {
		free(args);
		return usage(&c, "%s", !out ? "give the chart's file: -o FILE.png" : "give at least one LOG.csv");
	}
	args[3] = (char *)out;
	int rc = run_plot(&c, args) == 0 ? 0 : fail(&c);
	if (rc == 0)
		printf("%s: %d run%s\n", out, n - 4, n == 5 ? "" : "s");
	free(args);
	return rc;
}

/* ---- the entry ---- */

int aert_is_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(name, commands[i].name))
			return 1;
	return 0;
}

int aert_command_main(const aert_model *m, const char *prog, const char *python, const char *plot, int argc,
		      char **argv)
{
	cmd c = {.m = m, .prog = prog, .python = python, .plot = plot, .rows = 1, .cols = 8, .zoom = 3,
		 .samples = 1, .n = 64, .label = -1, .steps = 10, .epochs = 10, .from = 0, .to = 1,
		 .traverse = -1, .contamination = 0.05, .seed = 1};
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (argc > 0 && !strcmp(argv[0], commands[i].name))
			c.c = &commands[i];
	if (!c.c) {
		fprintf(stderr, "%s: error: unknown command '%s'\n", prog, argc > 0 ? argv[0] : "");
		return 2;
	}
	int rc = parse(&c, argc, argv);
	if (rc >= 0)
		return rc;
	if (c.c->bit == C_PLOT_LATENT && !c.out)
		return usage(&c, "%s", "plot-latent writes a PNG: give -o FILE.png");
	if (c.iwae && c.samples > 1)
		return usage(&c, "%s", "give --samples or --iwae, not both");
	static int (*const run[])(cmd *) = {cmd_encode, cmd_reconstruct, cmd_score, cmd_denoise,
					    cmd_sample, cmd_interpolate, cmd_probe, cmd_plot_latent};
	if (open_model(&c) != 0) {
		rc = fail(&c);
	} else {
		size_t k = 0;
		while (!(c.c->bit >> k & 1))
			k++;
		rc = run[k](&c) == 0 ? 0 : fail(&c);
	}
	free(c.state);
	free(c.work);
	return rc;
}
