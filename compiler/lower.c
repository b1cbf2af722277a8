/* lower.c - turn the syntax tree into the forward graph.
 * Requires: a parsed Program and config_read (for max batch). Provides: the
 * forward graph with inputs, parameters (PyTorch names, declaration order),
 * every node shape-checked, Graph.latent, Graph.output, Graph.loss and its
 * terms (Graph.terms).
 * The PyTorch twin (backend/torch) reads this graph as it is: grad_build
 * adds to it and fuse_graph rewrites its nodes in place (a fused dense is
 * the node of its activation).
 *
 * Names are bound in order: inputs, then encoder statements, then decoder
 * statements, then the loss. Each call in a section is one layer, counted
 * in evaluation order as torch.nn.Sequential counts modules, so
 * `x |> dense(512) |> relu |> dense(32)` in the encoder declares
 * encoder.0.weight, encoder.0.bias, encoder.2.weight, encoder.2.bias. */
#include <limits.h>
#include <string.h>

#include "ops.h"
#include "pipeline.h"

typedef struct Binding {
	const char *name; /* value name */
	Node *node;       /* its value */
	Loc loc;          /* where it was bound */
} Binding;

struct Lower {
	Model *m;            /* the model being built */
	Graph *g;            /* its graph */
	Vec scope;           /* Binding*, in binding order */
	const char *section; /* "encoder", "decoder" or "loss" */
	int layer;           /* next layer index in the section */
};

static Node *lower_expr(Lower *L, const Expr *e);

static Binding *lookup(Lower *L, const char *name)
{
	for (int i = L->scope.len - 1; i >= 0; i--) {
		Binding *b = L->scope.data[i];
		if (!strcmp(b->name, name))
			return b;
	}
	return NULL;
}

static int bind(Lower *L, const char *name, Node *n, Loc loc)
{
	Binding *old = lookup(L, name);
	if (old) {
		diag_error(loc, "'%s' is already defined", name);
		diag_note(old->loc, "'%s' was defined here", name);
		return 0;
	}
	Binding *b = xcalloc(1, sizeof *b);
	b->name = name;
	b->node = n;
	b->loc = loc;
	vec_push(&L->scope, b);
	if (!n->name)
		n->name = name;
	return 1;
}

Graph *lower_graph(Lower *L) { return L->g; }

Node *lower_param(Lower *L, const char *suffix, Shape shape, long fan_in, Loc loc)
{
	const char *name = xasprintf("%s.%d.%s", L->section, L->layer, suffix);
	return graph_param(L->g, name, shape, fan_in, loc)->node;
}

static const char *kind_name[] = {"a tensor", "an integer", "a number", "a string", "true or false"};

static int bind_literal(const OpDef *op, const ArgSpec *f, const Expr *e, ArgVal *v)
{
	switch (f->kind) {
	case ARG_INT:
		if (e->kind == EX_NUM && e->is_int) {
			v->num = e->num;
			return 1;
		}
		break;
	case ARG_REAL:
		if (e->kind == EX_NUM) {
			v->num = e->num;
			return 1;
		}
		if (e->kind == EX_NEG && e->lhs->kind == EX_NUM) {
			v->num = -e->lhs->num;
			return 1;
		}
		break;
	case ARG_STR:
		if (e->kind == EX_STR) {
			v->str = e->str;
			return 1;
		}
		break;
	case ARG_BOOL:
		if (e->kind == EX_NAME && (!strcmp(e->str, "true") || !strcmp(e->str, "false"))) {
			v->num = !strcmp(e->str, "true");
			return 1;
		}
		break;
	case ARG_TENSOR:
		break;
	}
	diag_error(e->loc, "argument '%s' of %s must be %s", f->name, op->name, kind_name[f->kind]);
	return 0;
}

int bind_args(Lower *L, const Expr *call, const OpDef *op, ArgVal *out)
{
	int ok = 1, pos = 0;
	for (int i = 0; i < op->nargs; i++)
		out[i] = (ArgVal){.num = op->args[i].def, .str = op->args[i].def_str, .loc = call->loc};
	for (const Arg *a = call->args; a; a = a->next) {
		int k = -1;
		if (a->key) {
			for (int i = 0; i < op->nargs; i++)
				if (!strcmp(op->args[i].name, a->key))
					k = i;
			if (k < 0) {
				diag_error(a->loc, "%s has no argument named '%s'", op->name, a->key);
				ok = 0;
				continue;
			}
		} else {
			if (pos >= op->nargs) {
				diag_error(a->loc, "too many arguments to %s (it takes %d)", op->name, op->nargs);
				return 0;
			}
			k = pos++;
		}
		if (out[k].present) {
			diag_error(a->loc, "argument '%s' of %s given twice", op->args[k].name, op->name);
			ok = 0;
			continue;
		}
		out[k].present = 1;
		out[k].loc = a->val->loc;
		if (op->args[k].kind == ARG_TENSOR) {
			out[k].t = lower_expr(L, a->val);
			ok &= out[k].t != NULL;
		} else {
			ok &= bind_literal(op, &op->args[k], a->val, &out[k]);
		}
	}
	for (int i = 0; ok && i < op->nargs; i++)
		if (!out[i].present && !op->args[i].optional) {
			diag_error(call->loc, "%s needs argument '%s' (%s)", op->name, op->args[i].name,
				   kind_name[op->args[i].kind]);
			ok = 0;
		}
	return ok;
}

