/* emit.c - write the model as plain C99: NAME.h (the public API), NAME.c
 * (init, train step, loss, forward, encode, decode) and NAME_main.c (the
 * descriptor that links the model to the runtime's trainer).
 * Requires: a planned graph (plan_memory). Provides: files in a folder.
 *
 * The generated code has no mutable globals and never allocates: the
 * caller owns the state (parameters, Adam moments, step count) and the
 * work arena, both sized by macros in NAME.h. Every symbol starts with
 * the model's name. */
#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "c.h"
#include "ops.h"
#include "pipeline.h"
#include "version.h"

struct Emit {
	Model *m;          /* the model */
	Buf *out;          /* where lines go */
	int indent;        /* current indentation in tabs */
	int training;      /* inside the train step */
	int updates;       /* inside the forward and backward pass the train step
	                      and the gradient share: buffers take their new
	                      values when its `updates` is not NULL */
	const char *real;  /* "float" or "double" */
	const char *P;     /* NAME, lower case */
	const char *U;     /* NAME, upper case */
	const Node *given; /* a value the caller passes in (decode's latent) */
	unsigned helpers;  /* bit i set: helper i of kernels.c is used */
	const char *mark;  /* the function being written: mark[id] == 1 for the
	                      nodes it computes (emit_body) */
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
const char *emit_ref(Emit *e, const Node *n)
{
	(void)e;
	return xasprintf("t%d", n->id);
}
const char *emit_real(Emit *e) { return e->real; }
int emit_training(Emit *e) { return e->training; }

/* Pairs made by fuse.c are computed by one kernel in the train step and
 * the gradient, where both members run; elsewhere each computes itself. */
const Node *emit_partner(Emit *e, const Node *n)
{
	const Node *p = n->computes;
	return p && e->training && e->mark && e->mark[p->id] == 1 ? p : NULL;
}

void emit_sum_begin(Emit *e, const char *count, const char *body, const char *after)
{
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "double part[64], acc = 0;");
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(static) if (%s >= 65536)\n#endif\n", count);
	emit_line(e, "for (long c = 0; c < 64; c++) {");
	emit_line(e, "\tconst long i0 = %s * c / 64 / 16 * 16, i1 = c == 63 ? %s : %s * (c + 1) / 64 / 16 * 16;", count,
		  count, count);
	emit_line(e, "\tdouble sum = 0;");
	if (body) {
		emit_line(e, "\tfor (long i = i0; i < i1; i++) {");
		for (const char *p = body; *p;) {
			const char *nl = strchr(p, '\n');
			int len = nl ? (int)(nl - p) : (int)strlen(p);
			emit_line(e, "\t\t%.*s", len, p);
			p += len + (nl != NULL);
		}
		emit_line(e, "\t}");
	}
	if (after)
		emit_line(e, "\t%s", after);
	emit_line(e, "\tpart[c] = sum;");
	emit_line(e, "}");
	emit_line(e, "for (long c = 0; c < 64; c++)");
	emit_line(e, "\tacc += part[c];");
}

void emit_sum_end(Emit *e)
{
	emit_indent(e, -1);
	emit_line(e, "}");
}

static int computed_elsewhere(Emit *e, const char *mark, const Node *n)
{
	const Node *by = n->computed_by;
	return by && e->training && mark[by->id] == 1;
}
int emit_scalar_kernels(Emit *e) { return e->m->scalar; }
const char *emit_prefix(Emit *e) { return e->P; }

const char *emit_num(Emit *e, double v)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.17g", v);
	if (!strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
	return xasprintf("%s%s", buf, e->real[0] == 'f' ? "f" : "");
}

const char *emit_count(Emit *e, const Node *n, int whole)
{
	(void)e;
	size_t k = shape_elems(n->shape);
	if (n->shape.batched && whole)
		return xasprintf("n * %zu", k);
	return xasprintf("%zu", k);
}

/* ---- which nodes a function needs ---- */

static void need(Emit *e, Node *n, char *mark)
{
	if (!n || mark[n->id])
		return;
	mark[n->id] = 1;
	if (n == e->given)
		return;
	for (int i = 0; i < n->nin; i++)
		need(e, n->in[i], mark);
}

/* ---- the state's layout ----
 * A 64-byte header (step count, noise key, then spare); the parameters,
 * first moments and second moments; then the buffers: their reals, then
 * their int64_t counters. Each block is 64-byte aligned. */

static size_t align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

