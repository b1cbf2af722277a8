#!/bin/sh
# parity.sh - the generated trainers against PyTorch (scripts/parity.py):
# every example, every model in tests/parity/ (ops that no example uses),
# then PARITY_RANDOM random dense models (default 6), each in
# f32 (against PyTorch in float32, tolerance 1e-3 of the largest change) and
# in f64 (against PyTorch in float64, tolerance 1e-9: the same algorithm);
# and BF16_MODELS with bf16 products (--precision bf16): against PyTorch
# with the same bf16 products (bf16) and under torch.autocast
# (bf16-autocast), both judged as scripts/parity.py --norm-tol explains
# (see the tolerances below).
# Runs JOBS checks at a time (default: the number of cores), each on one
# thread. Prints `parity: N passed, M failed`.
#
#   sh tests/parity.sh            all of them
#   sh tests/parity.sh FILE DTYPE one check (what the parallel runs call)
set -u
PY=${PYTHON:-/usr/bin/python3}
# -O1: the trainers compile in a third of the time and compute the same.
export AECC=${AECC:-build/bin/aecc} OMP_NUM_THREADS=1 AECC_CFLAGS=${AECC_CFLAGS:--O1}

# One model in one dtype; its output goes to $PARITY_OUT/NAME-DTYPE.{out,ok}.
if [ $# -eq 2 ]; then
	ae=$1 dtype=$2
	name=$(basename "$ae" .ae)-$dtype
	tol=1e-3 loss_tol=1e-5 more=
	[ "$dtype" = f64 ] && tol=1e-9 loss_tol=1e-12
	# bf16: a gradient element within a rounding of a bf16 boundary rounds
	# either way with the order of the fp32 sums, and changes a whole row of
	# the next layer's gradient by a bf16 unit (2^-8); Adam's first steps
	# turn small gradients into whole steps. So the changes are judged by
	# their norm, and the run must be at most half as far from the bf16
	# reference as from fp32 (parity.py). Measured on the examples over 5
	# steps: losses within 2.4e-4 of the reference, norms within 6e-2;
	# against autocast, which also rounds every product's result to bf16:
	# losses within 1.2e-4, norms within 7.1e-2.
	case $dtype in
	bf16) loss_tol=1e-3 more="--precision bf16 --norm-tol 1e-1" dtype=f32 ;;
	bf16-autocast) loss_tol=1e-3 more="--precision bf16 --reference autocast --norm-tol 2e-1" dtype=f32 ;;
	esac
	# A model may say `# parity-f32: losses` (with its reason) when its
	# float32 weights are too chaotic to compare element by element.
	only=
	[ "$2" = f32 ] && grep -q '^# parity-f32: losses' "$ae" && only=--losses-only
	if "$PY" scripts/parity.py "$ae" --dtype "$dtype" --tol "$tol" --loss-tol "$loss_tol" $only $more \
		--work "$PARITY_OUT/$name" >"$PARITY_OUT/$name.out" 2>&1; then
		touch "$PARITY_OUT/$name.ok"
	fi
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PARITY_OUT=$work
"$PY" tests/random_dense.py "$work/models" "${PARITY_RANDOM:-6}" "${PARITY_SEED:-2026}"
for ae in examples/*.ae tests/parity/*.ae "$work"/models/*.ae; do
	[ -e "$ae" ] && printf '%s f32\n%s f64\n' "$ae" "$ae"
done >"$work/jobs"
for m in ${BF16_MODELS:-fashion_ae conv_ae vae}; do
	printf 'examples/%s.ae bf16\n' "$m"
done >>"$work/jobs"
for m in ${BF16_AUTOCAST_MODELS:-fashion_ae conv_ae}; do
	printf 'examples/%s.ae bf16-autocast\n' "$m"
done >>"$work/jobs"
xargs -P "${JOBS:-$(nproc)}" -L 1 sh "$0" <"$work/jobs"
pass=0 fail=0
while read -r ae dtype; do
	name=$(basename "$ae" .ae)-$dtype
	if [ -e "$work/$name.ok" ]; then
		pass=$((pass + 1))
		echo "$(tail -n 1 "$work/$name.out") ($dtype, worst $(grep -o 'rel err [0-9.e+-]*' "$work/$name.out" | awk '{print $3}' | sort -g | tail -n 1))"
	else
		fail=$((fail + 1))
		cat "$ae" "$work/$name.out"
	fi
done <"$work/jobs"
echo "parity: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
