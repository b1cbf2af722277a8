/* op_act.c - elementwise activations and their common gradient op.
 * Each activation is a row of the table below and a code of the "act"
 * helper (kernels.c); act_grad(y, dy) computes dy * f'(x) for any of them
 * from y = f(x). */
#include <ctype.h>
#include <string.h>

#include "ops.h"

/* Each activation's name in the generated C (the codes of the "act"
 * helper in kernels.c, which holds the forward and first-derivative
 * arithmetic) and its second derivative as C of y = f(x). The derivatives
 * are spelled from the output y, so a fused product need not keep x. The
 * slope of leaky_relu is non-negative, so y > 0 exactly when x > 0. */
static const struct {
	const char *code;   /* "RELU": PREFIX_RELU in the generated C */
	const char *deriv2; /* f''(x) from y (%1$s); NULL where it is 0 almost everywhere */
} act_c[] = {
	[ACT_RELU] = {"RELU", NULL},
	[ACT_LEAKY] = {"LEAKY_RELU", NULL},
	[ACT_SIGMOID] = {"SIGMOID", "%1$s * (1 - %1$s) * (1 - 2 * %1$s)"},
	[ACT_TANH] = {"TANH", "-2 * %1$s * (1 - %1$s * %1$s)"},
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

const char *act_code(Emit *e, int kind)
{
	emit_helper(e, "act");
	const char *code = xasprintf("%s_%s", emit_prefix(e), act_c[kind].code);
	for (char *c = (char *)code; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	return code;
}

static void act_emit(Emit *e, Node *n)
{
	emit_line(e, "%s(%s, %s, %s, %s, NULL, %s);", emit_helper(e, "act_all"), act_code(e, n->iattr[0]),
		  emit_num(e, n->fattr[0]), emit_count(e, n, 1), emit_ref(e, n->in[0]), emit_ref(e, n));
}

static void act_grad_rule(Graph *g, Node *n, Node *dy)
{
	Node *d = graph_add2(g, &op_act_grad, n->loc, n, dy);
	d->iattr[0] = n->iattr[0];
	d->fattr[0] = n->fattr[0];
	act_shape(d);
	grad_accumulate(g, n->in[0], d);
}

const char *act_name(int kind)
{
	static const char *names[] = {[ACT_RELU] = "relu", [ACT_LEAKY] = "leaky_relu", [ACT_SIGMOID] = "sigmoid",
				      [ACT_TANH] = "tanh"};
	return names[kind];
}

static double act_flops(const Node *n) { return 4.0 * (double)shape_elems(n->shape); }

#define ACTIVATION(NAME, LOWER, ARGS, DOC)                                              \
	const OpDef op_##NAME = {.name = #NAME, .lower = LOWER, .args = ARGS,            \
				 .nargs = sizeof ARGS / sizeof *ARGS, .shape = act_shape,  \
				 .grad = act_grad_rule, .emit = act_emit, .flops = act_flops, .doc = DOC};
ACTIVATION(relu, relu_lower, act_args, "relu: max(x, 0)")
ACTIVATION(leaky_relu, leaky_lower, leaky_args, "leaky_relu(slope = 0.01): x if x > 0, else slope * x")
ACTIVATION(sigmoid, sigmoid_lower, act_args, "sigmoid: 1 / (1 + exp(-x))")
ACTIVATION(tanh, tanh_lower, act_args, "tanh: hyperbolic tangent")

const OpDef op_identity = {
	.name = "identity", .lower = identity_lower, .args = act_args, .nargs = 1,
	.doc = "identity: x unchanged (no node is created)"};

/* act_grad(y, dy): dy * f'(x) where y = f(x) (y's input); iattr[0] names f. */
static void act_grad_emit(Emit *e, Node *n)
{
	emit_line(e, "%s(%s, %s, %s, %s, %s, %s);", emit_helper(e, "act_all"), act_code(e, n->iattr[0]),
		  emit_num(e, n->fattr[0]), emit_count(e, n, 1), emit_ref(e, n->in[1]), emit_ref(e, n->in[0]),
		  emit_ref(e, n));
}

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
	if (x->needs_grad && act_c[n->iattr[0]].deriv2) {
		Node *d = graph_add3(g, &op_act_grad2, n->loc, y, dy, G);
		d->iattr[0] = n->iattr[0];
		act_shape(d);
		grad_accumulate(g, x, d);
	}
}

const OpDef op_act_grad = {
	.name = "act_grad", .shape = act_shape, .grad = act_grad_grad, .emit = act_grad_emit,
	.flops = act_flops, .doc = "dy * f'(x) for the activation f = iattr[0]"};

/* act_grad2(y, dy, G) = G dy f''(x). */
static void act_grad2_emit(Emit *e, Node *n)
{
	const char *y = xasprintf("%s[i]", emit_ref(e, n->in[0]));
	const char *d2 = xasprintf(act_c[n->iattr[0]].deriv2, y);
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
	emit_line(e, "\t%s[i] = %s[i] * %s[i] * (%s);", emit_ref(e, n), emit_ref(e, n->in[2]),
		  emit_ref(e, n->in[1]), d2);
}

const OpDef op_act_grad2 = {
	.name = "act_grad2", .shape = act_shape, .emit = act_grad2_emit, .flops = act_flops,
	.doc = "G * dy * f''(x) for the activation f = iattr[0]: second derivative"};
