/* export.c - aecc export (export.h): NAME_infer.h and NAME_infer.c, an
 * inference-only build of a model at a fixed batch, written by the C
 * printer (backend/c) over an inference build of the pipeline.
 * Requires: a model planned with Options.infer_parts. Provides:
 * export_option(), export_run().
 *
 * NAME_infer.c holds the work arena's layout, the helpers the rows call,
 * the weights (unless they are extern or passed in), NAME_infer_run (the
 * printer's NAME_run over the parts the build keeps, in evaluation form),
 * and the public functions, each one call of it. Every symbol starts with
 * NAME_infer, so exports of several models, and a model's training C,
 * link into one program. The helpers' OpenMP sections are left out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "c.h"
#include "emit.h"
#include "export.h"
#include "version.h"

/* The functions an export can have, in the order of the files. */
static const struct {
	unsigned bit;     /* EXPORT_* */
	const char *name; /* as --functions names it */
	unsigned parts;   /* the parts of the model it runs, bits 1 << PART_* */
} functions[] = {
	{EXPORT_ENCODE, "encode", 1u << PART_ENCODER},
	{EXPORT_DECODE, "decode", 1u << PART_DECODER},
	{EXPORT_FORWARD, "forward", 1u << PART_ENCODER | 1u << PART_DECODER},
	{EXPORT_SCORE, "score", 1u << PART_ENCODER | 1u << PART_DECODER | 1u << PART_LOSS},
};
enum { NFUNCTIONS = sizeof functions / sizeof *functions };

/* Stack a call may use besides the arrays the code declares: this much
 * for each frame of the deepest chain of calls (an entry point,
 * NAME_infer_run, the product, its epilogue, the activation and exp), for
 * saved registers, spills and scalars. Seen at most 1,600 bytes in all at
 * batch 1 (gcc -O1); tests/export.sh checks the bound with gcc's call
 * graph on x86-64 (-O2, -Os, -O2 -march=native) and AArch64 (-O2, -Os). */
enum { FRAME_BYTES = 256, FRAMES = 7 };

/* One tensor of the weights block. */
typedef struct Tensor {
	const char *name;   /* PyTorch's name */
	Shape shape;        /* PyTorch's shape */
	const char *macro;  /* NAME_INFER_ENCODER_0_WEIGHT: its offset */
	size_t at;          /* element offset in the export's block */
	size_t from;        /* element offset in the loaded block (weights.c) */
	size_t size;        /* elements */
} Tensor;

/* One export being written. */
typedef struct Export {
	Model *m;
	const ExportOptions *o;
	unsigned fns;       /* the functions written, EXPORT_* */
	Emit *e;            /* the C printer, prefix NAME_infer */
	const char *P, *U;  /* NAME_infer, NAME_INFER */
	const char *real;   /* float or double */
	int small;          /* the small kernels */
	Vec tensors;        /* Tensor*: what the build reads, in the block's order */
	size_t elems;       /* elements of the block */
	const void *values; /* the loaded block, or NULL */
} Export;

/* ---- the command line ---- */

static int parse_functions(ExportOptions *x, const char *list, const char **err)
{
	x->functions = 0;
	for (const char *p = list;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		unsigned bit = 0;
		for (int i = 0; i < NFUNCTIONS; i++)
			if (strlen(functions[i].name) == len && !strncmp(functions[i].name, p, len))
				bit = functions[i].bit;
		if (!bit) {
			*err = xasprintf("unknown function '%.*s' in --functions (encode, decode, forward or score)", (int)len, p);
			return -1;
		}
		x->functions |= bit;
		if (!end)
			return 1;
		p = end + 1;
	}
}

