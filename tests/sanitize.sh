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

# check NAME LOG RC T0: the part passed if it exited 0 and LOG holds no
# sanitizer report.
check() {
	if [ "$3" -eq 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$2"; then
		echo "$1: ok ($(($(date +%s) - $4)) s)"
		pass=$((pass + 1))
	else
		echo "$1: FAILED (exit $3)"
		grep -E 'FAIL|Sanitizer|runtime error:|^    #[0-9]' "$2" | head -n 60
		fail=$((fail + 1))
	fi
}

# part NAME COMMAND...: run it and check it.
part() {
	name=$1
	shift
	t0=$(date +%s)
	"$@" >"$log" 2>&1
	check "$name" "$log" $? "$t0"
}

# entry NAME: compile NAME's generated code and entry_points.c with the
# sanitizers, link them with the runtime of BUILD and run them.
entry() {
	dir=generated/$1 exe=$SB/entry/$1
	cc="$SAN_CC -std=c99 -O1 -g -fno-omit-frame-pointer $SAN_FLAGS -Iruntime"
	# shellcheck disable=SC2086
	$cc -march=native -fopenmp -DAERT_NO_MAIN -c "$dir/$1.c" -o "$exe.o" &&
		$cc -march=native -fopenmp -DAERT_NO_MAIN -c "$dir/$1_main.c" -o "${exe}_main.o" &&
		$cc -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -DMODEL="$1_aert_model" \
			-c tests/sanitize/entry_points.c -o "${exe}_entry.o" &&
		$SAN_CC -fopenmp $SAN_FLAGS -o "$exe" "$exe.o" "${exe}_main.o" "${exe}_entry.o" \
			"$SB/lib/libaecc_rt.a" -lpng -lz -lm &&
		"$exe"
}

part compiler "$SB/tests/compiler_tests" --jobs 2
part runtime "$SB/tests/runtime_tests" --jobs 2
part diagnostics env AECC="$SB/bin/aecc" sh tests/run.sh
# aecc build and aecc train compile with $CC and $AECC_CFLAGS: the same
# sanitizers, so that trainers and loaded models link the runtime of BUILD.
part cli env AECC="$SB/bin/aecc" CC="$SAN_CC" AECC_CFLAGS="$SAN_FLAGS" AECC_CACHE="$SB/cache" sh tests/cli.sh

# The generated code of every example, two at a time.
mkdir -p "$SB/entry"
set -- $(ls generated)
while [ $# -gt 0 ]; do
	t0=$(date +%s) a=$1 b=${2:-}
	entry "$a" >"$SB/entry/$a.log" 2>&1 &
	pa=$!
	if [ -n "$b" ]; then
		entry "$b" >"$SB/entry/$b.log" 2>&1 &
		pb=$!
	fi
	wait $pa
	check "generated $a" "$SB/entry/$a.log" $? "$t0"
	if [ -n "$b" ]; then
		wait $pb
		check "generated $b" "$SB/entry/$b.log" $? "$t0"
		shift
	fi
	shift
done
echo "sanitize: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
