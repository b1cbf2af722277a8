/* contractive.c - the contractive penalty ||dz/dx||_F^2, built in the
 * IR: for each latent unit k, the row k of the encoder's Jacobian is the
 * vector-Jacobian product of z with the basis vector e_k, taken by
 * grad_vjp as ordinary nodes; the penalty sums their squares. Autodiff
 * then differentiates those nodes again, so the parameters get the exact
 * gradient of the penalty for any encoder of ops with second-order rules
 * (dense layers and elementwise activations). */
#include <string.h>

#include "ops.h"

/* contractive(z, x, reduction = "mean"): sum over the batch of the squared
 * Frobenius norms of dz_b/dx_b; "mean" divides by the batch size n. */
static const ArgSpec contractive_args[] = {
	{"z", ARG_TENSOR, 0, 0, NULL},
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"reduction", ARG_STR, 1, 0, "mean"},
};

static Node *contractive_lower(Lower *L, const Expr *call)
{
	ArgVal a[3];
	if (!bind_args(L, call, &op_contractive, a))
		return NULL;
	Node *z = a[0].t, *x = a[1].t;
	int mean = !strcmp(a[2].str, "mean");
	if (!mean && strcmp(a[2].str, "sum") != 0) {
		diag_error(a[2].loc, "contractive: reduction must be \"mean\" or \"sum\", got \"%s\"", a[2].str);
		return NULL;
	}
	if (!z->shape.batched || !x->shape.batched || z->shape.rank != 1) {
		diag_error(call->loc, "contractive needs a flat per-sample code z [n, k] and a per-sample input, got %s and %s",
			   shape_str(z->shape), shape_str(x->shape));
		return NULL;
	}
	if (x->id >= z->id) {
		diag_error(a[1].loc, "contractive: z must be computed from x");
		return NULL;
	}
	Graph *g = lower_graph(L);
	int k = z->shape.dims[0], first = g->nodes.len;
	Node *total = NULL;
	for (int i = 0; i < k; i++) {
		Node *e = graph_add(g, &op_basis, call->loc, 0, NULL);
		e->iattr[0] = i;
		e->shape = z->shape;
		Node *row = grad_vjp(g, z, e, x);
		if (!row) {
			diag_error(a[1].loc, "contractive: z does not depend on this input");
			return NULL;
		}
		Node *sq = graph_add1(g, &op_sumsq, call->loc, row);
		sq->iattr[0] = mean;
		op_sumsq.shape(sq);
		if (total) {
			total = graph_add2(g, &op_add, call->loc, total, sq);
			total->shape = shape_scalar();
		} else
			total = sq;
	}
	if (!total->needs_grad) {
		diag_error(call->loc, "contractive: z does not depend on x through parameters");
		return NULL;
	}
	Node *n = graph_add1(g, &op_contractive, call->loc, total);
	n->iattr[0] = mean;
	n->iattr[1] = k;
	n->in[0] = total;
	n->shape = shape_scalar();
	/* The penalty's value is in[0] = total; z and x are the operands of
	 * the PyTorch form, which stands for every node built above. */
	n->nin = 3;
	n->in[1] = z;
	n->in[2] = x;
	for (int i = first; i < g->nodes.len - 1; i++)
		((Node *)g->nodes.data[i])->expansion_of = n;
	return n;
}

static int pass_shape(Node *n)
{
	n->shape = shape_scalar();
	return 1;
}

static void contractive_grad(Graph *g, Node *n, Node *dy)
{
	grad_accumulate(g, n->in[0], dy);
}

static double no_flops(const Node *n)
{
	(void)n;
	return 0;
}

const OpDef op_contractive = {
	.name = "contractive", .lower = contractive_lower, .args = contractive_args, .nargs = 3,
	.shape = pass_shape, .grad = contractive_grad, .flops = no_flops,
	.doc = "contractive(z, x, reduction = \"mean\"): ||dz/dx||_F^2 per sample, mean or sum over the batch"};

static int keep_shape(Node *n)
{
	(void)n;
	return 1;
}

/* basis: the batched constant e_k, 1 in column iattr[0] of every row. */
const OpDef op_basis = {
	.name = "basis", .shape = keep_shape, .flops = no_flops,
	.doc = "the basis vector e_k in every row (k = iattr[0])"};

/* sumsq(a): sum of squares of every element, divided by n when iattr[0]. */
static void sumsq_grad(Graph *g, Node *n, Node *dy)
{
	Node *d = graph_add2(g, &op_sumsq_grad, n->loc, n->in[0], dy);
	d->iattr[0] = n->iattr[0];
	d->shape = n->in[0]->shape;
	grad_accumulate(g, n->in[0], d);
}

static double sumsq_flops(const Node *n) { return 2.0 * (double)shape_elems(n->in[0]->shape); }

const OpDef op_sumsq = {
	.name = "sumsq", .shape = pass_shape, .grad = sumsq_grad, .flops = sumsq_flops,
	.doc = "sum of squares over the batch (divided by n when iattr[0])"};

/* sumsq_grad(a, dy) = 2 dy a (/ n). */
const OpDef op_sumsq_grad = {
	.name = "sumsq_grad", .shape = keep_shape, .flops = sumsq_flops,
	.doc = "gradient of sumsq"};
