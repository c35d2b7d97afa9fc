#!/usr/bin/env bash
# http2/server-stop (docs/http-server.md) with requests in flight, over h2c and TLS:
# the requests in flight complete with 200, new connections are refused, an
# idle open connection is closed (GOAWAY), the stop handle completes after
# the last response, and aio/run returns so the process exits with status 0.
# Also: stop with nothing in flight, called twice, completes at once.
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1

SLOW_MS=1500
stop_case() {  # stop_case h2c|tls
  local kind=$1 listen="(http2/server-listen 0 handler opts)" base proto
  [ "$kind" = tls ] && listen='(http2/server-listen 0 "cert.pem" "key.pem" handler opts)'
  start_server "stop-$kind" <<EOF
(aio/start)
(def srv nil)
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/slow")
       (do (print "slow-start")
           (aio/then (aio/sleep $SLOW_MS) (fn (_) (do (print "slow-end") "slow done")))))
      ((== p "/stop")
       (do (aio/then (http2/server-stop srv) (fn (_) (print "stopped")))
           "stopping"))
      (true "ok")))))
(def opts {:host "127.0.0.1"})
(def srv $listen)
(print (http2/server-port srv))
(aio/run)
(print "loop-exited")
EOF
  local pid=$SERVER_PID port=$SERVER_PORT out="$TMP/stop-$kind.out"
  if [ "$kind" = tls ]; then base=https://127.0.0.1:$port; proto=(--http2 --cacert "$TMP/cert.pem")
  else base=http://127.0.0.1:$port; proto=(--http2-prior-knowledge); fi
  local tlsflag=(); [ "$kind" = tls ] && tlsflag=(--tls)

  # An idle connection (one request done), 3 curl clients and one nghttp
  # connection with 5 streams, all in flight.
  python3 "$H2ATTACK" idle --port "$port" "${tlsflag[@]}" --within 30 >"$TMP/idle-$kind.txt" 2>&1 &
  local idle=$!
  local pids=() i
  for ((i = 0; i < 3; i++)); do
    "${CURL[@]}" "${proto[@]}" -o "$TMP/slow-$kind-$i.body" -w '%{http_code}' "$base/slow" >"$TMP/slow-$kind-$i.code" 2>&1 &
    pids+=($!)
  done
  timeout 30 nghttp -m 5 -s "$base/slow" >"$TMP/nghttp-$kind.txt" 2>&1 &
  local ngh=$!
  for ((i = 0; i < 200; i++)); do [ "$(grep -c slow-start "$out")" -ge 8 ] && break; sleep 0.025; done
  check_eq "$kind: 8 slow requests in flight" 8 "$(grep -c slow-start "$out")"
  for ((i = 0; i < 100; i++)); do grep -q 'now idle' "$TMP/idle-$kind.txt" && break; sleep 0.05; done
  local t0; t0=$(date +%s%N)

  local code
  code=$("${CURL[@]}" "${proto[@]}" -o "$TMP/stop.body" -w '%{http_code}' "$base/stop")
  check_eq "$kind: the /stop request is answered" "200 stopping" "$code $(cat "$TMP/stop.body")"

  # New connections are refused once stop has been called.
  "${CURL[@]}" "${proto[@]}" -o /dev/null "$base/" 2>"$TMP/refused.txt"; local st=$?
  [ $st -ne 0 ] && pass "$kind: a new connection after stop is refused (curl exit $st)" ||
    fail "$kind: a new connection after server-stop was served"

  # The requests in flight complete.
  wait "${pids[@]}"
  for ((i = 0; i < 3; i++)); do
    check_eq "$kind: in-flight curl request $i completes" "200 slow done" \
      "$(cat "$TMP/slow-$kind-$i.code") $(cat "$TMP/slow-$kind-$i.body")"
  done
  wait "$ngh"
  # nghttp -s prints one statistics line per stream: id responseEnd requestStart process code ...
  local n200; n200=$(awk '$1 ~ /^[0-9]+$/ && $5 == 200' "$TMP/nghttp-$kind.txt" | wc -l)
  check_eq "$kind: the 5 in-flight streams of one nghttp connection complete with 200" 5 "$n200" ||
    cat "$TMP/nghttp-$kind.txt" >&2
  local elapsed=$((($(date +%s%N) - t0) / 1000000))

  # The idle connection was told to go away and closed.
  wait "$idle"; st=$?
  [ $st -eq 0 ] && pass "$kind: idle connection closed by stop: $(tail -1 "$TMP/idle-$kind.txt")" ||
    fail "$kind: idle connection: $(tr '\n' ' ' <"$TMP/idle-$kind.txt")"

  # The stop handle completes after the last response; aio/run returns.
  if wait_exit "$pid" 10; then
    check_eq "$kind: the process exits with status 0 after stop" 0 "$EXIT_STATUS"
  else
    fail "$kind: the server process is still running 10 s after stop (requests done after ${elapsed} ms)"
    echo "stdout:" >&2; cat "$out" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  grep -q '^stopped$' "$out" && pass "$kind: the stop handle completed" ||
    fail "$kind: the stop handle never completed"
  grep -q '^loop-exited$' "$out" && pass "$kind: aio/run returned" || fail "$kind: aio/run did not return"
  local last_end stopped
  last_end=$(grep -n '^slow-end$' "$out" | tail -1 | cut -d: -f1)
  stopped=$(grep -n '^stopped$' "$out" | head -1 | cut -d: -f1)
  [ -n "$last_end" ] && [ -n "$stopped" ] && [ "$stopped" -gt "$last_end" ] &&
    pass "$kind: the stop handle completed after the in-flight requests" ||
    fail "$kind: stop handle completed at line ${stopped:-never} of stdout, last request ended at line ${last_end:-never}"
  if grep -qiE 'error|sanitizer' "$TMP/stop-$kind.err"; then fail "$kind: stderr: $(head -20 "$TMP/stop-$kind.err")"; fi
}

stop_case h2c
stop_case tls

# Nothing in flight: stop (twice) completes at once, both handles complete, the process exits.
start_server stop-idle <<'EOF'
(aio/start)
(def srv (http2/server-listen 0 (fn (req) "ok") {:host "127.0.0.1"}))
(print (http2/server-port srv))
(aio/then (aio/sleep 300)
  (fn (_) (aio/then (aio/all (list (http2/server-stop srv) (http2/server-stop srv)))
                    (fn (_) (print "both stopped")))))
(aio/run)
(print "loop-exited")
EOF
pid=$SERVER_PID
check_eq "a request before the stop" "ok" "$(h2c_get "$SERVER_PORT" /)"
if wait_exit "$pid" 10; then
  check_eq "stop with nothing in flight: exit status" 0 "$EXIT_STATUS"
  check_eq "stop with nothing in flight: output" "$SERVER_PORT
both stopped
loop-exited" "$(cat "$TMP/stop-idle.out")"
else
  fail "stop with nothing in flight: the process did not exit within 10 s; stdout: $(cat "$TMP/stop-idle.out")"
fi
finish
