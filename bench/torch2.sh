#!/bin/sh
# torch2.sh - the Python of a virtual environment that holds the current
# PyTorch 2.x from PyPI, for the benchmark's anchors only (the tests and
# the parity checks use Debian's PyTorch 1.13). Made on demand, once, in
# $AECC_BENCH_VENV (default ~/.cache/aecc/bench-torch); prints the path of
# its python, or fails with the reason on stderr.
#
# PyPI's x86-64 Linux wheel of torch is the CUDA build: it brings several
# GB of NVIDIA's libraries (PyPI has no CPU-only wheel for that platform;
# the CPU-only ones live on PyTorch's own index, which this machine does
# not reach). They are installed into the venv only, never used (the
# benchmark runs on the CPU), and never in CI: there bench/run.sh skips
# this unless BENCH_TORCH2=1.
set -eu
VENV=${AECC_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/aecc/bench-torch}
PY=${PYTHON:-/usr/bin/python3}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
	echo "$VENV/bin/python"
	exit 0
fi
echo "bench: installing PyTorch 2.x from PyPI into $VENV (once; several GB with CUDA's libraries)" >&2
mkdir -p "$(dirname "$VENV")"
if ! "$PY" -m venv "$VENV" >&2 || ! "$VENV/bin/pip" install --quiet torch numpy >&2 ||
	! "$VENV/bin/python" -c 'import torch' >&2; then
	echo "bench: PyTorch 2.x could not be installed into $VENV" >&2
	exit 1
fi
echo "$VENV/bin/python"
