/* entry.c - the entry-point planner, shared by every backend: which part of
 * the model each public function computes, in which order, and with which
 * partner kernels.
 * Requires: a fused graph (fuse_graph). Provides: Node.part for every live
 * node; the schedule reordered so that the parts come one after the other
 * (encoder, decoder, loss, backward, update), each in its old order, so
 * that every entry point runs a prefix or a run of parts of one schedule
 * (and plan_memory's plan is valid for all of them); Model.decodable.
 * Preserves: every value.
 *
 * The parts:
 *   encoder   what the latent needs            NAME_encode
 *   decoder   what the output needs beyond it   NAME_decode, NAME_sample
 *   loss      what the loss needs beyond both   NAME_loss
 *   backward  the gradient                      NAME_gradient
 *   update    Adam                              NAME_update
 * NAME_forward runs encoder and decoder, NAME_train_step all five. A node
 * whose kernel also computes a later one (Node.computes, fuse.c) takes it
 * into its own part when both are forward values.
 *
 * An inference build (Model.infer_parts, aecc export) keeps only the nodes
 * its parts need for their results; the rest die, and every node computes
 * itself (a pair computed by one kernel is the training form). */
#include <stdlib.h>

#include "ops.h"
#include "pipeline.h"

/* n and what it reads belong to `part`, unless they belong to one already. */
static void mark(Node *n, int part)
{
	if (!n || n->part || n->dead)
		return;
	if (n->storage == ST_INPUT || n->storage == ST_PARAM || n->storage == ST_BUFFER)
		return;
	n->part = part;
	for (int i = 0; i < n->nin; i++)
		mark(n->in[i], part);
}

/* n and what it reads run no later than `part`. */
static void pull(Node *n, int part)
{
	if (n->part <= part)
		return;
	n->part = part;
	for (int i = 0; i < n->nin; i++)
		pull(n->in[i], part);
}

/* n and what it reads in the parts `parts` stay live; a value of another
 * part keeps only its own slot (decode writes the latent there). */
static void revive(Node *n, unsigned parts)
{
	if (!n->dead)
		return;
	n->dead = 0;
	if (!(parts & 1u << n->part))
		return;
	for (int i = 0; i < n->nin; i++)
		revive(n->in[i], parts);
}

static void keep_inference(Model *m)
{
	Graph *g = m->g;
	unsigned parts = m->infer_parts;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		n->computes = n->computed_by = NULL;
		if (n->part)
			n->dead = 1;
	}
	Node *roots[] = {g->latent, g->output, g->loss};
	for (int part = PART_ENCODER; part <= PART_LOSS; part++)
		if (parts & 1u << part && roots[part - PART_ENCODER])
			revive(roots[part - PART_ENCODER], parts);
	if (parts & 1u << PART_DECODER && g->latent)
		revive(g->latent, parts); /* decode's slot */
}

static int by_part(const void *a, const void *b)
{
	const Node *x = *(Node *const *)a, *y = *(Node *const *)b;
	int px = x->dead ? PART_UPDATE + 1 : x->part, py = y->dead ? PART_UPDATE + 1 : y->part;
	if (px != py)
		return px < py ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

void entry_plan(Model *m)
{
	Graph *g = m->g;
	for (int i = 0; i < g->nodes.len; i++)
		((Node *)g->nodes.data[i])->part = 0;
	mark(g->latent, PART_ENCODER);
	mark(g->output, PART_DECODER);
	mark(g->loss, PART_LOSS);
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->dead || n->part || n->storage == ST_INPUT || n->storage == ST_PARAM || n->storage == ST_BUFFER)
			continue;
		/* a forward value only the gradient reads is computed with the loss */
		n->part = n->phase == PH_FORWARD ? PART_LOSS : n->phase == PH_BACKWARD ? PART_BACKWARD : PART_UPDATE;
	}
	/* A pair computed by one kernel (fuse.c) runs in the earlier part of
	 * the two when both are forward values, else in the part of the node
	 * that computes; what either reads from a later part (the gradient
	 * seed of a loss computed with its gradient) moves there too. */
	for (int i = 0; i < g->nodes.len; i++) {
		Node *a = g->nodes.data[i], *b = a->computes;
		if (a->dead || !b)
			continue;
		int part = b->phase == PH_FORWARD && b->part < a->part ? b->part : a->part;
		pull(a, part);
		if (b->phase == PH_FORWARD)
			pull(b, part);
		else
			for (int j = 0; j < b->nin; j++)
				pull(b->in[j], part);
	}
	/* Decoding from a latent the caller gives needs nothing else of the
	 * encoder. */
	m->decodable = 1;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		for (int j = 0; j < n->nin && !n->dead && n->part == PART_DECODER; j++)
			if (n->in[j]->part == PART_ENCODER && n->in[j] != g->latent)
				m->decodable = 0;
	}
	if (m->infer_parts)
		keep_inference(m);
	/* Stable sort by part: `first` holds the old position. */
	for (int i = 0; i < g->nodes.len; i++)
		((Node *)g->nodes.data[i])->first = i;
	/* Inputs, parameters and buffers (part 0) come first, dead nodes last. */
	qsort(g->nodes.data, (size_t)g->nodes.len, sizeof *g->nodes.data, by_part);
}
