/* mpi.c - the data-parallel trainer on MPI: aert_mpi_main, the main() of
 * the NAME-train that `aecc build --mpi` links and of `aecc train --mpi`
 * (through the MPI plugin). Compiled only when MPI is requested (mpi.mk).
 *
 * Every process (rank) of `mpirun -np N` runs the runtime's own trainer
 * (aert_train_parse, aert_trainer_open, aert_trainer_run,
 * aert_trainer_save) on the whole data set with the same options, so each
 * sees the same batches in the same order as a single process with the
 * same seed. Only the step differs (aert_trainer_set_step): rank r takes
 * rows [b r / N, b (r + 1) / N) of a batch of b rows, computes their share
 * of the batch's gradient with the model's gradient_part (a mean divides
 * by b, noise is drawn for each row's place in the batch), the shares are
 * summed in a fixed order, and every rank applies the same update. Only
 * rank 0 prints and writes (the options' `mute` on the others).
 *
 * Sums, chosen with --reduce:
 *   tree       (default) rank r + s adds into rank r for s = 1, 2, 4, ...,
 *              the lower rank's partial sum first; rank 0 broadcasts the
 *              total. Fixed for a given N.
 *   ring       reduce-scatter and allgather around the ring 0, 1, ..., N-1,
 *              each of N segments summed in ring order. Fixed for a given N.
 *   allreduce  MPI_Allreduce: whatever order the MPI library chooses.
 * With --micro-batch M the batch is instead cut into chunks of M rows,
 * each chunk's share computed on its own, and the chunks summed one after
 * the other in chunk order, passed from rank to rank: the same arithmetic
 * for every N, so the weights are the same bits for any number of ranks.
 *
 * Failures: bad input and every check before training fail on all ranks
 * together (each rank's result is gathered), rank 0 prints the first
 * rank's message and every rank exits with status 1 (2 for a usage error).
 * A failure once training has started ends the job: rank 0 prints it and
 * calls MPI_Abort; the other ranks fail only as rank 0 does (their steps
 * and their data are the same) and wait for it. A rank that dies ends the
 * job through mpirun. Checkpoints are written by rank 0 only, atomically
 * (aert_st_save); a SIGTERM from mpirun while one is written removes its
 * temporary file, so no half-written checkpoint is left. */
#include "common.h"

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef enum reduce_kind { REDUCE_TREE, REDUCE_RING, REDUCE_ALLREDUCE } reduce_kind;
static const char *const REDUCE_NAMES[] = {"tree", "ring", "allreduce"};

/* One data-parallel run, as its step function sees it. */
typedef struct mpi_run {
	MPI_Comm comm;        /* every rank of the job */
	int rank, size;       /* this process, and how many there are */
	reduce_kind reduce;   /* how the parts are summed */
	int micro;            /* --micro-batch: rows per chunk; 0: one part per rank */
	MPI_Datatype real;    /* MPI_FLOAT or MPI_DOUBLE, as the model's reals */
	size_t count;         /* reals summed per step: the gradient and then the loss */
	void *sum;            /* count reals: this rank's part, then the total */
	void *tmp;            /* count reals: a part received from another rank */
	void **chunk;         /* --micro-batch: this rank's chunks' shares (count reals each) */
	int chunks;           /* how many chunk buffers there are */
	int timed;            /* --times: wait for every rank before summing, to time the two apart */
	double waiting;       /* --times: seconds spent waiting for the slowest rank's part */
	double seconds;       /* seconds spent summing */
} mpi_run;

/* ---- sums in a fixed order ---- */

/* a[i] = a[i] + b[i], or b[i] + a[i] with b_first, for n reals. */
static void add(const mpi_run *r, void *a, const void *b, size_t n, int b_first)
{
	if (r->real == MPI_FLOAT) {
		float *x = a;
		const float *y = b;
		for (size_t i = 0; i < n; i++)
			x[i] = b_first ? y[i] + x[i] : x[i] + y[i];
	} else {
		double *x = a;
		const double *y = b;
		for (size_t i = 0; i < n; i++)
			x[i] = b_first ? y[i] + x[i] : x[i] + y[i];
	}
}

/* Reals at element offset i of p. */
static void *at(const mpi_run *r, void *p, size_t i)
{
	return (char *)p + i * (r->real == MPI_FLOAT ? sizeof(float) : sizeof(double));
}

/* MPI counts are ints: send and receive in pieces below INT_MAX. */
enum { PIECE = 1 << 30 };

static void send(const mpi_run *r, void *p, size_t n, int to)
{
	for (size_t i = 0; i < n; i += PIECE)
		MPI_Send(at(r, p, i), (int)(n - i < PIECE ? n - i : PIECE), r->real, to, 0, r->comm);
}

