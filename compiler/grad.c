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
	if (!d->grad_of)
		d->grad_of = x;
	if (!x->grad) {
		x->grad = d;
		return;
	}
	Node *sum = graph_add2(g, &op_add, x->loc, x->grad, d);
	sum->shape = x->shape;
	sum->grad_of = x;
	x->grad = sum;
}

/* Mark the phase of every node added since `from`. */
static void mark(Graph *g, int from, Phase ph)
{
	for (int i = from; i < g->nodes.len; i++)
		((Node *)g->nodes.data[i])->phase = ph;
}

/* Walk back from node `last` to node `first`, applying each op's gradient
 * rule to every node that has received a gradient. Nodes are in
 * topological order, so each node is visited after all its consumers
 * have contributed. */
static void backprop(Graph *g, int first, int last)
{
	for (int i = last; i >= first; i--) {
		Node *n = g->nodes.data[i];
		if (!n->needs_grad || !n->grad || n->dead)
			continue;
		if (!n->op->grad && n->expansion_of) {
			diag_error(n->expansion_of->loc, "%s: the model's %s cannot be differentiated twice (dense layers and elementwise activations can)",
				   n->expansion_of->op->name, n->op->name);
			continue;
		}
		if (!n->op->grad)
			ICE("op %s has no gradient rule", n->op->name);
		n->op->grad(g, n, n->grad);
	}
}

/* needs_grad from scratch: a parameter, or a node reading one that needs it. */
static void refresh_needs_grad(Graph *g)
{
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		n->needs_grad = n->storage == ST_PARAM;
		for (int j = 0; j < n->nin; j++)
			n->needs_grad |= n->in[j]->needs_grad;
	}
}

Node *grad_vjp(Graph *g, Node *out, Node *seed, Node *wrt)
{
	ASSERT(wrt->id < out->id && shape_eq(out->shape, seed->shape));
	int end = out->id;
	/* For this walk, "needs a gradient" means "depends on wrt". */
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		n->grad = NULL;
		n->needs_grad = n == wrt;
		for (int j = 0; j < n->nin && n != wrt; j++)
			n->needs_grad |= n->in[j]->needs_grad;
	}
	out->grad = seed;
	backprop(g, wrt->id + 1, end);
	Node *result = wrt->grad;
	for (int i = 0; i < g->nodes.len; i++)
		((Node *)g->nodes.data[i])->grad = NULL;
	refresh_needs_grad(g);
	return result;
}

void grad_build(Model *m)
{
	Graph *g = m->g;
	int nfwd = g->nodes.len;
	Node *one = graph_add(g, &op_constant, g->loss->loc, 0, NULL);
	one->fattr[0] = 1;
	op_constant.shape(one);
	g->loss->grad = one;
	backprop(g, 0, nfwd - 1);
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
