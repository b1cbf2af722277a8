/* loss.c - the C rows of the reconstruction losses and their gradients
 * (ops/loss.c): a loss is a sum in fixed slices (emit_sum_begin); with its
 * gradient as partner (fuse.c) the same loop writes the gradient too.
 * Requires: emit.h. Provides: their rows. */
#include "emit.h"

/* Scale of the gradient: dy / count for the mean (the whole batch's
 * count), dy for the sum. */
static void emit_grad_scale(Emit *e, const Node *n)
{
	if (n->iattr[0])
		emit_line(e, "const %s k = (%s)(%s[0] / (double)(%s));", emit_real(e), emit_real(e),
			  emit_ref(e, n->in[2]), emit_batch_count(e, n));
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
		emit_line(e, "%s[0] = (%s)(acc / (double)(%s));", emit_ref(e, n), emit_real(e),
			  emit_batch_count(e, n->in[0]));
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
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(dynamic, 4096) if (%s >= 32768)\n#endif\n",
		 emit_count(e, n, 1));
}

void c_mse(Emit *e, Node *n)
{
	emit_reduce(e, n, xasprintf("double d = (double)%s[i] - (double)%s[i];", emit_ref(e, n->in[0]),
				    emit_ref(e, n->in[1])),
		    "d * d");
}

/* log clamped at -100 as PyTorch's BCELoss does, so p = 0 or 1 is finite. */
void c_bce(Emit *e, Node *n)
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

void c_mse_grad(Emit *e, Node *n) { loss_grad_emit(e, n); }
void c_bce_grad(Emit *e, Node *n) { loss_grad_emit(e, n); }
