/* plan.c - static memory planning of the work arena.
 * Requires: a live graph in schedule order (entry_plan). Provides: each
 * parameter's gradient in the gradient block (ST_GRAD), laid out as the
 * parameters, at the start of the arena (Model.grad_bytes); after it an
 * offset and size for every ST_WORK node such that no two values that are
 * live at the same time overlap, each 64-byte aligned; Model.work_bytes
 * (planned) and Model.work_bytes_unplanned (one buffer per value); and
 * the state's layout: a 64-byte header (step count, noise key, then
 * spare), the parameters, first moments and second moments, then the
 * buffers, their reals and then their int64_t counters, each block 64-byte
 * aligned (Model.param_block_bytes, buffers_at, state_bytes,
 * Buffer.byte_offset). Sizes saturate at SIZE_MAX instead of wrapping;
 * a state or work arena (at the batch of the train section) larger than
 * the machine's memory is a user error, reported at the model's name.
 * An inference build (Model.infer_parts) has no gradient block: its values
 * start at 0.
 * Preserves: the graph. Every function the emitter writes runs a subset of
 * this schedule in the same order, so the plan is valid for all of them. */
#include "ops.h"
#include "pipeline.h"

#define ALIGN 64

static size_t round_up(size_t x)
{
	return x > SIZE_MAX - (ALIGN - 1) ? SIZE_MAX : (x + ALIGN - 1) / ALIGN * ALIGN;
}

static void plan_state(Model *m)
{
	Graph *g = m->g;
	size_t real = m->f64 ? 8 : 4, reals = round_up(size_mul(g->buffer_elems, real));
	m->param_block_bytes = round_up(size_mul(g->param_elems, real));
	m->buffers_at = size_add(64, size_mul(3, m->param_block_bytes));
	for (int i = 0; i < g->buffers.len; i++) {
		Buffer *b = g->buffers.data[i];
		b->byte_offset = b->kind == BUF_COUNTER ? size_add(reals, size_mul(b->offset, 8))
							: size_mul(b->offset, real);
	}
	m->state_bytes = size_add(size_add(m->buffers_at, reals), round_up(size_mul(g->counter_elems, 8)));
}

/* "123 bytes", or "more than 2^64 bytes" for a size that saturated. */
static const char *bytes_text(size_t n)
{
	return n == SIZE_MAX ? "more than 2^64 bytes" : xasprintf("%zu bytes", n);
}

/* The state and the work arena must fit in the machine's memory together. */
static void check_memory(Model *m)
{
	size_t need = size_add(m->state_bytes, m->work_bytes);
	if (need <= machine_memory())
		return;
	diag_error(m->ast->model_loc,
		   "model '%s' needs %s of state and %s of work arena at batch %d, more than this machine's memory",
		   m->name, bytes_text(m->state_bytes), bytes_text(m->work_bytes), m->train.batch);
}

void plan_memory(Model *m)
{
	plan_state(m);
	Graph *g = m->g;
	size_t real = m->f64 ? 8 : 4;
	Vec work = {0};
	int pos = 0;
	for (int i = 0; i < g->params.len && !m->infer_parts; i++) {
		Node *d = ((Param *)g->params.data[i])->node->grad;
		ASSERT(d && d->storage == ST_WORK && !d->computed_by && !d->computes);
		d->storage = ST_GRAD;
		d->index = i;
	}
	m->grad_bytes = m->infer_parts ? 0 : round_up(size_mul(g->param_elems, real));
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->dead)
			continue;
		n->first = n->last = pos++;
		if (n->computed_by) /* written by the node before it (fuse.c) */
			n->first = n->computed_by->first;
		for (int j = 0; j < n->nin; j++)
			if (n->in[j]->last < n->first)
				n->in[j]->last = n->first;
		if (n->storage == ST_WORK) {
			size_t elems = size_mul(shape_elems(n->shape), n->shape.batched ? (size_t)m->train.batch : 1);
			n->bytes = round_up(size_mul(elems, real));
			vec_push(&work, n);
		}
	}
	/* Results handed back to the caller stay live to the end. */
	Node *roots[] = {g->loss, g->latent, g->output};
	for (int i = 0; i < 3; i++)
		if (roots[i])
			roots[i]->last = pos;
	/* First fit: place each value, in definition order, at the lowest
	 * offset that does not overlap a value live at the same time. */
	size_t top = 0, total = 0;
	for (int i = 0; i < work.len; i++) {
		Node *n = work.data[i];
		size_t off = 0;
		for (int moved = 1; moved;) {
			moved = 0;
			for (int j = 0; j < i; j++) {
				Node *o = work.data[j];
				int overlap_time = o->last >= n->first && n->last >= o->first;
				size_t o_end = size_add(o->offset, o->bytes);
				int overlap_mem = off < o_end && o->offset < size_add(off, n->bytes);
				if (overlap_time && overlap_mem) {
					off = o_end;
					moved = 1;
				}
			}
		}
		n->offset = off;
		if (size_add(off, n->bytes) > top)
			top = size_add(off, n->bytes);
		total = size_add(total, n->bytes);
	}
	for (int i = 0; i < work.len; i++) {
		Node *n = work.data[i];
		n->offset = size_add(n->offset, m->grad_bytes);
	}
	m->work_bytes = size_add(m->grad_bytes, top);
	m->work_bytes_unplanned = size_add(m->grad_bytes, total);
	check_memory(m);
}
