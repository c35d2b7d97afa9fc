#!/usr/bin/env bash
# An error (or a non-list) handed to the prelude's list functions comes back
# as an error at once (docs/language.md#errors-are-values). Run under a timeout: a regression here used
# to loop forever while allocating.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }

check() {  # check EXPR EXPECTED-MESSAGE
  local out st
  set +e
  out=$(timeout 20 "$VALK" -e "(let ((r $1)) (if (error? r) (error-message r) (list :not-an-error r)))" 2>&1); st=$?
  set -e
  [ "$st" -ne 124 ] || fail "$1 did not finish within 20 s"
  [ "$st" -eq 0 ] || fail "$1: status $st: $out"
  [ "$out" == "\"$2\"" ] || fail "$1: expected the error \"$2\", got $out"
}

for f in '(map inc E)' '(filter inc E)' '(foldl + 0 E)' '(foldr + 0 E)' '(reduce + 0 E)' \
         '(for-each inc E)' '(any? inc E)' '(all? inc E)' '(find inc E)' '(count inc E)' \
         '(zip E {1})' '(zip {1} E)' '(repeat inc E)'; do
  check "${f//E/(error \"orig\")}" "orig"
done

# A non-list gives an error too (any message), promptly.
for f in '(map inc 5)' '(filter inc 5)' '(foldl + 0 5)' '(foldr + 0 5)' '(for-each inc 5)' \
         '(any? inc 5)' '(all? inc 5)' '(find inc 5)' '(count inc 5)' '(zip 5 {1})'; do
  set +e
  out=$(timeout 20 "$VALK" -e "(error? $f)" 2>&1); st=$?
  set -e
  [ "$st" -ne 124 ] || fail "$f did not finish within 20 s"
  [ "$out" == "true" ] || fail "$f: expected an error, got $out"
done
[ "$FAILED" -eq 0 ] || exit 1
echo ok
