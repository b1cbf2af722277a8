#!/bin/sh
# run.sh - `make bench`: training throughput of every example, side by side
# in one run: aecc as it compiles by default (SIMD kernels, fusion), aecc
# without fusion (--no-fuse), aecc with neither (--kernels scalar
# --no-fuse), and PyTorch on the same model (its NAME_torch.py twin), each
# at the model's batch size, on 1 and 2 threads where it matters; GFLOP/s
# and the share of this core's measured fp32 FMA peak; the peak memory of
# a trainer and of PyTorch training the small autoencoder for one epoch of
# Fashion-MNIST; the cold start of `aecc train` with the JIT, the system
# compiler and the cache (bench/coldstart.sh). Each rate is the best of
# windows of a quarter second (bench/step.c, bench/torch_step.py). Prints
# a Markdown table and writes it to bench/results.md.
#
# BENCH_SECONDS (default 3) is the time per measurement; BENCH_MODELS a
# space-separated list of .ae files (default: every example);
# BENCH_BASELINE a git revision (`main`, `HEAD~3`): its aecc is built from
# that revision's files and its train step measured in the same run, for a
# baseline column and the ratio to it.
set -eu
AECC=${AECC:-build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
SECS=${BENCH_SECONDS:-3}
MODELS=${BENCH_MODELS:-$(ls examples/*.ae)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=bench/results.md

$CC -O3 -march=native -std=c99 bench/peak.c -o "$work/peak"
BASE=${BENCH_BASELINE:-}
if [ -n "$BASE" ]; then
	mkdir "$work/base"
	git archive "$BASE" | tar -x -C "$work/base"
	make -s -C "$work/base" build/bin/aecc >/dev/null
fi
peak=$("$work/peak")

# step_rate NAME DIR THREADS: samples/s of the generated train step.
step_rate() {
	OMP_NUM_THREADS=$3 "$2/step" "$SECS"
}

{
	echo "# aecc benchmark"
	echo
	echo "$(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $($CC --version | head -n 1)."
	echo "fp32 FMA peak of one core, measured: $peak GFLOP/s."
	echo "Train step (forward, backward, Adam) at the model's batch size; samples per second in the best quarter-second window of $SECS s."
	echo
	[ -n "$BASE" ] && echo "Baseline: the train step as aecc at $BASE ($(git rev-parse --short "$BASE")) compiles it, measured in the same run."
	echo
	echo "| model | FLOP/sample | aecc 1T | aecc 2T | 2T/1T | unfused 1T | fused/unfused | scalar unfused 1T | PyTorch 1T | PyTorch 2T | aecc/PyTorch 1T | GFLOP/s 1T | % of peak |${BASE:+ baseline 1T | aecc/baseline |}"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|${BASE:+---|---|}"
} >"$out"

for ae in $MODELS; do
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	upper=$(echo "$name" | tr a-z A-Z)
	for kind in simd unfused scalar ${BASE:+base}; do
		d=$work/$name-$kind
		compiler=$AECC
		case $kind in
		simd) flags= ;;
		unfused) flags=--no-fuse ;;
		scalar) flags="--no-fuse --kernels scalar" ;;
		base) flags= compiler=$work/base/build/bin/aecc ;;
		esac
		"$compiler" emit $flags "$ae" -o "$d" >/dev/null
		$CC -O3 -march=native -fopenmp -std=c99 -DMODEL="$name" -DMODEL_UPPER="$upper" -I"$d" \
			bench/step.c "$d/$name.c" -lm -o "$d/step"
	done
	flops=$("$AECC" summary "$ae" | sed -n 's/.*, \([0-9,]*\) per train step.*/\1/p' | tr -d ,)
	s1=$(step_rate "$name" "$work/$name-simd" 1)
	s2=$(step_rate "$name" "$work/$name-simd" 2)
	uf=$(step_rate "$name" "$work/$name-unfused" 1)
	sc=$(step_rate "$name" "$work/$name-scalar" 1)
	bs=; [ -n "$BASE" ] && bs=$(step_rate "$name" "$work/$name-base" 1)
	t1=$("$PY" bench/torch_step.py "$work/$name-simd/${name}_torch.py" 1 "$SECS")
	t2=$("$PY" bench/torch_step.py "$work/$name-simd/${name}_torch.py" 2 "$SECS")
	awk -v n="$name" -v f="$flops" -v s1="$s1" -v s2="$s2" -v uf="$uf" -v sc="$sc" -v t1="$t1" -v t2="$t2" \
		-v pk="$peak" -v bs="$bs" 'BEGIN {
		gf = s1 * f / 1e9
		printf "| %s | %.2fM | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f | %.0f | %.0f | %.2f | %.1f | %.0f%% |",
			n, f / 1e6, s1, s2, s2 / s1, uf, s1 / uf, sc, t1, t2, s1 / t1, gf, 100 * gf / pk
		if (bs != "")
			printf " %.0f | %.2f |", bs, s1 / bs
		printf "\n" }' >>"$out"
	tail -n 1 "$out"
done

# Peak memory: one epoch of the small autoencoder on all of Fashion-MNIST.
"$AECC" build examples/small_ae.ae -o "$work/mem" >/dev/null
mem() { "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$@"; }
am=$(mem "$work/mem/small_ae-train" --epochs 1 --quiet)
tm=$(mem "$PY" scripts/torch_train.py examples/small_ae.ae --epochs 1)
{
	echo
	echo "Peak memory (max RSS), one epoch of examples/small_ae.ae on all of Fashion-MNIST: aecc trainer $am MB, PyTorch $tm MB."
} >>"$out"
{
	echo
	echo "Cold start: from \`aecc train\` to the first step (bench/coldstart.sh), best of 3."
	echo
	AECC=$AECC sh bench/coldstart.sh
} >>"$out"
echo
cat "$out"
