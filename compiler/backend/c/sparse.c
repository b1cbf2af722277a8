/* sparse.c - the C rows of the sparsity penalties, top-k selection and
 * concatenation (ops/sparse.c). Requires: emit.h, attrs.h. Provides:
 * their rows. */
#include "attrs.h"
#include "emit.h"

void c_l1(Emit *e, Node *n)
{
	const char *cnt = emit_count(e, n->in[0], 1);
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "double acc = 0;");
	emit_line(e, "for (long i = 0; i < %s; i++)", cnt);
	emit_line(e, "\tacc += fabs((double)%s[i]);", emit_ref(e, n->in[0]));
	if (n->iattr[0])
		emit_line(e, "%s[0] = (%s)(acc / (double)(%s));", emit_ref(e, n), emit_real(e),
			  emit_batch_count(e, n->in[0]));
	else
		emit_line(e, "%s[0] = (%s)acc;", emit_ref(e, n), emit_real(e));
	emit_indent(e, -1);
	emit_line(e, "}");
}

void c_l1_grad(Emit *e, Node *n)
{
	const char *r = emit_real(e), *cnt = emit_count(e, n, 1), *z = emit_ref(e, n->in[0]);
	emit_line(e, "{");
	emit_indent(e, 1);
	if (n->iattr[0])
		emit_line(e, "const %s k = (%s)(%s / (double)(%s));", r, r, emit_scalar(e, n->in[1]),
			  emit_batch_count(e, n));
	else
		emit_line(e, "const %s k = %s;", r, emit_scalar(e, n->in[1]));
	emit_line(e, "for (long i = 0; i < %s; i++)", cnt);
	emit_line(e, "\t%s[i] = %s[i] > 0 ? k : %s[i] < 0 ? -k : 0;", emit_ref(e, n), z, z);
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* Open a loop over the units of z that leaves `s`, the unit's clamped mean
 * over the batch, in a double; the caller closes it. */
static void emit_unit_mean(Emit *e, const Node *z)
{
	size_t units = shape_elems(z->shape);
	emit_line(e, "for (long j = 0; j < %zu; j++) {", units);
	emit_indent(e, 1);
	emit_line(e, "double s = 0;");
	emit_line(e, "for (long b = 0; b < n; b++)");
	emit_line(e, "\ts += %s[b * %zu + j];", emit_ref(e, z), units);
	emit_line(e, "s /= n; /* the mean activation of unit j */");
}

void c_kl_sparsity(Emit *e, Node *n)
{
	const char *rho = xasprintf("%.17g", n->fattr[0]);
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const double rho = %s, lo = %g, hi = 1 - %g;", rho, KL_CLAMP, KL_CLAMP);
	emit_line(e, "double acc = 0;");
	emit_unit_mean(e, n->in[0]);
	emit_line(e, "s = s < lo ? lo : s > hi ? hi : s;");
	emit_line(e, "acc += rho * log(rho / s) + (1 - rho) * log((1 - rho) / (1 - s));");
	emit_indent(e, -1);
	emit_line(e, "}");
	/* a part of a batch (NAME_gradient_part) weighs its own target by its share */
	emit_line(e, "%s[0] = (%s)(acc * ((double)n / (double)batch_rows));", emit_ref(e, n), emit_real(e));
	emit_indent(e, -1);
	emit_line(e, "}");
}

void c_kl_sparsity_grad(Emit *e, Node *n)
{
	const char *r = emit_real(e);
	size_t units = shape_elems(n->shape);
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const double rho = %.17g, lo = %g, hi = 1 - %g, k = %s / (double)batch_rows;",
		  n->fattr[0], KL_CLAMP, KL_CLAMP, emit_scalar(e, n->in[1]));
	emit_unit_mean(e, n->in[0]);
	emit_line(e, "const %s d = (%s)(s < lo || s > hi ? 0 : k * ((1 - rho) / (1 - s) - rho / s));", r, r);
	emit_line(e, "for (long b = 0; b < n; b++)");
	emit_line(e, "\t%s[b * %zu + j] = d;", emit_ref(e, n), units);
	emit_indent(e, -1);
	emit_line(e, "}");
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* Loop over the samples b and units i of n's input z (both topk and
 * topk_grad read z first) with `keep` set for the units topk keeps, and
 * run `body`, a statement of b, i, row (the sample) and keep. */
static void emit_topk_loop(Emit *e, const Node *n, const char *body)
{
	const Node *z = n->in[0];
	long units = z->shape.dims[0];
	emit_line(e, "for (long b = 0; b < n; b++) {");
	emit_indent(e, 1);
	emit_line(e, "const %s *row = %s + b * %ld;", emit_real(e), emit_ref(e, z), units);
	emit_line(e, "for (long i = 0; i < %ld; i++) {", units);
	emit_indent(e, 1);
	emit_line(e, "long before = 0; /* units that rank before unit i */");
	emit_line(e, "for (long j = 0; j < %ld; j++)", units);
	emit_line(e, "\tbefore += row[j] > row[i] || (row[j] == row[i] && j < i);");
	emit_line(e, "const int keep = before < %ld;", n->iattr[0]);
	emit_line(e, "%s", body);
	emit_indent(e, -1);
	emit_line(e, "}");
	emit_indent(e, -1);
	emit_line(e, "}");
}

void c_topk(Emit *e, Node *n)
{
	emit_topk_loop(e, n,
		       xasprintf("%s[b * %d + i] = keep ? row[i] : 0;", emit_ref(e, n), n->shape.dims[0]));
}

void c_topk_grad(Emit *e, Node *n)
{
	int units = n->shape.dims[0];
	emit_topk_loop(e, n,
		       xasprintf("%s[b * %d + i] = keep ? %s[b * %d + i] : 0;", emit_ref(e, n), units,
				 emit_ref(e, n->in[1]), units));
}

void c_concat(Emit *e, Node *n)
{
	size_t total = shape_elems(n->shape), at = 0;
	emit_line(e, "for (long b = 0; b < n; b++) {");
	for (int i = 0; i < n->nin; i++) {
		size_t k = shape_elems(n->in[i]->shape);
		emit_line(e, "\tmemcpy(%s + b * %zu + %zu, %s + b * %zu, sizeof(%s) * %zu);", emit_ref(e, n), total,
			  at, emit_ref(e, n->in[i]), k, emit_real(e), k);
		at += k;
	}
	emit_line(e, "}");
}

void c_concat_slice(Emit *e, Node *n)
{
	size_t k = shape_elems(n->shape), total = shape_elems(n->in[0]->shape);
	size_t at = (size_t)n->iattr[0] * (k / (size_t)n->iattr[1]);
	emit_line(e, "for (long b = 0; b < n; b++)");
	emit_line(e, "\tmemcpy(%s + b * %zu, %s + b * %zu + %zu, sizeof(%s) * %zu);", emit_ref(e, n), k,
		  emit_ref(e, n->in[0]), total, at, emit_real(e), k);
}