int export_option(ExportOptions *x, int argc, char **argv, int *i, const char **err)
{
	static const char *const names[] = {"--weights", "--functions", "--batch", "--weights-as", "--tile"};
	int k = -1;
	for (int j = 0; j < 5; j++)
		if (!strcmp(argv[*i], names[j]))
			k = j;
	if (k < 0)
		return 0;
	if (*i + 1 >= argc) {
		*err = xasprintf("%s needs a value", names[k]);
		return -1;
	}
	const char *v = argv[++*i];
	char *end;
	long n;
	switch (k) {
	case 0:
		x->weights = v;
		return 1;
	case 1:
		return parse_functions(x, v, err);
	case 2:
		errno = 0;
		n = strtol(v, &end, 10);
		if (end == v || *end || errno || n < 1 || n > 1 << 20) {
			*err = xasprintf("--batch needs a number of samples from 1 to %d, not '%s'", 1 << 20, v);
			return -1;
		}
		x->batch = (int)n;
		return 1;
	case 3:
		if (strcmp(v, "extern") && strcmp(v, "static")) {
			*err = xasprintf("unknown --weights-as '%s' (expected static or extern)", v);
			return -1;
		}
		x->weights_extern = !strcmp(v, "extern");
		return 1;
	default:
		if (strcmp(v, "small") && strcmp(v, "large")) {
			*err = xasprintf("unknown --tile '%s' (expected small or large)", v);
			return -1;
		}
		x->tile = !strcmp(v, "small") ? TILE_SMALL : TILE_LARGE;
		return 1;
	}
}

/* ---- checks ---- */

static unsigned parts_of(unsigned fns)
{
	unsigned parts = 0;
	for (int i = 0; i < NFUNCTIONS; i++)
		if (fns & functions[i].bit)
			parts |= functions[i].parts;
	return parts;
}

/* The first live node of the build with no inference form, or NULL. */
static Node *refused_node(Model *m)
{
	for (int i = 0; i < m->g->nodes.len; i++) {
		Node *n = m->g->nodes.data[i];
		if (!n->dead && n->part && export_refusal(n->op))
			return n;
	}
	return NULL;
}

/* The functions whose parts include `part`, as "score" or "forward, score". */
static const char *functions_with(unsigned fns, int part)
{
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < NFUNCTIONS; i++)
		if (fns & functions[i].bit && functions[i].parts & 1u << part)
			buf_printf(&b, "%s%s", b.len ? ", " : "", functions[i].name);
	return b.data;
}

/* The pipeline for an inference build of these functions. */
static Model *build(const char *file, const Options *opt, const ExportOptions *x, unsigned fns)
{
	Options o = *opt;
	o.infer_parts = parts_of(fns);
	o.batch = x->batch;
	o.stop_after = PASS_ALL;
	Model *m = pipeline_run(file, &o);
	return m && !diag_errors() ? m : NULL;
}

/* The parameters and buffers that the build's code reads, in declaration
 * order, parameters first: the block of weights. */
static void collect_tensors(Export *x)
{
	Graph *g = x->m->g;
	char *param = xcalloc((size_t)g->params.len + 1, 1), *buffer = xcalloc((size_t)g->buffers.len + 1, 1);
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.data[i];
		for (int j = 0; j < n->nin && !n->dead && n->part; j++) {
			if (n->in[j]->storage == ST_PARAM)
				param[n->in[j]->index] = 1;
			if (n->in[j]->storage == ST_BUFFER)
				buffer[n->in[j]->index] = 1;
		}
	}
	for (int i = 0; i < g->params.len + g->buffers.len; i++) {
		int is_param = i < g->params.len, k = is_param ? i : i - g->params.len;
		if (!(is_param ? param : buffer)[k])
			continue;
		Tensor *t = xcalloc(1, sizeof *t);
		if (is_param) {
			Param *p = g->params.data[k];
			*t = (Tensor){p->name, p->shape, emit_param_macro(x->e, p), x->elems, p->offset, shape_elems(p->shape)};
		} else {
			Buffer *b = g->buffers.data[k];
			ASSERT(b->kind == BUF_RUNNING);
			*t = (Tensor){b->name, b->shape, emit_buffer_macro(x->e, b), x->elems, g->param_elems + b->offset,
				      shape_elems(b->shape)};
		}
		x->elems += t->size;
		vec_push(&x->tensors, t);
	}
}

/* ---- the files ---- */

/* text without its OpenMP: each `#ifdef _OPENMP` section but its #else
 * part, if any (the printer writes every use of OpenMP in one). */
static char *strip_openmp(const char *text)
{
	Buf o = {0};
	buf_puts(&o, "");
	int in = 0, depth = 0, keep = 1;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
		const char *s = p + strspn(p, " \t");
		int drop = 0;
		if (!in && !strncmp(s, "#ifdef _OPENMP", 14)) {
			in = 1, depth = 0, keep = 0, drop = 1;
		} else if (in && !strncmp(s, "#if", 3)) {
			depth++;
		} else if (in && !strncmp(s, "#endif", 6)) {
			if (depth == 0)
				in = 0, keep = 1, drop = 1;
			else
				depth--;
		} else if (in && depth == 0 && !strncmp(s, "#else", 5)) {
			keep = 1, drop = 1;
		}
		if (!drop && keep)
			buf_printf(&o, "%.*s", (int)len, p);
		p += len;
	}
	return o.data;
}

