/* act.c - elementwise activations and their common gradient op.
 * Each activation (ACT_*, ops.h) is a row of the table below;
 * act_grad(y, dy) computes dy * f'(x) for any of them from y = f(x). */
#include "ops.h"

/* Each activation's name, and whether its second derivative is 0 almost
 * everywhere (then act_grad passes no gradient to x). */
static const struct {
	const char *name;  /* as in the language */
	int curved;        /* f'' is not 0 almost everywhere */
} acts[] = {
	[ACT_RELU] = {"relu", 0},
	[ACT_LEAKY] = {"leaky_relu", 0},
	[ACT_SIGMOID] = {"sigmoid", 1},
	[ACT_TANH] = {"tanh", 1},
};

static const ArgSpec act_args[] = {{"x", ARG_TENSOR, 0, 0, NULL}};
static const ArgSpec leaky_args[] = {{"x", ARG_TENSOR, 0, 0, NULL},
				     {"slope", ARG_REAL, 1, 0.01, NULL}};

static int act_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

static int act_kind(const OpDef *op)
{
	return op == &op_relu ? ACT_RELU : op == &op_leaky_relu ? ACT_LEAKY
	     : op == &op_sigmoid ? ACT_SIGMOID : ACT_TANH;
}

static Node *act_lower(Lower *L, const Expr *call, const OpDef *op)
{
	ArgVal a[2];
	if (!bind_args(L, call, op, a))
		return NULL;
	Node *n = graph_add1(lower_graph(L), op, call->loc, a[0].t);
	n->iattr[0] = act_kind(op);
	n->fattr[0] = op->nargs > 1 ? a[1].num : 0;
	if (op == &op_leaky_relu && !(n->fattr[0] >= 0)) {
		diag_error(a[1].loc, "leaky_relu: slope must be non-negative");
		return NULL;
	}
	return act_shape(n) ? n : NULL;
}

static Node *relu_lower(Lower *L, const Expr *c) { return act_lower(L, c, &op_relu); }
static Node *leaky_lower(Lower *L, const Expr *c) { return act_lower(L, c, &op_leaky_relu); }
static Node *sigmoid_lower(Lower *L, const Expr *c) { return act_lower(L, c, &op_sigmoid); }
static Node *tanh_lower(Lower *L, const Expr *c) { return act_lower(L, c, &op_tanh); }

static Node *identity_lower(Lower *L, const Expr *call)
{
	ArgVal a[1];
	return bind_args(L, call, &op_identity, a) ? a[0].t : NULL;
}

static void act_grad_rule(Graph *g, Node *n, Node *dy)
{
	Node *d = graph_add2(g, &op_act_grad, n->loc, n, dy);
	d->iattr[0] = n->iattr[0];
	d->fattr[0] = n->fattr[0];
	act_shape(d);
	grad_accumulate(g, n->in[0], d);
}

const char *act_name(int kind) { return acts[kind].name; }

static double act_flops(const Node *n) { return 4.0 * (double)shape_elems(n->shape); }

#define ACTIVATION(NAME, LOWER, ARGS, DOC)                                              \
	const OpDef op_##NAME = {.name = #NAME, .lower = LOWER, .args = ARGS,            \
				 .nargs = sizeof ARGS / sizeof *ARGS, .shape = act_shape,  \
				 .grad = act_grad_rule, .flops = act_flops, .doc = DOC};
ACTIVATION(relu, relu_lower, act_args, "relu: max(x, 0)")
ACTIVATION(leaky_relu, leaky_lower, leaky_args, "leaky_relu(slope = 0.01): x if x > 0, else slope * x")
ACTIVATION(sigmoid, sigmoid_lower, act_args, "sigmoid: 1 / (1 + exp(-x))")
ACTIVATION(tanh, tanh_lower, act_args, "tanh: hyperbolic tangent")

const OpDef op_identity = {
	.name = "identity", .lower = identity_lower, .args = act_args, .nargs = 1,
	.doc = "identity: x unchanged (no node is created)"};

/* act_grad(y, dy) = dy f'(x) with upstream gradient G: G f'(x) for dy
 * (another act_grad) and G dy f''(x) for x (act_grad2). y = f(x) only
 * spells f'(x) cheaply, so it receives no gradient of its own: the
 * derivative through x already is the whole derivative. */
static void act_grad_grad(Graph *g, Node *n, Node *G)
{
	Node *y = n->in[0], *dy = n->in[1], *x = y->in[0];
	if (dy->needs_grad) {
		Node *d = graph_add2(g, &op_act_grad, n->loc, y, G);
		d->iattr[0] = n->iattr[0];
		d->fattr[0] = n->fattr[0];
		act_shape(d);
		grad_accumulate(g, dy, d);
	}
	if (x->needs_grad && acts[n->iattr[0]].curved) {
		Node *d = graph_add3(g, &op_act_grad2, n->loc, y, dy, G);
		d->iattr[0] = n->iattr[0];
		act_shape(d);
		grad_accumulate(g, x, d);
	}
}

const OpDef op_act_grad = {
	.name = "act_grad", .shape = act_shape, .grad = act_grad_grad,
	.flops = act_flops, .doc = "dy * f'(x) for the activation f = iattr[0]"};

/* act_grad2(y, dy, G) = G dy f''(x). */
const OpDef op_act_grad2 = {
	.name = "act_grad2", .shape = act_shape, .flops = act_flops,
	.doc = "G * dy * f''(x) for the activation f = iattr[0]: second derivative"};
