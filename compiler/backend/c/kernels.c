/* kernels.c - the helper functions a generated NAME.c may call: the
 * matrix products of dense layers, the loops of the convolutions over the
 * batch and the counter-based random numbers of the stochastic ops. Each
 * is written once per file, before the code, and only if some op asked
 * for it with emit_helper(). Shapes reach them as
 * constant arguments, so the C compiler specializes each call. The
 * losses' sums are listed here too, written by their rows (loss.c,
 * variational.c) with emit_sum_function.
 * Requires: emit.h. Provides: emit_helper(), emit_helper_defs(). */
#include <ctype.h>
#include <string.h>

#include "emit.h"

typedef struct Helper {
	const char *name;                /* suffix after "NAME_" */
	const char *needs[3];            /* other helpers written first */
	void (*write)(Emit *e, const char *P, const char *r); /* the definition */
	const char *blocked_needs;       /* one more for the blocked SIMD kernels
	                                    (neither scalar nor small) */
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
"#define UPFX_ADD simde_mm512_add_SFX\n"
"#define UPFX_SUB simde_mm512_sub_SFX\n"
"#define UPFX_MUL simde_mm512_mul_SFX\n"
"#define UPFX_DIV simde_mm512_div_SFX\n"
"#define UPFX_MAX simde_mm512_max_SFX\n"
"#define UPFX_MIN simde_mm512_min_SFX\n"
"#define UPFX_SQRT simde_mm512_sqrt_SFX\n"
"#define UPFX_WHERE_POS(o, x, x0) simde_mm512_maskz_mov_SFX(simde_mm512_cmp_SFX_mask(o, x0, SIMDE_CMP_GT_OQ), x) /* o > 0 ? x : 0 */\n"
"#elif defined(SIMDE_X86_AVX2_NATIVE) && defined(SIMDE_X86_FMA_NATIVE)\n"
"typedef V256 PFX_vec;\n"
"#define UPFX_LANES L256\n"
"#define UPFX_LOAD simde_mm256_loadu_SFX\n"
"#define UPFX_STORE simde_mm256_storeu_SFX\n"
"#define UPFX_SET1 simde_mm256_set1_SFX\n"
"#define UPFX_ZERO simde_mm256_setzero_SFX\n"
"#define UPFX_FMA simde_mm256_fmadd_SFX\n"
"#define UPFX_ADD simde_mm256_add_SFX\n"
"#define UPFX_SUB simde_mm256_sub_SFX\n"
"#define UPFX_MUL simde_mm256_mul_SFX\n"
"#define UPFX_DIV simde_mm256_div_SFX\n"
"#define UPFX_MAX simde_mm256_max_SFX\n"
"#define UPFX_MIN simde_mm256_min_SFX\n"
"#define UPFX_SQRT simde_mm256_sqrt_SFX\n"
"#define UPFX_WHERE_POS(o, x, x0) simde_mm256_and_SFX(simde_mm256_cmp_SFX(o, x0, SIMDE_CMP_GT_OQ), x) /* o > 0 ? x : 0 */\n"
"#else\n"
"typedef V128 PFX_vec;\n"
"#define UPFX_LANES L128\n"
"#define UPFX_LOAD simde_mm_loadu_SFX\n"
"#define UPFX_STORE simde_mm_storeu_SFX\n"
"#define UPFX_SET1 simde_mm_set1_SFX\n"
"#define UPFX_ZERO simde_mm_setzero_SFX\n"
"#define UPFX_FMA simde_mm_fmadd_SFX\n"
"#define UPFX_ADD simde_mm_add_SFX\n"
"#define UPFX_SUB simde_mm_sub_SFX\n"
"#define UPFX_MUL simde_mm_mul_SFX\n"
"#define UPFX_DIV simde_mm_div_SFX\n"
"#define UPFX_MAX simde_mm_max_SFX\n"
"#define UPFX_MIN simde_mm_min_SFX\n"
"#define UPFX_SQRT simde_mm_sqrt_SFX\n"
"#define UPFX_WHERE_POS(o, x, x0) simde_mm_and_SFX(simde_mm_cmpgt_SFX(o, x0), x) /* o > 0 ? x : 0 */\n"
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
 * y = x W^T (forward), dx = dy W and dW = dy^T x without transposing.
 * Every form is PFX_gemm_into, which with `add` adds the sums to C (each
 * sum going on from C[i, j], so a product over k in parts sums as one
 * product: PFX_gemm_add); the layers call PFX_gemm. */
static const char gemm_epilogue_text[] =
"/* What a product does to each finished tile of C (at row stride ldc,\n"
" * element `off` of C): an activation, C = f(C), or with y the derivative\n"
" * of one, C = C f'(.) read off y = f(x) (laid out as C). */\n"
"typedef struct PFX_epilogue {\n"
"\tint act;\n"
"\tREAL slope;\n"
"\tconst REAL *y;\n"
"} PFX_epilogue;\n\n"
"static void PFX_finish(const PFX_epilogue *ep, REAL *c, long ldc, long rows, long cols, long off)\n"
"{\n"
"\tPFX_act(ep->act, ep->slope, rows, cols, c, ldc, ep->y ? ep->y + off : NULL, ldc, c, ldc);\n"
"}\n\n";

static const char gemm_scalar_text[] =
"/* C[i, j] = (bias[j] or 0) + sum_k A[i ars + k acs] B[k brs + j bcs],\n"
" * then the epilogue ep, if any; with add, C[i, j] + the sum (C += A B). */\n"
"static void PFX_gemm_into(long M, long N, long K, const REAL *A, long ars, long acs,\n"
"\t\t\tconst REAL *B, long brs, long bcs, const REAL *bias, REAL *C, int add, const PFX_epilogue *ep)\n"
"{\n"
"\tfor (long i = 0; i < M; i++)\n"
"\t\tfor (long j = 0; j < N; j++) {\n"
"\t\t\tREAL s = add ? C[i * N + j] : bias ? bias[j] : 0;\n"
"\t\t\tfor (long k = 0; k < K; k++)\n"
"\t\t\t\ts += PRODUCT;\n"
"\t\t\tC[i * N + j] = s;\n"
"\t\t}\n"
"\tif (ep)\n"
"\t\tPFX_finish(ep, C, N, M, N, 0);\n"
"}\n\n";

/* Blocked as GotoBLAS and BLIS do. For each KC-deep slice of k, rows of A
 * are packed MC at a time into MR-row panels (k-major), and for each NR-wide
 * block of columns a KC x NR panel of B is packed (zero-padded) so that it
 * stays in the L1 cache while every A panel streams past it. The micro-
 * kernel keeps an MR x NR tile of C in 2 MR vector registers. Packing turns
 * strided operands into contiguous ones with 8 x 8 transposes (4 x 4 at
 * the edges and where the target has no AVX), so one routine serves all
 * three products of a dense layer at the same speed;
 * rows of A that already run along k are read in place, 8 at a time. A
 * thread with at most NG column blocks packs their B panels once per slice
 * of k, for all rows; otherwise each again for every MC rows. Threads take
 * fixed ranges of column blocks, or of rows when there are fewer than 4
 * column blocks, so every element of C is summed by one thread in one
 * order whatever the thread count. Stack use:
 * (MC + NG NR) KC + 2 MR NR + NR elements per thread (the micro-kernel's
 * tile of C counted once in vectors, once in `edge`). */
enum { GEMM_MR = 8, GEMM_NV = 2, GEMM_KC = 128, GEMM_MC = 128, GEMM_NG = 4, GEMM_UNITS = 8, WIDEST_LANES_F32 = 16 };

size_t kernels_stack_bytes(int f64, int scalar)
{
	if (scalar)
		return 0;
	const size_t real = f64 ? 8 : 4, nr = GEMM_NV * (WIDEST_LANES_F32 / (f64 ? 2 : 1));
	return real * (GEMM_MC * GEMM_KC + GEMM_NG * GEMM_KC * nr + 2 * GEMM_MR * nr + nr);
}

/* The small kernels' largest array: one vector of the widest lanes (the
 * lanes of PFX_exp1 and PFX_bce_logits_slice); the small product's is 16 bytes. */
size_t kernels_small_stack_bytes(int f64)
{
	(void)f64;
	return WIDEST_LANES_F32 * 4;
}

static const char gemm_kernel_text[] =
"/* The MR x NR tile at C (rows ldc apart) = (bias row, 0 or C itself) +\n"
" * a b, where a is a kc x MR panel of A, element (k, r) at a[k ka + r ra]\n"
" * (packed: ka = MR, ra = 1; rows of A read in place: ka = 1), and b a\n"
" * packed kc x NR panel of B. */\n"
"static void PFX_kernel(long kc, const REAL *restrict a, long ka, long ra, const REAL *restrict b,\n"
"\t\t\tREAL *restrict C, long ldc, const REAL *bias, int first)\n"
"{\n"
"\tPFX_vec c[PFX_MR][2];\n"
"\tfor (int r = 0; r < PFX_MR; r++)\n"
"\t\tfor (int v = 0; v < 2; v++)\n"
"\t\t\tc[r][v] = !first ? UPFX_LOAD(C + r * ldc + v * UPFX_LANES)\n"
"\t\t\t\t : bias ? UPFX_LOAD(bias + v * UPFX_LANES) : UPFX_ZERO();\n"
"\tfor (long k = 0; k < kc; k++) {\n"
"\t\tconst PFX_vec b0 = UPFX_LOAD(b + k * PFX_NR), b1 = UPFX_LOAD(b + k * PFX_NR + UPFX_LANES);\n"
"\t\tfor (int r = 0; r < PFX_MR; r++) {\n"
"\t\t\tconst PFX_vec x = UPFX_SET1(a[k * ka + r * ra]);\n"
"\t\t\tc[r][0] = UPFX_FMA(x, b0, c[r][0]);\n"
"\t\t\tc[r][1] = UPFX_FMA(x, b1, c[r][1]);\n"
"\t\t}\n"
"\t}\n"
"\tfor (int r = 0; r < PFX_MR; r++)\n"
"\t\tfor (int v = 0; v < 2; v++)\n"
"\t\t\tUPFX_STORE(C + r * ldc + v * UPFX_LANES, c[r][v]);\n"
"}\n\n"
"/* The same for the first vector's columns alone (a tile at most\n"
" * UPFX_LANES wide): each value by the same operations in the same order. */\n"
"static void PFX_kernel1(long kc, const REAL *restrict a, long ka, long ra, const REAL *restrict b,\n"
"\t\t\tREAL *restrict C, long ldc, const REAL *bias, int first)\n"
"{\n"
"\tPFX_vec c[PFX_MR];\n"
"\tfor (int r = 0; r < PFX_MR; r++)\n"
"\t\tc[r] = !first ? UPFX_LOAD(C + r * ldc) : bias ? UPFX_LOAD(bias) : UPFX_ZERO();\n"
"\tfor (long k = 0; k < kc; k++) {\n"
"\t\tconst PFX_vec b0 = UPFX_LOAD(b + k * PFX_NR);\n"
"\t\tfor (int r = 0; r < PFX_MR; r++)\n"
"\t\t\tc[r] = UPFX_FMA(UPFX_SET1(a[k * ka + r * ra]), b0, c[r]);\n"
"\t}\n"
"\tfor (int r = 0; r < PFX_MR; r++)\n"
"\t\tUPFX_STORE(C + r * ldc, c[r]);\n"
"}\n\n";

static const char gemm_pack_text[] =
"/* dst[k * ldd + j] = X(j, k) = X[j * js + k * ks] for j < nj (0 for\n"
" * nj <= j < w) and k < kc: a k-major panel w wide, transposed block by\n"
" * block when X runs along k and copied row by row when it runs along j. */\n"
"static void PFX_pack(const REAL *X, long js, long ks, long nj, long w, long kc, REAL *dst, long ldd)\n"
"{\n"
"\tif (js == 1 && w == PFX_MR && nj == w) {\n"
"\t\tfor (long k = 0; k < kc; k++)\n"
"\t\t\tfor (long t = 0; t < PFX_MR; t++)\n"
"\t\t\t\tdst[k * ldd + t] = X[k * ks + t];\n"
"\t\treturn;\n"
"\t}\n"
"\tif (js == 1 && w == PFX_NR && nj == w) {\n"
"\t\tfor (long k = 0; k < kc; k++)\n"
"\t\t\tfor (long v = 0; v < PFX_NR; v += UPFX_LANES)\n"
"\t\t\t\tUPFX_STORE(dst + k * ldd + v, UPFX_LOAD(X + k * ks + v));\n"
"\t\treturn;\n"
"\t}\n"
"\tif (js == 1) {\n"
"\t\tfor (long k = 0; k < kc; k++) {\n"
"\t\t\tfor (long t = 0; t < nj; t++)\n"
"\t\t\t\tdst[k * ldd + t] = X[k * ks + t];\n"
"\t\t\tfor (long t = nj; t < w; t++)\n"
"\t\t\t\tdst[k * ldd + t] = 0;\n"
"\t\t}\n"
"\t\treturn;\n"
"\t}\n"
"\tif (ks == 1)\n"
"\t\tPFX_transpose(nj, kc, X, js, dst, ldd);\n"
"\telse\n"
"\t\tfor (long k = 0; k < kc; k++)\n"
"\t\t\tfor (long t = 0; t < nj; t++)\n"
"\t\t\t\tdst[k * ldd + t] = X[t * js + k * ks];\n"
"\tfor (long k = 0; k < kc; k++)\n"
"\t\tfor (long t = nj; t < w; t++)\n"
"\t\t\tdst[k * ldd + t] = 0;\n"
"}\n\n";

static const char gemm_into_text[] =
"NARROW"
"/* C[i, j] = (bias[j] or 0) + sum_k A[i ars + k acs] B[k brs + j bcs],\n"
" * then the epilogue ep, if any, on each tile as it is finished; with\n"
" * add, C[i, j] + the sum (C += A B). */\n"
"static void PFX_gemm_into(long M, long N, long K, const REAL *A, long ars, long acs,\n"
"\t\t\tconst REAL *B, long brs, long bcs, const REAL *bias, REAL *C, int add, const PFX_epilogue *ep)\n"
"{\n"
"\t/* The units of work: rb rows by a group of column blocks of C, each\n"
"\t * summed over all of k by whichever thread claims it, so the units'\n"
"\t * shape, which depends on the product's and on whether one thread runs\n"
"\t * it, decides nothing of the result. Units run group by group. Rows of\n"
"\t * A that run along k (acs = 1) are read in place, so narrow groups cost\n"
"\t * little and come first, up to PFX_UNITS units; other rows of A are\n"
"\t * packed once per unit, so then there are at most four groups. Fewer\n"
"\t * rows per unit read B again, so they come last. A thread alone (one\n"
"\t * thread, or the product inside a parallel loop) takes all the column\n"
"\t * blocks of PFX_MC rows at a time: each slice of A then serves every\n"
"\t * block while it is in the cache, and is packed once. When B's panels\n"
"\t * for a group hold all of k in bps (keep), a thread packs them once for\n"
"\t * all the units of that group it runs in a row. */\n"
"NARROW_CALL"
"\tconst long blocks = (N + PFX_NR - 1) / PFX_NR, slices = (K + PFX_KC - 1) / PFX_KC;\n"
"\tlong rb = PFX_MC, rows = (M + rb - 1) / rb, groups;\n"
"INPLACE"
"\tif (inplace) {\n"
"\t\tgroups = (blocks + PFX_NG - 1) / PFX_NG;\n"
"\t\tif (rows * groups < PFX_UNITS)\n"
"\t\t\tgroups = blocks < (PFX_UNITS + rows - 1) / rows ? blocks : (PFX_UNITS + rows - 1) / rows;\n"
"\t} else\n"
"\t\tgroups = blocks < 4 ? blocks : 4;\n"
"\twhile (rb > 2 * PFX_MR && rows * groups < PFX_UNITS / 2) {\n"
"\t\trb /= 2;\n"
"\t\trows = (M + rb - 1) / rb;\n"
"\t}\n"
"\tif (inplace && rows > 1 && slices <= PFX_NG && (blocks + groups - 1) / groups * slices > PFX_NG)\n"
"\t\tgroups = (blocks + PFX_NG / slices - 1) / (PFX_NG / slices);\n"
"#ifdef _OPENMP\n"
"\t/* Rows of A read in place stream past every group: when they would not\n"
"\t * stay in a quarter of a core's L2 cache, no more groups than threads. */\n"
"\tif (inplace && rb * K * (long)sizeof *A > (1L << 19) && groups > omp_get_max_threads())\n"
"\t\tgroups = omp_get_max_threads();\n"
"\tif (omp_get_max_threads() == 1 || omp_in_parallel())\n"
"#endif\n"
"\t{ /* one thread runs it: one unit per block of rows */\n"
"\t\trb = PFX_MC;\n"
"\t\trows = (M + rb - 1) / rb;\n"
"\t\tgroups = 1;\n"
"\t}\n"
"\tconst long cg = (blocks + groups - 1) / groups, units = rows * groups;\n"
"\tconst int keep = slices * cg <= PFX_NG;\n"
"#ifdef _OPENMP\n"
"#pragma omp parallel if (M * N * K >= 262144 && units > 1)\n"
"#endif\n"
"\t{\n"
"\t\tREAL ap[PFX_MC * PFX_KC], bps[PFX_NG * PFX_KC * PFX_NR], edge[PFX_MR * PFX_NR], bedge[PFX_NR];\n"
"\t\tlong packed = -1; /* the group whose panels of B are in bps, if keep */\n"
"#ifdef _OPENMP\n"
"#pragma omp for schedule(dynamic, 1)\n"
"#endif\n"
"\t\tfor (long u = 0; u < units; u++) {\n"
"\t\t\tconst long g = u / rows, i0 = u % rows * rb, mc = M - i0 < rb ? M - i0 : rb;\n"
"\t\t\tconst long jg = blocks * g / groups, jg1 = blocks * (g + 1) / groups;\n"
"\t\t\tfor (long k0 = 0; k0 < K; k0 += PFX_KC) {\n"
"\t\t\t\tconst long kc = K - k0 < PFX_KC ? K - k0 : PFX_KC;\n"
"\t\t\t\tconst int last = k0 + kc == K;\n"
"\t\t\t\tconst int first = !add && k0 == 0; /* the sums start from the bias or 0 */\n"
"\t\t\t\tfor (long i = 0; i < mc; i += PFX_MR)\n"
"\t\t\t\t\tif (!inplace || mc - i < PFX_MR)\n"
"\t\t\t\t\t\tPFX_pack(A + (i0 + i) * ars + k0 * acs, ars, acs, mc - i < PFX_MR ? mc - i : PFX_MR,\n"
"\t\t\t\t\t\t\t PFX_MR, kc, ap + i * kc, PFX_MR);\n"
"ROWS"
"\t\t\t\tfor (long jb = jg; jb < jg1; jb++) {\n"
"\t\t\t\t\tconst long j0 = jb * PFX_NR, nr = N - j0 < PFX_NR ? N - j0 : PFX_NR;\n"
"\t\t\t\t\tREAL *bp = bps + (keep ? (k0 / PFX_KC * cg + jb - jg) * PFX_KC * PFX_NR : 0);\n"
"\t\t\t\t\tif (!keep || packed != g)\n"
"\t\t\t\t\t\tPFX_pack(B + k0 * brs + j0 * bcs, bcs, brs, nr, PFX_NR, kc, bp, PFX_NR);\n"
"\t\t\t\t\tconst REAL *bj = bias && k0 == 0 ? bias + j0 : NULL;\n"
"\t\t\t\t\tif (bj && nr < PFX_NR) {\n"
"\t\t\t\t\t\tfor (long j = 0; j < PFX_NR; j++)\n"
"\t\t\t\t\t\t\tbedge[j] = j < nr ? bj[j] : 0;\n"
"\t\t\t\t\t\tbj = bedge;\n"
"\t\t\t\t\t}\n"
"\t\t\t\t\tfor (long i = 0; i < mc; i += PFX_MR) {\n"
"\t\t\t\t\t\tconst long mr = mc - i < PFX_MR ? mc - i : PFX_MR;\n"
"\t\t\t\t\t\tREAL *c = C + (i0 + i) * N + j0;\n"
"\t\t\t\t\t\t/* whole panels of rows that run along k are read in place */\n"
"\t\t\t\t\t\tconst int direct = inplace && mr == PFX_MR;\n"
"\t\t\t\t\t\tconst REAL *a = direct ? A + (i0 + i) * ars + k0 : ap + i * kc;\n"
"\t\t\t\t\t\tconst long ka = direct ? 1 : PFX_MR, ra = direct ? ars : 1;\n"
"\t\t\t\t\t\tif (mr == PFX_MR && nr == PFX_NR) {\n"
"\t\t\t\t\t\t\tPFX_kernel(kc, a, ka, ra, bp, c, N, bj, first);\n"
"\t\t\t\t\t\t\tif (ep && last)\n"
"\t\t\t\t\t\t\t\tPFX_finish(ep, c, N, mr, nr, (i0 + i) * N + j0);\n"
"\t\t\t\t\t\t\tcontinue;\n"
"\t\t\t\t\t\t}\n"
"\t\t\t\t\t\t/* A tile at the edge of C: computed whole in `edge`, one\n"
"\t\t\t\t\t\t * vector wide when the tile is. */\n"
"\t\t\t\t\t\tfor (long r = 0; r < PFX_MR; r++)\n"
"\t\t\t\t\t\t\tfor (long j = 0; j < PFX_NR; j++)\n"
"\t\t\t\t\t\t\t\tedge[r * PFX_NR + j] = r < mr && j < nr && !first ? c[r * N + j] : 0;\n"
"\t\t\t\t\t\tif (nr <= UPFX_LANES)\n"
"\t\t\t\t\t\t\tPFX_kernel1(kc, a, ka, ra, bp, edge, PFX_NR, bj, first);\n"
"\t\t\t\t\t\telse\n"
"\t\t\t\t\t\t\tPFX_kernel(kc, a, ka, ra, bp, edge, PFX_NR, bj, first);\n"
"\t\t\t\t\t\tfor (long r = 0; r < mr; r++)\n"
"\t\t\t\t\t\t\tmemcpy(c + r * N, edge + r * PFX_NR, sizeof(REAL) * (size_t)nr);\n"
"\t\t\t\t\t\tif (ep && last)\n"
"\t\t\t\t\t\t\tPFX_finish(ep, c, N, mr, nr, (i0 + i) * N + j0);\n"
"\t\t\t\t\t}\n"
"\t\t\t\t}\n"
"\t\t\t}\n"
"\t\t\tpacked = g;\n"
"\t\t}\n"
"\t}\n"
"}\n\n";

/* A product whose C is one or two vectors of rows by at most PFX_NN
 * columns, with both operands running along k from row to row (ars = 1,
 * bcs = 1: the weight gradient of a convolution with one channel on one
 * side, dW = map^T^T cols): all of C stays in registers for all of k,
 * lanes along i, and A and B are read in place, where the blocked form
 * would pack B into panels NR wide for a few columns. Each value is
 * summed over k in order from the same start with the same FMAs, so the
 * values are the blocked form's, bit for bit. Not for bf16, whose
 * operands the packing rounds. */
static const char gemm_narrow_text[] =
"/* C (M = UPFX_LANES or 2 UPFX_LANES rows, N <= PFX_NN columns) = (C if\n"
" * add, else bias or 0) + sum_k A[i + k acs] B[k brs + j]; no epilogue. */\n"
"static void PFX_gemm_narrow(long M, long N, long K, const REAL *A, long acs, const REAL *B, long brs,\n"
"\t\t\t     const REAL *bias, REAL *C, int add)\n"
"{\n"
"\tPFX_vec c[PFX_NN][2];\n"
"\tREAL t[2 * UPFX_LANES];\n"
"\tconst int nv = M > UPFX_LANES ? 2 : 1;\n"
"\tconst long nn = N < PFX_NN ? N : PFX_NN; /* N, as the caller checked */\n"
"\tfor (long j = 0; j < nn; j++)\n"
"\t\tfor (int v = 0; v < nv; v++) {\n"
"\t\t\tfor (int l = 0; l < UPFX_LANES; l++)\n"
"\t\t\t\tt[l] = add ? C[(v * UPFX_LANES + l) * N + j] : bias ? bias[j] : 0;\n"
"\t\t\tc[j][v] = UPFX_LOAD(t);\n"
"\t\t}\n"
"\tfor (long k = 0; k < K; k++) {\n"
"\t\tconst REAL *a = A + k * acs, *b = B + k * brs;\n"
"\t\tconst PFX_vec a0 = UPFX_LOAD(a), a1 = nv == 2 ? UPFX_LOAD(a + UPFX_LANES) : a0;\n"
"\t\tfor (long j = 0; j < nn; j++) {\n"
"\t\t\tconst PFX_vec x = UPFX_SET1(b[j]);\n"
"\t\t\tc[j][0] = UPFX_FMA(a0, x, c[j][0]);\n"
"\t\t\tif (nv == 2)\n"
"\t\t\t\tc[j][1] = UPFX_FMA(a1, x, c[j][1]);\n"
"\t\t}\n"
"\t}\n"
"\tfor (long j = 0; j < nn; j++)\n"
"\t\tfor (int v = 0; v < nv; v++) {\n"
"\t\t\tUPFX_STORE(t, c[j][v]);\n"
"\t\t\tfor (int l = 0; l < UPFX_LANES; l++)\n"
"\t\t\t\tC[(v * UPFX_LANES + l) * N + j] = t[l];\n"
"\t\t}\n"
"}\n\n";

static const char gemm_narrow_call[] =
"\tif (ars == 1 && bcs == 1 && (M == UPFX_LANES || M == 2 * UPFX_LANES) && N <= PFX_NN && !ep) {\n"
"\t\tPFX_gemm_narrow(M, N, K, A, acs, B, brs, bias, C, add); /* C in registers */\n"
"\t\treturn;\n"
"\t}\n";

/* The 4 x 4 transpose of PFX_pack: SSE shuffles for float (NEON and
 * others through SIMDe), plain loops for double. */
static const char transpose4_f32[] =
"\tsimde__m128 r0 = simde_mm_loadu_ps(src), r1 = simde_mm_loadu_ps(src + lds);\n"
"\tsimde__m128 r2 = simde_mm_loadu_ps(src + 2 * lds), r3 = simde_mm_loadu_ps(src + 3 * lds);\n"
"\tSIMDE_MM_TRANSPOSE4_PS(r0, r1, r2, r3);\n"
"\tsimde_mm_storeu_ps(dst, r0);\n"
"\tsimde_mm_storeu_ps(dst + ldd, r1);\n"
"\tsimde_mm_storeu_ps(dst + 2 * ldd, r2);\n"
"\tsimde_mm_storeu_ps(dst + 3 * ldd, r3);\n";
static const char transpose4_f64[] =
"\tfor (long i = 0; i < 4; i++)\n"
"\t\tfor (long j = 0; j < 4; j++)\n"
"\t\t\tdst[j * ldd + i] = src[i * lds + j];\n";

/* The same product with no memory beyond a few 128-bit vectors, for small
 * devices and single samples (aecc export --tile small): a row of C at a
 * time, W columns (the lanes of 128 bits) in a vector, four vectors at a
 * time so that four chains of FMAs are in flight; each column summed over
 * k in order from its bias with the vector FMA, as PFX_gemm's blocked form
 * sums it: the same values, bit for bit. When the columns of B run along
 * k (B = W^T, the weights of a dense layer or a convolution), W of them
 * are read W at a time and transposed in registers. */
static const char gemm_small_text[] =
"/* acc + the sum over t < W of a[t acs] B(t, .), in order, where B(t, v) =\n"
" * b[v bcs + t] for the W columns v: rows of b transposed in registers. */\n"
"static V128 PFX_gemm_cols(V128 acc, const REAL *a, long acs, const REAL *b, long bcs)\n"
"{\n"
"TRANSPOSE"
"\treturn acc;\n"
"}\n\n"
"/* B(k, j + v) = b[v bcs] for v < w, 0 for the other lanes. */\n"
"static V128 PFX_gemm_gather(const REAL *b, long bcs, long w)\n"
"{\n"
"\tREAL t[L128] = {0};\n"
"\tfor (long v = 0; v < w; v++)\n"
"\t\tt[v] = b[v * bcs];\n"
"\treturn simde_mm_loadu_SFX(t);\n"
"}\n\n"
"/* acc + sum_k a[k acs] B(k, j..j+w), w <= W columns (the lanes past w\n"
" * 0): B's rows run along j (bcs = 1), or its columns along k (brs = 1,\n"
" * W x W transposed), or any strides, one k at a time. */\n"
"static V128 PFX_gemm_sums(V128 acc, const REAL *a, long acs, long K, const REAL *B, long brs, long bcs, long j,\n"
"\t\t\tlong w)\n"
"{\n"
"\tlong k = 0;\n"
"\tif (w == L128 && bcs == 1)\n"
"\t\tfor (; k < K; k++)\n"
"\t\t\tacc = simde_mm_fmadd_SFX(simde_mm_set1_SFX(a[k * acs]), simde_mm_loadu_SFX(B + k * brs + j), acc);\n"
"\telse if (w == L128 && brs == 1)\n"
"\t\tfor (; k + L128 <= K; k += L128)\n"
"\t\t\tacc = PFX_gemm_cols(acc, a + k * acs, acs, B + j * bcs + k, bcs);\n"
"\tfor (long left = K - k; left > 0; left--, k++)\n"
"\t\tacc = simde_mm_fmadd_SFX(simde_mm_set1_SFX(a[k * acs]), PFX_gemm_gather(B + k * brs + j * bcs, bcs, w), acc);\n"
"\treturn acc;\n"
"}\n\n"
"/* C[i, j] = (bias[j] or 0) + sum_k A[i ars + k acs] B[k brs + j bcs],\n"
" * then the epilogue ep, if any: a row at a time, W columns in a vector,\n"
" * each summed over k in order from its bias; with add, C[i, j] + the\n"
" * sum (C += A B), from C[i, j]. */\n"
"static void PFX_gemm_into(long M, long N, long K, const REAL *A, long ars, long acs,\n"
"\t\t\tconst REAL *B, long brs, long bcs, const REAL *bias, REAL *C, int add, const PFX_epilogue *ep)\n"
"{\n"
"\tenum { W = L128 };\n"
"\tfor (long i = 0; i < M; i++) {\n"
"\t\tconst REAL *a = A + i * ars;\n"
"\t\tREAL *c = C + i * N;\n"
"\t\tconst REAL *from = add ? c : bias; /* where the sums start, or 0 */\n"
"\t\tlong j = 0;\n"
"\t\tfor (; j + 4 * W <= N && (bcs == 1 || brs == 1); j += 4 * W) { /* four vectors of columns */\n"
"\t\t\tV128 s0 = from ? simde_mm_loadu_SFX(from + j) : simde_mm_setzero_SFX();\n"
"\t\t\tV128 s1 = from ? simde_mm_loadu_SFX(from + j + W) : simde_mm_setzero_SFX();\n"
"\t\t\tV128 s2 = from ? simde_mm_loadu_SFX(from + j + 2 * W) : simde_mm_setzero_SFX();\n"
"\t\t\tV128 s3 = from ? simde_mm_loadu_SFX(from + j + 3 * W) : simde_mm_setzero_SFX();\n"
"\t\t\tlong k = 0;\n"
"\t\t\tif (bcs == 1)\n"
"\t\t\t\tfor (; k < K; k++) {\n"
"\t\t\t\t\tconst V128 x = simde_mm_set1_SFX(a[k * acs]);\n"
"\t\t\t\t\tconst REAL *b = B + k * brs + j;\n"
"\t\t\t\t\ts0 = simde_mm_fmadd_SFX(x, simde_mm_loadu_SFX(b), s0);\n"
"\t\t\t\t\ts1 = simde_mm_fmadd_SFX(x, simde_mm_loadu_SFX(b + W), s1);\n"
"\t\t\t\t\ts2 = simde_mm_fmadd_SFX(x, simde_mm_loadu_SFX(b + 2 * W), s2);\n"
"\t\t\t\t\ts3 = simde_mm_fmadd_SFX(x, simde_mm_loadu_SFX(b + 3 * W), s3);\n"
"\t\t\t\t}\n"
"\t\t\telse\n"
"\t\t\t\tfor (; k + W <= K; k += W) {\n"
"\t\t\t\t\tconst REAL *b = B + j * bcs + k;\n"
"\t\t\t\t\ts0 = PFX_gemm_cols(s0, a + k * acs, acs, b, bcs);\n"
"\t\t\t\t\ts1 = PFX_gemm_cols(s1, a + k * acs, acs, b + W * bcs, bcs);\n"
"\t\t\t\t\ts2 = PFX_gemm_cols(s2, a + k * acs, acs, b + 2 * W * bcs, bcs);\n"
"\t\t\t\t\ts3 = PFX_gemm_cols(s3, a + k * acs, acs, b + 3 * W * bcs, bcs);\n"
"\t\t\t\t}\n"
"\t\t\tfor (long left = K - k; left > 0; left--, k++) { /* counted down: see act_tail */\n"
"\t\t\t\tconst V128 x = simde_mm_set1_SFX(a[k * acs]);\n"
"\t\t\t\tconst REAL *b = B + k * brs + j * bcs;\n"
"\t\t\t\ts0 = simde_mm_fmadd_SFX(x, PFX_gemm_gather(b, bcs, W), s0);\n"
"\t\t\t\ts1 = simde_mm_fmadd_SFX(x, PFX_gemm_gather(b + W * bcs, bcs, W), s1);\n"
"\t\t\t\ts2 = simde_mm_fmadd_SFX(x, PFX_gemm_gather(b + 2 * W * bcs, bcs, W), s2);\n"
"\t\t\t\ts3 = simde_mm_fmadd_SFX(x, PFX_gemm_gather(b + 3 * W * bcs, bcs, W), s3);\n"
"\t\t\t}\n"
"\t\t\tsimde_mm_storeu_SFX(c + j, s0);\n"
"\t\t\tsimde_mm_storeu_SFX(c + j + W, s1);\n"
"\t\t\tsimde_mm_storeu_SFX(c + j + 2 * W, s2);\n"
"\t\t\tsimde_mm_storeu_SFX(c + j + 3 * W, s3);\n"
"\t\t}\n"
"\t\tfor (; j < N; j += W) { /* the rest, a vector at a time */\n"
"\t\t\tconst long w = N - j < W ? N - j : W;\n"
"\t\t\tREAL t[W] = {0};\n"
"\t\t\tfor (long v = 0; from && v < w; v++)\n"
"\t\t\t\tt[v] = from[j + v];\n"
"\t\t\tsimde_mm_storeu_SFX(t, PFX_gemm_sums(simde_mm_loadu_SFX(t), a, acs, K, B, brs, bcs, j, w));\n"
"\t\t\tmemcpy(c + j, t, sizeof(REAL) * (size_t)w);\n"
"\t\t}\n"
"\t\tif (ep)\n"
"\t\t\tPFX_finish(ep, c, N, 1, N, i * N);\n"
"\t}\n"
"}\n\n";
/* Four columns of B (rows of b) by four k, transposed: r_t holds B(t, .). */
static const char gemm_small_f32[] =
"\tsimde__m128 r0 = simde_mm_loadu_ps(b), r1 = simde_mm_loadu_ps(b + bcs);\n"
"\tsimde__m128 r2 = simde_mm_loadu_ps(b + 2 * bcs), r3 = simde_mm_loadu_ps(b + 3 * bcs);\n"
"\tSIMDE_MM_TRANSPOSE4_PS(r0, r1, r2, r3);\n"
"\tacc = simde_mm_fmadd_ps(simde_mm_set1_ps(a[0]), r0, acc);\n"
"\tacc = simde_mm_fmadd_ps(simde_mm_set1_ps(a[acs]), r1, acc);\n"
"\tacc = simde_mm_fmadd_ps(simde_mm_set1_ps(a[2 * acs]), r2, acc);\n"
"\tacc = simde_mm_fmadd_ps(simde_mm_set1_ps(a[3 * acs]), r3, acc);\n";
/* Two columns by two k. */
static const char gemm_small_f64[] =
"\tconst simde__m128d r0 = simde_mm_loadu_pd(b), r1 = simde_mm_loadu_pd(b + bcs);\n"
"\tacc = simde_mm_fmadd_pd(simde_mm_set1_pd(a[0]), simde_mm_unpacklo_pd(r0, r1), acc);\n"
"\tacc = simde_mm_fmadd_pd(simde_mm_set1_pd(a[acs]), simde_mm_unpackhi_pd(r0, r1), acc);\n";

/* With precision = bf16, every operand of a product is rounded to bf16
 * (round to nearest, ties to even, as PyTorch and the CPUs' conversion
 * instructions round) and the products are summed in fp32: each product
 * of two bf16 values is exact in fp32, so this is what a dot-product
 * instruction on bf16 pairs computes, up to the order of the sums. The
 * blocked product rounds its panels as it packs them; rows of A that it
 * would read in place it copies rounded (a plain copy, no transpose) and
 * reads those as rows, so the sums are the packed form's, bit for bit. */
static const char bf16_text[] =
"/* x rounded to the nearest bfloat16 (ties to even), as a float: the top\n"
" * 16 bits of its fp32 bits. A NaN stays a NaN (quiet), an overflow is inf. */\n"
"static inline float PFX_bf16(float x)\n"
"{\n"
"\tuint32_t u;\n"
"\tmemcpy(&u, &x, sizeof u);\n"
"\tu = (u & 0x7fffffffu) > 0x7f800000u ? u | 0x00400000u : u + 0x7fffu + (u >> 16 & 1u);\n"
"\tu &= 0xffff0000u;\n"
"\tmemcpy(&x, &u, sizeof x);\n"
"\treturn x;\n"
"}\n\n";

static const char pack_bf16_text[] =
"/* PFX_pack_exact's panel, its values rounded to bf16. */\n"
"static void PFX_pack(const REAL *X, long js, long ks, long nj, long w, long kc, REAL *dst, long ldd)\n"
"{\n"
"\tPFX_pack_exact(X, js, ks, nj, w, kc, dst, ldd);\n"
"\tfor (long k = 0; k < kc; k++)\n"
"\t\tfor (long t = 0; t < w; t++)\n"
"\t\t\tdst[k * ldd + t] = PFX_bf16(dst[k * ldd + t]);\n"
"}\n\n"
"/* dst[r kc + k] = X[r ld + k] rounded to bf16, for the PFX_MR rows r and\n"
" * k < kc: whole rows of A along k, which the kernel then reads as rows. */\n"
"static void PFX_round_rows(const REAL *X, long ld, long kc, REAL *dst)\n"
"{\n"
"\tfor (long r = 0; r < PFX_MR; r++)\n"
"\t\tfor (long k = 0; k < kc; k++)\n"
"\t\t\tdst[r * kc + k] = PFX_bf16(X[r * ld + k]);\n"
"}\n\n";

/* Where the target has AVX512-BF16 (a build for the CPU it runs on has
 * it if the CPU has), the bf16 products multiply with vdpbf16ps, which
 * takes 32-bit pairs of bf16 values along k: each element of a panel is
 * (k, k + 1) of one row of A or one column of B, an odd last k paired with
 * 0. The panels are packed as fp32's, then made pairs in place, with the
 * CPU's rounding (to nearest even, as PFX_bf16 for every normal value,
 * subnormals flushed to 0), but for a panel of B whose rows run along j,
 * which becomes pairs as it is read; a row of A along k is copied as bf16
 * in order, which is the same pairs. Each instruction adds to every lane of C the
 * product for k + 1, then the one for k, each sum rounded to fp32 with
 * subnormals flushed (measured against that definition on AMD Zen 5;
 * Intel's manual defines it so). The products are exact, so the sums are
 * fp32's over the same rounded operands, but for the order within a pair
 * and the subnormals: still the same for any thread count, as every
 * element is summed over k by one thread in one order. Written with the
 * compiler's own intrinsics (SIMDe has no BF16 conversions), 16 lanes:
 * PFX_NR is two vectors of 16 pairs, PFX_MR (8) rows of A are four
 * rows of fp32 or two of pairs in 32 floats. */
typedef char gemm_mr_is_8[GEMM_MR == 8 && GEMM_NV == 2 ? 1 : -1];

static const char gemm_pairs_text[] =
"#if defined(__AVX512BF16__) && defined(SIMDE_X86_AVX512F_NATIVE)\n"
"/* AVX512-BF16: the panels hold pairs of bf16 values along k, (k, k + 1)\n"
" * in one 32-bit element (an odd last k paired with 0), and vdpbf16ps adds\n"
" * the product for k + 1, then the one for k, to every lane of C. */\n"
"#include <immintrin.h>\n\n"
"#define UPFX_ROW_LEN(kc) (((kc) + 1) / 2) /* a row of A along k, copied: its pairs */\n\n"
"/* The pair at p, in every lane. */\n"
"static inline __m512bh PFX_pair(const REAL *p)\n"
"{\n"
"\tuint32_t w;\n"
"\tmemcpy(&w, p, sizeof w);\n"
"\treturn (__m512bh)_mm512_set1_epi32((int)w);\n"
"}\n\n"
"KERNELS"
"/* The first n of 16 lanes (n <= 0: none). */\n"
"static inline __mmask16 PFX_lanes(long n)\n"
"{\n"
"\treturn n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);\n"
"}\n\n"
"/* PFX_pack_exact's panel (kc rows of w = PFX_MR or PFX_NR values, ldd = w),\n"
" * made pairs in place: row p of pairs from rows 2p and 2p + 1, rounded.\n"
" * Whole rows of X along j (a panel of B copied row by row) become pairs\n"
" * as they are read. */\n"
"static void PFX_pack(const REAL *X, long js, long ks, long nj, long w, long kc, REAL *dst, long ldd)\n"
"{\n"
"\tconst int rows = js == 1 && w == PFX_NR && nj == w;\n"
"\tif (!rows)\n"
"\t\tPFX_pack_exact(X, js, ks, nj, w, kc, dst, ldd);\n"
"\tif (w == PFX_NR) { /* 16 columns of two rows: lane 2t from row 2p, 2t + 1 from 2p + 1 */\n"
"\t\tconst __m512i mix = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,\n"
"\t\t\t\t\t\t       23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);\n"
"\t\tconst REAL *src = rows ? X : dst;\n"
"\t\tconst long ld = rows ? ks : ldd;\n"
"\t\tfor (long p = 0; 2 * p < kc; p++)\n"
"\t\t\tfor (long v = 0; v < PFX_NR; v += UPFX_LANES) {\n"
"\t\t\t\tconst __m512 lo = _mm512_loadu_ps(src + 2 * p * ld + v);\n"
"\t\t\t\tconst __m512 hi = 2 * p + 1 < kc ? _mm512_loadu_ps(src + (2 * p + 1) * ld + v) : _mm512_setzero_ps();\n"
"\t\t\t\t_mm512_storeu_si512(dst + p * ldd + v, _mm512_permutexvar_epi16(mix, (__m512i)_mm512_cvtne2ps_pbh(hi, lo)));\n"
"\t\t\t}\n"
"\t\treturn;\n"
"\t}\n"
"\t/* w = PFX_MR = 8: rows k to k + 3 (32 floats) give two rows of pairs */\n"
"\tconst __m512i mix = _mm512_set_epi16(31, 23, 30, 22, 29, 21, 28, 20, 27, 19, 26, 18, 25, 17, 24, 16,\n"
"\t\t\t\t\t       15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0);\n"
"\tfor (long k = 0; k < kc; k += 4) {\n"
"\t\tconst long n = (kc - k < 4 ? kc - k : 4) * PFX_MR; /* floats left, 0 past kc */\n"
"\t\tconst __m512 lo = _mm512_maskz_loadu_ps(PFX_lanes(n), dst + k * ldd);\n"
"\t\tconst __m512 hi = _mm512_maskz_loadu_ps(PFX_lanes(n - UPFX_LANES), dst + k * ldd + UPFX_LANES);\n"
"\t\t_mm512_mask_storeu_epi32(dst + k / 2 * ldd, PFX_lanes(n > 16 ? 16 : 8),\n"
"\t\t\t\t\t _mm512_permutexvar_epi16(mix, (__m512i)_mm512_cvtne2ps_pbh(hi, lo)));\n"
"\t}\n"
"}\n\n"
"/* X[r ld + k] for the PFX_MR rows r and k < kc, rounded to bf16, in order:\n"
" * UPFX_ROW_LEN(kc) pairs a row at dst (an odd kc's last paired with 0),\n"
" * whole rows of A along k, which the kernel then reads as rows. */\n"
"static void PFX_round_rows(const REAL *X, long ld, long kc, REAL *dst)\n"
"{\n"
"\tfor (long r = 0; r < PFX_MR; r++)\n"
"\t\tfor (long k = 0; k < kc; k += 2 * UPFX_LANES) {\n"
"\t\t\tconst long left = kc - k;\n"
"\t\t\tconst __m512 lo = _mm512_maskz_loadu_ps(PFX_lanes(left), X + r * ld + k);\n"
"\t\t\tconst __m512 hi = _mm512_maskz_loadu_ps(PFX_lanes(left - UPFX_LANES), X + r * ld + k + UPFX_LANES);\n"
"\t\t\t_mm512_mask_storeu_epi32(dst + r * UPFX_ROW_LEN(kc) + k / 2, PFX_lanes((left + 1) / 2),\n"
"\t\t\t\t\t\t (__m512i)_mm512_cvtne2ps_pbh(hi, lo));\n"
"\t\t}\n"
"}\n\n"
"#else\n"
"#define UPFX_ROW_LEN(kc) (kc) /* a row of A along k, copied: its values */\n\n";

/* PFX_kernel and PFX_kernel1 on pairs: fp32's, a pair of k at a time. */
static const char *pairs_kernels(void)
{
	static const char *const from_to[][2] = {
		{" * a b, where a is a kc x MR panel of A, element (k, r) at a[k ka + r ra]\n"
		 " * (packed: ka = MR, ra = 1; rows of A read in place: ka = 1), and b a\n"
		 " * packed kc x NR panel of B. */\n",
		 " * a b, where a holds (kc + 1) / 2 x MR pairs of A, pair (p, r) at\n"
		 " * a[p ka + r ra] (packed: ka = MR, ra = 1; rows of A along k: ka = 1),\n"
		 " * and b a packed panel of (kc + 1) / 2 x NR pairs of B. */\n"},
		{"for (long k = 0; k < kc; k++) {", "for (long p = 0; p < (kc + 1) / 2; p++) {"},
		{"const PFX_vec b0 = UPFX_LOAD(b + k * PFX_NR), b1 = UPFX_LOAD(b + k * PFX_NR + UPFX_LANES);",
		 "const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * PFX_NR);\n"
		 "\t\tconst __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * PFX_NR + UPFX_LANES);"},
		{"const PFX_vec x = UPFX_SET1(a[k * ka + r * ra]);", "const __m512bh x = PFX_pair(a + p * ka + r * ra);"},
		{"UPFX_FMA(x, b0, c[r][0])", "_mm512_dpbf16_ps(c[r][0], x, b0)"},
		{"UPFX_FMA(x, b1, c[r][1])", "_mm512_dpbf16_ps(c[r][1], x, b1)"},
		{"const PFX_vec b0 = UPFX_LOAD(b + k * PFX_NR);", "const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * PFX_NR);"},
		{"UPFX_FMA(UPFX_SET1(a[k * ka + r * ra]), b0, c[r])", "_mm512_dpbf16_ps(c[r], PFX_pair(a + p * ka + r * ra), b0)"},
	};
	const char *text = gemm_kernel_text;
	for (size_t i = 0; i < sizeof from_to / sizeof *from_to; i++) {
		if (!strstr(text, from_to[i][0]))
			ICE("the pairs' kernels: no '%s' in fp32's", from_to[i][0]);
		text = str_replace(text, from_to[i][0], from_to[i][1]);
	}
	return text;
}

/* The blocked product: for bf16, its packing of fp32 (PFX_pack_exact),
 * then AVX512-BF16's kernel and packing into pairs or, elsewhere, the fp32
 * kernel on panels rounded as they are packed. */
static void gemm_blocked(Emit *e, int bf16)
{
	emit_template(e, xasprintf("enum { PFX_MR = %d, PFX_NR = %d * UPFX_LANES, PFX_KC = %d, PFX_MC = %d, PFX_NG = %d, PFX_UNITS = %d%s };\n\n",
				   GEMM_MR, GEMM_NV, GEMM_KC, GEMM_MC, GEMM_NG, GEMM_UNITS,
				   bf16 ? "" : xasprintf(", PFX_NN = %d", C_GEMM_NN)));
	const char *into = str_replace(gemm_into_text, "INPLACE",
				       bf16 ? "\tconst int inplace = acs == 1; /* rows of A along k: read as rows, copied rounded */\n"
					    : "\tconst int inplace = acs == 1; /* rows of A along k: read in place */\n");
	into = str_replace(into, "NARROW_CALL", bf16 ? "" : gemm_narrow_call);
	into = str_replace(into, "NARROW", bf16 ? "" : gemm_narrow_text);
	into = str_replace(into, "ROWS",
			   bf16 ? "\t\t\t\t\telse\n\t\t\t\t\t\tPFX_round_rows(A + (i0 + i) * ars + k0, ars, kc, ap + i * kc);\n" : "");
	if (!bf16) {
		emit_template(e, gemm_kernel_text);
		emit_template(e, gemm_pack_text);
		emit_template(e, into);
		return;
	}
	into = str_replace(into, "const REAL *a = direct ? A + (i0 + i) * ars + k0 : ap + i * kc;",
			   "const REAL *a = ap + i * kc;");
	into = str_replace(into, "ra = direct ? ars : 1;", "ra = direct ? UPFX_ROW_LEN(kc) : 1;");
	into = str_replace(into, "whole panels of rows that run along k are read in place",
			   "whole panels of rows that run along k are read as rows, rounded");
	emit_template(e, str_replace(gemm_pack_text, "static void PFX_pack(", "static void PFX_pack_exact("));
	emit_template(e, str_replace(gemm_pairs_text, "KERNELS", pairs_kernels()));
	emit_template(e, gemm_kernel_text);
	emit_template(e, pack_bf16_text);
	emit_template(e, "#endif\n\n");
	emit_template(e, into);
}

static const char gemm_text[] =
"/* C = (bias or 0) + A B, then the epilogue ep, if any (PFX_gemm_into). */\n"
"static void PFX_gemm(long M, long N, long K, const REAL *A, long ars, long acs, const REAL *B, long brs, long bcs,\n"
"\t\t     const REAL *bias, REAL *C, const PFX_epilogue *ep)\n"
"{\n"
"\tPFX_gemm_into(M, N, K, A, ars, acs, B, brs, bcs, bias, C, 0, ep);\n"
"}\n\n";

static void gemm(Emit *e, const char *P, const char *r)
{
	(void)P;
	const int bf16 = emit_bf16(e);
	emit_template(e, gemm_epilogue_text);
	if (bf16)
		emit_template(e, bf16_text);
	if (emit_scalar_kernels(e))
		emit_template(e, str_replace(gemm_scalar_text, "PRODUCT",
					     bf16 ? "PFX_bf16(A[i * ars + k * acs]) * PFX_bf16(B[k * brs + j * bcs])"
						  : "A[i * ars + k * acs] * B[k * brs + j * bcs]"));
	else if (emit_small_kernels(e))
		emit_template(e, str_replace(gemm_small_text, "TRANSPOSE", r[0] == 'f' ? gemm_small_f32 : gemm_small_f64));
	else
		gemm_blocked(e, bf16);
	emit_template(e, gemm_text);
}

/* C += A B, each sum going on from the value in C: a product over k split
 * into parts (one for each chunk of samples of a convolution, conv.c)
 * sums every value in the order of one product over all of k. */
static const char gemm_add_text[] =
"/* C[i, j] += sum_k A[i ars + k acs] B[k brs + j bcs], each sum going on\n"
" * from C[i, j]: PFX_gemm over k in parts, as PFX_gemm over all of it. */\n"
"static void PFX_gemm_add(long M, long N, long K, const REAL *A, long ars, long acs, const REAL *B, long brs,\n"
"\t\t\t long bcs, REAL *C)\n"
"{\n"
"\tPFX_gemm_into(M, N, K, A, ars, acs, B, brs, bcs, NULL, C, 1, NULL);\n"
"}\n\n";

static void gemm_add(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, gemm_add_text); }

