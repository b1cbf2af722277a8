#!/bin/sh
# export.sh - aecc export as a product embeds it. Every example (and a
# BatchNorm model, and a model in double) exported with its weights passed
# at run time is plain C99 (-std=c99 -pedantic -Wall -Wextra -Werror) that
# computes what its training build computes, at batch 1 (the small
# kernels) and 3 (the blocked ones); three (dense, VAE, convolutional),
# with their weights inside, build with gcc and clang and cross-build for
# AArch64, run under qemu-aarch64 and agree with x86; their objects call no
# allocation, stdio or thread function; their weights read back to the
# same bits; the stack a call uses stays within what the header says; two
# exported models link into one program; the README's example program
# scores an image; and bad input is a clear error that writes nothing.
# Prints `export: N passed, M failed`.
set -u
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
case $AECC in /*) ;; *) AECC=$top/$AECC ;; esac
PY=${PYTHON:-/usr/bin/python3}
CROSS=${CROSS:-aarch64-linux-gnu-gcc}
QEMU="qemu-aarch64 -L /usr/aarch64-linux-gnu"
STRICT="-std=c99 -pedantic -Wall -Wextra -Werror -O2"
T=$top/tests/export
RT="-I$top/build/include $top/build/lib/libaecc_rt.a -lz -lm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
pass=0 fail=0

. "$top/tests/expect.sh"

# Four test images, scaled as the data sections scale them, and their
# labels one-hot: x1/x3 hold 1 or 3 images, xy1/xy3 the labels after them
# (a conditional model's two inputs), img0.raw the first image's bytes;
# the same in double for a model in f64.
TOP=$top "$PY" - <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
import numpy as np
fm = "/usr/share/datasets/fashion-mnist/"
raw = aecc_py.read_idx(fm + "t10k-images-idx3-ubyte.gz")[:4].reshape(4, -1)
x = raw.astype(np.float32) * np.float32(1 / 255)
y = np.eye(10, dtype=np.float32)[aecc_py.read_idx(fm + "t10k-labels-idx1-ubyte.gz")[:4]]
for b in (1, 3):
    x[:b].tofile("x%d.f32" % b)
    np.concatenate([x[:b].ravel(), y[:b].ravel()]).tofile("xy%d.f32" % b)
    (raw[:b].astype(np.float64) * (1 / 255)).tofile("x%d.f64" % b)
raw[0].tofile("img0.raw")
PYEOF
cc -O2 "$T/compare.c" -lm -o compare

name_of() { sed -n 's/^model[ \t]*\([A-Za-z_0-9]*\).*/\1/p' "$1" | head -n 1; }

# args_of HEADER FUNCTION: "in[0], in[1]," for the inputs FUNCTION takes.
args_of() {
	proto=$(grep "_$2(" "$1") i=0 args=
	for input in $(sed -n 's/^#define [A-Z0-9_]*_INPUT[0-9]*_SIZE [0-9]* \/\* input \([A-Za-z_0-9]*\) .*/\1/p' "$1"); do
		case $proto in *"_real *$input,"*) args="$args in[$i]," ;; esac
		i=$((i + 1))
	done
	echo "$args"
}

# driver OUT HEADER CC FLAGS...: run.c for the export of HEADER, built by CC
# with FLAGS (the export's object, -DPOINTER and the runtime, ...); the
# letters of the functions it runs go to OUT.fns (reference.c's order).
driver() {
	out=$1 h=$2 compiler=$3
	shift 3
	m=$(basename "$h" _infer.h)
	has= fns=
	for f in encode forward decode score; do
		grep -q "_$f(" "$h" || continue
		has="$has -DHAS_$(echo $f | tr a-z A-Z)"
		fns=$fns$(echo $f | cut -c1)
	done
	echo "$fns" >"$out.fns"
	# shellcheck disable=SC2086
	$compiler -std=c99 -O2 -I"$(dirname "$h")" -DINFER="${m}_infer" -DUPPER="$(echo "${m}_infer" | tr a-z A-Z)" \
		-include "$h" $has -DENC_ARGS="$(args_of "$h" encode)" -DFWD_ARGS="$(args_of "$h" forward)" \
		-DDEC_ARGS="$(args_of "$h" decode)" -DSCORE_ARGS="$(args_of "$h" score)" "$T/run.c" "$@" -o "$out"
}

# reference NAME DIR OUT: OUT, the training build of model NAME whose
# generated C is in DIR, driven through its descriptor (reference.c).
reference() {
	# shellcheck disable=SC2086
	cc -std=c99 -O2 -DAERT_NO_MAIN -DDESCRIPTOR="$1_aert_model" "$T/reference.c" "$2/$1.c" "$2/$1_main.c" $RT \
		-o "$3"
}

