/* conv.c - convolutions, pooling, upsampling and reshaping of images.
 * An image value is [n, channels, height, width], row-major, as in PyTorch.
 *
 * One geometry serves both convolutions. A conv2d reads the image
 * [C, H, W] through a k x k kernel W [O, C, k, k] with stride s and
 * padding p and writes the map [O, OH, OW], OH = (H + 2p - k) / s + 1
 * (rounded down). Three kernels move between the two sides, each as one
 * product over a chunk of samples (cols: each sample's columns,
 * [OH OW, C k k]; map^T: the map with channels last, [OH OW, O]):
 *   conv2d            image -> map     cols = im2col(image), map^T = cols W^T
 *   conv_transpose2d  map -> image     cols = map^T W, image = col2im(cols)
 *   conv2d_dw         map, image -> W  dW = (map^T)^T im2col(image)
 * A conv_transpose2d's weight is that of the conv2d it transposes,
 * [map channels, image channels, k, k], so each convolution's input
 * gradient is the other one, and both can be differentiated again.
 *
 * cols and map^T live in a conv_workspace node made for the purpose; the
 * shape rule of the node that uses it sizes it for the whole batch, and
 * the fusion pass for a chunk of samples that fits in the cache
 * (conv_chunk). A kernel as large as the image, unpadded (conv_whole),
 * needs none: a sample's columns are its image, and its map, one pixel,
 * is the same with channels last. Flatten and reshape copy their input.
 * The attributes and inputs are named in attrs.h; the C of the three
 * kernels is in backend/c/conv.c. */
#include <limits.h>
#include <string.h>

#include "attrs.h"

/* Largest channel count, kernel, stride, padding and scale accepted. */
#define MAX_ARG (1 << 16)
/* The most bytes of workspace a convolution fills and reads at a time: a
 * chunk of samples whose columns stay in a core's L2 cache between the
 * kernels (conv_chunk). */
#define CHUNK_BYTES (1L << 20)
/* Chunks come in multiples of this many (conv_chunk), so that 2 or 4
 * threads get equal shares. */
#define CHUNK_SHARES 4

/* ---- checks shared by the lowering and shape rules ---- */

/* An integer argument within lo..hi, else a diagnostic at it. */
static int int_arg(const OpDef *op, int i, const ArgVal *a, long lo, long hi)
{
	if (a[i].num >= lo && a[i].num <= hi)
		return 1;
	diag_error(a[i].loc, "%s: %s must be from %ld to %ld, got %.0f", op->name, op->args[i].name, lo, hi,
		   a[i].num);
	return 0;
}

/* The value is a batch of images [n, C, H, W]. */
static int image_ok(const char *op, Loc loc, Shape s)
{
	if (s.batched && s.rank == 3)
		return 1;
	diag_error(loc, "%s needs images [n, channels, height, width], got %s", op, shape_str(s));
	return 0;
}

/* Set n's shape to the images [n, C, H, W] if they are of a usable size. */
static int set_image_shape(Node *n, long C, long H, long W)
{
	if (H < 1 || W < 1) {
		diag_error(n->loc, "%s: the output would be %ldx%ld, which is empty", n->op->name, H, W);
		return 0;
	}
	/* in this order, so that no product overflows */
	if (H > INT_MAX || W > INT_MAX || C * H > INT_MAX || C * H * W > INT_MAX) {
		diag_error(n->loc, "%s: the output [%ld, %ld, %ld] is too large", n->op->name, C, H, W);
		return 0;
	}
	int d[3] = {(int)C, (int)H, (int)W};
	n->shape = shape_make(1, 3, d);
	return 1;
}

/* ---- the geometry of a convolution node ---- */

