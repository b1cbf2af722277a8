/* summary.c - `aecc summary`: a table of layers with output shapes,
 * parameter counts and FLOPs per sample, then the memory the model needs.
 * Requires: a planned model. */
#include <string.h>

#include "ops.h"
#include "pipeline.h"

/* 1234567 -> "1,234,567" */
static const char *commas(double v)
{
	char raw[64], *out = xcalloc(96, 1);
	snprintf(raw, sizeof raw, "%.0f", v);
	int len = (int)strlen(raw), o = 0;
	for (int i = 0; i < len; i++) {
		out[o++] = raw[i];
		if (raw[i] != '-' && (len - i - 1) % 3 == 0 && i != len - 1)
			out[o++] = ',';
	}
	return out;
}

static size_t node_params(Graph *g, const Node *n)
{
	size_t s = 0;
	for (int i = 0; i < n->nin; i++)
		if (n->in[i]->storage == ST_PARAM)
			s += shape_elems(((Param *)g->params.data[n->in[i]->index])->shape);
	return s;
}

void print_summary(FILE *out, Model *m)
{
	Graph *g = m->g;
	double fwd = 0, train = 0;
	size_t real = m->f64 ? 8 : 4;
	fprintf(out, "Model: %s (%s), %s, batch %d\n\n", m->name, m->file, m->f64 ? "f64" : "f32", m->train.batch);
	fprintf(out, "%-22s %-18s %-18s %12s %14s\n", "Layer", "Op", "Output shape", "Params", "FLOPs/sample");
	fprintf(out, "%.*s\n", 88, "----------------------------------------------------------------------------------------------------");
	/* Nodes an op expanded into count in that op's row. */
	double *inner = xcalloc((size_t)g->nodes.len, sizeof *inner);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (!n->dead && n->expansion_of)
			inner[n->expansion_of->id] += n->op->flops(n);
	}
	Node **byid = graph_source_order(g);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = byid[i];
		if (n->dead || n->op == &op_param || n->storage == ST_BUFFER)
			continue;
		double f = n->op->flops(n) + inner[n->id];
		train += n->op->flops(n);
		if (n->phase != PH_FORWARD || n->expansion_of)
			continue;
		fwd += f;
		const char *label = n->op == &op_input ? n->name : n->layer ? n->layer : "";
		const char *shape = shape_str(n->shape);
		if (n->name && n->op != &op_input)
			shape = xasprintf("%s %s", shape, n->name);
		fprintf(out, "%-22s %-18s %-18s %12s %14s\n", label, node_label(n), shape,
			commas((double)node_params(g, n)), commas(f));
	}
	fprintf(out, "%.*s\n", 88, "----------------------------------------------------------------------------------------------------");
	fprintf(out, "Parameters:          %s (%s bytes)\n", commas((double)g->param_elems),
		commas((double)(g->param_elems * real)));
	fprintf(out, "FLOPs per sample:    %s forward, %s per train step (forward + backward)\n",
		commas(fwd), commas(train));
	fprintf(out, "State:               %s bytes (parameters, Adam moments, buffers, step)\n",
		commas((double)m->state_bytes));
	fprintf(out, "Work arena:          %s bytes at batch %d (%s bytes before planning)\n",
		commas((double)m->work_bytes), m->train.batch, commas((double)m->work_bytes_unplanned));
}
