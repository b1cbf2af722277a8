/* config.c - read the train and data sections into Model settings.
 * Requires: a parsed Program. Provides: Model.train (with its training
 * controls: schedule, early stopping, the validation split, the products'
 * precision),
 * Model.train_data, Model.test_data, Model.validation_data, with defaults
 * filled in (the runtime's, from aecc_rt.h) and every value
 * range-checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aecc_rt.h"
#include "model.h"
#include "ops/ops.h"
#include "pipeline.h"

static int want_number(const Expr *e, const char *what, double *out)
{
	if (e->kind == EX_NUM) {
		*out = e->num;
		return 1;
	}
	if (e->kind == EX_NEG && e->lhs->kind == EX_NUM) {
		*out = -e->lhs->num;
		return 1;
	}
	diag_error(e->loc, "%s must be a number", what);
	return 0;
}

static int want_int(const Expr *e, const char *what, long lo, long hi, long *out)
{
	double v;
	if (!want_number(e, what, &v))
		return 0;
	if (e->kind != EX_NUM || !e->is_int || v < (double)lo || v > (double)hi) {
		diag_error(e->loc, "%s must be an integer from %ld to %ld", what, lo, hi);
		return 0;
	}
	*out = (long)v;
	return 1;
}

static int want_range(const Expr *e, const char *what, double lo, double hi, int lo_open,
		      int hi_open, double *out)
{
	double v;
	if (!want_number(e, what, &v))
		return 0;
	if (!isfinite(v) || (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
		diag_error(e->loc, "%s must be in %c%g, %g%c, got %g", what, lo_open ? '(' : '[',
			   lo, hi, hi_open ? ')' : ']', v);
		return 0;
	}
	*out = v;
	return 1;
}

static void read_adam(Model *m, const Expr *call)
{
	TrainConfig *t = &m->train;
	for (const Arg *a = call->args; a; a = a->next) {
		if (!a->key) {
			diag_error(a->loc, "adam takes keyword arguments only (lr, betas, eps, weight_decay)");
			continue;
		}
		if (!strcmp(a->key, "lr"))
			want_range(a->val, "lr", 0, INFINITY, 1, 1, &t->lr);
		else if (!strcmp(a->key, "eps"))
			want_range(a->val, "eps", 0, INFINITY, 0, 1, &t->eps);
		else if (!strcmp(a->key, "weight_decay"))
			want_range(a->val, "weight_decay", 0, INFINITY, 0, 1, &t->weight_decay);
		else if (!strcmp(a->key, "betas")) {
			const Expr *v = a->val;
			if (v->kind != EX_TUPLE || v->nargs != 2) {
				diag_error(v->loc, "betas must be a pair such as (0.9, 0.999)");
				continue;
			}
			want_range(v->args->val, "beta1", 0, 1, 0, 1, &t->beta1);
			want_range(v->args->next->val, "beta2", 0, 1, 0, 1, &t->beta2);
		} else
			diag_error(a->loc, "unknown adam argument '%s' (expected lr, betas, eps or weight_decay)",
				   a->key);
	}
}

/* One keyword argument of a training control: a number in a range, into
 * `real`, or an integer from lo to hi, into `whole`. */
typedef struct Keyword {
	const char *name;
	double lo, hi;         /* the range */
	int lo_open, hi_open;  /* 1: the bound itself is out */
	double *real;          /* a number, or */
	long *whole;           /* an integer */
} Keyword;

/* The keyword arguments of `call` (what: its name in messages) into the
 * settings kw[0..n). */
static void read_keywords(const Expr *call, const char *what, const Keyword *kw, int n)
{
	Buf names = {0};
	for (int k = 0; k < n; k++)
		buf_printf(&names, "%s%s", k == 0 ? "" : k + 1 == n ? " or " : ", ", kw[k].name);
	const Arg *seen[8] = {0};
	for (const Arg *a = call->args; a; a = a->next) {
		int k = 0;
		if (!a->key) {
			diag_error(a->loc, "%s takes keyword arguments only (%s)", what, names.data);
			continue;
		}
		while (k < n && strcmp(kw[k].name, a->key))
			k++;
		if (k == n) {
			diag_error(a->loc, "%s has no argument '%s' (expected %s)", what, a->key, names.data);
			continue;
		}
		if (seen[k]) {
			diag_error(a->loc, "argument '%s' of %s given twice", a->key, what);
			continue;
		}
		seen[k] = a;
		if (kw[k].whole)
			want_int(a->val, a->key, (long)kw[k].lo, (long)kw[k].hi, kw[k].whole);
		else
			want_range(a->val, a->key, kw[k].lo, kw[k].hi, kw[k].lo_open, kw[k].hi_open, kw[k].real);
	}
}