Geom conv_geom(const Node *n)
{
	const Node *img, *map;
	if (n->op == &op_conv2d) {
		img = n->in[IN_X];
		map = n;
	} else if (n->op == &op_conv_transpose2d) {
		img = n;
		map = n->in[IN_X];
	} else {
		ASSERT(n->op == &op_conv2d_dw);
		img = n->in[1];
		map = n->in[0];
	}
	Geom g = {img->shape.dims[0], img->shape.dims[1], img->shape.dims[2],
		  map->shape.dims[0], map->shape.dims[1], map->shape.dims[2],
		  (int)n->iattr[A_KERNEL], (int)n->iattr[A_STRIDE], (int)n->iattr[A_PAD]};
	return g;
}

int conv_whole(Geom g)
{
	return g.k == g.H && g.k == g.W && g.p == 0 && g.OH == 1 && g.OW == 1;
}

int conv_dw_split(Geom g)
{
	return g.C > 1 && (long)g.C * g.k * g.k > g.O;
}

long conv_dw_words(Geom g, long samples, long slots)
{
	const long P = (long)g.OH * g.OW, cols = samples * P * g.C * g.k * g.k, t = samples * P * g.O;
	if (conv_dw_split(g))
		return cols + slots * t + (long)g.O * g.C * g.k * g.k;
	return t + slots * cols;
}

/* Size the workspace of a convolution node for the whole batch: per
 * sample, the columns and the map with channels last. */
static int size_workspace(Node *n)
{
	Geom g = conv_geom(n);
	if (conv_whole(g)) {
		n->in[IN_WS]->shape = shape_vec(0, 1); /* none: one value, unused */
		return 1;
	}
	long cols = (long)g.OH * g.OW * g.C * g.k * g.k + (long)g.OH * g.OW * g.O;
	if (cols > INT_MAX) {
		diag_error(n->loc, "%s: the kernel's columns (%ld values per sample) are too large", n->op->name, cols);
		return 0;
	}
	n->in[IN_WS]->shape = shape_vec(1, (int)cols);
	return 1;
}

int conv_chunk(Node *n, int batch, int real_bytes, int threads)
{
	if (n->op != &op_conv2d && n->op != &op_conv_transpose2d && n->op != &op_conv2d_dw)
		return 0;
	Node *ws = n->in[IN_WS];
	if (conv_whole(conv_geom(n)))
		return 1; /* no workspace (size_workspace) */
	ASSERT(ws->op == &op_conv_workspace && ws->shape.batched);
	const long per = (long)shape_elems(ws->shape), fit = CHUNK_BYTES / (per * real_bytes);
	long samples = fit < 1 ? 1 : fit, slots = 1;
	/* Each chunk's product reads the weights again (or, for conv2d_dw,
	 * writes the gradient again): not worth more memory traffic than the
	 * workspace saves, as for a 7 x 7 kernel over a 7 x 7 image. */
	const Geom g = conv_geom(n);
	const long weights = (long)g.O * g.C * g.k * g.k;
	if (samples >= batch || samples * per > INT_MAX || (batch + samples - 1) / samples * weights > batch * per)
		return 1; /* the whole batch at once (the plan checks its size) */
	/* A weight gradient adds the chunks in order, the threads (at most
	 * `threads`, iattr[1]) sharing out each chunk's work (conv_dw_split);
	 * the others run them in any order, threads each in a slot of the
	 * workspace of its own, and in a multiple of CHUNK_SHARES chunks (as
	 * far as the batch goes), so that 2 or 4 threads get equal shares. */
	long words;
	if (n->op == &op_conv2d_dw) {
		const long parts = conv_dw_split(g) ? g.C : g.O; /* at most one a channel */
		slots = threads < parts ? threads : parts;
		words = conv_dw_words(g, samples, slots);
		if (words > INT_MAX)
			return 1;
	} else {
		long chunks = (batch + samples - 1) / samples;
		chunks = (chunks + CHUNK_SHARES - 1) / CHUNK_SHARES * CHUNK_SHARES;
		if (chunks > batch)
			chunks = batch;
		samples = (batch + chunks - 1) / chunks;
		chunks = (batch + samples - 1) / samples; /* as many as that leaves */
		slots = chunks < threads ? chunks : threads;
		while (slots > 1 && slots * samples * per > INT_MAX)
			slots--;
		words = slots * samples * per;
	}
	ws->iattr[0] = samples;
	ws->iattr[1] = slots;
	ws->shape = shape_vec(0, (int)words);
	return 1;
}

