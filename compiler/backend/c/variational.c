/* variational.c - the C rows of the stochastic ops (ops/variational.c).
 * Element i of a stochastic op's values comes from the counter-based
 * stream emit_noise_key(e, n), drawn only while the C variable
 * `stochastic` is set in the train step and the gradient (and, for the
 * Gaussian latent only, in NAME_loss_terms with a seed); a backward op
 * draws the same numbers again from the forward node's key. Requires:
 * emit.h, attrs.h. Provides: their rows. */
#include <string.h>

#include "attrs.h"
#include "emit.h"

/* exp spelled for the model's real type. */
static const char *exp_fn(Emit *e) { return strcmp(emit_real(e), "float") ? "exp" : "expf"; }

/* Open `{ const uint64_t key = ...;` with the stream of node `src`. */
static void open_stream(Emit *e, const Node *src)
{
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const uint64_t key = %s;", emit_noise_key(e, src));
}

static void close_block(Emit *e)
{
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* Start a loop over every element of n (batch included) as `i`, each
 * element computed on its own (the noise is counter-based): with OpenMP,
 * threads share out large ones. */
static void open_loop(Emit *e, const Node *n)
{
	emit_raw(e, "#ifdef _OPENMP\n#pragma omp parallel for schedule(dynamic, 4096) if (%s >= 32768)\n#endif\n",
		 emit_count(e, n, 1));
	emit_line(e, "for (long i = 0; i < %s; i++)", emit_count(e, n, 1));
}

/* y = x, element by element: the evaluation form of the noise ops. */
static void emit_copy(Emit *e, Node *n)
{
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i];", emit_ref(e, n), emit_ref(e, n->in[0]));
}

/* Element i of the latent z = mu + exp(logvar / 2) eps, eps drawn from
 * stream `key` at `index` while stochastic (C names and expressions). */
static const char *gaussian_term(Emit *e, const char *z, const char *mu, const char *lv, const char *index)
{
	return xasprintf("%s[i] = %s[i] + (stochastic ? %s(%s * %s[i]) * (%s)%s_normal(key, %s) : 0);", z, mu, exp_fn(e),
			 emit_num(e, 0.5), lv, emit_real(e), emit_prefix(e), index);
}

/* Element i of the latent z of gaussian node n. */
static const char *gaussian_element(Emit *e, const Node *n)
{
	emit_helper(e, "normal");
	return gaussian_term(e, emit_ref(e, n), emit_ref(e, n->in[0]), emit_ref(e, n->in[1]), emit_noise_index(e, n));
}

static void kl_call(Emit *e, const Node *kl, const Node *z);

/* z = mu + exp(logvar / 2) eps with eps ~ N(0, 1) while stochastic: in
 * training with noise on, and in evaluation when NAME_loss_terms is given
 * a seed (the sampled ELBO); z = mu otherwise, so encode returns the mean.
 * With a kl_normal of the same mu and logvar as partner (fuse.c, in
 * training), one pass computes both. */
void c_gaussian(Emit *e, Node *n)
{
	const Node *kl = emit_partner(e, n);
	if (kl) {
		kl_call(e, kl, n);
		return;
	}
	open_stream(e, n);
	open_loop(e, n);
	emit_line(e, "\t%s", gaussian_element(e, n));
	close_block(e);
}

/* gaussian_dlogvar(logvar, dy, z): dy exp(logvar / 2) eps / 2, where eps is
 * drawn again from the stream of the forward node z (its values unread). */
void c_gaussian_dlogvar(Emit *e, Node *n)
{
	const char *d = emit_ref(e, n), *lv = emit_ref(e, n->in[0]), *dy = emit_ref(e, n->in[1]);
	open_stream(e, n->in[2]);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = stochastic ? %s * %s[i] * %s(%s * %s[i]) * (%s)%s(key, %s) : 0;", d,
		  emit_num(e, 0.5), dy, exp_fn(e), emit_num(e, 0.5), lv, emit_real(e), emit_helper(e, "normal"),
		  emit_noise_index(e, n));
	close_block(e);
}

/* The divisor of the reduction as a C expression (double); NULL for the sum. */
static const char *kl_divisor(Emit *e, const Node *n)
{
	switch (n->iattr[0]) {
	case KL_MEAN:
		return xasprintf("(double)(%s)", emit_batch_count(e, n->in[0]));
	case KL_BATCHMEAN:
		return "(double)batch_rows";
	default:
		return NULL;
	}
}

/* The KL term's sum for element i of mu and logvar. */
static const char kl_term[] = "sum += 1 + (double)logvar[i] - (double)mu[i] * mu[i] - exp((double)logvar[i]);";

void c_helper_kl_normal(Emit *e, const char *P, const char *r)
{
	(void)P;
	emit_raw(e, "/* The sum of 1 + logvar - mu^2 - e^logvar over count elements: -1/2 of it\n"
		    " * is the KL divergence of N(mu, e^logvar) from N(0, 1) (kl_normal). Unless\n"
		    " * z is NULL, the same pass draws the latent z = mu + e^(logvar / 2) eps,\n"
		    " * eps ~ N(0, 1) from stream key at index first + i, while stochastic\n"
		    " * (z = mu otherwise). */\n");
	emit_sum_function(e, "kl_normal",
			  xasprintf("const %s *mu, const %s *logvar, %s *z, int stochastic, uint64_t key, long first", r, r, r),
			  emit_sum_slice("z", xasprintf("%s\n%s", gaussian_term(e, "z", "mu", "logvar", "(uint64_t)(first + i)"), kl_term),
					 NULL, kl_term));
}

