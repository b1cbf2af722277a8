/* aecc_rt.h - the aecc runtime: data loading, batching, safetensors
 * checkpoints and the generic trainer that drives a compiled model.
 *
 * Every public symbol starts with aert_ (types) or AERT_ (macros).
 * Errors: functions that can fail return 0 on success and -1 on failure,
 * after writing a one-line message that names the file and the problem
 * into the caller's aert_err. Nothing in the runtime prints on its own
 * except the trainer: aert_train_parse (--help, --version), aert_trainer_run
 * (its reports) and aert_train_main (its messages).
 *
 * Memory: loaders allocate the dataset with malloc and aert_dataset_free()
 * releases it. Nothing here allocates per batch. */
#ifndef AECC_RT_H
#define AECC_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AERT_VERSION "0.1.0"

/* The most inputs a compiled model has. */
#define AERT_MAX_INPUTS 4

/* A message describing the last failure: "FILE: problem". */
typedef struct aert_err {
	char msg[512]; /* NUL-terminated; a path too long to fit is shortened
			* in the middle with "..." so the problem stays readable */
} aert_err;

/* ---- datasets ---- */

typedef enum aert_dtype {
	AERT_U8,  /* uint8 */
	AERT_F32, /* float */
	AERT_F64, /* double */
	AERT_I64, /* int64 (safetensors step counters) */
} aert_dtype;

/* Bytes per element of t (0 for a value outside the enum). */
size_t aert_dtype_size(aert_dtype t);

/* A dataset kept as compactly as it came: n samples of `sample` elements
 * each, stored row-major as `dtype`. Labels (IDX rank-1 files) are datasets
 * with sample == 1. */
typedef struct aert_dataset {
	aert_dtype dtype;  /* element type as stored */
	size_t n;          /* number of samples */
	int rank;          /* per-sample rank (0 for scalar labels) */
	size_t dims[4];    /* per-sample dimensions */
	size_t sample;     /* elements per sample (product of dims, 1 if rank 0) */
	void *data;        /* n * sample elements, malloc'd */
	char *path;        /* file it came from, for messages (malloc'd copy) */
} aert_dataset;

/* The loaders below fill *ds (whatever it held is overwritten, not freed)
 * and return 0, or return -1 with *ds zeroed and the reason in err. */

/* IDX files (LeCun's format, ubyte/float/double element types), gzipped
 * (detected by magic) or raw. Truncated or inconsistent files fail. A rank-1
 * file is a label set: its samples have rank 0. */
int aert_load_idx(const char *path, aert_dataset *ds, aert_err *err);
/* CSV: one sample per line, comma-separated numbers, optional header line
 * (skipped when its first field is not a number). Stored as F32, each
 * sample of rank 1. Blank lines are skipped; every row must have as many
 * fields as the first; a field that is not a finite number fails. */
int aert_load_csv(const char *path, aert_dataset *ds, aert_err *err);
/* NPY v1.0 (and 2.0/3.0 headers), little-endian '<f4', '<f8', '|u1'
 * (or '<u1'), C order; first axis is the sample axis. Big-endian, Fortran
 * order, object and structured arrays fail. */
int aert_load_npy(const char *path, aert_dataset *ds, aert_err *err);
/* Dispatch on the extension (any case): .csv, .npy, otherwise IDX (so
 * .gz files are IDX). */
int aert_load_any(const char *path, aert_dataset *ds, aert_err *err);
/* Release what a loader allocated and zero *ds; a zeroed dataset is fine. */
void aert_dataset_free(aert_dataset *ds);

/* Copy samples idx[0..n) into out (n * ds->sample elements of type
 * out_dtype, which is AERT_F32 or AERT_F64), multiplying each by scale.
 * The arithmetic is done in out_dtype, as numpy's
 * x.astype(float32) * float32(scale) does. Indices must be < ds->n. */
void aert_batch(const aert_dataset *ds, const size_t *idx, size_t n,
		double scale, aert_dtype out_dtype, void *out);
/* Labels to one-hot rows of width `classes`: row i is all zeros but a one at
 * column label(idx[i]). Fails, naming the file and the sample, if ds is not a
 * label set (sample != 1), if a label is not an integer in [0, classes), or
 * if classes < 1; out is then partly written. With out NULL it only checks
 * the labels. */
int aert_batch_onehot(const aert_dataset *ds, const size_t *idx, size_t n,
		      int classes, aert_dtype out_dtype, void *out, aert_err *err);

