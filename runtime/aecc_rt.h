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

/* Write the tensors atomically: to PATH.tmp.PID (locked while it is
 * written), fsync, rename over PATH, fsync the directory. On failure PATH
 * is untouched and the temp file is removed; a temp file of PATH that a
 * process killed while saving left behind is removed first. A file size
 * limit (ulimit -f) fails the save like a full disk. Names must be unique, non-empty and not "__metadata__"; the
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

/* ---- training controls: learning-rate schedules, early stopping, a
 * validation split ---- */

/* How the learning rate moves from epoch to epoch (it is constant within
 * an epoch). Each follows the PyTorch scheduler named, stepped once per
 * epoch. */
typedef enum aert_schedule_kind {
	AERT_SCHEDULE_NONE,    /* the learning rate stays */
	AERT_SCHEDULE_STEP,    /* times factor after every `every` epochs (StepLR) */
	AERT_SCHEDULE_COSINE,  /* from lr to min_lr along half a cosine over the run's
	                          epochs (CosineAnnealingLR with T_max = epochs) */
	AERT_SCHEDULE_PLATEAU, /* times factor once the validation loss has not improved
	                          for more than `patience` epochs (ReduceLROnPlateau) */
} aert_schedule_kind;

/* The defaults of the settings a schedule or early stopping leaves out
 * (PyTorch's for the schedules). */
#define AERT_STEP_FACTOR 0.1
#define AERT_PLATEAU_FACTOR 0.1
#define AERT_PLATEAU_PATIENCE 10
#define AERT_PLATEAU_THRESHOLD 1e-4
#define AERT_EARLY_STOP_PATIENCE 3

/* A schedule and its settings (the fields its kind does not use are 0). */
typedef struct aert_schedule {
	aert_schedule_kind kind;
	long long every;    /* step: epochs between reductions, >= 1 */
	double factor;      /* step, plateau: the multiplier, in (0, 1) */
	long long patience; /* plateau: epochs without improvement it waits, >= 0 */
	double threshold;   /* plateau: a loss improves on the best when it is below
	                       best * (1 - threshold), threshold in [0, 1) */
	double min_lr;      /* cosine, plateau: the floor, >= 0 */
} aert_schedule;

/* 0 if the schedule's settings are in range (see above). */
int aert_schedule_check(const aert_schedule *s, aert_err *err);
/* Read a schedule written as in a .ae file's train section: "none",
 * "step(every = 10, factor = 0.5)", "cosine", "cosine(min_lr = 1e-5)",
 * "plateau(factor = 0.5, patience = 2, threshold = 1e-4, min_lr = 0)";
 * keyword arguments only, any left out take their defaults (step: every
 * is required, factor 0.1; cosine: min_lr 0; plateau: factor 0.1,
 * patience 10, threshold 1e-4, min_lr 0, as PyTorch's). */
int aert_schedule_parse(const char *text, aert_schedule *s, aert_err *err);

/* A schedule running over one training run. */
typedef struct aert_scheduler {
	aert_schedule s;  /* what it does */
	double base_lr;   /* the learning rate of epoch 1 */
	double lr;        /* the learning rate now */
	long long epochs; /* the run's epochs (cosine's period) */
	double best;      /* plateau: the best validation loss so far */
	long long bad;    /* plateau: epochs since it improved */
} aert_scheduler;
/* Start s for a run of `epochs` epochs at learning rate lr. */
void aert_scheduler_start(aert_scheduler *r, const aert_schedule *s, double lr, long long epochs);
/* The learning rate of epoch e (from 1): for step and cosine a function of
 * e, for plateau what the losses observed so far made it. Call it for
 * e = 1, 2, ... in turn. */
double aert_scheduler_lr(aert_scheduler *r, long long epoch);
/* After an epoch, its validation loss (plateau's input; the other kinds
 * ignore it). Returns 1 when plateau lowers the learning rate for the next
 * epoch; as in PyTorch, a reduction of less than 1e-8 is not made. */
int aert_scheduler_observe(aert_scheduler *r, double val_loss);

/* Stop a run whose validation loss has stopped improving. */
typedef struct aert_early_stop {
	int on;             /* 0: never stop early */
	long long patience; /* stop after this many epochs in a row without improvement, >= 1 */
	double min_delta;   /* a loss improves on the best when it is below best - min_delta, >= 0 */
} aert_early_stop;

/* The best epoch of a run, by its validation loss. */
typedef struct aert_monitor {
	double min_delta;     /* what counts as an improvement (see aert_early_stop) */
	double best;          /* the best loss so far (HUGE_VAL before the first) */
	long long best_epoch; /* its epoch, 0 before the first */
	long long wait;       /* epochs since the best */
} aert_monitor;
void aert_monitor_start(aert_monitor *w, double min_delta);
/* After epoch e with validation loss `loss`: 1 if it is the new best
 * (then wait is 0), else 0 (wait counts it). */
int aert_monitor_observe(aert_monitor *w, long long epoch, double loss);