/* Transposes: 4 x 4 blocks with SSE shuffles for float, then the edges
 * element by element; where the target has AVX, float goes 8 x 8 first
 * (24 shuffles for 64 values where 4 x 4 blocks take 32, and half the
 * loads and stores), the 4 x 4 form taking the strips left over. */
static const char transpose_text[] =
"/* dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols. */\n"
"static void PFX_transpose(long rows, long cols, const REAL *src, long lds, REAL *dst, long ldd)\n"
"{\n"
"\tconst long r4 = rows / 4 * 4, c4 = cols / 4 * 4;\n"
"\tfor (long i = 0; i < r4; i += 4)\n"
"\t\tfor (long j = 0; j < c4; j += 4)\n"
"\t\t\tPFX_transpose4(src + i * lds + j, lds, dst + j * ldd + i, ldd);\n"
"\tfor (long i = 0; i < rows; i++)\n"
"\t\tfor (long j = i < r4 ? c4 : 0; j < cols; j++)\n"
"\t\t\tdst[j * ldd + i] = src[i * lds + j];\n"
"}\n\n";

static const char transpose8_text[] =
"#ifdef SIMDE_X86_AVX_NATIVE\n"
"/* dst[j * ldd + i] = src[i * lds + j] for i, j < 8: unpacks, then\n"
" * shuffles, then 128-bit halves exchanged. */\n"
"static void PFX_transpose8(const float *src, long lds, float *dst, long ldd)\n"
"{\n"
"\tsimde__m256 r[8], t[8];\n"
"\tfor (int i = 0; i < 8; i++)\n"
"\t\tr[i] = simde_mm256_loadu_ps(src + i * lds);\n"
"\tfor (int i = 0; i < 8; i += 2) { /* t[i], t[i + 1]: rows i and i + 1 interleaved */\n"
"\t\tt[i] = simde_mm256_unpacklo_ps(r[i], r[i + 1]);\n"
"\t\tt[i + 1] = simde_mm256_unpackhi_ps(r[i], r[i + 1]);\n"
"\t}\n"
"\tfor (int i = 0; i < 8; i += 4) { /* r[i + c]: columns c and c + 4 of rows i to i + 3 */\n"
"\t\tr[i] = simde_mm256_shuffle_ps(t[i], t[i + 2], 0x44);\n"
"\t\tr[i + 1] = simde_mm256_shuffle_ps(t[i], t[i + 2], 0xee);\n"
"\t\tr[i + 2] = simde_mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);\n"
"\t\tr[i + 3] = simde_mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);\n"
"\t}\n"
"\tfor (int c = 0; c < 4; c++) { /* t[c]: column c of all 8 rows */\n"
"\t\tt[c] = simde_mm256_permute2f128_ps(r[c], r[c + 4], 0x20);\n"
"\t\tt[c + 4] = simde_mm256_permute2f128_ps(r[c], r[c + 4], 0x31);\n"
"\t}\n"
"\tfor (int c = 0; c < 8; c++)\n"
"\t\tsimde_mm256_storeu_ps(dst + c * ldd, t[c]);\n"
"}\n"
"#endif\n\n"
"/* dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: 8 x 8\n"
" * blocks where AVX makes them cheaper, the rest 4 x 4. */\n"
"static void PFX_transpose(long rows, long cols, const float *src, long lds, float *dst, long ldd)\n"
"{\n"
"#ifdef SIMDE_X86_AVX_NATIVE\n"
"\tconst long r8 = rows / 8 * 8, c8 = cols / 8 * 8;\n"
"\tfor (long i = 0; i < r8; i += 8)\n"
"\t\tfor (long j = 0; j < c8; j += 8)\n"
"\t\t\tPFX_transpose8(src + i * lds + j, lds, dst + j * ldd + i, ldd);\n"
"\tPFX_transpose_by4(r8, cols - c8, src + c8, lds, dst + c8 * ldd, ldd);\n"
"\tPFX_transpose_by4(rows - r8, cols, src + r8 * lds, lds, dst + r8, ldd);\n"
"#else\n"
"\tPFX_transpose_by4(rows, cols, src, lds, dst, ldd);\n"
"#endif\n"
"}\n\n";

