/* ops.h - the op table. Every op is defined in exactly one place, an
 * OpDef in one of the files of compiler/ops/: how a call in a .ae file
 * becomes nodes, its shape rule, its gradient (as more IR) and its cost.
 * What an op compiles to is each backend's own table, one row per op
 * (compiler/backend/c/table.c, compiler/backend/torch/table.c). Adding an
 * op means writing one OpDef, adding it to OP_LIST and one row to each
 * backend. The attributes that several files name are in attrs.h. */
#ifndef AECC_OPS_H
#define AECC_OPS_H

#include "graph.h"
#include "ast.h"

typedef struct Lower Lower; /* lower.c: state while turning the AST into a graph */

/* A call argument after binding (see bind_args). */
typedef enum ArgKind {
	ARG_TENSOR, /* a value of the model: name, call or pipe */
	ARG_INT,    /* integer literal */
	ARG_REAL,   /* any number */
	ARG_STR,    /* string literal */
	ARG_BOOL,   /* true/false (written as the names true and false) */
} ArgKind;

/* One formal parameter of a callable op. */
typedef struct ArgSpec {
	const char *name; /* keyword name; positional order is array order */
	ArgKind kind;     /* what it must be */
	int optional;     /* may be omitted; then `def` (or def_str) is used */
	double def;       /* default number or bool */
	const char *def_str; /* default string */
} ArgSpec;

/* The bound value of one argument. */
typedef struct ArgVal {
	int present;    /* given in the call (else the default) */
	Node *t;        /* ARG_TENSOR */
	double num;     /* ARG_INT, ARG_REAL, ARG_BOOL */
	const char *str;/* ARG_STR */
	Loc loc;        /* where it was written, or the call's location */
} ArgVal;

struct OpDef {
	const char *name; /* name in the language (if `lower`) and in dumps */
	/* Build the nodes for a call `name(...)` in a .ae file: bind the
	 * arguments against `args`/`nargs`, create parameters and nodes.
	 * NULL for internal ops. Returns NULL after reporting an error. */
	Node *(*lower)(Lower *L, const Expr *call);
	const ArgSpec *args; /* formal parameters of `lower` */
	int nargs;           /* number of formals */
	/* Shape rule: set n->shape from the inputs and attributes. On misuse
	 * report a diagnostic at n->loc and return 0. */
	int (*shape)(Node *n);
	/* Gradient rule: given dy, the gradient of the objective with respect
	 * to n, add the gradient of each input that needs one with
	 * grad_accumulate(). NULL: not differentiable (internal error if a
	 * parameter depends on it through this op). */
	void (*grad)(Graph *g, Node *n, Node *dy);
	/* Floating-point operations per sample. */
	double (*flops)(const Node *n);
	/* The node's name in dumps and summaries when it says more than the
	 * op's (a fused node: "dense+relu"); NULL for the op's name. */
	const char *(*label)(const Node *n);
	const char *doc; /* one line for `aecc ops` and docs/ops.md */
};

/* The ops, one X(name) per OpDef `op_name`. The C backend's table
 * expands it too (c_name, compiler/backend/c/table.c), so an op without a
 * C row does not link. */
#define OP_LIST(X)                                                         \
	X(input) X(param) X(constant) X(add) X(sub) X(scale)               \
	X(dense) X(dense_dx) X(dense_dw) X(sum_batch)                      \
	X(identity) X(relu) X(leaky_relu) X(sigmoid) X(tanh) X(act_grad)   \
	X(act_grad2) X(contractive) X(basis) X(sumsq) X(sumsq_grad)        \
	X(mse) X(mse_grad) X(bce) X(bce_grad)                              \
	OPS_CONV(X) OPS_VARIATIONAL(X) OPS_SPARSE(X) OPS_NORM(X)           \
	X(adam)

/* Groups of ops, one line each (conv.c, variational.c, sparse.c,
 * norm.c). */
#define OPS_CONV(X) X(conv2d) X(conv_transpose2d) X(conv2d_dw) X(conv_db) X(conv_workspace) \
	X(flatten) X(reshape) X(maxpool2d) X(maxpool2d_grad) X(upsample2d) X(upsample2d_grad)
