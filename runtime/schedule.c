/* schedule.c - the training controls the trainer applies between epochs:
 * learning-rate schedules (aert_schedule_*, aert_scheduler_*, each as the
 * PyTorch scheduler of its name computes it), the best-epoch monitor of
 * early stopping and --save-best (aert_monitor_*, as Keras' EarlyStopping
 * counts), and the validation split (aert_split). */
#include "common.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

/* ---- schedules ---- */

int aert_schedule_check(const aert_schedule *s, aert_err *err)
{
	int factor = s->kind == AERT_SCHEDULE_STEP || s->kind == AERT_SCHEDULE_PLATEAU;
	int min_lr = s->kind == AERT_SCHEDULE_COSINE || s->kind == AERT_SCHEDULE_PLATEAU;
	if (s->kind < AERT_SCHEDULE_NONE || s->kind > AERT_SCHEDULE_PLATEAU)
		return aert_fail(err, NULL, "unknown schedule kind %d", (int)s->kind);
	if (s->kind == AERT_SCHEDULE_STEP && s->every < 1)
		return aert_fail(err, NULL, "step: every must be an integer from 1, got %lld", s->every);
	if (factor && !(s->factor > 0 && s->factor < 1))
		return aert_fail(err, NULL, "factor must be in (0, 1), got %g", s->factor);
	if (s->kind == AERT_SCHEDULE_PLATEAU && s->patience < 0)
		return aert_fail(err, NULL, "plateau: patience must be an integer from 0, got %lld", s->patience);
	if (s->kind == AERT_SCHEDULE_PLATEAU && !(s->threshold >= 0 && s->threshold < 1))
		return aert_fail(err, NULL, "plateau: threshold must be in [0, 1), got %g", s->threshold);
	if (min_lr && !(s->min_lr >= 0 && isfinite(s->min_lr)))
		return aert_fail(err, NULL, "min_lr must be a number from 0, got %g", s->min_lr);
	return 0;
}

/* What each schedule is called and which arguments it takes. */
static const struct {
	const char *name;
	aert_schedule_kind kind;
	const char *args[4]; /* keyword arguments, NULL-terminated */
} SCHEDULES[] = {
	{"none", AERT_SCHEDULE_NONE, {NULL}},
	{"step", AERT_SCHEDULE_STEP, {"every", "factor", NULL}},
	{"cosine", AERT_SCHEDULE_COSINE, {"min_lr", NULL}},
	{"plateau", AERT_SCHEDULE_PLATEAU, {"factor", "patience", "threshold", "min_lr"}},
};
enum { N_SCHEDULES = sizeof SCHEDULES / sizeof SCHEDULES[0] };

static const char EXPECTED[] = "none, step(every = N, factor = F), cosine(min_lr = X) or "
			       "plateau(factor = F, patience = N, threshold = T, min_lr = X)";

static const char *skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* An identifier at p: its length (0 if none). */
static size_t ident_len(const char *p)
{
	size_t n = 0;
	if (isalpha((unsigned char)*p) || *p == '_')
		while (isalnum((unsigned char)p[n]) || p[n] == '_')
			n++;
	return n;
}

/* Set argument `key` (len bytes) of s to the number at *p, moving *p past it. */
static int parse_arg(aert_schedule *s, const char *name, const char *key, size_t len, const char **p, aert_err *err)
{
	char *end;
	double v = strtod(*p, &end);
	if (end == *p || !isfinite(v))
		return aert_fail(err, NULL, "%s: %.*s must be a number", name, (int)len, key);
	*p = end;
	if (len == 5 && !memcmp(key, "every", 5)) {
		if (v != floor(v) || v < 1 || v > 1e9)
			return aert_fail(err, NULL, "%s: every must be an integer from 1, got %g", name, v);
		s->every = (long long)v;
	} else if (len == 8 && !memcmp(key, "patience", 8)) {
		if (v != floor(v) || v < 0 || v > 1e9)
			return aert_fail(err, NULL, "%s: patience must be an integer from 0, got %g", name, v);
		s->patience = (long long)v;
	} else if (len == 6 && !memcmp(key, "factor", 6)) {
		s->factor = v;
	} else if (len == 9 && !memcmp(key, "threshold", 9)) {
		s->threshold = v;
	} else {
		s->min_lr = v;
	}
	return 0;
}

