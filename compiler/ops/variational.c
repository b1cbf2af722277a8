/* op_variational.c - the stochastic ops: the reparameterised Gaussian
 * latent of a VAE and its KL term, input noise for denoising (additive
 * Gaussian noise, masking noise), dropout, and clamp.
 *
 * Randomness. A stochastic op draws element i of its values from the
 * counter-based stream emit_noise_key(e, n) (a hash of the state's noise
 * key, the step and the node), only in the train step and the gradient and
 * only while the C variable `stochastic` is set; otherwise, and in every
 * evaluation function, it is deterministic (the mean of the latent, the
 * input unchanged). A stream depends on nothing but its key and the
 * element index, so a backward op draws the very same numbers again from
 * the forward node's key instead of keeping them in the work arena: each
 * backward op below takes the forward node as an input for that purpose
 * and never reads its values. */
#include <math.h>
#include <string.h>

#include "attrs.h"

/* ---- shared emission pieces ---- */

/* exp spelled for the model's real type. */
static const char *exp_fn(Emit *e) { return strcmp(emit_real(e), "float") ? "exp" : "expf"; }

/* Open `{ const uint64_t key = ...;` with the stream of node `src`. */
static void open_stream(Emit *e, const Node *src)
{
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const uint64_t key = %s;", emit_noise_key(e, src));
}

static void close_block(Emit *e)
{
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* Start a loop over every element of n (batch included) as `i`, each
 * element computed on its own (the noise is counter-based): with OpenMP,
 * threads share out large ones. */
static void open_loop(Emit *e, const Node *n)
{
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(static) if (%s >= 32768)\n#endif\n",
		 emit_count(e, n, 1));
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
}

/* y = x, element by element: the evaluation form of the noise ops. */
static void emit_copy(Emit *e, Node *n)
{
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i];", emit_ref(e, n), emit_ref(e, n->in[0]));
}

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

/* Element i of the latent z of gaussian node n. */
static const char *gaussian_element(Emit *e, const Node *n)
{
	return xasprintf("%s[i] = %s[i] + (stochastic ? %s(%s * %s[i]) * (%s)%s(key, (uint64_t)i) : 0);",
			 emit_ref(e, n), emit_ref(e, n->in[0]), exp_fn(e), emit_num(e, 0.5), emit_ref(e, n->in[1]),
			 emit_real(e), emit_helper(e, "normal"));
}

static void kl_body(Emit *e, const Node *kl, const char *also);

/* z = mu + exp(logvar / 2) eps with eps ~ N(0, 1) while stochastic; z = mu
 * otherwise, so encode returns the mean. With a kl_normal of the same mu
 * and logvar as partner (fuse.c), one pass computes both. */
static void gaussian_emit(Emit *e, Node *n)
{
	if (!emit_training(e)) {
		emit_copy(e, n);
		return;
	}
	const Node *kl = emit_partner(e, n);
	open_stream(e, n);
	if (kl) {
		kl_body(e, kl, gaussian_element(e, n));
	} else {
		open_loop(e, n);
		emit_line(e, "\t%s", gaussian_element(e, n));
	}
	close_block(e);
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
	.shape = gaussian_shape, .grad = gaussian_grad, .emit = gaussian_emit, .flops = gaussian_flops,
	.doc = "gaussian(mu, logvar): sample mu + exp(logvar / 2) * eps, eps ~ N(0, 1) in training; mu otherwise"};

/* gaussian_dlogvar(logvar, dy, z): dy exp(logvar / 2) eps / 2, where eps is
 * drawn again from the stream of the forward node z (its values unread). */
static void gaussian_dlogvar_emit(Emit *e, Node *n)
{
	const char *d = emit_ref(e, n), *lv = emit_ref(e, n->in[0]), *dy = emit_ref(e, n->in[1]);
	open_stream(e, n->in[2]);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = stochastic ? %s * %s[i] * %s(%s * %s[i]) * (%s)%s(key, (uint64_t)i) : 0;", d,
		  emit_num(e, 0.5), dy, exp_fn(e), emit_num(e, 0.5), lv, emit_real(e), emit_helper(e, "normal"));
	close_block(e);
}

