/* sparse.c - sparsity penalties, top-k selection and concatenation:
 * l1 (activity penalty), kl_sparsity (target mean activation), topk (keep
 * the k largest units of each sample) and concat (join per-sample values
 * along their first dimension, for conditioning on a label), with the
 * internal ops of their gradients. */
#include <limits.h>
#include <string.h>

#include "attrs.h"

static double no_flops(const Node *n)
{
	(void)n;
	return 0;
}

static int per_sample(Node *n, const char *what)
{
	if (!n->in[0]->shape.batched) {
		diag_error(n->loc, "%s needs per-sample values, got %s", what, shape_str(n->in[0]->shape));
		return 0;
	}
	return 1;
}

/* ---- l1(z, reduction = "sum"): sum or mean of |z| ---- */

static const ArgSpec l1_args[] = {
	{"z", ARG_TENSOR, 0, 0, NULL},
	{"reduction", ARG_STR, 1, 0, "sum"},
};

/* iattr[0]: 1 for the mean over every element of the batch, 0 for the sum. */
static Node *l1_lower(Lower *L, const Expr *call)
{
	ArgVal a[2];
	if (!bind_args(L, call, &op_l1, a))
		return NULL;
	int mean = !strcmp(a[1].str, "mean");
	if (!mean && strcmp(a[1].str, "sum") != 0) {
		diag_error(a[1].loc, "l1: reduction must be \"sum\" or \"mean\", got \"%s\"", a[1].str);
		return NULL;
	}
	Node *n = graph_add1(lower_graph(L), &op_l1, call->loc, a[0].t);
	n->iattr[0] = mean;
	return op_l1.shape(n) ? n : NULL;
}

static int l1_shape(Node *n)
{
	if (!per_sample(n, "l1"))
		return 0;
	n->shape = shape_scalar();
	return 1;
}

static void l1_grad(Graph *g, Node *n, Node *dy)
{
	Node *d = graph_add2(g, &op_l1_grad, n->loc, n->in[0], dy);
	d->iattr[0] = n->iattr[0];
	op_l1_grad.shape(d);
	grad_accumulate(g, n->in[0], d);
}

static double l1_flops(const Node *n) { return 2.0 * (double)shape_elems(n->in[0]->shape); }

const OpDef op_l1 = {
	.name = "l1", .lower = l1_lower, .args = l1_args, .nargs = 2, .shape = l1_shape,
	.grad = l1_grad, .flops = l1_flops,
	.doc = "l1(z, reduction = \"sum\"): sum (or mean) of |z| over the batch, an activity penalty"};

/* l1_grad(z, dy) = dy sign(z) (/ count for the mean); 0 at z = 0, as torch.abs. */
static int l1_grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

const OpDef op_l1_grad = {
	.name = "l1_grad", .shape = l1_grad_shape, .flops = l1_flops,
	.doc = "gradient of l1: dy sign(z)"};

/* ---- kl_sparsity(z, rho): KL divergence of each unit's mean activation ----
 *
 * With rho_hat_j the mean of unit j over the batch, clamped into
 * [KL_CLAMP, 1 - KL_CLAMP]:
 *   sum_j rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)).
 * z should lie in (0, 1), e.g. after a sigmoid. fattr[0] is rho. */

static const ArgSpec kl_args[] = {
	{"z", ARG_TENSOR, 0, 0, NULL},
	{"rho", ARG_REAL, 0, 0, NULL},
};

static Node *kl_lower(Lower *L, const Expr *call)
{
	ArgVal a[2];
	if (!bind_args(L, call, &op_kl_sparsity, a))
		return NULL;
	if (!(a[1].num > 0 && a[1].num < 1)) {
		diag_error(a[1].loc, "kl_sparsity: rho, the target mean activation, must be in (0, 1), got %g",
			   a[1].num);
		return NULL;
	}
	Node *n = graph_add1(lower_graph(L), &op_kl_sparsity, call->loc, a[0].t);
	n->fattr[0] = a[1].num;
	return op_kl_sparsity.shape(n) ? n : NULL;
}