/* conv_workspace: scratch of a convolution, sized by its user: per
 * sample, or (iattr[0] > 0) for that many samples at a time, in iattr[1]
 * slots, one for each thread that works on a chunk at the same time. */
static int workspace_shape(Node *n)
{
	(void)n;
	return 1;
}

static double no_flops(const Node *n)
{
	(void)n;
	return 0;
}

/* A workspace for chunks: "conv_workspace/15x8", chunks of 15 samples in
 * 8 slots. */
static const char *workspace_label(const Node *n)
{
	if (!n->iattr[0])
		return n->op->name;
	return xasprintf("%s/%ldx%ld", n->op->name, n->iattr[0], n->iattr[1]);
}

const OpDef op_conv_workspace = {
	.name = "conv_workspace", .shape = workspace_shape, .flops = no_flops, .label = workspace_label,
	.doc = "scratch for the kernel columns (im2col) of the convolution that reads it"};

static Node *workspace(Graph *g, Loc loc)
{
	Node *ws = graph_add(g, &op_conv_workspace, loc, 0, NULL);
	ws->shape = shape_vec(0, 1);
	return ws;
}

/* ---- conv2d, conv_transpose2d: lowering ---- */

static const ArgSpec conv2d_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"out_channels", ARG_INT, 0, 0, NULL},
	{"kernel", ARG_INT, 0, 0, NULL},
	{"stride", ARG_INT, 1, 1, NULL},
	{"padding", ARG_INT, 1, 0, NULL},
	{"bias", ARG_BOOL, 1, 1, NULL},
};

static const ArgSpec conv_transpose2d_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"out_channels", ARG_INT, 0, 0, NULL},
	{"kernel", ARG_INT, 0, 0, NULL},
	{"stride", ARG_INT, 1, 1, NULL},
	{"padding", ARG_INT, 1, 0, NULL},
	{"output_padding", ARG_INT, 1, 0, NULL},
	{"bias", ARG_BOOL, 1, 1, NULL},
};

/* conv2d(x, out_channels, kernel, stride, padding, bias) and
 * conv_transpose2d(..., output_padding, bias): weight [out, in, k, k] or
 * [in, out, k, k] (PyTorch's layouts), initialised as PyTorch does with
 * fan_in = dims[1] k k for weight and bias. The input's rank is checked
 * here, as the weight's shape depends on its channels. */
static Node *conv_lower(Lower *L, const Expr *call, const OpDef *op)
{
	ArgVal a[7];
	int tr = op == &op_conv_transpose2d;
	if (!bind_args(L, call, op, a))
		return NULL;
	if (!int_arg(op, 1, a, 1, MAX_ARG) || !int_arg(op, 2, a, 1, MAX_ARG) || !int_arg(op, 3, a, 1, MAX_ARG) ||
	    !int_arg(op, 4, a, 0, MAX_ARG) || (tr && !int_arg(op, 5, a, 0, MAX_ARG)))
		return NULL;
	Node *x = a[IN_X].t;
	if (!image_ok(op->name, call->loc, x->shape))
		return NULL;
	int out = (int)a[1].num, k = (int)a[2].num, in = x->shape.dims[0], bias = a[op->nargs - 1].num != 0;
	int wd[4] = {tr ? in : out, tr ? out : in, k, k};
	long fan_in = (long)wd[1] * k * k;
	Node *args[4] = {x, lower_param(L, "weight", shape_make(0, 4, wd), fan_in, call->loc), NULL, NULL};
	if (bias)
		args[IN_B] = lower_param(L, "bias", shape_vec(0, out), fan_in, call->loc);
	args[IN_WS] = workspace(lower_graph(L), call->loc);
	Node *n = graph_add(lower_graph(L), op, call->loc, 3 + bias, args);
	n->iattr[A_BIAS] = bias;
	n->iattr[A_KERNEL] = k;
	n->iattr[A_STRIDE] = (long)a[3].num;
	n->iattr[A_PAD] = (long)a[4].num;
	n->iattr[A_OUTPAD_H] = n->iattr[A_OUTPAD_W] = tr ? (long)a[5].num : 0;
	return op->shape(n) ? n : NULL;
}

