#!/usr/bin/env bash
# The async runtime from the outside (docs/async.md#the-runtime, #handles, #timing-and-the-virtual-clock): pending work runs to
# completion at exit without aio/run; unhandled failures are reported on
# stderr without changing the exit status; aio/run and aio/stop; the virtual
# clock from the environment; async tests that fail or time out.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
check_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
has() { case "$2" in *"$3"*) ;; *) fail "$1: expected to find [$3] in [$2]";; esac; }
hasnt() { case "$2" in *"$3"*) fail "$1: did not expect [$3] in [$2]";; *) ;; esac; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

run() {  # run FILE [env...]: sets out, err, st, ms
  set +e
  local t0 t1
  t0=$(date +%s%N)
  out=$(timeout 30 "$VALK" "$@" 2>"$tmp/stderr"); st=$?
  t1=$(date +%s%N)
  set -e
  err=$(cat "$tmp/stderr")
  ms=$(( (t1 - t0) / 1000000 ))
  [ "$st" -ne 124 ] || fail "$* did not finish within 30 s"
}

# Pending work runs to completion at exit, without aio/run.
cat >pending.valk <<'EOF'
(aio/then (aio/delay 40 "late value") (fn (v) (print v)))
(aio/then (aio/sleep 10) (fn (_) (aio/then (aio/sleep 10) (fn (_) (print "nested")))))
(print "end of script")
EOF
run pending.valk
check_eq "pending: status" 0 "$st"
check_eq "pending: output" "end of script
nested
late value" "$out"
check_eq "pending: stderr" "" "$err"

# A never handle left pending does not keep the process alive.
printf '(def n (aio/never))\n(aio/then n (fn (x) x))\n(print "done")\n' >never.valk
run never.valk
check_eq "never: status" 0 "$st"
check_eq "never: output" "done" "$out"

# An unhandled failure is reported on stderr; the exit status is unchanged.
cat >unhandled.valk <<'EOF'
(aio/fail "lost failure")
(aio/then (aio/sleep 5) (fn (_) (error "async lost failure")))
(print "still runs")
EOF
run unhandled.valk
check_eq "unhandled: status" 0 "$st"
check_eq "unhandled: output" "still runs" "$out"
has "unhandled: sync failure reported" "$err" "lost failure"
has "unhandled: async failure reported" "$err" "async lost failure"
has "unhandled: report names the file" "$err" "unhandled.valk"

# An unhandled failure does not change an explicit exit status either.
printf '(aio/fail "lost")\n(exit 3)\n' >unhandled_exit.valk
run unhandled_exit.valk
check_eq "unhandled + exit 3: status" 3 "$st"

# Handled failures (catch, await, all-settled, a catch on a later failure) are not reported.
cat >handled.valk <<'EOF'
(aio/catch (aio/fail "caught") (fn (e) :ok))
(def r (error? (aio/await (aio/fail "awaited"))))
(aio/all-settled (list (aio/fail "settled")))
(aio/catch (aio/then (aio/sleep 5) (fn (_) (aio/fail "later"))) (fn (e) :ok))
(aio/try (aio/fail "tried"))
(print "ok")
EOF
run handled.valk
check_eq "handled: status" 0 "$st"
check_eq "handled: output" "ok" "$out"
check_eq "handled: nothing reported" "" "$err"

# VALK_VIRTUAL_TIME=1: a 10-minute sleep finishes at once, time-us jumps by 10 minutes.
printf '(def t0 (time-us))\n(aio/await (aio/sleep 600000))\n(print (- (time-us) t0))\n' >virtual.valk
set +e
t0=$(date +%s%N)
out=$(VALK_VIRTUAL_TIME=1 timeout 30 "$VALK" virtual.valk 2>&1); st=$?
t1=$(date +%s%N)
set -e
check_eq "virtual: status" 0 "$st"
check_eq "virtual: elapsed virtual time" "600000000" "$out"
[ $(( (t1 - t0) / 1000000 )) -lt 10000 ] || fail "virtual: took $(( (t1 - t0) / 1000000 )) ms of real time"

# A 10-minute within timeout under the virtual clock, through aio/run.
cat >virtual_within.valk <<'EOF'
(aio/virtual-time)
(aio/catch (aio/within (aio/never) 600000) (fn (e) (print (error-message e))))
(aio/run)
(print "after run")
EOF
run virtual_within.valk
check_eq "virtual within: status" 0 "$st"
check_eq "virtual within: output" ":timeout
after run" "$out"
[ "$ms" -lt 10000 ] || fail "virtual within: took $ms ms"

# aio/run returns when the work is done, on the real clock.
cat >run.valk <<'EOF'
(aio/then (aio/sleep 30) (fn (_) (print "a")))
(aio/run)
(print "b")
EOF
run run.valk
check_eq "run: status" 0 "$st"
check_eq "run: output" "a
b" "$out"

# aio/stop from a callback ends aio/run even with an interval running.
cat >stop.valk <<'EOF'
(def ticks 0)
(def iv (aio/interval 10 (fn () (def ticks (+ ticks 1)))))
(aio/then (aio/sleep 55) (fn (_) (aio/stop)))
(aio/run)
(print (aio/status iv))
(print (if (> ticks 2) "ticked" ticks))
EOF
run stop.valk
check_eq "stop: status" 0 "$st"
check_eq "stop: output" ":cancelled
ticked" "$out"

# Upstream style: (def {aio} (aio/await (aio/start))), system-first calls, (aio/run aio) ended by (aio/stop aio).
cat >upstream.valk <<'EOF'
(def {aio} (aio/await (aio/start)))
(aio/then (aio/sleep aio 20) (\ {_} {do (print "slept") (aio/stop aio)}))
(aio/run aio)
(print "stopped")
EOF
run upstream.valk
check_eq "upstream: status" 0 "$st"
check_eq "upstream: output" "slept
stopped" "$out"

# A top-level await of a handle that can never settle is an error (exit 1), not a hang.
printf '(aio/await (aio/never))\n(print "not reached")\n' >await_never.valk
run await_never.valk
check_eq "await never: status" 1 "$st"
hasnt "await never: stops the script" "$out" "not reached"
has "await never: error names the file" "$err" "await_never.valk"

# An async test that fails, and one that times out, fail the run (exit 1) promptly.
cat >async_tests.valk <<'EOF'
(test/run (list
  (test "passes" {aio/then (aio/sleep 5) (fn (_) true)})
  (test "fails" {aio/fail "no"})
  (test "false" {aio/delay 5 false})
  (test "times out" {aio/never})
) {:suite-name "async" :timeout-ms 100})
EOF
run async_tests.valk
check_eq "async tests: status" 1 "$st"
has "async tests: summary" "$out" "1 passed, 3 failed"
[ "$ms" -lt 10000 ] || fail "async tests: took $ms ms"

[ "$FAILED" -eq 0 ] || exit 1
echo ok
