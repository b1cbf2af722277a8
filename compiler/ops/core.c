/* core.c - leaves and arithmetic: input, param, constant, add, sub,
 * scale, sum_batch; and the op table itself. */
#include <string.h>

#include "ops.h"

/* ---- the table ---- */

static const OpDef *const all_ops[] = {
#define X(n) &op_##n,
	OP_LIST(X)
#undef X
};

const OpDef *op_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof all_ops / sizeof *all_ops; i++)
		if (all_ops[i]->lower && !strcmp(all_ops[i]->name, name))
			return all_ops[i];
	return NULL;
}

const char *node_op_label(const Node *n) { return n->op->label ? n->op->label(n) : n->op->name; }

const char *node_label(const Node *n)
{
	return n->computes ? xasprintf("%s+%s", node_op_label(n), n->computes->op->name) : node_op_label(n);
}

const OpDef *const *op_all(int *n)
{
	*n = (int)(sizeof all_ops / sizeof *all_ops);
	return all_ops;
}

static double no_flops(const Node *n)
{
	(void)n;
	return 0;
}

static double elementwise_flops(const Node *n) { return (double)shape_elems(n->shape); }

/* ---- input, param: values that come from outside the step ---- */

static int keep_shape(Node *n)
{
	(void)n;
	return 1;
}

const OpDef op_input = {
	.name = "input", .shape = keep_shape, .flops = no_flops,
	.doc = "a model input, one row per sample"};

/* A parameter's gradient goes to the optimizer; grad.c reads Node.grad. */
static void param_grad(Graph *g, Node *n, Node *dy)
{
	(void)g;
	(void)n;
	(void)dy;
}

const OpDef op_param = {
	.name = "param", .shape = keep_shape, .grad = param_grad,
	.flops = no_flops, .doc = "a trainable tensor in the state"};

/* ---- constant: a scalar filled in at the start of the step ---- */

static int constant_shape(Node *n)
{
	n->shape = shape_scalar();
	return 1;
}

const OpDef op_constant = {
	.name = "constant", .shape = constant_shape, .flops = no_flops,
	.doc = "a scalar constant fattr[0]"};

/* ---- add, sub: elementwise on equal shapes ---- */

static int same_shape(Node *n)
{
	Shape a = n->in[0]->shape, b = n->in[1]->shape;
	if (!shape_eq(a, b)) {
		diag_error(n->loc, "'%s' needs operands of the same shape, got %s and %s",
			   n->op == &op_add ? "+" : "-", shape_str(a), shape_str(b));
		return 0;
	}
	n->shape = a;
	return 1;
}

static void add_grad(Graph *g, Node *n, Node *dy)
{
	grad_accumulate(g, n->in[0], dy);
	grad_accumulate(g, n->in[1], dy);
}

static void sub_grad(Graph *g, Node *n, Node *dy)
{
	grad_accumulate(g, n->in[0], dy);
	if (n->in[1]->needs_grad) {
		Node *neg = graph_add1(g, &op_scale, n->loc, dy);
		neg->fattr[0] = -1;
		op_scale.shape(neg);
		grad_accumulate(g, n->in[1], neg);
	}
}

const OpDef op_add = {
	.name = "add", .shape = same_shape, .grad = add_grad,
	.flops = elementwise_flops, .doc = "a + b, elementwise"};
const OpDef op_sub = {
	.name = "sub", .shape = same_shape, .grad = sub_grad,
	.flops = elementwise_flops, .doc = "a - b, elementwise"};

/* ---- scale: multiply by the constant fattr[0] ---- */

static int scale_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

static void scale_grad(Graph *g, Node *n, Node *dy)
{
	Node *d = graph_add1(g, &op_scale, n->loc, dy);
	d->fattr[0] = n->fattr[0];
	scale_shape(d);
	grad_accumulate(g, n->in[0], d);
}

const OpDef op_scale = {
	.name = "scale", .shape = scale_shape, .grad = scale_grad,
	.flops = elementwise_flops, .doc = "k * a for the constant k = fattr[0]"};

/* ---- sum_batch: reduce a batched value over the batch ---- */

static int sum_batch_shape(Node *n)
{
	ASSERT(n->in[0]->shape.batched);
	n->shape = n->in[0]->shape;
	n->shape.batched = 0;
	return 1;
}

const OpDef op_sum_batch = {
	.name = "sum_batch", .shape = sum_batch_shape,
	.flops = elementwise_flops, .doc = "sum over the batch dimension"};