static Node *conv2d_lower(Lower *L, const Expr *c) { return conv_lower(L, c, &op_conv2d); }
static Node *conv_transpose2d_lower(Lower *L, const Expr *c) { return conv_lower(L, c, &op_conv_transpose2d); }

/* ---- shape rules ---- */

/* conv2d: [n, C, H, W] -> [n, O, (H + 2p - k) / s + 1, (W + 2p - k) / s + 1]. */
static int conv2d_shape(Node *n)
{
	Shape xs = n->in[IN_X]->shape;
	long k = n->iattr[A_KERNEL], s = n->iattr[A_STRIDE], p = n->iattr[A_PAD];
	long ph = xs.dims[1] + 2 * p, pw = xs.dims[2] + 2 * p;
	ASSERT(xs.dims[0] == n->in[IN_W]->shape.dims[1]);
	if (k > ph || k > pw) {
		diag_error(n->loc, "conv2d: kernel %ld is larger than the padded input %ldx%ld", k, ph, pw);
		return 0;
	}
	return set_image_shape(n, n->in[IN_W]->shape.dims[0], (ph - k) / s + 1, (pw - k) / s + 1) &&
	       size_workspace(n);
}

/* conv_transpose2d: [n, Cin, H, W] -> [n, Cout, (H - 1) s - 2p + k + op,
 * (W - 1) s - 2p + k + op]; the output padding must stay below the stride,
 * as PyTorch requires (the conv2d it transposes would not reach it). */
static int conv_transpose2d_shape(Node *n)
{
	Shape xs = n->in[IN_X]->shape;
	long k = n->iattr[A_KERNEL], s = n->iattr[A_STRIDE], p = n->iattr[A_PAD];
	long oph = n->iattr[A_OUTPAD_H], opw = n->iattr[A_OUTPAD_W];
	ASSERT(xs.dims[0] == n->in[IN_W]->shape.dims[0]);
	if (oph >= s || opw >= s) {
		diag_error(n->loc, "conv_transpose2d: output_padding %ld must be smaller than stride %ld",
			   oph > opw ? oph : opw, s);
		return 0;
	}
	return set_image_shape(n, n->in[IN_W]->shape.dims[1], (xs.dims[1] - 1) * s - 2 * p + k + oph,
			       (xs.dims[2] - 1) * s - 2 * p + k + opw) &&
	       size_workspace(n);
}

/* conv2d_dw(dy, x): the weight gradient [O, C, k, k] of the map dy
 * [n, O, OH, OW] against the image x [n, C, H, W]. */
static int conv2d_dw_shape(Node *n)
{
	int d[4] = {n->in[0]->shape.dims[0], n->in[1]->shape.dims[0], (int)n->iattr[A_KERNEL],
		    (int)n->iattr[A_KERNEL]};
	n->shape = shape_make(0, 4, d);
	return size_workspace(n);
}

/* ---- rewrites of the fusion pass (fuse.c) ---- */

int conv_take_activation(Node *act, Node *conv, int kind)
{
	if ((conv->op != &op_conv2d && conv->op != &op_conv_transpose2d) || conv->iattr[A_ACT])
		return 0;
	act->op = conv->op;
	for (int i = 0; i < MAX_ATTR; i++)
		act->iattr[i] = conv->iattr[i];
	act->iattr[A_ACT] = kind + 1; /* fattr[0] keeps the slope */
	act->layer = conv->layer;
	act->nin = conv->nin;
	for (int i = 0; i < conv->nin; i++)
		act->in[i] = conv->in[i];
	return 1;
}

