# sanitize.mk - make sanitize: aecc, the runtime and the test programs
# built in $(B)/san with clang under ASan and UBSan (every report fatal),
# then tests/sanitize.sh: the compiler, runtime, diagnostics and cli suites
# with them, and the generated code of every example. Included by the
# Makefile.

SAN_CC ?= clang
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_CFLAGS = -O1 -g -fno-omit-frame-pointer $(SAN_FLAGS)
SB = $(B)/san

sanitize-build: generated
	$(MAKE) --no-print-directory B=$(SB) CC=$(SAN_CC) CFLAGS="$(SAN_CFLAGS)" \
		$(SB)/bin/aecc $(SB)/lib/libaecc_rt.a $(SB)/include/aecc_rt.h \
		$(SB)/tests/compiler_tests $(SB)/tests/runtime_tests

sanitize: sanitize-build
	SAN_CC="$(SAN_CC)" SAN_FLAGS="$(SAN_FLAGS)" sh tests/sanitize.sh $(SB)

.PHONY: sanitize sanitize-build
