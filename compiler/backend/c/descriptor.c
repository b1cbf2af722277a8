/* descriptor.c - NAME_main.c, the file that links a generated model to the
 * aecc runtime: constant tables of its inputs, parameters and buffers,
 * wrappers that give NAME.c's entry points the runtime's generic
 * signatures, one constant aert_model, its accessor NAME_aert_model(), and
 * the trainer's main() (left out under -DAERT_NO_MAIN, when the model is
 * loaded into another program).
 * Requires: a planned graph (plan_memory). Provides: c_render_main().
 *
 * The file's own names have no underscore or end in _of, so that no
 * NAME_x of NAME.h can be one of them, whatever the model's name. */
#include "c.h"
#include "ops.h"
#include "pipeline.h"
#include "version.h"

static const char *c_str(const char *s)
{
	Buf b = {0};
	buf_puts(&b, "\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(&b, "\\%c", *p);
		else if ((unsigned char)*p < 32)
			buf_printf(&b, "\\%03o", (unsigned char)*p);
		else
			buf_printf(&b, "%c", *p);
	}
	buf_puts(&b, "\"");
	return b.data;
}

/* "{NAME, [TYPE, ]RANK, {D0, D1, D2, D3}, ": the start of a table row. */
static void row_start(Buf *o, const char *name, const char *type, Shape s)
{
	buf_printf(o, "\t{%s, %s%s%d, {", c_str(name), type ? type : "", type ? ", " : "", s.rank);
	for (int d = 0; d < MAX_RANK; d++)
		buf_printf(o, "%s%d", d ? ", " : "", d < s.rank ? s.dims[d] : 0);
	buf_puts(o, "}, ");
}

static void render_tables(Model *m, Buf *o)
{
	Graph *g = m->g;
	const char *U = str_upper(m->name);
	buf_printf(o, "static const aert_input inputs[%s_NUM_INPUTS] = {\n", U);
	for (int i = 0; i < g->inputs.len; i++) {
		GInput *gi = g->inputs.data[i];
		row_start(o, gi->name, NULL, gi->shape);
		buf_printf(o, "%zu, %d},\n", shape_elems(gi->shape), m->train_data[i].onehot);
	}
	buf_printf(o, "};\n\n");
	if (g->params.len) {
		buf_printf(o, "static const aert_param params[%s_NUM_PARAMS] = {\n", U);
		for (int i = 0; i < g->params.len; i++) {
			Param *p = g->params.data[i];
			row_start(o, p->name, NULL, p->shape);
			buf_printf(o, "%zu, %zu},\n", p->offset, shape_elems(p->shape));
		}
		buf_printf(o, "};\n\n");
	}
	if (g->buffers.len) {
		buf_printf(o, "static const aert_buffer buffers[%s_NUM_BUFFERS] = {\n", U);
		for (int i = 0; i < g->buffers.len; i++) {
			Buffer *b = g->buffers.data[i];
			row_start(o, b->name, b->kind == BUF_COUNTER ? "AERT_I64" : m->f64 ? "AERT_F64" : "AERT_F32", b->shape);
			buf_printf(o, "%zu, %zu},\n", ((Buffer *)m->g->buffers.data[i])->byte_offset, shape_elems(b->shape));
		}
		buf_printf(o, "};\n\n");
	}
	buf_printf(o, "static const char *const termnames[%s_NUM_LOSS_TERMS] = {", U);
	for (int i = 0; i < g->terms.len; i++)
		buf_printf(o, "%s%s", i ? ", " : "", c_str(((LossTerm *)g->terms.data[i])->name));
	buf_printf(o, "};\nstatic const double termweights[%s_NUM_LOSS_TERMS] = {", U);
	for (int i = 0; i < g->terms.len; i++)
		buf_printf(o, "%s%.17g", i ? ", " : "", ((LossTerm *)g->terms.data[i])->weight);
	buf_printf(o, "};\n\n");
}

/* "(const float *)in[0], (const float *)in[1], " for the inputs that
 * `reads` selects (all: NULL). */
static const char *input_args(Model *m, int (*reads)(Model *, int))
{
	Buf b = {0};
	buf_puts(&b, "");
	for (int i = 0; i < m->g->inputs.len; i++)
		if (!reads || reads(m, i))
			buf_printf(&b, "(const %s *)in[%d], ", m->f64 ? "double" : "float", i);
	return b.data;
}

