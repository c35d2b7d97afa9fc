#!/usr/bin/env bash
# Exit status and error reports (docs/language.md#errors-are-values, #the-command-line): (exit n) -> n; a top-level
# error -> 1 with "file:line:col: message" on stderr; otherwise 0.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

run() {  # run FILE: sets out, err, st
  set +e
  out=$("$VALK" "$@" 2>"$tmp/stderr"); st=$?
  set -e
  err=$(cat "$tmp/stderr")
}

# Normal end: 0.
printf '(print "fine")\n' >ok.valk
run ok.valk
check_eq "normal status" 0 "$st"
check_eq "normal output" "fine" "$out"
check_eq "normal stderr" "" "$err"

# (exit 3) -> 3, immediately.
printf '(print "before")\n(exit 3)\n(print "after")\n' >exit3.valk
run exit3.valk
check_eq "(exit 3) status" 3 "$st"
check_eq "(exit 3) stops the program" "before" "$out"

# (exit) -> 0, (exit 0) after output.
printf '(exit)\n' >exit0.valk
run exit0.valk
check_eq "(exit) status" 0 "$st"

# exit inside a function, deep in the program.
printf '(fun (quit n) (do (print "bye") (exit n)))\n(quit 7)\n(print "not here")\n' >exit7.valk
run exit7.valk
check_eq "exit from a function" 7 "$st"
check_eq "exit from a function output" "bye" "$out"

# (shutdown n): upstream's deferred exit: the program goes on, then exits n.
printf '(shutdown 4)\n(print "still running")\n' >shutdown.valk
run shutdown.valk
check_eq "(shutdown 4) status" 4 "$st"
check_eq "(shutdown 4) lets the program go on" "still running" "$out"

# (exit 3) via -e.
run -e '(exit 3)'
check_eq "-e (exit 3)" 3 "$st"

# Top-level error: status 1, file:line:col: message on stderr, later forms
# do not run. Positions are 1-based.
printf '(def x 1)\n(print "before")\n  (+ 1\n     (head nil))\n(print "after")\n' >err.valk
run err.valk
check_eq "error status" 1 "$st"
check_eq "error stops the program" "before" "$out"
check_eq "error report" "err.valk:4:6: head: argument 1 must be a non-empty list, got nil" "$err"

# (error "msg") at top level, at column 1.
printf ';; comment line\n\n(error "custom failure")\n' >custom.valk
run custom.valk
check_eq "custom error status" 1 "$st"
check_eq "custom error report" "custom.valk:3:1: custom failure" "$err"

# Division by zero inside a function: the position of the failing call.
printf '(fun (f x)\n  (/ x 0))\n(f 1)\n' >div.valk
run div.valk
check_eq "error in a function status" 1 "$st"
check_eq "error in a function report" "div.valk:2:3: division by zero" "$err"

# An unbound symbol at top level.
printf '(print 1)\n  undefined-thing\n' >unbound.valk
run unbound.valk
check_eq "unbound status" 1 "$st"
check_eq "unbound report" "unbound.valk:2:3: symbol \`undefined-thing\` is not bound" "$err"

# An unbound symbol as an argument, on a later line than its form: the
# report points at the symbol itself.
printf '(print 1)\n(+ 1\n   undefined-arg)\n' >unbound_arg.valk
run unbound_arg.valk
check_eq "unbound argument status" 1 "$st"
check_eq "unbound argument report" "unbound_arg.valk:3:4: symbol \`undefined-arg\` is not bound" "$err"

# An error stopping a do at top level.
printf '(do\n  (print "one")\n  (error "in do")\n  (print "two"))\n' >do.valk
run do.valk
check_eq "do error status" 1 "$st"
check_eq "do error output" "one" "$out"
check_eq "do error report" "do.valk:3:3: in do" "$err"

# The path is reported as given on the command line.
mkdir -p sub
printf '(error "deep path")\n' >sub/e.valk
run sub/e.valk
check_eq "path as given" "sub/e.valk:1:1: deep path" "$err"

# An error inside a loaded file is reported at its place in that file.
printf '(print "loader")\n(load "sub/e.valk")\n(print "after load")\n' >loader.valk
run loader.valk
check_eq "loaded error status" 1 "$st"
check_eq "loaded error output" "loader" "$out"
check_eq "loaded error report" "sub/e.valk:1:1: deep path" "$err"

# try at top level recovers: status 0.
printf '(print (try (/ 1 0) (fn (e) (error-message e))))\n' >try.valk
run try.valk
check_eq "try status" 0 "$st"
check_eq "try output" "division by zero" "$out"

# An error value that is handled (not the result of a top-level form) is fine.
printf '(def e (list (error "kept in a list")))\n(print (error? (head e)))\n' >held.valk
run held.valk
check_eq "held error status" 0 "$st"
check_eq "held error output" "true" "$out"

# Read errors name file, line and column; the forms before them run.
printf '(print "ran")\n(def y (list 1 2\n' >unclosed.valk
run unclosed.valk
check_eq "read error status" 1 "$st"
check_eq "read error: forms before ran" "ran" "$out"
grep -q '^unclosed.valk:2:[0-9]*: ' <<<"$err" || fail "read error report lacks file:line:col: [$err]"
grep -q 'never closed' <<<"$err" || fail "read error report lacks the reason: [$err]"

printf '(print 1))\n' >stray.valk
run stray.valk
check_eq "stray ) status" 1 "$st"
check_eq "stray ) report" "stray.valk:1:10: unexpected ')'" "$err"

printf '(print "a")\n\n   "unterminated\n' >str.valk
run str.valk
check_eq "unterminated string status" 1 "$st"
check_eq "unterminated string report" "str.valk:3:4: unterminated string" "$err"

# A missing program file: non-zero, with a message, not a crash.
run no-such-file.valk
[ "$st" -ne 0 ] && [ "$st" -lt 128 ] || fail "missing file status $st"
grep -q 'no-such-file.valk' <<<"$err" || fail "missing file message: [$err]"

# A directory is not a program: non-zero with a message.
mkdir -p adir
run adir
[ "$st" -ne 0 ] && [ "$st" -lt 128 ] || fail "directory as program: status $st"
grep -q 'adir' <<<"$err" || fail "directory as program: message [$err]"

# The test runner: failing suite -> non-zero, passing suite -> 0.
printf '(test/run (list (test "t" {== 1 2})) {:suite-name "s"})\n' >failing.valk
run failing.valk
check_eq "failing suite status" 1 "$st"
grep -q '0 passed, 1 failed' <<<"$out" || fail "failing suite summary: [$out]"
printf '(test/run (list (test "t" {== 1 1})) {:suite-name "s"})\n' >passing.valk
run passing.valk
check_eq "passing suite status" 0 "$st"
grep -q '1 passed, 0 failed' <<<"$out" || fail "passing suite summary: [$out]"
[ "$FAILED" -eq 0 ] || exit 1
echo ok