/* schedule = step(every = N, factor = F) | cosine(min_lr = X) |
 *            plateau(factor = F, patience = N, threshold = T, min_lr = X);
 * a schedule without arguments may be written `schedule cosine`. */
static void read_schedule(Model *m, const Stmt *s)
{
	Schedule *sc = &m->train.schedule;
	const Expr *e = s->value;
	if (sc->kind != SCHED_NONE) {
		diag_error(s->key_loc, "the schedule is set twice");
		diag_note(sc->loc, "first set here");
		return;
	}
	const char *name = e->kind == EX_NAME || e->kind == EX_CALL ? e->str : "";
	Schedule got = {.loc = e->loc};
	if (!strcmp(name, "step")) {
		got = (Schedule){SCHED_STEP, 0, AERT_STEP_FACTOR, 0, 0, 0, e->loc};
		const Keyword kw[] = {{"every", 1, 1000000, 0, 0, NULL, &got.every},
				      {"factor", 0, 1, 1, 1, &got.factor, NULL}};
		if (e->kind == EX_CALL)
			read_keywords(e, "step", kw, 2);
		if (!got.every)
			diag_error(e->loc, "step needs every = N, the epochs between reductions (e.g. step(every = 10, factor = 0.5))");
	} else if (!strcmp(name, "cosine")) {
		got = (Schedule){SCHED_COSINE, 0, 0, 0, 0, 0, e->loc};
		const Keyword kw[] = {{"min_lr", 0, INFINITY, 0, 1, &got.min_lr, NULL}};
		if (e->kind == EX_CALL)
			read_keywords(e, "cosine", kw, 1);
	} else if (!strcmp(name, "plateau")) {
		got = (Schedule){SCHED_PLATEAU, 0, AERT_PLATEAU_FACTOR, AERT_PLATEAU_PATIENCE, AERT_PLATEAU_THRESHOLD, 0, e->loc};
		const Keyword kw[] = {{"factor", 0, 1, 1, 1, &got.factor, NULL},
				      {"patience", 0, 1000000, 0, 0, NULL, &got.patience},
				      {"threshold", 0, 1, 0, 1, &got.threshold, NULL},
				      {"min_lr", 0, INFINITY, 0, 1, &got.min_lr, NULL}};
		if (e->kind == EX_CALL)
			read_keywords(e, "plateau", kw, 4);
	} else {
		diag_error(e->loc, "unknown schedule%s%s%s (expected step(every = N, factor = F), cosine or "
				   "plateau(factor = F, patience = N))",
			   *name ? " '" : "", name, *name ? "'" : "");
		return;
	}
	*sc = got;
}

/* early_stop(patience = N, min_delta = X) */
static void read_early_stop(Model *m, const Expr *call)
{
	TrainConfig *t = &m->train;
	if (t->early_stop) {
		diag_error(call->loc, "early_stop is given twice");
		diag_note(t->early_stop_loc, "first given here");
		return;
	}
	t->early_stop = 1;
	t->early_stop_loc = call->loc;
	t->patience = AERT_EARLY_STOP_PATIENCE;
	t->min_delta = 0;
	const Keyword kw[] = {{"patience", 1, 1000000, 0, 0, NULL, &t->patience},
			      {"min_delta", 0, INFINITY, 0, 1, &t->min_delta, NULL}};
	read_keywords(call, "early_stop", kw, 2);
}

