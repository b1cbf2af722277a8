/* noise_check.c - checks of a generated model's random parts with the noise
 * on (gradcheck.c checks every model with it off).
 *
 * Built against one model emitted with --dtype f64:
 *   cc -DMODEL=NAME -DMODEL_UPPER=UPPER -I DIR noise_check.c DIR/NAME.c -lm
 *
 *   noise_check grad [TOL]
 *     NAME_gradient with noise on against central differences of the loss
 *     it returns, along four unit directions per parameter tensor (as
 *     gradcheck.c). The state's step count is left alone, so every call
 *     draws the same noise: the noisy loss is a fixed function of the
 *     parameters and its gradient must match. Also checks that the noise
 *     is drawn: the loss with noise on differs from the loss with it off,
 *     differs again under another noise key (another init seed, same
 *     parameters), and is the same when the call is repeated.
 *
 *   noise_check stats MEAN SQUARE TOL
 *     For a model `z = x |> dense(D) |> NOISE`, decoded by a clamp that
 *     cuts nothing, with loss mse(xhat, x, reduction = "sum"): every weight
 *     0 and bias 1 (so the noise acts on ones) and x = 0, the loss is the
 *     sum of z^2 over the batch, and the first bias's gradient is
 *     2 sum dz/dh z. Over MAX_BATCH rows, loss / count must be SQUARE and
 *     sum(gradient) / (2 count) must be MEAN, each within TOL; with the
 *     noise off, z must be 1 (the mean square within 1e-4 of 1, room for a
 *     small penalty such as a VAE's KL term taken as a mean).
 *
 * Exits 1 on failure. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../driver.h"

#if UP(_NUM_INPUTS) != 1
#error "noise_check handles models with one input"
#endif


static uint64_t rng = 0x9e3779b97f4a7c15u;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

/* The loss of NAME_gradient (noise as h says) with one tensor moved by t * dir. */
static double loss_at(void *state, void *work, const real *x, int n, const FN(_hparams) *h, real *grad,
		      const real *save, const double *dir, const FN(_param_info) *p, double t)
{
	real *params = FN(_params)(state);
	for (size_t i = 0; i < p->size; i++)
		params[p->offset + i] = (real)(save[i] + t * dir[i]);
	return FN(_gradient)(state, work, x, n, h, grad);
}

/* Largest |numeric - analytic| / |g| over four directions of tensor p. */
static double check_tensor(void *state, void *work, const real *x, int n, const FN(_hparams) *h,
			   const real *grad, const FN(_param_info) *p, double step, double *gnorm)
{
	real *params = FN(_params)(state), *scratch = alloc(UP(_PARAM_ELEMS) * sizeof(real));
	real *save = alloc(p->size * sizeof *save);
	double *dir = alloc(p->size * sizeof *dir), rel = 0, g2 = 0;
	memcpy(save, params + p->offset, p->size * sizeof *save);
	for (size_t i = 0; i < p->size; i++)
		g2 += (double)grad[p->offset + i] * grad[p->offset + i];
	*gnorm = sqrt(g2);
	for (int k = 0; k < 4; k++) {
		double norm = 0, ana = 0;
		for (size_t i = 0; i < p->size; i++) {
			dir[i] = k == 0 ? grad[p->offset + i] : uniform() - 0.5;
			norm += dir[i] * dir[i];
		}
		norm = sqrt(norm);
		for (size_t i = 0; i < p->size; i++) {
			dir[i] = norm > 0 ? dir[i] / norm : 0;
			ana += dir[i] * grad[p->offset + i];
		}
		double num = (loss_at(state, work, x, n, h, scratch, save, dir, p, step) -
			      loss_at(state, work, x, n, h, scratch, save, dir, p, -step)) / (2 * step);
		rel = fmax(rel, *gnorm > 0 ? fabs(num - ana) / *gnorm : fabs(num));
	}
	memcpy(params + p->offset, save, p->size * sizeof *save);
	free(scratch);
	free(save);
	free(dir);
	return rel;
}