/* The KL term kl by its sum helper; with z, the gaussian node of the same
 * mu and logvar (its partner, fuse.c), the same call draws z. */
static void kl_call(Emit *e, const Node *kl, const Node *z)
{
	const char *more = "NULL, 0, 0, 0";
	if (z) {
		const size_t k = shape_elems(z->shape);
		more = xasprintf("%s, stochastic, %s, %s", emit_ref(e, z), emit_noise_key(e, z),
				 z->shape.batched ? xasprintf("batch_row0 * %zu", k) : "0");
	}
	emit_sum_call(e, kl, "-0.5 * ",
		      xasprintf("%s(%s, %s, %s", emit_sum_helper(e, "kl_normal"), emit_count(e, kl->in[0], 1),
				emit_ref(e, kl->in[0]), emit_ref(e, kl->in[1])),
		      more, kl_divisor(e, kl));
}

void c_kl_normal(Emit *e, Node *n) { kl_call(e, n, emit_partner(e, n)); }

void c_kl_normal_grad(Emit *e, Node *n)
{
	const char *d = emit_ref(e, n), *x = emit_ref(e, n->in[n->iattr[1]]), *r = emit_real(e);
	emit_line(e, "{");
	emit_indent(e, 1);
	const char *div = kl_divisor(e, n);
	if (div)
		emit_line(e, "const %s k = (%s)(%s / %s);", r, r, emit_scalar(e, n->in[2]), div);
	else
		emit_line(e, "const %s k = %s;", r, emit_scalar(e, n->in[2]));
	open_loop(e, n);
	if (n->iattr[1] == 0)
		emit_line(e, "\t%s[i] = k * %s[i];", d, x);
	else
		emit_line(e, "\t%s[i] = k * %s * (%s(%s[i]) - 1);", d, emit_num(e, 0.5), exp_fn(e), x);
	close_block(e);
}

void c_gaussian_noise(Emit *e, Node *n)
{
	if (!emit_training(e)) {
		emit_copy(e, n);
		return;
	}
	open_stream(e, n);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i] + (stochastic ? (%s)(%s * %s(key, %s)) : 0);", emit_ref(e, n),
		  emit_ref(e, n->in[0]), emit_real(e), emit_num(e, n->fattr[0]), emit_helper(e, "normal"),
		  emit_noise_index(e, n));
	close_block(e);
}

/* NaN stays NaN, as in torch.clamp. */
void c_clamp(Emit *e, Node *n)
{
	const char *lo = emit_num(e, n->fattr[0]), *hi = emit_num(e, n->fattr[1]);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i] < %s ? %s : %s[i] > %s ? %s : %s[i];", emit_ref(e, n), emit_ref(e, n->in[0]),
		  lo, lo, emit_ref(e, n->in[0]), hi, hi, emit_ref(e, n->in[0]));
}

/* clamp_grad(x, dy): dy where lo <= x <= hi, else 0 (torch.clamp's rule,
 * bounds included). Linear in dy, constant in x almost everywhere. */
void c_clamp_grad(Emit *e, Node *n)
{
	const char *x = emit_ref(e, n->in[0]);
	open_loop(e, n);
	emit_line(e, "\t%s[i] = %s[i] >= %s && %s[i] <= %s ? %s[i] : 0;", emit_ref(e, n), x,
		  emit_num(e, n->fattr[0]), x, emit_num(e, n->fattr[1]), emit_ref(e, n->in[1]));
}

/* v[i] = 0 with probability p, else k v[i]: element i of the stream `key`
 * is dropped when its uniform number falls below p. */
static void emit_masked(Emit *e, const Node *n, const Node *v)
{
	const char *k = n->fattr[1] == 1 ? "" : xasprintf("%s * ", emit_num(e, n->fattr[1]));
	open_loop(e, n);
	emit_line(e, "\t%s[i] = !stochastic ? %s[i] : %s(key, %s) < %.17g ? 0 : %s%s[i];", emit_ref(e, n),
		  emit_ref(e, v), emit_helper(e, "uniform"), emit_noise_index(e, n), n->fattr[0], k, emit_ref(e, v));
}

static void mask_emit(Emit *e, Node *n)
{
	if (!emit_training(e)) {
		emit_copy(e, n);
		return;
	}
	open_stream(e, n);
	emit_masked(e, n, n->in[0]);
	close_block(e);
}

void c_masking_noise(Emit *e, Node *n) { mask_emit(e, n); }
void c_dropout(Emit *e, Node *n) { mask_emit(e, n); }

/* mask_grad(dy, y): dy through the mask of the forward node y (masking
 * noise or dropout), drawn again from y's stream; y's values are unread.
 * Linear in dy, so its own gradient is the same mask. */
void c_mask_grad(Emit *e, Node *n)
{
	open_stream(e, n->in[1]);
	emit_masked(e, n, n->in[0]);
	close_block(e);
}
