#!/bin/sh
# loader.sh - the model loader behind `aecc train`: a model trained inside
# aecc gives the weights of the static trainer `aecc build` makes (the same
# bytes, for a model with one input and one with a label input); the cache
# rebuilds a damaged entry, passes over entries of other keys, and survives
# two aecc processes building the same entry at once; a failing compiler or
# a missing JIT plugin is a clear error; and the JIT route, driven through
# a stand-in plugin (tests/loader/fake_jit.c), gets the generated files from
# memory, writes nothing to the cache and gives the same weights too. And
# the descriptor in NAME_main.c agrees with NAME.h (tests/loader/descriptor.c).
# Prints `loader: N passed, M failed`.
set -u
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
case $AECC in /*) ;; *) AECC=$top/$AECC ;; esac
PY=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
pass=0 fail=0
# -O1: the models compile in a third of the time and compute the same.
export AECC_CFLAGS=${AECC_CFLAGS:--O1} AECC_CACHE="$work/cache"
unset AECC_JIT AECC_HOME

. "$top/tests/expect.sh"

# none GLOB: no file matches.
none() {
	for f in $1; do [ -e "$f" ] && return 1; done
	return 0
}

TOP=$top "$PY" - <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
fm = "/usr/share/datasets/fashion-mnist/"
aecc_py.write_idx("x.idx", aecc_py.read_idx(fm + "t10k-images-idx3-ubyte.gz")[:300])
aecc_py.write_idx("y.idx", aecc_py.read_idx(fm + "t10k-labels-idx1-ubyte.gz")[:300])
PYEOF
SMALL=$top/examples/small_ae.ae CVAE=$top/examples/cvae.ae
RUN="--train x.idx --test x.idx --steps 3 --quiet"
CRUN="$RUN --train-y y.idx --test-y y.idx"

# In-process training gives the static trainer's weights, byte for byte.
"$AECC" build "$SMALL" -o static >/dev/null 2>&1
"$AECC" build "$CVAE" -o static >/dev/null 2>&1
expect 0 "epoch 1/1" static/small_ae-train $RUN --save small-static.st
expect 0 "epoch 1/1" static/cvae-train $CRUN --save cvae-static.st
expect 0 "aecc: building $AECC_CACHE/small_ae-" "$AECC" train --cc "$SMALL" $RUN --save small.st
expect 0 "epoch 1/1" "$AECC" train --cc "$CVAE" $CRUN --save cvae.st
ok "small_ae in aecc = its static trainer" cmp -s small.st small-static.st
ok "cvae in aecc = its static trainer" cmp -s cvae.st cvae-static.st
expect 0 "usage: small_ae-train" "$AECC" train "$SMALL" --help
ok "a cached model is not built again" sh -c '! grep -q building out'

# The descriptor's tables and entry points against NAME.h, for a model
# with one input, one whose decoder reads a label, and one with weighted
# loss terms (the committed code).
for m in small_ae cvae beta_vae; do
	g=$top/generated/$m dec=
	[ $m = cvae ] && dec=in1,
	grep -q "^void ${m}_sample(" "$g/$m.h" && has_sample=1 || has_sample=0
	expect 0 "$m: " sh -c "cc -std=c99 -O1 -march=native -fopenmp -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
		-DAERT_NO_MAIN -DMODEL=$m -DMODEL_UPPER=$(echo $m | tr a-z A-Z) -DDECODE_ARGS=$dec -DHAS_SAMPLE=$has_sample \
		-I$top/build/include -I$g $top/tests/loader/descriptor.c $g/$m.c $g/${m}_main.c -lm -o desc-$m &&
		./desc-$m"
done
ok "small_ae has sample, cvae has not" test "$(grep -c '^void .*_sample(' "$top"/generated/small_ae/small_ae.h \
	"$top"/generated/cvae/cvae.h | tr '\n' ' ')" = "$top/generated/small_ae/small_ae.h:1 $top/generated/cvae/cvae.h:0 "

# A damaged entry is built again; an entry of another key is passed over
# (the cache is the system compiler's: AECC_JIT=0 until the JIT tests).
export AECC_JIT=0
so=$(ls "$AECC_CACHE"/small_ae-*/small_ae.so)
head -c 20000 "$so" >cut.so && mv cut.so "$so"
expect 0 "building $so again: the cached copy does not load" "$AECC" train "$SMALL" $RUN --save small2.st
ok "the rebuilt entry gives the same weights" cmp -s small2.st small-static.st
echo garbage >"$so"
expect 0 "does not load" "$AECC" train "$SMALL" $RUN
mkdir "$AECC_CACHE/small_ae-0000000000000000" && echo garbage >"$AECC_CACHE/small_ae-0000000000000000/small_ae.so"
expect 0 "epoch 1/1" "$AECC" train "$SMALL" $RUN
ok "an entry of another key is not looked at" sh -c '! grep -q building out'