int aert_schedule_parse(const char *text, aert_schedule *out, aert_err *err)
{
	const char *p = skip_space(text);
	size_t len = ident_len(p);
	int k = 0;
	while (k < N_SCHEDULES && !(strlen(SCHEDULES[k].name) == len && !memcmp(p, SCHEDULES[k].name, len)))
		k++;
	if (k == N_SCHEDULES)
		return aert_fail(err, NULL, "unknown schedule '%s' (expected %s)", text, EXPECTED);
	const char *name = SCHEDULES[k].name;
	aert_schedule s = {.kind = SCHEDULES[k].kind};
	if (s.kind == AERT_SCHEDULE_STEP)
		s.factor = AERT_STEP_FACTOR;
	if (s.kind == AERT_SCHEDULE_PLATEAU) {
		s.factor = AERT_PLATEAU_FACTOR;
		s.patience = AERT_PLATEAU_PATIENCE;
		s.threshold = AERT_PLATEAU_THRESHOLD;
	}
	p = skip_space(p + len);
	if (*p == '(') {
		p = skip_space(p + 1);
		while (*p != ')') {
			const char *key = p;
			size_t klen = ident_len(p);
			int known = 0;
			for (int a = 0; a < 4 && SCHEDULES[k].args[a]; a++)
				known |= strlen(SCHEDULES[k].args[a]) == klen && !memcmp(key, SCHEDULES[k].args[a], klen);
			if (!known)
				return aert_fail(err, NULL, "%s has no argument '%.*s' (expected %s)", name,
						 (int)(klen ? klen : strcspn(key, ",)")), key, EXPECTED);
			p = skip_space(p + klen);
			if (*p != '=')
				return aert_fail(err, NULL, "%s: write its arguments as %.*s = VALUE", name, (int)klen, key);
			p = skip_space(p + 1);
			if (parse_arg(&s, name, key, klen, &p, err) != 0)
				return -1;
			p = skip_space(p);
			if (*p == ',')
				p = skip_space(p + 1);
			else if (*p != ')')
				return aert_fail(err, NULL, "%s: expected ',' or ')' in '%s'", name, text);
		}
		p = skip_space(p + 1);
	}
	if (*p)
		return aert_fail(err, NULL, "unexpected '%s' after the schedule %s", p, name);
	if (s.kind == AERT_SCHEDULE_STEP && s.every == 0)
		return aert_fail(err, NULL, "step needs every = N, the epochs between reductions");
	if (aert_schedule_check(&s, err) != 0)
		return -1;
	*out = s;
	return 0;
}

void aert_scheduler_start(aert_scheduler *r, const aert_schedule *s, double lr, long long epochs)
{
	*r = (aert_scheduler){.s = *s, .base_lr = lr, .lr = lr, .epochs = epochs, .best = HUGE_VAL};
}

double aert_scheduler_lr(aert_scheduler *r, long long epoch)
{
	const aert_schedule *s = &r->s;
	if (s->kind == AERT_SCHEDULE_STEP) {
		/* StepLR multiplies the rate it has by the factor every `every`
		 * epochs: the same products in the same order */
		double lr = r->base_lr;
		for (long long k = (epoch - 1) / s->every; k > 0; k--)
			lr *= s->factor;
		r->lr = lr;
	} else if (s->kind == AERT_SCHEDULE_COSINE) {
		/* CosineAnnealingLR's closed form, epoch e - 1 of T_max = epochs */
		const double pi = 3.14159265358979323846;
		r->lr = s->min_lr + (r->base_lr - s->min_lr) * (1 + cos(pi * (double)(epoch - 1) / (double)r->epochs)) / 2;
	}
	return r->lr;
}

int aert_scheduler_observe(aert_scheduler *r, double val_loss)
{
	const aert_schedule *s = &r->s;
	if (s->kind != AERT_SCHEDULE_PLATEAU)
		return 0;
	/* ReduceLROnPlateau in mode "min", threshold_mode "rel", cooldown 0 */
	if (val_loss < r->best * (1 - s->threshold)) {
		r->best = val_loss;
		r->bad = 0;
	} else {
		r->bad++;
	}
	if (r->bad <= s->patience)
		return 0;
	r->bad = 0;
	double lower = r->lr * s->factor > s->min_lr ? r->lr * s->factor : s->min_lr;
	if (r->lr - lower <= 1e-8)
		return 0;
	r->lr = lower;
	return 1;
}

/* ---- the best epoch ---- */

void aert_monitor_start(aert_monitor *w, double min_delta)
{
	*w = (aert_monitor){.min_delta = min_delta, .best = HUGE_VAL};
}

int aert_monitor_observe(aert_monitor *w, long long epoch, double loss)
{
	if (loss < w->best - w->min_delta) {
		w->best = loss;
		w->best_epoch = epoch;
		w->wait = 0;
		return 1;
	}
	w->wait++;
	return 0;
}

/* ---- the validation split ---- */

/* Mixed into the seed, so that the split's draws are not the shuffle's. */
#define SPLIT_SALT 0x76616c6964617465ull /* "validate" */

static int by_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

int aert_split(size_t n, double fraction, uint64_t seed, size_t *val, size_t *n_val, size_t *train,
	       size_t *n_train, aert_err *err)
{
	if (!(fraction > 0 && fraction < 1))
		return aert_fail(err, NULL, "validate must be in (0, 1), got %g", fraction);
	size_t held = (size_t)ceil(fraction * (double)n);
	if (held >= n)
		return aert_fail(err, NULL, "validate %g of %zu samples leaves none to train on", fraction, n);
	size_t *perm = malloc((n ? n : 1) * sizeof *perm);
	if (!perm)
		return aert_fail(err, NULL, "out of memory for %zu sample indices", n);
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	aert_rng rng;
	aert_rng_seed(&rng, seed ^ SPLIT_SALT);
	aert_shuffle(perm, n, &rng);
	memcpy(val, perm, held * sizeof *perm);
	memcpy(train, perm + held, (n - held) * sizeof *perm);
	free(perm);
	qsort(val, held, sizeof *val, by_index);
	qsort(train, n - held, sizeof *train, by_index);
	*n_val = held;
	*n_train = n - held;
	return 0;
}
