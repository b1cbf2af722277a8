# fair_blas.sh - sourced by bench/run.sh and scripts/results.sh, so that
# PyTorch runs on the best BLAS kernels this CPU supports.
#
# OpenBLAS (under Debian's PyTorch) picks its kernels by the CPU it
# recognises, and falls back to its SSE3 ones ("Prescott") on CPUs newer
# than itself, which makes PyTorch several times slower than it can be.
# `fair_blas PYTHON` asks OpenBLAS which core it runs (OPENBLAS_VERBOSE=2),
# exports OPENBLAS_CORETYPE with the best core the CPU supports
# (SKYLAKEX on AVX-512, HASWELL on AVX2) when the detected one is weaker,
# and leaves a sentence saying which ran in FAIR_BLAS. blas_core PYTHON
# prints the core OpenBLAS runs under that PyTorch (nothing when it does
# not use OpenBLAS).

blas_core() {
	OPENBLAS_VERBOSE=2 "$1" -c 'import torch; torch.mm(torch.rand(64, 64), torch.rand(64, 64))' 2>&1 |
		sed -n 's/^Core: //p' | head -n 1
}

# The cores OpenBLAS 0.3.21 names, weakest first: the rank of $1, 0 if unknown.
blas_rank() {
	i=0
	for c in PRESCOTT CORE2 PENRYN DUNNINGTON NEHALEM SANDYBRIDGE HASWELL ZEN SKYLAKEX COOPERLAKE SAPPHIRERAPIDS; do
		i=$((i + 1))
		[ "$c" = "$(echo "$1" | tr a-z A-Z)" ] && { echo $i; return; }
	done
	echo 0
}

fair_blas() {
	fl=" $(grep -m1 '^flags' /proc/cpuinfo | sed 's/.*: //') "
	want=
	case $fl in *" avx512f "*) case $fl in *" avx512bw "*) case $fl in *" avx512vl "*) case $fl in *" avx512dq "*)
		want=SKYLAKEX ;; esac ;; esac ;; esac ;; esac
	if [ -z "$want" ]; then
		case $fl in *" avx2 "*) case $fl in *" fma "*) want=HASWELL ;; esac ;; esac
	fi
	core=$(unset OPENBLAS_CORETYPE; blas_core "$1")
	FAIR_BLAS="OpenBLAS core: ${core:-none reported} as detected"
	if [ -n "$core" ] && [ -n "$want" ] && [ "$(blas_rank "$core")" -lt "$(blas_rank "$want")" ]; then
		export OPENBLAS_CORETYPE=$want
		FAIR_BLAS="$FAIR_BLAS, forced to $(blas_core "$1") (OPENBLAS_CORETYPE=$want) for every PyTorch run"
	elif [ -n "$core" ]; then
		FAIR_BLAS="$FAIR_BLAS, the best this CPU supports"
	fi
}
