/* norm.c - the C rows of batch normalization and the buffer leaf
 * (ops/norm.c): batch statistics in double in the train step and the
 * gradient, the running statistics elsewhere. Requires: emit.h, attrs.h.
 * Provides: their rows. */
#include "attrs.h"
#include "emit.h"

/* ST_BUFFER values are pointers into the state the function declares (emit.c). */
void c_buffer(Emit *e, Node *n) { (void)e, (void)n; }

/* A value [n, C, d1, ...]: its C channels and the d1 ... positions of each. */
static int channels(const Node *x) { return x->shape.dims[0]; }
static size_t positions(const Node *x) { return shape_elems(x->shape) / (size_t)channels(x); }

/* Open `for (c) for (b) for (s)` over the elements of channel c of x, with
 * `i` the element's index; close with end_channel_loop. */
static void begin_channel_loop(Emit *e, const Node *x)
{
	emit_line(e, "for (long b = 0; b < n; b++)");
	emit_line(e, "\tfor (long s = 0; s < %zu; s++) {", positions(x));
	emit_line(e, "\t\tconst long i = (b * %d + c) * %zu + s;", channels(x), positions(x));
	emit_indent(e, 2);
}

static void end_channel_loop(Emit *e)
{
	emit_indent(e, -2);
	emit_line(e, "\t}");
}

/* y = x * a + (bias - mean * a) with a = invstd * weight, per channel. */
void c_batchnorm(Emit *e, Node *n)
{
	const Node *x = n->in[0];
	const char *r = emit_real(e), *st = emit_ref(e, n->in[1]);
	int c = channels(x);
	emit_line(e, "for (long c = 0; c < %d; c++) {", c);
	emit_indent(e, 1);
	emit_line(e, "const %s a = %s[%d + c] * %s[c];", r, st, ST_INVSTD * c, emit_ref(e, n->in[2]));
	emit_line(e, "const %s k = %s[c] - %s[c] * a;", r, emit_ref(e, n->in[3]), st);
	begin_channel_loop(e, x);
	emit_line(e, "%s[i] = %s[i] * a + k;", emit_ref(e, n), emit_ref(e, x));
	end_channel_loop(e);
	emit_indent(e, -1);
	emit_line(e, "}");
}

/* Batch statistics in double, as PyTorch accumulates them; the running
 * statistics blend in the unbiased variance (the biased one when a channel
 * has a single value, where the unbiased one does not exist). */
static void bn_stats_batch(Emit *e, Node *n)
{
	const Node *x = n->in[0];
	const char *r = emit_real(e), *st = emit_ref(e, n), *xr = emit_ref(e, x);
	const char *rm = emit_ref(e, n->in[1]), *rv = emit_ref(e, n->in[2]);
	int c = channels(x);
	double m = n->fattr[F_MOMENTUM];
	emit_line(e, "const double count = (double)n * %zu;", positions(x));
	emit_line(e, "for (long c = 0; c < %d; c++) {", c);
	emit_indent(e, 1);
	emit_line(e, "double sum = 0, sq = 0;");
	begin_channel_loop(e, x);
	emit_line(e, "sum += %s[i];", xr);
	end_channel_loop(e);
	emit_line(e, "const double mean = sum / count;");
	begin_channel_loop(e, x);
	emit_line(e, "const double d = %s[i] - mean;", xr);
	emit_line(e, "sq += d * d;");
	end_channel_loop(e);
	emit_line(e, "const double unbiased = count > 1 ? sq / (count - 1) : sq;");
	emit_line(e, "%s[%d + c] = (%s)mean;", st, ST_MEAN * c, r);
	emit_line(e, "%s[%d + c] = (%s)(1 / sqrt(sq / count + %.17g));", st, ST_INVSTD * c, r, n->fattr[F_EPS]);
	emit_line(e, "%s[%d + c] = (%s)(%.17g * mean + %.17g * %s[c]);", st, ST_NEW_MEAN * c, r, m, 1 - m, rm);
	emit_line(e, "%s[%d + c] = (%s)(%.17g * unbiased + %.17g * %s[c]);", st, ST_NEW_VAR * c, r, m, 1 - m, rv);
	emit_indent(e, -1);
	emit_line(e, "}");
}

static void bn_stats_running(Emit *e, Node *n)
{
	const char *r = emit_real(e), *st = emit_ref(e, n);
	const char *rm = emit_ref(e, n->in[1]), *rv = emit_ref(e, n->in[2]);
	int c = channels(n->in[0]);
	emit_line(e, "for (long c = 0; c < %d; c++) {", c);
	emit_line(e, "\t%s[%d + c] = %s[%d + c] = %s[c];", st, ST_MEAN * c, st, ST_NEW_MEAN * c, rm);
	emit_line(e, "\t%s[%d + c] = (%s)(1 / sqrt((double)%s[c] + %.17g));", st, ST_INVSTD * c, r, rv,
		  n->fattr[F_EPS]);
	emit_line(e, "\t%s[%d + c] = %s[c];", st, ST_NEW_VAR * c, rv);
	emit_line(e, "}");
}

void c_bn_stats(Emit *e, Node *n)
{
	emit_line(e, "{");
	emit_indent(e, 1);
	if (emit_training(e))
		bn_stats_batch(e, n);
	else
		bn_stats_running(e, n);
	emit_indent(e, -1);
	emit_line(e, "}");
}

void c_bn_reduce(Emit *e, Node *n)
{
	const Node *x = n->in[0];
	const char *st = emit_ref(e, n->in[1]), *dy = emit_ref(e, n->in[2]);
	int c = channels(x);
	emit_line(e, "for (long c = 0; c < %d; c++) {", c);
	emit_indent(e, 1);
	emit_line(e, "double acc = 0;");
	begin_channel_loop(e, x);
	if (n->iattr[0] == SUM_DY)
		emit_line(e, "acc += %s[i];", dy);
	else
		emit_line(e, "acc += (double)%s[i] * (%s[i] - %s[c]) * %s[%d + c];", dy, emit_ref(e, x), st, st,
			  ST_INVSTD * c);
	end_channel_loop(e);
	emit_line(e, "%s[c] = (%s)acc;", emit_ref(e, n), emit_real(e));
	emit_indent(e, -1);
	emit_line(e, "}");
}

void c_bn_dx(Emit *e, Node *n)
{
	const Node *x = n->in[0];
	const char *r = emit_real(e), *st = emit_ref(e, n->in[1]);
	int c = channels(x);
	emit_line(e, "{");
	emit_indent(e, 1);
	emit_line(e, "const double inv_count = 1 / ((double)n * %zu);", positions(x));
	emit_line(e, "for (long c = 0; c < %d; c++) {", c);
	emit_indent(e, 1);
	emit_line(e, "const %s mean = %s[c], invstd = %s[%d + c], k = %s[c] * invstd;", r, st, st, ST_INVSTD * c,
		  emit_ref(e, n->in[2]));
	emit_line(e, "const %s mean_dy = (%s)(%s[c] * inv_count), mean_dy_xn = (%s)(%s[c] * inv_count);", r, r,
		  emit_ref(e, n->in[4]), r, emit_ref(e, n->in[5]));
	begin_channel_loop(e, x);
	emit_line(e, "const %s xn = (%s[i] - mean) * invstd;", r, emit_ref(e, x));
	emit_line(e, "%s[i] = k * (%s[i] - mean_dy - xn * mean_dy_xn);", emit_ref(e, n), emit_ref(e, n->in[3]));
	end_channel_loop(e);
	emit_indent(e, -1);
	emit_line(e, "}");
	emit_indent(e, -1);
	emit_line(e, "}");
}