static void recv(const mpi_run *r, void *p, size_t n, int from)
{
	for (size_t i = 0; i < n; i += PIECE)
		MPI_Recv(at(r, p, i), (int)(n - i < PIECE ? n - i : PIECE), r->real, from, 0, r->comm,
			 MPI_STATUS_IGNORE);
}

static void bcast(const mpi_run *r, void *p, size_t n, int root)
{
	for (size_t i = 0; i < n; i += PIECE)
		MPI_Bcast(at(r, p, i), (int)(n - i < PIECE ? n - i : PIECE), r->real, root, r->comm);
}

/* Binomial tree to rank 0, then a broadcast. */
static void reduce_tree(mpi_run *r)
{
	for (int s = 1; s < r->size; s *= 2) {
		if (r->rank % (2 * s) == s) {
			send(r, r->sum, r->count, r->rank - s);
			break;
		}
		if (r->rank + s < r->size) {
			recv(r, r->tmp, r->count, r->rank + s);
			add(r, r->sum, r->tmp, r->count, 0);
		}
	}
	bcast(r, r->sum, r->count, 0);
}

/* Segment k of N: elements [count k / N, count (k + 1) / N). */
static size_t seg(const mpi_run *r, int k)
{
	return (size_t)((unsigned long long)r->count * (unsigned long long)k / (unsigned long long)r->size);
}

/* Reduce-scatter and allgather around the ring. In step k of the first
 * half, rank q sends its partial sum of segment q - k to rank q + 1 and
 * adds its own part of segment q - k - 1 to what rank q - 1 sends of it,
 * so segment j is summed in the order j, j + 1, ..., j - 1 (mod N) and
 * ends on rank j - 1, which starts passing it on in the second half. */
static void reduce_ring(mpi_run *r)
{
	int n = r->size, next = (r->rank + 1) % n, prev = (r->rank + n - 1) % n;
	for (int half = 0; half < 2; half++)
		for (int k = 0; k < n - 1; k++) {
			int out = ((r->rank - k + (half ? 1 : 0)) % n + n) % n, in = ((out - 1) % n + n) % n;
			size_t o0 = seg(r, out), o1 = seg(r, out + 1), i0 = seg(r, in), i1 = seg(r, in + 1);
			void *dst = half ? at(r, r->sum, i0) : at(r, r->tmp, i0);
			/* the counts are at most count / N + 1 reals per message; count < INT_MAX * N */
			MPI_Sendrecv(at(r, r->sum, o0), (int)(o1 - o0), r->real, next, 1, dst, (int)(i1 - i0), r->real,
				     prev, 1, r->comm, MPI_STATUS_IGNORE);
			if (!half)
				add(r, at(r, r->sum, i0), at(r, r->tmp, i0), i1 - i0, 1);
		}
}

static void reduce(mpi_run *r)
{
	double t0 = MPI_Wtime();
	if (r->timed) {
		MPI_Barrier(r->comm);
		r->waiting += MPI_Wtime() - t0;
		t0 = MPI_Wtime();
	}
	if (r->size > 1) {
		if (r->reduce == REDUCE_TREE)
			reduce_tree(r);
		else if (r->reduce == REDUCE_RING)
			reduce_ring(r);
		else
			for (size_t i = 0; i < r->count; i += PIECE)
				MPI_Allreduce(MPI_IN_PLACE, at(r, r->sum, i), (int)(r->count - i < PIECE ? r->count - i : PIECE),
					      r->real, MPI_SUM, r->comm);
	}
	r->seconds += MPI_Wtime() - t0;
}

/* ---- the step ---- */

/* Rows [lo, hi) of the batch: their share of its loss and gradient into
 * out (count reals, the loss last). */
static int part(mpi_run *r, const aert_batch_step *s, size_t lo, size_t hi, void *out, aert_err *err)
{
	const aert_model *m = s->m;
	if (aert_data_batch(m, s->train, s->idx + lo, hi - lo, s->buf, err) != 0)
		return -1;
	double loss = m->gradient_part(s->state, s->work, s->in, (int)(hi - lo), (long)lo, (long)s->n, s->h, out);
	if (r->real == MPI_FLOAT)
		((float *)out)[m->param_elems] = (float)loss;
	else
		((double *)out)[m->param_elems] = loss;
	return 0;
}

/* --micro-batch: chunks [C r / N, C (r + 1) / N) of the C chunks are this
 * rank's; the running sum starts at chunk 0, comes from the rank before
 * (when chunks come before this rank's), takes each chunk in order, and
 * goes on to the next rank; the last rank broadcasts the total. */
