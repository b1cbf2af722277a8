/* emit.h - inside the C backend: the helpers the rows of the op table
 * write C with (emit.c, kernels.c), the rows themselves (table.c, one
 * file per op group), and the printer for backends built on it (the
 * inference export, backend/export/). Requires: ops.h. Provides: the Emit
 * API. */
#ifndef AECC_BACKEND_C_EMIT_H
#define AECC_BACKEND_C_EMIT_H

#include "model.h"
#include "ops.h"

typedef struct Emit Emit; /* emit.c: state while writing C */

/* ---- the table (table.c) ---- */

/* Each op's row: write the C that computes n with the helpers below. A
 * group's rows live in the file of the group's name (dense.c: dense,
 * dense_dx, dense_dw). */
#define X(name) void c_##name(Emit *e, Node *n);
OP_LIST(X)
#undef X

/* Write the C that computes n: its op's row. */
void c_emit_op(Emit *e, Node *n);

/* ---- helpers of the generated file (kernels.c) ---- */

/* The name of a helper function of the generated file ("gemm_nt",
 * "normal", ...: see kernels.c) with the model's prefix; the helper is then
 * written into the file before the code that calls it. */
const char *emit_helper(Emit *e, const char *name);
/* Bytes of stack a thread of the generated code may use at most, for the
 * products' packed panels (kernels.c); with small, for the small kernels'
 * arrays. */
size_t kernels_stack_bytes(int f64, int scalar);
size_t kernels_small_stack_bytes(int f64);
/* The helpers the rows of the losses write (loss.c, variational.c),
 * listed with the others in kernels.c: NAME_mse, NAME_bce,
 * NAME_bce_logits, NAME_kl_normal. */
