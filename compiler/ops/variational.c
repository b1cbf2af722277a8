/* variational.c - the stochastic ops: the reparameterised Gaussian
 * latent of a VAE and its KL term, input noise for denoising (additive
 * Gaussian noise, masking noise), dropout, and clamp.
 *
 * Randomness. A stochastic op draws element i of its values from a
 * counter-based stream (a hash of the state's noise key, the step and the
 * node: emit_noise_key in the C backend), only in the train step and the
 * gradient and only while the C variable `stochastic` is set; otherwise,
 * and in every evaluation function, it is deterministic (the mean of the
 * latent, the input unchanged). A stream depends on nothing but its key
 * and the element index, so a backward op draws the very same numbers
 * again from the forward node's key instead of keeping them in the work
 * arena: each backward op below takes the forward node as an input for
 * that purpose and never reads its values. */
#include <math.h>
#include <string.h>

#include "attrs.h"

static int same_as_input(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

static double elementwise_flops(const Node *n) { return (double)shape_elems(n->shape); }

/* ---- gaussian(mu, logvar): z = mu + exp(logvar / 2) eps ---- */

/* in[0] mu, in[1] logvar: per-sample values of one shape. */
static const ArgSpec gaussian_args[] = {
	{"mu", ARG_TENSOR, 0, 0, NULL},
	{"logvar", ARG_TENSOR, 0, 0, NULL},
};

/* mu and logvar of a diagonal Gaussian: equal per-sample shapes. Shared by
 * gaussian and kl_normal; the result is the shape of mu. */
static int normal_params_shape(Node *n, const char *what)
{
	Shape mu = n->in[0]->shape, lv = n->in[1]->shape;
	if (!shape_eq(mu, lv)) {
		diag_error(n->loc, "%s: mu and logvar must have the same shape, got %s and %s", what,
			   shape_str(mu), shape_str(lv));
		return 0;
	}
	if (!mu.batched) {
		diag_error(n->loc, "%s needs per-sample values, got %s", what, shape_str(mu));
		return 0;
	}
	n->shape = mu;
	return 1;
}

static int gaussian_shape(Node *n) { return normal_params_shape(n, "gaussian"); }

static Node *gaussian_lower(Lower *L, const Expr *call)
{
	ArgVal a[2];
	if (!bind_args(L, call, &op_gaussian, a))
		return NULL;
	Node *n = graph_add2(lower_graph(L), &op_gaussian, call->loc, a[0].t, a[1].t);
	return gaussian_shape(n) ? n : NULL;
}

/* dz/dmu = 1; dz/dlogvar = exp(logvar / 2) eps / 2, with the eps drawn. */
static void gaussian_grad(Graph *g, Node *n, Node *dy)
{
	grad_accumulate(g, n->in[0], dy);
	if (n->in[1]->needs_grad) {
		Node *d = graph_add3(g, &op_gaussian_dlogvar, n->loc, n->in[1], dy, n);
		same_as_input(d);
		grad_accumulate(g, n->in[1], d);
	}
}

static double gaussian_flops(const Node *n) { return 4.0 * (double)shape_elems(n->shape); }

const OpDef op_gaussian = {
	.name = "gaussian", .lower = gaussian_lower, .args = gaussian_args, .nargs = 2,
	.shape = gaussian_shape, .grad = gaussian_grad, .flops = gaussian_flops,
	.doc = "gaussian(mu, logvar): sample mu + exp(logvar / 2) * eps, eps ~ N(0, 1) in training; mu otherwise"};

/* gaussian_dlogvar(logvar, dy, z): dy exp(logvar / 2) eps / 2, where eps is
 * drawn again from the stream of the forward node z (its values unread). */
const OpDef op_gaussian_dlogvar = {
	.name = "gaussian_dlogvar", .shape = same_as_input, .flops = gaussian_flops,
	.doc = "gradient of gaussian with respect to logvar, eps drawn again"};

/* ---- kl_normal(mu, logvar, reduction = "sum") ---- */

/* KL(N(mu, exp(logvar)) || N(0, 1)) = -1/2 sum (1 + logvar - mu^2 - exp(logvar)),
 * reduced over every element (iattr[0], KL_*). */
static const char *const kl_reduction[] = {"sum", "mean", "batchmean"};

static const ArgSpec kl_args[] = {
	{"mu", ARG_TENSOR, 0, 0, NULL},
	{"logvar", ARG_TENSOR, 0, 0, NULL},
	{"reduction", ARG_STR, 1, 0, "sum"},
};

static int kl_shape(Node *n)
{
	if (!normal_params_shape(n, "kl_normal"))
		return 0;
	n->shape = shape_scalar();
	return 1;
}

static Node *kl_lower(Lower *L, const Expr *call)
{
	ArgVal a[3];
	if (!bind_args(L, call, &op_kl_normal, a))
		return NULL;
	int r = 0;
	while (r < 3 && strcmp(a[2].str, kl_reduction[r]) != 0)
		r++;
	if (r == 3) {
		diag_error(a[2].loc, "kl_normal: reduction must be \"sum\", \"mean\" or \"batchmean\", got \"%s\"",
			   a[2].str);
		return NULL;
	}
	Node *n = graph_add2(lower_graph(L), &op_kl_normal, call->loc, a[0].t, a[1].t);
	n->iattr[0] = r;
	return kl_shape(n) ? n : NULL;
}

/* dKL/dmu = k mu, dKL/dlogvar = k (exp(logvar) - 1) / 2, k = dy / divisor. */
static void kl_grad(Graph *g, Node *n, Node *dy)
{
	for (int wrt = 0; wrt < 2; wrt++) {
		if (!n->in[wrt]->needs_grad)
			continue;
		Node *d = graph_add3(g, &op_kl_normal_grad, n->loc, n->in[0], n->in[1], dy);
		d->iattr[0] = n->iattr[0];
		d->iattr[1] = wrt;
		op_kl_normal_grad.shape(d);
		grad_accumulate(g, n->in[wrt], d);
	}
}

static double kl_flops(const Node *n) { return 5.0 * (double)shape_elems(n->in[0]->shape); }

const OpDef op_kl_normal = {
	.name = "kl_normal", .lower = kl_lower, .args = kl_args, .nargs = 3, .shape = kl_shape,
	.grad = kl_grad, .flops = kl_flops,
	.doc = "kl_normal(mu, logvar, reduction = \"sum\"): KL(N(mu, exp(logvar)) || N(0, I)); sum, mean or batchmean"};

/* kl_normal_grad(mu, logvar, dy): the gradient with respect to mu
 * (iattr[1] = 0) or logvar (1); iattr[0] is the reduction. */
static int kl_grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

const OpDef op_kl_normal_grad = {
	.name = "kl_normal_grad", .shape = kl_grad_shape, .flops = kl_flops,
	.doc = "gradient of kl_normal with respect to mu or logvar"};

/* ---- gaussian_noise(x, std): x + std eps in training ---- */

static const ArgSpec gaussian_noise_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"std", ARG_REAL, 0, 0, NULL},
};

