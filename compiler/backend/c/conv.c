/* conv.c - the C rows of the convolutions, pooling, upsampling and
 * reshaping of images (ops/conv.c, whose comment gives the three kernels:
 * im2col or col2im, one product over the batch or a chunk of it,
 * transposes between a map and the map with channels last). Requires:
 * emit.h, attrs.h. Provides: their rows. */
#include <string.h>

#include "attrs.h"
#include "emit.h"

/* The workspace is memory the convolution that reads it fills. */
void c_conv_workspace(Emit *e, Node *n) { (void)e, (void)n; }

/* Where a convolution's kernels run: on the whole batch, samples b < n,
 * or, when its workspace holds `chunk` samples (conv_chunk), in a loop
 * over chunks of the batch, samples b0 + b for b < m, so that what one
 * kernel leaves in the workspace is still in the cache for the next.
 * With more than one slot, threads share out the chunks, each working in
 * the slot of the workspace that is its own (its products within a chunk
 * then run on it alone); a weight gradient's chunks run in order, the
 * threads sharing out the work within each. */
typedef struct Span {
	long chunk;          /* samples in the workspace; 0: all n */
	const char *count;   /* the samples at a time: "n" or "m" */
	const char *sample;  /* sample b's index in the batch: "b" or "(b0 + b)" */
	const char *each;    /* the loop over them (kernels.c) */
	const char *ws;      /* the running chunk's workspace */
} Span;

/* Open the loop over chunks of convolution n, if its workspace has them. */
static Span span_open(Emit *e, const Node *n)
{
	const Node *ws = n->in[IN_WS];
	const long chunk = ws->iattr[0], slots = ws->iattr[1];
	if (!chunk)
		return (Span){0, "n", "b", str_upper(emit_helper(e, "each_sample")), emit_ref(e, ws)};
	const char *ref = emit_ref(e, ws);
	if (slots > 1) {
		emit_line(e, "#ifdef _OPENMP");
		emit_line(e, "#pragma omp parallel for schedule(dynamic) if (n > %ld) num_threads(%s(%ld))", chunk,
			  emit_helper(e, "slots"), slots);
		emit_line(e, "#endif");
	}
	emit_line(e, "for (long b0 = 0; b0 < n; b0 += %ld) {", chunk);
	emit_indent(e, 1);
	if (slots > 1) {
		emit_line(e, "%s *const slot = %s + %s * %ld * %ld; /* this thread's chunk */", emit_real(e), ref,
			  str_upper(xasprintf("%s_slot", emit_prefix(e))), chunk,
			  (long)shape_elems(ws->shape) / slots / chunk);
		ref = "slot";
	}
	emit_line(e, "const long m = n - b0 < %ld ? n - b0 : %ld;", chunk, chunk);
	return (Span){chunk, "m", "(b0 + b)", str_upper(emit_helper(e, "each_in_chunk")), ref};
}

