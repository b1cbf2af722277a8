/* table.c - the C backend's op table: every op of OP_LIST (ops.h) and its
 * row c_NAME, defined in the file of its group (core.c, act.c, dense.c,
 * ...). An op without a row does not link; a node finds its row by a
 * scan, as an instruction finds its format in QBE's omap.
 * Requires: emit.h. Provides: c_emit_op(). */
#include "emit.h"

static const struct {
	const OpDef *op;                 /* the op */
	void (*emit)(Emit *e, Node *n);  /* its C */
} rows[] = {
#define X(name) {&op_##name, c_##name},
	OP_LIST(X)
#undef X
};

void c_emit_op(Emit *e, Node *n)
{
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		if (rows[i].op == n->op) {
			rows[i].emit(e, n);
			return;
		}
	ICE("op %s has no C row", n->op->name);
}
