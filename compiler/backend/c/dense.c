/* dense.c - the C rows of the fully connected layer and its gradient's
 * products (ops/dense.c): each one call of the "gemm" helper, with an
 * activation or its derivative as the product's epilogue after fusion.
 * Requires: emit.h. Provides: their rows. */
#include <string.h>

#include "emit.h"

/* The epilogue of product n: its activation (iattr[1]) or, with y, its
 * derivative read off y. */
static const char *dense_epilogue(Emit *e, const Node *n, const Node *y)
{
	return act_epilogue(e, n->iattr[1], n->fattr[0], y ? emit_ref(e, y) : NULL);
}

/* y = x W^T + b: A = x (rows of in), B(k, j) = W[j, k]. */
void c_dense(Emit *e, Node *n)
{
	int out = n->in[1]->shape.dims[0], in = n->in[1]->shape.dims[1];
	emit_call_end(e,
		 xasprintf("%s(n, %d, %d, %s, %d, 1, %s, 1, %d, %s, %s,", emit_helper(e, "gemm"), out, in,
			   emit_ref(e, n->in[0]), in, emit_ref(e, n->in[1]), in,
			   n->iattr[0] ? emit_ref(e, n->in[2]) : "NULL", emit_ref(e, n)),
		 dense_epilogue(e, n, NULL));
}

/* dx = dy W: A = dy (rows of out), B(k, j) = W[k, j]. */
void c_dense_dx(Emit *e, Node *n)
{
	int out = n->in[1]->shape.dims[0], in = n->in[1]->shape.dims[1];
	emit_call_end(e,
		 xasprintf("%s(n, %d, %d, %s, %d, 1, %s, %d, 1, NULL, %s,", emit_helper(e, "gemm"), in, out,
			   emit_ref(e, n->in[0]), out, emit_ref(e, n->in[1]), in, emit_ref(e, n)),
		 dense_epilogue(e, n, n->iattr[1] ? n->in[2] : NULL));
}

/* dW = dy^T x over the batch: A(i, k) = dy[k, i], B(k, j) = x[k, j]. */
void c_dense_dw(Emit *e, Node *n)
{
	int out = n->shape.dims[0], in = n->shape.dims[1];
	emit_line(e, "%s(%d, %d, n, %s, 1, %d, %s, %d, 1, NULL, %s, NULL);", emit_helper(e, "gemm"), out, in,
		  emit_ref(e, n->in[0]), out, emit_ref(e, n->in[1]), in, emit_ref(e, n));
}