static void read_train(Model *m, const Block *b)
{
	for (const Stmt *s = b->stmts; s; s = s->next) {
		long v;
		if (!s->key) {
			const Expr *c = s->value;
			const char *name = c->kind == EX_CALL ? c->str : "?";
			if (!strcmp(name, "adam"))
				read_adam(m, c);
			else if (!strcmp(name, "early_stop"))
				read_early_stop(m, c);
			else if (!strcmp(name, "step") || !strcmp(name, "cosine") || !strcmp(name, "plateau"))
				diag_error(s->key_loc, "a schedule is written `schedule = %s(...)`", name);
			else
				diag_error(s->key_loc, "unknown optimizer '%s' (aecc trains with adam)", name);
		} else if (!strcmp(s->key, "schedule")) {
			read_schedule(m, s);
		} else if (!strcmp(s->key, "validate")) {
			if (m->train.validate > 0) {
				diag_error(s->key_loc, "validate is given twice");
				diag_note(m->train.validate_loc, "first given here");
			} else if (want_range(s->value, "validate", 0, 1, 1, 1, &m->train.validate)) {
				m->train.validate_loc = s->key_loc;
			}
		} else if (!strcmp(s->key, "early_stop")) {
			diag_error(s->key_loc, "write early stopping as a call, e.g. early_stop(patience = 3)");
		} else if (!strcmp(s->key, "batch")) {
			if (want_int(s->value, "batch", 1, 65536, &v))
				m->train.batch = (int)v;
		} else if (!strcmp(s->key, "epochs")) {
			if (want_int(s->value, "epochs", 1, 1000000, &v))
				m->train.epochs = (int)v;
		} else if (!strcmp(s->key, "seed")) {
			if (want_int(s->value, "seed", 0, 2147483647L, &v))
				m->train.seed = (unsigned long long)v;
		} else if (!strcmp(s->key, "precision")) {
			const Expr *v = s->value;
			if (v->kind != EX_NAME || (strcmp(v->str, "bf16") != 0 && strcmp(v->str, "fp32") != 0))
				diag_error(v->loc, "precision must be bf16 or fp32");
			else {
				m->train.bf16 = !strcmp(v->str, "bf16");
				m->train.precision_loc = s->key_loc;
			}
		} else if (!strcmp(s->key, "optimizer")) {
			diag_error(s->key_loc, "write the optimizer as a call, e.g. adam(lr = 1e-3)");
		} else
			diag_error(s->key_loc, "unknown train setting '%s' (expected adam(...), batch, epochs, seed, "
					       "schedule, early_stop(...), validate or precision)",
				   s->key);
	}
}

/* `a/b/c.ae` + "x.idx" -> "a/b/x.idx"; absolute paths stay as they are. */
static const char *resolve(const char *ae, const char *path)
{
	if (path[0] == '/')
		return path;
	const char *slash = strrchr(ae, '/');
	const char *dir = slash ? xstrndup(ae, (size_t)(slash - ae + 1)) : ".";
	char *abs = realpath(dir, NULL);
	const char *full = xasprintf("%s/%s", abs ? abs : dir, path);
	free(abs);
	return full;
}

/* A data source: fmt("path") with an optional `/ k` or `* k` scale, or
 * labels("path"): an IDX file of class labels fed to the flat input `in`
 * as one-hot rows as wide as the input. */
static int read_source(Model *m, const Expr *e, const GInput *in, DataSource *ds)
{
	const Expr *whole = e;
	double scale = 1;
	while (e->kind == EX_BINOP && (e->op == '/' || e->op == '*')) {
		double k;
		if (!want_number(e->rhs, "a data scale", &k))
			return 0;
		if (k == 0 || !isfinite(k)) {
			diag_error(e->rhs->loc, "data scale must be a finite non-zero number");
			return 0;
		}
		scale *= e->op == '/' ? 1 / k : k;
		e = e->lhs;
	}
	static const char *formats[] = {"idx", "csv", "npy", "labels"};
	int f = -1;
	if (e->kind == EX_CALL)
		for (int i = 0; i < 4; i++)
			if (!strcmp(e->str, formats[i]))
				f = i;
	if (f < 0 || e->nargs < 1 || e->args->key || e->args->val->kind != EX_STR) {
		diag_error(e->loc, "a data source is idx(\"FILE\"), csv(\"FILE\"), npy(\"FILE\") or labels(\"FILE\"), "
				   "optionally scaled as in idx(\"FILE\") / 255");
		return 0;
	}
	if (f == 3 && whole != e) {
		diag_error(whole->loc, "labels(\"FILE\") are class numbers and cannot be scaled");
		return 0;
	}
	if (f == 3 && in->shape.rank != 1) {
		diag_error(e->loc, "labels(\"FILE\") feeds one-hot rows [n, classes], but input '%s' is %s",
			   in->name, shape_str(in->shape));
		return 0;
	}
	ds->onehot = f == 3 ? in->shape.dims[0] : 0;
	ds->format = f == 3 ? "idx" : formats[f];
	ds->path = resolve(m->file, e->args->val->str);
	ds->scale = scale;
	ds->loc = e->loc;
	return 1;
}