static void transpose(Emit *e, const char *P, const char *r)
{
	(void)P;
	const int f32 = r[0] == 'f' && !emit_scalar_kernels(e);
	emit_template(e, xasprintf("/* dst[j * ldd + i] = src[i * lds + j] for i, j < 4. */\n"
				   "static void PFX_transpose4(const REAL *src, long lds, REAL *dst, long ldd)\n"
				   "{\n%s}\n\n",
				   f32 ? transpose4_f32 : transpose4_f64));
	if (!f32) {
		emit_template(e, transpose_text);
		return;
	}
	emit_template(e, str_replace(transpose_text, "PFX_transpose(", "PFX_transpose_by4("));
	emit_template(e, transpose8_text);
}




/* exp on every lane. float: Cephes' expf (a degree-6 polynomial on
 * [-ln 2 / 2, ln 2 / 2] scaled by 2^n built in the exponent bits), within
 * 2 ulp; double: libm's exp lane by lane. */
#define EXP1                                                          \
"/* e^x for one value, as PFX_vexp computes it. */\n"                 \
"static REAL PFX_exp1(REAL x)\n"                                      \
"{\n"                                                                  \
"\tREAL t[UPFX_LANES];\n"                                             \
"\tUPFX_STORE(t, PFX_vexp(UPFX_SET1(x)));\n"                          \
"\treturn t[0];\n"                                                    \
"}\n\n"
static const char vexp_f32[] =
"#if defined(SIMDE_X86_AVX512F_NATIVE)\n"
"#define UPFX_ROUND(x) simde_mm512_roundscale_ps(x, SIMDE_MM_FROUND_TO_NEAREST_INT)\n"
"#define UPFX_SCALE2(p, n) simde_mm512_scalef_ps(p, n)\n"
"#elif defined(SIMDE_X86_AVX2_NATIVE) && defined(SIMDE_X86_FMA_NATIVE)\n"
"#define UPFX_ROUND(x) simde_mm256_round_ps(x, SIMDE_MM_FROUND_TO_NEAREST_INT)\n"
"#define UPFX_SCALE2(p, n) simde_mm256_mul_ps(p, simde_mm256_castsi256_ps(simde_mm256_slli_epi32(\\\n"
"\tsimde_mm256_add_epi32(simde_mm256_cvtps_epi32(n), simde_mm256_set1_epi32(127)), 23)))\n"
"#else\n"
"#define UPFX_ROUND(x) simde_mm_round_ps(x, SIMDE_MM_FROUND_TO_NEAREST_INT)\n"
"#define UPFX_SCALE2(p, n) simde_mm_mul_ps(p, simde_mm_castsi128_ps(simde_mm_slli_epi32(\\\n"
"\tsimde_mm_add_epi32(simde_mm_cvtps_epi32(n), simde_mm_set1_epi32(127)), 23)))\n"
"#endif\n\n"
"/* e^x on every lane (x clamped to [-87.3, 88.7]), within 2 ulp of expf. */\n"
"static PFX_vec PFX_vexp(PFX_vec x)\n"
"{\n"
"\tx = UPFX_MIN(UPFX_MAX(x, UPFX_SET1(-87.3f)), UPFX_SET1(88.7f));\n"
"\tconst PFX_vec nf = UPFX_ROUND(UPFX_MUL(x, UPFX_SET1(1.44269504088896341f)));\n"
"\tx = UPFX_SUB(x, UPFX_MUL(nf, UPFX_SET1(0.693359375f)));\n"
"\tx = UPFX_SUB(x, UPFX_MUL(nf, UPFX_SET1(-2.12194440e-4f)));\n"
"\tPFX_vec p = UPFX_SET1(1.9875691500e-4f);\n"
"\tp = UPFX_FMA(p, x, UPFX_SET1(1.3981999507e-3f));\n"
"\tp = UPFX_FMA(p, x, UPFX_SET1(8.3334519073e-3f));\n"
"\tp = UPFX_FMA(p, x, UPFX_SET1(4.1665795894e-2f));\n"
"\tp = UPFX_FMA(p, x, UPFX_SET1(1.6666665459e-1f));\n"
"\tp = UPFX_FMA(p, x, UPFX_SET1(5.0000001201e-1f));\n"
"\tp = UPFX_FMA(p, UPFX_MUL(x, x), UPFX_ADD(x, UPFX_SET1(1.0f)));\n"
"\treturn UPFX_SCALE2(p, nf);\n"
"}\n\n"
EXP1;
static const char vexp_f64[] =
"/* e^x on every lane. */\n"
"static PFX_vec PFX_vexp(PFX_vec x)\n"
"{\n"
"\tREAL t[UPFX_LANES];\n"
"\tUPFX_STORE(t, x);\n"
"\tfor (int i = 0; i < UPFX_LANES; i++)\n"
"\t\tt[i] = exp(t[i]);\n"
"\treturn UPFX_LOAD(t);\n"
"}\n\n"
EXP1;

