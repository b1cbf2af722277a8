#!/bin/sh
# jit.sh - the in-process JIT plugin (build/lib/aecc/aecc_jit.so) against
# clang's own -O3 build of every generated model, bit for bit, and the
# plugin's error cases (tests/jit/jit_test.c). Builds the plugin through
# compiler/backend/jit/jit.mk; without LLVM 14 there is no plugin and the
# suite passes empty. Prints `jit: N passed, M failed`.
#
#   sh tests/jit.sh            every model in generated/
#   sh tests/jit.sh MODEL...   some of them
set -u
cd "$(dirname "$0")/.." || exit 2
B=build
MAKE=${MAKE:-make}
CC=${CC:-cc}

plugin=$($MAKE -s --no-print-directory -f compiler/backend/jit/jit.mk B=$B \
	--eval 'jit-print-plugin: ; @echo $(JIT_PLUGIN)' jit-print-plugin 2>/dev/null)
if [ -z "$plugin" ]; then
	echo "note: no LLVM 14 with clang headers (llvm-config-14, clang/Frontend/CompilerInstance.h): no JIT plugin to test"
	echo "jit: 0 passed, 0 failed"
	exit 0
fi
if ! $MAKE -s --no-print-directory -f compiler/backend/jit/jit.mk B=$B "$plugin"; then
	echo "FAIL: the plugin does not build"
	echo "jit: 0 passed, 1 failed"
	exit 1
fi

# The driver; with the runtime library, it also links a trainer (NAME_main.c)
# against it, so the runtime is exported (-rdynamic) and kept whole.
mkdir -p $B/tests
rt=
[ -f $B/lib/libaecc_rt.a ] && rt="-DHAVE_RT -rdynamic -Wl,--whole-archive $B/lib/libaecc_rt.a -Wl,--no-whole-archive -lpng -lz"
# $rt splits into words on purpose.
if ! $CC -std=c99 -O2 -Wall -Wextra -Werror -Icompiler/backend/jit -o $B/tests/jit_test tests/jit/jit_test.c \
	$rt -ldl -lm; then
	echo "FAIL: tests/jit/jit_test.c does not build"
	echo "jit: 0 passed, 1 failed"
	exit 1
fi

# The precompiled header goes to a cache in the build tree, not the user's.
export AECC_CACHE=${AECC_CACHE:-$B/tests/jit-cache}
if [ $# -eq 0 ]; then
	for d in generated/*/; do
		name=$(basename "$d")
		[ -f "$d/$name.c" ] && set -- "$@" "$name"
	done
fi
exec $B/tests/jit_test "$plugin" generated runtime "$@"
