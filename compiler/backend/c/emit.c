/* emit.c - the C printer: the model as plain C99 in memory, NAME.h (the
 * public API) and NAME.c (init, train step, gradient, update, loss,
 * forward, encode, decode, sample); descriptor.c adds NAME_main.c.
 * Requires: a planned graph (entry_plan, plan_memory). Provides: the text
 * of the files (c_render) and, as a separate step, the files (c_write).
 *
 * Every entry point runs parts of one static function, NAME_run, which
 * computes the encoder, the decoder, the loss and the backward part in
 * the order entry.c planned (the train step and the gradient all four).
 * Values are named after their layers, parameters after their
 * PyTorch names; offsets are named macros; repeated structure (the
 * contractive penalty's rows) is a loop. The generated code has no
 * mutable globals and never allocates: the caller owns the state
 * (parameters, Adam moments, step count, buffers) and the work arena, both
 * sized by macros in NAME.h. Every symbol starts with the model's name.
 *
 * The same printer writes the inference build of aecc export
 * (backend/export/): NAME_run in evaluation form only, over the parts the
 * build keeps, with parameters and buffers in one block of weights
 * (emit_new with infer set). */
#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "c.h"
#include "emit.h"
#include "ops.h"
#include "pipeline.h"
#include "version.h"

struct Emit {
	Model *m;          /* the model */
	Buf *out;          /* where lines go */
	int indent;        /* current indentation in tabs */
	int training;      /* writing the training form of the code: batch
	                      statistics, noise while `stochastic`, pairs of
	                      nodes computed by one kernel, buffer updates */
	const char *real;  /* "float" or "double" */
	const char *P;     /* the symbols' prefix: NAME (NAME_infer in an export) */
	const char *U;     /* the same in upper case */
	int infer;         /* an inference build: evaluation form only, buffers
	                      in the weights block (`params`) like parameters */
	int small;         /* small kernels: no stack arrays but a few vectors */
	unsigned helpers;  /* bit i set: helper i of kernels.c is used */
	const char **names; /* the C name of each node's value, by id */
	char *at_used;     /* by id: the value's NAME_AT_ macro is used */
	char *folded;      /* by id: a constant written as a literal where it
	                      is read (emit_scalar), with no code of its own */
	Buf tables;        /* the offset tables of loops (emit_run_loop) */
	size_t table_entries; /* how many offsets they hold */
	size_t stack_arrays; /* bytes of the largest array a function body
	                        keeps on the stack (a sum helper's) */
};

unsigned *emit_helpers_used(Emit *e) { return &e->helpers; }

/* ---- helpers used by the op emitters ---- */

void emit_line(Emit *e, const char *fmt, ...)
{
	for (int i = 0; i < e->indent; i++)
		buf_puts(e->out, "\t");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(e->out, fmt, ap);
	va_end(ap);
	buf_puts(e->out, "\n");
}

void emit_raw(Emit *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(e->out, fmt, ap);
	va_end(ap);
}

void emit_indent(Emit *e, int delta) { e->indent += delta; }

void emit_call_end(Emit *e, const char *call, const char *last)
{
	if (!strcmp(last, "NULL")) {
		emit_line(e, "%s NULL);", call);
		return;
	}
	emit_line(e, "%s", call);
	emit_line(e, "\t%s);", last);
}

const char *emit_ref(Emit *e, const Node *n) { return e->names[n->id]; }
const char *emit_real(Emit *e) { return e->real; }
int emit_training(Emit *e) { return e->training; }

/* Pairs made by fuse.c are computed by one kernel in the training form,
 * where both members run; elsewhere each computes itself. */
const Node *emit_partner(Emit *e, const Node *n) { return e->training ? n->computes : NULL; }

const char *emit_sum_helper(Emit *e, const char *name)
{
	if (e->stack_arrays < 64 * sizeof(double))
		e->stack_arrays = 64 * sizeof(double);
	return emit_helper(e, name);
}

void emit_sum_function(Emit *e, const char *name, const char *params, const char *slice)
{
	const int indent = e->indent;
	emit_raw(e, "static double %s_%s(long count, %s)\n{\n", e->P, name, params);
	e->indent = 1;
	emit_line(e, "double part[64], acc = 0;");
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(dynamic) if (count >= 65536)\n#endif\n");
	emit_line(e, "for (long c = 0; c < 64; c++) {");
	emit_line(e, "\tconst long i0 = count * c / 64 / 16 * 16, i1 = c == 63 ? count : count * (c + 1) / 64 / 16 * 16;");
	emit_line(e, "\tdouble sum = 0;");
	for (const char *p = slice; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		emit_line(e, "\t%.*s", len, p);
		p += len + (nl != NULL);
	}
	emit_line(e, "\tpart[c] = sum;");
	emit_line(e, "}");
	emit_line(e, "for (long c = 0; c < 64; c++)");
	emit_line(e, "\tacc += part[c];");
	emit_line(e, "return acc;");
	emit_raw(e, "}\n\n");
	e->indent = indent;
}

/* text (lines) with `tabs` tabs before each line, into b. */
static void indented(Buf *b, const char *text, int tabs)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		buf_printf(b, "%.*s%.*s\n", tabs, "\t\t\t\t", len, p);
		p += len + (nl != NULL);
	}
}

const char *emit_sum_slice(const char *cond, const char *fused, const char *after, const char *plain)
{
	Buf b = {0};
	buf_printf(&b, "if (%s) {\n\tfor (long i = i0; i < i1; i++) {\n", cond);
	indented(&b, fused, 2);
	buf_puts(&b, "\t}\n");
	if (after)
		indented(&b, after, 1);
	buf_puts(&b, "} else {\n\tfor (long i = i0; i < i1; i++) {\n");
	indented(&b, plain, 2);
	buf_puts(&b, "\t}\n}");
	return b.data;
}

void emit_sum_call(Emit *e, const Node *out, const char *scale, const char *call, const char *more, const char *div)
{
	const char *o = emit_ref(e, out), *r = e->real;
	const char *open = scale || div ? "(" : "", *close = scale || div ? ")" : "";
	const char *tail = xasprintf("%s)%s%s%s;", more, div ? " / " : "", div ? div : "", close);
	const char *line = xasprintf("%s[0] = (%s)%s%s%s, %s", o, r, open, scale ? scale : "", call, tail);
	if (e->indent * 8 + strlen(line) <= 120) {
		emit_line(e, "%s", line);
		return;
	}
	emit_line(e, "%s[0] = (%s)%s%s%s,", o, r, open, scale ? scale : "", call);
	emit_line(e, "\t%s", tail);
}

int emit_scalar_kernels(Emit *e) { return e->m->scalar; }
int emit_small_kernels(Emit *e) { return e->small; }
int emit_bf16(Emit *e) { return e->m->train.bf16 && !e->m->f64 && !e->m->infer_parts; }
const char *emit_prefix(Emit *e) { return e->P; }

const char *emit_num(Emit *e, double v)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.17g", v);
	if (!strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
	return xasprintf("%s%s", buf, e->real[0] == 'f' ? "f" : "");
}

/* v in the fewest digits that read back as v. */
static const char *shortest(double v)
{
	char buf[64];
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, sizeof buf, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return xasprintf("%s", buf);
}

const char *emit_scalar(Emit *e, const Node *n)
{
	return e->folded[n->id] ? emit_num(e, n->fattr[0]) : xasprintf("%s[0]", emit_ref(e, n));
}

const char *emit_count(Emit *e, const Node *n, int whole)
{
	(void)e;
	size_t k = shape_elems(n->shape);
	if (n->shape.batched && whole)
		return xasprintf("n * %zu", k);
	return xasprintf("%zu", k);
}

const char *emit_batch_count(Emit *e, const Node *n)
{
	(void)e;
	size_t k = shape_elems(n->shape);
	return n->shape.batched ? xasprintf("batch_rows * %zu", k) : xasprintf("%zu", k);
}

const char *emit_noise_index(Emit *e, const Node *n)
{
	(void)e;
	size_t k = shape_elems(n->shape);
	return n->shape.batched ? xasprintf("(uint64_t)(batch_row0 * %zu + i)", k) : "(uint64_t)i";
}


/* ---- names ----
 * A value is named after what it is: an input by its name, a parameter or
 * buffer by its PyTorch name ("encoder_0_weight"), a parameter's gradient
 * "d_" and the parameter's name, a named value of the .ae file by its
 * name, the loss "loss", a layer's result by the layer ("encoder_0"), a
 * gradient by "d_" and the value's name, anything else by its op. A name
 * taken already gets a number; words of C and the names the generated
 * code uses for its own variables get a trailing underscore. */

static const char *const reserved[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
	"extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
	"short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
	"volatile", "while", "acc", "part", "sum", "key", "one", "total", "term", "row", "low", "lane", "keep",
	"before", "inside", "slices", "left", "den", "gi", "vi", "mi", "zi", "i0", "i1", "j0", "j1", "jb", "b0", "slot", "work",
	"params", "state", "grad", "step", "rng", "stochastic", "training", "updates", "parts", "out", "adam_m",
	"adam_v", "adam_k", "seed", "result", "ctx", "terms", "sample_seed", "batch_row0", "batch_rows", "mean",
	"best", "count", "value", "slope", "kind", "cols", "rows", "main", "exp", "log", "sqrt", "pow", "fabs", "memcpy",
	"memset", "NULL"};

static int name_taken(const char **names, int count, const char *s)
{
	if (strlen(s) == 1 && !strchr("xyz", s[0]))
		return 1; /* single letters other than x, y, z are the code's loop variables */
	for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
		if (!strcmp(s, reserved[i]))
			return 1;
	for (int i = 0; i < count; i++)
		if (names[i] && !strcmp(names[i], s))
			return 1;
	return 0;
}

