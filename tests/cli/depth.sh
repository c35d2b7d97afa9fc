#!/usr/bin/env bash
# Deep recursion (docs/language.md#errors-are-values): 1,000,000 frames work; past the limit
# (--max-depth N, VALK_MAX_DEPTH) it is an error value, never a crash.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DEEP='(fun (deep n) (if (== n 0) 0 (+ 1 (deep (- n 1)))))'

# 1,000,000 nested non-tail calls with the default limit.
out=$("$VALK" -e "(do $DEEP (deep 1000000))") || fail "1e6 deep recursion exited $?"
check_eq "1e6 deep" 1000000 "$out"

# --max-depth: past it, an error with status 1, not a signal.
set +e
out=$("$VALK" --max-depth 1000 -e "(do $DEEP (deep 5000))" 2>"$tmp/err"); st=$?
set -e
check_eq "--max-depth status" 1 "$st"
grep -q 'stack overflow' "$tmp/err" || fail "--max-depth message: $(cat "$tmp/err")"
out=$("$VALK" --max-depth 1000 -e "(do $DEEP (deep 900))") || fail "under --max-depth exited $?"
check_eq "under --max-depth" 900 "$out"

# The error is a value: try recovers from it and the program goes on.
out=$("$VALK" --max-depth 1000 -e "(do $DEEP (list (try (deep 5000) (fn (e) :recovered)) (deep 10)))")
check_eq "recovering from overflow" "{:recovered 10}" "$out"

# Tail calls are not limited by --max-depth.
out=$("$VALK" --max-depth 100 -e '(do (fun (lp n) (if (== n 0) :done (lp (- n 1)))) (lp 1000000))')
check_eq "tail calls under a small limit" ":done" "$out"

# VALK_MAX_DEPTH does the same.
set +e
VALK_MAX_DEPTH=1000 "$VALK" -e "(do $DEEP (deep 5000))" >/dev/null 2>"$tmp/err"; st=$?
set -e
check_eq "VALK_MAX_DEPTH status" 1 "$st"
grep -q 'stack overflow' "$tmp/err" || fail "VALK_MAX_DEPTH message: $(cat "$tmp/err")"

# In a script: the report names the file and position, later forms don't run.
printf '%s\n(print "start")\n(deep 5000)\n(print "not reached")\n' "$DEEP" >"$tmp/deep.valk"
set +e
out=$("$VALK" --max-depth 1000 "$tmp/deep.valk" 2>"$tmp/err"); st=$?
set -e
check_eq "script overflow status" 1 "$st"
check_eq "script overflow output" "start" "$out"
grep -q "deep.valk:[0-9]*:[0-9]*: .*stack overflow" "$tmp/err" || fail "script overflow report: $(cat "$tmp/err")"

# Runaway recursion with the default limit: an error, not a crash.
set +e
"$VALK" -e '(do (fun (inf n) (+ 1 (inf n))) (inf 0))' >/dev/null 2>"$tmp/err"; st=$?
set -e
check_eq "runaway recursion status" 1 "$st"
grep -q 'stack overflow' "$tmp/err" || fail "runaway recursion message: $(cat "$tmp/err")"

# Deep recursion through eval and map callbacks stays off the C stack.
out=$("$VALK" -e '(do (fun (ev n) (if (== n 0) 0 (+ 1 (eval (list (quote ev) (- n 1)))))) (ev 100000))') || fail "deep eval exited $?"
check_eq "deep eval" 100000 "$out"
out=$("$VALK" -e '(do (fun (mp n) (if (== n 0) (list 0) (map inc (mp (- n 1))))) (mp 100000))') || fail "deep map exited $?"
check_eq "deep map" "{100000}" "$out"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
