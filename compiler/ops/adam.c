/* op_adam.c - the Adam update of one parameter, as torch.optim.Adam
 * (L2 weight decay added to the gradient, bias corrections applied as
 * step_size = lr / (1 - beta1^t) and denom = sqrt(v) / sqrt(1 - beta2^t) + eps).
 * adam(param, grad): updates the parameter and its moments in the state;
 * the emitter defines the per-step scalars it reads (adam_k). */
#include "ops.h"

static int adam_shape(Node *n)
{
	n->shape = shape_scalar();
	n->storage = ST_NONE;
	return 1;
}

void adam_emit_loop(Emit *e, const char *p, const char *m, const char *v, const char *g, size_t count)
{
	emit_line(e, "%s(%zu, %s, %s, %s, %s, &adam_k);", emit_helper(e, "adam"), count, p, m, v, g);
}

static void adam_emit(Emit *e, Node *n)
{
	Node *p = n->in[0];
	emit_line(e, "/* %s */", p->name);
	adam_emit_loop(e, emit_ref(e, p), xasprintf("adam_m + %ld", n->iattr[0]),
		       xasprintf("adam_v + %ld", n->iattr[0]), emit_ref(e, n->in[1]), shape_elems(p->shape));
}

static double adam_flops(const Node *n)
{
	(void)n;
	return 0; /* per step, not per sample: counted by the summary separately */
}

const OpDef op_adam = {
	.name = "adam", .shape = adam_shape, .emit = adam_emit, .flops = adam_flops,
	.doc = "Adam update of parameter in[0] with gradient in[1]; iattr[0] is its offset"};