/* One wrapper: `signature` with its body `body`. */
static void wrapper(Buf *o, const char *signature, const char *body)
{
	buf_printf(o, "static %s\n{\n%s}\n\n", signature, body);
}

static void render_wrappers(Model *m, Buf *o)
{
	const char *P = m->name, *all = input_args(m, NULL), *dec = input_args(m, c_decode_reads);
	buf_printf(o, "/* The entry points with the runtime's signatures (see aert_model). */\n");
	wrapper(o, xasprintf("%s_hparams hparams(const aert_hparams *a)", P),
		xasprintf("\t%s_hparams h = {a->lr, a->beta1, a->beta2, a->eps, a->weight_decay, a->stochastic};\n"
			  "\treturn h;\n", P));
	wrapper(o, "double train(void *state, void *work, const void *const *in, int n, const aert_hparams *a)",
		xasprintf("\t%s_hparams h = hparams(a);\n\treturn %s_train_step(state, work, %sn, &h);\n", P, P, all));
	wrapper(o, "double gradient(const void *state, void *work, const void *const *in, int n, const aert_hparams *a,\n"
		   "\t\t       void *grad)",
		xasprintf("\t%s_hparams h = hparams(a);\n\treturn %s_gradient(state, work, %sn, &h, grad);\n", P, P, all));
	wrapper(o, "double gradient_part(const void *state, void *work, const void *const *in, int n, long first,\n"
		   "\t\t\t    long rows, const aert_hparams *a, void *grad)",
		xasprintf("\t%s_hparams h = hparams(a);\n\treturn %s_gradient_part(state, work, %sn, first, rows, &h, grad);\n",
			  P, P, all));
	wrapper(o, "void update(void *state, const void *grad, const aert_hparams *a)",
		xasprintf("\t%s_hparams h = hparams(a);\n\t%s_update(state, grad, &h);\n", P, P));
	wrapper(o, "double trainterms(void *state, void *work, const void *const *in, int n, const aert_hparams *a,\n"
		   "\t\t\t double *terms)",
		xasprintf("\t%s_hparams h = hparams(a);\n\treturn %s_train_step_terms(state, work, %sn, &h, terms);\n", P, P,
			  all));
	wrapper(o, "double loss(const void *state, void *work, const void *const *in, int n)",
		xasprintf("\treturn %s_loss(state, work, %sn);\n", P, all));
	wrapper(o, "double evalterms(const void *state, void *work, const void *const *in, int n, uint64_t seed, double *terms)",
		xasprintf("\treturn %s_loss_terms(state, work, %sn, seed, terms);\n", P, all));
	wrapper(o, "void forward(const void *state, void *work, const void *const *in, int n, void *out)",
		xasprintf("\t%s_forward(state, work, %sn, out);\n", P, all));
	wrapper(o, "void encode(const void *state, void *work, const void *const *in, int n, void *z)",
		xasprintf("\t%s_encode(state, work, %sn, z);\n", P, all));
	if (m->decodable)
		wrapper(o, "void decode(const void *state, void *work, const void *z, const void *const *in, int n, void *out)",
			xasprintf("%s\t%s_decode(state, work, z, %sn, out);\n", *dec ? "" : "\t(void)in;\n", P, dec));
	if (c_gaussian_latent(m))
		wrapper(o, "void encodegauss(const void *state, void *work, const void *const *in, int n, void *mu,\n"
			   "\t\t\t void *logvar)",
			xasprintf("\t%s_encode_gaussian(state, work, %sn, mu, logvar);\n", P, all));
	if (c_has_sample(m))
		wrapper(o, "void sample(const void *state, void *work, uint64_t seed, int n, void *out)",
			xasprintf("\t%s_sample(state, work, seed, n, out);\n", P));
	buf_printf(o, "static void *params_of(void *s) { return %s_params(s); }\n", P);
	buf_printf(o, "static void *adam_m_of(void *s) { return %s_adam_m(s); }\n", P);
	buf_printf(o, "static void *adam_v_of(void *s) { return %s_adam_v(s); }\n", P);
	buf_printf(o, "static int64_t *step_of(void *s) { return %s_step(s); }\n", P);
	if (m->g->buffers.len)
		buf_printf(o, "static void *buffers_of(void *s) { return %s_buffers(s); }\n", P);
	buf_printf(o, "\n/* Threads for the kernels' OpenMP loops, when built with -fopenmp. */\n");
	wrapper(o, "int threads(int n)", "#ifdef _OPENMP\n\tomp_set_num_threads(n);\n\treturn n;\n#else\n"
		"\t(void)n;\n\treturn 1;\n#endif\n");
}