int conv_take_derivative(Node *conv, int kind, double slope, Node *y)
{
	if ((conv->op != &op_conv2d && conv->op != &op_conv_transpose2d) || conv->iattr[A_ACT] ||
	    conv->iattr[A_BIAS] || conv->nin >= MAX_IN)
		return 0;
	conv->iattr[A_ACT] = kind + 1;
	conv->iattr[A_ACT_Y] = 1;
	conv->fattr[0] = slope;
	conv->in[conv->nin++] = y;
	return 1;
}

/* A convolution with a fused activation: "conv2d+relu", or with its
 * derivative "conv_transpose2d*relu'". */
static const char *conv_label(const Node *n)
{
	if (!n->iattr[A_ACT])
		return n->op->name;
	return xasprintf(n->iattr[A_ACT_Y] ? "%s*%s'" : "%s+%s", n->op->name, act_name((int)n->iattr[A_ACT] - 1));
}

/* ---- gradients ---- */

/* A convolution node of the gradient: the kernel, stride and padding of
 * `like`, no bias, reading a and b and a workspace of its own. */
static Node *conv_node(Graph *g, const OpDef *op, const Node *like, Node *a, Node *b)
{
	Node *ws = workspace(g, like->loc);
	Node *n = graph_add3(g, op, like->loc, a, b, ws);
	for (int i = A_KERNEL; i <= A_PAD; i++)
		n->iattr[i] = like->iattr[i];
	return n;
}

static Node *bias_grad(Graph *g, Node *n, Node *dy)
{
	Node *db = graph_add1(g, &op_conv_db, n->loc, dy);
	op_conv_db.shape(db);
	return db;
}

/* y = conv2d(x, W): dx = conv_transpose2d(dy, W) with the output padding
 * that gives back x's size, dW = conv2d_dw(dy, x), db = conv_db(dy). */
static void conv2d_grad(Graph *g, Node *n, Node *dy)
{
	Node *x = n->in[IN_X];
	if (x->needs_grad) {
		Geom gm = conv_geom(n);
		Node *dx = conv_node(g, &op_conv_transpose2d, n, dy, n->in[IN_W]);
		dx->iattr[A_OUTPAD_H] = (gm.H + 2 * gm.p - gm.k) % gm.s;
		dx->iattr[A_OUTPAD_W] = (gm.W + 2 * gm.p - gm.k) % gm.s;
		ASSERT(op_conv_transpose2d.shape(dx));
		grad_accumulate(g, x, dx);
	}
	Node *dw = conv_node(g, &op_conv2d_dw, n, dy, x);
	ASSERT(op_conv2d_dw.shape(dw));
	grad_accumulate(g, n->in[IN_W], dw);
	if (n->iattr[A_BIAS])
		grad_accumulate(g, n->in[IN_B], bias_grad(g, n, dy));
}

/* y = conv_transpose2d(x, W): dx = conv2d(dy, W), dW = conv2d_dw(x, dy)
 * (x is the map side, dy the image side), db = conv_db(dy). */
static void conv_transpose2d_grad(Graph *g, Node *n, Node *dy)
{
	Node *x = n->in[IN_X];
	if (x->needs_grad) {
		Node *dx = conv_node(g, &op_conv2d, n, dy, n->in[IN_W]);
		ASSERT(op_conv2d.shape(dx));
		grad_accumulate(g, x, dx);
	}
	Node *dw = conv_node(g, &op_conv2d_dw, n, x, dy);
	ASSERT(op_conv2d_dw.shape(dw));
	grad_accumulate(g, n->in[IN_W], dw);
	if (n->iattr[A_BIAS])
		grad_accumulate(g, n->in[IN_B], bias_grad(g, n, dy));
}

/* ---- cost ---- */

/* A multiply and an add per weight and map pixel, for every one of the
 * three kernels; plus one add per biased output value. */
