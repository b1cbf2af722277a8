/* norm.c - batch normalization, as torch.nn.BatchNorm1d/2d/3d with
 * affine weights and tracked running statistics, and the buffer leaf that
 * reads persistent non-trainable state.
 *
 * A value [n, C, d1, ...] is normalized per channel c over the batch and
 * the positions d1, ... (S of them; S = 1 for flat [n, C] values):
 *   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c.
 * batchnorm(x) lowers to two nodes:
 *   s = bn_stats(x, running_mean, running_var)   [4, C]
 *   y = batchnorm(x, s, weight, bias)            shape of x
 * In the train step and the gradient, s holds the batch mean, 1/sqrt(var +
 * eps) of the biased batch variance, and the running statistics updated with
 * the unbiased variance; in the evaluation functions, the running
 * statistics (so s's last two rows are then the buffers unchanged). The
 * train step stores those last two rows into the buffers (Buffer.next), so
 * the gradient function, whose state is const, leaves them as they are. */
#include <string.h>

#include "attrs.h"

/* ---- buffer: a leaf reading a Buffer of the state ---- */

static int keep_shape(Node *n)
{
	(void)n;
	return 1;
}

static double no_flops(const Node *n)
{
	(void)n;
	return 0;
}

const OpDef op_buffer = {
	.name = "buffer", .shape = keep_shape, .flops = no_flops,
	.doc = "persistent non-trainable state (running statistics), read-only to ops"};

/* ---- shapes: the channels of a value (its first dim) ---- */

static int channels(const Node *x) { return x->shape.dims[0]; }

/* ---- batchnorm(x, momentum = 0.1, eps = 1e-5) ---- */

static const ArgSpec batchnorm_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"momentum", ARG_REAL, 1, 0.1, NULL},
	{"eps", ARG_REAL, 1, 1e-5, NULL},
};

/* A parameter that starts at `value` everywhere. */
static Node *constant_param(Lower *L, const char *suffix, int c, double value, Loc loc)
{
	Node *n = lower_param(L, suffix, shape_vec(0, c), c, loc);
	Param *p = lower_graph(L)->params.data[n->index];
	p->init = INIT_CONSTANT;
	p->init_value = value;
	return n;
}

static Node *batchnorm_lower(Lower *L, const Expr *call)
{
	ArgVal a[3];
	if (!bind_args(L, call, &op_batchnorm, a))
		return NULL;
	Node *x = a[0].t;
	if (!x->shape.batched || x->shape.rank < 1) {
		diag_error(call->loc, "batchnorm needs per-sample values [n, features] or [n, channels, ...], got %s",
			   shape_str(x->shape));
		return NULL;
	}
	if (!(a[1].num >= 0 && a[1].num <= 1)) {
		diag_error(a[1].loc, "batchnorm: momentum must be from 0 to 1, got %g", a[1].num);
		return NULL;
	}
	if (!(a[2].num > 0)) {
		diag_error(a[2].loc, "batchnorm: eps must be positive, got %g", a[2].num);
		return NULL;
	}
	Graph *g = lower_graph(L);
	int c = channels(x);
	Node *w = constant_param(L, "weight", c, 1, call->loc);
	Node *bias = constant_param(L, "bias", c, 0, call->loc);
	/* The layer's name is its weight's name without ".weight". */
	const char *layer = xstrndup(w->name, strlen(w->name) - strlen(".weight"));
	Buffer *mean = graph_buffer(g, xasprintf("%s.running_mean", layer), shape_vec(0, c), BUF_RUNNING, 0, call->loc);
	Buffer *var = graph_buffer(g, xasprintf("%s.running_var", layer), shape_vec(0, c), BUF_RUNNING, 1, call->loc);
	graph_buffer(g, xasprintf("%s.num_batches_tracked", layer), shape_scalar(), BUF_COUNTER, 0, call->loc);
	Node *st = graph_add3(g, &op_bn_stats, call->loc, x, mean->node, var->node);
	st->fattr[F_MOMENTUM] = a[1].num;
	st->fattr[F_EPS] = a[2].num;
	st->layer = layer;
	op_bn_stats.shape(st);
	mean->next = var->next = st;
	mean->next_offset = (size_t)ST_NEW_MEAN * (size_t)c;
	var->next_offset = (size_t)ST_NEW_VAR * (size_t)c;
	Node *in[4] = {x, st, w, bias};
	Node *n = graph_add(g, &op_batchnorm, call->loc, 4, in);
	n->fattr[F_MOMENTUM] = a[1].num;
	n->fattr[F_EPS] = a[2].num;
	return op_batchnorm.shape(n) ? n : NULL;
}

