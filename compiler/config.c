/* config.c - read the train and data sections into Model settings.
 * Requires: a parsed Program. Provides: Model.train, Model.train_data,
 * Model.test_data, with defaults filled in and every value range-checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
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

static void read_train(Model *m, const Block *b)
{
	for (const Stmt *s = b->stmts; s; s = s->next) {
		long v;
		if (!s->key) {
			const Expr *c = s->value;
			if (c->kind == EX_CALL && !strcmp(c->str, "adam"))
				read_adam(m, c);
			else
				diag_error(s->key_loc, "unknown optimizer '%s' (aecc trains with adam)",
					   c->kind == EX_CALL ? c->str : "?");
		} else if (!strcmp(s->key, "batch")) {
			if (want_int(s->value, "batch", 1, 65536, &v))
				m->train.batch = (int)v;
		} else if (!strcmp(s->key, "epochs")) {
			if (want_int(s->value, "epochs", 1, 1000000, &v))
				m->train.epochs = (int)v;
		} else if (!strcmp(s->key, "seed")) {
			if (want_int(s->value, "seed", 0, 2147483647L, &v))
				m->train.seed = (unsigned long long)v;
		} else if (!strcmp(s->key, "optimizer")) {
			diag_error(s->key_loc, "write the optimizer as a call, e.g. adam(lr = 1e-3)");
		} else
			diag_error(s->key_loc, "unknown train setting '%s' (expected adam(...), batch, epochs or seed)",
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

/* An input fed labels(...) for training or testing is a label input:
 * both its sources must be labels, and both carry the one-hot width (the
 * emitters read it from train_data). */
static void check_label_inputs(Model *m)
{
	for (int i = 0; i < m->g->inputs.len; i++) {
		DataSource *tr = &m->train_data[i], *te = &m->test_data[i];
		if (tr->path && te->path && (tr->onehot > 0) != (te->onehot > 0))
			diag_error(tr->onehot ? te->loc : tr->loc,
				   "input '%s' needs labels(\"FILE\") for both its training and its test data, or for neither",
				   ((GInput *)m->g->inputs.data[i])->name);
		tr->onehot = te->onehot = tr->onehot > te->onehot ? tr->onehot : te->onehot;
	}
}

static void read_data(Model *m, const Block *b)
{
	Graph *g = m->g;
	for (const Stmt *s = b->stmts; s; s = s->next) {
		if (!s->key || !s->has_eq) {
			diag_error(s->key_loc, "data items are written `train = idx(\"FILE\") / 255`");
			continue;
		}
		/* train, test: the first input; train_NAME, test_NAME: input NAME. */
		int is_train = !strncmp(s->key, "train", 5), is_test = !strncmp(s->key, "test", 4);
		const char *rest = s->key + (is_train ? 5 : is_test ? 4 : 0);
		int idx = -1;
		if ((is_train || is_test) && *rest == 0 && g->inputs.len == 0)
			continue; /* lowering has reported the missing input */
		if ((is_train || is_test) && *rest == 0)
			idx = 0;
		else if ((is_train || is_test) && *rest == '_')
			for (int i = 0; i < g->inputs.len; i++)
				if (!strcmp(((GInput *)g->inputs.data[i])->name, rest + 1))
					idx = i;
		if (idx < 0) {
			diag_error(s->key_loc, "unknown data item '%s' (expected train, test, or train_INPUT / test_INPUT for a declared input)",
				   s->key);
			continue;
		}
		read_source(m, s->value, g->inputs.data[idx], is_train ? &m->train_data[idx] : &m->test_data[idx]);
	}
	check_label_inputs(m);
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
}