static int kl_shape(Node *n)
{
	if (!per_sample(n, "kl_sparsity"))
		return 0;
	n->shape = shape_scalar();
	return 1;
}

static void kl_grad(Graph *g, Node *n, Node *dy)
{
	Node *d = graph_add2(g, &op_kl_sparsity_grad, n->loc, n->in[0], dy);
	d->fattr[0] = n->fattr[0];
	op_kl_sparsity_grad.shape(d);
	grad_accumulate(g, n->in[0], d);
}

static double kl_flops(const Node *n) { return 2.0 * (double)shape_elems(n->in[0]->shape); }

const OpDef op_kl_sparsity = {
	.name = "kl_sparsity", .lower = kl_lower, .args = kl_args, .nargs = 2, .shape = kl_shape,
	.grad = kl_grad, .flops = kl_flops,
	.doc = "kl_sparsity(z, rho): sum over units of KL(rho || mean activation over the batch), z in (0, 1)"};

/* kl_sparsity_grad(z, dy): every sample of unit j gets
 * dy (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / n, or 0 where the
 * clamp holds rho_hat_j (torch.clamp passes no gradient there). */
static int kl_grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

const OpDef op_kl_sparsity_grad = {
	.name = "kl_sparsity_grad", .shape = kl_grad_shape, .flops = kl_flops,
	.doc = "gradient of kl_sparsity with respect to its input"};

/* ---- topk(z, k): keep the k largest units of each sample ----
 *
 * z is [n, units]. Unit i is kept when fewer than k units rank before it,
 * where unit j ranks before unit i if z[j] > z[i], or z[j] == z[i] and
 * j < i (ties go to the lower index). The others become 0. iattr[0] is k. */

static const ArgSpec topk_args[] = {
	{"z", ARG_TENSOR, 0, 0, NULL},
	{"k", ARG_INT, 0, 0, NULL},
};

static Node *topk_lower(Lower *L, const Expr *call)
{
	ArgVal a[2];
	if (!bind_args(L, call, &op_topk, a))
		return NULL;
	Node *n = graph_add1(lower_graph(L), &op_topk, call->loc, a[0].t);
	if (!op_topk.shape(n))
		return NULL;
	if (a[1].num < 1 || a[1].num > n->shape.dims[0]) {
		diag_error(a[1].loc, "topk: k must be from 1 to %d (the units of its input), got %.0f",
			   n->shape.dims[0], a[1].num);
		return NULL;
	}
	n->iattr[0] = (long)a[1].num;
	return n;
}

static int topk_shape(Node *n)
{
	Shape s = n->in[0]->shape;
	if (!s.batched || s.rank != 1) {
		diag_error(n->loc, "topk needs a flat input [n, units], got %s", shape_str(s));
		return 0;
	}
	n->shape = s;
	return 1;
}

static void topk_grad(Graph *g, Node *n, Node *dy)
{
	Node *d = graph_add2(g, &op_topk_grad, n->loc, n->in[0], dy);
	d->iattr[0] = n->iattr[0];
	op_topk_grad.shape(d);
	grad_accumulate(g, n->in[0], d);
}

/* A comparison for every pair of units. */
static double topk_flops(const Node *n)
{
	double units = n->shape.dims[0];
	return units * units;
}

const OpDef op_topk = {
	.name = "topk", .lower = topk_lower, .args = topk_args, .nargs = 2, .shape = topk_shape,
	.grad = topk_grad, .flops = topk_flops,
	.doc = "topk(k): per sample keep the k largest units (ties: lower index), zero the others"};

/* topk_grad(z, dy): dy where topk(z) keeps the unit, else 0; the mask is
 * recomputed from z, so a kept unit whose value is 0 still passes dy. */
static int topk_grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

const OpDef op_topk_grad = {
	.name = "topk_grad", .shape = topk_grad_shape, .flops = topk_flops,
	.doc = "gradient of topk: dy through the kept units only"};