static int step_chunks(mpi_run *r, const aert_batch_step *s, aert_err *err)
{
	size_t m = (size_t)r->micro, c = (s->n + m - 1) / m, size = (size_t)r->size;
	size_t c0 = c * (size_t)r->rank / size, c1 = c * (size_t)(r->rank + 1) / size;
	for (size_t k = c0; k < c1; k++)
		if (part(r, s, k * m, (k + 1) * m < s->n ? (k + 1) * m : s->n, r->chunk[k - c0], err) != 0)
			return -1;
	double t0 = MPI_Wtime();
	if (r->timed) {
		MPI_Barrier(r->comm);
		r->waiting += MPI_Wtime() - t0;
		t0 = MPI_Wtime();
	}
	if (c0 > 0)
		recv(r, r->sum, r->count, r->rank - 1);
	for (size_t k = c0; k < c1; k++) {
		if (k == 0)
			memcpy(r->sum, r->chunk[0], r->count * (r->real == MPI_FLOAT ? sizeof(float) : sizeof(double)));
		else
			add(r, r->sum, r->chunk[k - c0], r->count, 0);
	}
	if (c1 > 0 && r->rank + 1 < r->size)
		send(r, r->sum, r->count, r->rank + 1);
	bcast(r, r->sum, r->count, r->size - 1);
	r->seconds += MPI_Wtime() - t0;
	return 0;
}

static int step(void *ctx, const aert_batch_step *s, double *loss, aert_err *err)
{
	mpi_run *r = ctx;
	const aert_model *m = s->m;
	if (r->micro) {
		if (step_chunks(r, s, err) != 0)
			return -1;
	} else {
		size_t lo = s->n * (size_t)r->rank / (size_t)r->size, hi = s->n * (size_t)(r->rank + 1) / (size_t)r->size;
		if (hi > lo) {
			if (part(r, s, lo, hi, r->sum, err) != 0)
				return -1;
		} else { /* the last batch of an epoch may have fewer rows than there are ranks */
			memset(r->sum, 0, r->count * (r->real == MPI_FLOAT ? sizeof(float) : sizeof(double)));
		}
		reduce(r);
	}
	*loss = r->real == MPI_FLOAT ? (double)((float *)r->sum)[m->param_elems] : ((double *)r->sum)[m->param_elems];
	m->update(s->state, r->sum, s->h);
	return 0;
}

/* ---- options ---- */

/* Take --reduce, --micro-batch and --times out of argv; the rest is the
 * trainer's. */
