/* test_schedule.c - the training controls of schedule.c on their own:
 * each schedule's learning rate epoch by epoch (PyTorch's values, printed
 * by its StepLR, CosineAnnealingLR and ReduceLROnPlateau), the best-epoch
 * monitor, the validation split, and the schedule's text form. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aecc_rt.h"

/* The rates of epochs 1..n of s at base lr over `epochs` epochs; plateau
 * observes val[e - 1] after epoch e. */
static void rates(const aert_schedule *s, double lr, long long epochs, const double *val, int n, double *out)
{
	aert_scheduler r;
	aert_scheduler_start(&r, s, lr, epochs);
	for (int e = 1; e <= n; e++) {
		out[e - 1] = aert_scheduler_lr(&r, e);
		aert_scheduler_observe(&r, val ? val[e - 1] : 0);
	}
}

Test(schedule, none_keeps_the_rate)
{
	aert_schedule s = {AERT_SCHEDULE_NONE};
	const double val[3] = {3, 4, 5};
	double lr[3];
	rates(&s, 0.01, 3, val, 3, lr);
	for (int e = 0; e < 3; e++)
		cr_assert_eq(lr[e], 0.01);
}

Test(schedule, step_multiplies_as_steplr_does)
{
	/* StepLR(step_size = 2, gamma = 0.3) from 0.1: 0.1, 0.1, 0.03, 0.03,
	 * 0.009, 0.009, 0.0026999999999999997 (PyTorch 1.13's own values) */
	aert_schedule s = {.kind = AERT_SCHEDULE_STEP, .every = 2, .factor = 0.3};
	const double want[7] = {0.1, 0.1, 0.03, 0.03, 0.009, 0.009, 0.0026999999999999997};
	double lr[7];
	rates(&s, 0.1, 7, NULL, 7, lr);
	for (int e = 0; e < 7; e++)
		cr_assert_eq(lr[e], want[e], "epoch %d: %.17g, want %.17g", e + 1, lr[e], want[e]);
}

Test(schedule, cosine_is_cosineannealinglr)
{
	/* CosineAnnealingLR(T_max = 5, eta_min = 1e-5) from 1e-3, PyTorch's
	 * values; its recursive form and the closed form differ in the last bit */
	aert_schedule s = {.kind = AERT_SCHEDULE_COSINE, .min_lr = 1e-5};
	const double want[5] = {0.001, 0.000905463412215599, 0.000657963412215599, 0.0003520365877844011,
				0.00010453658778440106};
	double lr[5];
	rates(&s, 1e-3, 5, NULL, 5, lr);
	cr_assert_eq(lr[0], 1e-3, "the first epoch at the base rate");
	for (int e = 0; e < 5; e++)
		cr_assert(fabs(lr[e] - want[e]) <= 1e-18, "epoch %d: %.17g, want %.17g", e + 1, lr[e], want[e]);
	/* the period is the run's epochs: over 2 epochs the second is at the middle */
	rates(&s, 1e-3, 2, NULL, 2, lr);
	cr_assert(fabs(lr[1] - (1e-5 + (1e-3 - 1e-5) / 2)) <= 1e-18, "%.17g", lr[1]);
}

Test(schedule, plateau_is_reducelronplateau)
{
	/* ReduceLROnPlateau(factor = 0.5, patience = 1, threshold = 1e-4), the
	 * rates PyTorch gives for these losses: a loss improves when it is below
	 * best * (1 - 1e-4), and the rate halves after the second epoch in a
	 * row that does not */
	aert_schedule s = {.kind = AERT_SCHEDULE_PLATEAU, .factor = 0.5, .patience = 1, .threshold = 1e-4};
	const double val[10] = {10, 9, 9.5, 9.2, 9.0, 8.99995, 7, 8, 8, 8};
	const double want[10] = {1, 1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125};
	double lr[10];
	rates(&s, 1, 10, val, 10, lr);
	for (int e = 0; e < 10; e++)
		cr_assert_eq(lr[e], want[e], "epoch %d: %g, want %g", e + 1, lr[e], want[e]);

	aert_scheduler r;
	aert_scheduler_start(&r, &s, 1, 10);
	cr_assert_eq(aert_scheduler_observe(&r, 5), 0);
	cr_assert_eq(aert_scheduler_observe(&r, 5), 0, "the first epoch without improvement is waited for");
	cr_assert_eq(aert_scheduler_observe(&r, 5), 1, "the second lowers the rate");
	cr_assert_eq(r.lr, 0.5);
	cr_assert_eq(aert_scheduler_observe(&r, NAN), 0, "NaN is no improvement");
	cr_assert_eq(aert_scheduler_observe(&r, 4.9996), 1, "nor is less than the threshold better");
}

