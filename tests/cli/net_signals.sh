#!/usr/bin/env bash
# Sockets and signals from the outside (docs/io.md): no fd outlives the
# connections, servers, look-ups and handshakes of many rounds (counted in
# the valk process's /proc/self/fd); os/signal and os/on-signal react to
# real signals sent with kill; a program shuts its HTTP server down
# gracefully on SIGTERM and exits 0.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fixtures="$(cd "$(dirname "$0")/../valk/fixtures" && pwd)"

# ---- fd leaks ------------------------------------------------------------------------------
cat >"$tmp/leak.valk" <<'VALK'
(= {fixtures} (head (sys/args)))
(= {cert} (str fixtures "/localhost-cert.pem"))
(= {key} (str fixtures "/localhost-key.pem"))
(fun (fd-count) (len (aio/await (fs/list "/proc/self/fd"))))
(fun (settle want n)
  (if (or (== n 0) (== (fd-count) want)) (fd-count) (do (aio/await (aio/sleep 5)) (settle want (- n 1)))))
(fun (echo conn) (stream/pipe conn conn))
(fun (outcome h) (aio/await (aio/catch h (fn (e) e))))
(fun (round i)
  (= {srv} (tcp/listen 0 echo))
  (= {port} (tcp/port srv))
  ; a full echo, closed by us
  (= {c} (aio/await (tcp/connect "127.0.0.1" port)))
  (stream/write c "ping")
  (aio/await (stream/read c))
  (aio/await (stream/close c))
  ; a connect cancelled at once, one refused, a look-up cancelled
  (aio/cancel (tcp/connect "127.0.0.1" port))
  (= {refused} (error? (outcome (tcp/connect "127.0.0.1" 1))))
  (aio/cancel (dns/resolve "localhost"))
  ; connections owned by a scope that ends
  (aio/await (aio/scope (fn () (aio/all (list (tcp/connect "127.0.0.1" port) (tcp/connect "127.0.0.1" port))))))
  ; a connection left open when the server closes
  (= {d} (aio/await (tcp/connect "127.0.0.1" port)))
  (aio/await (tcp/close srv))
  (aio/await (aio/within (stream/closed d) 2000))
  ; TLS: a failed handshake and a good one
  (= {tls} (tcp/listen 0 echo (list :cert cert :key key)))
  (= {unverified} (error? (outcome (tcp/connect "localhost" (tcp/port tls) {:tls true}))))
  (= {t} (aio/await (tcp/connect "localhost" (tcp/port tls) (list :tls true :ca-file cert))))
  (stream/write t "x")
  (aio/await (stream/read t))
  (stream/cancel t)
  (aio/await (tcp/close tls))
  ; a Unix socket
  (= {path} (str "/tmp/valk-fd-" i "-" (time-us) ".sock"))
  (= {u} (unix/listen path echo))
  (= {uc} (aio/await (unix/connect path)))
  (aio/await (stream/close uc))
  (aio/await (unix/close u))
  ; a signal watch cancelled
  (aio/cancel (os/signal :usr2))
  (aio/cancel (os/on-signal :usr2 (fn (s) s))))
; One warm-up round first: libuv's signal pipe and OpenSSL's state are made
; once per process, not per connection.
(round 0)
(= {start} (settle 0 1))
(fun (loop i) (if (< i 60) (do (round i) (loop (+ i 1))) nil))
(loop 1)
(println (str "fds " start " " (settle start 200)))
(println (str "open " (plist/get (aio/metrics) :io-open)))
VALK
out=$(timeout 120 "$VALK" "$tmp/leak.valk" "$fixtures" 2>&1) || fail "leak program: exit $? [$out]"
fds=$(echo "$out" | awk '/^fds /{print $2, $3}')
set -- $fds
if [ "${1:-x}" != "${2:-y}" ]; then fail "fds: start ${1:-?}, end ${2:-?} [$out]"; else echo "ok: fds: start $1, end $2 (60 rounds of sockets, TLS, look-ups, scopes)"; fi
echo "$out" | grep '^open ' | grep -q -v 'value [1-9]' || fail "something still counted open: $(echo "$out" | grep '^open ')"