static int take_options(mpi_run *r, int *argc, char **argv, int *help, aert_err *err)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		size_t len = strcspn(a, "=");
		const char *value = a[len] == '=' ? a + len + 1 : NULL;
		int is_reduce = len == 8 && !strncmp(a, "--reduce", 8);
		int is_micro = len == 13 && !strncmp(a, "--micro-batch", 13);
		if (!strcmp(a, "--help"))
			*help = 1;
		if (!strcmp(a, "--times")) {
			r->timed = 1;
			continue;
		}
		if (!is_reduce && !is_micro) {
			argv[out++] = argv[i];
			continue;
		}
		if (!value && i + 1 == *argc)
			return aert_fail(err, NULL, "%.*s needs a value", (int)len, a);
		if (!value)
			value = argv[++i];
		if (is_reduce) {
			int k = 0;
			while (k < 3 && strcmp(value, REDUCE_NAMES[k]) != 0)
				k++;
			if (k == 3)
				return aert_fail(err, NULL, "--reduce: '%s' must be tree, ring or allreduce", value);
			r->reduce = (reduce_kind)k;
		} else {
			char *end;
			long v = strtol(value, &end, 10);
			if (end == value || *end || v < 1 || v > 1 << 20)
				return aert_fail(err, NULL, "--micro-batch: '%s' must be an integer from 1 to %d", value, 1 << 20);
			r->micro = (int)v;
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

static void print_help(const char *name)
{
	printf("\nData-parallel options (mpirun -np N %s-train ...):\n", name);
	printf("  --reduce tree|ring|allreduce  how the ranks' gradients are summed: a\n"
	       "                     binomial tree to rank 0 and a broadcast (default), a\n"
	       "                     ring, both in a fixed order, or MPI_Allreduce\n");
	printf("  --micro-batch M    cut every batch into chunks of M rows summed one after\n"
	       "                     the other: the same weights for any number of ranks\n");
	printf("  --times            report the time steps spend waiting for the slowest rank\n"
	       "                     and summing gradients (rank 0; adds a barrier per step)\n");
	printf("Each rank reads the whole data set and takes a fixed part of every batch;\n"
	       "only rank 0 prints and writes files. --threads defaults to the cores of\n"
	       "the machine divided among its ranks.\n");
}

/* What only the data-parallel run asks of the model, the options and the
 * data: a gradient_part, no buffers (their running statistics would be
 * each rank's own), and at least one row of every batch for every rank. */
static int check_run(const mpi_run *r, const aert_model *m, const aert_train_options *o, size_t samples,
		     aert_err *err)
{
	size_t b = (size_t)o->batch, n = (size_t)r->size;
	if (!m->gradient_part || !m->update)
		return aert_fail(err, NULL, "the model has no gradient_part or update entry point (rebuild it with this aecc)");
	if (m->n_buffers > 0)
		return aert_fail(err, NULL, "the model keeps buffers (%s): their running statistics would differ "
				 "between ranks, so it trains in one process only", m->buffers[0].name);
	if (samples < n)
		return aert_fail(err, o->train[0], "%zu samples cannot be shared by %d ranks: every rank "
				 "needs at least one", samples, r->size);
	if (r->micro) {
		size_t m_rows = (size_t)r->micro;
		if (b % m_rows != 0)
			return aert_fail(err, NULL, "--batch %zu is not a multiple of --micro-batch %zu", b, m_rows);
		if (b / m_rows < n)
			return aert_fail(err, NULL, "--batch %zu is %zu chunk%s of --micro-batch %zu, fewer than the %d ranks",
					 b, b / m_rows, b / m_rows == 1 ? "" : "s", m_rows, r->size);
	} else if (b < n) {
		return aert_fail(err, NULL, "--batch %zu is smaller than the %d ranks: every rank needs a row of "
				 "every batch", b, r->size);
	}
	return 0;
}

/* The buffers of the sums. */
static int alloc_sums(mpi_run *r, const aert_model *m, const aert_train_options *o, aert_err *err)
{
	size_t real = (size_t)m->real_size;
	r->real = real == 4 ? MPI_FLOAT : MPI_DOUBLE;
	r->count = m->param_elems + 1;
	int bad = posix_memalign(&r->sum, 64, r->count * real) != 0;
	bad |= posix_memalign(&r->tmp, 64, r->count * real) != 0;
	if (r->micro) {
		size_t c = (size_t)o->batch / (size_t)r->micro, size = (size_t)r->size, most = (c + size - 1) / size;
		if (!(r->chunk = calloc(most, sizeof *r->chunk)))
			bad = 1;
		for (size_t k = 0; !bad && k < most; k++, r->chunks++)
			bad = posix_memalign(&r->chunk[k], 64, r->count * real) != 0;
	}
	return bad ? aert_fail(err, NULL, "out of memory for the gradients to sum") : 0;
}

static void free_sums(mpi_run *r)
{
	for (int k = 0; k < r->chunks; k++)
		free(r->chunk[k]);
	free(r->chunk);
	free(r->sum);
	free(r->tmp);
}

/* Threads for a rank: the cores of its machine shared by the ranks on it. */
static int default_threads(const mpi_run *r)
{
	MPI_Comm local;
	int here = 1;
	if (MPI_Comm_split_type(r->comm, MPI_COMM_TYPE_SHARED, r->rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
		MPI_Comm_size(local, &here);
		MPI_Comm_free(&local);
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int t = (int)(cores > 0 ? cores : 1) / here;
	return t > 0 ? t : 1;
}

/* ---- failing together ---- */

/* Every rank's ok; on rank 0, the message of the first rank that failed
 * into *first. Returns 1 if all are ok. */
static int agree(const mpi_run *r, int ok, const aert_err *mine, aert_err *first)
{
	int all = 0;
	MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, r->comm);
	if (all)
		return 1;
	int *oks = r->rank == 0 ? malloc(sizeof(int) * (size_t)r->size) : NULL;
	char *msgs = r->rank == 0 ? malloc(sizeof mine->msg * (size_t)r->size) : NULL;
	MPI_Gather(&ok, 1, MPI_INT, oks, 1, MPI_INT, 0, r->comm);
	MPI_Gather(mine->msg, (int)sizeof mine->msg, MPI_CHAR, msgs, (int)sizeof mine->msg, MPI_CHAR, 0, r->comm);
	if (r->rank == 0) {
		int k = 0;
		while (k < r->size && oks && oks[k])
			k++;
		if (!oks || !msgs)
			snprintf(first->msg, sizeof first->msg, "a rank failed (out of memory for its message)");
		else if (k == 0)
			*first = *mine;
		else
			snprintf(first->msg, sizeof first->msg, "rank %d: %.480s", k, msgs + (size_t)k * sizeof mine->msg);
	}
	free(oks);
	free(msgs);
	return 0;
}

/* Temporary files of rank 0's checkpoint and weights (aert_st_save writes
 * PATH.tmp.PID), removed if mpirun ends the job while one is written. */
static char *temp_files[2];

static void on_term(int sig)
{
	for (int i = 0; i < 2; i++)
		if (temp_files[i])
			unlink(temp_files[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard_writes(const aert_train_options *o)
{
	const char *paths[2] = {o->checkpoint, o->save};
	for (int i = 0; i < 2; i++)
		if (paths[i]) {
			size_t len = strlen(paths[i]) + 32;
			if ((temp_files[i] = malloc(len)))
				snprintf(temp_files[i], len, "%s.tmp.%ld", paths[i], (long)getpid());
		}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
}

/* ---- main ---- */

static int run(mpi_run *r, const aert_model *m, int argc, char **argv)
{
	aert_err err = {{0}}, first = {{0}};
	aert_train_options o;
	int help = 0, ok = 1;
	const char *name = m->name ? m->name : "aecc";
	if (aert_model_check(m, &err) != 0) {
		if (r->rank == 0)
			fprintf(stderr, "%s-train: error: %s\n", name, err.msg);
		return EXIT_FAIL;
	}
	/* The same arguments on every rank: each finds the same usage errors. */
	aert_parsed p = take_options(r, &argc, argv, &help, &err) != 0 ? AERT_PARSE_USAGE
										 : aert_train_parse(m, argc, argv, &o, &err);
	if (p == AERT_PARSE_DONE) {
		if (help && r->rank == 0)
			print_help(name);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	}
	if (p == AERT_PARSE_USAGE) {
		if (r->rank == 0)
			fprintf(stderr, "%s-train: error: %s\nTry '%s-train --help' for more information.\n", name, err.msg,
				name);
		return EXIT_USAGE;
	}
	o.mute = r->rank != 0;
	if (!o.threads)
		o.threads = default_threads(r);
	aert_trainer *t = NULL;
	if (aert_trainer_open(&t, m, &o, &err) != 0 || check_run(r, m, &o, aert_trainer_samples(t), &err) != 0 ||
	    alloc_sums(r, m, &o, &err) != 0)
		ok = 0;
	if (!agree(r, ok, &err, &first)) {
		if (r->rank == 0)
			fprintf(stderr, "%s-train: error: %s\n", name, first.msg);
		aert_trainer_close(t);
		return EXIT_FAIL;
	}
	if (r->rank == 0) {
		guard_writes(&o);
		if (r->micro)
			fprintf(stderr, "%s-train: %d ranks, %d thread%s each, batch %d in chunks of %d summed in order\n",
				name, r->size, o.threads, o.threads == 1 ? "" : "s", o.batch, r->micro);
		else
			fprintf(stderr, "%s-train: %d ranks, %d thread%s each, batch %d, gradients summed by %s\n", name,
				r->size, o.threads, o.threads == 1 ? "" : "s", o.batch, REDUCE_NAMES[r->reduce]);
	}
	aert_trainer_set_step(t, step, r);
	double t0 = MPI_Wtime();
	int rc = aert_trainer_run(t, NULL, NULL, &err) == 0 && aert_trainer_save(t, &err) == 0 ? 0 : -1;
	if (rc != 0) {
		if (r->rank == 0) {
			fprintf(stderr, "%s-train: error: %s\n", name, err.msg);
			fflush(stderr);
			MPI_Abort(r->comm, EXIT_FAIL);
		}
		MPI_Barrier(r->comm); /* never passes: rank 0 ends the job */
	}
	if (r->timed && r->rank == 0)
		fprintf(stderr, "%s-train: %.3f s training, %.3f s of it summing gradients, %.3f s waiting for the slowest rank\n",
			name, MPI_Wtime() - t0, r->seconds, r->waiting);
	aert_trainer_close(t);
	return EXIT_OK;
}

int aert_mpi_main(const aert_model *m, int argc, char **argv)
{
	int provided;
	if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		fprintf(stderr, "%s-train: error: MPI_Init failed\n", m->name ? m->name : "aecc");
		return EXIT_FAIL;
	}
	mpi_run r = {0};
	r.comm = MPI_COMM_WORLD;
	MPI_Comm_rank(r.comm, &r.rank);
	MPI_Comm_size(r.comm, &r.size);
	if (r.rank != 0 && !freopen("/dev/null", "w", stdout))
		fclose(stdout);
	int rc = run(&r, m, argc, argv);
	free_sums(&r);
	MPI_Finalize();
	return rc;
}