/* The inputs function parts read: as parameters, "const P_real *x, ". */
static const char *input_params(Export *x, unsigned parts)
{
	Graph *g = x->m->g;
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < g->inputs.len; i++)
		if (c_reads_input(x->m, i, parts))
			buf_printf(&b, "const %s_real *%s, ", x->P, ((GInput *)g->inputs.data[i])->name);
	return b.data;
}

/* NAME_infer_run's inputs in a function that has those of parts: each its
 * own, from sample b on with per_sample, or NULL. */
static const char *run_args(Export *x, unsigned parts, int per_sample)
{
	Graph *g = x->m->g;
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < g->inputs.len; i++) {
		const GInput *in = g->inputs.data[i];
		if (!c_reads_input(x->m, i, ~0u))
			continue; /* not an input of the run */
		if (!c_reads_input(x->m, i, parts))
			buf_puts(&b, "NULL, ");
		else if (per_sample)
			buf_printf(&b, "%s + b * %zu, ", in->name, shape_elems(in->shape));
		else
			buf_printf(&b, "%s, ", in->name);
	}
	return b.data;
}

/* "const P_real *weights, " when the weights are passed in. */
static const char *weights_param(Export *x)
{
	return x->o->weights || x->o->weights_extern ? "" : xasprintf("const %s_real *weights, ", x->P);
}

/* The call's context: the weights, the work arena, rows. */
static const char *context(Export *x, const char *rows)
{
	return xasprintf("\tconst %s_ctx c = {%s, (unsigned char *)work, %s};\n", x->P,
			 *weights_param(x) ? "weights" : xasprintf("%s_weights", x->P), rows);
}

static const char *signature(Export *x, int f)
{
	const char *P = x->P;
	switch (functions[f].bit) {
	case EXPORT_ENCODE:
		return xasprintf("void %s_encode(%svoid *work, %s%s_real *z)", P, weights_param(x),
				 input_params(x, functions[f].parts), P);
	case EXPORT_DECODE:
		return xasprintf("void %s_decode(%svoid *work, const %s_real *z, %s%s_real *out)", P, weights_param(x), P,
				 input_params(x, functions[f].parts), P);
	case EXPORT_FORWARD:
		return xasprintf("void %s_forward(%svoid *work, %s%s_real *out)", P, weights_param(x),
				 input_params(x, functions[f].parts), P);
	default:
		return xasprintf("void %s_score(%svoid *work, %s%s_real *score)", P, weights_param(x),
				 input_params(x, functions[f].parts), P);
	}
}

/* memcpy of the batch's values of n between `to` and the arena. */
static const char *copy(Export *x, const Node *n, const char *to, int into_arena)
{
	const char *at = xasprintf("c.work + %s", emit_at(x->e, n));
	return xasprintf("\tmemcpy(%s, %s, sizeof(%s) * %s_BATCH * %zu);\n", into_arena ? at : to, into_arena ? to : at,
			 x->real, x->U, shape_elems(n->shape));
}

/* The public functions, each a call of NAME_infer_run. */
static void emit_functions(Export *x, Buf *o)
{
	Graph *g = x->m->g;
	const char *P = x->P, *U = x->U, *batch = xasprintf("%s_BATCH", U);
	for (int f = 0; f < NFUNCTIONS; f++) {
		unsigned bit = functions[f].bit, parts = functions[f].parts;
		if (!(x->fns & bit))
			continue;
		buf_printf(o, "%s\n{\n", signature(x, f));
		if (bit == EXPORT_SCORE) {
			buf_printf(o, "\tfor (int b = 0; b < %s; b++) { /* each sample on its own */\n\t%s", batch,
				   context(x, "1"));
			buf_printf(o, "\t\tscore[b] = %s_run(&c, %s%s_ENCODER | %s_DECODER | %s_LOSS);\n\t}\n}\n\n", P,
				   run_args(x, parts, 1), U, U, U);
			continue;
		}
		buf_puts(o, context(x, batch));
		if (bit == EXPORT_DECODE)
			buf_puts(o, copy(x, g->latent, "z", 1));
		const char *which = bit == EXPORT_ENCODE ? "ENCODER" : bit == EXPORT_DECODE ? "DECODER" : NULL;
		if (which)
			buf_printf(o, "\t%s_run(&c, %s%s_%s);\n", P, run_args(x, parts, 0), U, which);
		else
			buf_printf(o, "\t%s_run(&c, %s%s_ENCODER | %s_DECODER);\n", P, run_args(x, parts, 0), U, U);
		buf_puts(o, bit == EXPORT_ENCODE ? copy(x, g->latent, "z", 0) : copy(x, g->output, "out", 0));
		buf_puts(o, "}\n\n");
	}
}