#define OPS_VARIATIONAL(X) X(gaussian) X(gaussian_dlogvar) X(kl_normal) X(kl_normal_grad) \
	X(gaussian_noise) X(clamp) X(clamp_grad) X(masking_noise) X(dropout) X(mask_grad)
#define OPS_SPARSE(X) X(l1) X(l1_grad) X(kl_sparsity) X(kl_sparsity_grad) \
	X(topk) X(topk_grad) X(concat) X(concat_slice)
#define OPS_NORM(X) X(buffer) X(batchnorm) X(bn_stats) X(bn_reduce) X(bn_dx)

#define X(n) extern const OpDef op_##n;
OP_LIST(X)
#undef X

/* n's name in dumps and summaries: its op's label (else its op's name),
 * joined by "+" to the op of the node it computes too (fuse.c). */
const char *node_label(const Node *n);
/* n's own part of that: its op's label, else its op's name. */
const char *node_op_label(const Node *n);

/* The op callable from .ae files under `name`, or NULL. */
const OpDef *op_lookup(const char *name);
/* Every op, in OP_LIST order; *n receives the count. */
const OpDef *const *op_all(int *n);

/* ---- helpers for op definitions (lower.c) ---- */

/* Bind the arguments of `call` to the op's formals. Tensor arguments are
 * lowered recursively. Reports errors and returns 0 on failure. */
int bind_args(Lower *L, const Expr *call, const OpDef *op, ArgVal *out);
/* Create a parameter named after the current layer ("encoder.0" + suffix)
 * and return its node. */
Node *lower_param(Lower *L, const char *suffix, Shape shape, long fan_in, Loc loc);
/* Index of the layer being lowered inside its section, for naming. */
Graph *lower_graph(Lower *L);

/* ---- rewrites of the fusion pass (fuse.c) that belong to an op ---- */

/* The convolution node n (conv2d, conv_transpose2d, conv2d_dw) runs on
 * chunks of samples: its workspace holds as many samples' columns as fit
 * in CHUNK_BYTES (at least one), values of real_bytes each, and the
 * workspace's iattr[0] says how many; it holds iattr[1] such chunks, one
 * for each of at most `threads` threads that work on one at the same time
 * (a conv2d_dw adds its chunks in order: one). If a chunk is the whole batch, the workspace
 * stays sized per sample (iattr[0] 0). Returns 0, changing nothing, for
 * other nodes (conv.c). */
int conv_chunk(Node *n, int batch, int real_bytes, int threads);
/* The activation node `act` (of the given kind) becomes the convolution
 * `conv` it reads, applying the activation to each sample's result;
 * returns 0, changing nothing, if conv is no conv2d or conv_transpose2d
 * or already has one (conv.c). */
int conv_take_activation(Node *act, Node *conv, int kind);
/* The convolution `conv` multiplies each sample's result by the derivative
 * of the activation `kind` read off y = f(x), which it reads; returns 0,
 * changing nothing, if it cannot (conv.c). */
int conv_take_derivative(Node *conv, int kind, double slope, Node *y);

/* ---- helpers for gradient rules (grad.c) ---- */

/* Add `d` to the gradient accumulated for `x` (ignored if x needs none). */
void grad_accumulate(Graph *g, Node *x, Node *d);
/* The vector-Jacobian product <seed, d out / d wrt> as new nodes of the
 * graph (reverse mode from `out` back to `wrt`, which comes earlier): for
 * ops such as the contractive penalty that need a derivative inside the
 * model. The new nodes are ordinary IR, differentiated again by grad.c.
 * NULL if `out` does not depend on `wrt`. */
Node *grad_vjp(Graph *g, Node *out, Node *seed, Node *wrt);

/* ---- activations (ops/act.c) ---- */

/* The activations, as iattr[0] of relu, leaky_relu, sigmoid, tanh and
 * act_grad; a node that fusion gave an activation holds its kind + 1
 * (0: none). */
enum { ACT_RELU, ACT_LEAKY, ACT_SIGMOID, ACT_TANH };

/* The language's name of activation `kind` ("relu"). */
const char *act_name(int kind);

#endif
