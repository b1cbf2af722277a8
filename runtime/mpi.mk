# mpi.mk - the optional data-parallel trainer (runtime/mpi.c on Open MPI),
# included by the Makefile. MPI_LIBS is empty unless mpicc (libopenmpi-dev)
# is installed; then it names
#   $(B)/lib/libaecc_rt_mpi.a   mpi.o, for `aecc build --mpi` (linked before libaecc_rt.a)
#   $(B)/lib/aecc/aecc_mpi.so   the plugin `aecc train --mpi` opens: mpi.c and the
#                               runtime, position-independent, linked with libmpi
# Only these link MPI: aecc and libaecc_rt.a are the same with or without it.

MPICC ?= $(shell command -v mpicc 2>/dev/null)

ifneq ($(MPICC),)
MPI_LIBS = $(B)/lib/libaecc_rt_mpi.a $(B)/lib/aecc/aecc_mpi.so
MPI_PIC_OBJ = $(RT_SRC:%.c=$(B)/pic/%.o) $(B)/pic/runtime/mpi.o

$(B)/runtime/mpi.o: runtime/mpi.c runtime/aecc_rt.h runtime/common.h
	@mkdir -p $(@D)
	$(MPICC) $(CFLAGS) $(WARN) -Iruntime -c $< -o $@

$(B)/lib/libaecc_rt_mpi.a: $(B)/runtime/mpi.o
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(B)/pic/runtime/%.o: runtime/%.c runtime/aecc_rt.h runtime/common.h
	@mkdir -p $(@D)
	$(MPICC) $(CFLAGS) $(WARN) -fPIC -Iruntime -c $< -o $@

$(B)/lib/aecc/aecc_mpi.so: $(MPI_PIC_OBJ)
	@mkdir -p $(@D)
	$(MPICC) $(CFLAGS) -shared -Wl,--no-undefined -o $@ $^ -lpng -lz -lm
else
MPI_LIBS =
endif