static size_t block_bytes(Model *m) { return align64(m->g->param_elems * (m->f64 ? 8 : 4)); }

/* Where the buffers start, from the start of the state. */
static size_t buffers_base(Model *m) { return 64 + 3 * block_bytes(m); }

/* Bytes of the buffers' reals (their counters follow). */
static size_t buffer_reals_bytes(Model *m) { return align64(m->g->buffer_elems * (m->f64 ? 8 : 4)); }

size_t model_state_bytes(Model *m)
{
	return buffers_base(m) + buffer_reals_bytes(m) + align64(m->g->counter_elems * 8);
}

/* A buffer's place in bytes from the start of the buffers. */
static size_t buffer_byte_offset(Model *m, const Buffer *b)
{
	if (b->kind == BUF_COUNTER)
		return buffer_reals_bytes(m) + b->offset * 8;
	return b->offset * (m->f64 ? 8 : 4);
}

/* In the shared pass, right after node n: store the new values of the
 * buffers n updates into the state `updates` (the train step's; NULL from
 * the gradient), as later nodes may reuse n's memory. */
static void emit_buffer_updates(Emit *e, const Node *n)
{
	Model *m = e->m;
	for (int i = 0; i < m->g->buffers.len; i++) {
		const Buffer *b = m->g->buffers.data[i];
		if (b->next == n)
			emit_line(e, "if (updates) memcpy((unsigned char *)updates + %zu, t%d + %zu, sizeof(%s) * %zu); /* %s */",
				  buffers_base(m) + buffer_byte_offset(m, b), n->id, b->next_offset, e->real,
				  shape_elems(b->shape), b->name);
	}
}

/* Declare a pointer for every needed value (mark 1 or 2), then emit the
 * needed nodes (mark 1) in schedule order. `params_const` makes parameter
 * pointers read-only. */
static void emit_body(Emit *e, char *mark, int params_const)
{
	Graph *g = e->m->g;
	const char *r = e->real;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->dead || !mark[n->id])
			continue;
		if (n == e->given) {
			emit_line(e, "const %s *const t%d = z;", r, n->id);
			continue;
		}
		switch (n->storage) {
		case ST_WORK:
			emit_line(e, "%s *const t%d = (%s *)(work_ + %zu); /* %s %s */", r, n->id, r,
				  n->offset, n->op->name, shape_str(n->shape));
			break;
		case ST_INPUT:
			emit_line(e, "const %s *const t%d = %s;", r, n->id, n->name);
			break;
		case ST_PARAM: {
			Param *p = g->params.data[n->index];
			emit_line(e, "%s%s *const t%d = params + %zu; /* %s */", params_const ? "const " : "",
				  r, n->id, p->offset, p->name);
			break;
		}
		case ST_BUFFER: {
			Buffer *b = g->buffers.data[n->index];
			emit_line(e, "const %s *const t%d = (const %s *)((const unsigned char *)state + %zu); /* %s */", r,
				  n->id, r, buffers_base(e->m) + buffer_byte_offset(e->m, b), b->name);
			break;
		}
		case ST_NONE:
			break;
		}
	}
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->dead || mark[n->id] != 1 || n == e->given || n->storage == ST_INPUT ||
		    n->storage == ST_PARAM || n->storage == ST_BUFFER)
			continue;
		if (computed_elsewhere(e, mark, n)) {
			emit_line(e, "/* t%d = %s: computed with t%d */", n->id, n->op->name, n->computed_by->id);
			continue;
		}
		e->mark = mark;
		/* a pair computed together here is named as one */
		emit_line(e, "/* t%d = %s */", n->id, emit_partner(e, n) ? node_label(n) : node_op_label(n));
		n->op->emit(e, n);
		e->mark = NULL;
		if (e->updates)
			emit_buffer_updates(e, n);
	}
}

/* ---- the fixed parts of NAME.c ---- */

static void inputs_signature(Emit *e, Buf *b)
{
	Graph *g = e->m->g;
	for (int i = 0; i < g->inputs.len; i++)
		buf_printf(b, "const %s_real *%s, ", e->P, ((GInput *)g->inputs.data[i])->name);
}

/* The inputs the decoder reads other than through the latent (a label
 * for a conditional model, for instance): decode takes them too. */
