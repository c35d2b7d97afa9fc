#!/usr/bin/env bash
# valk -e EXPR whose value is an async handle (docs/language.md#the-command-line): the loop runs
# until the handle settles, then its outcome is printed: the value (status 0), or the error on
# stderr (status 1).
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run EXPR...: sets out, err, st.
run() {
  set +e
  out=$("$VALK" "$@" 2>"$tmp/err"); st=$?
  set -e
  err=$(cat "$tmp/err")
}

run -e '(aio/then (aio/sleep 10) (lambda (_) 42))'
check_eq "then after a sleep: value" 42 "$out"
check_eq "then after a sleep: status" 0 "$st"

run -e '(aio/pure "s")'
check_eq "a settled handle prints its value, readable" '"s"' "$out"

run -e '(aio/all (list (aio/delay 20 :a) (aio/pure :b)))'
check_eq "aio/all" '{:a :b}' "$out"

# The sleep really is waited for.
t0=$(date +%s%N)
run -e '(aio/delay 300 :late)'
t1=$(date +%s%N)
check_eq "aio/delay value" ":late" "$out"
[ $(( (t1 - t0) / 1000000 )) -ge 280 ] || fail "aio/delay 300 returned after $(( (t1 - t0) / 1000000 )) ms"

run -e '(aio/then (aio/sleep 10) (lambda (_) (error "went wrong")))'
check_eq "failure: status" 1 "$st"
check_eq "failure: nothing on stdout" "" "$out"
grep -q 'went wrong' <<<"$err" || fail "failure: error on stderr: [$err]"

run -e '(aio/fail "nope")'
check_eq "aio/fail: status" 1 "$st"
grep -q 'nope' <<<"$err" || fail "aio/fail: error on stderr: [$err]"

# A handle that can never settle is an error, not a hang.
run -e '(aio/never)'
check_eq "never: status" 1 "$st"
grep -q 'can never settle' <<<"$err" || fail "never: [$err]"

# Several -e run in order; each handle is settled before the next expression.
run -e '(def x 1)' -e '(aio/then (aio/sleep 5) (lambda (_) (def x 2) :set))' -e 'x'
check_eq "several -e" '()
:set
2' "$out"

# A handle inside a list is an ordinary value: printed as is.
run -e '(handle? (head (list (aio/pure 1))))'
check_eq "handle in a list" "true" "$out"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
