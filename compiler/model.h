/* model.h - one compiled model: the syntax tree, the graph and the
 * settings of its train and data sections, carried through the pipeline. */
#ifndef AECC_MODEL_H
#define AECC_MODEL_H

#include "ast.h"
#include "graph.h"

#define MAX_INPUTS 4

/* Where one input's samples come from. */
typedef struct DataSource {
	const char *format; /* "idx", "csv" or "npy"; NULL if not given */
	const char *path;   /* resolved against the .ae file's folder */
	double scale;       /* multiply raw values by this (1/255 for `/ 255`) */
	int onehot;         /* > 0: labels fed as one-hot rows of this width */
	Loc loc;            /* where the source was written */
} DataSource;

/* How the learning rate moves between epochs (aert_schedule in the
 * runtime, which applies it). */
typedef enum ScheduleKind { SCHED_NONE, SCHED_STEP, SCHED_COSINE, SCHED_PLATEAU } ScheduleKind;

typedef struct Schedule {
	ScheduleKind kind;   /* SCHED_NONE: the learning rate stays */
	long every;          /* step: epochs between reductions */
	double factor;       /* step, plateau: the multiplier */
	long patience;       /* plateau: epochs without improvement it waits */
	double threshold;    /* plateau: the relative improvement that counts */
	double min_lr;       /* cosine, plateau: the floor */
	Loc loc;             /* where it was written */
} Schedule;

/* The train section, with defaults for what it leaves out. */
typedef struct TrainConfig {
	double lr;           /* Adam learning rate */
	double beta1, beta2; /* Adam moment decay rates */
	double eps;          /* Adam denominator epsilon */
	double weight_decay; /* L2 penalty added to the gradient (as torch.optim.Adam) */
	int batch;           /* samples per step; also the generated max_batch */
	int epochs;          /* passes over the training set */
	unsigned long long seed; /* initialisation and shuffling seed */
	Schedule schedule;   /* schedule = ... */
	int early_stop;      /* early_stop(...) given */
	long patience;       /* early_stop: epochs without improvement before stopping */
	double min_delta;    /* early_stop: the improvement that counts */
	Loc early_stop_loc;  /* where early_stop(...) was written */
	double validate;     /* validate F: fraction held out for validation; 0: none */
	Loc validate_loc;    /* where validate was written */
	int bf16;            /* precision = bf16: every product of the model
	                        with bf16 operands (rounded to nearest even)
	                        and fp32 sums; 0: fp32 (the default) */
	Loc precision_loc;   /* where precision was written (line 0: not) */
} TrainConfig;

typedef struct Model {
	const char *file;    /* the .ae file */
	const char *name;    /* model NAME: prefix of every emitted symbol */
	Program *ast;        /* parse result */
	Graph *g;            /* the graph, from lowering on */
	TrainConfig train;   /* train section */
	DataSource train_data[MAX_INPUTS]; /* data section, per input */
	DataSource test_data[MAX_INPUTS];  /* data section, per input */
	DataSource train_labels; /* data section: class labels of the training
	                        samples (train_labels, or a label input's), for
	                        the class filter and the model commands */
	DataSource test_labels;  /* the same for the test samples */
	const char *classes; /* data section: train on these classes only
	                        ("0,1,2"), or NULL */
	Loc classes_loc;     /* where classes was written */
	DataSource validation_data[MAX_INPUTS]; /* data section, per input */
	int f64;             /* emit double instead of float */
	int scalar;          /* plain loops instead of SIMD kernels (--kernels scalar) */
	int nofuse;          /* dead-code removal only, no fusion (--no-fuse) */
	int precision;       /* --precision (PRECISION_*, pipeline.h) over the
	                        train section's; 0: that one */
	unsigned infer_parts; /* an inference build (aecc export): the parts it
	                        computes, bit 1 << PART_*; no gradient, no
	                        optimizer. 0: the whole model, for training */
	int decodable;       /* entry.c: the decoder reads nothing of the encoder
	                        but the latent, so it runs from a given latent */
	size_t grad_bytes;   /* plan.c: the gradient block at the start of the
	                        work arena (train step) */
	size_t work_bytes;   /* arena size after planning */
	size_t param_block_bytes; /* plan.c: bytes of the parameter block (and
	                        of each Adam moment block) in the state */
	size_t buffers_at;   /* plan.c: where the buffers start in the state */
	size_t state_bytes;  /* plan.c: bytes of the whole state */
	size_t work_bytes_unplanned; /* the same without buffer reuse */
} Model;

#endif