static void vexp(Emit *e, const char *P, const char *r)
{
	(void)P;
	if (emit_scalar_kernels(e))
		return;
	emit_template(e, r[0] == 'f' ? vexp_f32 : vexp_f64);
}

/* The activations, forward and backward, on a block of rows: what the
 * activation ops and the epilogues of fused products call. The derivative
 * is read off the output y = f(x), so the pre-activation need not be kept.
 * The codes match act.c's table (act_code()). */
static const char act_head[] =
"enum { UPFX_RELU = 1, UPFX_LEAKY_RELU, UPFX_SIGMOID, UPFX_TANH };\n\n"
"/* Rows r < rows, columns j < cols (rows ldx, ldy, ldo apart): out = f(x)\n"
" * for the activation act or, when y is given, out = x f'(.) with the\n"
" * derivative spelled from the activation's output y. out may be x. */\n"
"static void PFX_act(int act, REAL slope, long rows, long cols, const REAL *x, long ldx,\n"
"\t\t\tconst REAL *y, long ldy, REAL *out, long ldo)\n"
"{\n"
"\tfor (long r = 0; r < rows; r++, x += ldx, y = y ? y + ldy : y, out += ldo) {\n"
"\t\tlong j = 0;\n";
static const char act_vector[] =
"\t\tconst PFX_vec one = UPFX_SET1(1), zero = UPFX_ZERO(), a = UPFX_SET1(slope);\n"
"\t\tif (act == UPFX_RELU && !y)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES)\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_MAX(UPFX_LOAD(x + j), zero));\n"
"\t\telse if (act == UPFX_LEAKY_RELU && !y)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES) {\n"
"\t\t\t\tconst PFX_vec v = UPFX_LOAD(x + j);\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_ADD(UPFX_MAX(v, zero), UPFX_MUL(a, UPFX_MIN(v, zero))));\n"
"\t\t\t}\n"
"\t\telse if (act == UPFX_RELU)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES)\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_WHERE_POS(UPFX_LOAD(y + j), UPFX_LOAD(x + j), zero));\n"
"\t\telse if (act == UPFX_LEAKY_RELU)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES) {\n"
"\t\t\t\tconst PFX_vec v = UPFX_LOAD(x + j), p = UPFX_WHERE_POS(UPFX_LOAD(y + j), v, zero);\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_ADD(p, UPFX_MUL(a, UPFX_SUB(v, p))));\n"
"\t\t\t}\n"
"\t\telse if (act == UPFX_SIGMOID && !y)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES) {\n"
"\t\t\t\tconst PFX_vec e = PFX_vexp(UPFX_SUB(zero, UPFX_LOAD(x + j)));\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_DIV(one, UPFX_ADD(one, e)));\n"
"\t\t\t}\n"
"\t\telse if (act == UPFX_TANH && !y)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES) {\n"
"\t\t\t\t/* (1 - e) / (1 + e) with e = exp(-2 x), which stays finite */\n"
"\t\t\t\tconst PFX_vec e = PFX_vexp(UPFX_MUL(UPFX_LOAD(x + j), UPFX_SET1(-2)));\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_DIV(UPFX_SUB(one, e), UPFX_ADD(one, e)));\n"
"\t\t\t}\n"
"\t\telse if (act == UPFX_SIGMOID)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES) {\n"
"\t\t\t\tconst PFX_vec o = UPFX_LOAD(y + j);\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_MUL(UPFX_LOAD(x + j), UPFX_MUL(o, UPFX_SUB(one, o))));\n"
"\t\t\t}\n"
"\t\telse if (act == UPFX_TANH)\n"
"\t\t\tfor (; j + UPFX_LANES <= cols; j += UPFX_LANES) {\n"
"\t\t\t\tconst PFX_vec o = UPFX_LOAD(y + j);\n"
"\t\t\t\tUPFX_STORE(out + j, UPFX_MUL(UPFX_LOAD(x + j), UPFX_SUB(one, UPFX_MUL(o, o))));\n"
"\t\t\t}\n";
static const char act_all[] =
"/* out = f(x) (or x f'(.) from y) for count elements, in slices of a\n"
" * multiple of the vector width that threads share out. */\n"
"static void PFX_act_all(int act, REAL slope, long count, const REAL *x, const REAL *y, REAL *out)\n"
"{\n"
"\tenum { SLICE = 8192 };\n"
"\tconst long slices = (count + SLICE - 1) / SLICE;\n"
"#ifdef _OPENMP\n"
"#pragma omp parallel for schedule(dynamic) if (slices >= 4)\n"
"#endif\n"
"\tfor (long s = 0; s < slices; s++) {\n"
"\t\tconst long i = s * SLICE;\n"
"\t\tPFX_act(act, slope, 1, count - i < SLICE ? count - i : SLICE, x + i, 0, y ? y + i : NULL, 0, out + i, 0);\n"
"\t}\n"
"}\n\n";
/* The leftover lanes, counted down: gcc 12 at -O3 warns wrongly of
 * overflow in `for (; j < cols; j++)` once cols is a known constant. */