/* fattr[0] = std. */
static Node *gaussian_noise_lower(Lower *L, const Expr *call)
{
	ArgVal a[2];
	if (!bind_args(L, call, &op_gaussian_noise, a))
		return NULL;
	if (!(a[1].num >= 0) || isinf(a[1].num)) {
		diag_error(a[1].loc, "gaussian_noise: std must be a finite number >= 0, got %g", a[1].num);
		return NULL;
	}
	Node *n = graph_add1(lower_graph(L), &op_gaussian_noise, call->loc, a[0].t);
	n->fattr[0] = a[1].num;
	return same_as_input(n) ? n : NULL;
}

/* The noise is added: the gradient passes unchanged. */
static void pass_grad(Graph *g, Node *n, Node *dy) { grad_accumulate(g, n->in[0], dy); }

const OpDef op_gaussian_noise = {
	.name = "gaussian_noise", .lower = gaussian_noise_lower, .args = gaussian_noise_args, .nargs = 2,
	.shape = same_as_input, .grad = pass_grad, .flops = elementwise_flops,
	.doc = "gaussian_noise(std): x + std * eps, eps ~ N(0, 1), in training only"};

/* ---- clamp(x, lo, hi) ---- */

static const ArgSpec clamp_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"lo", ARG_REAL, 0, 0, NULL},
	{"hi", ARG_REAL, 0, 0, NULL},
};

/* fattr[0] = lo, fattr[1] = hi, lo < hi. */
static Node *clamp_lower(Lower *L, const Expr *call)
{
	ArgVal a[3];
	if (!bind_args(L, call, &op_clamp, a))
		return NULL;
	if (!(a[1].num < a[2].num)) {
		diag_error(a[2].loc, "clamp: hi must be greater than lo, got lo = %g, hi = %g", a[1].num, a[2].num);
		return NULL;
	}
	Node *n = graph_add1(lower_graph(L), &op_clamp, call->loc, a[0].t);
	n->fattr[0] = a[1].num;
	n->fattr[1] = a[2].num;
	return same_as_input(n) ? n : NULL;
}

