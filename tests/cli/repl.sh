#!/usr/bin/env bash
# The REPL with piped stdin (docs/language.md#the-command-line): prints each result in readable form.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check_eq "(+ 1 2)" "3" "$(printf '(+ 1 2)\n' | "$VALK")"
check_eq "string results are quoted" '"str"' "$(printf '"str"\n' | "$VALK")"
check_eq "list result" '{1 "a" :k}' "$(printf '(list 1 "a" :k)\n' | "$VALK")"
check_eq "no newline at EOF" "3" "$(printf '(+ 1 2)' | "$VALK")"

# State persists from line to line; a form may span lines.
out=$(printf '(def x 5)\n(+ x 1)\n(+ 1\n   2)\n' | "$VALK")
grep -qx 6 <<<"$out" || fail "definitions persist: [$out]"
grep -qx 3 <<<"$out" || fail "multi-line form: [$out]"

# Several forms on one line are all evaluated.
out=$(printf '(def y 1) (def y (+ y 1)) y\n' | "$VALK")
[ "$(tail -1 <<<"$out")" == "2" ] || fail "several forms on a line: [$out]"

# Printed output appears, then the value.
out=$(printf '(print "p")\n' | "$VALK")
check_eq "print in the REPL" "p
()" "$out"

# The prelude is there.
check_eq "prelude" "{2 3}" "$(printf '(map inc {1 2})\n' | "$VALK")"

# An error is shown and the REPL goes on.
out=$(printf '(head nil)\n(+ 1 1)\n' | "$VALK" 2>&1 || true)
grep -q 'non-empty list' <<<"$out" || fail "error message shown: [$out]"
[ "$(tail -1 <<<"$out")" == "2" ] || fail "REPL continues after an error: [$out]"

# A read error is shown and the REPL goes on.
out=$(printf ')\n(+ 2 2)\n' | "$VALK" 2>&1 || true)
grep -q "unexpected ')'" <<<"$out" || fail "read error shown: [$out]"
[ "$(tail -1 <<<"$out")" == "4" ] || fail "REPL continues after a read error: [$out]"

# EOF exits 0; (exit n) exits n at once.
printf '(+ 1 2)\n' | "$VALK" >/dev/null || fail "EOF status $?"
set +e
out=$(printf '(exit 3)\n(print "no")\n' | "$VALK"); st=$?
set -e
check_eq "(exit 3) in the REPL" 3 "$st"
check_eq "(exit 3) stops the REPL" "" "$out"

# Empty input is fine.
"$VALK" </dev/null >/dev/null || fail "empty stdin status $?"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
