#!/bin/sh
# generated.sh - generated/ holds `aecc emit` of every example, byte for
# byte as the current compiler writes it, and (in a git checkout) what is
# committed is what the build produced: the build refreshes generated/, so a
# stale commit shows up as a difference from HEAD.
# Each generated NAME.c compiles without a warning under gcc and clang
# (-Wall -Wextra -Wshadow, with and without OpenMP).
# Prints `generated: N passed, M failed`.
set -u
AECC=${AECC:-build/bin/aecc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
for ae in examples/*.ae; do
	name=$(basename "$ae" .ae)
	if "$AECC" emit "$ae" -o "$work/$name" && diff -ru -x .stamp "generated/$name" "$work/$name"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: generated/$name is out of date: run make generated"
	fi
done
for c in generated/*/*.c; do
	for cc in gcc clang; do
		command -v $cc >/dev/null || continue
		for omp in "" -fopenmp; do
			if $cc -std=c99 -Wall -Wextra -Wshadow -Werror $omp -fsyntax-only -I"$(dirname "$c")" -Iruntime "$c" \
				2>"$work/warn"; then
				pass=$((pass + 1))
			else
				fail=$((fail + 1))
				echo "FAIL: $c: warnings under $cc $omp"
				head -n 5 "$work/warn"
			fi
		done
	done
done
if git rev-parse --git-dir >/dev/null 2>&1; then
	if git diff --quiet HEAD -- generated/ && [ -z "$(git status --porcelain -- generated/)" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		git status --short -- generated/
		echo "FAIL: generated/ differs from the commit: commit what the build wrote"
	fi
fi
echo "generated: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