static const char *decode_inputs(Emit *e)
{
	Graph *g = e->m->g;
	char *mk = xcalloc((size_t)g->nodes.len, 1);
	const Node *saved = e->given;
	e->given = g->latent;
	need(e, g->output, mk);
	e->given = saved;
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < g->inputs.len; i++) {
		GInput *in = g->inputs.data[i];
		if (mk[in->node->id] && in->node != g->latent)
			buf_printf(&b, "const %s_real *%s, ", e->P, in->name);
	}
	return b.data;
}

/* NAME_sample draws latents into the latent's own slot of the work arena
 * and decodes them. It exists when the decoder reads nothing but the
 * latent and no value the decoder computes shares that slot. */
static int has_sample(Emit *e)
{
	Graph *g = e->m->g;
	const Node *z = g->latent;
	if (*decode_inputs(e) || z->storage != ST_WORK)
		return 0;
	char *mk = xcalloc((size_t)g->nodes.len, 1);
	const Node *saved = e->given;
	e->given = z;
	need(e, g->output, mk);
	e->given = saved;
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.data[i];
		if (mk[n->id] && n != z && n->storage == ST_WORK && n->offset < z->offset + z->bytes &&
		    z->offset < n->offset + n->bytes)
			return 0;
	}
	return 1;
}

/* The inputs as call arguments: "x, y, ". */
static const char *call_inputs(Emit *e)
{
	Buf b = {0};
	Graph *g = e->m->g;
	buf_puts(&b, "");
	for (int i = 0; i < g->inputs.len; i++)
		buf_printf(&b, "%s, ", ((GInput *)g->inputs.data[i])->name);
	return b.data;
}