static int same_as_input(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

/* The standard backward through the batch statistics, with
 * xhat = (x - mean) * invstd and M = n * S values per channel:
 *   dbias = sum dy,  dweight = sum dy xhat,
 *   dx = weight * invstd * (dy - dbias / M - xhat * dweight / M). */
static void batchnorm_grad(Graph *g, Node *n, Node *dy)
{
	Node *x = n->in[0], *st = n->in[1], *w = n->in[2], *bias = n->in[3];
	Node *sums[2];
	for (int k = SUM_DY; k <= SUM_DY_XHAT; k++) {
		sums[k] = graph_add3(g, &op_bn_reduce, n->loc, x, st, dy);
		sums[k]->iattr[0] = k;
		op_bn_reduce.shape(sums[k]);
	}
	grad_accumulate(g, bias, sums[SUM_DY]);
	grad_accumulate(g, w, sums[SUM_DY_XHAT]);
	if (x->needs_grad) {
		Node *in[6] = {x, st, w, dy, sums[SUM_DY], sums[SUM_DY_XHAT]};
		Node *dx = graph_add(g, &op_bn_dx, n->loc, 6, in);
		same_as_input(dx);
		grad_accumulate(g, x, dx);
	}
}

static double batchnorm_flops(const Node *n) { return 2.0 * (double)shape_elems(n->shape); }

const OpDef op_batchnorm = {
	.name = "batchnorm", .lower = batchnorm_lower, .args = batchnorm_args, .nargs = 3,
	.shape = same_as_input, .grad = batchnorm_grad, .flops = batchnorm_flops,
	.doc = "batchnorm(momentum = 0.1, eps = 1e-5): batch normalization per channel (dim 1), as nn.BatchNorm1d/2d"};

/* ---- bn_stats(x, running_mean, running_var): [4, C] ---- */

static int bn_stats_shape(Node *n)
{
	int d[2] = {ST_ROWS, channels(n->in[0])};
	n->shape = shape_make(0, 2, d);
	return 1;
}

static double bn_stats_flops(const Node *n) { return 4.0 * (double)shape_elems(n->in[0]->shape); }

const OpDef op_bn_stats = {
	.name = "bn_stats", .shape = bn_stats_shape, .flops = bn_stats_flops,
	.doc = "batchnorm's statistics [mean, invstd, new running mean, new running var] per channel"};

/* ---- bn_reduce(x, stats, dy): [C], sum of dy or of dy * xhat per channel ---- */

static int bn_reduce_shape(Node *n)
{
	n->shape = shape_vec(0, channels(n->in[0]));
	return 1;
}

static double bn_reduce_flops(const Node *n) { return 3.0 * (double)shape_elems(n->in[0]->shape); }

const OpDef op_bn_reduce = {
	.name = "bn_reduce", .shape = bn_reduce_shape, .flops = bn_reduce_flops,
	.doc = "per-channel sum of dy (iattr[0] 0) or of dy * xhat (1): batchnorm's bias and weight gradients"};

/* ---- bn_dx(x, stats, weight, dy, sum dy, sum dy xhat): shape of x ---- */

static double bn_dx_flops(const Node *n) { return 6.0 * (double)shape_elems(n->shape); }

const OpDef op_bn_dx = {
	.name = "bn_dx", .shape = same_as_input, .flops = bn_dx_flops,
	.doc = "input gradient of batchnorm through the batch statistics"};
