#!/bin/sh
# run.sh [SECONDS [JOBS]] - run every libFuzzer target of tests/fuzz/ for
# SECONDS (default 60), JOBS at a time (default 2), at low priority.
#
# Each target starts from its corpus in build/fuzz/corpus/TARGET (kept
# between runs, and grown by them), its seeds (seeds.sh, or the .ae files
# of the tree) and the inputs in tests/fuzz/regress/TARGET (every finding
# so far, which must stay fixed), with its dictionary. Prints one line per
# target (runs, execs/s, coverage: libFuzzer's edge count and features,
# corpus size) and `fuzz: N passed, M failed`; a target fails if it
# crashes, trips a sanitizer or a check, leaks, times out (10 s per input)
# or runs out of memory (2 GB), and its input is kept as
# build/fuzz/crashes/TARGET-*. Build the targets first: make fuzz-build.
# To see what an input does (with the messages this script hides):
#   build/fuzz/fuzz_TARGET FILE...
# A finding, once fixed, gets a test in its reader's suite and its input
# a place in tests/fuzz/regress/TARGET/.
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-60}
jobs=${2:-2}
FB=${FUZZ_BUILD:-build/fuzz}
TARGETS="ae idx npy csv safetensors"
mkdir -p "$FB/logs" "$FB/crashes"
pass=0 fail=0

# The directories a target starts from (those that exist).
inputs() {
	case $1 in
	ae) dirs="examples tests/diag tests/gradcheck tests/parity" ;;
	*) dirs="$FB/seeds/$1" ;;
	esac
	for d in $dirs tests/fuzz/regress/$1; do
		[ -d "$d" ] && printf '%s ' "$d"
	done
}

start() {
	t=$1
	mkdir -p "$FB/corpus/$t"
	rm -f "$FB/crashes/$t-"*
	# shellcheck disable=SC2046
	nice -n 10 "$FB/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-close_fd_mask=3 -print_final_stats=1 -dict="tests/fuzz/$t.dict" \
		-artifact_prefix="$FB/crashes/$t-" "$FB/corpus/$t" $(inputs "$t") \
		>"$FB/logs/$t.log" 2>&1
	echo $? >"$FB/logs/$t.rc"
}

report() {
	t=$1 log=$FB/logs/$1.log
	rc=$(cat "$FB/logs/$t.rc" 2>/dev/null || echo 1)
	stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, ft \2, corpus \3/p')
	crashes=$(ls "$FB/crashes/$t-"* 2>/dev/null | wc -l)
	line="fuzz_$t: ${secs} s, $(stat number_of_executed_units) runs, $(stat average_exec_per_sec) execs/s, $cov, $(stat peak_rss_mb) MB"
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
		echo "$line: ok"
		pass=$((pass + 1))
	else
		echo "$line: FAILED (exit $rc)"
		grep -E 'ERROR|SUMMARY|runtime error|broken promise|==[0-9]+==|#[0-9]+ 0x' "$log" | head -n 40
		ls "$FB/crashes/$t-"* 2>/dev/null
		fail=$((fail + 1))
	fi
}

set -- $TARGETS
while [ $# -gt 0 ]; do
	batch=""
	for _ in $(seq "$jobs"); do
		[ $# -gt 0 ] || break
		batch="$batch $1"
		start "$1" &
		shift
	done
	wait
	for t in $batch; do
		report "$t"
	done
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
