/* stats.c - the statistics of the model commands: ROC-AUC, average
 * precision, percentiles (PyOD's threshold), principal components, and a
 * multinomial logistic-regression probe. */
#include "common.h"

#include <math.h>
#include <stdlib.h>

typedef struct ranked {
	double score;
	int positive;
} ranked;

/* Highest score first. */
static int by_score_desc(const void *a, const void *b)
{
	double x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
	return x < y ? 1 : x > y ? -1 : 0;
}

static ranked *rank_scores(const double *score, const int *positive, size_t n)
{
	ranked *r = malloc((n ? n : 1) * sizeof *r);
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++)
		r[i] = (ranked){score[i], positive[i] != 0};
	qsort(r, n, sizeof *r, by_score_desc);
	return r;
}

/* The probability that a random positive scores above a random negative,
 * ties counting one half (the Mann-Whitney statistic, as scikit-learn's
 * roc_auc_score). NAN without both classes or memory. */
double aert_roc_auc(const double *score, const int *positive, size_t n)
{
	ranked *r = rank_scores(score, positive, n);
	if (!r)
		return NAN;
	double pos = 0, neg = 0, above = 0; /* negatives above the current group */
	double area = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		double p = 0, q = 0;
		for (; j < n && r[j].score == r[i].score; j++)
			r[j].positive ? p++ : q++;
		/* positives of this group beat the negatives below, tie with q */
		area += p * above + 0.5 * p * q;
		above += q;
		pos += p;
		neg += q;
		i = j;
	}
	free(r);
	if (pos == 0 || neg == 0)
		return NAN;
	/* area counts (positive, negative) pairs with the negative above */
	return 1 - area / (pos * neg);
}

/* Average precision: the sum over thresholds of precision times the gain
 * in recall, with tied scores one threshold (scikit-learn's
 * average_precision_score). NAN without positives. */
double aert_average_precision(const double *score, const int *positive, size_t n)
{
	ranked *r = rank_scores(score, positive, n);
	if (!r)
		return NAN;
	double pos = 0;
	for (size_t i = 0; i < n; i++)
		pos += r[i].positive;
	double tp = 0, ap = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		double gain = 0;
		for (; j < n && r[j].score == r[i].score; j++)
			gain += r[j].positive;
		tp += gain;
		ap += (gain / pos) * (tp / (double)j);
		i = j;
	}
	free(r);
	return pos ? ap : NAN;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

/* The q-th percentile (0..100) with linear interpolation between the two
 * nearest ranks, as numpy.percentile's default. */
double aert_percentile(const double *v, size_t n, double q)
{
	if (n == 0)
		return NAN;
	double *s = malloc(n * sizeof *s);
	if (!s)
		return NAN;
	memcpy(s, v, n * sizeof *s);
	qsort(s, n, sizeof *s, by_value);
	double pos = q / 100 * (double)(n - 1);
	size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
	double out = s[lo] + (s[hi] - s[lo]) * (pos - (double)lo);
	free(s);
	return out;
}

/* The two leading principal axes of x (n rows of d), by power iteration on
 * the covariance with deflation; each row is projected onto them into
 * out (n x 2). */
int aert_pca2(const double *x, size_t n, size_t d, double *out)
{
	double *mean = calloc(d, sizeof *mean), *cov = calloc(d * d, sizeof *cov), *axis = malloc(2 * d * sizeof *axis);
	double *t = malloc(d * sizeof *t);
	if (!mean || !cov || !axis || !t) {
		free(mean), free(cov), free(axis), free(t);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			mean[j] += x[i * d + j] / (double)n;
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; a < d; a++)
			for (size_t b = 0; b <= a; b++)
				cov[a * d + b] += (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b]);
	for (size_t a = 0; a < d; a++)
		for (size_t b = 0; b < a; b++)
			cov[b * d + a] = cov[a * d + b];
	for (int k = 0; k < 2; k++) {
		double *v = axis + (size_t)k * d;
		for (size_t j = 0; j < d; j++)
			v[j] = 1 + 0.01 * (double)j; /* not orthogonal to the leading axes */
		for (int it = 0; it < 500; it++) {
			double norm = 0;
			for (size_t a = 0; a < d; a++) {
				t[a] = 0;
				for (size_t b = 0; b < d; b++)
					t[a] += cov[a * d + b] * v[b];
			}
			for (int p = 0; p < k; p++) { /* deflate: stay orthogonal to earlier axes */
				double dot = 0;
				for (size_t a = 0; a < d; a++)
					dot += t[a] * axis[(size_t)p * d + a];
				for (size_t a = 0; a < d; a++)
					t[a] -= dot * axis[(size_t)p * d + a];
			}
			for (size_t a = 0; a < d; a++)
				norm += t[a] * t[a];
			norm = sqrt(norm);
			if (norm == 0)
				break;
			for (size_t a = 0; a < d; a++)
				v[a] = t[a] / norm;
		}
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			double s = 0;
			for (size_t j = 0; j < d; j++)
				s += (x[i * d + j] - mean[j]) * axis[(size_t)k * d + j];
			out[i * 2 + (size_t)k] = s;
		}
	free(mean), free(cov), free(axis), free(t);
	return 0;
}

