#!/bin/sh
# infer.sh - the inference anchor of `make bench`: each example's forward
# as aecc export writes it (weights inside, compiled -O3 -march=native, one
# thread, bench/infer.c) against onnxruntime running the same model (its
# PyTorch twin exported to ONNX by the current PyTorch, one thread,
# bench/infer_ort.py), with the same weights, at batch 1 (latency, the
# small kernels) and batch 128 (throughput, the blocked ones), measured
# side by side in one run. onnxruntime and PyTorch come from PyPI into a
# virtual environment made on demand ($AECC_BENCH_VENV, default
# ~/.cache/aecc/bench-venv); never in the tests. Prints a Markdown table
# and writes it to bench/infer.md. BENCH_SECONDS and BENCH_MODELS as
# bench/run.sh.
set -eu
AECC=${AECC:-build/bin/aecc}
CC=${CC:-cc}
SECS=${BENCH_SECONDS:-3}
MODELS=${BENCH_MODELS:-$(ls examples/*.ae)}
VENV=${AECC_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/aecc/bench-venv}
VPY=$VENV/bin/python
if ! "$VPY" -c "import onnxruntime, onnx, torch" 2>/dev/null; then
	echo "infer.sh: installing onnxruntime and PyTorch from PyPI into $VENV" >&2
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q --upgrade pip
	"$VENV/bin/pip" install -q torch onnxruntime onnx onnxscript numpy
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=bench/infer.md

floor=$("$VPY" bench/infer_ort.py floor "$SECS" | tail -n 1)
{
	echo "# Inference: aecc export against onnxruntime"
	echo
	echo "$(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $($CC --version | head -n 1),"
	echo "onnxruntime $("$VPY" -c 'import onnxruntime; print(onnxruntime.__version__)'), PyTorch $("$VPY" -c 'import torch; print(torch.__version__)') (ONNX export); one thread each."
	echo "Forward (encode and decode) of each example with the same weights; calls per second in the best quarter-second window of $SECS s."
	echo "onnxruntime is driven from Python: a call of its Python API alone (an Identity on 784 values) runs at $floor calls/s."
	echo
	echo "| model | batch 1: aecc µs | onnxruntime µs | onnxruntime/aecc | batch 128: aecc samples/s | onnxruntime samples/s | aecc/onnxruntime |"
	echo "|---|---|---|---|---|---|---|"
} >"$out"

for ae in $MODELS; do
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	d=$work/$name
	"$AECC" emit "$ae" -o "$d" >/dev/null
	"$VPY" bench/infer_ort.py weights "$d/${name}_torch.py" "$d/w.safetensors"
	for b in 1 128; do
		e=$d/export-$b h=$d/export-$b/${name}_infer.h
		"$AECC" export "$ae" --weights "$d/w.safetensors" --batch $b -o "$e"
		# the inputs forward takes: x for input 0, y for input 1
		args= i=0
		for input in $(sed -n 's/^#define [A-Z0-9_]*_INPUT[0-9]*_SIZE [0-9]* \/\* input \([A-Za-z_0-9]*\) .*/\1/p' "$h"); do
			grep "_forward(" "$h" | grep -q "_real \*$input," && args="$args $(echo xy | cut -c$((i + 1))),"
			i=$((i + 1))
		done
		$CC -O3 -march=native -std=c99 -DINFER="${name}_infer" -DUPPER="$(echo "${name}_infer" | tr a-z A-Z)" \
			-include "$h" -DFWD_ARGS="$args" bench/infer.c "$e/${name}_infer.c" -lm -o "$e/infer"
		eval "a$b=\$(\"\$e/infer\" \"\$SECS\")"
	done
	set -- $("$VPY" bench/infer_ort.py time "$d/${name}_torch.py" "$SECS" 1 128 | tail -n 1)
	# shellcheck disable=SC2154
	awk -v n="$name" -v a1="$a1" -v o1="$1" -v a128="$a128" -v o128="$2" 'BEGIN {
		printf "| %s | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f |\n", n, 1e6 / a1, 1e6 / o1, a1 / o1,
			a128 * 128, o128 * 128, a128 / o128 }' >>"$out"
done
cat "$out"
