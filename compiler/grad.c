/* grad.c - reverse-mode autodiff as a graph-to-graph transform, then the
 * optimizer. Requires: the forward graph with a scalar Graph.loss.
 * Provides: backward nodes (ordinary IR, phase PH_BACKWARD) whose results
 * are each parameter's gradient, and one adam node per parameter
 * (PH_UPDATE). Preserves every forward node. */
#include "ops.h"
#include "pipeline.h"

void grad_accumulate(Graph *g, Node *x, Node *d)
{
	if (!x->needs_grad)
		return;
	if (!shape_eq(x->shape, d->shape))
		ICE("gradient of t%d (%s) has shape %s, value has %s", x->id, x->op->name,
		    shape_str(d->shape), shape_str(x->shape));
	if (!x->grad) {
		x->grad = d;
		return;
	}
	Node *sum = graph_add2(g, &op_add, x->loc, x->grad, d);
	sum->shape = x->shape;
	x->grad = sum;
}

/* Mark the phase of every node added since `from`. */
static void mark(Graph *g, int from, Phase ph)
{
	for (int i = from; i < g->nodes.len; i++)
		((Node *)g->nodes.data[i])->phase = ph;
}

void grad_build(Model *m)
{
	Graph *g = m->g;
	int nfwd = g->nodes.len;
	Node *one = graph_add(g, &op_constant, g->loss->loc, 0, NULL);
	one->fattr[0] = 1;
	op_constant.shape(one);
	g->loss->grad = one;
	/* Nodes are in topological order, so walking back visits each node
	 * after every consumer has contributed to its gradient. */
	for (int i = nfwd - 1; i >= 0; i--) {
		Node *n = g->nodes.data[i];
		if (!n->needs_grad || !n->grad || n->dead)
			continue;
		if (!n->op->grad)
			ICE("op %s has no gradient rule", n->op->name);
		n->op->grad(g, n, n->grad);
	}
	mark(g, nfwd, PH_BACKWARD);
	int nbwd = g->nodes.len;
	const Param *reported = NULL;
	for (int i = 0; i < g->params.len; i++) {
		Param *p = g->params.data[i];
		if (!p->node->grad) {
			/* One message per layer, not per weight and bias. */
			if (!reported || reported->loc.line != p->loc.line || reported->loc.col != p->loc.col)
				diag_error(p->loc, "this layer's parameters (%s) do not affect the loss: use its result or remove it",
					   p->name);
			reported = p;
			continue;
		}
		Node *u = graph_add2(g, &op_adam, p->loc, p->node, p->node->grad);
		u->iattr[0] = (long)p->offset;
		op_adam.shape(u);
	}
	mark(g, nbwd, PH_UPDATE);
}