/* Softmax regression on standardized features, trained by Adam on
 * mini-batches of 256 in a fixed shuffled order; returns the accuracy on
 * the test rows, or NAN when out of memory. */
double aert_probe(const float *xtr, const int *ytr, size_t ntr, const float *xte, const int *yte, size_t nte,
		  size_t d, int classes, int epochs, uint64_t seed)
{
	size_t K = (size_t)classes, P = K * (d + 1);
	double *mu = calloc(d, sizeof *mu), *sd = calloc(d, sizeof *sd);
	double *w = calloc(P, sizeof *w), *g = calloc(P, sizeof *g), *m1 = calloc(P, sizeof *m1),
	       *m2 = calloc(P, sizeof *m2), *xs = malloc(d * sizeof *xs), *p = malloc(K * sizeof *p);
	size_t *perm = malloc((ntr ? ntr : 1) * sizeof *perm);
	double acc = NAN;
	if (!mu || !sd || !w || !g || !m1 || !m2 || !xs || !p || !perm)
		goto out;
	for (size_t i = 0; i < ntr; i++)
		for (size_t j = 0; j < d; j++)
			mu[j] += xtr[i * d + j] / (double)ntr;
	for (size_t i = 0; i < ntr; i++)
		for (size_t j = 0; j < d; j++)
			sd[j] += (xtr[i * d + j] - mu[j]) * (xtr[i * d + j] - mu[j]) / (double)ntr;
	for (size_t j = 0; j < d; j++)
		sd[j] = sd[j] > 1e-12 ? 1 / sqrt(sd[j]) : 0; /* a constant feature carries nothing */
	aert_rng rng;
	aert_rng_seed(&rng, seed);
	for (size_t i = 0; i < ntr; i++)
		perm[i] = i;
	const double lr = 1e-2, b1 = 0.9, b2 = 0.999, l2 = 1e-4;
	long long t = 0;
	for (int e = 0; e < epochs; e++) {
		aert_shuffle(perm, ntr, &rng);
		for (size_t s = 0; s < ntr; s += 256) {
			size_t nb = ntr - s < 256 ? ntr - s : 256;
			memset(g, 0, P * sizeof *g);
			for (size_t r = 0; r < nb; r++) {
				const float *x = xtr + perm[s + r] * d;
				for (size_t j = 0; j < d; j++)
					xs[j] = (x[j] - mu[j]) * sd[j];
				double top = -INFINITY, sum = 0;
				for (size_t k = 0; k < K; k++) {
					const double *wk = w + k * (d + 1);
					double z = wk[d];
					for (size_t j = 0; j < d; j++)
						z += wk[j] * xs[j];
					p[k] = z;
					top = z > top ? z : top;
				}
				for (size_t k = 0; k < K; k++)
					sum += p[k] = exp(p[k] - top);
				for (size_t k = 0; k < K; k++) {
					double dz = (p[k] / sum - (ytr[perm[s + r]] == (int)k)) / (double)nb;
					double *gk = g + k * (d + 1);
					for (size_t j = 0; j < d; j++)
						gk[j] += dz * xs[j];
					gk[d] += dz;
				}
			}
			t++;
			double c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
			for (size_t i = 0; i < P; i++) {
				double gi = g[i] + l2 * w[i];
				m1[i] = b1 * m1[i] + (1 - b1) * gi;
				m2[i] = b2 * m2[i] + (1 - b2) * gi * gi;
				w[i] -= lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + 1e-8);
			}
		}
	}
	size_t right = 0;
	for (size_t i = 0; i < nte; i++) {
		size_t best = 0;
		double top = -INFINITY;
		for (size_t k = 0; k < K; k++) {
			const double *wk = w + k * (d + 1);
			double z = wk[d];
			for (size_t j = 0; j < d; j++)
				z += wk[j] * (xte[i * d + j] - mu[j]) * sd[j];
			if (z > top)
				top = z, best = k;
		}
		right += (int)best == yte[i];
	}
	acc = nte ? (double)right / (double)nte : NAN;
out:
	free(mu), free(sd), free(w), free(g), free(m1), free(m2), free(xs), free(p), free(perm);
	return acc;
}
