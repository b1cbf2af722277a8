/* pipeline.h - the passes, in the order pipeline_run() calls them. */
#ifndef AECC_PIPELINE_H
#define AECC_PIPELINE_H

#include "model.h"

typedef struct Options {
	int f64;          /* --dtype f64 */
	int scalar;       /* --kernels scalar */
	int nofuse;       /* --no-fuse */
	int stop_after;   /* run passes up to and including this one (PASS_*) */
	int dump;         /* print the graph after each pass to stderr (-d) */
	unsigned infer_parts; /* an inference build (aecc export): the parts it
	                         computes, bit 1 << PART_*; 0: the whole model */
	int batch;        /* the batch the code is planned for instead of the
	                     train section's (aecc export --batch); 0: that one */
	int precision;    /* --precision: PRECISION_FP32 or PRECISION_BF16
	                     instead of the train section's; 0: that one */
} Options;

enum { PRECISION_FP32 = 1, PRECISION_BF16 };
enum { PASS_PARSE, PASS_CHECK, PASS_LOWER, PASS_GRAD, PASS_FUSE, PASS_ENTRY, PASS_PLAN, PASS_ALL };

/* Run the pipeline on a .ae file. Returns NULL after user errors (already
 * reported); internal errors abort. */
Model *pipeline_run(const char *path, const Options *opt);

/* The passes. Each states what it requires and what it provides. */
void config_read(Model *m);
int lower_model(Model *m);
void grad_build(Model *m);
void fuse_graph(Model *m);
void entry_plan(Model *m);
void plan_memory(Model *m);

/* Backends. emit_c requires a planned model (the whole pipeline);
 * emit_torch the forward graph as lowering leaves it (a run with
 * stop_after = PASS_LOWER), which autodiff and fusion would rewrite. */
int emit_c(Model *m, const char *dir);       /* NAME.h, NAME.c, NAME_main.c */
int emit_torch(Model *m, const char *dir);   /* NAME_torch.py: the model in PyTorch */
void print_summary(FILE *out, Model *m);

#endif