/* s as a C identifier: "encoder.0.weight" -> "encoder_0_weight". */
static char *c_ident(const char *s)
{
	char *c = xasprintf("%s%s", isdigit((unsigned char)s[0]) ? "v" : "", s);
	for (char *p = c; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			*p = '_';
	return c;
}

static const char *base_name(Emit *e, const Node *n)
{
	Graph *g = e->m->g;
	switch (n->storage) {
	case ST_INPUT:
		return ((GInput *)g->inputs.data[n->index])->name;
	case ST_PARAM:
		return c_ident(((Param *)g->params.data[n->index])->name);
	case ST_BUFFER:
		return c_ident(((Buffer *)g->buffers.data[n->index])->name);
	case ST_GRAD:
		return xasprintf("d_%s", c_ident(((Param *)g->params.data[n->index])->name));
	default:
		break;
	}
	if (n == g->loss)
		return "loss";
	if (n->name && n->phase == PH_FORWARD)
		return c_ident(n->name);
	if (n->layer)
		return c_ident(n->layer);
	if (n->grad_of && e->names[n->grad_of->id])
		return xasprintf("d_%s", e->names[n->grad_of->id]);
	return n->op->name;
}

/* Names in id order, so that a gradient's value is named before it. */
static void name_values(Emit *e)
{
	Graph *g = e->m->g;
	Node **byid = graph_source_order(g);
	e->names = xcalloc((size_t)g->nodes.len, sizeof *e->names);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = byid[i];
		if (n->dead)
			continue;
		const char *base = base_name(e, n), *name = base;
		if (n->storage == ST_INPUT)
			name = base; /* the caller's name, as the signatures have it */
		else if (name_taken(e->names, g->nodes.len, name))
			for (int k = 2; name_taken(e->names, g->nodes.len, name); k++)
				name = xasprintf("%s_%d", base, k);
		e->names[n->id] = name;
	}
}

/* NAME_AT_VALUE: the byte offset of a work value, a macro of NAME.c. */
const char *emit_at(Emit *e, const Node *n)
{
	e->at_used[n->id] = 1;
	return xasprintf("%s_AT_%s", e->U, str_upper(emit_ref(e, n)));
}

/* NAME_PARAM: a parameter's element offset in the parameter (and
 * gradient) block, a macro of NAME.h. */
const char *emit_param_macro(Emit *e, const Param *p)
{
	return xasprintf("%s_%s", e->U, str_upper(c_ident(p->name)));
}

/* NAME_BUFFER: a buffer's byte offset from the start of the state (in an
 * inference build, its element offset in the weights block). */
const char *emit_buffer_macro(Emit *e, const Buffer *b)
{
	return xasprintf("%s_%s", e->U, str_upper(c_ident(b->name)));
}

/* ---- which identifiers a piece of code uses ----
 * A small set of the identifiers in C text, comments and strings left
 * out: declarations are written only for the values code names. */

typedef struct Idents {
	const char **slot; /* open addressing; NULL: empty */
	size_t cap;        /* a power of two */
} Idents;

static uint64_t ident_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
	return h;
}

static size_t ident_find(const Idents *set, const char *s, size_t len)
{
	size_t i = ident_hash(s, len) & (set->cap - 1);
	while (set->slot[i] && (strlen(set->slot[i]) != len || strncmp(set->slot[i], s, len)))
		i = (i + 1) & (set->cap - 1);
	return i;
}

static Idents idents_of(const char *text)
{
	Idents set = {xcalloc(1024, sizeof(char *)), 1024};
	size_t used = 0;
	for (const char *p = text; *p;) {
		if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			p = end ? end + 2 : p + strlen(p);
		} else if (*p == '"' || *p == '\'') {
			char q = *p++;
			while (*p && *p != q)
				p += p[0] == '\\' && p[1] ? 2 : 1;
			p += *p != 0;
		} else if (isalpha((unsigned char)*p) || *p == '_') {
			const char *s = p;
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			size_t i = ident_find(&set, s, (size_t)(p - s));
			if (!set.slot[i]) {
				set.slot[i] = xstrndup(s, (size_t)(p - s));
				if (++used * 2 > set.cap) { /* grow */
					Idents big = {xcalloc(set.cap * 2, sizeof(char *)), set.cap * 2};
					for (size_t k = 0; k < set.cap; k++)
						if (set.slot[k])
							big.slot[ident_find(&big, set.slot[k], strlen(set.slot[k]))] = set.slot[k];
					set = big;
				}
			}
		} else if (isdigit((unsigned char)*p)) {
			while (isalnum((unsigned char)*p) || *p == '.')
				p++;
		} else
			p++;
	}
	return set;
}

static int uses(const Idents *set, const char *name)
{
	return set->slot[ident_find(set, name, strlen(name))] != NULL;
}
/* The state's layout (plan.c). */
static size_t block_bytes(Model *m) { return m->param_block_bytes; }
static size_t buffers_base(Model *m) { return m->buffers_at; }
static size_t buffer_byte_offset(Model *m, const Buffer *b) { return (void)m, b->byte_offset; }

/* ---- code for the parts of the model ---- */

/* In the training form, right after node n: store the new values of the
 * buffers n updates into the state `updates` (the train step's; NULL from
 * the gradient), as later nodes may reuse n's memory. */
static void emit_buffer_updates(Emit *e, const Node *n)
{
	Model *m = e->m;
	for (int i = 0; i < m->g->buffers.len; i++) {
		const Buffer *b = m->g->buffers.data[i];
		if (b->next == n)
			emit_line(e, "if (updates)");
		if (b->next == n)
			emit_line(e, "\tmemcpy((unsigned char *)updates + %s, %s + %zu, sizeof(%s) * %zu);", emit_buffer_macro(e, b),
				  emit_ref(e, n), b->next_offset, e->real, shape_elems(b->shape));
	}
}

/* Right after node n: the loss terms its code has computed, into the
 * caller's `terms` when it asked for them (NAME_loss_terms,
 * NAME_train_step_terms). */
static void emit_term_captures(Emit *e, const Node *n)
{
	Graph *g = e->m->g;
	for (int k = 0; k < g->terms.len; k++) {
		const LossTerm *t = g->terms.data[k];
		if (t->node != n && t->node != emit_partner(e, n))
			continue;
		emit_line(e, "if (terms) /* loss term %d: %s */", k, t->name);
		emit_line(e, "	terms[%d] = %s[0];", k, emit_ref(e, t->node));
	}
}

/* The comment above a node's code: its layer (or value) and what it does. */
static const char *node_comment(Emit *e, const Node *n)
{
	const char *what = emit_partner(e, n) ? node_label(n) : node_op_label(n);
	return xasprintf("/* %s: %s %s */", n->layer ? n->layer : emit_ref(e, n), what, shape_str(n->shape));
}

/* Node n's code in the current form, into o at the current indentation,
 * and the loss terms it computes into `terms` (or, if terms is not NULL,
 * there); 0 if another node's kernel computes it (only a comment then). */
static int emit_node(Emit *e, Node *n, Buf *o, Buf *terms)
{
	Buf *saved = e->out;
	int code = !(n->computed_by && e->training);
	e->out = o;
	if (!code) {
		emit_line(e, "/* %s: computed with %s */", emit_ref(e, n), emit_ref(e, n->computed_by));
	} else {
		/* the comment naming the layer, unless the op writes no code
		 * (a workspace, which the convolution using it fills) */
		Buf body = {0};
		buf_puts(&body, "");
		e->out = &body;
		c_emit_op(e, n);
		if (e->training)
			emit_buffer_updates(e, n);
		e->out = o;
		if (body.len)
			emit_line(e, "%s", node_comment(e, n));
		buf_puts(o, body.data);
		if (terms)
			e->out = terms;
		emit_term_captures(e, n);
	}
	e->out = saved;
	return code;
}

static int has_code(Emit *e, const Node *n)
{
	return !n->dead && !e->folded[n->id] && n->storage != ST_INPUT && n->storage != ST_PARAM &&
	       n->storage != ST_BUFFER;
}

/* The declaration of the pointer to n's value, if it needs one. */
static void emit_decl(Emit *e, const Node *n)
{
	Graph *g = e->m->g;
	const char *r = e->real, *name = emit_ref(e, n);
	switch (n->storage) {
	case ST_WORK:
		emit_line(e, "%s *const %s = (%s *)(work + %s);", r, name, r, emit_at(e, n));
		break;
	case ST_PARAM:
		emit_line(e, "const %s *const %s = params + %s;", r, name, emit_param_macro(e, g->params.data[n->index]));
		break;
	case ST_GRAD:
		emit_line(e, "%s *const %s = grad + %s;", r, name, emit_param_macro(e, g->params.data[n->index]));
		break;
	case ST_BUFFER:
		if (e->infer)
			emit_line(e, "const %s *const %s = params + %s;", r, name, emit_buffer_macro(e, g->buffers.data[n->index]));
		else
			emit_line(e, "const %s *const %s = (const %s *)((const unsigned char *)state + %s);", r, name, r,
				  emit_buffer_macro(e, g->buffers.data[n->index]));
		break;
	case ST_INPUT:
	case ST_NONE:
		break;
	}
}

/* Node n's code at the current indentation: in the current form, or with
 * both_forms in the training and the evaluation form, under
 * `if (training)` where the two differ (the loss terms they capture
 * alike after it). */
static char *node_code(Emit *e, Node *n, int both_forms)
{
	Buf code = {0};
	buf_puts(&code, "");
	if (!both_forms) {
		emit_node(e, n, &code, NULL);
		return code.data;
	}
	Buf t = {0}, v = {0}, tt = {0}, vt = {0};
	buf_puts(&tt, "");
	buf_puts(&vt, "");
	e->indent++;
	e->training = 1;
	int in_training = emit_node(e, n, &t, &tt);
	e->training = 0;
	emit_node(e, n, &v, &vt);
	e->indent--;
	const int same_terms = !strcmp(tt.data, vt.data);
	if (!same_terms) {
		buf_puts(&t, tt.data);
		buf_puts(&v, vt.data);
	}
	Buf *saved = e->out;
	e->out = &code;
	if (!strcmp(t.data, v.data)) {
		emit_node(e, n, &code, NULL); /* the same either way */
	} else {
		if (!in_training) {
			emit_line(e, "if (!training) { /* in training %s computes it */", emit_ref(e, n->computed_by));
			buf_puts(&code, v.data);
			emit_line(e, "}");
		} else {
			emit_line(e, "if (training) {");
			buf_puts(&code, t.data);
			emit_line(e, "} else {");
			buf_puts(&code, v.data);
			emit_line(e, "}");
		}
		if (same_terms)
			emit_term_captures(e, n);
	}
	e->out = saved;
	return code.data;
}