/* Hold out ceil(fraction * n) of the samples 0..n-1 for validation, drawn
 * by seed: val gets their indices and train the others', each ascending,
 * so the split depends only on n, fraction and seed. fraction is in
 * (0, 1); fails when either part would be empty. */
int aert_split(size_t n, double fraction, uint64_t seed, size_t *val, size_t *n_val, size_t *train,
	       size_t *n_train, aert_err *err);

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

	/* What the model commands (aecc encode, score, sample, ...) need to
	 * know of the model beyond its entry points. */
	int latent_kind;        /* AERT_LATENT_CODE or AERT_LATENT_GAUSSIAN */
	/* GAUSSIAN: encode into the code's mean and log-variance (each n x
	 * latent_size); NULL otherwise. */
	void (*encode_gaussian)(const void *state, void *work, const void *const *in, int n, void *mu,
				void *logvar);
	int likelihood;         /* AERT_LIKELIHOOD_*: what the loss says of p(x | z) */
	const char *noise;      /* the encoder's corruption of its input, "gaussian_noise:0.3"
				 * or "masking_noise:0.3", or NULL */
	const char *train_labels; /* class labels of the training samples, or NULL */
	const char *test_labels;  /* class labels of the test samples, or NULL */
	const char *classes;    /* train on these classes only ("0,1,2"), or NULL: all */
	/* The terms of the loss: it is the sum over i of loss_term_weights[i]
	 * times term i (`bce(xhat, x) + 4 * kl_normal(mu, logvar)`: bce with
	 * weight 1, kl_normal with 4). n_loss_terms 0: the model reports none
	 * (and the three below may be NULL). */
	int n_loss_terms;                    /* terms */
	const char *const *loss_term_names;  /* "bce", "kl_normal": the op or value of each */
	const double *loss_term_weights;     /* the constant each is multiplied by */
	/* The loss on n samples in evaluation mode, as eval_loss, and each of
	 * its terms into terms (n_loss_terms doubles; NULL: none). With
	 * sample_seed 0 a Gaussian latent is its mean, as in eval_loss; with
	 * another seed it is drawn as in training, from draws that depend on
	 * the seed, the state and the element only: the sampled ELBO. NULL
	 * when the model has no terms. */
	double (*loss_terms)(const void *state, void *work, const void *const *in, int n, uint64_t sample_seed,
			     double *terms);
	/* train_step, also writing the step's loss terms (in training mode,
	 * before the step) into terms; the same step and loss. NULL when the
	 * model has no terms. */
	double (*train_step_terms)(void *state, void *work, const void *const *in, int n, const aert_hparams *h,
				   double *terms);
	int draws_latent;       /* 1: the loss reads a latent drawn in training
	                           (gaussian), which evaluation takes at its mean */

	/* Training controls from the .ae file's train and data sections. */
	aert_schedule schedule;      /* the learning rate from epoch to epoch */
	aert_early_stop early_stop;  /* when to stop before the last epoch */
	double validate;             /* fraction of the training data held out
	                                for validation; 0: none */
	const char *validation_path[AERT_MAX_INPUTS]; /* per input, or all NULL */
} aert_model;

/* aert_model.latent_kind */
enum {
	AERT_LATENT_CODE = 0,     /* a deterministic code */
	AERT_LATENT_GAUSSIAN = 1, /* a VAE's: z ~ N(mu, exp(logvar)), prior N(0, I) */
};
/* aert_model.likelihood */
enum {
	AERT_LIKELIHOOD_NONE = 0,      /* the loss is not a log-likelihood of x */
	AERT_LIKELIHOOD_BERNOULLI = 1, /* bce(output, input 0, reduction = "sum"):
					* -log p(x | z) of a Bernoulli decoder */
};

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
/* Start bringing the first of samples idx[0..n) (the next batch) of each
 * loaded input into the CPU's caches while it does other work (the step
 * before); aert_data_batch fetches the rest ahead of itself. */
void aert_data_prefetch(const aert_model *m, const aert_data *d, const size_t *idx, size_t n);
/* Release what aert_data_load allocated and zero *d. */
void aert_data_free(aert_data *d);

/* ---- class labels ---- */

/* Labels are class numbers below this. */
#define AERT_MAX_CLASSES 256

/* The labels of a label set (sample == 1) as ints into out (ds->n of
 * them); fails, naming the file and the sample, on a value that is not a
 * class number. */
int aert_labels_read(const aert_dataset *ds, int *out, aert_err *err);
/* Parse a class list, "0-8" or "0,2,5-7", into set[0..AERT_MAX_CLASSES)
 * (1: the class is in it). */
int aert_classes_parse(const char *spec, unsigned char *set, aert_err *err);
/* Keep only the samples of d whose label (labels holds one per sample) is
 * in set, in their order. Fails when the counts differ, on a bad label, or
 * when no sample is left (d is then partly filtered: free it). */
int aert_data_filter(aert_data *d, const aert_dataset *labels, const unsigned char *set, aert_err *err);

