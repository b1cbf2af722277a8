/* act.c - the C rows of the activations and their gradient ops (ops/act.c).
 * Each activation is a code of the "act" helper (kernels.c), which holds
 * the forward and first-derivative arithmetic, and its second derivative
 * spelled below. Requires: emit.h. Provides: their rows, act_code(). */
#include <ctype.h>

#include "emit.h"

/* Each activation's name in the generated C and its second derivative as
 * C of y = f(x). The derivatives are spelled from the output y, so a fused
 * product need not keep x. The slope of leaky_relu is non-negative, so
 * y > 0 exactly when x > 0. */
static const struct {
	const char *code;   /* "RELU": PREFIX_RELU in the generated C */
	const char *deriv2; /* f''(x) from y (%1$s); NULL where it is 0 almost everywhere */
} act_c[] = {
	[ACT_RELU] = {"RELU", NULL},
	[ACT_LEAKY] = {"LEAKY_RELU", NULL},
	[ACT_SIGMOID] = {"SIGMOID", "%1$s * (1 - %1$s) * (1 - 2 * %1$s)"},
	[ACT_TANH] = {"TANH", "-2 * %1$s * (1 - %1$s * %1$s)"},
};

const char *act_code(Emit *e, int kind)
{
	emit_helper(e, "act");
	const char *code = xasprintf("%s_%s", emit_prefix(e), act_c[kind].code);
	for (char *c = (char *)code; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	return code;
}

const char *act_epilogue(Emit *e, long act, double slope, const char *y)
{
	if (!act)
		return "NULL";
	return xasprintf("&(const %s_epilogue){.act = %s, .slope = %s%s%s}", emit_prefix(e), act_code(e, (int)act - 1),
			 emit_num(e, slope), y ? ", .y = " : "", y ? y : "");
}

static void act_emit(Emit *e, Node *n)
{
	emit_line(e, "%s(%s, %s, %s, %s, NULL, %s);", emit_helper(e, "act_all"), act_code(e, n->iattr[0]),
		  emit_num(e, n->fattr[0]), emit_count(e, n, 1), emit_ref(e, n->in[0]), emit_ref(e, n));
}

void c_relu(Emit *e, Node *n) { act_emit(e, n); }
void c_leaky_relu(Emit *e, Node *n) { act_emit(e, n); }
void c_sigmoid(Emit *e, Node *n) { act_emit(e, n); }
void c_tanh(Emit *e, Node *n) { act_emit(e, n); }

/* identity makes no node. */
void c_identity(Emit *e, Node *n)
{
	(void)e;
	ICE("t%d: identity has no node to emit", n->id);
}

/* act_grad(y, dy): dy * f'(x) where y = f(x) (y's input); iattr[0] names f. */
void c_act_grad(Emit *e, Node *n)
{
	emit_line(e, "%s(%s, %s, %s, %s, %s, %s);", emit_helper(e, "act_all"), act_code(e, n->iattr[0]),
		  emit_num(e, n->fattr[0]), emit_count(e, n, 1), emit_ref(e, n->in[1]), emit_ref(e, n->in[0]),
		  emit_ref(e, n));
}

/* act_grad2(y, dy, G) = G dy f''(x). */
void c_act_grad2(Emit *e, Node *n)
{
	const char *y = xasprintf("%s[i]", emit_ref(e, n->in[0]));
	const char *d2 = xasprintf(act_c[n->iattr[0]].deriv2, y);
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
	emit_line(e, "\t%s[i] = %s[i] * %s[i] * (%s);", emit_ref(e, n), emit_ref(e, n->in[2]),
		  emit_ref(e, n->in[1]), d2);
}
