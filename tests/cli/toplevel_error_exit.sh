#!/usr/bin/env bash
# A top-level error ends the program with status 1 and file:line:col on
# stderr, whatever is still live: a listening server, an interval, a timer.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

check() {  # check NAME FILE EXPECTED-STDERR-PREFIX
  set +e
  timeout 10 "$VALK" "$2" >"$tmp/out" 2>"$tmp/err"; st=$?
  set -e
  if [ "$st" -eq 124 ]; then fail "$1: still running 10 s after the error"; return; fi
  [ "$st" -eq 1 ] || fail "$1: exit status $st, expected 1"
  grep -q "^$3" "$tmp/err" || fail "$1: stderr [$(cat "$tmp/err")] does not start with [$3]"
  [ "$FAILED" -eq 0 ] && echo "ok: $1"
}

printf '(def srv (http2/server-listen 0 (lambda (req) "hi") {:host "127.0.0.1" :tls false}))\n(undefined-fn)\n' >server.valk
check "error with a live server" server.valk "server.valk:2:1: symbol \`undefined-fn\` is not bound"

printf '(aio/interval 100 (fn () 1))\n(undefined-fn)\n' >interval.valk
check "error with a live interval" interval.valk "interval.valk:2:1: "

printf '(aio/then (aio/sleep 60000) (fn (_) (print "late")))\n(print "before")\n(+ 1 (error "boom"))\n' >timer.valk
check "error with a pending timer" timer.valk "timer.valk:3:"
grep -q '^before$' "$tmp/out" || fail "output printed before the error is kept"

set +e
# (def ...): the interval stays live, but -e's value is not the handle, which -e would await.
timeout 10 "$VALK" -e '(def iv (aio/interval 100 (fn () 1)))' -e '(car 1 2 3)' >/dev/null 2>"$tmp/err"; st=$?
set -e
[ "$st" -eq 1 ] || fail "-e: exit status $st after an error, expected 1"

# Without an error the server keeps the program alive until it is stopped.
printf '(def srv (http2/server-listen 0 (lambda (req) "hi") {:host "127.0.0.1" :tls false}))\n(aio/then (aio/sleep 50) (fn (_) (http2/server-stop srv)))\n(print "served")\n' >ok.valk
set +e
timeout 10 "$VALK" ok.valk >"$tmp/out" 2>&1; st=$?
set -e
[ "$st" -eq 0 ] || fail "no error: exit status $st, expected 0"

exit "$FAILED"
