/* narrow.c - the narrow product of a generated file (NAME_gemm_narrow:
 * C in registers, one or two vectors of rows by at most 12 columns, both
 * operands read in place) against the blocked product on the same values,
 * which must agree bit for bit: C = bias + A B, C = A B and C += A B, for
 * the shapes the narrow one takes (the weight gradient of a one-channel
 * convolution is M = 32, N = 9, K = the chunk's pixels). The blocked form
 * gets A as rows along k (ars = K, acs = 1), which the narrow one does
 * not take.
 *
 *   cc -O2 -fopenmp -DMODEL_C='"DIR/NAME.c"' -DPFX=NAME -DPFX_UPPER=UPPER -I DIR narrow.c -lm
 *
 * Prints one line per case, "ok ..." or "FAIL: ...". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_C

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define NARROW CAT(PFX, gemm_narrow)
#define BLOCKED CAT(PFX, gemm_into)
#define LANES CAT(PFX_UPPER, LANES)

static float value(unsigned i, unsigned salt)
{
	return (float)(((i + salt) * 2654435761u) % 2001) / 1000 - 1;
}

int main(void)
{
	const long Ks[] = {1, 7, 300, 6272};
	const long Ns[] = {1, 5, 9, 12};
	int failed = 0;
	for (int mv = 1; mv <= 2; mv++)
		for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
			for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
				for (int mode = 0; mode < 3; mode++) { /* bias, none, add */
					const long M = mv * LANES, N = Ns[ni], K = Ks[ki];
					float *a = malloc(sizeof(float) * (size_t)(M * K)), *at = malloc(sizeof(float) * (size_t)(M * K));
					float *b = malloc(sizeof(float) * (size_t)(K * N)), bias[12], c0[2 * 16 * 12], c1[2 * 16 * 12];
					if (!a || !at || !b)
						return 2;
					for (long k = 0; k < K; k++)
						for (long i = 0; i < M; i++)
							a[k * M + i] = at[i * K + k] = value((unsigned)(k * M + i), 1);
					for (long x = 0; x < K * N; x++)
						b[x] = value((unsigned)x, 2);
					for (long j = 0; j < N; j++)
						bias[j] = value((unsigned)j, 3);
					for (long x = 0; x < M * N; x++)
						c0[x] = c1[x] = value((unsigned)x, 4);
					const float *bs = mode == 0 ? bias : NULL;
					NARROW(M, N, K, a, M, b, N, bs, c0, mode == 2);
					BLOCKED(M, N, K, at, K, 1, b, N, 1, bs, c1, mode == 2, NULL);
					const char *what = mode == 0 ? "bias + A B" : mode == 1 ? "A B" : "C + A B";
					if (memcmp(c0, c1, sizeof(float) * (size_t)(M * N))) {
						printf("FAIL: narrow product, M %ld N %ld K %ld, %s: not the blocked one's values\n", M, N,
						       K, what);
						failed = 1;
					} else
						printf("ok narrow product M %ld N %ld K %ld %s\n", M, N, K, what);
					free(a);
					free(at);
					free(b);
				}
	return failed;
}
