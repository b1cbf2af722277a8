#!/bin/sh
# sizes.sh - what an exported model takes on a device, for every example at
# batch 1 (the small kernels): the code (`size` of the object, AArch64 and
# x86-64 at -O2, AArch64 at -Os), the weights, the flash they make
# together (code at AArch64 -Os and weights), the caller's work buffer,
# and the stack a call uses (gcc's call graph, -fcallgraph-info, AArch64
# -O2, and the header's bound). Part of `make bench`; prints a Markdown
# table and writes it to bench/sizes.md.
set -eu
AECC=${AECC:-build/bin/aecc}
CROSS=${CROSS:-aarch64-linux-gnu-gcc}
CC=${CC:-cc}
PY=${PYTHON:-/usr/bin/python3}
top=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=bench/sizes.md

# text OBJECT: the bytes of code and constants the object holds (`size`).
text() { size "$1" | awk 'NR == 2 { print $1 + $2 }'; }
commas() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

{
	echo "# Exported models at batch 1"
	echo
	echo "$(date -u +%Y-%m-%d), $($CROSS --version | head -n 1), $($CC --version | head -n 1)."
	echo "\`aecc export FILE.ae\` at batch 1 (small kernels), weights passed in; bytes."
	echo
	echo "| model | code AArch64 -O2 | code AArch64 -Os | code x86-64 -O2 | weights | flash (-Os code + weights) | work | stack used (AArch64 -O2) | stack bound (header) |"
	echo "|---|---|---|---|---|---|---|---|---|"
} >"$out"

for ae in examples/*.ae; do
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	d=$work/$name
	"$AECC" export "$ae" -o "$d" >/dev/null
	c=$d/${name}_infer.c h=$d/${name}_infer.h
	$CROSS -std=c99 -O2 -fcallgraph-info=su -c "$c" -o "$d/arm.o"
	$CROSS -std=c99 -Os -c "$c" -o "$d/arm-s.o"
	$CC -std=c99 -O2 -c "$c" -o "$d/x86.o"
	arm=$(text "$d/arm.o") arms=$(text "$d/arm-s.o") x86=$(text "$d/x86.o")
	elems=$(sed -n 's/^#define [A-Z0-9_]*_WEIGHT_ELEMS \([0-9]*\).*/\1/p' "$h")
	work_bytes=$(sed -n 's/^#define [A-Z0-9_]*_WORK_BYTES \([0-9]*\).*/\1/p' "$h")
	bound=$(sed -n 's/^#define [A-Z0-9_]*_STACK_BYTES \([0-9]*\)$/\1/p' "$h")
	used=$("$PY" tests/export/stack.py "$d/arm.ci")
	weights=$((elems * 4))
	echo "| $name | $(commas $arm) | $(commas $arms) | $(commas $x86) | $(commas $weights) | $(commas $((arms + weights))) | $(commas $work_bytes) | $(commas $used) | $(commas $bound) |" >>"$out"
done
cat "$out"