/* ---- repeated structure as a loop ----
 * A run of R >= 3 groups of P nodes whose code is the same but for the
 * values it names (each group its own, at its own place in the arena) and
 * integers that step by the same amount from group to group (the
 * contractive penalty's Jacobian rows, one per latent unit, and their
 * gradients) is written once, inside `for (long u = 0; u < R; u++)`: the
 * values that differ become pointers read off tables of their offsets
 * (NAME_AT_VALUE_U[u]), the integers expressions of u. The same statements
 * run in the same order on the same memory as written out in full. */

/* A token of C text: an identifier, a number, a comment, anything else. */
enum { TOK_IDENT, TOK_NUMBER, TOK_COMMENT, TOK_OTHER };
typedef struct Tok {
	const char *s; /* where it starts */
	int len;       /* bytes */
	int kind;      /* TOK_* */
} Tok;

static int tokenize(const char *text, Tok **out)
{
	Vec v = {0};
	for (const char *p = text; *p;) {
		Tok *t = xcalloc(1, sizeof *t);
		t->s = p;
		if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			p = end ? end + 2 : p + strlen(p);
			t->kind = TOK_COMMENT;
		} else if (isalpha((unsigned char)*p) || *p == '_') {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			t->kind = TOK_IDENT;
		} else if (isdigit((unsigned char)*p)) {
			while (isalnum((unsigned char)*p) || *p == '.')
				p++;
			t->kind = TOK_NUMBER;
		} else {
			p++;
			t->kind = TOK_OTHER;
		}
		t->len = (int)(p - t->s);
		vec_push(&v, t);
	}
	*out = xcalloc((size_t)v.len + 1, sizeof **out);
	for (int i = 0; i < v.len; i++)
		(*out)[i] = *(Tok *)v.data[i];
	return v.len;
}

static int tok_eq(const Tok *a, const Tok *b) { return a->len == b->len && !strncmp(a->s, b->s, (size_t)a->len); }

/* The token before (step -1) or after (step 1) token i that is not a
 * space, or NULL. */
static const Tok *tok_near(const Tok *tok, int ntok, int i, int step)
{
	for (i += step; i >= 0 && i < ntok; i += step)
		if (!isspace((unsigned char)tok[i].s[0]))
			return &tok[i];
	return NULL;
}

/* `code` with the pointer to each parameter's gradient that it names only
 * once, as a whole argument of a call, written as `grad + NAME_PARAM`
 * there instead of a pointer declared for that one use. */
static char *inline_once(Emit *e, const char *code)
{
	Graph *g = e->m->g;
	Tok *tok;
	const int ntok = tokenize(code, &tok);
	/* the gradients' names, and how often and where (the last time) the
	 * code names each */
	Node **grads = xcalloc((size_t)g->params.len + 1, sizeof *grads);
	int ngrads = 0;
	for (int k = 0; k < g->nodes.len; k++) {
		Node *n = g->nodes.data[k];
		if (!n->dead && n->storage == ST_GRAD && ngrads < g->params.len)
			grads[ngrads++] = n;
	}
	int *count = xcalloc((size_t)ngrads + 1, sizeof *count), *at = xcalloc((size_t)ngrads + 1, sizeof *at);
	int *which = xcalloc((size_t)ntok + 1, sizeof *which); /* by token: 1 + the gradient it names, or 0 */
	for (int i = 0; i < ntok; i++)
		for (int k = 0; k < ngrads && tok[i].kind == TOK_IDENT; k++) {
			const char *name = emit_ref(e, grads[k]);
			if ((int)strlen(name) == tok[i].len && !strncmp(name, tok[i].s, (size_t)tok[i].len)) {
				count[k]++;
				at[k] = i;
				which[i] = k + 1;
				break;
			}
		}
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < ntok; i++) {
		const int k = which[i] - 1;
		const Tok *before = k >= 0 ? tok_near(tok, ntok, i, -1) : NULL, *after = k >= 0 ? tok_near(tok, ntok, i, 1) : NULL;
		if (k >= 0 && count[k] == 1 && at[k] == i && before && after && strchr("(,", before->s[0]) &&
		    strchr(",)", after->s[0]))
			buf_printf(&b, "grad + %s", emit_param_macro(e, g->params.data[grads[k]->index]));
		else
			buf_printf(&b, "%.*s", tok[i].len, tok[i].s);
	}
	return b.data;
}

/* The node whose value the code names `s`, if it lives in the arena. */
static Node *work_value(Emit *e, const Tok *t)
{
	Graph *g = e->m->g;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		const char *name = e->names[n->id];
		if (!n->dead && n->storage == ST_WORK && name && (int)strlen(name) == t->len &&
		    !strncmp(name, t->s, (size_t)t->len))
			return n;
	}
	return NULL;
}

/* What differs from group to group in a run: a value (its node in each
 * group) or an integer (its value in group 0 and its step). */
typedef struct Vary {
	const char *name0;  /* the value's name in group 0, or NULL for an integer */
	Node **node;        /* the value in each group */
	long first, step;   /* the integer in group 0, and its step */
	int k, tok;         /* an integer: which node of the group, which token */
	const char *local;  /* the loop's name for the value */
} Vary;

typedef struct Run {
	int start, period, count; /* nodes [start, start + period * count) */
	Tok **tok;                /* tokens of each node's code */
	int *ntok;                /* how many */
	Vec vary;                 /* Vary* */
} Run;

static Vary *vary_value(Run *r, const char *name0)
{
	for (int i = 0; i < r->vary.len; i++) {
		Vary *v = r->vary.data[i];
		if (v->name0 && !strcmp(v->name0, name0))
			return v;
	}
	return NULL;
}

/* 1 if the groups of r are the same code up to values and stepping
 * integers; fills r->vary. texts: the code of every node of the part. */
static int run_matches(Emit *e, Run *r, Tok **tok, const int *ntok)
{
	r->vary = (Vec){0};
	for (int k = 0; k < r->period; k++) {
		int a = r->start + k;
		for (int gi = 1; gi < r->count; gi++) {
			int b = r->start + gi * r->period + k;
			if (ntok[a] != ntok[b])
				return 0;
			for (int t = 0; t < ntok[a]; t++) {
				const Tok *x = &tok[a][t], *y = &tok[b][t];
				if (x->kind != y->kind)
					return 0;
				if (x->kind == TOK_COMMENT || tok_eq(x, y))
					continue;
				if (x->kind == TOK_NUMBER) {
					char *ex, *ey;
					long vx = strtol(x->s, &ex, 10), vy = strtol(y->s, &ey, 10);
					if (ex != x->s + x->len || ey != y->s + y->len)
						return 0;
					Vary *v = NULL;
					for (int i = 0; i < r->vary.len && !v; i++) {
						Vary *w = r->vary.data[i];
						if (!w->name0 && w->k == k && w->tok == t)
							v = w;
					}
					if (!v) {
						v = xcalloc(1, sizeof *v);
						v->k = k, v->tok = t, v->first = vx, v->step = vy - vx;
						vec_push(&r->vary, v);
					}
					if (vy != vx + gi * v->step)
						return 0;
					continue;
				}
				if (x->kind != TOK_IDENT)
					return 0;
				Node *nx = work_value(e, x), *ny = work_value(e, y);
				if (!nx || !ny)
					return 0;
				const char *name0 = emit_ref(e, nx);
				Vary *v = vary_value(r, name0);
				if (!v) {
					v = xcalloc(1, sizeof *v);
					v->name0 = name0;
					v->node = xcalloc((size_t)r->count, sizeof *v->node);
					v->node[0] = nx;
					vec_push(&r->vary, v);
				}
				if (v->node[gi] && v->node[gi] != ny)
					return 0;
				v->node[gi] = ny;
			}
		}
	}
	/* every group names each such value, and wherever group 0 names it,
	 * every group names its own (also where the two names are the same) */
	for (int i = 0; i < r->vary.len; i++) {
		Vary *v = r->vary.data[i];
		for (int gi = 1; v->name0 && gi < r->count; gi++)
			if (!v->node[gi])
				return 0;
	}
	for (int k = 0; k < r->period; k++) {
		int a = r->start + k;
		for (int gi = 1; gi < r->count; gi++) {
			int b = r->start + gi * r->period + k;
			for (int t = 0; t < ntok[a]; t++) {
				const Tok *x = &tok[a][t], *y = &tok[b][t];
				if (x->kind != TOK_IDENT)
					continue;
				Vary *v = vary_value(r, xstrndup(x->s, (size_t)x->len));
				if (v && work_value(e, y) != v->node[gi])
					return 0;
			}
		}
	}
	return 1;
}

/* The longest run of repeated groups starting at node i of the part. */
static int find_run(Emit *e, Node **nodes, int len, Tok **tok, const int *ntok, int i, Run *best)
{
	best->count = best->period = 0;
	for (int p = 1; p <= 64 && i + 3 * p <= len; p++) {
		int count = 1;
		for (;; count++) {
			int same = i + (count + 1) * p <= len;
			for (int k = 0; k < p && same; k++)
				same = nodes[i + k]->op == nodes[i + count * p + k]->op &&
				       shape_eq(nodes[i + k]->shape, nodes[i + count * p + k]->shape);
			if (!same)
				break;
		}
		if (count < 3 || count * p <= best->count * best->period)
			continue;
		Run r = {.start = i, .period = p, .count = count};
		if (run_matches(e, &r, tok, ntok))
			*best = r;
	}
	return best->count > 0;
}