static const char act_tail[] =
"\t\tfor (long left = cols - j; left > 0; left--, j++) {\n"
"\t\t\tconst REAL v = x[j];\n"
"\t\t\tif (y) {\n"
"\t\t\t\tconst REAL o = y[j];\n"
"\t\t\t\tout[j] = act == UPFX_RELU ? v * (o > 0)\n"
"\t\t\t\t       : act == UPFX_LEAKY_RELU ? v * (o > 0 ? 1 : slope)\n"
"\t\t\t\t       : act == UPFX_SIGMOID ? v * (o * (1 - o)) : v * (1 - o * o);\n"
"\t\t\t} else\n"
"\t\t\t\tout[j] = act == UPFX_RELU ? (v > 0 ? v : 0)\n"
"\t\t\t\t       : act == UPFX_LEAKY_RELU ? (v > 0 ? v : slope * v)\n"
"\t\t\t\t       : act == UPFX_SIGMOID ? 1 / (1 + EXP(-v)) : TANH(v);\n"
"\t\t}\n"
"\t}\n"
"}\n\n";

static void act(Emit *e, const char *P, const char *r)
{
	(void)P;
	int f = r[0] == 'f';
	emit_template(e, act_head);
	const char *t = act_tail;
	if (!emit_scalar_kernels(e)) {
		/* The leftover lanes take the vector path's exp, so a value does
		 * not depend on where in a row it falls. */
		emit_template(e, act_vector);
		t = str_replace(t, "EXP(-v)", "PFX_exp1(-v)");
		t = str_replace(t, "TANH(v)", "(1 - PFX_exp1(-2 * v)) / (1 + PFX_exp1(-2 * v))");
	}
	t = str_replace(t, "EXP", f ? "expf" : "exp");
	t = str_replace(t, "TANH", f ? "tanhf" : "tanh");
	emit_template(e, t);
}

