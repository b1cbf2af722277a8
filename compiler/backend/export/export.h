/* export.h - aecc export: an inference-only build of a model as two plain
 * C99 files, NAME_infer.h and NAME_infer.c, for products and small
 * devices: encode, decode, forward and an anomaly score at a fixed batch,
 * the weights inside as constant data (or linked, or passed at run time),
 * no allocation, no stdio, no threads, no mutable globals.
 *
 * The backend is the C printer (backend/c) over an inference build of the
 * pipeline (Options.infer_parts: the parts the functions need, planned at
 * the export's batch with no gradient): the same op rows in evaluation
 * form, with the small kernels (no stack arrays) at batch 1. */
#ifndef AECC_BACKEND_EXPORT_H
#define AECC_BACKEND_EXPORT_H

#include "pipeline.h"

/* The functions an export can have, as bits of ExportOptions.functions. */
enum {
	EXPORT_ENCODE = 1,  /* NAME_infer_encode: inputs to latents */
	EXPORT_DECODE = 2,  /* NAME_infer_decode: latents to outputs */
	EXPORT_FORWARD = 4, /* NAME_infer_forward: inputs to outputs */
	EXPORT_SCORE = 8,   /* NAME_infer_score: each sample's loss, alone */
};

/* Which kernels the products use. */
typedef enum ExportTile {
	TILE_AUTO,  /* small at batch 1, else blocked */
	TILE_SMALL, /* no arrays on the stack (--tile small) */
	TILE_LARGE, /* the blocked, packed kernels of training (--tile large) */
} ExportTile;

/* What `aecc export` was asked for. */
typedef struct ExportOptions {
	const char *weights;  /* --weights FILE.safetensors, or NULL: the
	                         functions take a pointer to the weights */
	unsigned functions;   /* --functions, EXPORT_* bits; 0: all that apply */
	int batch;            /* --batch N, samples per call (default 1) */
	int weights_extern;   /* --weights-as extern: the weights array is
	                         declared, and defined elsewhere */
	ExportTile tile;      /* --tile */
} ExportOptions;

/* The export's own option argv[*i] (and its value, *i advanced past it):
 * 1 if it was one, 0 if not; -1 after a usage error, described in *err. */
int export_option(ExportOptions *x, int argc, char **argv, int *i, const char **err);

/* `aecc export FILE -o DIR`: run the pipeline on the .ae file for an
 * inference build with opt (what the command line gave) and x, check the
 * model and the weights, then write DIR/NAME_infer.h, DIR/NAME_infer.c
 * and, for --weights-as extern with weights, DIR/NAME_infer_weights.c.
 * Returns the exit status: 0, or 1 after reporting an error (no file is
 * written then). */
int export_run(const char *file, const Options *opt, const ExportOptions *x, const char *dir);

/* ---- inside the backend ---- */

/* The export's op table (table.c): why op has no inference form, or NULL
 * when it has one. */
const char *export_refusal(const OpDef *op);
/* How op is computed in an inference build when that differs from
 * training ("the identity"), or NULL. */
const char *export_form(const OpDef *op);

/* The model's weights (weights.c): its parameters and real buffers read
 * from a safetensors file into one block of the model's reals, laid out
 * as the parameter block (Param.offset) with the buffers after it
 * (param_elems + Buffer.offset); every value must be finite. NULL after
 * reporting an error. */
void *export_load_weights(Model *m, const char *path);
/* Elements [from, from + count) of such a block as C literals, eight to a
 * line, each the shortest that reads back to the same bits. */
void export_literals(Buf *o, const void *block, int f64, size_t from, size_t count);

#endif
