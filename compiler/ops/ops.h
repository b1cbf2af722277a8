/* ops.h - the op table. Every op is defined in exactly one place, an
 * OpDef in one of the op_*.c files: how a call in a .ae file becomes
 * nodes, its shape rule, its gradient (as more IR), its C emission and its
 * cost. Adding an op means writing one OpDef and adding it to OP_LIST. */
#ifndef AECC_OPS_H
#define AECC_OPS_H

#include "graph.h"
#include "ast.h"

typedef struct Lower Lower; /* lower.c: state while turning the AST into a graph */
typedef struct Emit Emit;   /* emit.c: state while writing C */

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
	/* Write the C that computes n (emit.c's helpers). */
	void (*emit)(Emit *e, Node *n);
	/* Floating-point operations per sample. */
	double (*flops)(const Node *n);
	/* The node's name in dumps and summaries when it says more than the
	 * op's (a fused node: "dense+relu"); NULL for the op's name. */
	const char *(*label)(const Node *n);
	const char *doc; /* one line for `aecc ops` and docs/ops.md */
};

/* The ops, one X(name) per OpDef `op_name`. */
#define OP_LIST(X)                                                         \
	X(input) X(param) X(constant) X(add) X(sub) X(scale)               \
	X(dense) X(dense_dx) X(dense_dw) X(sum_batch)                      \
	X(identity) X(relu) X(leaky_relu) X(sigmoid) X(tanh) X(act_grad)   \
	X(act_grad2) X(contractive) X(basis) X(sumsq) X(sumsq_grad)        \
	X(mse) X(mse_grad) X(bce) X(bce_grad)                              \
	OPS_CONV(X) OPS_VARIATIONAL(X) OPS_SPARSE(X) OPS_NORM(X)           \
	X(adam)

/* Groups of ops, one line each (op_conv.c, op_variational.c, op_sparse.c,
 * op_norm.c). */
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

/* The weight-gradient node dw (conv2d_dw) reads the image columns that the
 * earlier conv2d `from` left in its workspace, instead of computing them
 * again, if `from` took them from the same image with the same kernel,
 * stride and padding; dw then reads the workspace and `from` too. Returns
 * 1 if so (op_conv.c). */
int conv_share_columns(Node *dw, Node *from);
/* The activation node `act` (of the given kind) becomes the convolution
 * `conv` it reads, applying the activation to each sample's result;
 * returns 0, changing nothing, if conv is no conv2d or conv_transpose2d
 * or already has one (op_conv.c). */
int conv_take_activation(Node *act, Node *conv, int kind);
/* The convolution `conv` multiplies each sample's result by the derivative
 * of the activation `kind` read off y = f(x), which it reads; returns 0,
 * changing nothing, if it cannot (op_conv.c). */
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

/* ---- helpers for emission (emit.c, kernels.c) ---- */

/* The name of a helper function of the generated file ("gemm_nt",
 * "normal", ...: see kernels.c) with the model's prefix; the helper is then
 * written into the file before the code that calls it. */
const char *emit_helper(Emit *e, const char *name);
/* Bytes of stack a thread of the generated code may use at most, for the
 * products' packed panels (kernels.c). */
size_t kernels_stack_bytes(int f64, int scalar);
/* Write the definitions of the helpers used so far (emit.c). */
void emit_helper_defs(Emit *e);
unsigned *emit_helpers_used(Emit *e);
/* Append text as it is, without indentation. */
void emit_raw(Emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The Adam update of `count` elements (op_adam.c), with the per-step
 * scalars the emitter defines in `adam_k`. Shared by the train step and
 * NAME_update. */
void adam_emit_loop(Emit *e, const char *p, const char *m, const char *v, const char *g, size_t count);

/* The activations, as iattr[0] of relu, leaky_relu, sigmoid, tanh and
 * act_grad; a node that fusion gave an activation holds its kind + 1
 * (0: none). */
enum { ACT_RELU, ACT_LEAKY, ACT_SIGMOID, ACT_TANH };

/* The generated C's name of activation `kind` for the "act" helper
 * (op_act.c). */
const char *act_code(Emit *e, int kind);
/* The language's name of activation `kind` ("relu"). */
const char *act_name(int kind);

/* Append one line of C at the current indentation. Besides printf
 * conversions, fmt may not contain newlines. */
void emit_line(Emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_indent(Emit *e, int delta);
/* The C expression naming n's buffer ("t12"). */
const char *emit_ref(Emit *e, const Node *n);
/* The C type of the model's reals ("float" or "double"). */
const char *emit_real(Emit *e);
/* A numeric literal of the model's type ("0.5f" or "0.5"). */
const char *emit_num(Emit *e, double v);
/* 1 while emitting the train step or the gradient (where noise, dropout
 * and sampling may be active: the C variable `stochastic` says if they are). */
int emit_training(Emit *e);
/* The node n's kernel must also compute here (Node.computes, fuse.c), or
 * NULL: in the train step and the gradient, where both run. */
const Node *emit_partner(Emit *e, const Node *n);
/* A sum over `count` elements (a C expression) in 64 fixed slices, each
 * starting at a multiple of 16 elements; threads share out the slices of
 * large sums, and the slices are added in order, so the result is the same
 * for any number of threads. `body` (statements, one per line), if not
 * NULL, runs for element i of slice [i0, i1) and adds to the double `sum`;
 * `after`, if not NULL, runs at the end of each slice. Then the double `acc` holds the
 * total until emit_sum_end closes the block. */
void emit_sum_begin(Emit *e, const char *count, const char *body, const char *after);
void emit_sum_end(Emit *e);
/* A C expression for the key of node n's random stream in this step:
 * pass it with an element index to the "uniform" or "normal" helper. */
const char *emit_noise_key(Emit *e, const Node *n);
/* 1 when the model is emitted with plain scalar kernels (--kernels scalar). */
int emit_scalar_kernels(Emit *e);
/* The model's symbol prefix ("fashion_ae"). */
const char *emit_prefix(Emit *e);
/* Elements of n per sample as a C expression: "784" or, for batched
 * values, "n * 784" when `whole` is set. */
const char *emit_count(Emit *e, const Node *n, int whole);

#endif