# Two processes building the same model into an empty cache both succeed.
export AECC_CACHE="$work/cache2"
("$AECC" train "$SMALL" $RUN --save p1.st >p1.out 2>&1; echo $? >p1.rc) &
("$AECC" train "$SMALL" $RUN --save p2.st >p2.out 2>&1; echo $? >p2.rc) &
wait
ok "both concurrent builds succeed" test "$(cat p1.rc p2.rc)" = "0
0"
ok "both give the weights" sh -c 'cmp -s p1.st small-static.st && cmp -s p2.st small-static.st'
ok "no temporary files in the cache" none "$AECC_CACHE/*/*.tmp*"
ok "one entry, complete" test "$(ls "$AECC_CACHE"/small_ae-*/small_ae.so | wc -l)" -eq 1

unset AECC_JIT

# A failing system compiler and a missing JIT plugin are plain errors.
export AECC_CACHE="$work/cache3"
expect 1 "aecc: error: compiling $AECC_CACHE/small_ae-" env CC=/bin/false "$AECC" train --cc "$SMALL" $RUN
ok "nothing loadable left behind" none "$AECC_CACHE/*/*.so*"
expect 1 "AECC_JIT is 'yes'" env AECC_JIT=yes "$AECC" train "$SMALL" $RUN
if [ ! -e "$top/build/lib/aecc/aecc_jit.so" ]; then
	expect 1 "aecc: error: the JIT plugin is not installed: $top/build/lib/aecc/aecc_jit.so (install" \
		"$AECC" train --jit "$SMALL" $RUN
	expect 1 "the JIT plugin is not installed" env AECC_JIT=1 "$AECC" train "$SMALL" $RUN
fi

# The JIT route, through a stand-in plugin in a prefix of its own.
mkdir -p prefix/lib/aecc fakejit
ln -s "$top/build/include" prefix/include
cc -std=c99 -D_DEFAULT_SOURCE -shared -fPIC "$top/tests/loader/fake_jit.c" -o prefix/lib/aecc/aecc_jit.so -ldl
export AECC_HOME="$work/prefix" AECC_CACHE="$work/cache4" FAKE_JIT_DIR="$work/fakejit" FAKE_JIT_LOG="$work/jit.log"
expect 0 "epoch 1/1" "$AECC" train "$CVAE" $CRUN --save cvae-jit.st
ok "the JIT is the default when its plugin is installed" test -s jit.log
ok "the JIT route writes nothing to the cache" none "$AECC_CACHE/*"
ok "cvae through the JIT = its static trainer" cmp -s cvae-jit.st cvae-static.st
ok "the JIT gets the files from memory" grep -qx "units: cvae.c cvae_main.c" jit.log
ok "the JIT gets the header, include folder and define" sh -c "grep -qx 'headers: cvae.h' jit.log &&
	grep -qx 'include: $work/prefix/include' jit.log && grep -qx 'defines: AERT_NO_MAIN' jit.log &&
	grep -qx 'openmp: 1' jit.log"
expect 134 "aecc: internal compiler error at" env FAKE_JIT_FAIL=1 "$AECC" train "$SMALL" $RUN
ok "a compile error under the JIT shows the compiler's message" grep -q "the fake JIT was told to fail" out
rm jit.log
expect 0 "aecc: building" "$AECC" train --cc "$SMALL" $RUN
ok "--cc passes over an installed plugin" test ! -e jit.log
expect 0 "epoch 1/1" env AECC_JIT=0 "$AECC" train "$SMALL" $RUN
ok "AECC_JIT=0 too" test ! -e jit.log
unset AECC_HOME FAKE_JIT_DIR FAKE_JIT_LOG

# The real plugin, when it is built: no external compiler is needed,
# nothing of the model goes into the cache (only the plugin's precompiled
# header), and the weights are those of clang's build with the JIT's flags.
if [ -e "$top/build/lib/aecc/aecc_jit.so" ]; then
	export AECC_CACHE="$work/cache5"
	for m in small cvae; do
		ae=$SMALL args=$RUN
		[ $m = cvae ] && ae=$CVAE args=$CRUN
		expect 0 "epoch 1/1" env CC=/bin/false "$AECC" train --jit "$ae" $args --save $m-jit.st
		expect 0 "epoch 1/1" env CC=clang AECC_CFLAGS="-O3 -ffp-contract=off" "$AECC" train --cc "$ae" $args \
			--save $m-clang.st
		ok "$m: the JIT's weights = clang's with the same flags" cmp -s $m-jit.st $m-clang.st
	done
	rm -rf "$AECC_CACHE"
	expect 0 "epoch 1/1" env CC=/bin/false "$AECC" train --jit "$SMALL" $RUN
	ok "the JIT writes no model into the cache" none "$AECC_CACHE/small_ae-*"
fi

echo "loader: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
