/* kernels.c - the helper functions a generated NAME.c may call: the
 * matrix products of dense layers and the counter-based random numbers of
 * the stochastic ops. Each is written once per file, before the code,
 * and only if some op asked for it with emit_helper(). Shapes reach them as
 * constant arguments, so the C compiler specializes each call.
 * Requires: nothing. Provides: emit_helper(), emit_helper_defs(). */
#include <string.h>

#include "ops.h"

typedef struct Helper {
	const char *name;                /* suffix after "NAME_" */
	const char *needs;               /* another helper written first, or NULL */
	void (*write)(Emit *e, const char *P, const char *r); /* the definition */
} Helper;

/* C[i, j] = sum_k A[i, k] B[j, k] (+ bias[j]). Sixteen independent partial
 * sums per dot product let the compiler use vector registers without
 * reassociating a single sum. */
static void gemm_nt(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* C[i, j] = sum_k A[i, k] B[j, k] (+ bias[j]): rows of A against rows of B. */\n"
"static void %s_gemm_nt(long M, long N, long K, const %s *A, const %s *B, const %s *bias, %s *C)\n"
"{\n"
"\tfor (long i = 0; i < M; i++) {\n"
"\t\tconst %s *a = A + i * K;\n"
"\t\tfor (long j = 0; j < N; j++) {\n"
"\t\t\tconst %s *b = B + j * K;\n"
"\t\t\t%s acc[16] = {0}, s = 0;\n"
"\t\t\tconst long K16 = K / 16 * 16;\n"
"\t\t\tfor (long k = 0; k < K16; k += 16)\n"
"\t\t\t\tfor (int l = 0; l < 16; l++)\n"
"\t\t\t\t\tacc[l] += a[k + l] * b[k + l];\n"
"\t\t\tfor (long k = K16; k < K; k++)\n"
"\t\t\t\ts += a[k] * b[k];\n"
"\t\t\tfor (int w = 8; w > 0; w /= 2)\n"
"\t\t\t\tfor (int l = 0; l < w; l++)\n"
"\t\t\t\t\tacc[l] += acc[l + w];\n"
"\t\t\tC[i * N + j] = acc[0] + s + (bias ? bias[j] : 0);\n"
"\t\t}\n"
"\t}\n"
"}\n\n", P, r, r, r, r, r, r, r);
}

static void gemm_nn(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* C[i, j] = sum_k A[i, k] B[k, j]. */\n"
"static void %s_gemm_nn(long M, long N, long K, const %s *A, const %s *B, %s *C)\n"
"{\n"
"\tfor (long i = 0; i < M; i++) {\n"
"\t\t%s *c = C + i * N;\n"
"\t\tfor (long j = 0; j < N; j++)\n"
"\t\t\tc[j] = 0;\n"
"\t\tfor (long k = 0; k < K; k++) {\n"
"\t\t\tconst %s a = A[i * K + k], *b = B + k * N;\n"
"\t\t\tfor (long j = 0; j < N; j++)\n"
"\t\t\t\tc[j] += a * b[j];\n"
"\t\t}\n"
"\t}\n"
"}\n\n", P, r, r, r, r, r);
}

static void gemm_tn(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* C[i, j] = sum_k A[k, i] B[k, j]: the product of two batches, summed\n"
" * over the batch (A is K x M, B is K x N). */\n"
"static void %s_gemm_tn(long M, long N, long K, const %s *A, const %s *B, %s *C)\n"
"{\n"
"\tfor (long i = 0; i < M; i++) {\n"
"\t\t%s *c = C + i * N;\n"
"\t\tfor (long j = 0; j < N; j++)\n"
"\t\t\tc[j] = 0;\n"
"\t\tfor (long k = 0; k < K; k++) {\n"
"\t\t\tconst %s a = A[k * M + i], *b = B + k * N;\n"
"\t\t\tfor (long j = 0; j < N; j++)\n"
"\t\t\t\tc[j] += a * b[j];\n"
"\t\t}\n"
"\t}\n"
"}\n\n", P, r, r, r, r, r);
}

static void mix(Emit *e, const char *P, const char *r)
{
	(void)r;
	emit_raw(e,
"/* splitmix64's finaliser: a well-mixed 64-bit hash. */\n"
"static uint64_t %s_mix(uint64_t z)\n{\n"
"\tz += 0x9e3779b97f4a7c15u;\n"
"\tz = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;\n"
"\tz = (z ^ (z >> 27)) * 0x94d049bb133111ebu;\n"
"\treturn z ^ (z >> 31);\n}\n\n", P);
}

/* Counter-based: the number for (key, i) depends on nothing else, so any
 * order or partition of the work draws the same values. */
static void uniform(Emit *e, const char *P, const char *r)
{
	(void)r;
	emit_raw(e,
"/* Uniform in (0, 1) for element i of the stream `key`. */\n"
"static double %s_uniform(uint64_t key, uint64_t i)\n{\n"
"\treturn ((double)(%s_mix(key ^ %s_mix(i)) >> 11) + 0.5) * 0x1.0p-53;\n}\n\n", P, P, P);
}

static void normal(Emit *e, const char *P, const char *r)
{
	(void)r;
	emit_raw(e,
"/* Standard normal for element i of the stream `key` (Box-Muller). */\n"
"static double %s_normal(uint64_t key, uint64_t i)\n{\n"
"\tconst double u = %s_uniform(key, 2 * i), v = %s_uniform(key, 2 * i + 1);\n"
"\treturn sqrt(-2 * log(u)) * cos(6.283185307179586 * v);\n}\n\n", P, P, P);
}

static const Helper helpers[] = {
	{"gemm_nt", NULL, gemm_nt},
	{"gemm_nn", NULL, gemm_nn},
	{"gemm_tn", NULL, gemm_tn},
	{"mix", NULL, mix},
	{"uniform", "mix", uniform},
	{"normal", "uniform", normal},
};

enum { NHELPERS = sizeof helpers / sizeof *helpers };

const char *emit_helper(Emit *e, const char *name)
{
	for (int i = 0; i < NHELPERS; i++)
		if (!strcmp(helpers[i].name, name)) {
			*emit_helpers_used(e) |= 1u << i;
			if (helpers[i].needs)
				emit_helper(e, helpers[i].needs);
			return xasprintf("%s_%s", emit_prefix(e), name);
		}
	ICE("no helper named %s", name);
}

void emit_helper_defs(Emit *e)
{
	unsigned used = *emit_helpers_used(e);
	for (int i = 0; i < NHELPERS; i++)
		if (used & (1u << i))
			helpers[i].write(e, emit_prefix(e), emit_real(e));
}
