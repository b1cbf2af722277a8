/* load.h - the model loader: a planned model compiled and loaded into this
 * process, as the aecc runtime's aert_model, for every command that runs a
 * model's code (train; later the model commands, the inference export, the
 * MPI trainer). Two compilers stand behind the one interface:
 *   cc   the system C compiler builds a shared object, cached on disk and
 *        keyed on the generated C, the runtime's header and the compiler's
 *        command, then loaded with dlopen;
 *   jit  the JIT plugin (PREFIX/lib/aecc/aecc_jit.so) compiles the C in
 *        memory; nothing of the model is written (the plugin keeps a
 *        precompiled header of SIMDe in the cache).
 * A loaded model stays loaded until the process exits. */
#ifndef AECC_BACKEND_LOAD_H
#define AECC_BACKEND_LOAD_H

#include "aecc_rt.h"
#include "model.h"

typedef enum LoadWith {
	LOAD_AUTO, /* $AECC_JIT (1: jit, 0: cc), else jit if the plugin is installed, else cc */
	LOAD_CC,   /* the system C compiler (--cc) */
	LOAD_JIT,  /* the JIT plugin (--jit) */
} LoadWith;

/* The model's descriptor, its code compiled and loaded with `with`; NULL
 * after reporting an error. A compile error in the generated code under the
 * JIT is an internal error (the cc route reports it: the system compiler
 * can be the cause). With AECC_TIMES=1 it reports on stderr how long
 * compiling and loading took (for benchmarks). */
const aert_model *load_model(Model *m, LoadWith with);

/* The data-parallel trainer's main() (aert_mpi_main) from the MPI plugin
 * PREFIX/lib/aecc/aecc_mpi.so, built when Open MPI is installed; NULL
 * after reporting that it is missing or does not load. */
typedef int (*mpi_main_fn)(const aert_model *m, int argc, char **argv);
mpi_main_fn load_mpi_main(void);

#endif