static Node *clamp_grad_node(Graph *g, const Node *fwd, Node *x, Node *dy)
{
	Node *d = graph_add2(g, &op_clamp_grad, fwd->loc, x, dy);
	d->fattr[0] = fwd->fattr[0];
	d->fattr[1] = fwd->fattr[1];
	same_as_input(d);
	return d;
}

static void clamp_grad(Graph *g, Node *n, Node *dy)
{
	grad_accumulate(g, n->in[0], clamp_grad_node(g, n, n->in[0], dy));
}

const OpDef op_clamp = {
	.name = "clamp", .lower = clamp_lower, .args = clamp_args, .nargs = 3, .shape = same_as_input,
	.grad = clamp_grad, .flops = elementwise_flops,
	.doc = "clamp(lo, hi): min(max(x, lo), hi); the gradient passes where lo <= x <= hi"};

/* clamp_grad(x, dy): dy where lo <= x <= hi, else 0 (torch.clamp's rule,
 * bounds included). Linear in dy, constant in x almost everywhere. */
static void clamp_grad_grad(Graph *g, Node *n, Node *ddx)
{
	grad_accumulate(g, n->in[1], clamp_grad_node(g, n, n->in[0], ddx));
}

const OpDef op_clamp_grad = {
	.name = "clamp_grad", .shape = same_as_input, .grad = clamp_grad_grad,
	.flops = elementwise_flops, .doc = "gradient of clamp: dy where lo <= x <= hi"};

/* ---- masking_noise(x, p), dropout(x, p) ---- */

/* fattr[0] = p in [0, 1); fattr[1] = the factor of kept elements, 1 for
 * masking noise and 1 / (1 - p) for (inverted) dropout. */
static const ArgSpec mask_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"p", ARG_REAL, 0, 0, NULL},
};

static Node *mask_lower(Lower *L, const Expr *call, const OpDef *op)
{
	ArgVal a[2];
	if (!bind_args(L, call, op, a))
		return NULL;
	if (!(a[1].num >= 0 && a[1].num < 1)) {
		diag_error(a[1].loc, "%s: p must be in [0, 1), got %g", op->name, a[1].num);
		return NULL;
	}
	Node *n = graph_add1(lower_graph(L), op, call->loc, a[0].t);
	n->fattr[0] = a[1].num;
	n->fattr[1] = op == &op_dropout ? 1 / (1 - a[1].num) : 1;
	return same_as_input(n) ? n : NULL;
}

static Node *masking_lower(Lower *L, const Expr *c) { return mask_lower(L, c, &op_masking_noise); }
static Node *dropout_lower(Lower *L, const Expr *c) { return mask_lower(L, c, &op_dropout); }

static Node *mask_grad_node(Graph *g, Node *fwd, Node *dy)
{
	Node *d = graph_add2(g, &op_mask_grad, fwd->loc, dy, fwd);
	d->fattr[0] = fwd->fattr[0];
	d->fattr[1] = fwd->fattr[1];
	same_as_input(d);
	return d;
}

static void mask_grad(Graph *g, Node *n, Node *dy) { grad_accumulate(g, n->in[0], mask_grad_node(g, n, dy)); }

const OpDef op_masking_noise = {
	.name = "masking_noise", .lower = masking_lower, .args = mask_args, .nargs = 2,
	.shape = same_as_input, .grad = mask_grad, .flops = elementwise_flops,
	.doc = "masking_noise(p): each element set to 0 with probability p, in training only"};
const OpDef op_dropout = {
	.name = "dropout", .lower = dropout_lower, .args = mask_args, .nargs = 2,
	.shape = same_as_input, .grad = mask_grad, .flops = elementwise_flops,
	.doc = "dropout(p): each element set to 0 with probability p, the others scaled by 1 / (1 - p), in training only"};

/* mask_grad(dy, y): dy through the mask of the forward node y (masking
 * noise or dropout), drawn again from y's stream; y's values are unread.
 * Linear in dy, so its own gradient is the same mask. */
static void mask_grad_grad(Graph *g, Node *n, Node *ddx)
{
	grad_accumulate(g, n->in[0], mask_grad_node(g, n->in[1], ddx));
}

const OpDef op_mask_grad = {
	.name = "mask_grad", .shape = same_as_input, .grad = mask_grad_grad,
	.flops = elementwise_flops, .doc = "gradient of masking_noise and dropout: dy through the same mask"};
