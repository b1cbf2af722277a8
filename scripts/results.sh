#!/bin/sh
# results.sh - train every example (or those named) for its configured
# epochs on all of Fashion-MNIST with `aecc train`, and the same model in
# PyTorch with scripts/torch_train.py, both on one thread; write the final
# test losses and the times to docs/results.md (the README's table).
set -eu
AECC=${AECC:-build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
models=${*:-$(ls examples/*.ae)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=docs/results.md
{
	echo "# Results"
	echo
	echo "$(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores."
	echo "Test loss after the example's epochs on all of Fashion-MNIST (60,000 training images,"
	echo "shuffled; 10,000 test images), in the units of the model's own loss."
	echo
	echo "| example | epochs | aecc test loss | aecc time | PyTorch test loss | PyTorch time |"
	echo "|---|---|---|---|---|---|"
} >"$out.tmp"
for ae in $models; do
	name=$(basename "$ae" .ae)
	t0=$(date +%s)
	"$AECC" train "$ae" --threads 1 --quiet >"$work/a.txt" 2>&1
	t1=$(date +%s)
	"$PY" scripts/torch_train.py "$ae" >"$work/t.txt" 2>&1
	t2=$(date +%s)
	ep=$(tail -n 1 "$work/a.txt" | sed -n 's/^epoch [0-9]*\/\([0-9]*\).*/\1/p')
	al=$(tail -n 1 "$work/a.txt" | sed -n 's/.*test_loss \([0-9.e+-]*\).*/\1/p')
	tl=$(tail -n 1 "$work/t.txt" | sed -n 's/.*test_loss \([0-9.e+-]*\).*/\1/p')
	echo "| $name | $ep | $al | $((t1 - t0)) s | $tl | $((t2 - t1)) s |" | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"
