/* dense.c - the fully connected layer and the products its gradient
 * needs. Weights use PyTorch's layout: W is [out, in], y = x W^T + b.
 * After fusion (fuse.c) a product may finish its tiles with an epilogue:
 * dense with an activation (iattr[1] = activation + 1, fattr[0] its
 * slope), dense_dx with an activation's derivative read off its output
 * in[2] (same attributes). */
#include "ops.h"

/* dense(x, units, bias = true): in[0] x [n, in], in[1] W [out, in],
 * in[2] b [out] when iattr[0] (has bias). */
static const ArgSpec dense_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"units", ARG_INT, 0, 0, NULL},
	{"bias", ARG_BOOL, 1, 1, NULL},
};

static Node *dense_lower(Lower *L, const Expr *call)
{
	ArgVal a[3];
	if (!bind_args(L, call, &op_dense, a))
		return NULL;
	Shape xs = a[0].t->shape;
	if (!xs.batched || xs.rank != 1) {
		diag_error(call->loc, "dense needs a flat input [n, features], got %s (flatten it first)",
			   shape_str(xs));
		return NULL;
	}
	if (a[1].num < 1 || a[1].num > (1 << 24)) {
		diag_error(a[1].loc, "dense: units must be from 1 to %d, got %.0f", 1 << 24, a[1].num);
		return NULL;
	}
	int out = (int)a[1].num, in = xs.dims[0];
	int wd[2] = {out, in};
	Node *args[3] = {a[0].t, lower_param(L, "weight", shape_make(0, 2, wd), in, call->loc), NULL};
	int nin = 2;
	if (a[2].num)
		args[nin++] = lower_param(L, "bias", shape_vec(0, out), in, call->loc);
	Node *n = graph_add(lower_graph(L), &op_dense, call->loc, nin, args);
	n->iattr[0] = a[2].num != 0;
	return op_dense.shape(n) ? n : NULL;
}

static int dense_shape(Node *n)
{
	n->shape = shape_vec(1, n->in[1]->shape.dims[0]);
	return 1;
}

/* "dense+relu" for a product with an activation's epilogue, "dense_dx*relu'"
 * for one with a derivative's. */
static const char *epilogue_label(const Node *n)
{
	if (!n->iattr[1])
		return n->op->name;
	return xasprintf(n->op == &op_dense ? "%s+%s" : "%s*%s'", n->op->name, act_name((int)n->iattr[1] - 1));
}

static void dense_grad(Graph *g, Node *n, Node *dy)
{
	Node *x = n->in[0], *w = n->in[1];
	if (x->needs_grad) {
		Node *dx = graph_add2(g, &op_dense_dx, n->loc, dy, w);
		op_dense_dx.shape(dx);
		grad_accumulate(g, x, dx);
	}
	Node *dw = graph_add2(g, &op_dense_dw, n->loc, dy, x);
	op_dense_dw.shape(dw);
	grad_accumulate(g, w, dw);
	if (n->iattr[0]) {
		Node *db = graph_add1(g, &op_sum_batch, n->loc, dy);
		op_sum_batch.shape(db);
		grad_accumulate(g, n->in[2], db);
	}
}

static double dense_flops(const Node *n)
{
	return 2.0 * n->in[1]->shape.dims[0] * n->in[1]->shape.dims[1];
}

const OpDef op_dense = {
	.name = "dense", .lower = dense_lower, .args = dense_args, .nargs = 3,
	.shape = dense_shape, .grad = dense_grad, .flops = dense_flops, .label = epilogue_label,
	.doc = "dense(units, bias = true): fully connected layer y = x W^T + b, W is [units, in]"};

/* dense_dx(dy, W): dx [n, in] = dy [n, out] W [out, in]. */
static int dense_dx_shape(Node *n)
{
	n->shape = shape_vec(1, n->in[1]->shape.dims[1]);
	return 1;
}

/* dx = dy W is linear in dy and in W: with G the gradient of dx,
 * d/d(dy) = G W^T (a dense layer of G without bias) and d/dW = dy^T G.
 * Needed when a gradient is itself differentiated (contractive penalty). */
static void dense_dx_grad(Graph *g, Node *n, Node *G)
{
	Node *dy = n->in[0], *w = n->in[1];
	if (dy->needs_grad) {
		Node *d = graph_add2(g, &op_dense, n->loc, G, w);
		d->iattr[0] = 0;
		dense_shape(d);
		grad_accumulate(g, dy, d);
	}
	if (w->needs_grad) {
		Node *dw = graph_add2(g, &op_dense_dw, n->loc, dy, G);
		op_dense_dw.shape(dw);
		grad_accumulate(g, w, dw);
	}
}

static double dense_dx_flops(const Node *n)
{
	return 2.0 * n->in[1]->shape.dims[0] * n->in[1]->shape.dims[1];
}

const OpDef op_dense_dx = {
	.name = "dense_dx", .shape = dense_dx_shape, .grad = dense_dx_grad, .flops = dense_dx_flops,
	.label = epilogue_label,
	.doc = "input gradient of dense: dy W"};

/* dense_dw(dy, x): dW [out, in] = dy^T [out, n] x [n, in], summed over the batch. */
static int dense_dw_shape(Node *n)
{
	int d[2] = {n->in[0]->shape.dims[0], n->in[1]->shape.dims[0]};
	n->shape = shape_make(0, 2, d);
	return 1;
}

static double dense_dw_flops(const Node *n) { return 2.0 * n->shape.dims[0] * n->shape.dims[1]; }

const OpDef op_dense_dw = {
	.name = "dense_dw", .shape = dense_dw_shape, .flops = dense_dw_flops,
	.doc = "weight gradient of dense: dy^T x over the batch"};