const OpDef op_gaussian_dlogvar = {
	.name = "gaussian_dlogvar", .shape = same_as_input, .emit = gaussian_dlogvar_emit,
	.flops = gaussian_flops, .doc = "gradient of gaussian with respect to logvar, eps drawn again"};

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

/* The divisor of the reduction as a C expression (double); NULL for the sum. */
static const char *kl_divisor(Emit *e, const Node *n)
{
	switch (n->iattr[0]) {
	case KL_MEAN:
		return xasprintf("(double)(%s)", emit_count(e, n->in[0], 1));
	case KL_BATCHMEAN:
		return "(double)n";
	default:
		return NULL;
	}
}

/* The KL sum of node kl, with the statement `also` for element i (or
 * NULL) in the same loop. */
static void kl_body(Emit *e, const Node *kl, const char *also)
{
	const char *mu = emit_ref(e, kl->in[0]), *lv = emit_ref(e, kl->in[1]);
	const char *term = xasprintf("sum += 1 + (double)%s[i] - (double)%s[i] * %s[i] - exp((double)%s[i]);", lv,
				     mu, mu, lv);
	emit_sum_begin(e, emit_count(e, kl->in[0], 1), also ? xasprintf("%s\n%s", also, term) : term, NULL);
	const char *div = kl_divisor(e, kl);
	emit_line(e, "%s[0] = (%s)(-0.5 * acc%s%s);", emit_ref(e, kl), emit_real(e), div ? " / " : "", div ? div : "");
	emit_sum_end(e);
}

static void kl_emit(Emit *e, Node *n)
{
	const Node *z = emit_partner(e, n);
	if (!z) {
		kl_body(e, n, NULL);
		return;
	}
	open_stream(e, z);
	kl_body(e, n, gaussian_element(e, z));
	close_block(e);
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
	.grad = kl_grad, .emit = kl_emit, .flops = kl_flops,
	.doc = "kl_normal(mu, logvar, reduction = \"sum\"): KL(N(mu, exp(logvar)) || N(0, I)); sum, mean or batchmean"};

/* kl_normal_grad(mu, logvar, dy): the gradient with respect to mu
 * (iattr[1] = 0) or logvar (1); iattr[0] is the reduction. */
static int kl_grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

static void kl_grad_emit(Emit *e, Node *n)
{
	const char *d = emit_ref(e, n), *x = emit_ref(e, n->in[n->iattr[1]]), *r = emit_real(e);
	emit_line(e, "{");
	emit_indent(e, 1);
	const char *div = kl_divisor(e, n);
	if (div)
		emit_line(e, "const %s k = (%s)(%s[0] / %s);", r, r, emit_ref(e, n->in[2]), div);
	else
		emit_line(e, "const %s k = %s[0];", r, emit_ref(e, n->in[2]));
	open_loop(e, n);
	if (n->iattr[1] == 0)
		emit_line(e, "\t%s[i] = k * %s[i];", d, x);
	else
		emit_line(e, "\t%s[i] = k * %s * (%s(%s[i]) - 1);", d, emit_num(e, 0.5), exp_fn(e), x);
	close_block(e);
}

const OpDef op_kl_normal_grad = {
	.name = "kl_normal_grad", .shape = kl_grad_shape, .emit = kl_grad_emit, .flops = kl_flops,
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

static void gaussian_noise_emit(Emit *e, Node *n)
{
	if (!emit_training(e)) {
		emit_copy(e, n);
		return;
	}
	open_stream(e, n);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i] + (stochastic ? (%s)(%s * %s(key, (uint64_t)i)) : 0);", emit_ref(e, n),
		  emit_ref(e, n->in[0]), emit_real(e), emit_num(e, n->fattr[0]), emit_helper(e, "normal"));
	close_block(e);
}

/* The noise is added: the gradient passes unchanged. */
static void pass_grad(Graph *g, Node *n, Node *dy) { grad_accumulate(g, n->in[0], dy); }

