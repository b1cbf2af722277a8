/* contractive.c - the C rows of the contractive penalty and the ops its
 * expansion uses (ops/contractive.c): contractive, basis, sumsq,
 * sumsq_grad. Requires: emit.h. Provides: their rows. */
#include "emit.h"

/* The penalty's value is its first input, the sum the expansion built. */
void c_contractive(Emit *e, Node *n)
{
	emit_line(e, "%s[0] = %s;", emit_ref(e, n), emit_scalar(e, n->in[0]));
}

void c_basis(Emit *e, Node *n)
{
	size_t k = shape_elems(n->shape);
	emit_line(e, "memset(%s, 0, sizeof *%s * %s);", emit_ref(e, n), emit_ref(e, n), emit_count(e, n, 1));
	emit_line(e, "for (long b = 0; b < n; b++)");
	emit_line(e, "\t%s[b * %zu + %ld] = 1;", emit_ref(e, n), k, n->iattr[0]);
}

void c_sumsq(Emit *e, Node *n)
{
	const char *a = emit_ref(e, n->in[0]);
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "double acc = 0;");
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n->in[0], 1));
	emit_line(e, "\tacc += (double)%s[i] * %s[i];", a, a);
	emit_line(e, "%s[0] = (%s)(acc%s);", emit_ref(e, n), emit_real(e), n->iattr[0] ? " / batch_rows" : "");
	emit_indent(e, -1);
	emit_line(e, "}");
}

void c_sumsq_grad(Emit *e, Node *n)
{
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const %s k = (%s)(2 * (double)%s%s);", emit_real(e), emit_real(e),
		  emit_scalar(e, n->in[1]), n->iattr[0] ? " / batch_rows" : "");
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
	emit_line(e, "\t%s[i] = k * %s[i];", emit_ref(e, n), emit_ref(e, n->in[0]));
	emit_indent(e, -1);
	emit_line(e, "}");
}