/* ---- concat(a, b, ...): join per-sample values along their first dim ----
 *
 * Flat values [n, f1], [n, f2], ... give [n, f1 + f2 + ...]; images
 * [n, C1, H, W], [n, C2, H, W], ... give [n, C1 + C2 + ..., H, W]. Either
 * way each sample's output is its operands' samples one after another. */

/* The most operands of one concat (one ArgSpec each below). */
#define MAX_CONCAT 6

static const ArgSpec concat_args[] = {
	{"a", ARG_TENSOR, 0, 0, NULL}, {"b", ARG_TENSOR, 0, 0, NULL}, {"c", ARG_TENSOR, 1, 0, NULL},
	{"d", ARG_TENSOR, 1, 0, NULL}, {"e", ARG_TENSOR, 1, 0, NULL}, {"f", ARG_TENSOR, 1, 0, NULL},
};

static Node *concat_lower(Lower *L, const Expr *call)
{
	ArgVal a[MAX_CONCAT];
	if (!bind_args(L, call, &op_concat, a))
		return NULL;
	Node *in[MAX_CONCAT];
	int nin = 0;
	for (int i = 0; i < MAX_CONCAT; i++)
		if (a[i].present)
			in[nin++] = a[i].t;
	Node *n = graph_add(lower_graph(L), &op_concat, call->loc, nin, in);
	return op_concat.shape(n) ? n : NULL;
}

static int concat_shape(Node *n)
{
	Shape first = n->in[0]->shape, out = first;
	if (!first.batched || (first.rank != 1 && first.rank != 3)) {
		diag_error(n->loc, "concat joins flat values [n, features] or images [n, C, H, W], got %s",
			   shape_str(first));
		return 0;
	}
	for (int i = 1; i < n->nin; i++) {
		Shape s = n->in[i]->shape;
		if (!s.batched || s.rank != first.rank) {
			diag_error(n->loc, "concat: operand %d is %s but operand 1 is %s (all flat [n, features] or all images [n, C, H, W])",
				   i + 1, shape_str(s), shape_str(first));
			return 0;
		}
		if (s.rank == 3 && (s.dims[1] != first.dims[1] || s.dims[2] != first.dims[2])) {
			diag_error(n->loc, "concat: operand %d is %s but operand 1 is %s (images must agree in height and width)",
				   i + 1, shape_str(s), shape_str(first));
			return 0;
		}
		if ((long)out.dims[0] + s.dims[0] > INT_MAX / (long)(shape_elems(first) / (size_t)first.dims[0])) {
			diag_error(n->loc, "concat: the result has more than %d values per sample", INT_MAX);
			return 0;
		}
		out.dims[0] += s.dims[0];
	}
	n->shape = out;
	return 1;
}

/* Operand i's gradient is its slice of dy. */
static void concat_grad(Graph *g, Node *n, Node *dy)
{
	long at = 0;
	for (int i = 0; i < n->nin; i++) {
		Node *x = n->in[i];
		if (x->needs_grad) {
			Node *d = graph_add1(g, &op_concat_slice, n->loc, dy);
			d->iattr[0] = at;
			d->iattr[1] = x->shape.dims[0];
			op_concat_slice.shape(d);
			grad_accumulate(g, x, d);
		}
		at += x->shape.dims[0];
	}
}

const OpDef op_concat = {
	.name = "concat", .lower = concat_lower, .args = concat_args, .nargs = MAX_CONCAT,
	.shape = concat_shape, .grad = concat_grad, .flops = no_flops,
	.doc = "concat(a, b, ...): join up to 6 flat values, or images of one size along channels"};

/* concat_slice(dy): entries iattr[0] .. iattr[0] + iattr[1] - 1 of each
 * sample's first dim (features or channels); the other dims are dy's. */
static int concat_slice_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	n->shape.dims[0] = (int)n->iattr[1];
	return 1;
}

const OpDef op_concat_slice = {
	.name = "concat_slice", .shape = concat_slice_shape, .flops = no_flops,
	.doc = "gradient of concat: one operand's slice of dy"};