/* The loop of run r into o, at the current indentation. */
static void emit_run_loop(Emit *e, Run *r, Tok **tok, const int *ntok, Buf *o)
{
	Buf *saved = e->out;
	e->out = o;
	emit_line(e, "/* the same for %d units */", r->count);
	emit_line(e, "for (long u = 0; u < %d; u++) {", r->count);
	for (int i = 0; i < r->vary.len; i++) {
		Vary *v = r->vary.data[i];
		if (!v->name0)
			continue;
		char *base = xstrdup(v->name0), *end = base + strlen(base);
		while (end > base && isdigit((unsigned char)end[-1]))
			end--;
		if (end > base + 1 && end[-1] == '_' && *end)
			end[-1] = 0;
		/* "act_grad_u", then "act_grad_u2", ...: unique in the loop and
		 * among the function's names */
		Graph *g = e->m->g;
		v->local = xasprintf("%s_u", base);
		for (int k = 2;; k++) {
			int taken = name_taken(e->names, g->nodes.len, v->local);
			for (int j = 0; j < i && !taken; j++) {
				const Vary *w = r->vary.data[j];
				taken = w->local && !strcmp(w->local, v->local);
			}
			if (!taken)
				break;
			v->local = xasprintf("%s_u%d", base, k);
		}
		const char *table = xasprintf("%s_AT_%s", e->U, str_upper(v->local));
		for (int k = 2; strstr(e->tables.data ? e->tables.data : "", xasprintf(" %s[", table)); k++)
			table = xasprintf("%s_AT_%s_%d", e->U, str_upper(v->local), k);
		buf_printf(&e->tables, "static const size_t %s[%d] = {", table, r->count);
		for (int gi = 0; gi < r->count; gi++)
			buf_printf(&e->tables, "%s%zu", gi ? ", " : "", v->node[gi]->offset);
		e->table_entries += (size_t)r->count;
		buf_printf(&e->tables, "};\n");
		emit_line(e, "\t%s *const %s = (%s *)(work + %s[u]);", e->real, v->local, e->real, table);
	}
	for (int k = 0; k < r->period; k++) {
		int a = r->start + k;
		Buf line = {0};
		buf_puts(&line, "\t");
		for (int t = 0; t < ntok[a]; t++) {
			const Tok *x = &tok[a][t];
			const char *text = xstrndup(x->s, (size_t)x->len);
			if (x->kind == TOK_IDENT && work_value(e, x)) {
				Vary *v = vary_value(r, text);
				if (v)
					text = v->local;
			} else if (x->kind == TOK_NUMBER) {
				for (int i = 0; i < r->vary.len; i++) {
					Vary *v = r->vary.data[i];
					if (!v->name0 && v->k == k && v->tok == t)
						text = v->step == 1 ? xasprintf("(%ld + u)", v->first)
								    : xasprintf("(%ld + %ld * u)", v->first, v->step);
				}
			} else if (x->kind == TOK_COMMENT) {
				/* the value a comment names, as in the code */
				Tok *ct;
				int nct = tokenize(xstrndup(x->s + 2, (size_t)x->len - 4), &ct);
				Buf c = {0};
				buf_puts(&c, "/*");
				int named = 0; /* only the first word names a value */
				for (int j = 0; j < nct; j++) {
					const char *w = xstrndup(ct[j].s, (size_t)ct[j].len);
					Vary *v = ct[j].kind == TOK_IDENT && !named++ ? vary_value(r, w) : NULL;
					buf_puts(&c, v ? v->local : w);
				}
				buf_puts(&c, "*/");
				text = c.data;
			}
			buf_puts(&line, text);
			/* one more tab at the start of every line but preprocessor lines */
			if (x->kind == TOK_OTHER && *x->s == '\n' && t + 1 < ntok[a] && *tok[a][t + 1].s != '#')
				buf_puts(&line, "\t");
		}
		/* the tab after the last newline is one too many */
		if (line.len && line.data[line.len - 1] == '\t')
			line.data[--line.len] = 0;
		buf_puts(o, line.data);
	}
	emit_line(e, "}");
	e->out = saved;
}

/* The code of every node of `part` at the current indentation. With
 * both_forms, each node is written in the training and the evaluation
 * form, under `if (training)` where the two differ; otherwise in the
 * current form. */
static char *part_code(Emit *e, int part, int both_forms)
{
	Graph *g = e->m->g;
	Node **nodes = xcalloc((size_t)g->nodes.len, sizeof *nodes);
	int len = 0;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (has_code(e, n) && n->part == part)
			nodes[len++] = n;
	}
	char **text = xcalloc((size_t)len + 1, sizeof *text);
	for (int i = 0; i < len; i++)
		text[i] = node_code(e, nodes[i], both_forms);
	Tok **tok = xcalloc((size_t)len + 1, sizeof *tok);
	int *ntok = xcalloc((size_t)len + 1, sizeof *ntok);
	for (int i = 0; i < len; i++)
		ntok[i] = tokenize(text[i], &tok[i]);
	Buf code = {0};
	buf_puts(&code, "");
	for (int i = 0; i < len;) {
		Run r = {0};
		if (find_run(e, nodes, len, tok, ntok, i, &r)) {
			emit_run_loop(e, &r, tok, ntok, &code);
			i += r.period * r.count;
		} else
			buf_puts(&code, text[i++]);
	}
	return code.data;
}

/* The declarations of the values `code` names, but for those `skip`
 * (if not NULL) names, at the current indentation. */
static void emit_decls(Emit *e, const char *code, const Idents *skip)
{
	Graph *g = e->m->g;
	Idents used = idents_of(code);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (!n->dead && uses(&used, emit_ref(e, n)) && !(skip && uses(skip, emit_ref(e, n))))
			emit_decl(e, n);
	}
}

/* A function: its signature and a body written into `body` before;
 * between them, the variables of the call context `c` that body uses. */
static void emit_function(Emit *e, const char *comment, const char *sig, const char *body)
{
	Buf *o = e->out;
	if (comment)
		buf_printf(o, "/* %s */\n", comment);
	buf_printf(o, "%s\n{\n", sig);
	Idents used = idents_of(body);
	static const char *const ctx[][2] = {
		{"n", "const int n = ctx->n;"},
		{"params", "const REAL *const params = ctx->params;"},
		{"state", "const void *const state = ctx->state;"},
		{"work", "unsigned char *const work = ctx->work;"},
		{"training", "const int training = ctx->training;"},
		{"stochastic", "const int stochastic = ctx->stochastic;"},
		{"rng", "const uint64_t rng = ctx->rng;"},
		{"step", "const int64_t step = ctx->step;"},
		{"updates", "void *const updates = ctx->updates;"},
		{"terms", "double *const terms = ctx->terms;"},
		{"batch_row0", "const long batch_row0 = ctx->batch_row0;"},
		{"batch_rows", "const long batch_rows = ctx->batch_rows;"},
		{"grad", "REAL *const grad = ctx->grad;"},
	};
	/* An inference build's context holds only params, work and n: the
	 * rest is evaluation mode's constants, which the C compiler folds. */
	static const char *const infer[][2] = {
		{"training", "const int training = 0;"},
		{"stochastic", "const int stochastic = 0;"},
		{"rng", "const uint64_t rng = 0;"},
		{"step", "const int64_t step = 0;"},
		{"terms", "double *const terms = NULL;"},
		{"batch_row0", "const long batch_row0 = 0;"},
		{"batch_rows", "const long batch_rows = ctx->n;"},
	};
	if (strstr(sig, "_ctx *ctx"))
		for (size_t i = 0; i < sizeof ctx / sizeof *ctx; i++) {
			const char *decl = ctx[i][1];
			for (size_t k = 0; e->infer && k < sizeof infer / sizeof *infer; k++)
				if (!strcmp(infer[k][0], ctx[i][0]))
					decl = infer[k][1];
			if (uses(&used, ctx[i][0]))
				buf_printf(o, "\t%s\n", str_replace(decl, "REAL", e->real));
		}
	buf_puts(o, body);
	buf_puts(o, "}\n\n");
}

/* ---- the inputs of the entry points ---- */

int c_reads_input(Model *m, int i, unsigned parts)
{
	Graph *g = m->g;
	const Node *in = ((GInput *)g->inputs.data[i])->node;
	for (int k = 0; k < g->nodes.len; k++) {
		const Node *n = g->nodes.data[k];
		for (int j = 0; j < n->nin && !n->dead && parts & 1u << n->part; j++)
			if (n->in[j] == in)
				return 1;
	}
	return 0;
}

/* 1 if a node of the decoder reads input i (a conditional model's label). */
static int decoder_reads(Model *m, int i) { return c_reads_input(m, i, 1u << PART_DECODER); }

/* 1 if NAME_run takes input i: every input, but in an inference build
 * only those its parts read. */
static int run_takes(Emit *e, int i) { return !e->infer || c_reads_input(e->m, i, ~0u); }

/* The inputs as a signature's parameters, "const NAME_real *x, "; with
 * decoder, only those the decoder reads. */
const char *emit_inputs_sig(Emit *e, int decoder)
{
	Graph *g = e->m->g;
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < g->inputs.len; i++)
		if (decoder ? decoder_reads(e->m, i) : run_takes(e, i))
			buf_printf(&b, "const %s_real *%s, ", e->P, ((GInput *)g->inputs.data[i])->name);
	return b.data;
}
static const char *sig_inputs(Emit *e) { return emit_inputs_sig(e, 0); }
static const char *decode_inputs(Emit *e) { return emit_inputs_sig(e, 1); }

/* The inputs as call arguments, "x, "; with decoder, NULL for those the
 * decoder does not read. */
const char *emit_inputs_call(Emit *e, int decoder)
{
	Graph *g = e->m->g;
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < g->inputs.len; i++)
		if (run_takes(e, i))
			buf_printf(&b, "%s, ", !decoder || decoder_reads(e->m, i) ? ((GInput *)g->inputs.data[i])->name : "NULL");
	return b.data;
}

/* NAME_sample draws latents into the latent's own slot of the work arena
 * and decodes them: when the decoder runs from the latent alone. */
static int has_sample(Emit *e)
{
	Model *m = e->m;
	return m->decodable && m->g->latent->storage == ST_WORK && !*decode_inputs(e);
}