static Node *lower_call(Lower *L, const Expr *e)
{
	const OpDef *op = op_lookup(e->str);
	if (!op) {
		diag_error(e->loc, "unknown operation '%s'", e->str);
		return NULL;
	}
	Node *n = op->lower(L, e);
	if (n && !n->layer && n->op == op)
		n->layer = xasprintf("%s.%d", L->section, L->layer);
	L->layer++;
	return n;
}

static Node *lower_binop(Lower *L, const Expr *e)
{
	/* number * tensor, tensor * number, tensor / number: scaling. */
	if (e->op == '*' || e->op == '/') {
		const Expr *num = e->rhs->kind == EX_NUM ? e->rhs : e->op == '*' && e->lhs->kind == EX_NUM ? e->lhs : NULL;
		if (!num) {
			diag_error(e->loc, "'%c' needs a number on one side (a constant weight)", e->op);
			return NULL;
		}
		Node *t = lower_expr(L, num == e->rhs ? e->lhs : e->rhs);
		if (!t)
			return NULL;
		if (e->op == '/' && num->num == 0) {
			diag_error(num->loc, "division by zero");
			return NULL;
		}
		Node *n = graph_add1(L->g, &op_scale, e->loc, t);
		n->fattr[0] = e->op == '/' ? 1 / num->num : num->num;
		return op_scale.shape(n) ? n : NULL;
	}
	Node *a = lower_expr(L, e->lhs), *b = a ? lower_expr(L, e->rhs) : NULL;
	if (!b)
		return NULL;
	Node *n = graph_add2(L->g, e->op == '+' ? &op_add : &op_sub, e->loc, a, b);
	return n->op->shape(n) ? n : NULL;
}

static Node *lower_expr(Lower *L, const Expr *e)
{
	switch (e->kind) {
	case EX_NAME: {
		Binding *b = lookup(L, e->str);
		if (b)
			return b->node; /* NULL for a value whose definition failed: already reported */
		if (op_lookup(e->str))
			diag_error(e->loc, "'%s' is an operation; apply it with |> or call it with arguments", e->str);
		else
			diag_error(e->loc, "unknown name '%s'", e->str);
		return NULL;
	}
	case EX_CALL:
		return lower_call(L, e);
	case EX_BINOP:
		return lower_binop(L, e);
	case EX_NEG: {
		Node *t = lower_expr(L, e->lhs);
		if (!t)
			return NULL;
		Node *n = graph_add1(L->g, &op_scale, e->loc, t);
		n->fattr[0] = -1;
		return op_scale.shape(n) ? n : NULL;
	}
	case EX_NUM:
		diag_error(e->loc, "expected a tensor here, found a number");
		return NULL;
	case EX_STR:
		diag_error(e->loc, "expected a tensor here, found a string");
		return NULL;
	case EX_TUPLE:
		diag_error(e->loc, "expected a tensor here, found a tuple");
		return NULL;
	}
	ICE("bad expression kind %d", e->kind);
}

static Node *lower_section(Lower *L, const Block *b, const char *section)
{
	Node *last = NULL;
	L->section = section;
	L->layer = 0;
	for (const Stmt *s = b->stmts; s; s = s->next) {
		if (!s->key || !s->has_eq) {
			diag_error(s->key_loc, "%s statements are written `NAME = expression`", section);
			continue;
		}
		Node *n = lower_expr(L, s->value);
		if (!n) {
			/* Bind the name anyway, so later uses are not reported again. */
			Binding *b = xcalloc(1, sizeof *b);
			*b = (Binding){s->key, NULL, s->key_loc};
			vec_push(&L->scope, b);
		} else if (bind(L, s->key, n, s->key_loc))
			last = n;
	}
	return last;
}

static const Block *find_block(Program *p, BlockKind k, const char *what)
{
	const Block *found = NULL;
	for (const Block *b = p->blocks; b; b = b->next) {
		if (b->kind != k)
			continue;
		if (found)
			diag_error(b->loc, "more than one %s block", what);
		found = b;
	}
	return found;
}

/* Input names become C parameter names in the generated API. */
static int input_name_ok(const Input *in)
{
	static const char *taken[] = {
		"auto", "break", "case", "char", "const", "continue", "default", "do", "double",
		"else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
		"register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
		"switch", "typedef", "union", "unsigned", "void", "volatile", "while", "_Bool",
		"state", "work", "work_", "n", "h", "out", "z", "params", "step", "adam_m", "adam_v",
		"adam_k"};
	int temp = in->name[0] == 't' && in->name[1] && strspn(in->name + 1, "0123456789") == strlen(in->name + 1);
	for (size_t i = 0; i < sizeof taken / sizeof *taken && !temp; i++)
		temp = !strcmp(in->name, taken[i]);
	if (temp)
		diag_error(in->loc, "'%s' cannot name an input: the generated C uses it (choose another name)", in->name);
	return !temp;
}

