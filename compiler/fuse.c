/* fuse.c - graph clean-up before planning.
 * Requires: the complete graph (forward, backward, update). Provides: every
 * node not needed by a root (the loss, the latent, the output, the updates)
 * marked dead; Node.nuses counts live readers. Preserves: the results of
 * every root. */
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

void fuse_graph(Model *m)
{
	Graph *g = m->g;
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
