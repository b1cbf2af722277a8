/* cc.h - the system C compiler, and the prefix aecc runs from: where the
 * runtime (PREFIX/include/aecc_rt.h, PREFIX/lib/libaecc_rt.a) and the JIT
 * plugin (PREFIX/lib/aecc/aecc_jit.so) are. */
#ifndef AECC_BACKEND_CC_H
#define AECC_BACKEND_CC_H

#include "model.h"

/* The prefix: $AECC_HOME if set, else PREFIX of PREFIX/bin/aecc (build/
 * in the source tree, /usr/local once installed). */
const char *cc_prefix(void);
/* The compiler's command without inputs or output: $CC (default cc)
 * -std=c99 -O3 -march=native -fopenmp, then the words of $AECC_CFLAGS. */
Vec cc_command(void);
/* Run the command with `-o tmp` appended (tmp: a cc_temp name of target);
 * on failure remove tmp and report that compiling target failed. Returns 1
 * on success. */
int cc_compile(Vec cmd, const char *tmp, const char *target);
/* A temporary name beside path, unique to this process: PATH.tmp.PID. */
const char *cc_temp(const char *path);
/* Rename the temporary file tmp to path; on failure remove tmp and report.
 * Returns 1 on success. */
int cc_publish(const char *tmp, const char *path);
/* `aecc build`: emit into dir and compile the static trainer dir/NAME-train
 * against PREFIX's runtime; with mpi, the data-parallel trainer, compiled
 * by $MPICC (default mpicc) with -DAERT_MPI and PREFIX/lib/libaecc_rt_mpi.a.
 * Reports errors and returns 0 on failure. */
int cc_build_trainer(Model *m, const char *dir, int mpi);

#endif
