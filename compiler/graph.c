/* graph.c - building and printing the static graph IR. */
#include "graph.h"

#include <string.h>

#include "ops.h"

Graph *graph_new(void) { return xcalloc(1, sizeof(Graph)); }

Node *graph_add(Graph *g, const OpDef *op, Loc loc, int nin, Node **in)
{
	ASSERT(nin <= MAX_IN);
	Node *n = xcalloc(1, sizeof *n);
	n->id = g->nodes.len;
	n->op = op;
	n->nin = nin;
	n->loc = loc;
	n->storage = ST_WORK;
	for (int i = 0; i < nin; i++) {
		ASSERT(in[i] != NULL);
		n->in[i] = in[i];
		n->needs_grad |= in[i]->needs_grad;
	}
	vec_push(&g->nodes, n);
	return n;
}

Node **graph_source_order(const Graph *g)
{
	Node **byid = xcalloc((size_t)g->nodes.len, sizeof *byid);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		byid[n->id] = n;
	}
	return byid;
}

/* The shape rule runs once the caller has set the attributes; these
 * wrappers are for internal ops whose attributes are set afterwards by
 * the caller, which then calls the shape rule through node_infer. */
Node *graph_add1(Graph *g, const OpDef *op, Loc loc, Node *a)
{
	return graph_add(g, op, loc, 1, &a);
}

Node *graph_add2(Graph *g, const OpDef *op, Loc loc, Node *a, Node *b)
{
	Node *in[2] = {a, b};
	return graph_add(g, op, loc, 2, in);
}

Node *graph_add3(Graph *g, const OpDef *op, Loc loc, Node *a, Node *b, Node *c)
{
	Node *in[3] = {a, b, c};
	return graph_add(g, op, loc, 3, in);
}

Param *graph_param(Graph *g, const char *name, Shape shape, long fan_in, Loc loc)
{
	Param *p = xcalloc(1, sizeof *p);
	p->name = name;
	p->shape = shape;
	p->offset = g->param_elems;
	p->fan_in = fan_in;
	p->loc = loc;
	g->param_elems = size_add(g->param_elems, shape_elems(shape));
	Node *n = graph_add(g, &op_param, loc, 0, NULL);
	n->shape = shape;
	n->storage = ST_PARAM;
	n->index = g->params.len;
	n->name = name;
	n->needs_grad = 1;
	p->node = n;
	vec_push(&g->params, p);
	return p;
}

Buffer *graph_buffer(Graph *g, const char *name, Shape shape, BufferKind kind, double init, Loc loc)
{
	Buffer *b = xcalloc(1, sizeof *b);
	b->name = name;
	b->shape = shape;
	b->kind = kind;
	b->init = init;
	b->loc = loc;
	if (kind == BUF_COUNTER) {
		b->offset = g->counter_elems++;
	} else {
		b->offset = g->buffer_elems;
		g->buffer_elems = size_add(g->buffer_elems, shape_elems(shape));
		Node *n = graph_add(g, &op_buffer, loc, 0, NULL);
		n->shape = shape;
		n->storage = ST_BUFFER;
		n->index = g->buffers.len;
		n->name = name;
		b->node = n;
	}
	vec_push(&g->buffers, b);
	return b;
}

GInput *graph_input(Graph *g, const char *name, Shape shape, Loc loc)
{
	GInput *in = xcalloc(1, sizeof *in);
	in->name = name;
	in->shape = shape;
	in->loc = loc;
	Node *n = graph_add(g, &op_input, loc, 0, NULL);
	n->shape = shape;
	n->storage = ST_INPUT;
	n->index = g->inputs.len;
	n->name = name;
	in->node = n;
	vec_push(&g->inputs, in);
	return in;
}