/* ".field = {a, b, NULL},": one entry per input, a line each when there
 * are several paths. */
static void per_input(Buf *o, const char *field, Model *m, const DataSource *src, int scale)
{
	int n = m->g->inputs.len, lines = !scale && n > 1;
	buf_printf(o, "\t.%s = {", field);
	for (int i = 0; i < n; i++) {
		buf_puts(o, lines ? "\n\t\t" : i ? ", " : "");
		if (scale)
			buf_printf(o, "%.17g", src[i].path ? src[i].scale : 1);
		else
			buf_puts(o, src[i].path ? c_str(src[i].path) : "NULL");
		buf_puts(o, lines ? "," : "");
	}
	buf_puts(o, lines ? "\n\t},\n" : "},\n");
}

/* 1 if the loss has a term bce(output, input 0, reduction = "sum"): the
 * negative log-likelihood of x under a Bernoulli decoder. */
static int bernoulli_likelihood(Model *m)
{
	Graph *g = m->g;
	const Node *b = graph_first(g, &op_bce), *x = ((GInput *)g->inputs.data[0])->node;
	return b && b->iattr[0] == 0 && b->in[1] == x && shape_eq(g->output->shape, x->shape);
}

/* What the model commands read of the model: its latent, its likelihood,
 * its input noise, its labels and class filter. */
static void render_uses(Model *m, Buf *o)
{
	Graph *g = m->g;
	const Node *noise = graph_first(g, &op_gaussian_noise);
	if (!noise)
		noise = graph_first(g, &op_masking_noise);
	if (c_gaussian_latent(m))
		buf_printf(o, "\t.latent_kind = AERT_LATENT_GAUSSIAN,\n\t.encode_gaussian = encodegauss,\n");
	if (bernoulli_likelihood(m))
		buf_printf(o, "\t.likelihood = AERT_LIKELIHOOD_BERNOULLI,\n");
	if (noise)
		buf_printf(o, "\t.noise = \"%s:%g\",\n", noise->op->name, noise->fattr[0]);
	if (m->train_labels.path)
		buf_printf(o, "\t.train_labels = %s,\n", c_str(m->train_labels.path));
	if (m->test_labels.path)
		buf_printf(o, "\t.test_labels = %s,\n", c_str(m->test_labels.path));
	if (m->classes)
		buf_printf(o, "\t.classes = \"%s\",\n", m->classes);
}

/* The train section's schedule and early stopping, as aert_schedule and
 * aert_early_stop initialisers. */
static void render_controls(Model *m, Buf *o)
{
	static const char *const kinds[] = {"AERT_SCHEDULE_NONE", "AERT_SCHEDULE_STEP", "AERT_SCHEDULE_COSINE",
					    "AERT_SCHEDULE_PLATEAU"};
	const TrainConfig *t = &m->train;
	const Schedule *s = &t->schedule;
	buf_printf(o, "\t.schedule = {%s, %ld, %.17g, %ld, %.17g, %.17g},\n", kinds[s->kind], s->every, s->factor,
		   s->patience, s->threshold, s->min_lr);
	buf_printf(o, "\t.early_stop = {%d, %ld, %.17g},\n", t->early_stop, t->early_stop ? t->patience : 0,
		   t->early_stop ? t->min_delta : 0);
	buf_printf(o, "\t.validate = %.17g,\n", t->validate);
	per_input(o, "validation_path", m, m->validation_data, 0);
}