/* What a call computes with, and the parts of NAME_infer_run. */
static void emit_context(Export *x, Buf *o)
{
	const char *P = x->P, *U = x->U;
	buf_printf(o, "/* What one call of the model computes with. */\ntypedef struct %s_ctx {\n", P);
	buf_printf(o, "\tconst %s *params; /* the weights */\n", x->real);
	buf_printf(o, "\tunsigned char *work; /* the work arena */\n\tint n; /* rows in the batch */\n} %s_ctx;\n\n", P);
	buf_printf(o, "/* The parts of the model %s_run computes, in this order. */\n", P);
	buf_printf(o, "enum { %s_ENCODER = 1, %s_DECODER = 2, %s_LOSS = 4 };\n\n", U, U, U);
}

/* The weights block's definition (the lines after its declarator). */
static void emit_values(Export *x, Buf *o)
{
	buf_puts(o, " = {\n");
	for (int i = 0; i < x->tensors.len; i++) {
		const Tensor *t = x->tensors.data[i];
		buf_printf(o, "\t/* %s %s at %s */\n", t->name, shape_str(t->shape), t->macro);
		export_literals(o, x->values, x->m->f64, t->from, t->size);
	}
	buf_puts(o, "};\n");
}

/* The weights' declarator: "const float NAME_infer_weights[N]". */
static const char *weights_decl(Export *x)
{
	return xasprintf("const %s %s_weights[%zu]", x->real, x->P, x->elems ? x->elems : 1);
}

static void emit_source(Export *x, Buf *o)
{
	Emit *e = x->e;
	Model *m = x->m;
	Buf body = {0}, helpers = {0};
	emit_context(x, &body);
	emit_set_out(e, &body);
	emit_model_run(e);
	emit_functions(x, &body);
	emit_set_out(e, &helpers);
	emit_helper_defs(e);
	buf_printf(o, "/* %s.c - generated by aecc %s from %s (aecc export). Do not edit. */\n", x->P, AECC_VERSION,
		   m->file);
	buf_printf(o, "#include \"%s.h\"\n\n#include <math.h>\n#include <string.h>\n", x->P);
	if (!m->scalar)
		buf_printf(o, "\n#include <simde/x86/avx512.h> /* portable vectors: AVX-512, AVX2, NEON, ... */\n");
	buf_puts(o, "\n");
	emit_layout(e, o);
	buf_puts(o, strip_openmp(helpers.data ? helpers.data : ""));
	if (x->values && !x->o->weights_extern) {
		buf_printf(o, "/* The weights of %s, each value as it was there. */\nstatic %s", x->o->weights,
			   weights_decl(x));
		emit_values(x, o);
		buf_puts(o, "\n");
	}
	buf_puts(o, strip_openmp(body.data));
	if (!x->values || x->o->weights_extern) {
		buf_printf(o, "const %s_tensor %s_tensors[%s_NUM_TENSORS] = {\n", x->P, x->P, x->U);
		for (int i = 0; i < x->tensors.len; i++) {
			const Tensor *t = x->tensors.data[i];
			buf_printf(o, "\t{\"%s\", %d, {", t->name, t->shape.rank);
			for (int d = 0; d < 4; d++)
				buf_printf(o, "%s%d", d ? ", " : "", d < t->shape.rank ? t->shape.dims[d] : 0);
			buf_printf(o, "}, %s, %zu},\n", t->macro, t->size);
		}
		buf_puts(o, "};\n");
	}
}

static const char *input_comment(Export *x, unsigned parts, const char *what)
{
	Graph *g = x->m->g;
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < g->inputs.len; i++)
		if (c_reads_input(x->m, i, parts)) {
			GInput *in = g->inputs.data[i];
			buf_printf(&b, "%s%s is %s_BATCH x %s_INPUT%d_SIZE", b.len ? ", " : "", in->name, x->U, x->U, i);
		}
	return b.len ? xasprintf("%s, %s", b.data, what) : what;
}