static const char *sig_inputs(Emit *e)
{
	Buf b = {0};
	buf_puts(&b, "");
	inputs_signature(e, &b);
	return b.data;
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
	buf_printf(o, "#define %s_STATE_BYTES %zu\n", U, model_state_bytes(m));
	buf_printf(o, "#define %s_WORK_BYTES %zu\n", U, m->work_bytes);
	buf_printf(o, "#define %s_NUM_PARAMS %d\n", U, g->params.len);
	buf_printf(o, "#define %s_PARAM_ELEMS %zu\n", U, g->param_elems);
	buf_printf(o, "#define %s_NUM_BUFFERS %d\n", U, g->buffers.len);
	buf_printf(o, "#define %s_NUM_INPUTS %d\n", U, g->inputs.len);
	for (int i = 0; i < g->inputs.len; i++) {
		GInput *gi = g->inputs.data[i];
		buf_printf(o, "#define %s_INPUT%d_SIZE %zu /* input %s %s */\n", U, i,
			   shape_elems(gi->shape), gi->name, shape_str(gi->shape));
	}
	buf_printf(o, "#define %s_LATENT_SIZE %zu /* %s */\n", U, shape_elems(g->latent->shape),
		   shape_str(g->latent->shape));
	buf_printf(o, "#define %s_OUTPUT_SIZE %zu /* %s */\n\n", U, shape_elems(g->output->shape),
		   shape_str(g->output->shape));
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
	buf_printf(o, "/* The settings of the .ae file's train section. */\n%s_hparams %s_default_hparams(void);\n", P, P);
	buf_printf(o, "/* Parameter i, 0 <= i < %s_NUM_PARAMS, in declaration order. */\n", U);
	buf_printf(o, "const %s_param_info *%s_param(int i);\n", P, P);
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
	buf_printf(o, "/* The loss on n samples and its gradient with respect to every parameter\n");
	buf_printf(o, " * (grad has %s_PARAM_ELEMS elements, laid out as the parameters), in\n", U);
	buf_printf(o, " * training mode (batch statistics); the buffers are left as they are. */\n");
	buf_printf(o, "%s_real %s_gradient(const void *state, void *work, %sint n, const %s_hparams *h, %s_real *grad);\n", P, P, in, P, P);
	buf_printf(o, "/* One Adam step with a gradient from %s_gradient (for example summed\n", P);
	buf_printf(o, " * over several processes); %s_train_step is the two in one. */\n", P);
	buf_printf(o, "void %s_update(void *state, const %s_real *grad, const %s_hparams *h);\n", P, P, P);
	buf_printf(o, "/* The loss on n samples, without training (evaluation mode). */\n");
	buf_printf(o, "%s_real %s_loss(const void *state, void *work, %sint n);\n", P, P, in);
	buf_printf(o, "/* Reconstruct: out is n x %s_OUTPUT_SIZE. */\n", U);
	buf_printf(o, "void %s_forward(const void *state, void *work, %sint n, %s_real *out);\n", P, in, P);
	buf_printf(o, "/* Encode: z is n x %s_LATENT_SIZE. */\n", U);
	buf_printf(o, "void %s_encode(const void *state, void *work, %sint n, %s_real *z);\n", P, in, P);
	buf_printf(o, "/* Decode latents z (n x %s_LATENT_SIZE) into out (n x %s_OUTPUT_SIZE). */\n", U, U);
	buf_printf(o, "void %s_decode(const void *state, void *work, const %s_real *z, %sint n, %s_real *out);\n\n", P, P,
		   decode_inputs(e), P);
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
		buf_printf(e->out, "}, %zu, %zu},\n", p->offset, shape_elems(p->shape));
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

static void emit_accessors(Emit *e)
{
	Model *m = e->m;
	const char *P = e->P, *r = e->real;
	size_t blk = block_bytes(m);
	const TrainConfig *t = &m->train;
	buf_printf(e->out, "%s_hparams %s_default_hparams(void)\n{\n", P, P);
	buf_printf(e->out, "\t%s_hparams h = {%.17g, %.17g, %.17g, %.17g, %.17g, 1};\n\treturn h;\n}\n\n", P,
		   t->lr, t->beta1, t->beta2, t->eps, t->weight_decay);
	buf_printf(e->out, "const %s_param_info *%s_param(int i)\n{\n", P, P);
	buf_printf(e->out, "\treturn i >= 0 && i < %d ? &%s_param_table[i] : NULL;\n}\n\n", m->g->params.len, P);
	const char *names[3] = {"params", "adam_m", "adam_v"};
	for (int i = 0; i < 3; i++)
		buf_printf(e->out, "%s_real *%s_%s(void *state)\n{\n\treturn (%s *)((unsigned char *)state + %zu);\n}\n\n",
			   P, P, names[i], r, 64 + (size_t)i * blk);
	buf_printf(e->out, "int64_t *%s_step(void *state)\n{\n\treturn (int64_t *)state;\n}\n\n", P);
	buf_printf(e->out, "const %s_buffer_info *%s_buffer(int i)\n{\n", P, P);
	if (m->g->buffers.len)
		buf_printf(e->out, "\treturn i >= 0 && i < %d ? &%s_buffer_table[i] : NULL;\n}\n\n", m->g->buffers.len, P);
	else
		buf_printf(e->out, "\t(void)i;\n\treturn NULL;\n}\n\n");
	buf_printf(e->out, "void *%s_buffers(void *state)\n{\n\treturn (unsigned char *)state + %zu;\n}\n\n", P,
		   buffers_base(m));
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

const char *emit_noise_key(Emit *e, const Node *n)
{
	const char *mix = emit_helper(e, "mix");
	return xasprintf("%s(rng ^ %s(((uint64_t)step << 24) ^ %du))", mix, mix, n->id);
}

static char *marks(Model *m) { return xcalloc((size_t)m->g->nodes.len, 1); }

/* How a function treats the step count and the stochastic parts (FN_PASS:
 * the step is its argument). */
enum { FN_TRAIN, FN_GRADIENT, FN_EVAL, FN_PASS };

/* Open a function: pointers into the state and work buffers, and the
 * variables stochastic ops read: `stochastic` (noise on or off), `rng` (the
 * state's noise key) and `step` (the step being taken). */
static void begin_fn(Emit *e, const char *sig, int kind)
{
	const char *c = kind == FN_TRAIN ? "" : "const ";
	buf_printf(e->out, "%s\n{\n", sig);
	e->indent = 1;
	emit_line(e, "unsigned char *const work_ = (unsigned char *)work;");
	emit_line(e, "%s%s *const params = (%s%s *)((%sunsigned char *)state + 64);", c, e->real, c, e->real, c);
	if (kind == FN_TRAIN)
		emit_line(e, "const int64_t step = ++*%s_step(state);", e->P);
	else if (kind == FN_GRADIENT)
		emit_line(e, "const int64_t step = *(const int64_t *)state + 1;");
	else if (kind == FN_EVAL)
		emit_line(e, "const int64_t step = 0;");
	if (kind == FN_EVAL)
		emit_line(e, "const int stochastic = 0;");
	else
		emit_line(e, "const int stochastic = h->stochastic;");
	emit_line(e, "const uint64_t rng = *(const uint64_t *)((const unsigned char *)state + 8);");
	emit_line(e, "(void)work_, (void)params, (void)step, (void)stochastic, (void)rng;");
}

static void end_fn(Emit *e)
{
	e->indent = 0;
	buf_puts(e->out, "}\n\n");
}

/* The train step's last act on the buffers: every counter counts it. */
static void emit_counters(Emit *e)
{
	Model *m = e->m;
	for (int i = 0; i < m->g->buffers.len; i++) {
		Buffer *b = m->g->buffers.data[i];
		if (b->kind == BUF_COUNTER)
			emit_line(e, "++*(int64_t *)((unsigned char *)state + %zu); /* %s */",
				  buffers_base(m) + buffer_byte_offset(m, b), b->name);
	}
}

/* The per-step scalars adam_emit_loop reads; increments the step. */
static void emit_adam_scalars(Emit *e)
{
	const char *P = e->P, *r = e->real;
	emit_line(e, "%s *const adam_m = %s_adam_m(state), *const adam_v = %s_adam_v(state);", r, P, P);
	/* 1 - beta in double, then rounded, as PyTorch passes it to its kernels. */
	emit_line(e, "const %s_adam_k adam_k = {", P);
	emit_line(e, "\t(%s)h->beta1, (%s)h->beta2, (%s)(1 - h->beta1), (%s)(1 - h->beta2), (%s)h->eps,", r, r, r, r, r);
	emit_line(e, "\t(%s)h->weight_decay, (%s)(h->lr / (1 - pow(h->beta1, (double)step))),", r, r);
	emit_line(e, "\t(%s)sqrt(1 - pow(h->beta2, (double)step))};", r);
	emit_helper(e, "adam");
}

static void emit_functions(Emit *e)
{
	Model *m = e->m;
	Graph *g = m->g;
	const char *P = e->P, *r = e->real, *in = sig_inputs(e);
	char *mk;

	/* The forward and backward pass, shared by the train step and the
	 * gradient: the loss and every parameter's gradient, left in the work
	 * arena where the plan put them. */
	mk = marks(m);
	need(e, g->loss, mk);
	for (int i = 0; i < g->params.len; i++)
		need(e, ((Param *)g->params.data[i])->node->grad, mk);
	e->training = e->updates = 1;
	buf_printf(e->out, "/* The loss and the gradient of every parameter (left in work); the\n"
		   " * buffers' new values go to the state `updates` unless it is NULL. */\n");
	begin_fn(e, xasprintf("static %s_real %s_pass(const void *state, void *work, %sint n, const %s_hparams *h,\n"
			      "\t\t\tint64_t step, void *updates)", P, P, in, P), FN_PASS);
	emit_line(e, "(void)updates;");
	emit_body(e, mk, 1);
	emit_line(e, "return t%d[0];", g->loss->id);
	end_fn(e);
	e->training = e->updates = 0;
	const char *args = call_inputs(e);

	/* train step: the pass, then Adam on every parameter */
	begin_fn(e, xasprintf("%s_real %s_train_step(void *state, void *work, %sint n, const %s_hparams *h)", P, P, in, P), FN_TRAIN);
	emit_line(e, "const %s_real loss = %s_pass(state, work, %sn, h, step, state);", P, P, args);
	emit_counters(e);
	emit_adam_scalars(e);
	mk = marks(m);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (!n->dead && n->op == &op_adam) {
			mk[n->id] = 1;
			mk[n->in[0]->id] = mk[n->in[1]->id] = 2; /* computed by the pass */
		}
	}
	emit_body(e, mk, 0);
	emit_line(e, "return loss;");
	end_fn(e);

	/* gradient, update: the train step in two halves */
	begin_fn(e, xasprintf("%s_real %s_gradient(const void *state, void *work, %sint n, const %s_hparams *h, %s_real *grad)", P, P, in, P, P), FN_GRADIENT);
	emit_line(e, "const %s_real loss = %s_pass(state, work, %sn, h, step, NULL);", P, P, args);
	for (int i = 0; i < g->params.len; i++) {
		Param *p = g->params.data[i];
		emit_line(e, "memcpy(grad + %zu, work_ + %zu, sizeof(%s) * %zu);", p->offset, p->node->grad->offset, r,
			  shape_elems(p->shape));
	}
	emit_line(e, "return loss;");
	end_fn(e);
	buf_printf(e->out, "void %s_update(void *state, const %s_real *grad, const %s_hparams *h)\n{\n", P, P, P);
	e->indent = 1;
	emit_line(e, "const int64_t step = ++*%s_step(state);", P);
	emit_adam_scalars(e);
	emit_line(e, "%s_real *const params = %s_params(state);", P, P);
	adam_emit_loop(e, "params", "adam_m", "adam_v", "grad", g->param_elems);
	end_fn(e);

	/* loss */
	mk = marks(m);
	need(e, g->loss, mk);
	begin_fn(e, xasprintf("%s_real %s_loss(const void *state, void *work, %sint n)", P, P, in), FN_EVAL);
	emit_body(e, mk, 1);
	emit_line(e, "return t%d[0];", g->loss->id);
	end_fn(e);

	/* forward, encode */
	Node *res[2] = {g->output, g->latent};
	const char *fn[2] = {"forward", "encode"}, *arg[2] = {"out", "z"};
	for (int k = 0; k < 2; k++) {
		mk = marks(m);
		need(e, res[k], mk);
		begin_fn(e, xasprintf("void %s_%s(const void *state, void *work, %sint n, %s_real *%s)", P, fn[k], in, P, arg[k]), FN_EVAL);
		emit_body(e, mk, 1);
		emit_line(e, "memcpy(%s, t%d, sizeof(%s) * %s);", arg[k], res[k]->id, r, emit_count(e, res[k], 1));
		end_fn(e);
	}

	/* decode: the latent comes from the caller */
	mk = marks(m);
	e->given = g->latent;
	need(e, g->output, mk);
	begin_fn(e, xasprintf("void %s_decode(const void *state, void *work, const %s_real *z, %sint n, %s_real *out)", P, P,
			      decode_inputs(e), P), FN_EVAL);
	emit_body(e, mk, 1);
	emit_line(e, "memcpy(out, t%d, sizeof(%s) * %s);", g->output->id, r, emit_count(e, g->output, 1));
	end_fn(e);

	/* sample: latents drawn from the prior into their own slot, decoded */
	if (has_sample(e)) {
		begin_fn(e, xasprintf("void %s_sample(const void *state, void *work, uint64_t seed, int n, %s_real *out)", P, P),
			 FN_EVAL);
		emit_line(e, "%s *const z = (%s *)(work_ + %zu);", r, r, g->latent->offset);
		emit_line(e, "const uint64_t key = %s(seed ^ 0x7072696f72u); /* \"prior\" */", emit_helper(e, "mix"));
		emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, g->latent, 1));
		emit_line(e, "\tz[i] = (%s)%s(key, (uint64_t)i);", r, emit_helper(e, "normal"));
		emit_line(e, "%s_decode(state, work, z, n, out);", P);
		end_fn(e);
	}
	e->given = NULL;
}

