/* fuse.c - dead-code removal and fusion, after autodiff and before planning.
 * Requires: the complete graph (forward, backward, update). Provides: every
 * node not needed by a root (the loss, the latent, the output, the updates)
 * marked dead; unless fusion is off (--no-fuse), the rewrites below, each
 * turning a pair of nodes into one node that does both in one pass over
 * memory; Node.nuses counts live readers. Preserves: the value of every
 * live node, bit for bit (a fused node does the same arithmetic in the same
 * order, only while the data is still in the cache). Breaks: the forward
 * graph as lowering left it (the PyTorch twin reads a run stopped before).
 *
 * Each rewrite keeps one node of the pair, changed in place, and the other,
 * which only it read or which only read it, dies:
 *   act(dense(x, W, b))       -> dense with the activation as its epilogue
 *   act_grad(y, dense_dx(..)) -> dense_dx times f'(.) read off y, in its epilogue
 *   act_grad(y, mse_grad(..)) -> mse_grad times f'(.), block by block
 *   act(conv(..)), act_grad(y, conv(..)) -> the convolution (conv2d or
 *                                conv_transpose2d) applying f or f' to each
 *                                sample's result as it is finished
 * and two pairs whose members read the same data keep both nodes but are
 * computed by one kernel (Node.computes, Node.computed_by), the second
 * node moved to just after the first:
 *   loss(p, t) and its gradient   -> one pass over the output, when the
 *                                    gradient's seed is a constant
 *   gaussian(mu, logvar) and kl_normal(mu, logvar) -> one pass over mu
 *                                    and logvar
 * and every convolution (conv2d, conv_transpose2d, conv2d_dw) runs on
 * chunks of samples whose columns fit in the L2 cache, its workspace sized
 * for one chunk (conv_chunk): its kernels pass the columns on in the
 * cache, and a weight gradient computes its columns again instead of
 * reading those of the forward pass from memory; its product over the
 * batch adds the chunks in order, so it sums as one product would.
 * Adam is one pass over the parameter block after the backward part
 * (backend/c/adam.c). Moving it into the epilogue of the weight-gradient
 * product measured slower, with the tiles taken row by row and the
 * moments prefetched too: their traffic from L3 slows the product's FMAs
 * as much as it costs alone (docs/design.md, Fusion). */
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
		} else if (is_act(n) && private_to_reader(g, d) && conv_take_activation(n, d, (int)n->iattr[0])) {
			d->dead = 1;
		} else if (n->op == &op_act_grad && private_to_reader(g, d = n->in[1]) &&
			   pos[n->in[0]->id] < pos[d->id] &&
			   conv_take_derivative(d, (int)n->iattr[0], n->fattr[0], n->in[0])) {
			graph_replace_uses(g, n, d);
			n->dead = 1;
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
	xfree(pos);
}

static int index_of(const Graph *g, const Node *n)
{
	for (int i = 0; i < g->nodes.len; i++)
		if (g->nodes.data[i] == n)
			return i;
	ICE("t%d is not in the graph", n->id);
}

/* Move n to index `at` of the schedule, counted as if n were not in it. */
static void move_to(Graph *g, Node *n, int at)
{
	int from = index_of(g, n);
	Node **v = (Node **)g->nodes.data;
	for (int i = from; i + 1 < g->nodes.len; i++)
		v[i] = v[i + 1];
	for (int i = g->nodes.len - 1; i > at; i--)
		v[i] = v[i - 1];
	v[at] = n;
}

/* n depends on constants only: the seed of the gradient and its scalings. */
static int constant_cone(const Node *n)
{
	if (n->op == &op_constant)
		return 1;
	if (n->op != &op_scale && n->op != &op_add)
		return 0;
	for (int i = 0; i < n->nin; i++)
		if (!constant_cone(n->in[i]))
			return 0;
	return 1;
}

/* Move n's constant cone, in its order, to just before `before`. */
static void hoist_cone(Graph *g, Node *n, Node *before)
{
	for (int i = 0; i < n->nin; i++)
		hoist_cone(g, n->in[i], before);
	if (index_of(g, n) > index_of(g, before))
		move_to(g, n, index_of(g, before));
}

/* d is the gradient of loss l with respect to l's first input. */
static int loss_and_grad(const Node *l, const Node *d)
{
	if (!((l->op == &op_mse && d->op == &op_mse_grad) || (l->op == &op_bce && d->op == &op_bce_grad)))
		return 0;
	if (l->in[0] != d->in[0] || l->in[1] != d->in[1] || l->iattr[0] != d->iattr[0])
		return 0;
	/* bce from the logits: both read y = sigmoid(z) */
	return l->op != &op_bce || (l->iattr[1] == d->iattr[1] && (!l->iattr[1] || l->in[2] == d->in[3]));
}

static int pairable(const Node *a, const Node *b)
{
	return a != b && !a->dead && !b->dead && !a->computes && !a->computed_by && !b->computes && !b->computed_by;
}

/* b is computed by a's kernel: b moves to just after a. */
static void pair(Graph *g, Node *a, Node *b)
{
	move_to(g, b, index_of(g, a) + 1);
	a->computes = b;
	b->computed_by = a;
}

static void pair_up(Graph *g)
{
	for (int i = 0; i < g->nodes.len; i++) {
		Node *d = g->nodes.data[i];
		if (d->op != &op_mse_grad && d->op != &op_bce_grad)
			continue;
		for (int j = 0; j < i; j++) {
			Node *l = g->nodes.data[j];
			if (!pairable(l, d) || !loss_and_grad(l, d) || !constant_cone(d->in[2]))
				continue;
			/* everything d reads but the seed is computed before l */
			int ok = 1;
			for (int k = 0; k < d->nin; k++)
				ok &= k == 2 || index_of(g, d->in[k]) < j;
			if (!ok)
				break;
			hoist_cone(g, d->in[2], l);
			pair(g, l, d);
			break;
		}
	}
	for (int i = 0; i < g->nodes.len; i++) {
		Node *z = g->nodes.data[i];
		if (z->op != &op_gaussian)
			continue;
		for (int j = 0; j < g->nodes.len; j++) {
			Node *kl = g->nodes.data[j];
			if (kl->op != &op_kl_normal || !pairable(z, kl) || kl->in[0] != z->in[0] || kl->in[1] != z->in[1])
				continue;
			if (j > i)
				pair(g, z, kl);
			else
				pair(g, kl, z);
			break;
		}
	}
}

/* The most threads that share out the chunks of a convolution, each with
 * a chunk's workspace of its own; an inference export runs on one. */
enum { CHUNK_THREADS = 8 };

static void chunk_convolutions(Model *m)
{
	for (int i = 0; i < m->g->nodes.len; i++) {
		Node *n = m->g->nodes.data[i];
		if (!n->dead)
			conv_chunk(n, m->train.batch, m->f64 ? 8 : 4, m->infer_parts ? 1 : CHUNK_THREADS);
	}
}

void fuse_graph(Model *m)
{
	remove_dead_code(m->g);
	if (!m->nofuse) {
		fuse(m->g);
		pair_up(m->g);
		chunk_convolutions(m);
		graph_count_uses(m->g);
	}
}
