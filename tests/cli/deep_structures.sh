#!/usr/bin/env bash
# Deeply nested data and code must never crash the process (docs/language.md#errors-are-values: no
# evaluation uses the C stack per Lisp call; limits give errors, not
# crashes). Each case runs in its own process; a signal is a failure.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
NEST='(fun (nest n acc) (if (== n 0) acc (nest (- n 1) (list acc))))'

check() {  # check NAME EXPR EXPECTED
  local out st
  set +e
  out=$(timeout 120 "$VALK" -e "$2" 2>&1); st=$?
  set -e
  if [ "$st" -ge 124 ]; then
    fail "$1: status $st (crash or timeout)"
  elif [ "$out" != "$3" ]; then
    fail "$1: expected [$3], got [$(head -c 300 <<<"$out")]"
  fi
}

check "reading 1,000,000-deep lists" \
  '(do (fun (depth x acc) (if (list? x) (depth (head x) (+ acc 1)) acc)) (depth (read (str (make-string 1000000 "(") "1" (make-string 1000000 ")"))) 0))' \
  1000000
check "== on 1,000,000-deep equal lists" "(do $NEST (== (nest 1000000 1) (nest 1000000 1)))" true
check "== on 1,000,000-deep different lists" "(do $NEST (== (nest 1000000 1) (nest 1000000 2)))" false
check "!= on 1,000,000-deep lists" "(do $NEST (!= (nest 1000000 1) (nest 1000000 2)))" true
check "plist/get with a 1,000,000-deep key" "(do $NEST (plist/get (list (nest 1000000 1) :found) (nest 1000000 1)))" ":found"
check "exists with a 1,000,000-deep element" "(do $NEST (exists (nest 1000000 1) (list 0 (nest 1000000 1))))" true
check "str of a 1,000,000-deep list" "(do $NEST (string? (str (nest 1000000 1))))" true
check "collecting a 3,000,000-deep list" "(do $NEST (def deep (nest 3000000 1)) (mem/gc/collect) (def junk (range 0 1000000)) (mem/gc/collect) (list? deep))" true
check "quasiquote of a 1,000,000-deep template" "(do $NEST (list? (eval (list (quote quasiquote) (nest 1000000 1)))))" true
# Code (not data) is compiled recursively: up to 2,000 levels of nesting it
# runs; deeper code is refused with a clear error value, never a crash.
check "eval of 1,500-deep nested calls" \
  '(eval (read (str (make-string 1500 "(+ 1 ") "0" (make-string 1500 ")"))))' \
  1500
TOO_DEEP='<-e>:1:1: code nested too deeply (more than 2000 levels)'
check "eval of 100,000-deep nested calls" \
  '(eval (read (str (make-string 100000 "(+ 1 ") "0" (make-string 100000 ")"))))' \
  "$TOO_DEEP"
check "eval of 100,000-deep nested lets" \
  '(eval (read (str (make-string 100000 "(let ((x 1)) ") "x" (make-string 100000 ")"))))' \
  "$TOO_DEEP"
check "eval of 100,000-deep nested ifs" \
  '(eval (read (str (make-string 100000 "(if true ") ":deep" (make-string 100000 " 0)"))))' \
  "$TOO_DEEP"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
