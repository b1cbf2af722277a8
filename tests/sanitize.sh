#!/bin/sh
# sanitize.sh [BUILD] - the suites and the generated code under ASan and
# UBSan, with the programs `make sanitize` built in BUILD (default
# build/san): the compiler, runtime, diagnostics and cli suites (the
# trainers and loaded models they build are compiled with the same
# sanitizers), then every example's generated code through
# tests/sanitize/entry_points.c. Any sanitizer report fails. Prints
# `sanitize: N passed, M failed`, a suite or an example counting one.
set -u
cd "$(dirname "$0")/.." || exit 2
SB=${1:-build/san}
SAN_CC=${SAN_CC:-clang}
SAN_FLAGS=${SAN_FLAGS:--fsanitize=address,undefined -fno-sanitize-recover=all}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0

# part NAME COMMAND...: run it; it must exit 0 and print no sanitizer report.
part() {
	name=$1
	shift
	t0=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
		echo "$name: ok ($(($(date +%s) - t0)) s)"
		pass=$((pass + 1))
	else
		echo "$name: FAILED (exit $rc)"
		grep -E 'FAIL|Sanitizer|runtime error:|^    #[0-9]' "$log" | head -n 60
		fail=$((fail + 1))
	fi
}

part compiler "$SB/tests/compiler_tests" --jobs 2
part runtime "$SB/tests/runtime_tests" --jobs 2
part diagnostics env AECC="$SB/bin/aecc" sh tests/run.sh
# aecc build and aecc train compile with $CC and $AECC_CFLAGS: the same
# sanitizers, so that trainers and loaded models link the runtime of BUILD.
part cli env AECC="$SB/bin/aecc" CC="$SAN_CC" AECC_CFLAGS="$SAN_FLAGS" AECC_CACHE="$SB/cache" sh tests/cli.sh

# The generated code of every example.
mkdir -p "$SB/entry"
for dir in generated/*/; do
	name=$(basename "$dir")
	exe=$SB/entry/$name
	# shellcheck disable=SC2086
	part "generated $name" sh -c "
		$SAN_CC -std=c99 -O1 -g -march=native -fopenmp -fno-omit-frame-pointer $SAN_FLAGS \
			-DAERT_NO_MAIN -Iruntime -c $dir$name.c -o $exe.o &&
		$SAN_CC -std=c99 -O1 -g -march=native -fopenmp -fno-omit-frame-pointer $SAN_FLAGS \
			-DAERT_NO_MAIN -Iruntime -c $dir${name}_main.c -o ${exe}_main.o &&
		$SAN_CC -std=c99 -O1 -g -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $SAN_FLAGS \
			-DMODEL=${name}_aert_model -Iruntime -c tests/sanitize/entry_points.c -o ${exe}_entry.o &&
		$SAN_CC -fopenmp $SAN_FLAGS -o $exe $exe.o ${exe}_main.o ${exe}_entry.o $SB/lib/libaecc_rt.a -lz -lm &&
		$exe"
done
echo "sanitize: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