/* An input fed labels(...) for training, validation or testing is a label
 * input: all its sources must be labels, and all carry the one-hot width
 * (the emitters read it from train_data). */
static void check_label_inputs(Model *m)
{
	for (int i = 0; i < m->g->inputs.len; i++) {
		DataSource *src[3] = {&m->train_data[i], &m->test_data[i], &m->validation_data[i]};
		static const char *const what[3] = {"training", "test", "validation"};
		int width = 0;
		for (int k = 0; k < 3; k++)
			width = src[k]->onehot > width ? src[k]->onehot : width;
		for (int k = 1; k < 3; k++)
			if (src[0]->path && src[k]->path && (src[0]->onehot > 0) != (src[k]->onehot > 0))
				diag_error(src[0]->onehot ? src[k]->loc : src[0]->loc,
					   "input '%s' needs labels(\"FILE\") for both its training and its %s data, or for neither",
					   ((GInput *)m->g->inputs.data[i])->name, what[k]);
		for (int k = 0; k < 3; k++)
			src[k]->onehot = width;
	}
}

static GInput *input_named(Graph *g, const char *name)
{
	for (int i = 0; i < g->inputs.len; i++)
		if (!strcmp(((GInput *)g->inputs.data[i])->name, name))
			return g->inputs.data[i];
	return NULL;
}

/* train_labels = labels("FILE"), test_labels = labels("FILE"): the class
 * of each sample, read by the class filter and the model commands but not
 * fed to the model (unless an input is named `labels`: then these are its
 * data). classes = K or (K, ...): train on samples of these classes only. */
static int read_labels_item(Model *m, const Stmt *s)
{
	int train = !strcmp(s->key, "train_labels"), test = !strcmp(s->key, "test_labels");
	if ((train || test) && !input_named(m->g, "labels")) {
		const Expr *e = s->value;
		if (e->kind != EX_CALL || strcmp(e->str, "labels") || e->nargs != 1 || e->args->key ||
		    e->args->val->kind != EX_STR) {
			diag_error(e->loc, "%s is a labels(\"FILE\") source: an IDX file of class numbers", s->key);
			return 1;
		}
		DataSource *d = train ? &m->train_labels : &m->test_labels;
		*d = (DataSource){.format = "idx", .path = resolve(m->file, e->args->val->str), .scale = 1, .loc = e->loc};
		return 1;
	}
	if (strcmp(s->key, "classes") != 0)
		return 0;
	const Expr *e = s->value;
	const Arg *one = &(Arg){.val = (Expr *)e};
	const Arg *list = e->kind == EX_TUPLE ? e->args : one;
	Buf b = {0};
	buf_puts(&b, "");
	for (const Arg *a = list; a; a = a->next) {
		if (a->val->kind != EX_NUM || !a->val->is_int || a->val->num < 0 || a->val->num > 255) {
			diag_error(a->val->loc, "classes are class numbers 0..255, as in classes = (0, 1, 2) or classes = 3");
			return 1;
		}
		buf_printf(&b, "%s%d", b.len ? "," : "", (int)a->val->num);
	}
	m->classes = b.data;
	m->classes_loc = e->loc;
	return 1;
}

/* The labels of a label input's samples are its own files; the class
 * filter needs the training labels. */
static void check_labels(Model *m)
{
	for (int i = 0; i < m->g->inputs.len; i++) {
		if (m->train_data[i].onehot && !m->train_labels.path)
			m->train_labels = (DataSource){"idx", m->train_data[i].path, 1, 0, m->train_data[i].loc};
		if (m->test_data[i].onehot && !m->test_labels.path && m->test_data[i].path)
			m->test_labels = (DataSource){"idx", m->test_data[i].path, 1, 0, m->test_data[i].loc};
	}
	if (m->classes && !m->train_labels.path)
		diag_error(m->classes_loc, "a class filter needs the training samples' labels: add train_labels = labels(\"FILE\")");
}

