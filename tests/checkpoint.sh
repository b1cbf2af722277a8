#!/bin/sh
# checkpoint.sh - crash-safe checkpoints. A trainer that writes
# --checkpoint after every step (one step per epoch) is killed with SIGKILL
# at a pseudo-random moment, 100 times in a row, each run resuming from the
# checkpoint the last one left. After each kill the checkpoint on disk
# must be whole (its step never goes back), --resume must load it and
# continue from it (one more step makes its step one larger), and a
# temporary file the kill left must be gone after that run. Then a full
# disk: a file size limit (ulimit -f), and a full tmpfs where mounting one
# is allowed, must give a clear error and keep the previous checkpoint.
# Prints `checkpoint: N passed, M failed`.
set -u
top=$(pwd)
AECC=${AECC:-$top/build/bin/aecc}
case $AECC in /*) ;; *) AECC=$top/$AECC ;; esac
PY=${PYTHON:-/usr/bin/python3}
KILLS=${KILLS:-100}
work=$(mktemp -d)
trap 'umount "$work/full" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 2
pass=0 fail=0

. "$top/tests/expect.sh"

"$AECC" build "$top/examples/small_ae.ae" -o t >/dev/null 2>&1
ok "aecc build makes a trainer" test -x t/small_ae-train
T="./t/small_ae-train --train one.idx --test one.idx --threads 1 --quiet"
# 128 images: one batch of small_ae, so one step per epoch.
TOP=$top "$PY" - <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["TOP"] + "/scripts")
import aecc_py
aecc_py.write_idx("one.idx", aecc_py.read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")[:128])
PYEOF

# step FILE: the Adam step count stored in a checkpoint ("optimizer.step",
# an I64 scalar), read through the safetensors header; empty if the file
# is not whole.
step() {
	hlen=$(od -An -tu8 -N8 "$1" | tr -d ' ')
	[ -n "$hlen" ] || return
	at=$(head -c $((8 + hlen)) "$1" | tail -c "$hlen" |
		sed -n 's/.*"optimizer\.step":{"dtype":"I64","shape":\[\],"data_offsets":\[\([0-9]*\),[0-9]*\]}.*/\1/p')
	[ -n "$at" ] || return
	[ "$(wc -c <"$1")" -eq $((8 + hlen + at + 8)) ] || return
	od -An -td8 -j $((8 + hlen + at)) -N8 "$1" | tr -d ' '
}

temps() { ls ck.safetensors.tmp.* 2>/dev/null | wc -l; }

expect 0 "epoch 1/1" $T --epochs 1 --checkpoint ck.safetensors
ok "the first checkpoint holds step 1" test "$(step ck.safetensors)" = 1

# Kill at 0 to 149 ms: while it starts, trains or writes a checkpoint
# (most of a step's time is the checkpoint's write and fsync).
seed=20261201 i=0 bad=0 left=0
while [ $i -lt "$KILLS" ]; do
	i=$((i + 1))
	before=$(step ck.safetensors)
	$T --resume ck.safetensors --checkpoint ck.safetensors --epochs 1000000 >/dev/null 2>&1 &
	pid=$!
	seed=$(((seed * 1103515245 + 12345) % 2147483648))
	sleep "$(printf '0.%03d' $((seed / 65536 % 150)))"
	kill -KILL $pid
	wait $pid 2>/dev/null
	killed=$(step ck.safetensors)
	[ "$(temps)" -eq 0 ] || left=$((left + 1))
	$T --resume ck.safetensors --checkpoint ck.safetensors --steps 1 >run.log 2>&1
	rc=$?
	after=$(step ck.safetensors)
	if [ -z "$killed" ] || [ "$killed" -lt "$before" ] || [ $rc -ne 0 ] ||
		[ "$after" != $((killed + 1)) ] || [ "$(temps)" -ne 0 ]; then
		bad=$((bad + 1))
		echo "FAIL: kill $i: step $before before, '$killed' after the kill, resumed run exit $rc, then" \
			"'$after', $(temps) temporary files"
		cat run.log
	fi
done
ok "$KILLS of $KILLS kills: the checkpoint loads, --resume continues from it, no temporary file stays" \
	test $bad -eq 0
echo "checkpoint: $KILLS kills, $left left a temporary file (removed by the next run); step $(step ck.safetensors) at the end"

# A full disk: the save fails with the reason, the old checkpoint stays
# as it was, and no temporary file is left. ulimit -f counts 512-byte
# blocks; the checkpoint is 2.5 MB.
cp ck.safetensors before.safetensors
expect 1 "ck.safetensors: cannot write: File too large" \
	sh -c "ulimit -f 1000 && exec $T --resume ck.safetensors --checkpoint ck.safetensors --steps 1"
ok "a file size limit keeps the previous checkpoint" cmp -s ck.safetensors before.safetensors
ok "a file size limit leaves no temporary file" test "$(temps)" -eq 0
expect 1 "w.safetensors: cannot write: File too large" \
	sh -c "ulimit -f 1000 && exec $T --steps 1 --save w.safetensors"
ok "no weights written past the limit" test ! -e w.safetensors
if mkdir full && mount -t tmpfs -o size=4m tmpfs full 2>/dev/null; then
	cp ck.safetensors full/ck.safetensors
	expect 1 "full/ck.safetensors: cannot write: No space left on device" \
		$T --resume full/ck.safetensors --checkpoint full/ck.safetensors --steps 1
	ok "a full disk keeps the previous checkpoint" cmp -s full/ck.safetensors before.safetensors
	ok "a full disk leaves no temporary file" test "$(ls full | wc -l)" -eq 1
else
	echo "checkpoint: no tmpfs can be mounted here; the full disk is the file size limit only"
fi
echo "checkpoint: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