void graph_replace_uses(Graph *g, Node *from, Node *to)
{
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] == from)
				n->in[k] = to;
		if (n->grad == from)
			n->grad = to;
	}
	for (int i = 0; i < g->buffers.len; i++) {
		Buffer *b = g->buffers.data[i];
		if (b->next == from)
			b->next = to;
	}
	Node **roots[3] = {&g->loss, &g->latent, &g->output};
	for (int i = 0; i < 3; i++)
		if (*roots[i] == from)
			*roots[i] = to;
	for (int i = 0; i < g->terms.len; i++) {
		LossTerm *t = g->terms.data[i];
		if (t->node == from)
			t->node = to;
	}
}

Node *graph_first(const Graph *g, const OpDef *op)
{
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (!n->dead && n->op == op)
			return n;
	}
	return NULL;
}

void graph_count_uses(Graph *g)
{
	for (int i = 0; i < g->nodes.len; i++)
		((Node *)g->nodes.data[i])->nuses = 0;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->dead)
			continue;
		for (int j = 0; j < n->nin; j++)
			n->in[j]->nuses++;
	}
}

size_t shape_elems(Shape s)
{
	size_t e = 1;
	for (int i = 0; i < s.rank; i++)
		e = size_mul(e, (size_t)s.dims[i]);
	return e;
}

Shape shape_make(int batched, int rank, const int *dims)
{
	Shape s = {0};
	ASSERT(rank >= 0 && rank <= MAX_RANK);
	s.batched = batched;
	s.rank = rank;
	for (int i = 0; i < rank; i++)
		s.dims[i] = dims[i];
	return s;
}

Shape shape_vec(int batched, int n) { return shape_make(batched, 1, &n); }

Shape shape_scalar(void) { return shape_make(0, 0, NULL); }

int shape_eq(Shape a, Shape b)
{
	if (a.rank != b.rank || a.batched != b.batched)
		return 0;
	for (int i = 0; i < a.rank; i++)
		if (a.dims[i] != b.dims[i])
			return 0;
	return 1;
}

char *shape_str(Shape s)
{
	Buf b = {0};
	buf_puts(&b, "[");
	const char *sep = "";
	if (s.batched) {
		buf_puts(&b, "n");
		sep = ", ";
	}
	for (int i = 0; i < s.rank; i++) {
		buf_printf(&b, "%s%d", sep, s.dims[i]);
		sep = ", ";
	}
	buf_puts(&b, "]");
	return b.data;
}

static const char *phase_name[] = {"fwd", "bwd", "upd"};

static void dump_node(FILE *out, const Node *n)
{
	fprintf(out, "t%-4d %s = %s(", n->id, phase_name[n->phase], node_label(n));
	for (int i = 0; i < n->nin; i++)
		fprintf(out, "%st%d", i ? ", " : "", n->in[i]->id);
	fprintf(out, ") %s", shape_str(n->shape));
	if (n->name)
		fprintf(out, "  \"%s\"", n->name);
	if (n->storage == ST_WORK && n->bytes)
		fprintf(out, "  @%zu+%zu", n->offset, n->bytes);
	if (n->storage == ST_GRAD)
		fprintf(out, "  @grad");
	static const char *part_name[] = {"", "encoder", "decoder", "loss", "backward", "update"};
	if (n->part)
		fprintf(out, "  [%s]", part_name[n->part]);
	if (n->computed_by)
		fprintf(out, "  (computed by t%d)", n->computed_by->id);
	fputc('\n', out);
}

void graph_dump(FILE *out, Graph *g)
{
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (!n->dead)
			dump_node(out, n);
	}
	if (g->loss)
		fprintf(out, "loss = t%d\n", g->loss->id);
}

void graph_dot(FILE *out, Graph *g)
{
	static const char *color[] = {"lightblue", "lightpink", "lightgoldenrod"};
	fputs("digraph aecc {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"monospace\"];\n", out);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->dead)
			continue;
		fprintf(out, "  t%d [label=\"t%d %s\\n%s%s%s\", fillcolor=%s];\n", n->id, n->id,
			node_label(n), shape_str(n->shape), n->name ? "\\n" : "", n->name ? n->name : "",
			color[n->phase]);
		for (int j = 0; j < n->nin; j++)
			fprintf(out, "  t%d -> t%d;\n", n->in[j]->id, n->id);
	}
	fputs("}\n", out);
}