static void read_data(Model *m, const Block *b)
{
	Graph *g = m->g;
	for (const Stmt *s = b->stmts; s; s = s->next) {
		if (!s->key || !s->has_eq) {
			diag_error(s->key_loc, "data items are written `train = idx(\"FILE\") / 255`");
			continue;
		}
		if (read_labels_item(m, s))
			continue;
		/* train, test, validation: the first input; train_NAME, test_NAME,
		 * validation_NAME: input NAME. */
		static const char *const kinds[3] = {"train", "test", "validation"};
		DataSource *sources[3] = {m->train_data, m->test_data, m->validation_data};
		int kind = 0;
		while (kind < 3 && strncmp(s->key, kinds[kind], strlen(kinds[kind])))
			kind++;
		const char *rest = kind < 3 ? s->key + strlen(kinds[kind]) : "";
		int idx = -1;
		if (kind < 3 && *rest == 0 && g->inputs.len == 0)
			continue; /* lowering has reported the missing input */
		if (kind < 3 && *rest == 0)
			idx = 0;
		else if (kind < 3 && *rest == '_')
			for (int i = 0; i < g->inputs.len; i++)
				if (!strcmp(((GInput *)g->inputs.data[i])->name, rest + 1))
					idx = i;
		if (idx < 0) {
			diag_error(s->key_loc, "unknown data item '%s' (expected train, test, validation, "
					       "train_INPUT / test_INPUT / validation_INPUT for a declared input, "
					       "train_labels, test_labels or classes)",
				   s->key);
			continue;
		}
		read_source(m, s->value, g->inputs.data[idx], &sources[kind][idx]);
	}
	check_label_inputs(m);
	check_labels(m);
}

/* What watches the validation loss needs validation data, given one way. */
static void check_validation(Model *m)
{
	const TrainConfig *t = &m->train;
	const DataSource *given = NULL;
	for (int i = 0; i < m->g->inputs.len && !given; i++)
		if (m->validation_data[i].path)
			given = &m->validation_data[i];
	if (t->validate > 0 && given) {
		diag_error(t->validate_loc, "validate holds out part of the training data, but data { } gives "
					    "validation data too; keep one of them");
		diag_note(given->loc, "the validation data is given here");
	}
	const char *missing = "watches the validation loss, but the model has no validation data (add "
			      "`validate 0.1` to train { } or `validation = ...` to data { })";
	if (t->validate == 0 && !given && t->schedule.kind == SCHED_PLATEAU)
		diag_error(t->schedule.loc, "plateau %s", missing);
	if (t->validate == 0 && !given && t->early_stop)
		diag_error(t->early_stop_loc, "early_stop %s", missing);
}

/* bf16 products are the model's own: a penalty whose value is made of
 * products (the contractive one, the encoder's Jacobian) is part of the
 * loss, which stays fp32, and the C code has one product for all. */
static void check_precision(const Model *m)
{
	if (!m->train.bf16 || m->f64 || m->infer_parts) /* these builds multiply unrounded */
		return;
	for (int i = 0; i < m->g->nodes.len; i++) {
		const Node *n = m->g->nodes.data[i];
		if (n->op != &op_contractive)
			continue;
		if (m->train.precision_loc.line && m->precision != PRECISION_BF16) {
			diag_error(m->train.precision_loc, "precision bf16 does not apply to a model with a contractive "
							   "penalty (its products are part of the loss, which stays fp32)");
			diag_note(n->loc, "the contractive penalty");
		} else {
			diag_plain("%s: --precision bf16 does not apply to a model with a contractive penalty (its "
				   "products are part of the loss, which stays fp32)", m->file);
		}
		return;
	}
}

void config_read(Model *m)
{
	m->train = (TrainConfig){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
				 .weight_decay = 0, .batch = 64, .epochs = 10, .seed = 0};
	for (const Block *b = m->ast->blocks; b; b = b->next) {
		if (b->kind == BLK_TRAIN)
			read_train(m, b);
		else if (b->kind == BLK_DATA)
			read_data(m, b);
	}
	check_validation(m);
	if (m->precision)
		m->train.bf16 = m->precision == PRECISION_BF16;
	check_precision(m);
}
