/* loss.c - the C rows of the reconstruction losses and their gradients
 * (ops/loss.c): a loss is a call of its sum helper (NAME_mse, NAME_bce,
 * NAME_bce_logits), a sum in fixed slices (emit_sum_function) written once
 * per file; with its gradient as partner (fuse.c) the same call writes the
 * gradient too. Requires: emit.h. Provides: their rows and helpers. */
#include "emit.h"

/* Scale of the gradient as a C expression: dy / count for the mean (the
 * whole batch's count), dy for the sum. */
static const char *grad_scale(Emit *e, const Node *n)
{
	if (n->iattr[0])
		return xasprintf("(%s)(%s / (double)(%s))", emit_real(e), emit_scalar(e, n->in[2]),
				 emit_batch_count(e, n));
	return emit_scalar(e, n->in[2]);
}

/* What a loss's sum is divided by: the whole batch's count for the mean,
 * NULL for the sum. */
static const char *loss_divisor(Emit *e, const Node *n)
{
	return n->iattr[0] ? xasprintf("(double)(%s)", emit_batch_count(e, n->in[0])) : NULL;
}

/* The gradient's statement for element i into g[i] with the scale k:
 * mse_grad, bce_grad of the prediction a and the target b, or with logits
 * bce_grad from the logits, where y = sigmoid(z). */
static const char *grad_element(Emit *e, const OpDef *op, int logits, const char *g, const char *a, const char *b,
				const char *y)
{
	if (op == &op_mse_grad)
		return xasprintf("%s[i] = 2 * k * (%s[i] - %s[i]);", g, a, b);
	if (logits)
		return xasprintf("%s[i] = k * (%s[i] - %s[i]);", g, y, b);
	return xasprintf("{ %s q = (1 - %s[i]) * %s[i]; %s[i] = k * (%s[i] - %s[i]) / (q > %s ? q : %s); }",
			 emit_real(e), a, a, g, a, b, emit_num(e, 1e-12), emit_num(e, 1e-12));
}

/* After a block of `count` gradient elements of g from i0: the fused
 * activation's derivative (act, slope: C expressions), spelled from its
 * output y, by the helper `fn` ("act"). */
static const char *act_block(const char *fn, const char *act, const char *slope, const char *g, const char *y,
			     const char *i0, const char *count)
{
	return xasprintf("%s(%s, %s, 1, %s, %s + %s, 0, %s + %s, 0, %s + %s, 0);", fn, act, slope, count, g, i0, y, i0, g,
			 i0);
}

/* Each loss's terms for element i of the prediction a and the target b. */
static const char mse_terms[] = "double d = (double)a[i] - (double)b[i];\nsum += d * d;";
/* log clamped at -100 as PyTorch's BCELoss does, so a = 0 or 1 is finite. */
static const char bce_terms[] =
	"double p = a[i], t = b[i], lp = p > 0 ? log(p) : -100, lq = p < 1 ? log(1 - p) : -100;\n"
	"sum += -(t * (lp < -100 ? -100 : lp) + (1 - t) * (lq < -100 ? -100 : lq));";

void c_helper_mse(Emit *e, const char *P, const char *r)
{
	emit_raw(e, "/* The sum of (a - b)^2 over count elements (mse). Unless g is NULL, the\n"
		    " * same pass writes the gradient g = 2 k (a - b), times the derivative of\n"
		    " * activation act (if not 0), spelled from its output y, a slice at a\n"
		    " * time while the slice is in the cache. */\n");
	emit_sum_function(e, "mse", xasprintf("const %s *a, const %s *b, %s *g, %s k, int act, %s slope, const %s *y", r, r, r, r, r, r),
			  emit_sum_slice("g", xasprintf("%s\n%s", mse_terms, grad_element(e, &op_mse_grad, 0, "g", "a", "b", NULL)),
					 xasprintf("if (act)\n\t%s", act_block(xasprintf("%s_act", P), "act", "slope", "g", "y", "i0", "i1 - i0")),
					 mse_terms));
}

void c_helper_bce(Emit *e, const char *P, const char *r)
{
	(void)P;
	emit_raw(e, "/* The sum of the binary cross-entropy of the probabilities a against the\n"
		    " * targets b over count elements (bce). Unless g is NULL, the same pass\n"
		    " * writes the gradient g = k (a - b) / max(a (1 - a), 1e-12). */\n");
	emit_sum_function(e, "bce", xasprintf("const %s *a, const %s *b, %s *g, %s k", r, r, r, r),
			  emit_sum_slice("g", xasprintf("%s\n%s", bce_terms, grad_element(e, &op_bce_grad, 0, "g", "a", "b", NULL)),
					 NULL, bce_terms));
}

