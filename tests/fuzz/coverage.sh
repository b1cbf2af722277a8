#!/bin/sh
# coverage.sh DIR - the source lines that the fuzz corpus so far reaches:
# each target of DIR (built for coverage by `make fuzz-coverage`) runs
# every input of its corpus, seeds and past findings once, and llvm-cov
# counts the functions reached and the lines covered in the files the
# target is about (the front end and the passes before emission; data.c,
# whose three readers share it; safetensors.c), in all and within the
# functions reached. Informative: it fails only if it cannot run.
set -eu
cd "$(dirname "$0")/../.." || exit 2
cov=$1
FB=${FUZZ_BUILD:-build/fuzz}
LLVM=${LLVM_BIN:-/usr/lib/llvm-14/bin}
for t in ae idx npy csv safetensors; do
	case $t in
	ae) dirs="examples tests/diag tests/gradcheck tests/parity"
	    files=$(ls dsl/parser.y dsl/lexer.l dsl/ast.c compiler/*.c compiler/ops/*.c | grep -v -e main.c -e summary.c) ;;
	safetensors) dirs="$FB/seeds/$t" files=runtime/safetensors.c ;;
	*) dirs="$FB/seeds/$t" files=runtime/data.c ;;
	esac
	for d in "$FB/corpus/$t" tests/fuzz/regress/$t; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	rm -f "$cov/$t.profraw"
	# shellcheck disable=SC2086
	LLVM_PROFILE_FILE="$cov/$t.profraw" "$cov/fuzz_$t" -runs=0 -close_fd_mask=3 $dirs >"$cov/$t.log" 2>&1
	"$LLVM/llvm-profdata" merge -o "$cov/$t.profdata" "$cov/$t.profraw"
	echo "== fuzz_$t ($(grep -o 'INITED.*' "$cov/$t.log" | head -n 1))"
	# Per function: regions, missed, cover, lines, missed, cover, ...
	# shellcheck disable=SC2086
	"$LLVM/llvm-cov" report "$cov/fuzz_$t" -instr-profile="$cov/$t.profdata" -show-functions $files |
		awk '$2 ~ /^[0-9]+$/ && $5 ~ /^[0-9]+$/ && $1 != "TOTAL" {
			n++; lines += $5; miss += $6
			if ($6 < $5) { reached++; rlines += $5; rmiss += $6 }
		}
		END {
			printf "  %d of %d functions reached; lines: %d of %d covered (%.1f%%), %d of %d in the functions reached (%.1f%%)\n",
				reached, n, lines - miss, lines, 100 * (lines - miss) / lines, rlines - rmiss, rlines,
				100 * (rlines - rmiss) / rlines
		}'
done