static void emit_header(Emit *e)
{
	Model *m = e->m;
	Graph *g = m->g;
	Buf *o = e->out;
	const char *P = e->P, *U = e->U, *r = e->real, *in = sig_inputs(e);
	buf_printf(o, "/* %s.h - generated by aecc %s from %s. Do not edit.\n", P, AECC_VERSION, m->file);
	buf_printf(o, " *\n * Memory is the caller's: a state buffer of %s_STATE_BYTES (parameters,\n", U);
	buf_printf(o, " * Adam moments, step count, buffers) and a work buffer of %s_WORK_BYTES, both\n", U);
	buf_printf(o, " * aligned to 64 bytes. n, the rows in a call, is 1..%s_MAX_BATCH.", U);
	if (kernels_stack_bytes(m->f64, m->scalar))
		buf_printf(o, "\n * Each thread uses up to %zu bytes of stack (the products' packed panels).",
			   kernels_stack_bytes(m->f64, m->scalar));
	buf_printf(o, " */\n");
	buf_printf(o, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", U, U);
	buf_printf(o, "#define %s_MAX_BATCH %d\n", U, m->train.batch);
	buf_printf(o, "#define %s_STATE_BYTES %zu\n", U, m->state_bytes);
	buf_printf(o, "#define %s_WORK_BYTES %zu\n", U, m->work_bytes);
	buf_printf(o, "#define %s_NUM_PARAMS %d\n", U, g->params.len);
	buf_printf(o, "#define %s_PARAM_ELEMS %zu\n", U, g->param_elems);
	buf_printf(o, "#define %s_NUM_BUFFERS %d\n", U, g->buffers.len);
	buf_printf(o, "#define %s_NUM_INPUTS %d\n", U, g->inputs.len);
	buf_printf(o, "#define %s_NUM_LOSS_TERMS %d\n", U, g->terms.len);
	for (int i = 0; i < g->inputs.len; i++) {
		GInput *gi = g->inputs.data[i];
		buf_printf(o, "#define %s_INPUT%d_SIZE %zu /* input %s %s */\n", U, i,
			   shape_elems(gi->shape), gi->name, shape_str(gi->shape));
	}
	buf_printf(o, "#define %s_LATENT_SIZE %zu /* %s */\n", U, shape_elems(g->latent->shape),
		   shape_str(g->latent->shape));
	buf_printf(o, "#define %s_OUTPUT_SIZE %zu /* %s */\n\n", U, shape_elems(g->output->shape),
		   shape_str(g->output->shape));
	buf_printf(o, "/* Where each parameter starts in the parameter block (and in a gradient), in elements. */\n");
	for (int i = 0; i < g->params.len; i++) {
		Param *p = g->params.data[i];
		buf_printf(o, "#define %s %zu /* %s %s */\n", emit_param_macro(e, p), p->offset, p->name, shape_str(p->shape));
	}
	buf_printf(o, "\n");
	buf_printf(o, "typedef %s %s_real;\n\n", r, P);
	buf_printf(o, "/* Optimizer settings for one train step (torch.optim.Adam semantics). */\n");
	buf_printf(o, "typedef struct %s_hparams {\n\tdouble lr, beta1, beta2, eps, weight_decay;\n", P);
	buf_printf(o, "\tint stochastic; /* 0: no noise, dropout or sampling */\n} %s_hparams;\n\n", P);
	buf_printf(o, "/* A parameter tensor: PyTorch name and shape, place in the parameter block. */\n");
	buf_printf(o, "typedef struct %s_param_info {\n\tconst char *name;\n\tint rank;\n", P);
	buf_printf(o, "\tlong dims[4];\n\tsize_t offset, size; /* in elements */\n} %s_param_info;\n\n", P);
	buf_printf(o, "/* A buffer: state that is not trained (BatchNorm's running statistics),\n");
	buf_printf(o, " * saved with the parameters; PyTorch name and shape, place and type. */\n");
	buf_printf(o, "typedef struct %s_buffer_info {\n\tconst char *name;\n", P);
	buf_printf(o, "\tint integer; /* 1: int64_t elements (a counter), 0: %s_real */\n", P);
	buf_printf(o, "\tint rank; /* 0 for a scalar */\n\tlong dims[4];\n");
	buf_printf(o, "\tsize_t offset; /* in bytes from %s_buffers(state) */\n", P);
	buf_printf(o, "\tsize_t size; /* in elements */\n} %s_buffer_info;\n\n", P);
	buf_printf(o, "/* A term of the loss: the loss is the sum of weight * term over its terms. */\n");
	buf_printf(o, "typedef struct %s_loss_term_info {\n\tconst char *name; /* the op or value of the .ae file */\n", P);
	buf_printf(o, "\tdouble weight;\n} %s_loss_term_info;\n\n", P);
	buf_printf(o, "/* The settings of the .ae file's train section. */\n%s_hparams %s_default_hparams(void);\n", P, P);
	buf_printf(o, "/* Parameter i, 0 <= i < %s_NUM_PARAMS, in declaration order. */\n", U);
	buf_printf(o, "const %s_param_info *%s_param(int i);\n", P, P);
	buf_printf(o, "/* Loss term i, 0 <= i < %s_NUM_LOSS_TERMS, in the order of the loss expression. */\n", U);
	buf_printf(o, "const %s_loss_term_info *%s_loss_term(int i);\n", P, P);
	buf_printf(o, "/* The parameter block, Adam's moments and the step count inside a state. */\n");
	buf_printf(o, "%s_real *%s_params(void *state);\n", P, P);
	buf_printf(o, "%s_real *%s_adam_m(void *state);\n", P, P);
	buf_printf(o, "%s_real *%s_adam_v(void *state);\n", P, P);
	buf_printf(o, "int64_t *%s_step(void *state);\n", P);
	buf_printf(o, "/* Buffer i, 0 <= i < %s_NUM_BUFFERS, in declaration order, and where the\n", U);
	buf_printf(o, " * buffers start inside a state. They change only in %s_train_step. */\n", P);
	buf_printf(o, "const %s_buffer_info *%s_buffer(int i);\n", P, P);
	buf_printf(o, "void *%s_buffers(void *state);\n\n", P);
	buf_printf(o, "/* Fill a state: parameters as PyTorch initialises nn.Linear (uniform in\n");
	buf_printf(o, " * +-1/sqrt(fan_in)) from a seeded generator, or nn.BatchNorm (constants);\n");
	buf_printf(o, " * buffers at their initial values; moments and step zero. */\n");
	buf_printf(o, "void %s_init(void *state, uint64_t seed);\n", P);
	buf_printf(o, "/* One optimizer step on n samples; returns the loss before the step.\n");
	buf_printf(o, " * Also the only function that updates the buffers. */\n");
	buf_printf(o, "%s_real %s_train_step(void *state, void *work, %sint n, const %s_hparams *h);\n", P, P, in, P);
	buf_printf(o, "/* The same, also writing the step's loss terms (training mode, before the\n");
	buf_printf(o, " * step) into terms[%s_NUM_LOSS_TERMS]. */\n", U);
	buf_printf(o, "%s_real %s_train_step_terms(void *state, void *work, %sint n, const %s_hparams *h, double *terms);\n",
		   P, P, in, P);
	buf_printf(o, "/* The loss on n samples and its gradient with respect to every parameter\n");
	buf_printf(o, " * (grad has %s_PARAM_ELEMS elements, laid out as the parameters), in\n", U);
	buf_printf(o, " * training mode (batch statistics); the buffers are left as they are. */\n");
	buf_printf(o, "%s_real %s_gradient(const void *state, void *work, %sint n, const %s_hparams *h, %s_real *grad);\n", P, P, in, P, P);
	buf_printf(o, "/* Rows first..first+n-1 of a batch of `rows` rows: their share of that\n");
	buf_printf(o, " * batch's loss (returned) and gradient (into grad). Summed over parts that\n");
	buf_printf(o, " * cover the batch, they are %s_gradient of the whole batch up to rounding:\n", P);
	buf_printf(o, " * a mean divides by `rows`, noise is drawn for each row's place in the\n");
	buf_printf(o, " * batch; statistics over the batch (BatchNorm's, a sparsity target's mean\n");
	buf_printf(o, " * activation) are the part's own, weighted by n / rows. For data-parallel\n");
	buf_printf(o, " * training; %s_gradient is the part first 0 of n rows. */\n", P);
	buf_printf(o, "%s_real %s_gradient_part(const void *state, void *work, %sint n, long first, long rows,\n"
		      "\tconst %s_hparams *h, %s_real *grad);\n", P, P, in, P, P);
	buf_printf(o, "/* One Adam step with a gradient from %s_gradient (for example summed\n", P);
	buf_printf(o, " * over several processes); %s_train_step is the two in one. */\n", P);
	buf_printf(o, "void %s_update(void *state, const %s_real *grad, const %s_hparams *h);\n", P, P, P);
	buf_printf(o, "/* The loss on n samples, without training (evaluation mode). */\n");
	buf_printf(o, "%s_real %s_loss(const void *state, void *work, %sint n);\n", P, P, in);
	buf_printf(o, "/* The same, and each loss term into terms[%s_NUM_LOSS_TERMS] (NULL: none). With\n", U);
	buf_printf(o, " * sample_seed 0 a Gaussian latent is its mean, as in %s_loss; with another\n", P);
	buf_printf(o, " * seed it is drawn as in training, from draws that depend on the seed, the\n");
	buf_printf(o, " * state's noise key and the element only (the sampled ELBO of a VAE). */\n");
	buf_printf(o, "%s_real %s_loss_terms(const void *state, void *work, %sint n, uint64_t sample_seed, double *terms);\n",
		   P, P, in);
	buf_printf(o, "/* Reconstruct: out is n x %s_OUTPUT_SIZE. */\n", U);
	buf_printf(o, "void %s_forward(const void *state, void *work, %sint n, %s_real *out);\n", P, in, P);
	buf_printf(o, "/* Encode: z is n x %s_LATENT_SIZE. */\n", U);
	buf_printf(o, "void %s_encode(const void *state, void *work, %sint n, %s_real *z);\n", P, in, P);
	if (c_gaussian_latent(m)) {
		buf_printf(o, "/* Encode into the Gaussian code's mean and log-variance (each n x\n");
		buf_printf(o, " * %s_LATENT_SIZE); %s_encode gives the mean alone. */\n", U, P);
		buf_printf(o, "void %s_encode_gaussian(const void *state, void *work, %sint n, %s_real *mu, %s_real *logvar);\n",
			   P, in, P, P);
	}
	if (m->decodable) {
		buf_printf(o, "/* Decode latents z (n x %s_LATENT_SIZE) into out (n x %s_OUTPUT_SIZE). */\n", U, U);
		buf_printf(o, "void %s_decode(const void *state, void *work, const %s_real *z, %sint n, %s_real *out);\n\n",
			   P, P, decode_inputs(e), P);
	}
	if (has_sample(e)) {
		buf_printf(o, "/* Decode n latents drawn from the prior N(0, I) into out (n x %s_OUTPUT_SIZE).\n", U);
		buf_printf(o, " * The draws depend only on seed and the element: row i is the same for any n > i. */\n");
		buf_printf(o, "void %s_sample(const void *state, void *work, uint64_t seed, int n, %s_real *out);\n\n", P, P);
	}
	buf_printf(o, "#endif\n");
}

static void emit_param_table(Emit *e)
{
	Graph *g = e->m->g;
	const char *P = e->P;
	buf_printf(e->out, "static const %s_param_info %s_param_table[%d] = {\n", P, P, g->params.len);
	for (int i = 0; i < g->params.len; i++) {
		Param *p = g->params.data[i];
		buf_printf(e->out, "\t{\"%s\", %d, {", p->name, p->shape.rank);
		for (int d = 0; d < 4; d++)
			buf_printf(e->out, "%s%d", d ? ", " : "", d < p->shape.rank ? p->shape.dims[d] : 0);
		buf_printf(e->out, "}, %s, %zu},\n", emit_param_macro(e, p), shape_elems(p->shape));
	}
	buf_printf(e->out, "};\n\n");
}

static void emit_buffer_table(Emit *e)
{
	Model *m = e->m;
	const char *P = e->P;
	if (!m->g->buffers.len)
		return;
	buf_printf(e->out, "static const %s_buffer_info %s_buffer_table[%d] = {\n", P, P, m->g->buffers.len);
	for (int i = 0; i < m->g->buffers.len; i++) {
		Buffer *b = m->g->buffers.data[i];
		buf_printf(e->out, "\t{\"%s\", %d, %d, {", b->name, b->kind == BUF_COUNTER, b->shape.rank);
		for (int d = 0; d < 4; d++)
			buf_printf(e->out, "%s%d", d ? ", " : "", d < b->shape.rank ? b->shape.dims[d] : 0);
		buf_printf(e->out, "}, %zu, %zu},\n", buffer_byte_offset(m, b), shape_elems(b->shape));
	}
	buf_printf(e->out, "};\n\n");
}

/* The loss terms' names and weights, for NAME_loss_term(i). */
static void emit_loss_term_table(Emit *e)
{
	Graph *g = e->m->g;
	buf_printf(e->out, "static const %s_loss_term_info %s_loss_term_table[%d] = {\n", e->P, e->P, g->terms.len);
	for (int i = 0; i < g->terms.len; i++) {
		const LossTerm *t = g->terms.data[i];
		buf_printf(e->out, "\t{\"%s\", %.17g},\n", t->name, t->weight);
	}
	buf_printf(e->out, "};\n\n");
}

static void emit_accessors(Emit *e)
{
	Model *m = e->m;
	const char *P = e->P, *r = e->real;
	size_t blk = block_bytes(m);
	const TrainConfig *t = &m->train;
	Buf *o = e->out;
	buf_printf(o, "%s_hparams %s_default_hparams(void) { return (%s_hparams){%s, %s, %s, %s, %s, 1}; }\n", P, P, P,
		   shortest(t->lr), shortest(t->beta1), shortest(t->beta2), shortest(t->eps), shortest(t->weight_decay));
	buf_printf(o, "const %s_param_info *%s_param(int i) { return i >= 0 && i < %d ? &%s_param_table[i] : NULL; }\n", P,
		   P, m->g->params.len, P);
	buf_printf(o, "const %s_loss_term_info *%s_loss_term(int i) { return i >= 0 && i < %d ? &%s_loss_term_table[i] : NULL; }\n",
		   P, P, m->g->terms.len, P);
	if (m->g->buffers.len)
		buf_printf(o, "const %s_buffer_info *%s_buffer(int i) { return i >= 0 && i < %d ? &%s_buffer_table[i] : NULL; }\n",
			   P, P, m->g->buffers.len, P);
	else
		buf_printf(o, "const %s_buffer_info *%s_buffer(int i) { return (void)i, NULL; }\n", P, P);
	const char *names[3] = {"params", "adam_m", "adam_v"};
	for (int i = 0; i < 3; i++)
		buf_printf(o, "%s_real *%s_%s(void *state) { return (%s *)((unsigned char *)state + %zu); }\n", P, P,
			   names[i], r, 64 + (size_t)i * blk);
	buf_printf(o, "int64_t *%s_step(void *state) { return (int64_t *)state; }\n", P);
	buf_printf(o, "void *%s_buffers(void *state) { return (unsigned char *)state + %zu; }\n\n", P, buffers_base(m));
}

/* NAME_init's fills after the uniform draws: constant parameters, and
 * buffers that do not start at zero. */
static void emit_init_constants(Emit *e)
{
	Model *m = e->m;
	const char *r = e->real;
	for (int i = 0; i < m->g->params.len; i++) {
		Param *p = m->g->params.data[i];
		if (p->init != INIT_CONSTANT)
			continue;
		buf_printf(e->out, "\tfor (size_t j = 0; j < %zu; j++) /* %s */\n", shape_elems(p->shape), p->name);
		buf_printf(e->out, "\t\tparams[%zu + j] = %s;\n", p->offset, emit_num(e, p->init_value));
	}
	for (int i = 0; i < m->g->buffers.len; i++) {
		Buffer *b = m->g->buffers.data[i];
		if (b->init == 0)
			continue;
		const char *type = b->kind == BUF_COUNTER ? "int64_t" : r;
		buf_printf(e->out, "\tfor (size_t j = 0; j < %zu; j++) /* %s */\n", shape_elems(b->shape), b->name);
		buf_printf(e->out, "\t\t((%s *)((unsigned char *)state + %zu))[j] = (%s)%.17g;\n", type,
			   buffers_base(m) + buffer_byte_offset(m, b), type, b->init);
	}
}

static void emit_init(Emit *e)
{
	Graph *g = e->m->g;
	const char *P = e->P, *r = e->real;
	const char *uni = emit_helper(e, "uniform"), *mix = emit_helper(e, "mix");
	buf_printf(e->out, "void %s_init(void *state, uint64_t seed)\n{\n", P);
	buf_printf(e->out, "\t%s *params = %s_params(state);\n", r, P);
	buf_printf(e->out, "\tmemset(state, 0, %s_STATE_BYTES);\n", e->U);
	buf_printf(e->out, "\t*(uint64_t *)((unsigned char *)state + 8) = %s(seed ^ 0x6e6f697365u); /* noise key */\n", mix);
	/* Each parameter's bound 1/sqrt(fan_in) is known here: emit a table
	 * (0 for a constant, filled afterwards). */
	buf_printf(e->out, "\tstatic const double bound[%d] = {", g->params.len);
	for (int i = 0; i < g->params.len; i++) {
		Param *p = g->params.data[i];
		buf_printf(e->out, "%s%.17g", i ? ", " : "", p->init == INIT_CONSTANT ? 0 : 1.0 / sqrt((double)p->fan_in));
	}
	buf_printf(e->out, "};\n");
	buf_printf(e->out, "\tfor (int i = 0; i < %d; i++) {\n", g->params.len);
	buf_printf(e->out, "\t\tconst %s_param_info *p = &%s_param_table[i];\n", P, P);
	buf_printf(e->out, "\t\tfor (size_t j = 0; j < p->size; j++)\n");
	buf_printf(e->out, "\t\t\tparams[p->offset + j] = (%s)(bound[i] * (2 * %s(seed, p->offset + j) - 1));\n", r, uni);
	buf_printf(e->out, "\t}\n");
	emit_init_constants(e);
	buf_printf(e->out, "}\n\n");
}


/* ---- the entry points ---- */

const char *emit_noise_key(Emit *e, const Node *n)
{
	const char *mix = emit_helper(e, "mix");
	return xasprintf("%s(rng ^ %s(((uint64_t)step << 24) ^ %du))", mix, mix, n->id);
}

/* The train step's last act on the buffers: every counter counts it. */
static void emit_counters(Emit *e)
{
	Model *m = e->m;
	for (int i = 0; i < m->g->buffers.len; i++) {
		Buffer *b = m->g->buffers.data[i];
		if (b->kind == BUF_COUNTER)
			emit_line(e, "++*(int64_t *)((unsigned char *)state + %s);", emit_buffer_macro(e, b));
	}
}

/* What a call computes with, and the parts of NAME_run. */
static void emit_context(Emit *e)
{
	const char *P = e->P, *U = e->U, *r = e->real;
	Buf *o = e->out;
	buf_printf(o, "/* What one call of the model computes with. */\ntypedef struct %s_ctx {\n", P);
	buf_printf(o, "\tconst %s *params;  /* the parameter block */\n", r);
	buf_printf(o, "\tconst void *state;    /* the whole state (its buffers) */\n");
	buf_printf(o, "\tunsigned char *work;  /* the work arena */\n");
	buf_printf(o, "\tint n;                /* rows in the batch */\n");
	buf_printf(o, "\tint training;         /* train step or gradient: batch statistics, pairs of\n"
		      "\t                         values computed by one kernel, buffer updates */\n");
	buf_printf(o, "\tint stochastic;       /* noise, dropout and sampling on (training only) */\n");
	buf_printf(o, "\tuint64_t rng;         /* the state's noise key */\n");
	buf_printf(o, "\tint64_t step;         /* the step being taken; 0 outside training */\n");
	buf_printf(o, "\tvoid *updates;        /* the state whose buffers take their new values, or NULL */\n");
	buf_printf(o, "\tdouble *terms;        /* where the loss terms go, or NULL */\n");
	buf_printf(o, "\tlong batch_row0;      /* where row 0 is in the whole batch (noise streams) */\n");
	buf_printf(o, "\tlong batch_rows;      /* rows in the whole batch (what a mean divides by) */\n");
	buf_printf(o, "\t%s *grad;          /* where the backward part puts the gradient */\n", r);
	buf_printf(o, "} %s_ctx;\n\n", P);
	buf_printf(o, "/* The parts of the model NAME_run computes, in this order. */\n");
	buf_printf(o, "enum { %s_ENCODER = 1, %s_DECODER = 2, %s_LOSS = 4, %s_BACKWARD = 8, %s_ALL = 15 };\n\n", U, U, U, U, U);
	buf_printf(o, "/* A call's context: evaluation mode when h is NULL, else training mode for the\n"
		      " * step after the state's, with noise while h->stochastic; the loss terms\n"
		      " * into `terms` if it is not NULL. */\n");
	buf_printf(o, "static %s_ctx %s_context(const void *state, void *work, int n, const %s_hparams *h, void *updates,\n"
		      "\t\t\t\tdouble *terms)\n{\n", P, P, P);
	buf_printf(o, "\tconst %s_ctx c = {(const %s *)((const unsigned char *)state + 64), state, (unsigned char *)work, n,\n", P, r);
	buf_printf(o, "\t\th != NULL, h && h->stochastic, *(const uint64_t *)((const unsigned char *)state + 8),\n");
	buf_printf(o, "\t\th ? *(const int64_t *)state + 1 : 0, updates, terms, 0, n, NULL};\n\treturn c;\n}\n\n");
}

/* 1 if the build computes part (an inference build may leave some out). */
static int has_part(const Model *m, int part) { return !m->infer_parts || m->infer_parts & 1u << part; }

/* Fold every constant of a training build into its readers (emit_scalar)
 * when the code of each reader, in training form, then names it only so:
 * the constant then has no code and no declaration of its own. */
static void fold_constants(Emit *e)
{
	Graph *g = e->m->g;
	const size_t count = (size_t)g->nodes.len;
	char *at_used = xmalloc(count);
	const unsigned helpers = e->helpers;
	memcpy(at_used, e->at_used, count);
	const int indent = e->indent, training = e->training;
	e->training = 1;
	for (int i = 0; i < g->nodes.len && !e->infer; i++) {
		const Node *c = g->nodes.data[i];
		if (c->dead || c->op != &op_constant)
			continue;
		e->folded[c->id] = 1;
		for (int k = 0; k < g->nodes.len && e->folded[c->id]; k++) {
			Node *r = g->nodes.data[k];
			int reads = 0;
			for (int j = 0; j < r->nin && !r->dead; j++)
				reads |= r->in[j] == c;
			if (!reads)
				continue;
			Buf code = {0};
			buf_puts(&code, "");
			emit_node(e, r->computed_by ? r->computed_by : r, &code, NULL);
			Idents names = idents_of(code.data);
			e->folded[c->id] = !uses(&names, emit_ref(e, c));
		}
	}
	/* what the trial wrote down as used is for the real code to say */
	memcpy(e->at_used, at_used, count);
	e->helpers = helpers;
	e->indent = indent;
	e->training = training;
}

/* NAME_run: the encoder, the decoder, the loss and the backward part,
 * each when `parts` asks for it, in training or evaluation form as
 * ctx->training says (the backward part in training form, into
 * ctx->grad); in an inference build, the parts it has, in evaluation
 * form. */
void emit_model_run(Emit *e)
{
	Model *m = e->m;
	const char *P = e->P, *U = e->U;
	static const char *const part_macro[] = {"", "ENCODER", "DECODER"};
	const int loss = has_part(m, PART_LOSS), backward = loss && !e->infer;
	Buf body = {0};
	Buf *o = e->out;
	e->out = &body;
	/* each part's code (the loss's outside any block), then the values
	 * more than one of encoder, decoder and the tail (loss and backward)
	 * name declared once, at the top */
	char *code[PART_BACKWARD + 1] = {0};
	Idents used[PART_BACKWARD + 1];
	fold_constants(e);
	for (int part = PART_ENCODER; part <= PART_LOSS; part++)
		if (part != PART_LOSS ? has_part(m, part) : loss) {
			e->indent = part == PART_LOSS ? 1 : 2;
			code[part] = part_code(e, part, !e->infer);
		}
	if (backward) {
		e->indent = 2;
		e->training = 1;
		code[PART_BACKWARD] = inline_once(e, part_code(e, PART_BACKWARD, 0));
		e->training = 0;
	}
	for (int part = PART_ENCODER; part <= PART_BACKWARD; part++)
		if (code[part])
			used[part] = idents_of(code[part]);
	Buf shared = {0};
	buf_puts(&shared, "");
	e->indent = 1;
	for (int i = 0; i < m->g->nodes.len; i++) {
		const Node *n = m->g->nodes.data[i];
		if (n->dead)
			continue;
		int parts = 0, tail = 0;
		for (int part = PART_ENCODER; part <= PART_BACKWARD; part++) {
			const int names = code[part] && uses(&used[part], emit_ref(e, n));
			if (part < PART_LOSS)
				parts += names;
			else
				tail |= names;
		}
		if (parts + tail > 1) {
			emit_decl(e, n);
			buf_printf(&shared, "%s ", emit_ref(e, n));
		}
	}
	const Idents top = idents_of(shared.data);
	for (int part = PART_ENCODER; part <= PART_DECODER; part++) {
		if (!code[part])
			continue;
		emit_line(e, "if (parts & %s_%s) {", U, part_macro[part]);
		e->indent++;
		emit_decls(e, code[part], &top);
		buf_puts(e->out, code[part]);
		e->indent--;
		emit_line(e, "}");
	}
	if (loss) {
		emit_line(e, "if (!(parts & %s_LOSS))", U);
		emit_line(e, "\treturn 0;");
		emit_decls(e, code[PART_LOSS], &top);
		buf_puts(e->out, code[PART_LOSS]);
	}
	if (backward) {
		/* the values the loss declared are in scope */
		const Idents before = idents_of(xasprintf("%s %s", shared.data, code[PART_LOSS]));
		emit_line(e, "if (parts & %s_BACKWARD) {", U);
		e->indent++;
		emit_decls(e, code[PART_BACKWARD], &before);
		buf_puts(e->out, code[PART_BACKWARD]);
		e->indent--;
		emit_line(e, "}");
	}
	if (loss)
		emit_line(e, "return %s[0];", emit_ref(e, m->g->loss));
	e->indent = 0;
	e->out = o;
	emit_function(e, loss ? "The model: the parts in `parts`; returns the loss when it computes it."
			      : "The model: the parts in `parts`.",
		      xasprintf("static %s %s_run(const %s_ctx *ctx, %sint parts)", loss ? xasprintf("%s_real", P) : "void",
				P, P, sig_inputs(e)),
		      body.data);
}

static void emit_functions(Emit *e)
{
	Model *m = e->m;
	Graph *g = m->g;
	const char *P = e->P, *U = e->U, *r = e->real, *in = sig_inputs(e), *args = emit_inputs_call(e, 0);
	Buf *o = e->out;
	emit_context(e);
	emit_model_run(e);
	const char *all_parts = xasprintf("%s_ALL", U);

	buf_printf(o, "%s_real %s_train_step(void *state, void *work, %sint n, const %s_hparams *h)\n{\n", P, P, in, P);
	buf_printf(o, "\treturn %s_train_step_terms(state, work, %sn, h, NULL);\n}\n\n", P, args);
	buf_printf(o, "%s_real %s_train_step_terms(void *state, void *work, %sint n, const %s_hparams *h, double *terms)\n{\n",
		   P, P, in, P);
	buf_printf(o, "\t%s_ctx c = %s_context(state, work, n, h, state, terms);\n", P, P);
	buf_printf(o, "\tc.grad = (%s *)work; /* the gradient block */\n", r);
	buf_printf(o, "\tconst %s_real loss = %s_run(&c, %s%s);\n", P, P, args, all_parts);
	e->indent = 1;
	emit_counters(e);
	e->indent = 0;
	buf_printf(o, "\t%s_update(state, c.grad, h);\n\treturn loss;\n}\n\n", P);

	buf_printf(o, "%s_real %s_gradient(const void *state, void *work, %sint n, const %s_hparams *h, %s_real *grad)\n{\n",
		   P, P, in, P, P);
	buf_printf(o, "\treturn %s_gradient_part(state, work, %sn, 0, n, h, grad); /* the whole batch */\n}\n\n", P, args);

	buf_printf(o, "%s_real %s_gradient_part(const void *state, void *work, %sint n, long first, long rows,\n"
		      "\tconst %s_hparams *h, %s_real *grad)\n{\n", P, P, in, P, P);
	buf_printf(o, "\t%s_ctx c = %s_context(state, work, n, h, NULL, NULL);\n", P, P);
	buf_printf(o, "\tc.batch_row0 = first;\n\tc.batch_rows = rows;\n\tc.grad = grad;\n");
	buf_printf(o, "\treturn %s_run(&c, %s%s);\n}\n\n", P, args, all_parts);

	buf_printf(o, "void %s_update(void *state, const %s_real *grad, const %s_hparams *h)\n{\n", P, P, P);
	buf_printf(o, "\tconst int64_t step = ++*%s_step(state);\n", P);
	buf_printf(o, "\t%s *const adam_m = %s_adam_m(state), *const adam_v = %s_adam_v(state);\n", r, P, P);
	/* 1 - beta in double, then rounded, as PyTorch passes it to its kernels. */
	buf_printf(o, "\tconst %s_adam_k adam_k = {\n", P);
	buf_printf(o, "\t\t(%s)h->beta1, (%s)h->beta2, (%s)(1 - h->beta1), (%s)(1 - h->beta2), (%s)h->eps,\n", r, r, r, r, r);
	buf_printf(o, "\t\t(%s)h->weight_decay, (%s)(h->lr / (1 - pow(h->beta1, (double)step))),\n", r, r);
	buf_printf(o, "\t\t(%s)sqrt(1 - pow(h->beta2, (double)step))};\n", r);
	emit_helper(e, "adam");
	e->indent = 1;
	adam_emit_loop(e, xasprintf("%s_params(state)", P), "adam_m", "adam_v", "grad", g->param_elems);
	e->indent = 0;
	buf_printf(o, "}\n\n");

	const char *ctx = xasprintf("\tconst %s_ctx c = %s_context(state, work, n, NULL, NULL, NULL);\n", P, P);
	buf_printf(o, "%s_real %s_loss(const void *state, void *work, %sint n)\n{\n", P, P, in);
	buf_printf(o, "\treturn %s_loss_terms(state, work, %sn, 0, NULL);\n}\n\n", P, args);
	buf_printf(o, "%s_real %s_loss_terms(const void *state, void *work, %sint n, uint64_t sample_seed, double *terms)\n{\n",
		   P, P, in);
	if (c_draws_latent(m)) {
		buf_printf(o, "\t%s_ctx c = %s_context(state, work, n, NULL, NULL, terms);\n", P, P);
		buf_printf(o, "\tif (sample_seed) { /* draw the latent as in training, from draws of its own */\n");
		buf_printf(o, "\t\tc.stochastic = 1;\n\t\tc.rng = %s(c.rng ^ %s(sample_seed));\n\t}\n",
			   emit_helper(e, "mix"), emit_helper(e, "mix"));
	} else {
		buf_printf(o, "\tconst %s_ctx c = %s_context(state, work, n, NULL, NULL, terms);\n", P, P);
		buf_printf(o, "\t(void)sample_seed; /* the model draws no latent */\n");
	}
	buf_printf(o, "\treturn %s_run(&c, %s%s_ENCODER | %s_DECODER | %s_LOSS);\n}\n\n", P, args, U, U, U);

	/* forward, encode: the parts, then the result out of the arena */
	const Node *res[2] = {g->output, g->latent};
	const char *fn[2] = {"forward", "encode"}, *arg[2] = {"out", "z"};
	const char *parts[2] = {xasprintf("%s_ENCODER | %s_DECODER", U, U), xasprintf("%s_ENCODER", U)};
	for (int k = 0; k < 2; k++) {
		buf_printf(o, "void %s_%s(const void *state, void *work, %sint n, %s_real *%s)\n{\n%s", P, fn[k], in, P, arg[k], ctx);
		buf_printf(o, "\t%s_run(&c, %s%s);\n", P, args, parts[k]);
		buf_printf(o, "\tmemcpy(%s, c.work + %s, sizeof(%s) * %s);\n}\n\n", arg[k], emit_at(e, res[k]), r,
			   emit_count(e, res[k], 1));
	}

	const Node *gauss = c_gaussian_latent(m);
	if (gauss) {
		buf_printf(o, "void %s_encode_gaussian(const void *state, void *work, %sint n, %s_real *mu, %s_real *logvar)\n{\n%s",
			   P, in, P, P, ctx);
		buf_printf(o, "\t%s_run(&c, %s%s);\n", P, args, parts[1]);
		for (int k = 0; k < 2; k++)
			buf_printf(o, "\tmemcpy(%s, c.work + %s, sizeof(%s) * %s);\n", k ? "logvar" : "mu",
				   emit_at(e, gauss->in[k]), r, emit_count(e, gauss->in[k], 1));
		buf_printf(o, "}\n\n");
	}

	/* decode, sample: a latent in its slot, then the decoder */
	const char *decoder = xasprintf("\t%s_run(&c, %s%s_DECODER);\n\tmemcpy(out, c.work + %s, sizeof(%s) * %s);\n}\n\n", P,
					emit_inputs_call(e, 1), U, emit_at(e, g->output), r, emit_count(e, g->output, 1));
	if (m->decodable) {
		buf_printf(o, "void %s_decode(const void *state, void *work, const %s_real *z, %sint n, %s_real *out)\n{\n%s", P, P,
			   decode_inputs(e), P, ctx);
		buf_printf(o, "\tmemcpy(c.work + %s, z, sizeof(%s) * %s);\n%s", emit_at(e, g->latent), r,
			   emit_count(e, g->latent, 1), decoder);
	}
	if (has_sample(e)) {
		buf_printf(o, "void %s_sample(const void *state, void *work, uint64_t seed, int n, %s_real *out)\n{\n%s", P, P, ctx);
		buf_printf(o, "\t%s *const z = (%s *)(c.work + %s);\n", r, r, emit_at(e, g->latent));
		buf_printf(o, "\tconst uint64_t key = %s(seed ^ 0x7072696f72u); /* \"prior\" */\n", emit_helper(e, "mix"));
		buf_printf(o, "\tfor (long i = 0; i < %s; i++)\n", emit_count(e, g->latent, 1));
		buf_printf(o, "\t\tz[i] = (%s)%s(key, (uint64_t)i);\n%s", r, emit_helper(e, "normal"), decoder);
	}
}

/* The work arena's layout: a macro per value. */
void emit_layout(Emit *e, Buf *o)
{
	Model *m = e->m;
	Graph *g = m->g;
	if (e->infer)
		buf_printf(o, "/* The work arena, in bytes: every value; values whose lives do not overlap\n"
			      " * share memory. */\n");
	else
		buf_printf(o, "/* The work arena, in bytes: the gradient block (in the train step) at 0,\n"
			      " * then every value; values whose lives do not overlap share memory. */\n");
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.data[i];
		if (!n->dead && n->storage == ST_WORK && e->at_used[n->id])
			buf_printf(o, "#define %s %zu /* %s: %s %s */\n", emit_at(e, n), n->offset,
				   n->layer ? n->layer : emit_ref(e, n), node_label(n), shape_str(n->shape));
	}
	if (e->tables.len)
		buf_printf(o, "/* The same in loops over units: the place of each unit's value. */\n%s", e->tables.data);
	if (g->buffers.len && !e->infer)
		buf_printf(o, "/* The buffers, in bytes from the start of the state. */\n");
	for (int i = 0; i < g->buffers.len && !e->infer; i++) {
		const Buffer *b = g->buffers.data[i];
		buf_printf(o, "#define %s %zu /* %s */\n", emit_buffer_macro(e, b), buffers_base(m) + buffer_byte_offset(m, b),
			   b->name);
	}
	buf_printf(o, "\n");
}

