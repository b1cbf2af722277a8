/* adam.c - the Adam update of one parameter, as torch.optim.Adam
 * (L2 weight decay added to the gradient, bias corrections applied as
 * step_size = lr / (1 - beta1^t) and denom = sqrt(v) / sqrt(1 - beta2^t) + eps).
 * adam(param, grad): updates the parameter and its moments in the state;
 * its C (backend/c/adam.c) reads the per-step scalars the emitter defines. */
#include "ops.h"

static int adam_shape(Node *n)
{
	n->shape = shape_scalar();
	n->storage = ST_NONE;
	return 1;
}

static double adam_flops(const Node *n)
{
	(void)n;
	return 0; /* per step, not per sample: counted by the summary separately */
}

const OpDef op_adam = {
	.name = "adam", .shape = adam_shape, .flops = adam_flops,
	.doc = "Adam update of parameter in[0] with gradient in[1]; iattr[0] is its offset"};
