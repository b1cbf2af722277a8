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

static const char *dashes(int n)
{
	char *s = xcalloc((size_t)n + 1, 1);
	memset(s, '-', (size_t)n);
	return s;
}

/* One row of the layer table. */
typedef struct Row {
	const char *layer, *op, *shape, *params, *flops;
} Row;

void print_summary(FILE *out, Model *m)
{
	Graph *g = m->g;
	double fwd = 0, train = 0;
	size_t real = m->f64 ? 8 : 4;
	fprintf(out, "Model: %s (%s), %s%s, batch %d\n\n", m->name, m->file, m->f64 ? "f64" : "f32",
		m->train.bf16 && !m->f64 ? " with bf16 products" : "", m->train.batch);
	/* Nodes an op expanded into count in that op's row. */
	double *inner = xcalloc((size_t)g->nodes.len, sizeof *inner);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (!n->dead && n->expansion_of)
			inner[n->expansion_of->id] += n->op->flops(n);
	}
	/* The rows first, so that every column is as wide as its widest cell. */
	Row *rows = xcalloc((size_t)g->nodes.len + 1, sizeof *rows);
	int nrows = 0;
	rows[nrows++] = (Row){"Layer", "Op", "Output shape", "Params", "FLOPs/sample"};
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
		const char *shape = shape_str(n->shape);
		if (n->name && n->op != &op_input)
			shape = xasprintf("%s %s", shape, n->name);
		rows[nrows++] = (Row){n->op == &op_input ? n->name : n->layer ? n->layer : "", node_label(n), shape,
				      commas((double)node_params(g, n)), commas(f)};
	}
	int w[5] = {0};
	for (int r = 0; r < nrows; r++) {
		const char *cell[5] = {rows[r].layer, rows[r].op, rows[r].shape, rows[r].params, rows[r].flops};
		for (int k = 0; k < 5; k++)
			w[k] = (int)strlen(cell[k]) > w[k] ? (int)strlen(cell[k]) : w[k];
	}
	int total = w[0] + w[1] + w[2] + w[3] + w[4] + 8;
	for (int r = 0; r < nrows; r++) {
		fprintf(out, "%-*s  %-*s  %-*s %*s %*s\n", w[0], rows[r].layer, w[1], rows[r].op, w[2], rows[r].shape,
			w[3] + 2, rows[r].params, w[4] + 2, rows[r].flops);
		if (r == 0 || r == nrows - 1)
			fprintf(out, "%s\n", dashes(total));
	}
	fprintf(out, "Parameters:          %s (%s bytes)\n", commas((double)g->param_elems),
		commas((double)(g->param_elems * real)));
	fprintf(out, "FLOPs per sample:    %s forward, %s per train step (forward + backward)\n",
		commas(fwd), commas(train));
	fprintf(out, "State:               %s bytes (parameters, Adam moments, buffers, step)\n",
		commas((double)m->state_bytes));
	fprintf(out, "Work arena:          %s bytes at batch %d (%s bytes before planning)\n",
		commas((double)m->work_bytes), m->train.batch, commas((double)m->work_bytes_unplanned));
}