/* The terms of the loss below n, which enters the loss times `weight`:
 * sums and differences are taken apart, constant scalings multiply the
 * weight, anything else is a term (one node met twice is one term). */
static void collect_terms(Graph *g, Node *n, double weight)
{
	if (n->op == &op_add || n->op == &op_sub) {
		collect_terms(g, n->in[0], weight);
		collect_terms(g, n->in[1], n->op == &op_sub ? -weight : weight);
		return;
	}
	if (n->op == &op_scale) {
		collect_terms(g, n->in[0], weight * n->fattr[0]);
		return;
	}
	for (int i = 0; i < g->terms.len; i++) {
		LossTerm *t = g->terms.data[i];
		if (t->node == n) {
			t->weight += weight;
			return;
		}
	}
	const char *base = n->name ? n->name : n->op->name, *name = base;
	for (int k = 2, taken = 1; taken; k++) {
		taken = 0;
		for (int i = 0; i < g->terms.len && !taken; i++)
			taken = !strcmp(((LossTerm *)g->terms.data[i])->name, name);
		if (taken)
			name = xasprintf("%s_%d", base, k);
	}
	LossTerm *t = xcalloc(1, sizeof *t);
	*t = (LossTerm){name, weight, n};
	vec_push(&g->terms, t);
}

/* Every value of a model has at most INT_MAX values per sample (a flatten
 * of the input makes them one dimension). */
static int input_size_ok(const Input *in)
{
	long long values = 1; /* at most INT_MAX times a dimension: no overflow */
	for (int i = 0; i < in->rank && values <= INT_MAX; i++)
		values *= in->dims[i];
	if (values <= INT_MAX)
		return 1;
	diag_error(in->loc, "input '%s' has more than %d values per sample", in->name, INT_MAX);
	return 0;
}

int lower_model(Model *m)
{
	Program *p = m->ast;
	Lower L = {.m = m, .g = m->g};
	int before = diag_errors();
	if (!p->inputs)
		diag_error((Loc){p->file, 1, 1}, "the model declares no input (write e.g. `input x[784]`)");
	for (const Input *in = p->inputs; in; in = in->next) {
		int dims[MAX_RANK];
		if (!input_name_ok(in) || !input_size_ok(in))
			continue;
		if (lookup(&L, in->name)) {
			bind(&L, in->name, NULL, in->loc); /* reports both definitions */
			continue;
		}
		if (m->g->inputs.len == MAX_INPUTS) {
			diag_error(in->loc, "input '%s' is one too many: a model has at most %d inputs", in->name,
				   MAX_INPUTS);
			continue;
		}
		for (int i = 0; i < in->rank; i++)
			dims[i] = (int)in->dims[i];
		GInput *gi = graph_input(m->g, in->name, shape_make(1, in->rank, dims), in->loc);
		bind(&L, in->name, gi->node, in->loc);
	}
	const Block *enc = find_block(p, BLK_ENCODER, "encoder");
	const Block *dec = find_block(p, BLK_DECODER, "decoder");
	find_block(p, BLK_TRAIN, "train");
	find_block(p, BLK_DATA, "data");
	Loc top = {p->file, 1, 1};
	if (!enc || !enc->stmts)
		diag_error(enc ? enc->loc : top, "the model needs an encoder block with at least one statement");
	if (!dec || !dec->stmts)
		diag_error(dec ? dec->loc : top, "the model needs a decoder block with at least one statement");
	if (diag_errors() > before)
		return 0;
	m->g->latent = lower_section(&L, enc, "encoder");
	m->g->output = lower_section(&L, dec, "decoder");
	L.section = "loss";
	L.layer = 0;
	const Stmt *loss = NULL;
	for (const Stmt *s = p->losses; s; s = s->next) {
		if (strcmp(s->key, "loss") != 0) {
			diag_error(s->key_loc, "unknown top-level statement '%s = ...' (only `loss = ...` is allowed here; values belong in the encoder or decoder)",
				   s->key);
			continue;
		}
		if (loss) {
			diag_error(s->key_loc, "the loss is defined twice");
			diag_note(loss->key_loc, "first defined here");
			continue;
		}
		loss = s;
	}
	if (!loss && diag_errors() == before) {
		diag_error(top, "the model has no loss (write e.g. `loss = mse(xhat, x)`)");
		return 0;
	}
	if (diag_errors() > before)
		return 0;
	Node *l = lower_expr(&L, loss->value);
	if (l && (l->shape.rank != 0 || l->shape.batched)) {
		diag_error(loss->value->loc, "the loss must be a scalar, but this expression has shape %s (use a loss such as mse or bce)",
			   shape_str(l->shape));
		return 0;
	}
	if (l && !l->needs_grad) {
		diag_error(loss->value->loc, "the loss does not depend on any parameter");
		return 0;
	}
	m->g->loss = l;
	if (l)
		collect_terms(m->g, l, 1);
	return diag_errors() == before;
}