/* The functions come first into their own buffer, so that only the
 * helpers they call are written before them. */
static void emit_source(Emit *e)
{
	Buf *o = e->out, body = {0};
	e->out = &body;
	emit_param_table(e);
	emit_buffer_table(e);
	emit_loss_term_table(e);
	emit_accessors(e);
	emit_init(e);
	emit_functions(e);
	e->out = o;
	buf_printf(o, "/* %s.c - generated by aecc %s from %s. Do not edit.%s */\n", e->P, AECC_VERSION, e->m->file,
		   emit_bf16(e) ? "\n * Products: bf16 operands (rounded to nearest even), fp32 sums; with vdpbf16ps\n"
				 " * on pairs along k where the target has AVX512-BF16." : "");
	buf_printf(o, "#include \"%s.h\"\n\n#include <math.h>\n%s#include <string.h>\n", e->P,
		   emit_bf16(e) ? "#include <stdint.h>\n" : "");
	if (!e->m->scalar)
		buf_printf(o, "\n#include <simde/x86/avx512.h> /* portable vectors: AVX-512, AVX2, NEON, ... */\n");
	buf_printf(o, "#ifdef _OPENMP\n#include <omp.h> /* threads, when built with -fopenmp */\n#endif\n\n");
	emit_layout(e, o);
	emit_helper_defs(e);
	buf_puts(o, body.data);
}

