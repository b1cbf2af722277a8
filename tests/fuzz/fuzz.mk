# fuzz.mk - the libFuzzer targets of tests/fuzz/, built with clang 14 under
# ASan and UBSan in $(B)/fuzz, included by the Makefile.
#   make fuzz-build                 the targets, their seeds and dictionaries
#   make fuzz FUZZ_SECONDS=N        run every target for N seconds (default 60),
#                                   FUZZ_JOBS at a time (default 2); see run.sh

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
# The sanitizers of every fuzz target; errors abort (libFuzzer keeps the input).
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FB = $(B)/fuzz
FUZZ_TARGETS = ae idx npy csv safetensors
FUZZ_BIN = $(FUZZ_TARGETS:%=$(FB)/fuzz_%)

# The code under test, instrumented for coverage.
FUZZ_RT_OBJ = $(RT_SRC:%.c=$(FB)/%.o)
FUZZ_FE_OBJ = $(patsubst $(B)/%.o,$(FB)/%.o,$(LIB_OBJ))
FUZZ_COMMON = $(FB)/tests/fuzz/fuzz.o $(FUZZ_RT_OBJ)

$(FB)/%.o: %.c $(B)/dsl/parser.h $(B)/dsl/lexer.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(WARN) -MMD -MP $(COMPILER_INC) -c $< -o $@
$(FB)/dsl/lexer.o $(FB)/dsl/parser.o: $(FB)/dsl/%.o: $(B)/dsl/%.c $(B)/dsl/parser.h $(B)/dsl/lexer.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -std=c99 -D_POSIX_C_SOURCE=200809L -Idsl -I$(B)/dsl -c $< -o $@

# fuzz_safetensors loads into the state of tests/fuzz/tiny.ae.
$(FB)/tiny/tiny.c $(FB)/tiny/tiny_main.c &: tests/fuzz/tiny.ae $(AECC)
	$(AECC) emit $< -o $(FB)/tiny >/dev/null
$(FB)/tiny/%.o: $(FB)/tiny/%.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -std=c99 -DAERT_NO_MAIN -Iruntime -I$(FB)/tiny -c $< -o $@

$(FB)/fuzz_ae: $(FB)/tests/fuzz/fuzz_ae.o $(FUZZ_FE_OBJ) $(FUZZ_COMMON)
$(FB)/fuzz_safetensors: $(FB)/tests/fuzz/fuzz_safetensors.o $(FB)/tiny/tiny.o $(FB)/tiny/tiny_main.o $(FUZZ_COMMON)
$(FB)/fuzz_idx $(FB)/fuzz_npy $(FB)/fuzz_csv: $(FB)/fuzz_%: $(FB)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON)
$(FUZZ_BIN):
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -lpng -lz -ldl -lm

# Seed inputs that are not files of the tree: small data files and the
# tiny model's saved weights and checkpoint (seeds.sh).
$(FB)/seeds/.stamp: tests/fuzz/seeds.sh tests/fuzz/tiny.ae $(AECC) $(RTLIB) $(RTHDR)
	sh tests/fuzz/seeds.sh $(AECC) $(FB)/seeds
	@touch $@

fuzz-build: $(FUZZ_BIN) $(FB)/seeds/.stamp

fuzz: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_JOBS)

.PHONY: fuzz fuzz-build

# make fuzz-coverage: the line coverage of the corpus so far, per target,
# with the targets built again for source-based coverage in $(B)/fuzz-cov.
fuzz-coverage: fuzz-build
	$(MAKE) --no-print-directory FB=$(B)/fuzz-cov \
		FUZZ_CFLAGS="-O1 -g -fprofile-instr-generate -fcoverage-mapping" $(FUZZ_TARGETS:%=$(B)/fuzz-cov/fuzz_%)
	sh tests/fuzz/coverage.sh $(B)/fuzz-cov

.PHONY: fuzz-coverage
