# expect.sh - the checks of the shell suites (cli.sh, loader.sh), sourced
# after `pass=0 fail=0`; each adds one to pass or to fail.

# expect RC TEXT CMD...: CMD exits with RC and prints TEXT (on stdout or
# stderr), kept in ./out.
expect() {
	rc=$1 text=$2
	shift 2
	"$@" >out 2>&1
	got=$?
	if [ "$got" -eq "$rc" ] && { [ -z "$text" ] || grep -qF -- "$text" out; }; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $* -> exit $got (want $rc), output:"
		cat out
		echo "(wanted: $text)"
	fi
}

# ok TEXT COND...: a condition that must hold.
ok() {
	text=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $text"; fi
}
