/* adam.c - the C row of the Adam update (ops/adam.c): one call of the
 * "adam" helper per parameter, with the per-step scalars the emitter
 * defines in `adam_k`. Requires: emit.h. Provides: its row,
 * adam_emit_loop(). */
#include "emit.h"

void adam_emit_loop(Emit *e, const char *p, const char *m, const char *v, const char *g, size_t count)
{
	emit_line(e, "%s(%zu, %s, %s, %s, %s, &adam_k);", emit_helper(e, "adam"), count, p, m, v, g);
}

void c_adam(Emit *e, Node *n)
{
	Node *p = n->in[0];
	emit_line(e, "/* %s */", p->name);
	adam_emit_loop(e, emit_ref(e, p), xasprintf("adam_m + %ld", n->iattr[0]),
		       xasprintf("adam_v + %ld", n->iattr[0]), emit_ref(e, n->in[1]), shape_elems(p->shape));
}