void c_helper_bce_logits(Emit *e, const char *P, const char *r)
{
	emit_raw(e, "/* The sum of the binary cross-entropy of the logits z (y = sigmoid(z))\n"
		    " * against the targets t over count elements (bce from the logits), a\n"
		    " * slice at a time by %s_bce_logits_slice; unless g is NULL, with the\n"
		    " * gradient g = k (y - t). */\n", P);
	emit_sum_function(e, "bce_logits", xasprintf("const %s *z, const %s *y, const %s *t, %s *g, %s k", r, r, r, r, r),
			  xasprintf("sum += %s_bce_logits_slice(i1 - i0, z + i0, y + i0, t + i0, g ? g + i0 : NULL, k);", P));
}

/* A loss n with its helper `name`: the prediction and the target, then,
 * with its gradient d as partner, d, its scale and `more` (else zeros). */
static void emit_loss(Emit *e, Node *n, const char *name, const char *inputs, const char *more, const char *none)
{
	const Node *d = emit_partner(e, n);
	emit_sum_call(e, n, NULL, xasprintf("%s(%s, %s", emit_sum_helper(e, name), emit_count(e, n->in[0], 1), inputs),
		      d ? xasprintf("%s, %s%s", emit_ref(e, d), grad_scale(e, d), more) : none, loss_divisor(e, n));
}

void c_mse(Emit *e, Node *n)
{
	const Node *d = emit_partner(e, n);
	const char *act = d && d->iattr[1]
		? xasprintf(", %s, %s, %s", act_code(e, (int)d->iattr[1] - 1), emit_num(e, d->fattr[0]), emit_ref(e, d->in[3]))
		: ", 0, 0, NULL";
	emit_loss(e, n, "mse", xasprintf("%s, %s", emit_ref(e, n->in[0]), emit_ref(e, n->in[1])), act,
		  "NULL, 0, 0, 0, NULL");
}

void c_bce(Emit *e, Node *n)
{
	const char *p = emit_ref(e, n->in[0]), *t = emit_ref(e, n->in[1]);
	if (n->iattr[1]) /* from the logits p, with y = sigmoid(p) */
		emit_loss(e, n, "bce_logits", xasprintf("%s, %s, %s", p, emit_ref(e, n->in[2]), t), "", "NULL, 0");
	else
		emit_loss(e, n, "bce", xasprintf("%s, %s", p, t), "", "NULL, 0");
}

/* The next loop, over the elements of n, computes each on its own: with
 * OpenMP, threads share out large ones. */
static void emit_parallel_elements(Emit *e, const Node *n)
{
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(dynamic, 4096) if (%s >= 32768)\n#endif\n",
		 emit_count(e, n, 1));
}

/* mse_grad(a, b, dy) = dy * 2 (a - b) / count; bce_grad(p, t, dy) =
 * dy (p - t) / max(p (1 - p), 1e-12) / count, as PyTorch, or from the
 * logits dy (y - t) / count. Fused with the derivative of the output's
 * activation (fuse.c), both a block at a time, while the block is in the
 * cache. Computed on their own where the loss is not their partner
 * (unfused, or apart from the loss's evaluation). */
static void loss_grad_emit(Emit *e, Node *n)
{
	const char *cnt = emit_count(e, n, 1), *g = emit_ref(e, n);
	const char *y = n->nin > 3 ? emit_ref(e, n->in[3]) : NULL;
	const int logits = n->op == &op_bce_grad && n->iattr[1];
	const char *element = grad_element(e, n->op, logits, g, emit_ref(e, n->in[0]), emit_ref(e, n->in[1]), y);
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const %s k = %s;", emit_real(e), grad_scale(e, n));
	emit_parallel_elements(e, n);
	if (n->op != &op_mse_grad || !n->iattr[1]) {
		emit_line(e, "for (long i = 0; i < %s; i++)", cnt);
		emit_line(e, "\t%s", element);
	} else {
		emit_line(e, "for (long i0 = 0; i0 < %s; i0 += 1024) {", cnt);
		emit_line(e, "\tconst long c = %s - i0 < 1024 ? %s - i0 : 1024;", cnt, cnt);
		emit_line(e, "\tfor (long i = i0; i < i0 + c; i++)");
		emit_line(e, "\t\t%s", element);
		emit_line(e, "\t%s", act_block(emit_helper(e, "act"), act_code(e, (int)n->iattr[1] - 1),
					       emit_num(e, n->fattr[0]), g, y, "i0", "c"));
		emit_line(e, "}");
	}
	emit_indent(e, -1);
	emit_line(e, "}");
}

void c_mse_grad(Emit *e, Node *n) { loss_grad_emit(e, n); }
void c_bce_grad(Emit *e, Node *n) { loss_grad_emit(e, n); }
