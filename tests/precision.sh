#!/bin/sh
# precision.sh - bf16 products (`precision bf16`, --precision): the
# rounding against PyTorch's, the product against its definition (with
# and without AVX512-BF16), what the generated C and the summary say, a
# bf16 state bit for bit the same on one thread and on two and not fp32's,
# the train section's precision and the command line's, a bf16 epoch
# within 2% of fp32's test loss, and the errors. (Against PyTorch's bf16:
# tests/parity.sh.) Prints `precision: N passed, M failed`.
set -u
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
PY=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AECC_CACHE="$work/cache" AECC_JIT=0
pass=0 fail=0
. "$top/tests/expect.sh"
cd "$work" || exit 2
CC=${CC:-cc}

# The rounding: NAME_bf16 of a bf16 build, on every kind of boundary.
"$AECC" emit --precision bf16 "$top/examples/small_ae.ae" -o bf >/dev/null 2>&1
$CC -O2 -march=native -fopenmp -std=c99 -I bf -I "$top/build/include" -DMODEL_C="\"$work/bf/small_ae.c\"" \
	-DBF16=small_ae_bf16 "$top/tests/precision/round.c" "$top/build/lib/libaecc_rt.a" -lpng -lz -lm -o round
expect 0 "as PyTorch rounds them" "$PY" "$top/tests/precision/round.py" ./round

# The product: NAME_gemm_into of a bf16 build against its definition, built
# for this CPU (vdpbf16ps where it has AVX512-BF16) and without AVX512-BF16
# (the fp32 kernel on rounded panels).
for flags in -march=native "-march=native -mno-avx512bf16"; do
	# shellcheck disable=SC2086
	$CC -O2 $flags -fopenmp -std=c99 -I bf -I "$top/build/include" -DMODEL_C="\"$work/bf/small_ae.c\"" \
		-DPFX=small_ae "$top/tests/precision/pairs.c" -lm -o pairs
	expect 0 "as defined, on 1 and 2 threads" ./pairs
	case $flags in
	*-mno-*) ok "built without AVX512-BF16: the fp32 kernel on rounded panels" grep -q "the fp32 kernel" out ;;
	*) if grep -qw avx512_bf16 /proc/cpuinfo; then
		ok "this CPU has AVX512-BF16: the pairs' kernel" grep -q "the pairs' kernel" out
	   fi ;;
	esac
done

# What the generated C and the summary say; fp32 builds do not change.
expect 0 "" "$AECC" emit "$top/examples/small_ae.ae" -o fp
ok "a bf16 build says so at the top of NAME.c" grep -q 'Products: bf16 operands' bf/small_ae.c
ok "a bf16 build copies rows of A rounded (not in place)" grep -q 'small_ae_round_rows(A + ' bf/small_ae.c
ok "an fp32 build has no bf16 rounding" sh -c '[ -s fp/small_ae.c ] && ! grep -q "bf16" fp/small_ae.c'
expect 0 "f32 with bf16 products, batch" "$AECC" summary --precision bf16 "$top/examples/small_ae.ae"
expect 0 "f32, batch" "$AECC" summary "$top/examples/small_ae.ae"

# The train section's precision, and the command line's over it.
sed 's/^train {/train { precision bf16/' "$top/examples/small_ae.ae" >small_bf16.ae
"$AECC" emit small_bf16.ae -o file >/dev/null 2>&1
sed 1d file/small_ae.c >a
sed 1d bf/small_ae.c >b
ok "precision bf16 in the file gives the code --precision bf16 gives" cmp -s a b
expect 0 "" "$AECC" emit --precision fp32 small_bf16.ae -o over
ok "--precision fp32 over the file's bf16" sh -c '[ -s over/small_ae.c ] && ! grep -q "_bf16(" over/small_ae.c'
expect 0 "" "$AECC" emit --dtype f64 small_bf16.ae -o f64
ok "an f64 build multiplies in f64 whatever the file says" sh -c '[ -s f64/small_ae.c ] && ! grep -q "_bf16(" f64/small_ae.c'

# Thread counts give the same bf16 state; it is not fp32's.
for m in fashion_ae conv_ae; do
	for t in 1 2; do
		"$AECC" train --precision bf16 "$top/examples/$m.ae" --steps 3 --threads "$t" --quiet \
			--save "$m-bf16-$t.st" >/dev/null 2>&1
	done
	"$AECC" train "$top/examples/$m.ae" --steps 3 --threads 2 --quiet --save "$m-fp32.st" >/dev/null 2>&1
	ok "$m: bf16 state after 3 steps the same on 1 and 2 threads" cmp -s "$m-bf16-1.st" "$m-bf16-2.st"
	ok "$m: bf16 state after 3 steps is not fp32's" \
		sh -c "[ -s $m-fp32.st ] && [ -s $m-bf16-2.st ] && ! cmp -s $m-bf16-2.st $m-fp32.st"
done

# One epoch of fashion_ae: bf16's test loss within 2% of fp32's.
test_loss() { "$AECC" train "$@" "$top/examples/fashion_ae.ae" --epochs 1 --threads 2 2>&1 |
	sed -n 's/.*test_loss \([0-9.e+-]*\).*/\1/p' | tail -n 1; }
l32=$(test_loss --precision fp32)
l16=$(test_loss --precision bf16)
echo "precision: fashion_ae, 1 epoch: test loss fp32 $l32, bf16 $l16"
ok "bf16's test loss ($l16) within 2% of fp32's ($l32)" \
	awk -v a="$l32" -v b="$l16" 'BEGIN { exit !(a > 0 && b > 0 && (b - a) / a <= 0.02 && (a - b) / a <= 0.02) }'

# The warning: where the CPU has no AVX512-BF16, emit, build and train say
# what bf16 gives here; check does not. Where it has, none of them warns.
if grep -qw avx512_bf16 /proc/cpuinfo; then
	expect 0 "" "$AECC" emit --precision bf16 "$top/examples/small_ae.ae" -o warn
	ok "AVX512-BF16 here: emit does not warn" sh -c '! grep -q warning out'
	expect 0 "" "$AECC" build small_bf16.ae -o warn2
	ok "AVX512-BF16 here: build does not warn" sh -c '! grep -q warning out'
else
	expect 0 "aecc: warning: this CPU has no AVX512-BF16: bf16 products are fp32 products of operands" \
		"$AECC" emit --precision bf16 "$top/examples/small_ae.ae" -o warn
	expect 0 "small_bf16.ae:13:9: warning: this CPU has no AVX512-BF16" "$AECC" build small_bf16.ae -o warn2
fi
expect 0 "" "$AECC" check small_bf16.ae
ok "aecc check does not warn" sh -c '! grep -q warning out'

# Errors.
expect 2 "unknown precision 'fp16' (expected bf16 or fp32)" "$AECC" emit --precision fp16 "$top/examples/small_ae.ae"
expect 2 "--precision bf16 needs --dtype f32" "$AECC" emit --dtype f64 --precision bf16 "$top/examples/small_ae.ae"
expect 1 "contractive_ae.ae: --precision bf16 does not apply to a model with a contractive penalty" \
	"$AECC" train --precision bf16 "$top/examples/contractive_ae.ae" --steps 1

echo "precision: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