Test(schedule, plateau_stops_at_min_lr)
{
	aert_schedule s = {.kind = AERT_SCHEDULE_PLATEAU, .factor = 0.1, .patience = 0, .min_lr = 0.003};
	aert_scheduler r;
	aert_scheduler_start(&r, &s, 0.1, 10);
	aert_scheduler_observe(&r, 1);
	cr_assert_eq(aert_scheduler_observe(&r, 1), 1);
	cr_assert_eq(r.lr, 0.1 * 0.1);
	cr_assert_eq(aert_scheduler_observe(&r, 1), 1);
	cr_assert_eq(r.lr, 0.003, "not below min_lr");
	cr_assert_eq(aert_scheduler_observe(&r, 1), 0, "already there");
	cr_assert_eq(r.lr, 0.003);
	/* as PyTorch (eps = 1e-8), a step of less than 1e-8 is not taken */
	aert_scheduler_start(&r, &s, 1e-8, 10);
	aert_scheduler_observe(&r, 1);
	cr_assert_eq(aert_scheduler_observe(&r, 1), 0);
	cr_assert_eq(r.lr, 1e-8);
}

Test(schedule, monitor_counts_as_earlystopping)
{
	aert_monitor w;
	aert_monitor_start(&w, 0.01);
	cr_assert_eq(aert_monitor_observe(&w, 1, 5), 1, "the first epoch is the best so far");
	cr_assert_eq(aert_monitor_observe(&w, 2, 4), 1);
	cr_assert_eq(aert_monitor_observe(&w, 3, 4.05), 0);
	cr_assert_eq(w.wait, 1);
	cr_assert_eq(aert_monitor_observe(&w, 4, 3.995), 0, "less than min_delta better is no better");
	cr_assert_eq(w.wait, 2);
	cr_assert_eq(w.best_epoch, 2);
	cr_assert_eq(w.best, 4);
	cr_assert_eq(aert_monitor_observe(&w, 5, 3.5), 1);
	cr_assert_eq(w.wait, 0);
	cr_assert_eq(w.best_epoch, 5);
	cr_assert_eq(aert_monitor_observe(&w, 6, NAN), 0);
}

/* ---- the validation split ---- */

static void split(size_t n, double f, uint64_t seed, size_t *val, size_t *nv, size_t *train, size_t *nt)
{
	aert_err err;
	cr_assert_eq(aert_split(n, f, seed, val, nv, train, nt, &err), 0, "%s", err.msg);
}

Test(schedule, split_is_disjoint_complete_and_fixed_by_the_seed)
{
	enum { N = 1000 };
	static size_t val[N], train[N], val2[N], train2[N];
	size_t nv, nt, nv2, nt2;
	split(N, 0.1, 7, val, &nv, train, &nt);
	cr_assert_eq(nv, 100);
	cr_assert_eq(nt, 900);
	static char seen[N];
	for (size_t i = 0; i < nv; i++) {
		cr_assert(val[i] < N && !seen[val[i]], "val[%zu] = %zu", i, val[i]);
		seen[val[i]] = 1;
		cr_assert(i == 0 || val[i] > val[i - 1], "ascending");
	}
	for (size_t i = 0; i < nt; i++) {
		cr_assert(train[i] < N && !seen[train[i]], "train[%zu] = %zu is held out too", i, train[i]);
		seen[train[i]] = 1;
		cr_assert(i == 0 || train[i] > train[i - 1], "ascending");
	}
	split(N, 0.1, 7, val2, &nv2, train2, &nt2);
	cr_assert_eq(nv2, nv);
	cr_assert_arr_eq(val2, val, nv * sizeof *val, "the same seed, the same split");
	cr_assert_arr_eq(train2, train, nt * sizeof *train);
	split(N, 0.1, 8, val2, &nv2, train2, &nt2);
	cr_assert_neq(memcmp(val2, val, nv * sizeof *val), 0, "another seed, another split");
	/* not a block: the held-out samples are spread over the file */
	cr_assert_lt(val[0], 100);
	cr_assert_gt(val[nv - 1], 900);
}

