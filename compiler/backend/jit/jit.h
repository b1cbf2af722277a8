/* jit.h - the in-process Clang/LLVM JIT plugin (aecc_jit.so): C99 source text in memory to callable code. */
#ifndef AECC_JIT_H
#define AECC_JIT_H

/* aecc does not link LLVM: it dlopen()s $(B)/lib/aecc/aecc_jit.so and
 * dlsym()s the four functions below, whose types are spelled out as
 * aecc_jit_*_fn for that. The plugin compiles as
 *     clang -std=c99 -O3 -march=native -ffp-contract=off -fPIC
 *           -Werror=implicit-function-declaration [-fopenmp]
 * would: clang's own driver makes the -cc1 invocation (resource dir, system
 * include paths, the host's CPU and features), clang's -O3 pipeline
 * optimizes, and the code generator runs at -O3 for the host CPU, so the
 * code computes bit for bit what that command's code computes. To use both
 * cores, a large unit is split into parts (its external functions and its
 * large or address-taken static ones dealt out, small statics copied into
 * each part that calls them) that are optimized and compiled in parallel.
 *
 * Environment (read at each aecc_jit_compile):
 *   AECC_JIT_PCH=0       no precompiled header: none is read or written.
 *   AECC_JIT_NO_CACHE=1  nothing is written anywhere; a precompiled header
 *                        already in the cache is still used.
 *   AECC_CACHE           the cache directory, else $XDG_CACHE_HOME/aecc,
 *                        else $HOME/.cache/aecc. It holds a precompiled
 *                        header of <math.h>, <string.h>, <simde/x86/avx512.h>
 *                        and <omp.h> per clang version, target and flags,
 *                        jit-pch-<hash>.pch (about 10 MB), used by the units
 *                        that start by including them (as NAME.c does);
 *                        written to a temporary file and renamed, rebuilt
 *                        when clang finds it stale or corrupt.
 *   AECC_JIT_THREADS=N   threads that optimize and compile (default: the
 *                        cores, at most 4); 1: on the calling thread, no
 *                        unit split.
 *   AECC_JIT_OPT=1|2     -O1 or -O2 instead of -O3 throughout: the results
 *                        stay the same (no fast-math), -O1's code is slower. */

#if defined(AECC_JIT_BUILD) && defined(__GNUC__)
#define AECC_JIT_API __attribute__((visibility("default")))
#else
#define AECC_JIT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One compiled, loaded program. */
typedef struct aecc_jit aecc_jit;

/* A file in memory. */
typedef struct aecc_jit_file {
	const char *name; /* file name as #include and diagnostics see it, e.g. "fashion_ae.h" */
	const char *text; /* its contents, NUL-terminated */
} aecc_jit_file;

/* Compile the translation units `units` (C99 source text in memory) and make
 * them callable: each unit becomes its own module in one symbol table, so
 * units call each other's external functions; other symbols resolve from
 * LLVM's libomp (when openmp), then from the process (libc, libm, ...).
 * `headers` are in-memory files that the units may #include "..." (they
 * shadow files of the same name in the working directory; no disk access).
 * `include_dirs` are extra -I directories (e.g. the runtime's include dir with aecc_rt.h).
 * `defines` are -D arguments without the -D ("AERT_NO_MAIN", "N=4").
 * openmp != 0 compiles with -fopenmp and resolves __kmpc_* / omp_* from LLVM's libomp.
 * Names and texts must not be NULL. All the code is generated before the
 * call returns, and the units' constructors (if any) have run.
 * Returns NULL on failure with a malloc'd message (the compiler's
 * diagnostics, every line) in *err (when err is not NULL); *err is NULL on
 * success. Never prints and never exits. Safe to call from several threads. */
AECC_JIT_API aecc_jit *aecc_jit_compile(const aecc_jit_file *units, int n_units,
                                        const aecc_jit_file *headers, int n_headers,
                                        const char *const *include_dirs, int n_include,
                                        const char *const *defines, int n_defines,
                                        int openmp, char **err);

/* Address of a symbol that the units define (an external definition), or
 * NULL: also for their static functions, for what libraries define, and
 * when j is NULL. */
AECC_JIT_API void *aecc_jit_lookup(aecc_jit *j, const char *symbol);

/* Release the code and memory (after running the units' destructors, if
 * any). j may be NULL. */
AECC_JIT_API void aecc_jit_free(aecc_jit *j);

/* Seconds spent in the calling thread's last aecc_jit_compile, for
 * benchmarks: *frontend parses the units and generates their LLVM IR
 * (including building the precompiled header, when it is built), *backend
 * splits them, optimizes the IR (clang's -O3 pipeline), generates the
 * machine code and links it. Either pointer may be NULL. */
AECC_JIT_API void aecc_jit_last_times(double *frontend, double *backend);

/* The functions' types, for dlsym(). */
typedef aecc_jit *(*aecc_jit_compile_fn)(const aecc_jit_file *, int, const aecc_jit_file *, int,
                                         const char *const *, int, const char *const *, int, int, char **);
typedef void *(*aecc_jit_lookup_fn)(aecc_jit *, const char *);
typedef void (*aecc_jit_free_fn)(aecc_jit *);
typedef void (*aecc_jit_last_times_fn)(double *, double *);

#ifdef __cplusplus
}
#endif

#endif