# inputs HEADER BATCH [f64]: the samples file for the export's inputs.
inputs() {
	if grep -q "_INPUT1_SIZE" "$1"; then echo "xy$2.f32"; elif [ "${3:-}" = f64 ]; then echo "x$2.f64"; else echo "x$2.f32"; fi
}

# spawn NAME CMD...: CMD in the background (the machine's cores at work
# at once), its output into NAME.log and its exit status into NAME.rc;
# `wait` for it, then `succeeded NAME`.
spawn() {
	n=$1
	shift
	("$@" >"$n.log" 2>&1; echo $? >"$n.rc") &
}
succeeded() { [ "$(cat "$1.rc" 2>/dev/null)" = 0 ] || { cat "$1.log"; false; }; }

# against_training TAG AE [f64]: the export of AE at batch 1 and 3 with
# its weights passed at run time computes what the training build does;
# the files are named after TAG (w-TAG.st the weights, p-TAG-B the export).
against_training() {
	t=$1 ae=$2 m=$(name_of "$2") d=${3:+-d} dtype=${3:+--dtype f64}
	g=$top/generated/$t
	# shellcheck disable=SC2086
	[ -d "$g" ] || { g=g-$t && "$AECC" emit $dtype "$ae" -o "$g" >/dev/null 2>&1; }
	spawn ref-$t reference "$m" "$g" "ref-$t"
	for b in 1 3; do
		# shellcheck disable=SC2086
		expect 0 "" "$AECC" export $dtype "$ae" --batch $b -o p-$t-$b
		spawn cc-p-$t-$b cc $STRICT -c p-$t-$b/${m}_infer.c -o p-$t-$b.o
	done
	wait
	succeeded ref-$t && "./ref-$t" --init 3 "w-$t.st" "$(inputs "$g/$m.h" 3 ${3:-})" 3 2 ||
		{ fail=$((fail + 1)); echo "FAIL: the training build of $t"; return; }
	for b in 1 3; do
		p=p-$t-$b h=p-$t-$b/${m}_infer.h
		in=$(inputs "$h" $b ${3:-})
		ok "$t at batch $b is strict C99" succeeded cc-$p
		# shellcheck disable=SC2086
		driver run-$p "$h" cc -DPOINTER $p.o $RT && "./run-$p" "$in" out-$p "w-$t.st" &&
			"./ref-$t" "w-$t.st" "$in" ref-$p $b "$(cat run-$p.fns)" ||
			{ fail=$((fail + 1)); echo "FAIL: running $t at batch $b"; continue; }
		expect 0 "" ./compare $d out-$p ref-$p 1e-6 "$t at batch $b, $(cat run-$p.fns) against training"
		cat out
	done
}