Test(schedule, split_sizes)
{
	size_t val[10], train[10], nv, nt;
	split(10, 0.25, 1, val, &nv, train, &nt);
	cr_assert_eq(nv, 3, "ceil(0.25 * 10)");
	cr_assert_eq(nt, 7);
	split(2, 0.01, 1, val, &nv, train, &nt);
	cr_assert_eq(nv, 1);
	aert_err err;
	cr_assert_eq(aert_split(5, 0.9, 1, val, &nv, train, &nt, &err), -1);
	cr_assert_str_eq(err.msg, "validate 0.9 of 5 samples leaves none to train on");
	cr_assert_eq(aert_split(1, 0.5, 1, val, &nv, train, &nt, &err), -1);
	cr_assert_eq(aert_split(10, 0, 1, val, &nv, train, &nt, &err), -1);
	cr_assert_str_eq(err.msg, "validate must be in (0, 1), got 0");
}

/* ---- the text form (--schedule) ---- */

Test(schedule, parse)
{
	aert_schedule s;
	aert_err err;
	cr_assert_eq(aert_schedule_parse("cosine", &s, &err), 0, "%s", err.msg);
	cr_assert(s.kind == AERT_SCHEDULE_COSINE && s.min_lr == 0);
	cr_assert_eq(aert_schedule_parse(" cosine ( min_lr = 1e-5 ) ", &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.min_lr, 1e-5);
	cr_assert_eq(aert_schedule_parse("step(every=10, factor = 0.5)", &s, &err), 0, "%s", err.msg);
	cr_assert(s.kind == AERT_SCHEDULE_STEP && s.every == 10 && s.factor == 0.5);
	cr_assert_eq(aert_schedule_parse("step(every = 3)", &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.factor, AERT_STEP_FACTOR, "PyTorch's gamma");
	cr_assert_eq(aert_schedule_parse("plateau", &s, &err), 0, "%s", err.msg);
	cr_assert(s.kind == AERT_SCHEDULE_PLATEAU && s.factor == 0.1 && s.patience == 10 && s.threshold == 1e-4 &&
		  s.min_lr == 0, "PyTorch's defaults");
	cr_assert_eq(aert_schedule_parse("plateau(patience = 2, factor = 0.5)", &s, &err), 0, "%s", err.msg);
	cr_assert(s.patience == 2 && s.factor == 0.5 && s.threshold == 1e-4);
	cr_assert_eq(aert_schedule_parse("none", &s, &err), 0, "%s", err.msg);
	cr_assert_eq(s.kind, AERT_SCHEDULE_NONE);
	cr_assert_eq(aert_schedule_parse("plateau()", &s, &err), 0, "%s", err.msg);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"linear", "unknown schedule 'linear' (expected none, step(every = N, factor = F), cosine(min_lr = X) or "
			   "plateau(factor = F, patience = N, threshold = T, min_lr = X))"},
		{"", "unknown schedule ''"},
		{"step", "step needs every = N, the epochs between reductions"},
		{"step(every = 0)", "step: every must be an integer from 1, got 0"},
		{"step(every = 2.5)", "step: every must be an integer from 1, got 2.5"},
		{"step(every = 2, factor = 1)", "factor must be in (0, 1), got 1"},
		{"plateau(factor = 0)", "factor must be in (0, 1), got 0"},
		{"plateau(patience = -1)", "plateau: patience must be an integer from 0, got -1"},
		{"plateau(threshold = 1)", "plateau: threshold must be in [0, 1), got 1"},
		{"cosine(min_lr = -1)", "min_lr must be a number from 0, got -1"},
		{"cosine(every = 2)", "cosine has no argument 'every'"},
		{"cosine(0.1)", "cosine has no argument '0.1'"},
		{"cosine(min_lr 0.1)", "cosine: write its arguments as min_lr = VALUE"},
		{"cosine(min_lr = x)", "cosine: min_lr must be a number"},
		{"cosine(min_lr = 0 0)", "cosine: expected ',' or ')'"},
		{"cosine x", "unexpected 'x' after the schedule cosine"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(aert_schedule_parse(bad[i].text, &s, &err), -1, "'%s' parsed", bad[i].text);
		cr_assert_eq(strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)), 0, "'%s': %s", bad[i].text, err.msg);
	}
}