static double conv_flops(const Node *n)
{
	Geom g = conv_geom(n);
	double macs = 2.0 * g.O * g.OH * g.OW * g.C * g.k * g.k;
	return macs + (n->iattr[A_BIAS] ? (double)shape_elems(n->shape) : 0);
}

const OpDef op_conv2d = {
	.name = "conv2d", .lower = conv2d_lower, .args = conv2d_args, .nargs = 6,
	.shape = conv2d_shape, .grad = conv2d_grad, .flops = conv_flops, .label = conv_label,
	.doc = "conv2d(out_channels, kernel, stride = 1, padding = 0, bias = true): 2-d convolution, W is [out, in, k, k]"};

const OpDef op_conv_transpose2d = {
	.name = "conv_transpose2d", .lower = conv_transpose2d_lower, .args = conv_transpose2d_args, .nargs = 7,
	.shape = conv_transpose2d_shape, .grad = conv_transpose2d_grad, .flops = conv_flops, .label = conv_label,
	.doc = "conv_transpose2d(out_channels, kernel, stride = 1, padding = 0, output_padding = 0, bias = true): "
	       "transposed 2-d convolution, W is [in, out, k, k]"};

const OpDef op_conv2d_dw = {
	.name = "conv2d_dw", .shape = conv2d_dw_shape, .flops = conv_flops,
	.doc = "weight gradient of a convolution: map gradient against image columns, over the batch"};

/* conv_db(dy): [n, C, H, W] -> [C], dy summed over the batch and space. */
static int conv_db_shape(Node *n)
{
	n->shape = shape_vec(0, n->in[0]->shape.dims[0]);
	return 1;
}

static double input_elems(const Node *n) { return (double)shape_elems(n->in[0]->shape); }

const OpDef op_conv_db = {
	.name = "conv_db", .shape = conv_db_shape, .flops = input_elems,
	.doc = "bias gradient of a convolution: dy summed over the batch and space, per channel"};

/* ---- flatten, reshape: the same values under another shape (a copy) ---- */

static const ArgSpec flatten_args[] = {{"x", ARG_TENSOR, 0, 0, NULL}};

/* reshape(x, d0, d1, d2, d3): the per-sample shape [d0, ...], 1 to 4 dims. */
static const ArgSpec reshape_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL}, {"d0", ARG_INT, 0, 0, NULL}, {"d1", ARG_INT, 1, 0, NULL},
	{"d2", ARG_INT, 1, 0, NULL},   {"d3", ARG_INT, 1, 0, NULL},
};

static int per_sample(Node *n)
{
	if (n->in[0]->shape.batched)
		return 1;
	diag_error(n->loc, "%s needs per-sample values, got %s", n->op->name, shape_str(n->in[0]->shape));
	return 0;
}

/* flatten: [n, d0, d1, ...] -> [n, d0 d1 ...]. */
static int flatten_shape(Node *n)
{
	if (!per_sample(n))
		return 0;
	n->shape = shape_vec(1, (int)shape_elems(n->in[0]->shape));
	return 1;
}

static Node *flatten_lower(Lower *L, const Expr *call)
{
	ArgVal a[1];
	if (!bind_args(L, call, &op_flatten, a))
		return NULL;
	Node *n = graph_add1(lower_graph(L), &op_flatten, call->loc, a[0].t);
	return flatten_shape(n) ? n : NULL;
}

/* reshape: iattr[0] is the rank, iattr[1..] the dims; the element count
 * must not change. */
static int reshape_shape(Node *n)
{
	int d[MAX_RANK];
	for (int i = 0; i < n->iattr[0]; i++)
		d[i] = (int)n->iattr[1 + i];
	Shape s = shape_make(1, (int)n->iattr[0], d);
	if (!per_sample(n))
		return 0;
	if (shape_elems(s) != shape_elems(n->in[0]->shape)) {
		diag_error(n->loc, "reshape: %s has %zu values per sample, %s has %zu", shape_str(n->in[0]->shape),
			   shape_elems(n->in[0]->shape), shape_str(s), shape_elems(s));
		return 0;
	}
	n->shape = s;
	return 1;
}