/* The arrays a call keeps on its stack at most: the kernels' and the
 * largest of NAME_infer_run's. */
static size_t stack_arrays(Export *x)
{
	Model *m = x->m;
	size_t kernels = m->scalar ? 0 : x->small ? kernels_small_stack_bytes(m->f64) : kernels_stack_bytes(m->f64, 0);
	return kernels + emit_stack_arrays(x->e);
}

/* The functions written, as "encode, forward and score". */
static const char *function_list(unsigned fns)
{
	Buf b = {0};
	int count = 0, k = 0;
	for (int i = 0; i < NFUNCTIONS; i++)
		count += (fns & functions[i].bit) != 0;
	buf_puts(&b, "");
	for (int i = 0; i < NFUNCTIONS; i++)
		if (fns & functions[i].bit) {
			k++;
			buf_printf(&b, "%s%s", k == 1 ? "" : k == count ? " and " : ", ", functions[i].name);
		}
	return b.data;
}

/* text as the lines of a comment, words wrapped before column 80: " * "
 * lines of a block the caller opens and closes, or with whole, a comment
 * of its own. A newline in text starts a paragraph. */
static void wrap(Buf *o, const char *text, int whole)
{
	int col = 2;
	buf_puts(o, whole ? "/*" : " *");
	for (const char *p = text; *p;) {
		if (*p == '\n') {
			buf_puts(o, "\n *\n *");
			col = 2;
			p++;
			continue;
		}
		size_t len = strcspn(p, " \n");
		if (col + 1 + (int)len > 78) {
			buf_puts(o, "\n *");
			col = 2;
		}
		buf_printf(o, " %.*s", (int)len, p);
		col += 1 + (int)len;
		p += len;
		p += *p == ' ';
	}
	buf_puts(o, whole ? " */\n" : "\n");
}

/* The header's words on how the weights reach the code. */
static const char *header_weights(Export *x)
{
	if (x->o->weights_extern)
		return xasprintf("The weights are %s_weights, declared below and defined elsewhere (aecc export "
				 "--weights-as extern with --weights writes %s_weights.c), each tensor at the offset its "
				 "macro gives.", x->P, x->P);
	if (x->o->weights)
		return xasprintf("The weights of %s are inside, as constant data.", x->o->weights);
	return xasprintf("The weights are the caller's: every function takes a pointer to %s_WEIGHT_ELEMS values, "
			 "each tensor of the model's safetensors file at the offset its macro gives (%s_tensors "
			 "lists them).", x->U, x->P);
}

/* The nodes of the build computed otherwise than in training. */
static const char *header_forms(Export *x)
{
	Graph *g = x->m->g;
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < g->nodes.len; i++) {
		const Node *n = g->nodes.data[i];
		if (!n->dead && n->part && export_form(n->op))
			buf_printf(&b, " At inference, %s (%s) is %s.", n->name ? n->name : n->layer ? n->layer : n->op->name,
				   n->op->name, export_form(n->op));
	}
	return b.data;
}

/* The comment above function f in the header. */
static const char *function_comment(Export *x, int f)
{
	const char *U = x->U, *w = *weights_param(x) ? " weights: the model's (see above);" : "";
	unsigned bit = functions[f].bit, parts = functions[f].parts;
	const char *latent = xasprintf("z %s_BATCH x %s_LATENT_SIZE", U, U);
	const char *out = xasprintf("out %s_BATCH x %s_OUTPUT_SIZE", U, U);
	if (bit == EXPORT_ENCODE)
		return xasprintf("Encode:%s %s.", w, input_comment(x, parts, latent));
	if (bit == EXPORT_DECODE)
		return xasprintf("Decode:%s %s, %s.", w, latent, input_comment(x, parts, out));
	if (bit == EXPORT_FORWARD)
		return xasprintf("Reconstruct:%s %s.", w, input_comment(x, parts, out));
	return xasprintf("The anomaly score of each sample: its loss under the model on its own, in "
			 "evaluation form.%s %s.", w, input_comment(x, parts, xasprintf("score %s_BATCH values", U)));
}