static void span_close(Emit *e, Span sp)
{
	if (!sp.chunk)
		return;
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* " + sample * per": the offset of the running sample's values in a
 * batched value of `per` values a sample. */
static const char *at_sample(Span sp, long per) { return xasprintf(" + %s * %ld", sp.sample, per); }

/* The activation fused into convolution n (A_ACT) as an epilogue, with
 * A_ACT_Y its derivative read off the last input at the result's place
 * plus `at` (at_sample for a per-sample kernel, "" for the product over
 * the batch): NULL, or a compound literal. */
static const char *conv_epilogue(Emit *e, const Node *n, const char *at)
{
	const char *y = n->iattr[A_ACT_Y] ? xasprintf("%s%s", emit_ref(e, n->in[n->nin - 1]), at) : NULL;
	return act_epilogue(e, n->iattr[A_ACT], n->fattr[0], y);
}

/* The same for sample b of a per-sample kernel, `per` values a sample. */
static const char *sample_epilogue(Emit *e, const Node *n, Span sp, long per)
{
	return conv_epilogue(e, n, at_sample(sp, per));
}

/* A statement for each sample b of the span (`call` and its last
 * argument `last`, which goes on a line of its own if it is long), after
 * the statement `before` in the same loop unless that is NULL. */
static void emit_each_sample_after(Emit *e, Span sp, const char *before, const char *call, const char *last)
{
	emit_line(e, "%s%s", sp.each, before ? " {" : "");
	if (before)
		emit_line(e, "\t%s;", before);
	if (!last || !strcmp(last, "NULL"))
		emit_line(e, "\t%s%s);", call, last ? ", NULL" : "");
	else {
		emit_line(e, "\t%s,", call);
		emit_line(e, "\t\t%s);", last);
	}
	if (before)
		emit_line(e, "}");
}

static void emit_each_sample(Emit *e, Span sp, const char *call, const char *last)
{
	emit_each_sample_after(e, sp, NULL, call, last);
}

/* The geometry's arguments of im2col and col2im: C, H, W, k, s, p, OH, OW. */
static const char *geom_args(Geom g)
{
	return xasprintf("%d, %d, %d, %d, %d, %d, %d, %d", g.C, g.H, g.W, g.k, g.s, g.p, g.OH, g.OW);
}

/* The call cols + b P C k k = im2col(image b) for sample b. */
static const char *im2col_call(Emit *e, Span sp, Geom g, const char *img, const char *cols)
{
	long P = (long)g.OH * g.OW, ckk = (long)g.C * g.k * g.k;
	return xasprintf("%s(%s, %s%s, %s + b * %ld)", emit_helper(e, "im2col"), geom_args(g), img,
			 at_sample(sp, (long)g.C * g.H * g.W), cols, P * ckk);
}

/* The call that puts sample b's map [O, P] with channels last, t [P, O]. */
static const char *to_last_call(Emit *e, Span sp, const char *map, const char *t, long O, long P)
{
	return xasprintf("%s(%ld, %ld, %s%s, %ld, %s + b * %ld, %ld)", emit_helper(e, "transpose"), O, P, map,
			 at_sample(sp, O * P), P, t, O * P, O);
}

/* One statement, or two in one loop (second not NULL), for each sample
 * of the span. */
static void emit_each_statement(Emit *e, Span sp, const char *first, const char *second)
{
	emit_line(e, "%s%s", sp.each, second ? " {" : "");
	emit_line(e, "\t%s;", first);
	if (second) {
		emit_line(e, "\t%s;", second);
		emit_line(e, "}");
	}
}

/* The workspace: cols, then map^T after the columns of all its samples. */
static const char *ws_maps(Span sp, Geom g)
{
	const long cols = (long)g.OH * g.OW * g.C * g.k * g.k;
	if (sp.chunk)
		return xasprintf("(%s + %ld * %ld)", sp.ws, sp.chunk, cols);
	return xasprintf("(%s + n * %ld)", sp.ws, cols);
}

/* conv2d: map^T = im2col(x) W^T + b, then the map from map^T; with a
 * kernel as large as the image (conv_whole), map = x W^T + b. */
void c_conv2d(Emit *e, Node *n)
{
	Geom g = conv_geom(n);
	long P = (long)g.OH * g.OW, ckk = (long)g.C * g.k * g.k;
	if (conv_whole(g)) {
		emit_call_end(e,
			      xasprintf("%s(n, %d, %ld, %s, %ld, 1, %s, 1, %ld, %s, %s,", emit_helper(e, "gemm"), g.O,
				       ckk, emit_ref(e, n->in[IN_X]), ckk, emit_ref(e, n->in[IN_W]), ckk,
				       n->iattr[A_BIAS] ? emit_ref(e, n->in[IN_B]) : "NULL", emit_ref(e, n)),
			      conv_epilogue(e, n, ""));
		return;
	}
	Span sp = span_open(e, n);
	const char *cols = sp.ws, *t = ws_maps(sp, g);
	emit_each_statement(e, sp, im2col_call(e, sp, g, emit_ref(e, n->in[IN_X]), cols), NULL);
	emit_line(e, "%s(%s * %ld, %d, %ld, %s, %ld, 1, %s, 1, %ld, %s, %s, NULL);", emit_helper(e, "gemm"), sp.count,
		  P, g.O, ckk, cols, ckk, emit_ref(e, n->in[IN_W]), ckk,
		  n->iattr[A_BIAS] ? emit_ref(e, n->in[IN_B]) : "NULL", t);
	emit_each_sample(e, sp, xasprintf("%s(%d, %ld, %s + b * %ld, %s%s", emit_helper(e, "from_last"), g.O, P, t,
					  g.O * P, emit_ref(e, n), at_sample(sp, g.O * P)),
			 sample_epilogue(e, n, sp, g.O * P));
	span_close(e, sp);
}

/* 1 if a transposed convolution with ckk columns a pixel (its image's
 * channels times k k) takes them from its map as it is (cols_from_map):
 * few enough for the narrow product, which only fp32's blocked kernels
 * have. Its map is then not transposed, and its product is not one over
 * the chunk with most of each vector of C unused. */
static int cols_narrow(Emit *e, long ckk)
{
	return ckk <= C_GEMM_NN && !emit_bf16(e) && !emit_scalar_kernels(e) && !emit_small_kernels(e);
}

/* conv_transpose2d: cols = map^T W, y = (b per channel or 0) + col2im(cols);
 * with a kernel as large as the image (conv_whole), y = x W, then b per
 * channel added to it. */
void c_conv_transpose2d(Emit *e, Node *n)
{
	Geom g = conv_geom(n);
	long hw = (long)g.H * g.W, P = (long)g.OH * g.OW, ckk = (long)g.C * g.k * g.k;
	if (conv_whole(g)) {
		const char *y = emit_ref(e, n);
		const char *call = xasprintf("%s(n, %ld, %d, %s, %d, 1, %s, %ld, 1, NULL, %s,", emit_helper(e, "gemm"),
					     ckk, g.O, emit_ref(e, n->in[IN_X]), g.O, emit_ref(e, n->in[IN_W]), ckk, y);
		if (!n->iattr[A_BIAS]) {
			emit_call_end(e, call, conv_epilogue(e, n, ""));
			return;
		}
		emit_call_end(e, call, "NULL");
		Span sp = span_open(e, n);
		emit_each_sample(e, sp, xasprintf("%s(%d, %ld, %s, %s%s", emit_helper(e, "add_bias"), g.C, hw,
						  emit_ref(e, n->in[IN_B]), y, at_sample(sp, g.C * hw)),
				 sample_epilogue(e, n, sp, g.C * hw));
		return;
	}
	Span sp = span_open(e, n);
	const char *y = emit_ref(e, n), *cols = sp.ws, *t = ws_maps(sp, g);
	const char *col2im = xasprintf("%s(%s, %s + b * %ld, %s, %s%s", emit_helper(e, "col2im_bias"), geom_args(g), cols,
				       P * ckk, n->iattr[A_BIAS] ? emit_ref(e, n->in[IN_B]) : "NULL", y,
				       at_sample(sp, g.C * hw));
	if (cols_narrow(e, ckk)) { /* each sample's columns from its map as it is, then its image */
		emit_each_sample_after(e, sp,
				       xasprintf("%s(%d, %ld, %ld, %s%s, %s, %s + b * %ld)", emit_helper(e, "cols_from_map"),
						 g.O, P, ckk, emit_ref(e, n->in[IN_X]), at_sample(sp, g.O * P),
						 emit_ref(e, n->in[IN_W]), cols, P * ckk),
				       col2im, sample_epilogue(e, n, sp, g.C * hw));
		span_close(e, sp);
		return;
	}
	emit_each_statement(e, sp, to_last_call(e, sp, emit_ref(e, n->in[IN_X]), t, g.O, P), NULL);
	emit_line(e, "%s(%s * %ld, %ld, %d, %s, %d, 1, %s, %ld, 1, NULL, %s, NULL);", emit_helper(e, "gemm"), sp.count, P,
		  ckk, g.O, t, g.O, emit_ref(e, n->in[IN_W]), ckk, cols);
	emit_each_sample(e, sp, col2im, sample_epilogue(e, n, sp, g.C * hw));
	span_close(e, sp);
}

/* conv2d_dw in chunks of samples, in order, the threads sharing out the
 * work of each (conv_dw_split): by the image's channels, each im2col of
 * its channels and its columns of dW (in a buffer, copied into dW at the
 * end), or by the map's channels, each the transposes of its channels and
 * its rows of dW (in place). What every part reads, the transposed maps
 * or the columns, each thread computes for itself, in a slot of its own:
 * no thread waits for another until the end. */
static void dw_chunks(Emit *e, Node *n, Geom g)
{
	const Node *ws = n->in[IN_WS];
	const long chunk = ws->iattr[0], slots = ws->iattr[1], P = (long)g.OH * g.OW, kk = (long)g.k * g.k;
	const long ckk = g.C * kk, hw = (long)g.H * g.W, cols = chunk * P * ckk, maps = chunk * P * g.O;
	const char *R = emit_real(e), *U = str_upper(emit_prefix(e)), *dw = emit_ref(e, n), *w = emit_ref(e, ws);
	const char *img = emit_ref(e, n->in[1]), *map = emit_ref(e, n->in[0]);
	const int by_image = conv_dw_split(g);
	emit_line(e, "#ifdef _OPENMP");
	emit_line(e, "#pragma omp parallel num_threads(%s(%ld))", emit_helper(e, "slots"), slots);
	emit_line(e, "#endif");
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const long shares = %s_PARTS, share = %s_SLOT; /* the threads here, this one */", U, U);
	if (by_image) {
		emit_line(e, "const long c0 = %dL * share / shares, c = %dL * (share + 1) / shares - c0; /* its image channels */",
			  g.C, g.C);
		emit_line(e, "%s *const cols = %s + %ld * c0, *const t = %s + %ld + share * %ld; /* its columns, its maps^T */", R,
			  w, chunk * P * kk, w, cols, maps);
		emit_line(e, "%s *const part_dw = %s + %ld + %ld * c0; /* its columns of dW */", R, w, cols + slots * maps,
			  g.O * kk);
		emit_line(e, "memset(part_dw, 0, sizeof(%s) * %d * c * %ld);", R, g.O, kk);
	} else {
		emit_line(e, "const long o0 = %dL * share / shares, o = %dL * (share + 1) / shares - o0; /* its map channels */",
			  g.O, g.O);
		emit_line(e, "%s *const t = %s + %ld * o0, *const cols = %s + %ld + share * %ld; /* its maps^T, its columns */", R,
			  w, chunk * P, w, maps, cols);
		emit_line(e, "memset(%s + o0 * %ld, 0, sizeof(%s) * o * %ld);", dw, ckk, R, ckk);
	}
	emit_line(e, "for (long b0 = 0; b0 < n; b0 += %ld) {", chunk);
	emit_indent(e, 1);
	emit_line(e, "const long m = n - b0 < %ld ? n - b0 : %ld;", chunk, chunk);
	emit_line(e, "for (long b = 0; b < m; b++) {");
	if (by_image) {
		emit_line(e, "\t%s(c, %d, %d, %d, %d, %d, %d, %d, %s + (b0 + b) * %ld + c0 * %ld, cols + b * %ld * c);",
			  emit_helper(e, "im2col"), g.H, g.W, g.k, g.s, g.p, g.OH, g.OW, img, g.C * hw, hw, P * kk);
		emit_line(e, "\t%s(%d, %ld, %s + (b0 + b) * %ld, %ld, t + b * %ld, %d);", emit_helper(e, "transpose"), g.O, P,
			  map, g.O * P, P, g.O * P, g.O);
		emit_line(e, "}");
		emit_line(e, "%s(%d, c * %ld, m * %ld, t, 1, %d, cols, c * %ld, 1, part_dw);", emit_helper(e, "gemm_add"),
			  g.O, kk, P, g.O, kk);
	} else {
		emit_line(e, "\t%s(%s, %s + (b0 + b) * %ld, cols + b * %ld);", emit_helper(e, "im2col"), geom_args(g), img,
			  g.C * hw, P * ckk);
		emit_line(e, "\t%s(o, %ld, %s + (b0 + b) * %ld + o0 * %ld, %ld, t + b * o * %ld, o);",
			  emit_helper(e, "transpose"), P, map, g.O * P, P, P, P);
		emit_line(e, "}");
		emit_line(e, "%s(o, %ld, m * %ld, t, 1, o, cols, %ld, 1, %s + o0 * %ld);", emit_helper(e, "gemm_add"), ckk, P,
			  ckk, dw, ckk);
	}
	emit_indent(e, -1);
	emit_line(e, "}");
	if (by_image) {
		emit_line(e, "for (long o = 0; o < %d; o++)", g.O);
		emit_line(e, "\tmemcpy(%s + o * %ld + c0 * %ld, part_dw + o * c * %ld, sizeof(%s) * c * %ld);", dw, ckk, kk,
			  kk, R, kk);
	}
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* conv2d_dw: dW = (map gradient^T)^T im2col(image), summed over the batch
 * inside the product (with a kernel as large as the image, conv_whole:
 * dW = dy^T x); in chunks (dw_chunks), dW starts at 0 and each chunk's
 * product adds to it, which sums each weight's terms in the order one
 * product over the batch sums them. */
void c_conv2d_dw(Emit *e, Node *n)
{
	Geom g = conv_geom(n);
	long P = (long)g.OH * g.OW, ckk = (long)g.C * g.k * g.k;
	const char *dw = emit_ref(e, n);
	if (conv_whole(g)) { /* dW = dy^T x, as dense_dw */
		emit_line(e, "%s(%d, %ld, n, %s, 1, %d, %s, %ld, 1, NULL, %s, NULL);", emit_helper(e, "gemm"), g.O, ckk,
			  emit_ref(e, n->in[0]), g.O, emit_ref(e, n->in[1]), ckk, dw);
		return;
	}
	if (n->in[IN_WS]->iattr[0]) {
		dw_chunks(e, n, g);
		return;
	}
	Span sp = span_open(e, n);
	const char *cols = sp.ws, *t = ws_maps(sp, g);
	emit_each_statement(e, sp, im2col_call(e, sp, g, emit_ref(e, n->in[1]), cols),
			    to_last_call(e, sp, emit_ref(e, n->in[0]), t, g.O, P));
	emit_line(e, "%s(%d, %ld, n * %ld, %s, 1, %d, %s, %ld, 1, NULL, %s, NULL);", emit_helper(e, "gemm"), g.O,
		  ckk, P, t, g.O, cols, ckk, dw);
	span_close(e, sp);
}

/* Each channel on its own (threads share out blocks of 8), its samples
 * in order; a sample's values are summed in 16 running sums, value q into
 * sum q % 16, which are then added in order: a fixed order that
 * vectorizes. */
void c_conv_db(Emit *e, Node *n)
{
	Shape s = n->in[0]->shape;
	emit_line(e, "%s(n, %d, %ld, %s, %s);", emit_helper(e, "sum_channels"), s.dims[0], (long)s.dims[1] * s.dims[2],
		  emit_ref(e, n->in[0]), emit_ref(e, n));
}

/* flatten and reshape: a copy under another shape. */
static void copy_emit(Emit *e, Node *n)
{
	emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", emit_ref(e, n), emit_ref(e, n->in[0]), emit_real(e),
		  emit_count(e, n, 1));
}

void c_flatten(Emit *e, Node *n) { copy_emit(e, n); }
void c_reshape(Emit *e, Node *n) { copy_emit(e, n); }

/* Open the loops over the values of images of shape s: q the image and
 * channel, i the row, j the column; `open` ends the innermost line (" {"
 * for a block, "" for one statement). */
static void emit_pixel_loops(Emit *e, Shape s, const char *open)
{
	emit_line(e, "for (long q = 0; q < n * %d; q++)", s.dims[0]);
	emit_line(e, "\tfor (long i = 0; i < %d; i++)", s.dims[1]);
	emit_line(e, "\t\tfor (long j = 0; j < %d; j++)%s", s.dims[2], open);
}

/* Loops over every window of the images x that the pooling `pool` (or its
 * gradient) reads, into the map of shape ys: `win` points at the window's
 * top-left value and `best` is the offset of its first largest value (a
 * NaN wins, as in PyTorch). Closes with maxpool_close. */
static void maxpool_open(Emit *e, const Node *pool, const Node *x, Shape ys)
{
	Shape xs = x->shape;
	long H = xs.dims[1], W = xs.dims[2], s = pool->iattr[A_STRIDE], k = pool->iattr[A_KERNEL];
	ASSERT(xs.dims[0] == ys.dims[0]);
	emit_pixel_loops(e, ys, " {");
	emit_indent(e, 3);
	emit_line(e, "const %s *win = %s + q * %ld + i * %ld + j * %ld;", emit_real(e), emit_ref(e, x), H * W,
		  s * W, s);
	emit_line(e, "long best = 0;");
	emit_line(e, "for (long u = 0; u < %ld; u++)", k);
	emit_line(e, "\tfor (long v = 0; v < %ld; v++)", k);
	emit_line(e, "\t\tif (win[u * %ld + v] > win[best] || win[u * %ld + v] != win[u * %ld + v])", W, W, W);
	emit_line(e, "\t\t\tbest = u * %ld + v;", W);
}

static void maxpool_close(Emit *e)
{
	emit_indent(e, -3);
	emit_line(e, "\t\t}");
}

/* The index of window (q, i, j) in a map of shape ys. */
static const char *pool_out(Shape ys)
{
	return xasprintf("(q * %d + i) * %d + j", ys.dims[1], ys.dims[2]);
}

void c_maxpool2d(Emit *e, Node *n)
{
	maxpool_open(e, n, n->in[0], n->shape);
	emit_line(e, "%s[%s] = win[best];", emit_ref(e, n), pool_out(n->shape));
	maxpool_close(e);
}

void c_maxpool2d_grad(Emit *e, Node *n)
{
	const char *dx = emit_ref(e, n);
	Shape ys = n->in[1]->shape;
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
	emit_line(e, "\t%s[i] = 0;", dx);
	maxpool_open(e, n, n->in[0], ys);
	emit_line(e, "%s[win - %s + best] += %s[%s];", dx, emit_ref(e, n->in[0]), emit_ref(e, n->in[1]),
		  pool_out(ys));
	maxpool_close(e);
}

void c_upsample2d(Emit *e, Node *n)
{
	Shape xs = n->in[0]->shape, ys = n->shape;
	long s = n->iattr[0];
	emit_pixel_loops(e, ys, "");
	emit_line(e, "\t\t\t%s[(q * %d + i) * %d + j] = %s[(q * %d + i / %ld) * %d + j / %ld];", emit_ref(e, n),
		  ys.dims[1], ys.dims[2], emit_ref(e, n->in[0]), xs.dims[1], s, xs.dims[2], s);
}

void c_upsample2d_grad(Emit *e, Node *n)
{
	Shape ys = n->in[0]->shape, xs = n->shape;
	long s = n->iattr[0];
	emit_pixel_loops(e, xs, " {");
	emit_line(e, "\t\t\t%s acc = 0;", emit_real(e));
	emit_line(e, "\t\t\tfor (long u = 0; u < %ld; u++)", s);
	emit_line(e, "\t\t\t\tfor (long v = 0; v < %ld; v++)", s);
	emit_line(e, "\t\t\t\t\tacc += %s[(q * %d + i * %ld + u) * %d + j * %ld + v];", emit_ref(e, n->in[0]),
		  ys.dims[1], s, ys.dims[2], s);
	emit_line(e, "\t\t\t%s[(q * %d + i) * %d + j] = acc;", emit_ref(e, n), xs.dims[1], xs.dims[2]);
	emit_line(e, "\t\t}");
}