void c_helper_mse(Emit *e, const char *P, const char *r);
void c_helper_bce(Emit *e, const char *P, const char *r);
void c_helper_bce_logits(Emit *e, const char *P, const char *r);
void c_helper_kl_normal(Emit *e, const char *P, const char *r);
/* Write the definitions of the helpers used so far. */
void emit_helper_defs(Emit *e);
unsigned *emit_helpers_used(Emit *e);
/* Append text as it is, without indentation. */
void emit_raw(Emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- pieces shared by rows and the emitter ---- */

/* The Adam update of `count` elements (adam.c), with the per-step
 * scalars the emitter defines in `adam_k`. Shared by the train step and
 * NAME_update. */
void adam_emit_loop(Emit *e, const char *p, const char *m, const char *v, const char *g, size_t count);

/* The generated C's name of activation `kind` (ACT_*, ops.h) for the
 * "act" helper (act.c). */
const char *act_code(Emit *e, int kind);

/* A product's epilogue argument (act.c): "NULL" when `act` (an A_ACT-style
 * attribute, kind + 1) is 0, else the activation with its slope as a
 * compound literal, its derivative read off y when y is not NULL. */
const char *act_epilogue(Emit *e, long act, double slope, const char *y);

/* ---- writing C (emit.c) ---- */

/* Append one line of C at the current indentation. Besides printf
 * conversions, fmt may not contain newlines. */
void emit_line(Emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_indent(Emit *e, int delta);
/* End the call `call` (which ends in "," ) with its last argument `last`:
 * on the same line when it is "NULL", else on a line of its own. */
void emit_call_end(Emit *e, const char *call, const char *last);
/* The C expression naming n's buffer ("t12"). */
const char *emit_ref(Emit *e, const Node *n);
/* The value of a one-element input n as a C expression: a literal when n
 * is a constant the printer folds into its readers, else "name[0]". */
const char *emit_scalar(Emit *e, const Node *n);
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
/* The name of sum helper `name` (a loss's, see emit_sum_function), as
 * emit_helper gives it; its array of partial sums counts in the function
 * bodies' stack (emit_stack_arrays). */
const char *emit_sum_helper(Emit *e, const char *name);
/* Write the definition of sum helper `name` of the generated file:
 * `static double NAME_name(long count, params)`, a sum over count elements
 * in 64 fixed slices, each starting at a multiple of 16 elements; threads
 * share out the slices of large sums, and the slices are added in order,
 * so the result is the same for any number of threads. `slice` (statements,
 * one per line) runs for slice [i0, i1) and adds to the double `sum`. */
void emit_sum_function(Emit *e, const char *name, const char *params, const char *slice);
/* The statements of a slice of a sum helper: while `cond` holds, the
 * loop over the slice's elements i runs `fused`, then `after` (or NULL)
 * follows the loop; otherwise the loop runs `plain` (one statement a line). */
const char *emit_sum_slice(const char *cond, const char *fused, const char *after, const char *plain);
/* A loss's value from its sum helper: out[0] = (real)(scale call, more) /
 * div, where `call` is the helper's call up to its last arguments `more`
 * (the gradient's, when the call computes it: on a line of their own if
 * the line would be long); scale ("-0.5 * ") and div may be NULL. */
void emit_sum_call(Emit *e, const Node *out, const char *scale, const char *call, const char *more, const char *div);
/* A C expression for the key of node n's random stream in this step:
 * pass it with an element index to the "uniform" or "normal" helper. */
const char *emit_noise_key(Emit *e, const Node *n);
/* 1 when the model is emitted with plain scalar kernels (--kernels scalar). */
int emit_scalar_kernels(Emit *e);
/* 1 when the helpers are the small ones: no arrays on the stack but a few
 * vectors (aecc export --tile small). */
int emit_small_kernels(Emit *e);
/* 1 when the model's products take bf16 operands (precision = bf16): a
 * float build for training, not an inference export, which multiplies the
 * fp32 weights as they are. */
int emit_bf16(Emit *e);
/* The most columns of the narrow product (C in registers: PFX_gemm_narrow
 * in fp32 with the blocked kernels). */
enum { C_GEMM_NN = 12 };
/* The model's symbol prefix ("fashion_ae"). */
const char *emit_prefix(Emit *e);
/* Elements of n per sample as a C expression: "784" or, for batched
 * values, "n * 784" when `whole` is set. */
const char *emit_count(Emit *e, const Node *n, int whole);
/* What a mean over n's elements divides by, as a C expression: "784" or,
 * for batched values, "batch_rows * 784", the elements of the whole batch
 * when the call computes a part of it (NAME_gradient_part; n otherwise). */
const char *emit_batch_count(Emit *e, const Node *n);
/* The index into a random stream of element i of n, as a C expression:
 * its place in the whole batch ("(uint64_t)(batch_row0 * 784 + i)"), so a
 * part of a batch draws the numbers the whole batch draws for its rows. */
const char *emit_noise_index(Emit *e, const Node *n);


/* ---- the printer, for backends built on it (emit.c) ---- */

/* A printer of planned model m whose symbols start with `prefix` (NAME for
 * aecc emit). With infer, an inference build (Model.infer_parts): the
 * evaluation form only, and buffers read from the weights block `params`
 * at emit_buffer_macro like parameters; with small, the small kernels. */
Emit *emit_new(Model *m, const char *prefix, int infer, int small);
/* Where lines go from now on. */
void emit_set_out(Emit *e, Buf *o);
/* NAME_run(ctx, inputs, parts): the parts of the model the build has, in
 * a function of NAME_ctx (params, work, n, and in training the rest). */
void emit_model_run(Emit *e);
/* The work arena's macros (NAME_AT_VALUE) that code written so far uses,
 * and the offset tables of its loops, into o. */
void emit_layout(Emit *e, Buf *o);
/* NAME_AT_VALUE for work value n (marked as used). */
const char *emit_at(Emit *e, const Node *n);
/* NAME_PARAMETER_NAME, NAME_BUFFER_NAME: the macros of their offsets. */
const char *emit_param_macro(Emit *e, const Param *p);
const char *emit_buffer_macro(Emit *e, const Buffer *b);
/* The inputs as parameters of a signature ("const NAME_real *x, ") and as
 * arguments ("x, "); with decoder, those the decoder reads (as arguments,
 * NULL for the others). */
const char *emit_inputs_sig(Emit *e, int decoder);
const char *emit_inputs_call(Emit *e, int decoder);
/* Entries of the offset tables written so far (size_t each). */
size_t emit_table_entries(Emit *e);
/* Bytes of the largest array a function written so far keeps on its
 * stack, the kernels' aside. */
size_t emit_stack_arrays(Emit *e);

#endif
