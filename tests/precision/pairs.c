/* pairs.c - the bf16 product of a generated file (NAME_gemm_into of a
 * precision bf16 build) against its definition, element by element, bit
 * for bit: every operand rounded to bf16 (NAME_bf16), and the products
 * summed in fp32 from the bias, 0 or C itself (add). Where the file is
 * built for AVX512-BF16 (vdpbf16ps), the sum over k runs in pairs, the
 * product for k + 1 before the one for k (an odd last k paired with 0),
 * operands and sums that are subnormal taken as 0; elsewhere it is fp32's
 * kernel, one FMA after the other along k. For A and B in each layout the
 * layers use (rows of A along k, read as rows; along i; B along j; along
 * k), and shapes that leave edge tiles, odd slices of k and more than one
 * slice. One thread and two give the same bits.
 *
 *   cc -O2 -march=native -fopenmp -DMODEL_C='"DIR/NAME.c"' -DPFX=NAME -I DIR pairs.c -lm
 *
 * Prints "ok ..." or "FAIL: ..." per layout and mode; the first line says
 * which kernel ran. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_C

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define GEMM CAT(PFX, gemm_into)
#define ROUND CAT(PFX, bf16)

#if defined(__AVX512BF16__) && defined(SIMDE_X86_AVX512F_NATIVE)
enum { PAIRS = 1 };
#else
enum { PAIRS = 0 };
#endif

/* x, or 0 of its sign if it is subnormal (the pairs' flush). */
static float flush(float x)
{
	return PAIRS && fabsf(x) < 0x1p-126f ? copysignf(0.0f, x) : x;
}

/* A value in [-2, 2) at 23 bits, some of them ties between two bf16
 * values, and now and then a subnormal. */
static float value(unsigned *s)
{
	*s = *s * 1664525u + 1013904223u;
	const unsigned r = *s >> 8;
	if (r % 97 == 0)
		return (r & 1 ? -1.0f : 1.0f) * 0x1p-130f;
	float x = (float)(r % (1u << 22)) / (float)(1u << 20) - 2;
	if (r % 13 == 0 && x != 0) { /* halfway between two bf16 values */
		int e;
		frexpf(ROUND(x), &e);
		x = ROUND(x) + ldexpf(x < 0 ? -1.0f : 1.0f, e - 9);
	}
	return x;
}

/* The definition: C[i, j] = start + the products, as described above. */
static void reference(long M, long N, long K, const float *A, long ars, long acs, const float *B, long brs, long bcs,
		      const float *bias, float *C, int add)
{
	for (long i = 0; i < M; i++)
		for (long j = 0; j < N; j++) {
			float s = add ? C[i * N + j] : bias ? bias[j] : 0;
			if (!PAIRS) {
				for (long k = 0; k < K; k++)
					s = fmaf(ROUND(A[i * ars + k * acs]), ROUND(B[k * brs + j * bcs]), s);
				C[i * N + j] = s;
				continue;
			}
			for (long k = 0; k < K; k += 2) {
				s = flush(s);
				if (k + 1 < K)
					s = flush(s + flush(ROUND(A[i * ars + (k + 1) * acs])) *
							      flush(ROUND(B[(k + 1) * brs + j * bcs])));
				else
					s = flush(s + 0.0f);
				s = flush(s + flush(ROUND(A[i * ars + k * acs])) * flush(ROUND(B[k * brs + j * bcs])));
			}
			C[i * N + j] = s;
		}
}

int main(void)
{
	const long Ms[] = {1, 8, 13, 130};
	const long Ns[] = {1, 16, 17, 33, 100};
	const long Ks[] = {1, 2, 5, 128, 129, 300};
	int failed = 0;
	printf("%s\n", PAIRS ? "ok the pairs' kernel (AVX512-BF16, vdpbf16ps)" : "ok the fp32 kernel on rounded panels");
	for (int form = 0; form < 4; form++)
		for (int mode = 0; mode < 3; mode++) { /* bias, none, add */
			long cases = 0, bad = 0;
			for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
				for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
					for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
						const long M = Ms[mi], N = Ns[ni], K = Ks[ki];
						/* A rows along k or along i; B along j or along k */
						const long ars = form & 1 ? 1 : K, acs = form & 1 ? M : 1;
						const long brs = form & 2 ? 1 : N, bcs = form & 2 ? K : 1;
						float *A = malloc(sizeof(float) * (size_t)(M * K));
						float *B = malloc(sizeof(float) * (size_t)(K * N));
						float *bias = malloc(sizeof(float) * (size_t)N);
						float *c[3];
						for (int t = 0; t < 3; t++)
							c[t] = malloc(sizeof(float) * (size_t)(M * N));
						if (!A || !B || !bias || !c[0] || !c[1] || !c[2])
							return 2;
						unsigned s = (unsigned)(M * 131 + N * 17 + K + 7 * form);
						for (long x = 0; x < M * K; x++)
							A[x] = value(&s);
						for (long x = 0; x < K * N; x++)
							B[x] = value(&s);
						for (long j = 0; j < N; j++)
							bias[j] = value(&s);
						for (long x = 0; x < M * N; x++)
							c[0][x] = c[1][x] = c[2][x] = value(&s);
						const float *bs = mode == 0 ? bias : NULL;
						reference(M, N, K, A, ars, acs, B, brs, bcs, bs, c[0], mode == 2);
						for (int t = 1; t <= 2; t++) {
#ifdef _OPENMP
							omp_set_num_threads(t);
#endif
							GEMM(M, N, K, A, ars, acs, B, brs, bcs, bs, c[t], mode == 2, NULL);
						}
						cases++;
						if (memcmp(c[0], c[1], sizeof(float) * (size_t)(M * N)) ||
						    memcmp(c[1], c[2], sizeof(float) * (size_t)(M * N))) {
							if (!bad++)
								printf("FAIL: first at M %ld N %ld K %ld\n", M, N, K);
						}
						free(A);
						free(B);
						free(bias);
						for (int t = 0; t < 3; t++)
							free(c[t]);
					}
			const char *fa = form & 1 ? "A along i" : "A's rows along k", *fb = form & 2 ? "B along k" : "B along j";
			const char *what = mode == 0 ? "bias + A B" : mode == 1 ? "A B" : "C + A B";
			if (bad) {
				printf("FAIL: bf16 product, %s, %s, %s: %ld of %ld shapes not the definition's values\n", fa,
				       fb, what, bad, cases);
				failed = 1;
			} else
				printf("ok bf16 product, %s, %s, %s: %ld shapes as defined, on 1 and 2 threads\n", fa, fb,
				       what, cases);
		}
	return failed;
}
