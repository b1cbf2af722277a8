/* weights.c - the weights of an export: a safetensors file read into one
 * block of the model's reals by the runtime's loader (its checks: every
 * tensor present with the model's shape, the file sound), and the block
 * written as C literals that read back to the same bits.
 * Requires: a planned model. Provides: export_load_weights(),
 * export_literals(). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aecc_rt.h"
#include "export.h"

/* One tensor of the block for the runtime's loader. */
static aert_tensor tensor(const char *name, Shape s, aert_dtype dtype, void *data)
{
	aert_tensor t = {name, dtype, s.rank, {0}, data};
	for (int d = 0; d < s.rank; d++)
		t.dims[d] = (size_t)s.dims[d];
	return t;
}

void *export_load_weights(Model *m, const char *path)
{
	Graph *g = m->g;
	size_t real = m->f64 ? 8 : 4, elems = g->param_elems + g->buffer_elems;
	aert_dtype dtype = m->f64 ? AERT_F64 : AERT_F32;
	unsigned char *block = xcalloc(elems ? elems : 1, real);
	int64_t *counters = xcalloc(g->counter_elems + 1, sizeof *counters);
	int n = g->params.len + g->buffers.len;
	aert_tensor *t = xcalloc((size_t)n + 1, sizeof *t);
	int *found = xcalloc((size_t)n + 1, sizeof *found);
	for (int i = 0; i < g->params.len; i++) {
		Param *p = g->params.data[i];
		t[i] = tensor(p->name, p->shape, dtype, block + p->offset * real);
	}
	for (int i = 0; i < g->buffers.len; i++) {
		Buffer *b = g->buffers.data[i];
		aert_tensor *bt = &t[g->params.len + i];
		if (b->kind == BUF_COUNTER) { /* not read at inference */
			*bt = tensor(b->name, b->shape, AERT_I64, counters + b->offset);
			found[g->params.len + i] = 1;
		} else {
			*bt = tensor(b->name, b->shape, dtype, block + (g->param_elems + b->offset) * real);
		}
	}
	aert_err err;
	if (aert_st_load(path, t, (size_t)n, found, &err) != 0) {
		diag_plain("%s", err.msg);
		return NULL;
	}
	/* A weight that is not a number would make every output one. */
	for (int i = 0; i < n; i++) {
		if (t[i].dtype == AERT_I64)
			continue;
		size_t count = 1;
		for (int d = 0; d < t[i].rank; d++)
			count *= t[i].dims[d];
		for (size_t k = 0; k < count; k++) {
			double v = m->f64 ? ((double *)t[i].data)[k] : ((float *)t[i].data)[k];
			if (!isfinite(v)) {
				diag_plain("%s: tensor %s has %s at element %zu: no inference to export", path, t[i].name,
					   isnan(v) ? "NaN" : "an infinity", k);
				return NULL;
			}
		}
	}
	return block;
}

/* 1 if v printed with prec significant digits into buf reads back to the
 * same float (or double). */
static int reads_back(char *buf, size_t size, double v, int f64, int prec)
{
	snprintf(buf, size, "%.*g", prec, v);
	if (f64) {
		double back = strtod(buf, NULL);
		return !memcmp(&back, &v, sizeof v);
	}
	float back = strtof(buf, NULL), want = (float)v;
	return !memcmp(&back, &want, sizeof want);
}

/* v as the shortest decimal that reads back to the same float (or double):
 * "0.5f", "-1.25e-05f", "0.0f". 9 digits always do for a float, 17 for a
 * double; the search starts at 7. */
static const char *literal(double v, int f64)
{
	static char buf[48];
	int prec = 7;
	if (reads_back(buf, sizeof buf, v, f64, prec)) {
		while (prec > 1 && reads_back(buf, sizeof buf, v, f64, prec - 1))
			prec--;
	} else {
		while (!reads_back(buf, sizeof buf, v, f64, ++prec))
			;
	}
	reads_back(buf, sizeof buf, v, f64, prec);
	if (!strpbrk(buf, ".e"))
		strcat(buf, ".0");
	if (!f64)
		strcat(buf, "f");
	return buf;
}

void export_literals(Buf *o, const void *block, int f64, size_t from, size_t count)
{
	for (size_t k = 0; k < count; k++) {
		double v = f64 ? ((const double *)block)[from + k] : ((const float *)block)[from + k];
		buf_printf(o, "%s%s%s", k % 8 ? " " : "\t", literal(v, f64), k % 8 == 7 || k + 1 == count ? ",\n" : ",");
	}
}
