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
	emit_line(e, "%s(n, %zu, %s, %s);", emit_helper(e, "sum_rows"), shape_elems(n->shape), emit_ref(e, n->in[0]),
		  emit_ref(e, n));
}