static Node *reshape_lower(Lower *L, const Expr *call)
{
	ArgVal a[5];
	if (!bind_args(L, call, &op_reshape, a))
		return NULL;
	Node *n = graph_add1(lower_graph(L), &op_reshape, call->loc, a[0].t);
	for (int i = 1; i < 5 && a[i].present; i++) {
		if (!int_arg(&op_reshape, i, a, 1, INT_MAX))
			return NULL;
		n->iattr[0] = i;
		n->iattr[i] = (long)a[i].num;
	}
	for (int i = (int)n->iattr[0] + 2; i < 5; i++)
		if (a[i].present) {
			diag_error(a[i].loc, "reshape: d%d is given but d%ld is not", i - 1, n->iattr[0]);
			return NULL;
		}
	return reshape_shape(n) ? n : NULL;
}

/* The gradient of a copy: dy reshaped to the input's shape. */
static void reshape_grad(Graph *g, Node *n, Node *dy)
{
	Shape xs = n->in[0]->shape;
	Node *dx = graph_add1(g, &op_reshape, n->loc, dy);
	dx->iattr[0] = xs.rank;
	for (int i = 0; i < xs.rank; i++)
		dx->iattr[1 + i] = xs.dims[i];
	ASSERT(reshape_shape(dx));
	grad_accumulate(g, n->in[0], dx);
}

const OpDef op_flatten = {
	.name = "flatten", .lower = flatten_lower, .args = flatten_args, .nargs = 1, .shape = flatten_shape,
	.grad = reshape_grad, .flops = no_flops,
	.doc = "flatten: [C, H, W] (any per-sample shape) to [C * H * W]"};

const OpDef op_reshape = {
	.name = "reshape", .lower = reshape_lower, .args = reshape_args, .nargs = 5, .shape = reshape_shape,
	.grad = reshape_grad, .flops = no_flops,
	.doc = "reshape(d0, d1, ...): the per-sample values as [d0, d1, ...] (1 to 4 dims, same count)"};

/* ---- maxpool2d: the largest value of each window ---- */

static const ArgSpec maxpool2d_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"kernel", ARG_INT, 0, 0, NULL},
	{"stride", ARG_INT, 1, 0, NULL}, /* default: the kernel */
};

/* [n, C, H, W] -> [n, C, (H - k) / s + 1, (W - k) / s + 1]. */
static int maxpool2d_shape(Node *n)
{
	Shape xs = n->in[0]->shape;
	long k = n->iattr[A_KERNEL], s = n->iattr[A_STRIDE];
	if (!image_ok("maxpool2d", n->loc, xs))
		return 0;
	if (k > xs.dims[1] || k > xs.dims[2]) {
		diag_error(n->loc, "maxpool2d: kernel %ld is larger than the input %dx%d", k, xs.dims[1], xs.dims[2]);
		return 0;
	}
	return set_image_shape(n, xs.dims[0], (xs.dims[1] - k) / s + 1, (xs.dims[2] - k) / s + 1);
}

static Node *maxpool2d_lower(Lower *L, const Expr *call)
{
	ArgVal a[3];
	if (!bind_args(L, call, &op_maxpool2d, a))
		return NULL;
	if (!a[2].present)
		a[2].num = a[1].num;
	if (!int_arg(&op_maxpool2d, 1, a, 1, MAX_ARG) || !int_arg(&op_maxpool2d, 2, a, 1, MAX_ARG))
		return NULL;
	Node *n = graph_add1(lower_graph(L), &op_maxpool2d, call->loc, a[0].t);
	n->iattr[A_KERNEL] = (long)a[1].num;
	n->iattr[A_STRIDE] = (long)a[2].num;
	return maxpool2d_shape(n) ? n : NULL;
}

static int maxpool2d_grad_shape(Node *n)
{
	n->shape = n->in[0]->shape;
	return 1;
}

