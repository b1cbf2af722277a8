/* fuse.c - dead-code removal and fusion, after autodiff and before planning.
 * Requires: the complete graph (forward, backward, update). Provides: every
 * node not needed by a root (the loss, the latent, the output, the updates)
 * marked dead; unless fusion is off (--no-fuse), the rewrites below, each
 * turning a pair of nodes into one node that does both in one pass over
 * memory; Node.nuses counts live readers. Preserves: the value of every
 * live node, bit for bit (a fused node does the same arithmetic in the same
 * order, only while the data is still in the cache).
 *
 * Each rewrite keeps one node of the pair, changed in place, and the other,
 * which only it read or which only read it, dies:
 *   act(dense(x, W, b))       -> dense with the activation as its epilogue
 *   act_grad(y, dense_dx(..)) -> dense_dx times f'(.) read off y, in its epilogue
 *   act_grad(y, mse_grad(..)) -> mse_grad times f'(.), block by block
 * Adam is one pass per parameter already (op_adam.c). Moving it into the
 * epilogue of the weight-gradient product measured slower: the moments
 * are read a tile's rows at a time instead of streamed. */
#include <stdlib.h>

#include "ops.h"
#include "pipeline.h"

static void keep(Node *n)
{
	if (!n || !n->dead)
		return;
	n->dead = 0;
	for (int i = 0; i < n->nin; i++)
		keep(n->in[i]);
}

static void remove_dead_code(Graph *g)
{
	for (int i = 0; i < g->nodes.len; i++)
		((Node *)g->nodes.data[i])->dead = 1;
	for (int i = 0; i < g->inputs.len; i++)
		keep(((GInput *)g->inputs.data[i])->node);
	for (int i = 0; i < g->params.len; i++)
		keep(((Param *)g->params.data[i])->node);
	keep(g->loss);
	keep(g->latent);
	keep(g->output);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->op == &op_adam)
			keep(n);
	}
	graph_count_uses(g);
}

static int is_act(const Node *n)
{
	return n->op == &op_relu || n->op == &op_leaky_relu || n->op == &op_sigmoid || n->op == &op_tanh;
}

/* n may disappear into its one reader: nothing else reads it and it is
 * not a result of the model. */
static int private_to_reader(const Graph *g, const Node *n)
{
	return n->nuses == 1 && n->storage == ST_WORK && n != g->loss && n != g->latent && n != g->output;
}

/* The position of every node in the schedule (graph order). */
static int *positions(Graph *g)
{
	int *pos = xcalloc((size_t)g->nodes.len, sizeof *pos);
	for (int i = 0; i < g->nodes.len; i++)
		pos[((Node *)g->nodes.data[i])->id] = i;
	return pos;
}

static void fuse(Graph *g)
{
	int *pos = positions(g);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i], *d = n->nin > 0 ? n->in[0] : NULL;
		if (n->dead)
			continue;
		if (is_act(n) && d->op == &op_dense && !d->iattr[1] && private_to_reader(g, d)) {
			/* the activation's node becomes the product */
			n->iattr[1] = n->iattr[0] + 1; /* the activation; fattr[0] keeps its slope */
			n->iattr[0] = d->iattr[0];     /* has bias */
			n->op = &op_dense;
			n->layer = d->layer; /* where its parameters are named */
			n->nin = d->nin;
			for (int k = 0; k < d->nin; k++)
				n->in[k] = d->in[k];
			d->dead = 1;
		} else if (n->op == &op_act_grad && ((d = n->in[1])->op == &op_dense_dx || d->op == &op_mse_grad) &&
			   !d->iattr[1] && private_to_reader(g, d) && pos[n->in[0]->id] < pos[d->id]) {
			/* the gradient's node takes the derivative, where it stands */
			d->iattr[1] = n->iattr[0] + 1;
			d->fattr[0] = n->fattr[0];
			d->in[d->nin++] = n->in[0];
			graph_replace_uses(g, n, d);
			n->dead = 1;
		} else
			continue;
		graph_count_uses(g);
	}
	free(pos);
}

void fuse_graph(Model *m)
{
	remove_dead_code(m->g);
	if (!m->nofuse)
		fuse(m->g);
}