echo "-- every example, weights at run time, against its training build (x86)"
for ae in "$top"/examples/*.ae "$top/tests/parity/bn_conv.ae"; do
	against_training "$(name_of "$ae")" "$ae"
done
against_training small_ae_f64 "$top/examples/small_ae.ae" f64

echo "-- dense, VAE and convolutional, weights inside: gcc, clang, AArch64 under qemu"
THREE="small_ae vae conv_vae"
for m in $THREE; do
	ae=$top/examples/$m.ae e=e-$m
	expect 0 "" "$AECC" export "$ae" --weights "w-$m.st" -o $e
	spawn gcc-$m cc $STRICT -c $e/${m}_infer.c -o $e.o
	if [ $m = small_ae ]; then
		spawn clang-$m clang $STRICT -c $e/${m}_infer.c -o $e-clang.o
	else
		spawn clang-$m clang $STRICT -fsyntax-only $e/${m}_infer.c
	fi
	spawn arm-$m $CROSS $STRICT -c $e/${m}_infer.c -o $e-arm.o
	# the literals read back to the file's bits (the weights of two of them)
	if [ $m != vae ]; then
		expect 0 "" "$AECC" export "$ae" --weights "w-$m.st" --weights-as extern -o x-$m
		# shellcheck disable=SC2086
		spawn roundtrip-$m cc -std=c99 -O1 -Ix-$m -DINFER=${m}_infer -DUPPER="$(echo ${m}_infer | tr a-z A-Z)" \
			-include x-$m/${m}_infer.h "$T/roundtrip.c" x-$m/${m}_infer.c x-$m/${m}_infer_weights.c $RT \
			-o roundtrip-$m
	fi
	# the stack a call uses, by gcc's call graph (the same code as p-NAME-1)
	i=0
	for build in "cc -O2" "cc -Os" "cc -O2 -march=native" "$CROSS -O2" "$CROSS -Os"; do
		i=$((i + 1))
		# shellcheck disable=SC2086
		spawn su-$m-$i $build -std=c99 -fcallgraph-info=su -c p-$m-1/${m}_infer.c -o su-$m-$i.o
	done
	wait
done
for m in $THREE; do
	e=e-$m h=e-$m/${m}_infer.h
	ok "$m is strict C99 (gcc)" succeeded gcc-$m
	ok "$m is strict C99 (clang)" succeeded clang-$m
	ok "$m is strict C99 (AArch64)" succeeded arm-$m
	driver run-$e "$h" cc $e.o -lm && ./run-$e x1.f32 out-$e && "./ref-$m" "w-$m.st" x1.f32 ref-$e 1 "$(cat run-$e.fns)"
	expect 0 "" ./compare out-$e ref-$e 1e-6 "$m, weights inside (gcc), against training"
	cat out
	if [ $m = small_ae ]; then
		driver run-$e-clang "$h" clang $e-clang.o -lm && ./run-$e-clang x1.f32 out-$e-clang
		expect 0 "" ./compare out-$e-clang ref-$e 1e-6 "$m, weights inside (clang), against training"
	fi
	driver run-$e-arm "$h" $CROSS $e-arm.o -lm && $QEMU ./run-$e-arm x1.f32 out-$e-arm
	expect 0 "" ./compare out-$e-arm out-$e 1e-5 "$m on AArch64 against x86"
	cat out
	for o in $e.o $e-arm.o; do
		nm=nm
		[ $o = $e-arm.o ] && nm=aarch64-linux-gnu-nm
		bad=$($nm -u $o | grep -E ' (malloc|calloc|realloc|free|aligned_alloc|posix_memalign|.*printf|puts|putchar|f?open|fclose|fread|fwrite|fputs|fputc|fflush|stdin|stdout|stderr|pthread_.*|omp_.*|GOMP_.*|__kmpc_.*|thrd_.*)$')
		ok "$o calls no allocation, stdio or threads: ${bad:-none}" test -z "$bad"
	done
	if [ $m != vae ]; then
		ok "the round trip of $m builds" succeeded roundtrip-$m
		expect 0 "every one the same bits" ./roundtrip-$m "w-$m.st"
	fi
	bound=$(sed -n 's/^#define [A-Z0-9_]*_STACK_BYTES \([0-9]*\)$/\1/p' p-$m-1/${m}_infer.h)
	i=0
	for build in "cc -O2" "cc -Os" "cc -O2 -march=native" "$CROSS -O2" "$CROSS -Os"; do
		i=$((i + 1))
		used=$(succeeded su-$m-$i && "$PY" "$T/stack.py" su-$m-$i.ci)
		ok "$m: $build uses ${used:-?} bytes of stack, at most $bound" test "${used:-999999999}" -le "$bound"
	done
done

echo "-- two exported models in one program, and the README's example"
ok "small_ae and conv_vae in one program (x86)" cc -std=c99 -O2 -Ie-small_ae -Ie-conv_vae "$T/two.c" e-small_ae.o \
	e-conv_vae.o -lm -o two
ok "small_ae and conv_vae in one program (AArch64)" $CROSS -std=c99 -O2 -Ie-small_ae -Ie-conv_vae "$T/two.c" \
	e-small_ae-arm.o e-conv_vae-arm.o -lm -o two-arm
./two x1.f32 two.out && $QEMU ./two-arm x1.f32 two-arm.out
# each model's forward is the second block of its run's results
"$PY" -c "
import numpy as np, sys
a = np.fromfile('out-e-small_ae', np.float32)[32:32 + 784]
b = np.fromfile('out-e-conv_vae', np.float32)[16:16 + 784]
np.concatenate([a, b]).tofile('two.want')
"
expect 0 "" ./compare two.out two.want 0 "two models in one program (x86)"
expect 0 "" ./compare two-arm.out two.want 1e-5 "two models in one program (AArch64)"
ok "the example program builds" cc -std=c99 -O2 -Ie-small_ae "$top/examples/embed.c" e-small_ae.o -lm -o embed
./embed <img0.raw >embed.out
"./ref-small_ae" w-small_ae.st x1.f32 ref-score 1 s
"$PY" -c "
import numpy as np
np.array([float(open('embed.out').read().split()[1])], np.float32).tofile('embed.score')
"
expect 0 "" ./compare embed.score ref-score 1e-6 "the example's score against training"
ok "the example prints a score" grep -q "^score [0-9]" embed.out
$CROSS -std=c99 -O2 -Ie-small_ae "$top/examples/embed.c" e-small_ae-arm.o -lm -o embed-arm
expect 0 "score " $QEMU ./embed-arm <img0.raw

echo "-- small and blocked products, one function, extern weights"
m=fashion_ae ae=$top/examples/fashion_ae.ae
expect 0 "" "$AECC" export "$ae" --batch 3 --tile small -o small3
ok "small kernels at batch 3 build" cc $STRICT -c small3/${m}_infer.c -o small3.o
for f in "-O3 -march=native" "-O1"; do
	# shellcheck disable=SC2086
	ok "strict C99 at $f too" cc $STRICT $f -c small3/${m}_infer.c -o small3-o.o
	# shellcheck disable=SC2086
	ok "strict C99 at $f too (blocked)" cc $STRICT $f -c p-$m-3/${m}_infer.c -o small3-o.o
done
driver run-small3 small3/${m}_infer.h cc -DPOINTER small3.o $RT && ./run-small3 x3.f32 out-small3 "w-$m.st"
expect 0 "" ./compare out-small3 out-p-$m-3 0 "small and blocked products at batch 3"
expect 0 "" "$AECC" export "$ae" --functions encode -o enc
ok "an encoder-only export has no decoder weights" sh -c "! grep -q DECODER_0_WEIGHT enc/${m}_infer.h"
ok "an encoder-only export has encode alone" test "$(grep -c '^void' enc/${m}_infer.h)" -eq 1
ok "an encoder-only export is strict C99" cc $STRICT -c enc/${m}_infer.c -o enc.o
expect 0 "" "$AECC" export "$ae" --weights-as extern -o ext
ok "extern weights are declared" grep -q "^extern const float fashion_ae_infer_weights\[1083696\];" ext/${m}_infer.h
ok "extern weights without a file write no definition" test ! -e ext/${m}_infer_weights.c
ok "extern weights build" cc $STRICT -c ext/${m}_infer.c -o ext.o
ok "no OpenMP in an export" sh -c "! grep -qi openmp small3/${m}_infer.c e-vae/vae_infer.c"

echo "-- bad input: a clear error, nothing written"
S=$top/examples/small_ae.ae
expect 1 "w-vae.st: tensor encoder.0.weight has shape [512, 784], model expects [128, 784]" \
	"$AECC" export "$S" --weights w-vae.st -o bad1
ok "no folder after weights that do not match" test ! -e bad1
printf 'not a safetensors file' >junk.st
expect 1 "junk.st" "$AECC" export "$S" --weights junk.st -o bad2
ok "no folder after a broken weights file" test ! -e bad2
TOP=$top "$PY" - <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
import numpy as np
w = aecc_py.read_safetensors("w-small_ae.st")
w["decoder.2.bias"][5] = np.nan
aecc_py.write_safetensors("nan.st", w)
PYEOF
expect 1 "nan.st: tensor decoder.2.bias has NaN at element 5" "$AECC" export "$S" --weights nan.st -o bad3
ok "no folder after a NaN weight" test ! -e bad3
mkdir old && echo keep >old/small_ae_infer.h
expect 1 "model expects" "$AECC" export "$S" --weights w-vae.st -o old
ok "a failed export leaves the old files as they were" grep -qx keep old/small_ae_infer.h
expect 2 "--batch needs a number of samples from 1" "$AECC" export "$S" --batch 0 -o bad4
expect 2 "--batch needs a number" "$AECC" export "$S" --batch many -o bad4
expect 2 "unknown function 'reconstruct' in --functions" "$AECC" export "$S" --functions encode,reconstruct -o bad4
expect 2 "unknown --weights-as 'flash'" "$AECC" export "$S" --weights-as flash -o bad4
expect 2 "unknown --tile 'huge'" "$AECC" export "$S" --tile huge -o bad4
expect 2 "export needs an output folder" "$AECC" export "$S"
ok "no folder after a usage error" test ! -e bad4
N=$T/noisy_contractive.ae
expect 1 "noisy_contractive.ae:13:30: error: cannot export score: it needs mask_grad, which has no inference form" \
	"$AECC" export "$N" --functions score -o bad5
ok "no folder for an op without an inference form" test ! -e bad5
expect 0 "note: score left out: mask_grad has no inference form" "$AECC" export "$N" -o nc
ok "by default the functions that apply" test "$(grep -c '^void' nc/noisy_contractive_infer.h)" -eq 3
ok "the header says dropout is the identity" sh -c "tr -s ' *\n' ' ' <nc/noisy_contractive_infer.h | grep -q '(dropout) is the identity'"
expect 1 "cannot export decode: the decoder of skip reads more of the encoder than its latent" \
	"$AECC" export "$T/skip.ae" --functions decode -o bad6
ok "no folder for decode without a decodable model" test ! -e bad6
expect 0 "" "$AECC" export "$T/skip.ae" -o skip
ok "by default no decode where there is none" sh -c "! grep -q _decode skip/skip_infer.h"

echo "export: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