/* maxpool2d_grad(x, dy, pool attributes): dy added to the first largest
 * value of each window. */
static void maxpool2d_grad(Graph *g, Node *n, Node *dy)
{
	Node *dx = graph_add2(g, &op_maxpool2d_grad, n->loc, n->in[0], dy);
	dx->iattr[A_KERNEL] = n->iattr[A_KERNEL];
	dx->iattr[A_STRIDE] = n->iattr[A_STRIDE];
	maxpool2d_grad_shape(dx);
	grad_accumulate(g, n->in[0], dx);
}

/* A comparison per window value. */
static double maxpool2d_flops(const Node *n)
{
	long k = n->iattr[A_KERNEL];
	return (double)k * k * (double)shape_elems(n->op == &op_maxpool2d ? n->shape : n->in[1]->shape);
}

const OpDef op_maxpool2d = {
	.name = "maxpool2d", .lower = maxpool2d_lower, .args = maxpool2d_args, .nargs = 3,
	.shape = maxpool2d_shape, .grad = maxpool2d_grad, .flops = maxpool2d_flops,
	.doc = "maxpool2d(kernel, stride = kernel): the largest value of each k x k window"};

const OpDef op_maxpool2d_grad = {
	.name = "maxpool2d_grad", .shape = maxpool2d_grad_shape, .flops = maxpool2d_flops,
	.doc = "gradient of maxpool2d: dy to the first largest value of each window"};

/* ---- upsample2d: nearest-neighbour upsampling by an integer factor ---- */

static const ArgSpec upsample2d_args[] = {
	{"x", ARG_TENSOR, 0, 0, NULL},
	{"scale", ARG_INT, 0, 0, NULL},
};

/* iattr[0], the factor s: [n, C, H, W] -> [n, C, H s, W s]. */
static int upsample2d_shape(Node *n)
{
	Shape xs = n->in[0]->shape;
	long s = n->iattr[0];
	return image_ok("upsample2d", n->loc, xs) &&
	       set_image_shape(n, xs.dims[0], xs.dims[1] * s, xs.dims[2] * s);
}

static Node *upsample2d_lower(Lower *L, const Expr *call)
{
	ArgVal a[2];
	if (!bind_args(L, call, &op_upsample2d, a) || !int_arg(&op_upsample2d, 1, a, 1, MAX_ARG))
		return NULL;
	Node *n = graph_add1(lower_graph(L), &op_upsample2d, call->loc, a[0].t);
	n->iattr[0] = (long)a[1].num;
	return upsample2d_shape(n) ? n : NULL;
}

static int upsample2d_grad_shape(Node *n)
{
	Shape s = n->in[0]->shape;
	s.dims[1] /= (int)n->iattr[0];
	s.dims[2] /= (int)n->iattr[0];
	n->shape = s;
	return 1;
}

/* upsample2d_grad(dy): [n, C, H s, W s] -> [n, C, H, W], each s x s
 * block of dy summed. */
static void upsample2d_grad(Graph *g, Node *n, Node *dy)
{
	Node *dx = graph_add1(g, &op_upsample2d_grad, n->loc, dy);
	dx->iattr[0] = n->iattr[0];
	upsample2d_grad_shape(dx);
	grad_accumulate(g, n->in[0], dx);
}

static double upsample2d_flops(const Node *n)
{
	return n->op == &op_upsample2d ? 0 : input_elems(n);
}

const OpDef op_upsample2d = {
	.name = "upsample2d", .lower = upsample2d_lower, .args = upsample2d_args, .nargs = 2,
	.shape = upsample2d_shape, .grad = upsample2d_grad, .flops = upsample2d_flops,
	.doc = "upsample2d(scale): nearest-neighbour upsampling, each value repeated in a scale x scale block"};

const OpDef op_upsample2d_grad = {
	.name = "upsample2d_grad", .shape = upsample2d_grad_shape, .flops = upsample2d_flops,
	.doc = "gradient of upsample2d: each block of dy summed"};
