/* gradcheck.c - finite-difference check of a generated model's gradient.
 *
 * Built against one model emitted with --dtype f64:
 *   cc -DMODEL=NAME -I DIR gradcheck.c DIR/NAME.c -lm
 * For every parameter tensor it compares NAME_gradient() with central
 * differences (L(p + h d) - L(p - h d)) / 2h of the loss it returns (in
 * training mode, noise off) along four unit directions d
 * over the whole tensor: the gradient's own direction and three random
 * ones. The error of a tensor is max |numeric - analytic| / |g|, where |g|
 * is the norm of the tensor's gradient. Directional differences move the
 * loss far more than single elements do, so the check stays well above
 * the rounding noise of the loss. Each difference is taken at step sizes
 * from h (argv[2], default 1e-3) down to at most h / 10^4 and read where
 * neighbouring steps agree best (it stops once two agree to a quarter of
 * the tolerance). Exits 1 if any tensor's error exceeds the
 * tolerance (argv[1], default 1e-6). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../driver.h"


static uint64_t rng = 0x2545f4914f6cdd1du;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

/* Random inputs in (0.05, 0.95): valid targets for bce too. */
static real *input(size_t elems)
{
	real *x = alloc(elems * sizeof *x);
	for (size_t i = 0; i < elems; i++)
		x[i] = (real)(0.05 + 0.9 * uniform());
	return x;
}

enum { N = 3 };
enum { STEPS = 9 }; /* step sizes tried, from h down to h / 10^4 */

#if UP(_NUM_INPUTS) == 1
static real *in0;
#define INPUTS in0,
static void make_inputs(void) { in0 = input(N * UP(_INPUT0_SIZE)); }
#elif UP(_NUM_INPUTS) == 2
static real *in0, *in1;
#define INPUTS in0, in1,
static void make_inputs(void)
{
	in0 = input(N * UP(_INPUT0_SIZE));
	in1 = input(N * UP(_INPUT1_SIZE));
}
#else
#error "gradcheck handles models with one or two inputs"
#endif

/* The objective NAME_gradient differentiates (the training-mode loss: batch
 * statistics, noise off as hp says) with the parameters moved by t * dir
 * over one tensor; `scratch` receives a gradient that is not used. */
static double loss_at(void *state, void *work, const FN(_hparams) *hp, real *scratch, real *params,
		      const real *save, const double *dir, size_t off, size_t size, double t)
{
	for (size_t i = 0; i < size; i++)
		params[off + i] = (real)(save[i] + t * dir[i]);
	return FN(_gradient)(state, work, INPUTS N, hp, scratch);
}

int main(int argc, char **argv)
{
	double tol = argc > 1 ? atof(argv[1]) : 1e-6, h = argc > 2 ? atof(argv[2]) : 1e-3, worst = 0;
	void *state = alloc(UP(_STATE_BYTES)), *work = alloc(UP(_WORK_BYTES));
	real *grad = alloc(UP(_PARAM_ELEMS) * sizeof(real)), *scratch = alloc(UP(_PARAM_ELEMS) * sizeof(real));
	make_inputs();
	FN(_init)(state, 7);
	real *params = FN(_params)(state);
	FN(_hparams) hp = FN(_default_hparams)();
	hp.stochastic = 0; /* the loss is deterministic: so must the gradient be */
	FN(_gradient)(state, work, INPUTS N, &hp, grad);
	int failed = 0;
	for (int t = 0; t < UP(_NUM_PARAMS); t++) {
		const FN(_param_info) *p = FN(_param)(t);
		real *save = alloc(p->size * sizeof *save);
		double *dir = alloc(p->size * sizeof *dir), gnorm = 0, rel = 0;
		memcpy(save, params + p->offset, p->size * sizeof *save);
		for (size_t i = 0; i < p->size; i++)
			gnorm += (double)grad[p->offset + i] * grad[p->offset + i];
		gnorm = sqrt(gnorm);
		/* Direction 0 is the gradient itself, then random unit directions. */
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
			/* Central differences at steps h, h/sqrt(10), h/10, ...: a large step
			 * can straddle a kink (ReLU, max pooling) and a small one drowns in
			 * rounding, so the estimate is taken where two neighbouring steps
			 * agree best, the plateau where both errors are small. */
			double prev = 0, num = 0, spread = INFINITY;
			for (int j = 0; j < STEPS && !(spread <= tol * gnorm / 4); j++) {
				double hj = h * pow(10, -0.5 * j);
				double d = (loss_at(state, work, &hp, scratch, params, save, dir, p->offset, p->size, hj) -
					    loss_at(state, work, &hp, scratch, params, save, dir, p->offset, p->size, -hj)) /
					   (2 * hj);
				if (j > 0 && fabs(d - prev) < spread) {
					spread = fabs(d - prev);
					num = d;
				}
				prev = d;
			}
			rel = fmax(rel, gnorm > 0 ? fabs(num - ana) / gnorm : fabs(num));
		}
		memcpy(params + p->offset, save, p->size * sizeof *save);
		free(save);
		free(dir);
		worst = fmax(worst, rel);
		int bad = !(rel <= tol) || gnorm == 0;
		failed |= bad;
		printf("%-24s %-28s rel %.3e  |g| %.3e%s\n", STR(MODEL), p->name, rel, gnorm,
		       bad ? (gnorm == 0 ? "  FAIL (zero gradient)" : "  FAIL") : "");
	}
	printf("%s: worst relative error %.3e (tolerance %.1e)\n", STR(MODEL), worst, tol);
	return failed;
}
