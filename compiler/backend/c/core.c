/* core.c - the C rows of the leaves and the arithmetic (ops/core.c):
 * input, param, constant, add, sub, scale, sum_batch.
 * Requires: emit.h. Provides: their rows of the table. */
#include "emit.h"

/* Inputs and parameters are pointers the function declares (emit.c). */
void c_input(Emit *e, Node *n) { (void)e, (void)n; }
void c_param(Emit *e, Node *n) { (void)e, (void)n; }

void c_constant(Emit *e, Node *n)
{
	emit_line(e, "%s[0] = %s;", emit_ref(e, n), emit_num(e, n->fattr[0]));
}

static void emit_binary(Emit *e, Node *n, char op)
{
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
	emit_line(e, "\t%s[i] = %s[i] %c %s[i];", emit_ref(e, n), emit_ref(e, n->in[0]), op,
		  emit_ref(e, n->in[1]));
}

void c_add(Emit *e, Node *n) { emit_binary(e, n, '+'); }
void c_sub(Emit *e, Node *n) { emit_binary(e, n, '-'); }

void c_scale(Emit *e, Node *n)
{
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
	emit_line(e, "\t%s[i] = %s * %s[i];", emit_ref(e, n), emit_num(e, n->fattr[0]),
		  emit_ref(e, n->in[0]));
}

void c_sum_batch(Emit *e, Node *n)
{
	const char *y = emit_ref(e, n), *x = emit_ref(e, n->in[0]);
	size_t k = shape_elems(n->shape);
	/* threads take blocks of 64 columns; each column adds up its batch in order */
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(static) if (n * %zu >= 32768)\n#endif\n", k);
	emit_line(e, "for (long j0 = 0; j0 < %zu; j0 += 64) {", k);
	emit_line(e, "\tconst long j1 = j0 + 64 < %zu ? j0 + 64 : %zu;", k, k);
	emit_line(e, "\tfor (long j = j0; j < j1; j++)");
	emit_line(e, "\t\t%s[j] = 0;", y);
	emit_line(e, "\tfor (long b = 0; b < n; b++)");
	emit_line(e, "\t\tfor (long j = j0; j < j1; j++)");
	emit_line(e, "\t\t\t%s[j] += %s[b * %zu + j];", y, x, k);
	emit_line(e, "}");
}