# Signals go to valk itself, not to a `timeout` in between (which would act
# on them): a watchdog kills a run that hangs.
run_bg() {  # run_bg OUT FILE: starts valk in the background, sets $pid
  "$VALK" "$2" >"$1" 2>&1 &
  pid=$!
  ( sleep 20; kill -9 "$pid" 2>/dev/null ) &
}

# ---- signals -------------------------------------------------------------------------------
cat >"$tmp/sig.valk" <<'VALK'
(def %hups 0)
(def watch (os/on-signal :hup (fn (s) (def %hups (+ %hups 1)) (println (str "hup " %hups)))))
(println "ready")
(println (str "got " (aio/await (os/signal :usr1))))
(aio/cancel watch)
(println (str "hups " %hups))
VALK
run_bg "$tmp/sig.out" "$tmp/sig.valk"
for _ in $(seq 100); do grep -q ready "$tmp/sig.out" && break; sleep 0.05; done
for n in 1 2 3; do
  kill -HUP "$pid"
  for _ in $(seq 100); do grep -q "hup $n" "$tmp/sig.out" && break; sleep 0.02; done
done
kill -USR1 "$pid"
st=0; wait "$pid" || st=$?
[ "$st" -eq 0 ] || fail "signals: exit status $st [$(cat "$tmp/sig.out")]"
grep -q '^got :usr1$' "$tmp/sig.out" || fail "os/signal :usr1 [$(cat "$tmp/sig.out")]"
grep -q '^hups 3$' "$tmp/sig.out" || fail "os/on-signal ran once per SIGHUP [$(cat "$tmp/sig.out")]"
[ "$FAILED" -eq 0 ] && echo "ok: os/signal and os/on-signal (3 SIGHUP, 1 SIGUSR1)"

# A watcher that is cancelled gives the signal back: SIGUSR2's default kills.
cat >"$tmp/restore.valk" <<'VALK'
(aio/cancel (os/signal :usr2))
(println "ready")
(aio/await (aio/sleep 5000))
VALK
run_bg "$tmp/restore.out" "$tmp/restore.valk"
for _ in $(seq 100); do grep -q ready "$tmp/restore.out" && break; sleep 0.05; done
kill -USR2 "$pid"
st=0; wait "$pid" || st=$?
[ "$st" -eq $((128 + 12)) ] || fail "SIGUSR2 after the watcher was cancelled: exit $st, expected 140"

# ---- graceful shutdown of an HTTP server on SIGTERM -------------------------------------------
cat >"$tmp/graceful.valk" <<'VALK'
(def srv (http2/server-listen 0 (fn (req) (aio/delay 300 "slow reply")) {:host "127.0.0.1"}))
(println (str "port " (http2/server-port srv)))
(aio/await (os/signal :term))
(println "stopping")
(aio/await (http2/server-stop srv))
(println "stopped")
VALK
run_bg "$tmp/g.out" "$tmp/graceful.valk"
for _ in $(seq 100); do grep -q '^port ' "$tmp/g.out" && break; sleep 0.05; done
port=$(awk '/^port /{print $2}' "$tmp/g.out")
curl -s --http2-prior-knowledge "http://127.0.0.1:$port/" >"$tmp/reply" &
cpid=$!
sleep 0.1
kill -TERM "$pid"
st=0; wait "$pid" || st=$?
wait "$cpid" || true
[ "$st" -eq 0 ] || fail "graceful: exit $st [$(cat "$tmp/g.out")]"
grep -q '^stopped$' "$tmp/g.out" || fail "graceful: not stopped [$(cat "$tmp/g.out")]"
[ "$(cat "$tmp/reply")" == "slow reply" ] || fail "graceful: the request in flight got [$(cat "$tmp/reply")]"
[ "$FAILED" -eq 0 ] && echo "ok: SIGTERM stops the server after the request in flight"

exit "$FAILED"
