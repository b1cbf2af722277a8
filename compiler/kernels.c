/* kernels.c - the helper functions a generated NAME.c may call: the
 * matrix products of dense layers and the counter-based random numbers of
 * the stochastic ops. Each is written once per file, before the code,
 * and only if some op asked for it with emit_helper(). Shapes reach them as
 * constant arguments, so the C compiler specializes each call.
 * Requires: nothing. Provides: emit_helper(), emit_helper_defs(). */
#include <ctype.h>
#include <string.h>

#include "ops.h"

typedef struct Helper {
	const char *name;                /* suffix after "NAME_" */
	const char *needs;               /* another helper written first, or NULL */
	void (*write)(Emit *e, const char *P, const char *r); /* the definition */
} Helper;

/* Replace the tokens of a kernel template (PFX, UPFX: the prefix; REAL,
 * SFX, V512 ..., L512 ...: the element type's names and lane counts) by the
 * model's element type: float uses 16-lane vectors, double 8-lane ones. */
static void emit_template(Emit *e, const char *text)
{
	int f = emit_real(e)[0] == 'f';
	const char *up = xstrdup(emit_prefix(e));
	for (char *c = (char *)up; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	static const char *tok[] = {"UPFX", "PFX", "REAL", "SFX", "V512", "V256", "V128", "L512", "L256", "L128"};
	const char *val[] = {up, emit_prefix(e), emit_real(e), f ? "ps" : "pd",
			     f ? "simde__m512" : "simde__m512d", f ? "simde__m256" : "simde__m256d",
			     f ? "simde__m128" : "simde__m128d", f ? "16" : "8", f ? "8" : "4", f ? "4" : "2"};
	enum { NTOK = sizeof tok / sizeof *tok };
	for (const char *p = text; *p;) {
		int k = -1;
		for (int t = 0; t < NTOK && k < 0; t++)
			if (!strncmp(p, tok[t], strlen(tok[t])))
				k = t;
		if (k >= 0) {
			emit_raw(e, "%s", val[k]);
			p += strlen(tok[k]);
		} else
			emit_raw(e, "%c", *p++);
	}
}

/* The widest vectors the target compiles to natively, through SIMDe. */
static const char simd_text[] =
"/* Vectors: AVX-512 or AVX2 with FMA where the compiler targets them,\n"
" * otherwise 128 bits (SSE2 on x86-64, NEON on ARM, plain C elsewhere). */\n"
"#if defined(SIMDE_X86_AVX512F_NATIVE)\n"
"typedef V512 PFX_vec;\n"
"#define UPFX_LANES L512\n"
"#define UPFX_LOAD simde_mm512_loadu_SFX\n"
"#define UPFX_STORE simde_mm512_storeu_SFX\n"
"#define UPFX_SET1 simde_mm512_set1_SFX\n"
"#define UPFX_ZERO simde_mm512_setzero_SFX\n"
"#define UPFX_FMA simde_mm512_fmadd_SFX\n"
"#elif defined(SIMDE_X86_AVX2_NATIVE) && defined(SIMDE_X86_FMA_NATIVE)\n"
"typedef V256 PFX_vec;\n"
"#define UPFX_LANES L256\n"
"#define UPFX_LOAD simde_mm256_loadu_SFX\n"
"#define UPFX_STORE simde_mm256_storeu_SFX\n"
"#define UPFX_SET1 simde_mm256_set1_SFX\n"
"#define UPFX_ZERO simde_mm256_setzero_SFX\n"
"#define UPFX_FMA simde_mm256_fmadd_SFX\n"
"#else\n"
"typedef V128 PFX_vec;\n"
"#define UPFX_LANES L128\n"
"#define UPFX_LOAD simde_mm_loadu_SFX\n"
"#define UPFX_STORE simde_mm_storeu_SFX\n"
"#define UPFX_SET1 simde_mm_set1_SFX\n"
"#define UPFX_ZERO simde_mm_setzero_SFX\n"
"#define UPFX_FMA simde_mm_fmadd_SFX\n"
"#endif\n\n";

static void simd(Emit *e, const char *P, const char *r)
{
	(void)P;
	(void)r;
	if (!emit_scalar_kernels(e))
		emit_template(e, simd_text);
}

/* The general product every dense layer and its gradients use:
 *   C[i, j] = (bias[j] or 0) + sum_k A(i, k) B(k, j),  i < M, j < N, k < K,
 * with A(i, k) = A[i * ars + k * acs] and B(k, j) = B[k * brs + j * bcs],
 * and C row-major with rows of N. The strides let one routine serve
 * y = x W^T (forward), dx = dy W and dW = dy^T x without transposing. */
static const char gemm_scalar_text[] =
"/* C[i, j] = (bias[j] or 0) + sum_k A[i ars + k acs] B[k brs + j bcs]. */\n"
"static void PFX_gemm(long M, long N, long K, const REAL *A, long ars, long acs,\n"
"\t\t\tconst REAL *B, long brs, long bcs, const REAL *bias, REAL *C)\n"
"{\n"
"\tfor (long i = 0; i < M; i++)\n"
"\t\tfor (long j = 0; j < N; j++) {\n"
"\t\t\tREAL s = bias ? bias[j] : 0;\n"
"\t\t\tfor (long k = 0; k < K; k++)\n"
"\t\t\t\ts += A[i * ars + k * acs] * B[k * brs + j * bcs];\n"
"\t\t\tC[i * N + j] = s;\n"
"\t\t}\n"
"}\n\n";

/* Blocked as GotoBLAS does: a KC x NR panel of B is packed (zero-padded)
 * into a buffer on the stack, and an MR x NR tile of C stays in 2 MR vector
 * registers while k runs over the panel; A is read in place with
 * broadcasts. SIMDe maps the vectors to AVX-512, AVX2 or NEON. */
static const char gemm_simd_text[] =
"enum { PFX_MR = 8, PFX_NR = 2 * UPFX_LANES, PFX_KC = 256 };\n\n"
"/* Rows i0 .. i0 + MR of C += A(i, k) panel(k, j) over kc steps of k. */\n"
"static void PFX_tile8(long kc, const REAL *A, long ars, long acs, const REAL *panel,\n"
"\t\t\tREAL *C, long ldc, long nr, const REAL *bias, int first)\n"
"{\n"
"\tPFX_vec c[PFX_MR][2];\n"
"\tREAL edge[PFX_NR];\n"
"\tfor (int r = 0; r < PFX_MR; r++) {\n"
"\t\tconst REAL *src = C + r * ldc;\n"
"\t\tif (first && !bias) {\n"
"\t\t\tc[r][0] = c[r][1] = UPFX_ZERO();\n"
"\t\t\tcontinue;\n"
"\t\t}\n"
"\t\tif (first)\n"
"\t\t\tsrc = bias;\n"
"\t\tif (nr < PFX_NR) {\n"
"\t\t\tfor (long j = 0; j < PFX_NR; j++)\n"
"\t\t\t\tedge[j] = j < nr ? src[j] : 0;\n"
"\t\t\tsrc = edge;\n"
"\t\t}\n"
"\t\tc[r][0] = UPFX_LOAD(src);\n"
"\t\tc[r][1] = UPFX_LOAD(src + UPFX_LANES);\n"
"\t}\n"
"\tfor (long k = 0; k < kc; k++) {\n"
"\t\tconst PFX_vec b0 = UPFX_LOAD(panel + k * PFX_NR);\n"
"\t\tconst PFX_vec b1 = UPFX_LOAD(panel + k * PFX_NR + UPFX_LANES);\n"
"\t\tfor (int r = 0; r < PFX_MR; r++) {\n"
"\t\t\tconst PFX_vec a = UPFX_SET1(A[r * ars + k * acs]);\n"
"\t\t\tc[r][0] = UPFX_FMA(a, b0, c[r][0]);\n"
"\t\t\tc[r][1] = UPFX_FMA(a, b1, c[r][1]);\n"
"\t\t}\n"
"\t}\n"
"\tfor (int r = 0; r < PFX_MR; r++) {\n"
"\t\tREAL *dst = nr < PFX_NR ? edge : C + r * ldc;\n"
"\t\tUPFX_STORE(dst, c[r][0]);\n"
"\t\tUPFX_STORE(dst + UPFX_LANES, c[r][1]);\n"
"\t\tfor (long j = 0; nr < PFX_NR && j < nr; j++)\n"
"\t\t\tC[r * ldc + j] = edge[j];\n"
"\t}\n"
"}\n\n"
"/* One row of C, for the rows left over after the tiles of MR. */\n"
"static void PFX_tile1(long kc, const REAL *A, long acs, const REAL *panel, REAL *C, long nr,\n"
"\t\t\tconst REAL *bias, int first)\n"
"{\n"
"\tREAL row[PFX_NR];\n"
"\tfor (long j = 0; j < PFX_NR; j++)\n"
"\t\trow[j] = j >= nr ? 0 : first ? (bias ? bias[j] : 0) : C[j];\n"
"\tPFX_vec c0 = UPFX_LOAD(row), c1 = UPFX_LOAD(row + UPFX_LANES);\n"
"\tfor (long k = 0; k < kc; k++) {\n"
"\t\tconst PFX_vec a = UPFX_SET1(A[k * acs]);\n"
"\t\tc0 = UPFX_FMA(a, UPFX_LOAD(panel + k * PFX_NR), c0);\n"
"\t\tc1 = UPFX_FMA(a, UPFX_LOAD(panel + k * PFX_NR + UPFX_LANES), c1);\n"
"\t}\n"
"\tUPFX_STORE(row, c0);\n"
"\tUPFX_STORE(row + UPFX_LANES, c1);\n"
"\tfor (long j = 0; j < nr; j++)\n"
"\t\tC[j] = row[j];\n"
"}\n\n"
"/* C[i, j] = (bias[j] or 0) + sum_k A[i ars + k acs] B[k brs + j bcs]. */\n"
"static void PFX_gemm(long M, long N, long K, const REAL *A, long ars, long acs,\n"
"\t\t\tconst REAL *B, long brs, long bcs, const REAL *bias, REAL *C)\n"
"{\n"
"\tconst long blocks = (N + PFX_NR - 1) / PFX_NR;\n"
"\t/* With OpenMP, threads take whole column blocks of C: each element is\n"
"\t * summed by one thread in one order, so results do not depend on the\n"
"\t * number of threads. */\n"
"#ifdef _OPENMP\n"
"#pragma omp parallel for schedule(static) if (blocks >= 4 && M * N * K >= 262144)\n"
"#endif\n"
"\tfor (long jb = 0; jb < blocks; jb++) {\n"
"\t\tREAL panel[PFX_KC * PFX_NR];\n"
"\t\tconst long j0 = jb * PFX_NR, nr = N - j0 < PFX_NR ? N - j0 : PFX_NR;\n"
"\t\tfor (long k0 = 0; k0 < K; k0 += PFX_KC) {\n"
"\t\t\tconst long kc = K - k0 < PFX_KC ? K - k0 : PFX_KC;\n"
"\t\t\tconst REAL *bj = bias ? bias + j0 : NULL;\n"
"\t\t\tfor (long k = 0; k < kc; k++)\n"
"\t\t\t\tfor (long j = 0; j < PFX_NR; j++)\n"
"\t\t\t\t\tpanel[k * PFX_NR + j] = j < nr ? B[(k0 + k) * brs + (j0 + j) * bcs] : 0;\n"
"\t\t\tconst long m8 = M / PFX_MR * PFX_MR;\n"
"\t\t\tfor (long i = 0; i < m8; i += PFX_MR)\n"
"\t\t\t\tPFX_tile8(kc, A + i * ars + k0 * acs, ars, acs, panel, C + i * N + j0, N, nr, bj, k0 == 0);\n"
"\t\t\tfor (long i = m8; i < M; i++)\n"
"\t\t\t\tPFX_tile1(kc, A + i * ars + k0 * acs, acs, panel, C + i * N + j0, nr, bj, k0 == 0);\n"
"\t\t}\n"
"\t}\n"
"}\n\n";

static void gemm(Emit *e, const char *P, const char *r)
{
	(void)P;
	(void)r;
	emit_template(e, emit_scalar_kernels(e) ? gemm_scalar_text : gemm_simd_text);
}

/* Fixed-layout forms of gemm, for row-major operands. */
static void gemm_nt(Emit *e, const char *P, const char *r)
{
	(void)P;
	(void)r;
	emit_template(e,
"/* C = A B^T (+ bias): A is M x K, B is N x K. */\n"
"static void PFX_gemm_nt(long M, long N, long K, const REAL *A, const REAL *B, const REAL *bias, REAL *C)\n"
"{\n\tPFX_gemm(M, N, K, A, K, 1, B, 1, K, bias, C);\n}\n\n");
}

static void gemm_nn(Emit *e, const char *P, const char *r)
{
	(void)P;
	(void)r;
	emit_template(e,
"/* C = A B: A is M x K, B is K x N. */\n"
"static void PFX_gemm_nn(long M, long N, long K, const REAL *A, const REAL *B, REAL *C)\n"
"{\n\tPFX_gemm(M, N, K, A, K, 1, B, N, 1, NULL, C);\n}\n\n");
}

static void gemm_tn(Emit *e, const char *P, const char *r)
{
	(void)P;
	(void)r;
	emit_template(e,
"/* C = A^T B: A is K x M, B is K x N. */\n"
"static void PFX_gemm_tn(long M, long N, long K, const REAL *A, const REAL *B, REAL *C)\n"
"{\n\tPFX_gemm(M, N, K, A, 1, M, B, N, 1, NULL, C);\n}\n\n");
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

/* The loops of im2col and col2im: for every output pixel (i, j) of a
 * convolution, every channel c and kernel offset (u, v), the image
 * position (y, x) under it, `inside` the image or in the padding. */
#define CONV_COLUMN_LOOPS                                                        \
"\tfor (long i = 0; i < OH; i++)\n"                                             \
"\t\tfor (long j = 0; j < OW; j++)\n"                                           \
"\t\t\tfor (long c = 0; c < C; c++)\n"                                          \
"\t\t\t\tfor (long u = 0; u < k; u++)\n"                                        \
"\t\t\t\t\tfor (long v = 0; v < k; v++, col++) {\n"                             \
"\t\t\t\t\t\tconst long y = i * s + u - p, x = j * s + v - p;\n"                \
"\t\t\t\t\t\tconst int inside = y >= 0 && y < H && x >= 0 && x < W;\n"

/* One image's columns for a convolution (k x k kernel, stride s,
 * padding p, output OH x OW). */
static void im2col(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* The columns of one image img [C, H, W] for a k x k convolution with\n"
" * stride s and padding p: row i OW + j of col [OH OW, C k k] holds the\n"
" * values under output pixel (i, j), col[.][(c k + u) k + v] =\n"
" * img[c][i s + u - p][j s + v - p], 0 in the padding. */\n"
"static void %s_im2col(long C, long H, long W, long k, long s, long p, long OH, long OW, const %s *img, %s *col)\n"
"{\n"
CONV_COLUMN_LOOPS
"\t\t\t\t\t\t*col = inside ? img[(c * H + y) * W + x] : 0;\n"
"\t\t\t\t\t}\n"
"}\n\n", P, r, r);
}

/* The adjoint of im2col: columns added back into the image. */
static void col2im(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* The adjoint of im2col: each value of col [OH OW, C k k] added to the\n"
" * value of img [C, H, W] it was taken from (values in the padding are\n"
" * dropped). */\n"
"static void %s_col2im(long C, long H, long W, long k, long s, long p, long OH, long OW, const %s *col, %s *img)\n"
"{\n"
CONV_COLUMN_LOOPS
"\t\t\t\t\t\tif (inside)\n"
"\t\t\t\t\t\t\timg[(c * H + y) * W + x] += *col;\n"
"\t\t\t\t\t}\n"
"}\n\n", P, r, r);
}

static void gemm_nn_acc(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* C[i, j] += sum_k A[i, k] B[k, j]. */\n"
"static void %s_gemm_nn_acc(long M, long N, long K, const %s *A, const %s *B, %s *C)\n"
"{\n"
"\tfor (long i = 0; i < M; i++) {\n"
"\t\t%s *c = C + i * N;\n"
"\t\tfor (long k = 0; k < K; k++) {\n"
"\t\t\tconst %s a = A[i * K + k], *b = B + k * N;\n"
"\t\t\tfor (long j = 0; j < N; j++)\n"
"\t\t\t\tc[j] += a * b[j];\n"
"\t\t}\n"
"\t}\n"
"}\n\n", P, r, r, r, r, r);
}

static const Helper helpers[] = {
	{"simd", NULL, simd},
	{"gemm", "simd", gemm},
	{"gemm_nt", "gemm", gemm_nt},
	{"gemm_nn", "gemm", gemm_nn},
	{"gemm_tn", "gemm", gemm_tn},
	{"mix", NULL, mix},
	{"uniform", "mix", uniform},
	{"normal", "uniform", normal},
	{"im2col", NULL, im2col},
	{"col2im", NULL, col2im},
	{"gemm_nn_acc", NULL, gemm_nn_acc},
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