static void act_all_helper(Emit *e, const char *P, const char *r)
{
	(void)P;
	(void)r;
	emit_template(e, act_all);
}

/* The sum over count elements of binary cross-entropy from logits z,
 * given y = sigmoid(z) and targets t: max(z, 0) - z t - log(max(y, 1 - y)).
 * The logarithm's argument lies in [1/2, 1], where float lanes take
 * Cephes' logf polynomial without splitting off an exponent. Partial sums
 * of one vector at a time are added up in double. Unless g is NULL, the
 * same pass writes the loss's gradient with respect to z, g = k (y - t).
 * PFX_bce_logits sums the slices of a whole batch. */
static const char bce_logits_head[] =
"static double PFX_bce_logits_slice(long count, const REAL *z, const REAL *y, const REAL *t, REAL *g, REAL k)\n"
"{\n"
"\tdouble acc = 0;\n"
"\tlong i = 0;\n";
static const char bce_logits_vector[] =
"\tconst PFX_vec one = UPFX_SET1(1), zero = UPFX_ZERO(), half = UPFX_SET1(0.5f);\n"
"\tfor (; i + UPFX_LANES <= count; i += UPFX_LANES) {\n"
"\t\tconst PFX_vec zi = UPFX_LOAD(z + i), yi = UPFX_LOAD(y + i), ti = UPFX_LOAD(t + i);\n"
"\t\tif (g)\n"
"\t\t\tUPFX_STORE(g + i, UPFX_MUL(UPFX_SET1(k), UPFX_SUB(yi, ti)));\n"
"\t\tconst PFX_vec m = UPFX_MAX(yi, UPFX_SUB(one, yi));\n"
"\t\t/* m in [1/2, 1]: below sqrt(1/2), log m = log 2m - log 2 */\n"
"\t\tconst PFX_vec low = UPFX_WHERE_POS(UPFX_SUB(UPFX_SET1(0.707106781186547524f), m), one, zero);\n"
"\t\tconst PFX_vec x = UPFX_SUB(UPFX_ADD(m, UPFX_MUL(low, m)), one), x2 = UPFX_MUL(x, x);\n"
"\t\tPFX_vec p = UPFX_SET1(7.0376836292e-2f);\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(-1.1514610310e-1f));\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(1.1676998740e-1f));\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(-1.2420140846e-1f));\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(1.4249322787e-1f));\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(-1.6668057665e-1f));\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(2.0000714765e-1f));\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(-2.4999993993e-1f));\n"
"\t\tp = UPFX_FMA(p, x, UPFX_SET1(3.3333331174e-1f));\n"
"\t\tPFX_vec lg = UPFX_MUL(UPFX_MUL(p, x), x2);\n"
"\t\tlg = UPFX_SUB(lg, UPFX_MUL(low, UPFX_SET1(-2.12194440e-4f)));\n"
"\t\tlg = UPFX_SUB(lg, UPFX_MUL(half, x2));\n"
"\t\tlg = UPFX_ADD(x, lg);\n"
"\t\tlg = UPFX_SUB(lg, UPFX_MUL(low, UPFX_SET1(0.693359375f)));\n"
"\t\tconst PFX_vec term = UPFX_SUB(UPFX_SUB(UPFX_MAX(zi, zero), UPFX_MUL(zi, ti)), lg);\n"
"\t\tREAL lane[UPFX_LANES];\n"
"\t\tUPFX_STORE(lane, term);\n"
"\t\tREAL part = 0;\n"
"\t\tfor (int l = 0; l < UPFX_LANES; l++)\n"
"\t\t\tpart += lane[l];\n"
"\t\tacc += part;\n"
"\t}\n";
static const char bce_logits_tail[] =
"\tfor (; i < count; i++) {\n"
"\t\tif (g)\n"
"\t\t\tg[i] = k * (y[i] - t[i]);\n"
"\t\tconst REAL m = y[i] > 1 - y[i] ? y[i] : 1 - y[i];\n"
"\t\tacc += (double)(z[i] > 0 ? z[i] : 0) - (double)z[i] * t[i] - (double)LOG(m);\n"
"\t}\n"
"\treturn acc;\n"
"}\n\n";

