# aecc - the autoencoder C compiler.
# The build tree mirrors an installed prefix: build/bin/aecc finds its runtime
# in build/include and build/lib exactly as /usr/local/bin/aecc finds
# /usr/local/include and /usr/local/lib.

PREFIX ?= /usr/local
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
B = build

COMPILER_DIRS = compiler compiler/ops compiler/backend compiler/backend/c compiler/backend/export compiler/backend/torch
COMPILER_SRC = $(foreach d,$(COMPILER_DIRS),$(wildcard $(d)/*.c))
COMPILER_INC = $(COMPILER_DIRS:%=-I%) -Icompiler/backend/jit -Idsl -I$(B)/dsl -Iruntime
DSL_SRC = dsl/ast.c
RT_SRC = $(filter-out runtime/mpi.c,$(wildcard runtime/*.c))
GEN_SRC = $(B)/dsl/lexer.c $(B)/dsl/parser.c

COMPILER_OBJ = $(COMPILER_SRC:%.c=$(B)/%.o) $(DSL_SRC:%.c=$(B)/%.o) $(B)/dsl/lexer.o $(B)/dsl/parser.o
LIB_OBJ = $(filter-out $(B)/compiler/main.o,$(COMPILER_OBJ))
RT_OBJ = $(RT_SRC:%.c=$(B)/%.o)

AECC = $(B)/bin/aecc
RTLIB = $(B)/lib/libaecc_rt.a
RTHDR = $(B)/include/aecc_rt.h

.DEFAULT_GOAL := all

# The JIT plugin (JIT_PLUGIN, empty without LLVM 14's development files).
include compiler/backend/jit/jit.mk
# The data-parallel trainer (MPI_LIBS, empty without Open MPI's mpicc).
include runtime/mpi.mk

all: $(AECC) $(RTLIB) $(RTHDR) $(B)/share/aecc/plot.py $(JIT_PLUGIN) $(MPI_LIBS) generated

$(B)/dsl/parser.c $(B)/dsl/parser.h &: dsl/parser.y
	@mkdir -p $(@D)
	bison -Wall -Werror --defines=$(B)/dsl/parser.h -o $(B)/dsl/parser.c $<

$(B)/dsl/lexer.c $(B)/dsl/lexer.h &: dsl/lexer.l
	@mkdir -p $(@D)
	flex --header-file=$(B)/dsl/lexer.h -o $(B)/dsl/lexer.c $<

# Generated scanners and parsers are not held to -Werror's unused-function rules.
$(B)/dsl/lexer.o $(B)/dsl/parser.o: $(B)/dsl/%.o: $(B)/dsl/%.c $(B)/dsl/parser.h $(B)/dsl/lexer.h
	$(CC) $(CFLAGS) -std=c99 -D_POSIX_C_SOURCE=200809L -Idsl -I$(B)/dsl -c $< -o $@

$(B)/%.o: %.c $(B)/dsl/parser.h $(B)/dsl/lexer.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -MMD -MP $(COMPILER_INC) -c $< -o $@

$(B)/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -MMD -MP -Iruntime -c $< -o $@

# aecc runs the models it loads (aecc train) with the runtime linked in.
$(AECC): $(COMPILER_OBJ) $(RTLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lpng -lz -ldl -lm

$(RTLIB): $(RT_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

# The charts of plot-latent and plot-loss (matplotlib).
$(B)/share/aecc/plot.py: scripts/plot.py
	@mkdir -p $(@D)
	cp $< $@

$(RTHDR): runtime/aecc_rt.h
	@mkdir -p $(@D)
	cp $< $@

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- tests ----
TEST_COMPILER = $(wildcard tests/compiler/*.c)
TEST_RUNTIME = $(wildcard tests/runtime/*.c)

$(B)/tests/compiler_tests: $(TEST_COMPILER) $(LIB_OBJ) $(RTLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=gnu99 $(COMPILER_INC) -o $@ $(TEST_COMPILER) $(LIB_OBJ) $(RTLIB) -lcriterion -lpng -lz -ldl -lm

$(B)/tests/runtime_tests: $(TEST_RUNTIME) $(RTLIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=gnu99 -Iruntime -o $@ $(TEST_RUNTIME) $(RTLIB) -lcriterion -lpng -lz -lm

# The libFuzzer targets (make fuzz) and the sanitizer runs (make sanitize).
include tests/fuzz/fuzz.mk
include tests/sanitize/sanitize.mk

# Every suite; the README's test command.
test: all $(B)/tests/compiler_tests $(B)/tests/runtime_tests fuzz-build sanitize-build
	sh tests/all.sh

# Single suites.
gradcheck: all
	sh tests/gradcheck.sh
bench: all
	sh bench/run.sh
bench-mpi: all
	sh bench/mpi.sh
	sh bench/sizes.sh
	sh bench/infer.sh
parity: all
	sh tests/parity.sh

# generated/ holds the emitted C (and PyTorch twin) of every example,
# refreshed whenever the compiler or the example changes.
EXAMPLES = $(wildcard examples/*.ae)
GENERATED = $(EXAMPLES:examples/%.ae=generated/%/.stamp)

generated: $(GENERATED)

generated/%/.stamp: examples/%.ae $(AECC)
	rm -rf generated/$*
	$(AECC) emit $< -o generated/$*
	@touch $@

# The main job: train the reference dense autoencoder on Fashion-MNIST.
demo: all
	$(AECC) summary examples/fashion_ae.ae
	$(AECC) train examples/fashion_ae.ae --save fashion_ae.safetensors

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 $(AECC) $(DESTDIR)$(PREFIX)/bin/aecc
	install -m 644 $(RTLIB) $(DESTDIR)$(PREFIX)/lib/libaecc_rt.a
	install -m 644 $(RTHDR) $(DESTDIR)$(PREFIX)/include/aecc_rt.h
	install -d $(DESTDIR)$(PREFIX)/share/aecc && install -m 644 scripts/plot.py $(DESTDIR)$(PREFIX)/share/aecc/plot.py
	$(if $(JIT_PLUGIN),install -d $(DESTDIR)$(PREFIX)/lib/aecc && install -m 755 $(JIT_PLUGIN) $(DESTDIR)$(PREFIX)/lib/aecc/aecc_jit.so)
	$(if $(MPI_LIBS),install -d $(DESTDIR)$(PREFIX)/lib/aecc && install -m 644 $(B)/lib/libaecc_rt_mpi.a $(DESTDIR)$(PREFIX)/lib/libaecc_rt_mpi.a && install -m 755 $(B)/lib/aecc/aecc_mpi.so $(DESTDIR)$(PREFIX)/lib/aecc/aecc_mpi.so)

clean:
	rm -rf $(B)

.PHONY: all test gradcheck parity bench bench-mpi generated demo install clean