/* The bytes of constant data NAME_infer.c defines, as a C expression: the
 * weights (when they are inside), the offset tables of loops, the table
 * of tensors (when the weights are not inside). */
static const char *const_bytes(Export *x, size_t weights, size_t tables)
{
	Buf b = {0};
	buf_puts(&b, "");
	if (weights)
		buf_printf(&b, "%zu", weights);
	if (!x->values || x->o->weights_extern) {
		size_t names = 0;
		for (int i = 0; i < x->tensors.len; i++)
			names += strlen(((Tensor *)x->tensors.data[i])->name) + 1;
		buf_printf(&b, "%s%zu + %s_NUM_TENSORS * sizeof(%s_tensor)", b.len ? " + " : "", names, x->U, x->P);
	}
	if (tables)
		buf_printf(&b, "%s%zu * sizeof(size_t)", b.len ? " + " : "", tables);
	return strchr(b.data, ' ') ? xasprintf("(%s)", b.data) : b.len ? b.data : "0";
}

static void emit_header(Export *x, Buf *o)
{
	Model *m = x->m;
	Graph *g = m->g;
	const char *P = x->P, *U = x->U;
	const int inside = x->values && !x->o->weights_extern;
	size_t real = m->f64 ? 8 : 4, arrays = stack_arrays(x), tables = emit_table_entries(x->e);
	buf_printf(o, "/* %s.h - generated by aecc %s from %s (aecc export).\n * Do not edit.\n *\n", P, AECC_VERSION,
		   m->file);
	wrap(o, xasprintf("The model's %s, for %s_BATCH samples a call, inference only. %s\n"
			  "No allocation, no stdio, no threads and no mutable globals: a call uses the caller's work "
			  "buffer of %s_WORK_BYTES (aligned to 8 bytes or more; 64 is best) and at most "
			  "%s_STACK_BYTES of stack (the C library's math functions aside), so calls with work buffers "
			  "of their own may run at once.%s",
			  function_list(x->fns), U, header_weights(x), U, U, header_forms(x)),
	     0);
	buf_printf(o, " */\n#ifndef %s_H\n#define %s_H\n\n", U, U);
	buf_printf(o, "#define %s_BATCH %d /* samples in every call */\n", U, m->train.batch);
	buf_printf(o, "#define %s_WORK_BYTES %zu /* the caller's work buffer */\n", U, m->work_bytes);
	wrap(o, xasprintf("The most stack a call uses: arrays of %zu bytes, and %d frames of at most %d bytes each "
			  "(with optimization).", arrays, FRAMES, FRAME_BYTES), 1);
	buf_printf(o, "#define %s_STACK_BYTES %zu\n", U, arrays + FRAMES * FRAME_BYTES);
	buf_printf(o, "/* Constant data: %s%s. */\n#define %s_CONST_BYTES %s\n", inside ? "the weights" : "the table of tensors",
		   tables ? ", the offset tables of loops" : "", U, const_bytes(x, inside ? x->elems * real : 0, tables));
	buf_printf(o, "#define %s_WEIGHT_ELEMS %zu /* values in the weights */\n", U, x->elems);
	buf_printf(o, "#define %s_NUM_INPUTS %d\n", U, g->inputs.len);
	for (int i = 0; i < g->inputs.len; i++) {
		GInput *in = g->inputs.data[i];
		buf_printf(o, "#define %s_INPUT%d_SIZE %zu /* input %s %s */\n", U, i, shape_elems(in->shape), in->name,
			   shape_str(in->shape));
	}
	buf_printf(o, "#define %s_LATENT_SIZE %zu /* %s */\n", U, shape_elems(g->latent->shape), shape_str(g->latent->shape));
	buf_printf(o, "#define %s_OUTPUT_SIZE %zu /* %s */\n\n", U, shape_elems(g->output->shape),
		   shape_str(g->output->shape));
	buf_printf(o, "/* Where each tensor starts in the weights, in values. */\n");
	for (int i = 0; i < x->tensors.len; i++) {
		const Tensor *t = x->tensors.data[i];
		buf_printf(o, "#define %s %zu /* %s %s */\n", t->macro, t->at, t->name, shape_str(t->shape));
	}
	buf_printf(o, "\ntypedef %s %s_real;\n\n", x->real, P);
	if (x->o->weights_extern)
		buf_printf(o, "/* The weights, defined elsewhere. */\nextern %s;\n\n", weights_decl(x));
	if (!inside) {
		buf_printf(o, "/* The tensors of the weights, in their order, for a program that fills them. */\n");
		buf_printf(o, "typedef struct %s_tensor {\n\tconst char *name; /* as the safetensors file names it */\n", P);
		buf_printf(o, "\tint rank;\n\tlong dims[4];\n\tlong offset, size; /* in values */\n} %s_tensor;\n", P);
		buf_printf(o, "#define %s_NUM_TENSORS %d\nextern const %s_tensor %s_tensors[%s_NUM_TENSORS];\n\n", U,
			   x->tensors.len, P, P, U);
	}
	for (int f = 0; f < NFUNCTIONS; f++)
		if (x->fns & functions[f].bit) {
			wrap(o, function_comment(x, f), 1);
			buf_printf(o, "%s;\n", signature(x, f));
		}
	buf_printf(o, "\n#endif\n");
}