/* The functions come first into their own buffer, so that only the
 * helpers they call are written before them. */
static void emit_source(Emit *e)
{
	Buf *o = e->out, body = {0};
	e->out = &body;
	emit_param_table(e);
	emit_buffer_table(e);
	emit_accessors(e);
	emit_init(e);
	emit_functions(e);
	e->out = o;
	buf_printf(o, "/* %s.c - generated by aecc %s from %s. Do not edit. */\n", e->P, AECC_VERSION, e->m->file);
	buf_printf(o, "#include \"%s.h\"\n\n#include <math.h>\n#include <string.h>\n", e->P);
	if (!e->m->scalar)
		buf_printf(o, "\n#include <simde/x86/avx512.h> /* portable vectors: AVX-512, AVX2, NEON, ... */\n");
	buf_printf(o, "#ifdef _OPENMP\n#include <omp.h> /* threads, when built with -fopenmp */\n#endif\n\n");
	emit_helper_defs(e);
	buf_puts(o, body.data);
}

int c_has_sample(Model *m)
{
	Emit e = {.m = m};
	return has_sample(&e);
}

int c_decode_reads(Model *m, int i)
{
	Graph *g = m->g;
	char *mk = xcalloc((size_t)g->nodes.len, 1);
	Emit e = {.m = m, .given = g->latent};
	need(&e, g->output, mk);
	const GInput *in = g->inputs.data[i];
	return mk[in->node->id] && in->node != g->latent;
}

void c_render(Model *m, CFiles *out)
{
	*out = (CFiles){0};
	Emit e = {.m = m, .real = m->f64 ? "double" : "float", .P = m->name, .U = str_upper(m->name)};
	e.out = &out->h;
	emit_header(&e);
	e.out = &out->c;
	emit_source(&e);
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

size_t c_buffer_offset(Model *m, int i)
{
	return buffer_byte_offset(m, m->g->buffers.data[i]);
}