static int grad_mode(double tol)
{
	enum { N = 3 };
	void *state = alloc(UP(_STATE_BYTES)), *other = alloc(UP(_STATE_BYTES)), *work = alloc(UP(_WORK_BYTES));
	real *grad = alloc(UP(_PARAM_ELEMS) * sizeof(real)), *x = alloc(N * UP(_INPUT0_SIZE) * sizeof(real));
	for (size_t i = 0; i < N * UP(_INPUT0_SIZE); i++)
		x[i] = (real)(0.05 + 0.9 * uniform());
	FN(_init)(state, 7);
	FN(_hparams) on = FN(_default_hparams)(), off = on;
	on.stochastic = 1;
	off.stochastic = 0;

	/* Noise is drawn, from the state's key, and reproducibly. */
	FN(_init)(other, 8);
	memcpy(FN(_params)(other), FN(_params)(state), UP(_PARAM_ELEMS) * sizeof(real));
	double l_off = FN(_gradient)(state, work, x, N, &off, grad);
	double l_other = FN(_gradient)(other, work, x, N, &on, grad);
	double l_on = FN(_gradient)(state, work, x, N, &on, grad);
	double l_again = FN(_gradient)(state, work, x, N, &on, grad);
	int failed = !(l_on != l_off) || !(l_on != l_other) || !(l_on == l_again);
	printf("%s: loss noise off %.9g, on %.9g, on with another key %.9g, on again %.9g%s\n", STR(MODEL), l_off,
	       l_on, l_other, l_again, failed ? "  FAIL" : "");

	/* grad now holds the gradient of the noisy loss. */
	double worst = 0;
	for (int t = 0; t < UP(_NUM_PARAMS); t++) {
		const FN(_param_info) *p = FN(_param)(t);
		double gnorm, rel = check_tensor(state, work, x, N, &on, grad, p, 1e-4, &gnorm);
		int bad = !(rel <= tol) || gnorm == 0;
		failed |= bad;
		worst = fmax(worst, rel);
		printf("%-24s %-28s rel %.3e  |g| %.3e%s\n", STR(MODEL), p->name, rel, gnorm,
		       bad ? (gnorm == 0 ? "  FAIL (zero gradient)" : "  FAIL") : "");
	}
	printf("%s: noise on, worst relative error %.3e (tolerance %.1e)\n", STR(MODEL), worst, tol);
	return failed;
}

static int stats_mode(double want_mean, double want_square, double tol)
{
	const int n = UP(_MAX_BATCH);
	const double count = (double)n * UP(_OUTPUT_SIZE);
	void *state = alloc(UP(_STATE_BYTES)), *work = alloc(UP(_WORK_BYTES));
	real *grad = alloc(UP(_PARAM_ELEMS) * sizeof(real)), *x = alloc(n * UP(_INPUT0_SIZE) * sizeof(real));
	FN(_init)(state, 7);
	real *params = FN(_params)(state);
	for (int t = 0; t < UP(_NUM_PARAMS); t++) {
		const FN(_param_info) *p = FN(_param)(t);
		for (size_t i = 0; i < p->size; i++)
			params[p->offset + i] = p->rank == 1 ? 1 : 0;
	}
	FN(_hparams) h = FN(_default_hparams)();
	h.stochastic = 0;
	double quiet = FN(_gradient)(state, work, x, n, &h, grad) / count;
	h.stochastic = 1;
	double square = FN(_gradient)(state, work, x, n, &h, grad) / count, sum = 0;
	const FN(_param_info) *bias = FN(_param)(1);
	for (size_t i = 0; i < bias->size; i++)
		sum += grad[bias->offset + i];
	double mean = sum / (2 * count);
	int failed = !(fabs(quiet - 1) <= 1e-4) || !(fabs(mean - want_mean) <= tol) ||
		     !(fabs(square - want_square) <= tol);
	printf("%s: %.0f draws: mean %.5f (expected %.5f), mean square %.5f (expected %.5f), std %.5f; "
	       "noise off %.5f%s\n", STR(MODEL), count, mean, want_mean, square, want_square,
	       sqrt(fmax(square - mean * mean, 0)), quiet, failed ? "  FAIL" : "");
	return failed;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "grad"))
		return grad_mode(argc > 2 ? atof(argv[2]) : 1e-6);
	if (argc == 5 && !strcmp(argv[1], "stats"))
		return stats_mode(atof(argv[2]), atof(argv[3]), atof(argv[4]));
	fputs("usage: noise_check grad [TOL] | noise_check stats MEAN SQUARE TOL\n", stderr);
	return 2;
}