static void render_descriptor(Model *m, Buf *o)
{
	Graph *g = m->g;
	const char *U = str_upper(m->name);
	const TrainConfig *t = &m->train;
	unsigned decode_inputs = 0;
	for (int i = 0; i < g->inputs.len; i++)
		decode_inputs |= (unsigned)c_decode_reads(m, i) << i;
	buf_printf(o, "static const aert_model model = {\n");
	buf_printf(o, "\t.name = %s,\n\t.source = %s,\n\t.real_size = %d,\n", c_str(m->name), c_str(m->file),
		   m->f64 ? 8 : 4);
	buf_printf(o, "\t.max_batch = %s_MAX_BATCH,\n\t.state_bytes = %s_STATE_BYTES,\n\t.work_bytes = %s_WORK_BYTES,\n",
		   U, U, U);
	buf_printf(o, "\t.n_inputs = %s_NUM_INPUTS,\n\t.inputs = inputs,\n", U);
	buf_printf(o, "\t.n_params = %s_NUM_PARAMS,\n\t.params = %s,\n\t.param_elems = %s_PARAM_ELEMS,\n", U,
		   g->params.len ? "params" : "NULL", U);
	buf_printf(o, "\t.latent_size = %s_LATENT_SIZE,\n\t.output_size = %s_OUTPUT_SIZE,\n", U, U);
	buf_printf(o, "\t.params_of = params_of,\n\t.adam_m_of = adam_m_of,\n\t.adam_v_of = adam_v_of,\n"
		      "\t.step_of = step_of,\n");
	buf_printf(o, "\t.init = %s_init,\n\t.train_step = train,\n\t.gradient = gradient,\n\t.gradient_part = gradient_part,\n\t.update = update,\n",
		   m->name);
	buf_printf(o, "\t.eval_loss = loss,\n\t.forward = forward,\n\t.encode = encode,\n\t.decode = %s,\n", m->decodable ? "decode" : "NULL");
	buf_printf(o, "\t.sample = %s,\n\t.set_threads = threads,\n\t.decode_inputs = %#xu,\n",
		   c_has_sample(m) ? "sample" : "NULL", decode_inputs);
	buf_printf(o, "\t.hparams = {%.17g, %.17g, %.17g, %.17g, %.17g, 1},\n", t->lr, t->beta1, t->beta2, t->eps,
		   t->weight_decay);
	buf_printf(o, "\t.batch = %d,\n\t.epochs = %d,\n\t.seed = %lluu,\n", t->batch, t->epochs, t->seed);
	per_input(o, "train_path", m, m->train_data, 0);
	per_input(o, "test_path", m, m->test_data, 0);
	per_input(o, "scale", m, m->train_data, 1);
	buf_printf(o, "\t.n_buffers = %s_NUM_BUFFERS,\n", U);
	if (g->buffers.len)
		buf_printf(o, "\t.buffers = buffers,\n\t.buffers_of = buffers_of,\n");
	render_uses(m, o);
	buf_printf(o, "\t.n_loss_terms = %s_NUM_LOSS_TERMS,\n\t.loss_term_names = termnames,\n"
		      "\t.loss_term_weights = termweights,\n", U);
	buf_printf(o, "\t.loss_terms = evalterms,\n\t.train_step_terms = trainterms,\n\t.draws_latent = %d,\n",
		   c_draws_latent(m));
	render_controls(m, o);
	buf_printf(o, "};\n\n");
}

void c_render_main(Model *m, Buf *o)
{
	const char *P = m->name;
	buf_printf(o, "/* %s_main.c - generated by aecc %s from %s. Do not edit.\n", P, AECC_VERSION, m->file);
	buf_printf(o, " * %s.c as the aecc runtime sees it: the aert_model that %s_aert_model()\n", P, P);
	buf_printf(o, " * returns, and the trainer's main(), left out with -DAERT_NO_MAIN when the\n");
	buf_printf(o, " * model is loaded into another program. */\n");
	buf_printf(o, "#include <aecc_rt.h>\n#ifdef _OPENMP\n#include <omp.h>\n#endif\n\n#include \"%s.h\"\n\n", P);
	render_tables(m, o);
	render_wrappers(m, o);
	buf_printf(o, "\n/* The model, for aert_train_main and any program that loads it. */\n");
	render_descriptor(m, o);
	buf_printf(o, "/* Its descriptor: what a program that links or loads %s.c calls. */\n", P);
	buf_printf(o, "const aert_model *%s_aert_model(void);\n\n", P);
	buf_printf(o, "const aert_model *%s_aert_model(void)\n{\n\treturn &model;\n}\n\n", P);
	buf_printf(o, "#ifndef AERT_NO_MAIN\nint main(int argc, char **argv)\n{\n");
	buf_printf(o, "\taert_threads_wait_policy(argv);\n");
	buf_printf(o, "#ifdef AERT_MPI /* aecc build --mpi: the data-parallel trainer */\n");
	buf_printf(o, "\treturn aert_mpi_main(%s_aert_model(), argc, argv);\n#else\n", P);
	buf_printf(o, "\treturn aert_train_main(%s_aert_model(), argc, argv);\n#endif\n}\n#endif\n", P);
}