/* ---- random numbers (splitmix64-seeded xoshiro256**) ---- */

typedef struct aert_rng {
	uint64_t s[4]; /* xoshiro256** state, never all zero */
} aert_rng;
/* Fill the state from four successive outputs of splitmix64(seed). */
void aert_rng_seed(aert_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t aert_rng_next(aert_rng *r);
/* Uniform in [0, n), without modulo bias (rejection); 0 when n == 0. */
uint64_t aert_rng_below(aert_rng *r, uint64_t n);
/* Fisher-Yates shuffle of perm[0..n). */
void aert_shuffle(size_t *perm, size_t n, aert_rng *r);

/* ---- safetensors ---- */

/* One tensor to save or load. */
typedef struct aert_tensor {
	const char *name;   /* "encoder.0.weight" */
	aert_dtype dtype;   /* element type in memory and on disk */
	int rank;           /* 0..4 */
	size_t dims[4];     /* shape */
	void *data;         /* elements (row-major) */
} aert_tensor;

/* Write the tensors atomically: to PATH.tmp.PID, fsync, rename over PATH,
 * fsync the directory. On failure PATH is untouched and the temp file is
 * removed. Names must be unique, non-empty and not "__metadata__"; the
 * header carries {"__metadata__": {"format": "pt"}} so PyTorch's
 * safetensors.torch.load_file reads the file as it is. */
int aert_st_save(const char *path, const aert_tensor *t, size_t n, aert_err *err);
/* Fill each tensor's data (dtype, rank and dims given) from the file. A
 * tensor missing from the file, or with another shape, fails with a message
 * naming it and both shapes, unless `found` (may be NULL) marks it optional:
 * on entry found[i] != 0 makes t[i] optional; on success found[i] is 1 when
 * t[i] was read and 0 when it is absent (its data then untouched). F32 and
 * F64 convert into each other; other dtypes must match. The whole file is
 * validated first (header length, JSON, dtypes, offsets within the file and
 * consistent with dtype x shape, no gaps or overlaps), so on failure no
 * tensor's data has been written. */
int aert_st_load(const char *path, aert_tensor *t, size_t n, int *found, aert_err *err);

/* ---- compiled models, seen through a descriptor ---- */

/* A parameter tensor of a compiled model. */
typedef struct aert_param {
	const char *name;   /* "encoder.0.weight" (PyTorch naming and layout) */
	int rank;           /* 1..4 */
	size_t dims[4];     /* PyTorch shape: a dense weight is [out, in] */
	size_t offset;      /* element offset in the parameter block */
	size_t size;        /* elements */
} aert_param;

/* A buffer of a compiled model: persistent state that is not trained
 * (BatchNorm's running_mean and running_var in the model's real type, its
 * num_batches_tracked as an I64 scalar), saved and loaded with the
 * parameters under PyTorch's state_dict names. */
typedef struct aert_buffer {
	const char *name;   /* "encoder.1.running_mean" */
	aert_dtype dtype;   /* AERT_F32 or AERT_F64 (the model's reals), or AERT_I64 */
	int rank;           /* 0..4 (0: a scalar) */
	size_t dims[4];     /* PyTorch shape */
	size_t offset;      /* byte offset from buffers_of(state) */
	size_t size;        /* elements */
} aert_buffer;

/* A model input as the data section feeds it. */
typedef struct aert_input {
	const char *name;    /* input name in the .ae file */
	int rank;            /* per-sample rank */
	size_t dims[4];      /* per-sample shape */
	size_t size;         /* elements per sample */
	int onehot_classes;  /* > 0: fed from a label file as one-hot rows */
} aert_input;

/* Adam and friends, in the units of the .ae file. */
typedef struct aert_hparams {
	double lr;           /* learning rate */
	double beta1, beta2; /* decay rates of the first and second moments */
	double eps;          /* added to the denominator */
	double weight_decay; /* L2 penalty added to the gradient */
	int stochastic; /* 0 turns off noise, dropout and sampling (eps = 0) */
} aert_hparams;

/* One compiled model as programs see it: its sizes, tables and defaults,
 * and every entry point of its generated code. The compiler emits one of
 * these in NAME_main.c (NAME_aert_model() returns it). Reals (inputs,
 * outputs, latents, gradients) are arrays of the model's element type,
 * float or double (see real_size), passed as void pointers. `in` holds one
 * pointer per input, in[i] n * inputs[i].size elements (n rows of
 * one-hot rows for a label input). n is 1..max_batch. */
typedef struct aert_model {
	const char *name;       /* model name */
	const char *source;     /* the .ae file it was compiled from */
	int real_size;          /* 4 (float) or 8 (double) */
	int max_batch;          /* largest n the work buffer is sized for */
	size_t state_bytes;     /* parameters, Adam moments, step, rng */
	size_t work_bytes;      /* scratch for one call at max_batch */
	int n_inputs;           /* 1..AERT_MAX_INPUTS */
	const aert_input *inputs;  /* n_inputs inputs, in the .ae file's order */
	int n_params;           /* parameter tensors */
	const aert_param *params;  /* n_params tensors, in declaration order */
	size_t param_elems;     /* elements in the parameter block (and a gradient) */
	size_t latent_size;     /* elements of one sample's latent (encode's z) */
	size_t output_size;     /* elements of one sample's output (forward, decode) */

	/* Pointers into a state buffer. */
	void *(*params_of)(void *state);  /* parameter block */
	void *(*adam_m_of)(void *state);  /* first moments, same layout */
	void *(*adam_v_of)(void *state);  /* second moments, same layout */
	int64_t *(*step_of)(void *state); /* Adam step count */

	/* The entry points. The trainer needs init, train_step and eval_loss;
	 * a hand-written model may leave the others NULL. */

	/* Fill a state: initial parameters from seed, moments and step zero. */
	void (*init)(void *state, uint64_t seed);
	/* One optimizer step on n samples; returns the loss before the step.
	 * The only entry point that changes the buffers. */
	double (*train_step)(void *state, void *work, const void *const *in, int n,
			     const aert_hparams *h);
	/* The loss on n samples and its gradient with respect to every
	 * parameter into grad (param_elems reals, laid out as the parameters),
	 * in training mode; returns the loss. */
	double (*gradient)(const void *state, void *work, const void *const *in, int n,
			   const aert_hparams *h, void *grad);
	/* One Adam step with a gradient from `gradient` (for example summed
	 * over several processes); train_step is the two in one. */
	void (*update)(void *state, const void *grad, const aert_hparams *h);
	/* gradient for rows first..first+n-1 of a batch of `rows` rows: their
	 * share of its loss (returned) and of its gradient, so that the sum
	 * over parts covering the batch is the batch's gradient up to
	 * rounding (a mean divides by rows; noise is drawn for each row's
	 * place in the batch; batch statistics are the part's own). gradient
	 * is the part 0 of n rows. For data-parallel training; may be NULL. */
	double (*gradient_part)(const void *state, void *work, const void *const *in, int n, long first,
				long rows, const aert_hparams *h, void *grad);
	/* The loss on n samples without training (evaluation mode). */
	double (*eval_loss)(const void *state, void *work, const void *const *in, int n);
	/* Reconstruct: out is n x output_size. */
	void (*forward)(const void *state, void *work, const void *const *in, int n, void *out);
	/* Encode: z is n x latent_size. */
	void (*encode)(const void *state, void *work, const void *const *in, int n, void *z);
	/* Decode latents z (n x latent_size) into out (n x output_size). Of in
	 * it reads only the inputs in decode_inputs (the others may be NULL).
	 * NULL when the decoder reads more of the encoder than the latent. */
	void (*decode)(const void *state, void *work, const void *z, const void *const *in, int n,
		       void *out);
	/* Decode n latents drawn from the prior N(0, I) with seed; row i is the
	 * same for any n > i. NULL when the model has no NAME_sample (a decoder
	 * that reads more than the latent has none). */
	void (*sample)(const void *state, void *work, uint64_t seed, int n, void *out);
	/* Use n threads in the model's kernels; returns how many it will use
	 * (1 when the model was compiled without OpenMP). NULL: one thread. */
	int (*set_threads)(int n);
	/* Bit i set: decode reads input i besides the latent (a conditional
	 * model's label). */
	unsigned decode_inputs;

	/* Defaults from the .ae file's train and data sections. */
	aert_hparams hparams;   /* optimizer settings */
	int batch;              /* samples per step, 1..max_batch */
	int epochs;             /* passes over the training set */
	uint64_t seed;          /* initialisation and shuffling seed */
	const char *train_path[AERT_MAX_INPUTS]; /* per input, resolved against the .ae file's folder */
	const char *test_path[AERT_MAX_INPUTS];  /* per input, NULL if the .ae file gives none */
	double scale[AERT_MAX_INPUTS];           /* per input: multiply raw values by this */

	/* Buffers (none: n_buffers 0, and the two below may be NULL). */
	int n_buffers;                  /* buffer tensors */
	const aert_buffer *buffers;     /* n_buffers tensors, in declaration order */
	void *(*buffers_of)(void *state); /* where the buffers start in a state */
} aert_model;

/* Save parameters and buffers (and, with optimizer != 0, Adam moments as
 * "optimizer.m.NAME", "optimizer.v.NAME" and "optimizer.step", an I64
 * scalar) atomically, as F32 when real_size is 4 and F64 when it is 8. */
int aert_save_model(const aert_model *m, void *state, const char *path, int optimizer,
		    aert_err *err);
/* Load parameters and buffers (both required); with optimizer != 0 also
 * the Adam state if present (all of it or none: a file with only part of it
 * fails). All or nothing: on failure the state is unchanged. */
int aert_load_model(const aert_model *m, void *state, const char *path, int optimizer,
		    aert_err *err);

/* ---- a model's data ---- */

/* Datasets for the inputs of one model, checked against it. */
typedef struct aert_data {
	aert_dataset in[AERT_MAX_INPUTS]; /* per input; zeroed where none was loaded */
	size_t n;                         /* samples, the same in every loaded input */
} aert_data;

/* Load paths[i] (any format aert_load_any reads) as the data of input i of
 * m, for each i < m->n_inputs; a NULL path leaves input i out, but one must
 * be given. Each file must fit its input (samples of inputs[i].size values,
 * or labels in range for a one-hot input) and every loaded input must have
 * the same number of samples, at least one. On failure *d is freed and
 * zeroed. */
int aert_data_load(const aert_model *m, const char *const *paths, aert_data *d, aert_err *err);
/* Fill out[i] with samples idx[0..n) of each loaded input i as the model
 * reads them: n rows of the model's reals, raw values times m->scale[i], or
 * one-hot rows for a label input. out[i] of an input left out is not used.
 * Fails only on a label out of range (aert_data_load has checked them). */
int aert_data_batch(const aert_model *m, const aert_data *d, const size_t *idx, size_t n,
		    void *const *out, aert_err *err);
/* Release what aert_data_load allocated and zero *d. */
void aert_data_free(aert_data *d);

/* ---- the trainer ----
 * aert_train_main is these in a row: aert_model_check, aert_train_parse,
 * aert_trainer_open, aert_trainer_run, aert_trainer_save,
 * aert_trainer_close. Another program trains a model by calling them. */

/* What one training run does: the trainer's command line (see --help). */
typedef struct aert_train_options {
	long long epochs;     /* passes over the data; 0: the model's, or as many as steps needs */
	long long steps;      /* optimizer steps in this run; 0: no limit */
	int batch;            /* samples per step, 1..max_batch */
	aert_hparams h;       /* optimizer settings */
	uint64_t seed;        /* initialisation and shuffling */
	int shuffle;          /* 0: batches in file order */
	int quiet;            /* 1: no progress bar */
	const char *train[AERT_MAX_INPUTS]; /* training data per input */
	const char *test[AERT_MAX_INPUTS];  /* test data per input, or all NULL */
	const char *init;       /* start from these parameters, or NULL */
	const char *resume;     /* start from this checkpoint, or NULL */
	const char *save;       /* parameters at the end, or NULL */
	const char *checkpoint; /* parameters and Adam state after every epoch, or NULL */
	const char *log;        /* the loss of every step as CSV, or NULL */
	int threads;          /* threads for the model's kernels; 0: its default (all cores) */
	int mute;             /* not an option of the command line: 1 prints nothing and writes no
			       * file (no report, progress bar, log, checkpoint or saved weights),
			       * and loads and evaluates no test set: the other processes of a
			       * data-parallel run, whose first one reports */
} aert_train_options;

/* 0 if the descriptor can drive the trainer: a name, init, train_step,
 * eval_loss and the state accessors, 1..AERT_MAX_INPUTS inputs, sizes and
 * defaults in range, its tables present. */
int aert_model_check(const aert_model *m, aert_err *err);
/* The model's defaults: its batch, hyperparameters, seed and data paths,
 * shuffled, with a progress bar, no files written. */
void aert_train_defaults(const aert_model *m, aert_train_options *o);

/* What aert_train_parse found. */
typedef enum aert_parsed {
	AERT_PARSE_OK,    /* train with the options */
	AERT_PARSE_DONE,  /* --help or --version, printed on stdout: nothing to run */
	AERT_PARSE_USAGE, /* a usage error, in err */
} aert_parsed;
/* The command line argv[1..argc) over the model's defaults, into *o (whose
 * strings then point into argv). m must pass aert_model_check. */
aert_parsed aert_train_parse(const aert_model *m, int argc, char **argv, aert_train_options *o,
			     aert_err *err);

/* A training run: the model's state and work buffers, its data, its log. */
typedef struct aert_trainer aert_trainer;

/* Open a run of m with the options (copied; their strings must outlive
 * the run): check the model and the options, set o->threads, make a state
 * from o->seed (then o->init or o->resume), load and check the training
 * and test data, create the log. On failure *t is NULL and nothing is
 * left behind. */
int aert_trainer_open(aert_trainer **t, const aert_model *m, const aert_train_options *o,
		      aert_err *err);

/* What the step hook sees after each optimizer step. */
typedef struct aert_step_info {
	long long step;   /* steps in this run so far, this one included (from 1) */
	long long epoch;  /* the epoch it belongs to (from 1) */
	long long epochs; /* epochs the run makes at most */
	int n;            /* samples in the step */
	double loss;      /* the loss before the step */
} aert_step_info;
/* Called after every step; a non-zero return ends the run there. */
typedef int (*aert_step_hook)(void *ctx, const aert_step_info *s);

/* One optimizer step as a program computes it itself (aert_trainer_set_step):
 * the batch is samples idx[0..n) of the training data, in the run's order. */
typedef struct aert_batch_step {
	const aert_model *m;      /* the model */
	void *state;              /* its state, to take the step */
	void *work;               /* its work buffer */
	const aert_data *train;   /* the training data */
	const size_t *idx;        /* the batch's samples */
	size_t n;                 /* how many, 1..max_batch */
	const aert_hparams *h;    /* the optimizer settings */
	void *const *buf;         /* per input, room for max_batch rows (aert_data_batch's out) */
	const void *const *in;    /* the same pointers, as the entry points take them */
} aert_batch_step;
/* Takes the step: 0 with the batch's loss before the step in *loss, or -1
 * with the reason in err (the run then fails with it). */
typedef int (*aert_step_fn)(void *ctx, const aert_batch_step *s, double *loss, aert_err *err);

/* Train for the epochs and steps the options ask for: one line per epoch
 * on stdout,
 *   epoch 3/10  train_loss 0.0145  test_loss 0.0147  12.3k samples/s
 * a progress bar on stderr when it is a terminal (unless quiet), --log
 * and --checkpoint written as it goes, the log closed at the end. hook
 * (may be NULL) gets ctx and every step; when it returns non-zero the run
 * ends after that step as if --steps ended there (the epoch is still
 * evaluated, reported and checkpointed). Call it once per run. */
int aert_trainer_run(aert_trainer *t, aert_step_hook hook, void *ctx, aert_err *err);
/* Compute every step of the run with fn(ctx, ...) instead of the model's
 * train_step on the whole batch (for example a gradient on a part of it,
 * summed with other processes' parts, then update). Call before
 * aert_trainer_run; fn NULL restores train_step. */
void aert_trainer_set_step(aert_trainer *t, aert_step_fn fn, void *ctx);
/* Write the parameters and buffers to the options' save path, if any
 * (nothing when the options are mute). */
int aert_trainer_save(aert_trainer *t, aert_err *err);
/* The model's state (parameters, Adam moments, step, buffers). */
void *aert_trainer_state(aert_trainer *t);
/* Samples in the training data. */
size_t aert_trainer_samples(const aert_trainer *t);
/* The threads the model's kernels use when the options asked for some
 * (1 if it was compiled without OpenMP); 0 when they did not. */
int aert_trainer_threads(const aert_trainer *t);
/* Release the run (a NULL t is fine). */
void aert_trainer_close(aert_trainer *t);

/* The trainer's main(): the functions above in a row. Returns the process
 * exit status: 0 on success, 1 on a failure (message on stderr), 2 on a
 * usage error. Messages start with "NAME-train: ". */
int aert_train_main(const aert_model *m, int argc, char **argv);

/* The data-parallel trainer's main() (runtime/mpi.c, in libaecc_rt_mpi.a and
 * the MPI plugin, built only with MPI): aert_train_main's options and
 * messages, run by every process of `mpirun -np N`, each taking a fixed
 * part of every batch; see docs/scaling.md. */
int aert_mpi_main(const aert_model *m, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
