/* pipeline.c - the whole compiler in one function: parse, check, lower,
 * differentiate, fuse, plan the entry points, plan memory. Emission is a
 * separate backend call so that `check`, `graph` and `summary` share
 * everything before it. The C backend takes the planned model; the PyTorch
 * twin a run stopped after lowering (stop_after = PASS_LOWER): the forward
 * graph before grad_build adds to it and fuse_graph rewrites its nodes in
 * place. */
#include <errno.h>
#include <string.h>

#include "pipeline.h"

static void dump(const Options *opt, Model *m, const char *pass)
{
	if (!opt->dump)
		return;
	fprintf(stderr, "--- after %s ---\n", pass);
	graph_dump(stderr, m->g);
}

Model *pipeline_run(const char *path, const Options *opt)
{
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		diag_plain("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (strlen(text) != len) {
		diag_plain("%s: not a text file (it contains a NUL byte)", path);
		return NULL;
	}
	diag_register_source(path, text);
	Model *m = xcalloc(1, sizeof *m);
	m->file = path;
	m->f64 = opt->f64;
	m->scalar = opt->scalar;
	m->nofuse = opt->nofuse;
	m->precision = opt->precision;
	m->infer_parts = opt->infer_parts;
	m->g = graph_new();

	m->ast = parse_program(path, text);             /* syntax */
	if (!m->ast || opt->stop_after == PASS_PARSE)
		return m->ast ? m : NULL;
	m->name = m->ast->model;
	lower_model(m);                                  /* names, shapes: the forward graph */
	config_read(m);                                  /* train and data sections */
	if (opt->batch)
		m->train.batch = opt->batch;             /* the export's batch */
	if (diag_errors())
		return NULL;
	dump(opt, m, "lower");
	if (opt->stop_after <= PASS_LOWER)
		return m;
	grad_build(m);                                   /* backward graph + Adam */
	if (diag_errors())
		return NULL;
	dump(opt, m, "grad");
	if (opt->stop_after == PASS_GRAD)
		return m;
	fuse_graph(m);                                   /* dead code, fusion */
	dump(opt, m, "fuse");
	if (opt->stop_after == PASS_FUSE)
		return m;
	entry_plan(m);                                   /* parts of the entry points */
	dump(opt, m, "entry");
	if (opt->stop_after == PASS_ENTRY)
		return m;
	plan_memory(m);                                  /* arena offsets */
	if (diag_errors())
		return NULL;
	dump(opt, m, "plan");
	return m;
}