int c_has_sample(Model *m) { return has_sample(emit_new(m, m->name, 0, 0)); }

const Node *c_gaussian_latent(Model *m)
{
	const Node *z = m->g->latent;
	if (!z || z->op != &op_gaussian)
		return NULL;
	if (z->in[0]->storage != ST_WORK || z->in[1]->storage != ST_WORK)
		ICE("the Gaussian latent's mean and log-variance are not in the work arena");
	return z;
}

int c_decode_reads(Model *m, int i) { return decoder_reads(m, i); }

int c_draws_latent(const Model *m)
{
	for (int i = 0; i < m->g->nodes.len; i++) {
		const Node *n = m->g->nodes.data[i];
		if (!n->dead && n->op == &op_gaussian)
			return 1;
	}
	return 0;
}

Emit *emit_new(Model *m, const char *prefix, int infer, int small)
{
	Emit *e = xcalloc(1, sizeof *e);
	*e = (Emit){.m = m, .real = m->f64 ? "double" : "float", .P = prefix, .U = str_upper(prefix), .infer = infer,
		    .small = small};
	name_values(e);
	e->at_used = xcalloc((size_t)m->g->nodes.len, 1);
	e->folded = xcalloc((size_t)m->g->nodes.len, 1);
	return e;
}

void emit_set_out(Emit *e, Buf *o) { e->out = o; }
size_t emit_table_entries(Emit *e) { return e->table_entries; }
size_t emit_stack_arrays(Emit *e) { return e->stack_arrays; }

void c_render(Model *m, CFiles *out)
{
	*out = (CFiles){0};
	Emit *e = emit_new(m, m->name, 0, 0);
	e->out = &out->h;
	emit_header(e);
	e->out = &out->c;
	emit_source(e);
	c_render_main(m, &out->main);
}

int c_write(Model *m, const CFiles *f, const char *dir)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		diag_plain("cannot create directory %s: %s", dir, strerror(errno));
		return 0;
	}
	const Buf *b[3] = {&f->h, &f->c, &f->main};
	const char *suffix[3] = {".h", ".c", "_main.c"};
	for (int i = 0; i < 3; i++)
		if (!write_file_atomic(xasprintf("%s/%s%s", dir, m->name, suffix[i]), b[i]->data, b[i]->len))
			return 0;
	return 1;
}

int emit_c(Model *m, const char *dir)
{
	CFiles f;
	c_render(m, &f);
	return c_write(m, &f, dir);
}

