/* loss.c - reconstruction losses and their gradients. Each loss reduces
 * to a scalar with reduction "mean" (over every element of the batch, as
 * PyTorch's default) or "sum". */
#include <string.h>

#include "ops.h"

static const ArgSpec loss_args[] = {
	{"input", ARG_TENSOR, 0, 0, NULL},
	{"target", ARG_TENSOR, 0, 0, NULL},
	{"reduction", ARG_STR, 1, 0, "mean"},
};

/* iattr[0]: 1 for the mean, 0 for the sum. */
static Node *loss_lower(Lower *L, const Expr *call, const OpDef *op)
{
	ArgVal a[3];
	if (!bind_args(L, call, op, a))
		return NULL;
	int mean = !strcmp(a[2].str, "mean");
	if (!mean && strcmp(a[2].str, "sum") != 0) {
		diag_error(a[2].loc, "%s: reduction must be \"mean\" or \"sum\", got \"%s\"", op->name, a[2].str);
		return NULL;
	}
	Node *n = graph_add2(lower_graph(L), op, call->loc, a[0].t, a[1].t);
	n->iattr[0] = mean;
	return op->shape(n) ? n : NULL;
}

static Node *mse_lower(Lower *L, const Expr *c) { return loss_lower(L, c, &op_mse); }
/* bce of a sigmoid's output is taken from the sigmoid's input, the logits
 * z: in = (z, target, y = sigmoid(z)), iattr[1] = 1. The loss is then
 * max(z, 0) - z t + log(1 + exp(-|z|)), with log(1 + exp(-|z|)) =
 * -log(max(y, 1 - y)), a logarithm of a number in [1/2, 1]: no log(0) and
 * no clamping, as PyTorch's binary_cross_entropy_with_logits; and its
 * gradient with respect to z is simply (y - t) per element. */
static Node *bce_lower(Lower *L, const Expr *c)
{
	Node *n = loss_lower(L, c, &op_bce);
	if (n && n->in[0]->op == &op_sigmoid) {
		Node *y = n->in[0];
		n->in[0] = y->in[0];
		n->in[n->nin++] = y;
		n->iattr[1] = 1;
	}
	return n;
}

static int loss_shape(Node *n)
{
	Shape a = n->in[0]->shape, b = n->in[1]->shape;
	if (!shape_eq(a, b)) {
		diag_error(n->loc, "%s compares values of different shapes: %s and %s", n->op->name,
			   shape_str(a), shape_str(b));
		return 0;
	}
	if (!a.batched) {
		diag_error(n->loc, "%s needs per-sample values, got %s", n->op->name, shape_str(a));
		return 0;
	}
	n->shape = shape_scalar();
	return 1;
}

static Node *loss_grad_node(Graph *g, const OpDef *op, Node *n, Node *dy)
{
	Node *d = graph_add3(g, op, n->loc, n->in[0], n->in[1], dy);
	d->iattr[0] = n->iattr[0];
	d->shape = n->in[0]->shape;
	return d;
}

static void mse_grad(Graph *g, Node *n, Node *dy)
{
	Node *d = loss_grad_node(g, &op_mse_grad, n, dy);
	grad_accumulate(g, n->in[0], d);
	if (n->in[1]->needs_grad) {
		Node *neg = graph_add1(g, &op_scale, n->loc, d);
		neg->fattr[0] = -1;
		op_scale.shape(neg);
		grad_accumulate(g, n->in[1], neg);
	}
}

static void bce_grad(Graph *g, Node *n, Node *dy)
{
	if (n->in[1]->needs_grad)
		diag_error(n->loc, "bce: the target must not depend on parameters");
	Node *d = loss_grad_node(g, &op_bce_grad, n, dy);
	if (n->iattr[1]) { /* from logits: (y - t) scaled, y = sigmoid(z) */
		d->in[d->nin++] = n->in[2];
		d->iattr[1] = 1;
	}
	grad_accumulate(g, n->in[0], d);
}

static double loss_flops(const Node *n) { return 3.0 * (double)shape_elems(n->in[0]->shape); }

const OpDef op_mse = {
	.name = "mse", .lower = mse_lower, .args = loss_args, .nargs = 3, .shape = loss_shape,
	.grad = mse_grad, .flops = loss_flops,
	.doc = "mse(input, target, reduction = \"mean\"): squared error, mean over all elements or sum"};
const OpDef op_bce = {
	.name = "bce", .lower = bce_lower, .args = loss_args, .nargs = 3, .shape = loss_shape,
	.grad = bce_grad, .flops = loss_flops,
	.doc = "bce(input, target, reduction = \"mean\"): binary cross-entropy of probabilities (log clamped at -100); "
	       "of a sigmoid's output, computed from its logits"};

/* mse_grad(a, b, dy) = dy * 2 (a - b) / count; bce_grad(p, t, dy) =
 * dy (p - t) / max(p (1 - p), 1e-12) / count, as PyTorch, or from the
 * logits dy (y - t) / count (in[3] = y). */
static int grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

/* "mse_grad*sigmoid'" when fused with the derivative of the output's activation. */
static const char *mse_grad_label(const Node *n)
{
	return n->iattr[1] ? xasprintf("mse_grad*%s'", act_name((int)n->iattr[1] - 1)) : n->op->name;
}

const OpDef op_mse_grad = {
	.name = "mse_grad", .shape = grad_shape, .flops = loss_flops, .label = mse_grad_label,
	.doc = "gradient of mse with respect to its input"};
const OpDef op_bce_grad = {
	.name = "bce_grad", .shape = grad_shape, .flops = loss_flops,
	.doc = "gradient of bce with respect to its input"};