/* ---- what the model commands write ---- */

/* Write rows x cols reals (AERT_F32 or AERT_F64) as NPY, or as CSV when
 * path ends in .csv (a header line of names[0..cols) first, unless names
 * is NULL), atomically: on failure path is untouched. */
int aert_write_array(const char *path, aert_dtype t, size_t rows, size_t cols, const void *data,
		     const char *const *names, aert_err *err);
/* Write an 8-bit PNG of height rows of width pixels, channels 1 (grey) or
 * 3 (RGB) interleaved, atomically. */
int aert_write_png(const char *path, const unsigned char *pixels, size_t width, size_t height, int channels,
		   aert_err *err);

/* How a sample's values are drawn as a picture. */
typedef struct aert_image {
	int channels;         /* 1 (grey) or 3 (RGB), stored first: [C, H, W] */
	size_t height, width; /* pixels */
} aert_image;
/* The picture of an input: [1 or 3, H, W], [H, W], or a flat input with a
 * square number of values (784 is 28 x 28). -1 if it has none. */
int aert_image_shape(const aert_input *in, aert_image *im);
/* One row of a grid: n samples of one image each, reals of dtype. */
typedef struct aert_grid_row {
	aert_dtype dtype;  /* AERT_F32 or AERT_F64 */
	const void *data;  /* n consecutive samples */
	int n;             /* images in the row (at most the grid's columns) */
} aert_grid_row;
/* Draw the rows as a PNG grid, cols images wide, each image enlarged zoom
 * times, with grey separators; values are clamped to [0, 1] (as the model
 * sees them after its data scale). */
int aert_write_grid(const char *path, const aert_image *im, const aert_grid_row *rows, int nrows, int cols,
		    int zoom, aert_err *err);

/* ---- the model commands ----
 * aecc encode, reconstruct, score, denoise, sample, interpolate, probe and
 * plot-latent on a compiled model and its trained weights. */

/* Run the command argv[0] with its options argv[1..argc): the process exit
 * status (0, 1 on failure with a message on stderr, 2 on a usage error).
 * prog names the program in messages ("aecc"); plot is the plotting script
 * (plot-latent) and python the interpreter that runs it. */
int aert_command_main(const aert_model *m, const char *prog, const char *python, const char *plot, int argc,
		      char **argv);
/* plot-loss: draw the loss curves of the --log files in argv[1..argc)
 * (-o FILE.png) with the plotting script; the exit status. */
int aert_plot_main(const char *prog, const char *python, const char *plot, int argc, char **argv);
/* 1 if name is one of the model commands. */
int aert_is_command(const char *name);

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
	int threads;          /* threads for the model's kernels; 0: all cores, or one while faster */
	const char *classes;      /* train on samples of these classes only ("0-8"), or NULL */
	const char *train_labels; /* the training samples' classes, for `classes` */
	aert_schedule schedule;   /* the learning rate from epoch to epoch */
	aert_early_stop early_stop; /* stop when the validation loss stops improving,
	                               then go back to the best epoch's state */
	double validate;          /* fraction of the training data held out; 0: none */
	const char *validation[AERT_MAX_INPUTS]; /* validation data per input, or all NULL
	                               (not with validate) */
	const char *save_best;  /* parameters of the best epoch by validation loss, or NULL */
	int sampled;          /* 1: held-out losses draw the latent (sampled ELBO) */
	int png_every;        /* every N epochs (and after the last) write pictures; 0: never */
	const char *png_dir;  /* where they go, or NULL: "." */
	int mute;             /* not an option of the command line: 1 prints nothing and writes no
			       * file (no report, progress bar, log, checkpoint or saved weights),
			       * and loads and evaluates no test set: the other processes of a
			       * data-parallel run, whose first one reports */
} aert_train_options;

/* 0 if the descriptor can drive the trainer: a name, init, train_step,
 * eval_loss and the state accessors, 1..AERT_MAX_INPUTS inputs, sizes and
 * defaults in range, its tables present. */
int aert_model_check(const aert_model *m, aert_err *err);
/* 0 if the model's state and work arena fit in this machine's physical
 * memory together; otherwise -1 with a message giving both sizes. A
 * program calls it before it allocates them (aert_trainer_open does). */
int aert_model_fits(const aert_model *m, aert_err *err);
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
 * the run): check the model, the options and that the model fits in
 * memory (aert_model_fits), set o->threads, make a state
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

/* Make the threads of the model's kernels spin briefly, then sleep, when
 * they wait for each other (unless OMP_WAIT_POLICY, GOMP_SPINCOUNT or
 * KMP_BLOCKTIME says otherwise), so that a second thread costs no time on
 * a busy machine (threads.c). The OpenMP runtime reads this when it
 * starts: call it before. When libgomp has started already (a program
 * linked with it), and argv is not NULL, the program is run again from the
 * start with argv (Linux), so call it first thing in main(). */
void aert_threads_wait_policy(char **argv);

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
