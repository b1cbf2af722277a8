#!/bin/sh
# run.sh - `make bench`: training throughput of every example, side by side
# in one run, and what decides it on this machine.
#
# - The machine: its CPU model and the peaks of one core measured now: fp32
#   FMA (bench/peak.c) and bf16 on AMX and AVX512-BF16 where the CPU has
#   them (bench/peak_bf16.c).
# - Fair anchors: OpenBLAS (under Debian's PyTorch) picks its kernels by
#   the CPU it recognises, and falls back to SSE3 ("Prescott") on newer
#   ones; the bench asks it which it uses (OPENBLAS_VERBOSE=2), forces the
#   best the CPU supports (OPENBLAS_CORETYPE=SKYLAKEX on AVX-512, HASWELL
#   on AVX2) for every PyTorch run, and prints it. PyTorch's threads are
#   pinned (torch.set_num_threads and the BLAS and OpenMP variables).
# - The table: aecc as it compiles by default (SIMD kernels, fusion), aecc
#   without fusion (--no-fuse), aecc with neither (--kernels scalar
#   --no-fuse); Debian's PyTorch 1.13 (eager fp32 on 1 and 2 threads,
#   bf16 autocast); today's PyTorch 2.x from PyPI in a venv made on demand
#   (bench/torch2.sh): eager fp32, eager bf16 autocast, and torch.compile
#   (Inductor) in both, for the models in BENCH_COMPILE; each at the
#   model's batch size; the ratio of aecc to the best PyTorch on 1 thread;
#   GFLOP/s and the share of the fp32 peak. Each rate is the best window of
#   a quarter second (bench/step.c, bench/torch_step.py).
# - The trainer, for the models in BENCH_CONTENTION: its steady-state
#   rate (the time of 700 steps minus that of 100, on Fashion-MNIST, with
#   shuffling, data conversion and loss reporting) with its default
#   threads against one thread, idle and while a process that the bench
#   starts (and stops) spins on one core; and on 1 thread against the bare
#   step's mean rate.
# - bf16 products (precision bf16), for the models in BENCH_BF16: the
#   train step against fp32 on 1 thread, in turns, and against PyTorch's
#   best bf16 column; and the test loss after 5 epochs (the trainer, on
#   Fashion-MNIST, its default threads) in both precisions.
# - The peak memory of a trainer and of PyTorch training the small
#   autoencoder for one epoch; the cold start of `aecc train`
#   (bench/coldstart.sh).
# Prints Markdown and writes it to bench/results.md.
#
# BENCH_SECONDS (default 3) is the time per measurement; BENCH_MODELS a
# space-separated list of .ae files (default: every example); BENCH_COMPILE
# the model names measured with torch.compile (default: fashion_ae small_ae
# conv_ae; each takes a minute or more to compile); BENCH_CONTENTION the
# model names of the contention rows (default: the same three);
# BENCH_TORCH2=0 leaves PyTorch 2.x out (it is left out under CI unless
# BENCH_TORCH2=1); BENCH_BASELINE a git revision (`main`, `HEAD~3`): its
# aecc is built from that revision's files and its train step measured in
# the same run, for a baseline column and the ratio to it.
set -eu
AECC=${AECC:-build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
SECS=${BENCH_SECONDS:-3}
MODELS=${BENCH_MODELS:-$(ls examples/*.ae)}
COMPILE=${BENCH_COMPILE:-fashion_ae small_ae conv_ae}
CONTENTION=${BENCH_CONTENTION:-fashion_ae small_ae conv_ae}
BF16=${BENCH_BF16:-fashion_ae conv_ae}
RT="-Ibuild/include build/lib/libaecc_rt.a -lpng -lz"
work=$(mktemp -d)
spinner=
stop_spinner() {
	if [ -n "$spinner" ]; then
		kill "$spinner" 2>/dev/null || true
		wait "$spinner" 2>/dev/null || true
		spinner=
	fi
}
trap 'stop_spinner; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
out=bench/results.md

# ---- the machine ----
cpuinfo() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | sed 's/.*: //'; }
flags=" $(cpuinfo flags) "
has() { case $flags in *" $1 "*) return 0 ;; esac; return 1; }
cpu="$(cpuinfo 'model name') (family $(cpuinfo 'cpu family'), model $(cpuinfo model), stepping $(cpuinfo stepping))"
isa=
for f in avx2 avx512f avx512_bf16 amx_tile amx_bf16; do has $f && isa="$isa $f"; done
$CC -O3 -march=native -std=c99 bench/peak.c -o "$work/peak"
$CC -O3 -march=native -std=c99 bench/peak_bf16.c -o "$work/peak_bf16"
peak=$("$work/peak")
"$work/peak_bf16" >"$work/bf16"
bf16_peak() { sed -n "s/^$1 //p" "$work/bf16"; }

# ---- fair anchors ----
. scripts/fair_blas.sh
fair_blas "$PY"
blas=$FAIR_BLAS
tv1=$("$PY" -c 'import torch; print(torch.__version__)')

# PyTorch 2.x from PyPI, on demand.
PY2=
if [ "${BENCH_TORCH2:-}" = 1 ] || { [ "${BENCH_TORCH2:-}" != 0 ] && [ -z "${CI:-}" ]; }; then
	PY2=$(sh bench/torch2.sh) || PY2=
fi
tv2=-
if [ -n "$PY2" ]; then
	tv2=$("$PY2" -c 'import torch; print(torch.__version__)')
	blas2=$("$PY2" -c 'import torch; import re; c = torch.__config__.show(); m = re.search(r"BLAS_INFO=(\w+)", c); print(m.group(1) if m else "?")')
fi

BASE=${BENCH_BASELINE:-}
if [ -n "$BASE" ]; then
	mkdir "$work/base"
	git archive "$BASE" | tar -x -C "$work/base"
	make -s -C "$work/base" build/bin/aecc >/dev/null
fi

# step_rate DIR THREADS [MODES]: samples/s of the generated train step; on
# one thread per second of CPU time unless MODES says (bench/step.c's
# `mean`, `cpu`, or both: the mean over the CPU time).
step_rate() { OMP_NUM_THREADS=$2 "$1/step" "$SECS" ${3:-$([ "$2" = 1 ] && echo cpu)}; }
# torch_rate PYTHON TWIN THREADS [FLAGS]: samples/s of PyTorch's, or - when it fails.
torch_rate() {
	p=$1 twin=$2 th=$3
	shift 3
	[ "$th" = 1 ] && set -- "$@" --cpu
	"$p" bench/torch_step.py "$twin" "$th" "$SECS" "$@" 2>"$work/torch.err" || {
		echo "bench: $p bench/torch_step.py $twin $th $*: failed:" >&2
		tail -n 3 "$work/torch.err" >&2
		echo -
	}
}
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

{
	echo "# aecc benchmark"
	echo
	echo "$(date -u +%Y-%m-%d), $cpu, $(nproc) cores, $($CC --version | head -n 1)."
	echo "Vector extensions:${isa:- none of AVX2, AVX-512, AVX512-BF16, AMX}."
	echo "Peaks of one core, measured: fp32 FMA $peak GFLOP/s; bf16 AMX $(bf16_peak amx); bf16 AVX512-BF16 $(bf16_peak avx512_bf16)."
	echo "PyTorch $tv1 (Debian): $blas. PyTorch $tv2 (PyPI)${PY2:+: BLAS $blas2; torch.compile for $COMPILE}."
	echo "Train step (forward, backward, Adam) at the model's batch size; samples per second in the best quarter-second window of $SECS s, on 1 thread (1T) of the process's CPU time (the rate while it had a core: the machine is shared), on 2 of wall time; PT: PyTorch, bf16: torch.autocast(\"cpu\", torch.bfloat16); best PT: the best PyTorch column on 1 thread."
	echo
	[ -n "$BASE" ] && echo "Baseline: the train step as aecc at $BASE ($(git rev-parse --short "$BASE")) compiles it, measured in the same run."
	echo
	echo "| model | FLOP/sample | aecc 1T | aecc 2T | 2T/1T | unfused 1T | scalar unfused 1T | PT $tv1 1T | PT $tv1 2T | PT $tv1 bf16 1T | PT $tv2 1T | PT $tv2 bf16 1T | compile 1T | compile bf16 1T | aecc/best PT 1T | GFLOP/s 1T | % of fp32 peak |${BASE:+ baseline 1T | aecc/baseline |}"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|${BASE:+---|---|}"
} >"$out"

# build_step NAME AE: the step programs of the model, in $work/NAME-KIND.
build_step() {
	upper=$(echo "$1" | tr a-z A-Z)
	kinds="simd unfused scalar ${BASE:+base}"
	in_list "$1" "$BF16" && kinds="$kinds bf16"
	for kind in $kinds; do
		d=$work/$1-$kind
		compiler=$AECC
		case $kind in
		simd) flags= ;;
		unfused) flags=--no-fuse ;;
		scalar) flags="--no-fuse --kernels scalar" ;;
		base) flags= compiler=$work/base/build/bin/aecc ;;
		bf16) flags="--precision bf16" ;;
		esac
		"$compiler" emit $flags "$2" -o "$d" >/dev/null
		$CC -O3 -march=native -fopenmp -std=c99 -DMODEL="$1" -DMODEL_UPPER="$upper" -I"$d" \
			bench/step.c "$d/$1.c" $RT -lm -o "$d/step"
	done
}

for ae in $MODELS; do
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	build_step "$name" "$ae"
	twin=$work/$name-simd/${name}_torch.py
	flops=$("$AECC" summary "$ae" | sed -n 's/.*, \([0-9,]*\) per train step.*/\1/p' | tr -d ,)
	s1=$(step_rate "$work/$name-simd" 1)
	s2=$(step_rate "$work/$name-simd" 2)
	uf=$(step_rate "$work/$name-unfused" 1)
	sc=$(step_rate "$work/$name-scalar" 1)
	bs=; [ -n "$BASE" ] && bs=$(step_rate "$work/$name-base" 1)
	t1=$(torch_rate "$PY" "$twin" 1)
	t2=$(torch_rate "$PY" "$twin" 2)
	tb=$(torch_rate "$PY" "$twin" 1 --bf16)
	n1=- nb=- c1=- cb=-
	if [ -n "$PY2" ]; then
		n1=$(torch_rate "$PY2" "$twin" 1)
		nb=$(torch_rate "$PY2" "$twin" 1 --bf16)
		if in_list "$name" "$COMPILE"; then
			c1=$(torch_rate "$PY2" "$twin" 1 --compile)
			cb=$(torch_rate "$PY2" "$twin" 1 --compile --bf16)
		fi
	fi
	echo "$tb $nb $cb" | tr ' ' '\n' | grep -v '^-$' | sort -g | tail -n 1 >"$work/$name.pt-bf16"
	awk -v n="$name" -v f="$flops" -v s1="$s1" -v s2="$s2" -v uf="$uf" -v sc="$sc" -v t1="$t1" -v t2="$t2" \
		-v tb="$tb" -v n1="$n1" -v nb="$nb" -v c1="$c1" -v cb="$cb" -v pk="$peak" -v bs="$bs" '
	function cell(v) { return v == "-" ? "-" : sprintf("%.0f", v) }
	BEGIN {
		gf = s1 * f / 1e9
		best = 0
		split(t1 " " tb " " n1 " " nb " " c1 " " cb, pt, " ")
		for (i in pt)
			if (pt[i] != "-" && pt[i] + 0 > best)
				best = pt[i] + 0
		printf "| %s | %.2fM | %.0f | %.0f | %.2f | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %.0f%% |",
			n, f / 1e6, s1, s2, s2 / s1, uf, sc, cell(t1), cell(t2), cell(tb), cell(n1), cell(nb), cell(c1),
			cell(cb), (best > 0 ? sprintf("%.2f", s1 / best) : "-"), gf, 100 * gf / pk
		if (bs != "")
			printf " %.0f | %.2f |", bs, s1 / bs
		printf "\n" }' >>"$out"
	tail -n 1 "$out"
done

# ---- the trainer: its threads on a busy machine, and its speed ----
TOP=$(pwd) "$PY" - "$work/test.idx" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
x = aecc_py.read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")[:128]
aecc_py.write_idx(sys.argv[1], x)
PYEOF
# steady TRAINER [OPTIONS], or steady AECC train FILE [OPTIONS]: the
# trainer's steady-state samples/s: the time of 700 steps minus that of
# 100 (loading the data, and compiling the model in aecc, cancel out), on a
# 128-image test set so that evaluating costs a step.
steady() {
	a=$(seconds "$@" --steps 100 --quiet --test "$work/test.idx")
	b=$(seconds "$@" --steps 700 --quiet --test "$work/test.idx")
	awk -v a="$a" -v b="$b" -v B="$batch" 'BEGIN { printf "%.1f\n", 600 * B / (b - a) }'
}
seconds() {
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
# steady_cpu TRAINER [OPTIONS]: the same by CPU time (user and system, the
# shell's `times` for its children, in clock ticks): on one thread, the
# rate while the trainer had the core, which other tenants do not change.
steady_cpu() {
	a=$(cpu_seconds "$@" --steps 100 --quiet --test "$work/test.idx")
	b=$(cpu_seconds "$@" --steps 700 --quiet --test "$work/test.idx")
	awk -v a="$a" -v b="$b" -v B="$batch" 'BEGIN { printf "%.1f\n", 600 * B / (b - a) }'
}
cpu_seconds() {
	("$@" >/dev/null; times) | awk 'END { split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}
{
	echo
	echo "Threads on a busy machine: a trainer's steady-state samples/s (\`NAME-train\` on Fashion-MNIST, shuffled: the time of \`--steps 700\` minus that of \`--steps 100\`) with its default threads ($(nproc), all cores, the trainer's choice between them and one) and with \`--threads 1\`; busy: while a process that the bench started spins on one core, each measured three times in turns."
	echo
	echo "| model | idle: default | idle: 1T | default/1T | busy: default | busy: 1T | default/1T |"
	echo "|---|---|---|---|---|---|---|"
} >"$work/threads.md"
{
	echo
	echo "The trainer keeps the step's speed: the same trainer rate on 1 thread (data conversion, shuffling and loss reporting included) against the bare step's mean rate (bench/step.c), measured in turns; the same by CPU time (the trainer's user and system time; the step's mean rate over its CPU time), which the machine's other tenants disturb less; and \`aecc train\` (the same trainer in aecc, the model compiled by its default route$([ -e "$(dirname "$AECC")/../lib/aecc/aecc_jit.so" ] && echo ", the JIT"))."
	echo
	echo "| model | trainer 1T | bare step 1T | trainer/step | trainer 1T, CPU time | bare step 1T, CPU time | trainer/step, CPU time | \`aecc train\` 1T | aecc train/step |"
	echo "|---|---|---|---|---|---|---|---|---|"
} >"$work/trainer.md"
for ae in $MODELS; do
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	in_list "$name" "$CONTENTION" || continue
	batch=$(sed -n 's/.*batch[ \t]*\([0-9]*\).*/\1/p' "$ae" | head -n 1)
	"$AECC" build "$ae" -o "$work/$name-train" >/dev/null
	tr=$work/$name-train/$name-train
	s1=$(step_rate "$work/$name-simd" 1 mean)
	i1=$(steady "$tr" --threads 1)
	i0=$(steady "$tr")
	s2=$(step_rate "$work/$name-simd" 1 mean)
	c1=$(steady_cpu "$tr" --threads 1)
	sc1=$(step_rate "$work/$name-simd" 1 "mean cpu")
	c2=$(steady_cpu "$tr" --threads 1)
	sc2=$(step_rate "$work/$name-simd" 1 "mean cpu")
	j1=$(steady "$AECC" train "$ae" --threads 1)
	sh -c 'while :; do :; done' &
	spinner=$!
	b0=$(steady "$tr")
	b1=$(steady "$tr" --threads 1)
	b1b=$(steady "$tr" --threads 1)
	b0b=$(steady "$tr")
	b0c=$(steady "$tr")
	b1c=$(steady "$tr" --threads 1)
	stop_spinner
	awk -v n="$name" -v i0="$i0" -v i1="$i1" -v a="$b0" -v b="$b1" -v a2="$b0b" -v b2="$b1b" -v a3="$b0c" -v b3="$b1c" 'BEGIN {
		printf "| %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", n, i0, i1, i0 / i1, (a + a2 + a3) / 3, (b + b2 + b3) / 3,
			(a + a2 + a3) / (b + b2 + b3) }' >>"$work/threads.md"
	awk -v n="$name" -v t="$i1" -v s="$s1" -v s2="$s2" -v c="$c1" -v c2="$c2" -v sc="$sc1" -v sc2="$sc2" -v j="$j1" 'BEGIN {
		s = (s + s2) / 2
		c = (c + c2) / 2
		sc = (sc + sc2) / 2
		printf "| %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f | %.0f | %.2f |\n", n, t, s, t / s, c, sc, c / sc, j, j / s }' >>"$work/trainer.md"
	tail -n 1 "$work/threads.md"
	tail -n 1 "$work/trainer.md"
done
cat "$work/threads.md" "$work/trainer.md" >>"$out"

# ---- bf16 products ----
{
	echo
	case " $isa " in
	*" amx_bf16 "*) kernel="vdpbf16ps on pairs of bf16 along k (AVX512-BF16; no AMX kernel yet)" ;;
	*" avx512_bf16 "*) kernel="vdpbf16ps on pairs of bf16 along k (AVX512-BF16)" ;;
	*) kernel="the fp32 kernel on rounded panels (no AVX512-BF16)" ;;
	esac
	echo "bf16 products (\`precision bf16\`: operands rounded to bf16, fp32 sums; on this CPU $kernel): the train step on 1 thread against fp32's, measured in turns, and against PyTorch's best bf16 column above; its GFLOP/s and their share of the AVX512-BF16 peak; the test loss after 5 epochs of the trainer (default threads) in both."
	echo
	echo "| model | aecc fp32 1T | aecc bf16 1T | bf16/fp32 | best PT bf16 1T | aecc bf16/PT bf16 | bf16 GFLOP/s 1T | % of bf16 peak | test loss fp32, 5 epochs | bf16 | bf16/fp32 |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >>"$out"
final_test_loss() { "$@" --epochs 5 --quiet 2>&1 | sed -n 's/.*test_loss \([0-9.e+-]*\).*/\1/p' | tail -n 1; }
for ae in $MODELS; do
	name=$(sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$ae" | head -n 1)
	in_list "$name" "$BF16" || continue
	f1=$(step_rate "$work/$name-simd" 1)
	b1=$(step_rate "$work/$name-bf16" 1)
	f2=$(step_rate "$work/$name-simd" 1)
	b2=$(step_rate "$work/$name-bf16" 1)
	pt=$(cat "$work/$name.pt-bf16")
	"$AECC" build "$ae" -o "$work/$name-q32" >/dev/null
	"$AECC" build --precision bf16 "$ae" -o "$work/$name-q16" >/dev/null
	q32=$(final_test_loss "$work/$name-q32/$name-train")
	q16=$(final_test_loss "$work/$name-q16/$name-train")
	flops=$("$AECC" summary "$ae" | sed -n 's/.*, \([0-9,]*\) per train step.*/\1/p' | tr -d ,)
	awk -v n="$name" -v f="$f1" -v f2="$f2" -v b="$b1" -v b2="$b2" -v pt="${pt:--}" -v q32="$q32" -v q16="$q16" \
		-v fl="${flops:-0}" -v pk="$(bf16_peak avx512_bf16)" 'BEGIN {
		f = (f + f2) / 2
		b = (b + b2) / 2
		r = (q32 + 0 > 0 && q16 + 0 > 0) ? sprintf("%.4f", q16 / q32) : "-"
		g = b * fl / 1e9
		gc = (g > 0) ? sprintf("%.1f", g) : "-"
		pc = (g > 0 && pk + 0 > 0) ? sprintf("%.0f%%", 100 * g / pk) : "-"
		printf "| %s | %.0f | %.0f | %.2f | %s | %s | %s | %s | %s | %s | %s |\n", n, f, b, b / f,
			pt == "-" ? "-" : sprintf("%.0f", pt), pt == "-" ? "-" : sprintf("%.2f", b / pt),
			gc, pc, q32 == "" ? "-" : q32, q16 == "" ? "-" : q16, r }' >>"$out"
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