static void bce_logits(Emit *e, const char *P, const char *r)
{
	(void)P;
	emit_template(e, bce_logits_head);
	if (!emit_scalar_kernels(e) && r[0] == 'f')
		emit_template(e, bce_logits_vector);
	emit_template(e, str_replace(bce_logits_tail, "LOG", r[0] == 'f' ? "logf" : "log"));
}

/* The Adam update of count elements, as torch.optim.Adam: the per-step
 * scalars come in a PFX_adam_k that the train step and NAME_update set. */
static const char adam_head[] =
"typedef struct PFX_adam_k {\n"
"\tREAL beta1, beta2, one_m_beta1, one_m_beta2, eps, wd, step_size, bc2_sqrt;\n"
"} PFX_adam_k;\n\n"
"/* m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2 and\n"
" * p -= step_size m / (sqrt(v) / bc2_sqrt + eps), with g = grad + wd p,\n"
" * for count elements, element by element (any split of the work gives\n"
" * the same result). */\n"
"static void PFX_adam_span(long count, REAL *p, REAL *m, REAL *v, const REAL *g, const PFX_adam_k *k)\n"
"{\n"
"\tlong i = 0;\n";
static const char adam_vector[] =
"\tfor (; i + UPFX_LANES <= count; i += UPFX_LANES) {\n"
"\t\tPFX_vec gi = UPFX_LOAD(g + i);\n"
"\t\tif (k->wd != 0)\n"
"\t\t\tgi = UPFX_ADD(gi, UPFX_MUL(UPFX_SET1(k->wd), UPFX_LOAD(p + i)));\n"
"\t\tconst PFX_vec mi = UPFX_ADD(UPFX_MUL(UPFX_LOAD(m + i), UPFX_SET1(k->beta1)), UPFX_MUL(gi, UPFX_SET1(k->one_m_beta1)));\n"
"\t\tconst PFX_vec vi = UPFX_ADD(UPFX_MUL(UPFX_LOAD(v + i), UPFX_SET1(k->beta2)),\n"
"\t\t\t\t\t    UPFX_MUL(UPFX_MUL(UPFX_SET1(k->one_m_beta2), gi), gi));\n"
"\t\tconst PFX_vec den = UPFX_ADD(UPFX_DIV(UPFX_SQRT(vi), UPFX_SET1(k->bc2_sqrt)), UPFX_SET1(k->eps));\n"
"\t\tUPFX_STORE(m + i, mi);\n"
"\t\tUPFX_STORE(v + i, vi);\n"
"\t\tUPFX_STORE(p + i, UPFX_SUB(UPFX_LOAD(p + i), UPFX_MUL(UPFX_SET1(k->step_size), UPFX_DIV(mi, den))));\n"
"\t}\n";
static const char adam_tail[] =
"\tfor (; i < count; i++) {\n"
"\t\tconst REAL gi = k->wd != 0 ? g[i] + k->wd * p[i] : g[i];\n"
"\t\tm[i] = m[i] * k->beta1 + gi * k->one_m_beta1;\n"
"\t\tv[i] = v[i] * k->beta2 + k->one_m_beta2 * gi * gi;\n"
"\t\tp[i] -= k->step_size * (m[i] / (SQRT(v[i]) / k->bc2_sqrt + k->eps));\n"
"\t}\n"
"}\n\n"
"/* The same over count elements, in chunks shared among the threads. */\n"
"static void PFX_adam(long count, REAL *p, REAL *m, REAL *v, const REAL *g, const PFX_adam_k *k)\n"
"{\n"
"\tenum { CHUNK = 8192 };\n"
"\tconst long chunks = (count + CHUNK - 1) / CHUNK;\n"
"#ifdef _OPENMP\n"
"#pragma omp parallel for schedule(dynamic) if (chunks >= 8)\n"
"#endif\n"
"\tfor (long c = 0; c < chunks; c++) {\n"
"\t\tconst long o = c * CHUNK;\n"
"\t\tPFX_adam_span(count - o < CHUNK ? count - o : CHUNK, p + o, m + o, v + o, g + o, k);\n"
"\t}\n"
"}\n\n";

static void adam(Emit *e, const char *P, const char *r)
{
	(void)P;
	emit_template(e, adam_head);
	if (!emit_scalar_kernels(e))
		emit_template(e, adam_vector);
	emit_template(e, str_replace(adam_tail, "SQRT", r[0] == 'f' ? "sqrtf" : "sqrt"));
}

/* The bias gradient of a dense layer: the sum of the batch's rows. */
static void sum_rows(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* dst[j] = the sum over b < n of src[b * cols + j], each column added up in\n"
" * batch order; threads take blocks of 64 columns. */\n"
"static void %s_sum_rows(long n, long cols, const %s *src, %s *dst)\n{\n"
"#ifdef _OPENMP\n#pragma omp parallel for schedule(dynamic) if (n * cols >= 32768)\n#endif\n"
"\tfor (long j0 = 0; j0 < cols; j0 += 64) {\n"
"\t\tconst long j1 = j0 + 64 < cols ? j0 + 64 : cols;\n"
"\t\tfor (long j = j0; j < j1; j++)\n"
"\t\t\tdst[j] = 0;\n"
"\t\tfor (long b = 0; b < n; b++)\n"
"\t\t\tfor (long j = j0; j < j1; j++)\n"
"\t\t\t\tdst[j] += src[b * cols + j];\n"
"\t}\n}\n\n", P, r, r);
}

/* The bias gradient of a convolution: the sum of each channel's maps. */
static const char sum_channels_text[] =
"/* dst[c] = the sum over samples b < n and pixels q < hw of src[(b C + c) hw + q]:\n"
" * each map in 16 running sums, added in order, then the maps' sums in\n"
" * sample order; threads take blocks of 8 channels, whose maps each\n"
" * sample holds one after another, so that memory is read in order. The\n"
" * running sums of a sample's 8 maps run side by side (in vectors when\n"
" * there are 8), and are added up side by side, each in its order: 8\n"
" * chains of additions at once, not one after another. */\n"
"static void PFX_sum_channels(long n, long C, long hw, const REAL *src, REAL *dst)\n{\n"
"#ifdef _OPENMP\n#pragma omp parallel for schedule(dynamic) if (n * C * hw >= 32768)\n#endif\n"
"\tfor (long c0 = 0; c0 < C; c0 += 8) {\n"
"\t\tconst long c1 = c0 + 8 < C ? c0 + 8 : C;\n"
"\t\tREAL total[8] = {0};\n"
"\t\tfor (long b = 0; b < n; b++) {\n"
"\t\t\tREAL part[8][16] = {{0}}, acc[8] = {0};\n"
"\t\t\tconst REAL *maps = src + (b * C + c0) * hw; /* channel c0 + c at maps + c hw */\n"
"SUMS"
"\t\t\tfor (long c = 0; c < c1 - c0; c++)\n"
"\t\t\t\tfor (long q = hw / 16 * 16; q < hw; q++)\n"
"\t\t\t\t\tpart[c][q % 16] += maps[c * hw + q];\n"
"\t\t\tfor (int l = 0; l < 16 && l < hw; l++) /* the sums past hw are 0 */\n"
"\t\t\t\tfor (int c = 0; c < 8; c++)\n"
"\t\t\t\t\tacc[c] += part[c][l];\n"
"\t\t\tfor (long c = c0; c < c1; c++)\n"
"\t\t\t\ttotal[c - c0] += acc[c - c0];\n"
"\t\t}\n"
"\t\tfor (long c = c0; c < c1; c++)\n"
"\t\t\tdst[c] = total[c - c0];\n"
"\t}\n}\n\n";

/* With vector kernels, a sample's 8 maps summed in vectors (the same
 * running sums: each lane adds its values in order). */
static const char sum_channels_vector[] =
"\t\t\tif (c1 - c0 == 8 && hw >= 16) {\n"
"\t\t\t\tPFX_vec v[8][16 / UPFX_LANES];\n"
"\t\t\t\tfor (int c = 0; c < 8; c++)\n"
"\t\t\t\t\tfor (int h = 0; h < 16 / UPFX_LANES; h++)\n"
"\t\t\t\t\t\tv[c][h] = UPFX_ZERO();\n"
"\t\t\t\tfor (long q = 0; q < hw / 16 * 16; q += 16)\n"
"\t\t\t\t\tfor (int c = 0; c < 8; c++)\n"
"\t\t\t\t\t\tfor (int h = 0; h < 16 / UPFX_LANES; h++)\n"
"\t\t\t\t\t\t\tv[c][h] = UPFX_ADD(v[c][h], UPFX_LOAD(maps + c * hw + q + h * UPFX_LANES));\n"
"\t\t\t\tfor (int c = 0; c < 8; c++)\n"
"\t\t\t\t\tfor (int h = 0; h < 16 / UPFX_LANES; h++)\n"
"\t\t\t\t\t\tUPFX_STORE(part[c] + h * UPFX_LANES, v[c][h]);\n"
"\t\t\t} else\n"
"\t\t\t\tfor (long q = 0; q < hw / 16 * 16; q += 16)\n"
"\t\t\t\t\tfor (long c = 0; c < c1 - c0; c++)\n"
"\t\t\t\t\t\tfor (int l = 0; l < 16; l++)\n"
"\t\t\t\t\t\t\tpart[c][l] += maps[c * hw + q + l];\n";

/* Without them, the running sums of the 8 maps in one loop. */
static const char sum_channels_scalar[] =
"\t\t\tfor (long q = 0; q < hw / 16 * 16; q += 16)\n"
"\t\t\t\tfor (long c = 0; c < c1 - c0; c++)\n"
"\t\t\t\t\tfor (int l = 0; l < 16; l++)\n"
"\t\t\t\t\t\tpart[c][l] += maps[c * hw + q + l];\n";

