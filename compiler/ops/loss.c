/* op_loss.c - reconstruction losses and their gradients. Each loss reduces
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

/* Scale of the gradient: dy / count for the mean, dy for the sum. */
static void emit_grad_scale(Emit *e, const Node *n)
{
	if (n->iattr[0])
		emit_line(e, "const %s k = (%s)(%s[0] / (double)(%s));", emit_real(e), emit_real(e),
			  emit_ref(e, n->in[2]), emit_count(e, n, 1));
	else
		emit_line(e, "const %s k = %s[0];", emit_real(e), emit_ref(e, n->in[2]));
}

/* The gradient's statement for element i (mse_grad, bce_grad), and what
 * follows each block of elements (the fused activation's derivative). */
static const char *grad_element(Emit *e, const Node *d)
{
	const char *out = emit_ref(e, d), *a = emit_ref(e, d->in[0]), *b = emit_ref(e, d->in[1]);
	if (d->op == &op_mse_grad)
		return xasprintf("%s[i] = 2 * k * (%s[i] - %s[i]);", out, a, b);
	if (d->iattr[1]) /* bce from the logits: in[3] is y = sigmoid(z) */
		return xasprintf("%s[i] = k * (%s[i] - %s[i]);", out, emit_ref(e, d->in[3]), b);
	return xasprintf("{ %s q = (1 - %s[i]) * %s[i]; %s[i] = k * (%s[i] - %s[i]) / (q > %s ? q : %s); }",
			 emit_real(e), a, a, out, a, b, emit_num(e, 1e-12), emit_num(e, 1e-12));
}

static const char *grad_block(Emit *e, const Node *d, const char *i0, const char *count)
{
	if (d->op != &op_mse_grad || !d->iattr[1])
		return NULL;
	const char *out = emit_ref(e, d);
	return xasprintf("%s(%s, %s, 1, %s, %s + %s, 0, %s + %s, 0, %s + %s, 0);", emit_helper(e, "act"),
			 act_code(e, (int)d->iattr[1] - 1), emit_num(e, d->fattr[0]), count, out, i0,
			 emit_ref(e, d->in[3]), i0, out, i0);
}

/* Loss n as a sum over its elements (emit_sum_begin with `body` and
 * `after`), then the reduction; d, its gradient computed in the same loop
 * (fuse.c) or NULL, takes the scale k declared first. */
static void emit_loss_sum(Emit *e, Node *n, const Node *d, const char *body, const char *after)
{
	const char *cnt = emit_count(e, n->in[0], 1);
	emit_line(e, "{");
	emit_indent(e, 1);
	if (d)
		emit_grad_scale(e, d);
	emit_sum_begin(e, cnt, body, after);
	if (n->iattr[0])
		emit_line(e, "%s[0] = (%s)(acc / (double)(%s));", emit_ref(e, n), emit_real(e), cnt);
	else
		emit_line(e, "%s[0] = (%s)acc;", emit_ref(e, n), emit_real(e));
	emit_sum_end(e);
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* Loss n: `pre` and `term` per element summed; with its gradient as
 * partner (fuse.c), the same loop writes the gradient too. */
static void emit_reduce(Emit *e, Node *n, const char *pre, const char *term)
{
	const Node *d = emit_partner(e, n);
	const char *body = xasprintf("%s\nsum += %s;", pre, term);
	emit_loss_sum(e, n, d, d ? xasprintf("%s\n%s", body, grad_element(e, d)) : body,
		      d ? grad_block(e, d, "i0", "i1 - i0") : NULL);
}

/* The next loop, over the elements of n, computes each on its own: with
 * OpenMP, threads share out large ones. */
static void emit_parallel_elements(Emit *e, const Node *n)
{
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(static) if (%s >= 32768)\n#endif\n",
		 emit_count(e, n, 1));
}

static void mse_emit(Emit *e, Node *n)
{
	emit_reduce(e, n, xasprintf("double d = (double)%s[i] - (double)%s[i];", emit_ref(e, n->in[0]),
				    emit_ref(e, n->in[1])),
		    "d * d");
}

/* log clamped at -100 as PyTorch's BCELoss does, so p = 0 or 1 is finite. */
static void bce_emit(Emit *e, Node *n)
{
	const char *p = emit_ref(e, n->in[0]), *t = emit_ref(e, n->in[1]);
	if (n->iattr[1]) { /* from the logits: a vector helper per slice */
		const Node *d = emit_partner(e, n);
		emit_loss_sum(e, n, d, NULL,
			      xasprintf("sum += %s(i1 - i0, %s + i0, %s + i0, %s + i0, %s, %s);",
					emit_helper(e, "bce_logits"), p, emit_ref(e, n->in[2]), t,
					d ? xasprintf("%s + i0", emit_ref(e, d)) : "NULL", d ? "k" : "0"));
		return;
	}
	emit_reduce(e, n,
		    xasprintf("double p = %s[i], t = %s[i], lp = p > 0 ? log(p) : -100, lq = p < 1 ? log(1 - p) : -100;", p, t),
		    "-(t * (lp < -100 ? -100 : lp) + (1 - t) * (lq < -100 ? -100 : lq))");
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
	.grad = mse_grad, .emit = mse_emit, .flops = loss_flops,
	.doc = "mse(input, target, reduction = \"mean\"): squared error, mean over all elements or sum"};
const OpDef op_bce = {
	.name = "bce", .lower = bce_lower, .args = loss_args, .nargs = 3, .shape = loss_shape,
	.grad = bce_grad, .emit = bce_emit, .flops = loss_flops,
	.doc = "bce(input, target, reduction = \"mean\"): binary cross-entropy of probabilities (log clamped at -100); "
	       "of a sigmoid's output, computed from its logits"};

static int grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

/* mse_grad(a, b, dy) = dy * 2 (a - b) / count; bce_grad(p, t, dy) =
 * dy (p - t) / max(p (1 - p), 1e-12) / count, as PyTorch, or from the
 * logits dy (y - t) / count. Fused with the derivative of the output's
 * activation (fuse.c), both a block at a time, while the block is in the
 * cache. */
static void loss_grad_emit(Emit *e, Node *n)
{
	const char *cnt = emit_count(e, n, 1), *block = grad_block(e, n, "i0", "c");
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_grad_scale(e, n);
	emit_parallel_elements(e, n);
	if (!block) {
		emit_line(e, "for (long i = 0; i < %s; i++)", cnt);
		emit_line(e, "\t%s", grad_element(e, n));
	} else {
		emit_line(e, "for (long i0 = 0; i0 < %s; i0 += 1024) {", cnt);
		emit_line(e, "\tconst long c = %s - i0 < 1024 ? %s - i0 : 1024;", cnt, cnt);
		emit_line(e, "\tfor (long i = i0; i < i0 + c; i++)");
		emit_line(e, "\t\t%s", grad_element(e, n));
		emit_line(e, "\t%s", block);
		emit_line(e, "}");
	}
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* "mse_grad*sigmoid'" when fused with the derivative of the output's activation. */
static const char *mse_grad_label(const Node *n)
{
	return n->iattr[1] ? xasprintf("mse_grad*%s'", act_name((int)n->iattr[1] - 1)) : n->op->name;
}

const OpDef op_mse_grad = {
	.name = "mse_grad", .shape = grad_shape, .emit = loss_grad_emit, .flops = loss_flops, .label = mse_grad_label,
	.doc = "gradient of mse with respect to its input"};
const OpDef op_bce_grad = {
	.name = "bce_grad", .shape = grad_shape, .emit = loss_grad_emit, .flops = loss_flops,
	.doc = "gradient of bce with respect to its input"};