/* Write the files into dir, each atomically. */
static int write_files(Export *x, const char *dir, Buf *h, Buf *c, Buf *w)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		diag_plain("cannot create directory %s: %s", dir, strerror(errno));
		return 0;
	}
	if (!write_file_atomic(xasprintf("%s/%s.h", dir, x->P), h->data, h->len) ||
	    !write_file_atomic(xasprintf("%s/%s.c", dir, x->P), c->data, c->len))
		return 0;
	return !w->len || write_file_atomic(xasprintf("%s/%s_weights.c", dir, x->P), w->data, w->len);
}

int export_run(const char *file, const Options *opt, const ExportOptions *xo, const char *dir)
{
	ExportOptions o = *xo;
	o.batch = o.batch ? o.batch : 1;
	unsigned fns = o.functions ? o.functions : EXPORT_ENCODE | EXPORT_DECODE | EXPORT_FORWARD | EXPORT_SCORE;
	Model *m = build(file, opt, &o, fns);
	if (!m)
		return 1;
	Node *bad = refused_node(m);
	if (bad && !o.functions) {
		/* by default, the functions that apply */
		Loc at = bad->expansion_of ? bad->expansion_of->loc : bad->loc;
		diag_note(at, "%s left out: %s has no inference form (%s)", functions_with(fns, bad->part), bad->op->name,
			  export_refusal(bad->op));
		for (int i = 0; i < NFUNCTIONS; i++)
			if (functions[i].parts & 1u << bad->part)
				fns &= ~functions[i].bit;
		if (fns && !(m = build(file, opt, &o, fns)))
			return 1;
		bad = fns ? refused_node(m) : bad;
	}
	if (bad) {
		diag_error(bad->expansion_of ? bad->expansion_of->loc : bad->loc,
			   "cannot export %s: it needs %s, which has no inference form (%s)",
			   functions_with(fns ? fns : EXPORT_ENCODE | EXPORT_DECODE | EXPORT_FORWARD | EXPORT_SCORE, bad->part),
			   bad->op->name, export_refusal(bad->op));
		return 1;
	}
	if (fns & EXPORT_DECODE && !m->decodable) {
		if (o.functions) {
			diag_plain("%s: cannot export decode: the decoder of %s reads more of the encoder than its latent",
				   file, m->name);
			return 1;
		}
		fns &= ~EXPORT_DECODE;
	}
	Export x = {.m = m, .o = &o, .fns = fns, .P = xasprintf("%s_infer", m->name), .real = m->f64 ? "double" : "float"};
	x.U = str_upper(x.P);
	x.small = o.tile == TILE_SMALL || (o.tile == TILE_AUTO && o.batch == 1);
	x.e = emit_new(m, x.P, 1, x.small);
	collect_tensors(&x);
	if (o.weights && !(x.values = export_load_weights(m, o.weights)))
		return 1;
	Buf h = {0}, c = {0}, w = {0};
	emit_source(&x, &c);
	emit_header(&x, &h);
	if (x.values && o.weights_extern) {
		buf_printf(&w, "/* %s_weights.c - generated by aecc %s from %s and %s (aecc export). Do not edit. */\n",
			   x.P, AECC_VERSION, m->file, o.weights);
		buf_printf(&w, "#include \"%s.h\"\n\n/* The weights of %s, each value as it was there. */\n%s", x.P,
			   o.weights, weights_decl(&x));
		emit_values(&x, &w);
	}
	return write_files(&x, dir, &h, &c, &w) ? 0 : 1;
}