static void sum_channels(Emit *e, const char *P, const char *r)
{
	(void)P, (void)r;
	emit_template(e, str_replace(sum_channels_text, "SUMS", emit_scalar_kernels(e) ? sum_channels_scalar : sum_channels_vector));
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

/* The loops over a window that reaches into the padding, value by value
 * of its columns (im2col and col2im): image pixel (y, x) for each. */
#define CONV_WINDOW_CHECKED                                                      \
"\t\t\tfor (long c = 0; c < C; c++)\n"                                          \
"\t\t\t\tfor (long u = 0; u < k; u++)\n"                                        \
"\t\t\t\t\tfor (long v = 0; v < k; v++, col++) {\n"                             \
"\t\t\t\t\t\tconst long y = y0 + u, x = x0 + v;\n"

/* One image's columns for a convolution (k x k kernel, stride s,
 * padding p, output OH x OW). */
static void im2col(Emit *e, const char *P, const char *r)
{
	const int scalar = emit_scalar_kernels(e);
	emit_raw(e,
"/* The columns of one image img [C, H, W] for a k x k convolution with\n"
" * stride s and padding p: row i OW + j of col [OH OW, C k k] holds the\n"
" * values under output pixel (i, j), col[.][(c k + u) k + v] =\n"
" * img[c][i s + u - p][j s + v - p], 0 in the padding. A pixel whose\n"
" * window lies inside the image takes k values at a time, unchecked (for\n"
" * k = 3, 4 where the image has a fourth).%s */\n"
"static void %s_im2col(long C, long H, long W, long k, long s, long p, long OH, long OW, const %s *restrict img,\n"
"\t\t\t%s *restrict col)\n"
"{\n"
"%s"
"\tfor (long i = 0; i < OH; i++)\n"
"\t\tfor (long j = 0; j < OW; j++) {\n"
"\t\t\tconst long y0 = i * s - p, x0 = j * s - p;\n"
"\t\t\tif (k == 3 && y0 >= 0 && y0 + 3 <= H && x0 >= 0 && x0 + 4 <= W) {\n"
"\t\t\t\t/* 4 values at a time, the fourth written over by the next 3 */\n"
"\t\t\t\tfor (long c = 0; c < C; c++)\n"
"\t\t\t\t\tfor (long u = 0; u < 3; u++, col += 3) {\n"
"\t\t\t\t\t\tconst %s *row = img + (c * H + y0 + u) * W + x0;\n"
"\t\t\t\t\t\tif (c < C - 1 || u < 2)\n"
"\t\t\t\t\t\t\tmemcpy(col, row, 4 * sizeof *row);\n"
"\t\t\t\t\t\telse\n"
"\t\t\t\t\t\t\tcol[0] = row[0], col[1] = row[1], col[2] = row[2];\n"
"\t\t\t\t\t}\n"
"\t\t\t\tcontinue;\n"
"\t\t\t}\n"
"\t\t\tif (y0 >= 0 && y0 + k <= H && x0 >= 0 && x0 + k <= W) {\n"
"\t\t\t\tfor (long c = 0; c < C; c++)\n"
"\t\t\t\t\tfor (long u = 0; u < k; u++, col += k)\n"
"\t\t\t\t\t\tfor (long v = 0; v < k; v++)\n"
"\t\t\t\t\t\t\tcol[v] = img[(c * H + y0 + u) * W + x0 + v];\n"
"\t\t\t\tcontinue;\n"
"\t\t\t}\n"
CONV_WINDOW_CHECKED
"\t\t\t\t\t\t*col = y >= 0 && y < H && x >= 0 && x < W ? img[(c * H + y) * W + x] : 0;\n"
"\t\t\t\t\t}\n"
"\t\t}\n"
"}\n\n", scalar ? "" : "\n * The image is fetched first, in order: read window by window, its rows\n"
			    " * come from memory at a fraction of that speed.",
	 P, r, r,
	 scalar ? "" : "\tfor (long q = 0; q < C * H * W; q += 64 / (long)sizeof *img)\n"
		       "\t\tsimde_mm_prefetch((const char *)(img + q), SIMDE_MM_HINT_T0);\n", r);
}

/* The adjoint of im2col: columns added back into the image. */
static void col2im(Emit *e, const char *P, const char *r)
{
	emit_raw(e,
"/* The adjoint of im2col: each value of col [OH OW, C k k] added to the\n"
" * value of img [C, H, W] it was taken from (values in the padding are\n"
" * dropped), pixel by pixel in order; a window that lies inside the\n"
" * image is added k values at a time, unchecked. */\n"
"static void %s_col2im(long C, long H, long W, long k, long s, long p, long OH, long OW, const %s *restrict col,\n"
"\t\t\t%s *restrict img)\n"
"{\n"
"\tfor (long i = 0; i < OH; i++)\n"
"\t\tfor (long j = 0; j < OW; j++) {\n"
"\t\t\tconst long y0 = i * s - p, x0 = j * s - p;\n"
"\t\t\tif (y0 >= 0 && y0 + k <= H && x0 >= 0 && x0 + k <= W) {\n"
"\t\t\t\tfor (long c = 0; c < C; c++)\n"
"\t\t\t\t\tfor (long u = 0; u < k; u++, col += k) {\n"
"\t\t\t\t\t\t%s *row = img + (c * H + y0 + u) * W + x0;\n"
"\t\t\t\t\t\tfor (long v = 0; v < k; v++)\n"
"\t\t\t\t\t\t\trow[v] += col[v];\n"
"\t\t\t\t\t}\n"
"\t\t\t\tcontinue;\n"
"\t\t\t}\n"
CONV_WINDOW_CHECKED
"\t\t\t\t\t\tif (y >= 0 && y < H && x >= 0 && x < W)\n"
"\t\t\t\t\t\t\timg[(c * H + y) * W + x] += *col;\n"
"\t\t\t\t\t}\n"
"\t\t}\n"
"}\n\n", P, r, r, r);
}


/* The loop over the samples of a batch around a convolution's per-sample
 * kernels (conv.c). Samples are independent: with OpenMP, threads share
 * them out. The loop stays in the function that calls the kernels, with
 * their shapes as constants, so the C compiler specializes each call. */
static const char each_sample_text[] =
"/* The loop over the samples b < n of a batch; with OpenMP, threads share them out. */\n"
"#ifdef _OPENMP\n"
"#define UPFX_EACH_SAMPLE _Pragma(\"omp parallel for schedule(dynamic) if (n >= 8)\") for (long b = 0; b < n; b++)\n"
"#else\n"
"#define UPFX_EACH_SAMPLE for (long b = 0; b < n; b++)\n"
"#endif\n\n";

static const char from_last_text[] =
"/* map[o][q] = t[q][o] for a map [O, P] from channels last; then the\n"
" * epilogue ep (if any) on the map while it is in the cache. */\n"
"static void PFX_from_last(long O, long P, const REAL *t, REAL *map, const PFX_epilogue *ep)\n"
"{\n"
"\tPFX_transpose(P, O, t, O, map, P);\n"
"\tif (ep)\n"
"\t\tPFX_finish(ep, map, O * P, 1, O * P, 0);\n"
"}\n\n";

/* The columns of a transposed convolution to few channels (conv.c) from
 * its map as it is, with no transpose: for a block of 2 LANES pixels the
 * product is the narrow one (C in registers), whose values are the
 * blocked product's; a last block that would run past P starts earlier,
 * and the pixels it shares with the block before get the same values
 * again. */
static const char cols_from_map_text[] =
"/* cols [P, N] = map^T W for a map [O, P] read where it is and W [O, N]:\n"
" * PFX_gemm on blocks of 2 UPFX_LANES pixels, the last one ending at P. */\n"
"static void PFX_cols_from_map(long O, long P, long N, const REAL *map, const REAL *W, REAL *cols)\n"
"{\n"
"\tconst long w = 2 * UPFX_LANES;\n"
"\tif (P < w) {\n"
"\t\tPFX_gemm(P, N, O, map, 1, P, W, N, 1, NULL, cols, NULL);\n"
"\t\treturn;\n"
"\t}\n"
"\tfor (long p = 0; p < P; p += w) {\n"
"\t\tconst long q = p + w <= P ? p : P - w;\n"
"\t\tPFX_gemm(w, N, O, map + q, 1, P, W, N, 1, NULL, cols + q * N, NULL);\n"
"\t}\n"
"}\n\n";

static const char col2im_bias_text[] =
"/* img [C, H, W] = (bias[c] on channel c, or 0) + the columns col added\n"
" * back (PFX_col2im); then the epilogue ep (if any) on the image while it\n"
" * is in the cache. */\n"
"static void PFX_col2im_bias(long C, long H, long W, long k, long s, long p, long OH, long OW, const REAL *col,\n"
"\t\t\t    const REAL *bias, REAL *img, const PFX_epilogue *ep)\n"
"{\n"
"\tfor (long c = 0; c < C; c++)\n"
"\t\tfor (long q = 0; q < H * W; q++)\n"
"\t\t\timg[c * H * W + q] = bias ? bias[c] : 0;\n"
"\tPFX_col2im(C, H, W, k, s, p, OH, OW, col, img);\n"
"\tif (ep)\n"
"\t\tPFX_finish(ep, img, C * H * W, 1, C * H * W, 0);\n"
"}\n\n";

static const char add_bias_text[] =
"/* img [C, HW] = bias[c] + img on channel c; then the epilogue ep (if any)\n"
" * on the image while it is in the cache (col2im_bias where the columns\n"
" * are the image). */\n"
"static void PFX_add_bias(long C, long HW, const REAL *bias, REAL *img, const PFX_epilogue *ep)\n"
"{\n"
"\tfor (long c = 0; c < C; c++)\n"
"\t\tfor (long q = 0; q < HW; q++)\n"
"\t\t\timg[c * HW + q] = bias[c] + img[c * HW + q];\n"
"\tif (ep)\n"
"\t\tPFX_finish(ep, img, C * HW, 1, C * HW, 0);\n"
"}\n\n";

static const char each_in_chunk_text[] =
"/* The loop over the samples b < m of a chunk of the batch; with OpenMP, threads share them out. */\n"
"#ifdef _OPENMP\n"
"#define UPFX_EACH_IN_CHUNK _Pragma(\"omp parallel for schedule(dynamic) if (m >= 8)\") for (long b = 0; b < m; b++)\n"
"#else\n"
"#define UPFX_EACH_IN_CHUNK for (long b = 0; b < m; b++)\n"
"#endif\n\n";

static const char slots_text[] =
"/* A convolution's chunks of samples: the threads that share them out, at\n"
" * most one a slot of its workspace, the slot of the running thread, and\n"
" * how many run. */\n"
"#ifdef _OPENMP\n"
"static int PFX_slots(int slots)\n"
"{\n"
"\tconst int threads = omp_get_max_threads();\n"
"\treturn threads < slots ? threads : slots;\n"
"}\n"
"#define UPFX_SLOT omp_get_thread_num()\n"
"#define UPFX_PARTS omp_get_num_threads()\n"
"#else\n"
"#define UPFX_SLOT 0\n"
"#define UPFX_PARTS 1\n"
"#endif\n\n";

static void slots(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, slots_text); }
static void each_sample(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, each_sample_text); }
static void each_in_chunk(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, each_in_chunk_text); }
static void from_last(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, from_last_text); }
static void cols_from_map(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, cols_from_map_text); }
static void col2im_bias(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, col2im_bias_text); }
static void add_bias(Emit *e, const char *P, const char *r) { (void)P, (void)r, emit_template(e, add_bias_text); }

static const Helper helpers[] = {
	{"simd", {NULL}, simd, NULL},
	{"vexp", {"simd"}, vexp, NULL},
	{"act", {"vexp"}, act, NULL},
	{"act_all", {"act"}, act_all_helper, NULL},
	{"adam", {"simd"}, adam, NULL},
	{"bce_logits_slice", {"simd"}, bce_logits, NULL},
	{"transpose", {"simd"}, transpose, NULL},
	{"gemm", {"simd", "act"}, gemm, "transpose"},
	{"gemm_add", {"gemm"}, gemm_add, NULL},
	{"sum_rows", {NULL}, sum_rows, NULL},
	{"sum_channels", {"simd"}, sum_channels, NULL},
	{"mix", {NULL}, mix, NULL},
	{"uniform", {"mix"}, uniform, NULL},
	{"normal", {"uniform"}, normal, NULL},
	{"im2col", {NULL}, im2col, NULL},
	{"col2im", {NULL}, col2im, NULL},
	{"each_sample", {NULL}, each_sample, NULL},
	{"each_in_chunk", {NULL}, each_in_chunk, NULL},
	{"slots", {NULL}, slots, NULL},
	{"from_last", {"transpose", "gemm"}, from_last, NULL},
	{"col2im_bias", {"col2im", "gemm"}, col2im_bias, NULL},
	{"cols_from_map", {"gemm"}, cols_from_map, NULL},
	{"add_bias", {"gemm"}, add_bias, NULL},
	/* the losses' sums, written by their rows (loss.c, variational.c) */
	{"mse", {"act"}, c_helper_mse, NULL},
	{"bce", {NULL}, c_helper_bce, NULL},
	{"bce_logits", {"bce_logits_slice"}, c_helper_bce_logits, NULL},
	{"kl_normal", {"normal"}, c_helper_kl_normal, NULL},
};

enum { NHELPERS = sizeof helpers / sizeof *helpers };

const char *emit_helper(Emit *e, const char *name)
{
	for (int i = 0; i < NHELPERS; i++)
		if (!strcmp(helpers[i].name, name)) {
			*emit_helpers_used(e) |= 1u << i;
			for (int k = 0; k < 3 && helpers[i].needs[k]; k++)
				emit_helper(e, helpers[i].needs[k]);
			if (helpers[i].blocked_needs && !emit_scalar_kernels(e) && !emit_small_kernels(e))
				emit_helper(e, helpers[i].blocked_needs);
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