const OpDef op_gaussian_noise = {
	.name = "gaussian_noise", .lower = gaussian_noise_lower, .args = gaussian_noise_args, .nargs = 2,
	.shape = same_as_input, .grad = pass_grad, .emit = gaussian_noise_emit, .flops = elementwise_flops,
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

/* NaN stays NaN, as in torch.clamp. */
static void clamp_emit(Emit *e, Node *n)
{
	const char *lo = emit_num(e, n->fattr[0]), *hi = emit_num(e, n->fattr[1]);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i] < %s ? %s : %s[i] > %s ? %s : %s[i];", emit_ref(e, n), emit_ref(e, n->in[0]),
		  lo, lo, emit_ref(e, n->in[0]), hi, hi, emit_ref(e, n->in[0]));
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
	.grad = clamp_grad, .emit = clamp_emit, .flops = elementwise_flops,
	.doc = "clamp(lo, hi): min(max(x, lo), hi); the gradient passes where lo <= x <= hi"};

/* clamp_grad(x, dy): dy where lo <= x <= hi, else 0 (torch.clamp's rule,
 * bounds included). Linear in dy, constant in x almost everywhere. */
static void clamp_grad_emit(Emit *e, Node *n)
{
	const char *x = emit_ref(e, n->in[0]);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i] >= %s && %s[i] <= %s ? %s[i] : 0;", emit_ref(e, n), x,
		  emit_num(e, n->fattr[0]), x, emit_num(e, n->fattr[1]), emit_ref(e, n->in[1]));
}

static void clamp_grad_grad(Graph *g, Node *n, Node *ddx)
{
	grad_accumulate(g, n->in[1], clamp_grad_node(g, n, n->in[0], ddx));
}

const OpDef op_clamp_grad = {
	.name = "clamp_grad", .shape = same_as_input, .grad = clamp_grad_grad, .emit = clamp_grad_emit,
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

/* v[i] = 0 with probability p, else k v[i]: element i of the stream `key`
 * is dropped when its uniform number falls below p. */
static void emit_masked(Emit *e, const Node *n, const Node *v)
{
	const char *k = n->fattr[1] == 1 ? "" : xasprintf("%s * ", emit_num(e, n->fattr[1]));
	open_loop(e, n);
	emit_line(e, "\t%s[i] = !stochastic ? %s[i] : %s(key, (uint64_t)i) < %.17g ? 0 : %s%s[i];", emit_ref(e, n),
		  emit_ref(e, v), emit_helper(e, "uniform"), n->fattr[0], k, emit_ref(e, v));
}

static void mask_emit(Emit *e, Node *n)
{
	if (!emit_training(e)) {
		emit_copy(e, n);
		return;
	}
	open_stream(e, n);
	emit_masked(e, n, n->in[0]);
	close_block(e);
}

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
	.shape = same_as_input, .grad = mask_grad, .emit = mask_emit, .flops = elementwise_flops,
	.doc = "masking_noise(p): each element set to 0 with probability p, in training only"};
const OpDef op_dropout = {
	.name = "dropout", .lower = dropout_lower, .args = mask_args, .nargs = 2,
	.shape = same_as_input, .grad = mask_grad, .emit = mask_emit, .flops = elementwise_flops,
	.doc = "dropout(p): each element set to 0 with probability p, the others scaled by 1 / (1 - p), in training only"};

/* mask_grad(dy, y): dy through the mask of the forward node y (masking
 * noise or dropout), drawn again from y's stream; y's values are unread.
 * Linear in dy, so its own gradient is the same mask. */
static void mask_grad_emit(Emit *e, Node *n)
{
	open_stream(e, n->in[1]);
	emit_masked(e, n, n->in[0]);
	close_block(e);
}

static void mask_grad_grad(Graph *g, Node *n, Node *ddx)
{
	grad_accumulate(g, n->in[0], mask_grad_node(g, n->in[1], ddx));
}

const OpDef op_mask_grad = {
	.name = "mask_grad", .shape = same_as_input, .grad = mask_grad_grad, .emit = mask_grad_emit,
	.flops = elementwise_flops, .doc = "gradient of masking_noise and dropout: dy through the same mask"};
