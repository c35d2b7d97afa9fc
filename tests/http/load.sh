#!/usr/bin/env bash
# The HTTP/2 server under load (docs/http-server.md, #hardening), with h2load:
#  - 100,000 requests over 64 connections x 100 streams, all 2xx (h2c and TLS),
#    and async handlers under the same load;
#  - :max-inflight: past it, requests get 503 with retry-after while the
#    admitted ones finish with 2xx, and the server serves normally afterwards;
#  - :max-connections: connections past it are refused at once (and counted),
#    the held ones keep working, and a new client is served once they close.
# Under an ASan build the request counts are divided by 5.
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1

metric() {  # metric BASE NAME: a number from /metrics (aio/metrics-json)
  local base=$1 name=$2 proto=(--http2-prior-knowledge)
  [[ "$base" == https:* ]] && proto=(--http2 --cacert "$TMP/cert.pem")
  "${CURL[@]}" "${proto[@]}" "$base/metrics" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "missing"))' "$name"
}

# h2load_check WHAT OUTPUT TOTAL: every request done and 2xx.
h2load_all_2xx() {
  local what=$1 out=$2 total=$3
  if grep -q "status codes: $total 2xx, 0 3xx, 0 4xx, 0 5xx" <<<"$out" &&
     grep -q "requests: $total total, $total started, $total done, $total succeeded, 0 failed, 0 errored, 0 timeout" <<<"$out"; then
    pass "$what: $(grep -E '^finished in' <<<"$out")"
  else
    fail "$what: not all $total requests 2xx: $(grep -E '^(finished|requests|status codes)' <<<"$out" | tr '\n' ';')"
  fi
}

# h2load_field OUTPUT N: the Nth number of the "status codes:" line (1 = 2xx, 4 = 5xx).
status_count() { sed -nE 's/^status codes: ([0-9]+) 2xx, ([0-9]+) 3xx, ([0-9]+) 4xx, ([0-9]+) 5xx.*/\'"$2"'/p' <<<"$1"; }
req_count() {  # req_count OUTPUT FIELD (total|started|done|succeeded|failed|errored|timeout)
  sed -nE 's/^requests: .*[^0-9]([0-9]+) '"$2"'.*/\1/p' <<<"$1" | head -1
}

# ---- throughput: 100,000 requests, 64 connections x 100 streams ----
start_server fast <<'EOF'
(aio/start)
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/") "ok")
      ((== p "/async") (aio/then (aio/sleep 1) (fn (_) "async ok")))
      ((== p "/metrics") (aio/metrics-json))
      (true (http2/response 404 '() "not found"))))))
(def opts {:host "127.0.0.1" :max-concurrent-streams 100})
(def h2c (http2/server-listen 0 handler opts))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler opts))
(print (http2/server-port h2c))
(print (http2/server-port tls))
(aio/run)
EOF
FAST=$SERVER_PID
two_ports fast
H2C=http://127.0.0.1:$P_H2C
TLS=https://127.0.0.1:$P_TLS

N=$(scale 100000)
out=$(timeout 60 h2load -n "$N" -c 64 -m 100 "$H2C/" 2>&1)
h2load_all_2xx "h2c: $N requests over 64 connections x 100 streams" "$out" "$N"
out=$(timeout 60 h2load -n "$N" -c 64 -m 100 "$TLS/" 2>&1)
h2load_all_2xx "tls: $N requests over 64 connections x 100 streams" "$out" "$N"
NA=$(scale 20000)
out=$(timeout 60 h2load -n "$NA" -c 64 -m 100 "$H2C/async" 2>&1)
h2load_all_2xx "h2c: $NA async (1 ms sleep) requests, 64 x 100" "$out" "$NA"
alive "$FAST" && pass "server alive after the load" || server_died "under load" "$FAST" fast.err
server_answers "after the load (h2c)" "$H2C"
server_answers "after the load (tls)" "$TLS"
stop_server "$FAST"

# ---- :max-inflight: 503 with retry-after past it; admitted requests finish ----
start_server inflight <<'EOF'
(aio/start)
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/slow") (do (print "admitted") (aio/then (aio/sleep 400) (fn (_) "slow done"))))
      ((== p "/metrics") (aio/metrics-json))
      (true "ok")))))
(def srv (http2/server-listen 0 handler {:host "127.0.0.1" :max-inflight 20}))
(print (http2/server-port srv))
(aio/run)
EOF
INF=$SERVER_PID
BASE=http://127.0.0.1:$SERVER_PORT
# Fill the 20 slots, wait until the handlers run, then one more request is shed.
timeout 30 h2load -n 20 -c 1 -m 20 "$BASE/slow" >"$TMP/fill.txt" 2>&1 &
FILL=$!
for ((i = 0; i < 200; i++)); do [ "$(grep -c admitted inflight.out)" -ge 20 ] && break; sleep 0.02; done
check_eq "20 slow requests admitted" 20 "$(grep -c admitted inflight.out)"
code=$("${CURL[@]}" --http2-prior-knowledge -D "$TMP/shed.hdrs" -o "$TMP/shed.body" -w '%{http_code}' "$BASE/slow")
check_eq "request 21 while 20 are in flight is shed" 503 "$code"
grep -qi '^retry-after:' "$TMP/shed.hdrs" && pass "503 carries retry-after" ||
  fail "503 without retry-after: $(tr -d '\r' <"$TMP/shed.hdrs" | tr '\n' ' ')"
wait "$FILL"
out=$(cat "$TMP/fill.txt")
h2load_all_2xx "the 20 admitted requests finish" "$out" 20
# Bulk overload: 2000 slow requests at 500 at a time. Some are shed, the
# admitted finish 2xx, nothing else (no resets, no other errors).
NO=$(scale 2000)
out=$(timeout 60 h2load -n "$NO" -c 10 -m 50 "$BASE/slow" 2>&1)
ok2=$(status_count "$out" 1); s5=$(status_count "$out" 4); s3=$(status_count "$out" 2); s4=$(status_count "$out" 3)
done_n=$(req_count "$out" "done")
echo "overload: 2xx=$ok2 5xx=$s5 done=$done_n of $NO"
[ "${ok2:-0}" -gt 0 ] && pass "overload: admitted requests are 2xx ($ok2)" || fail "overload: no 2xx at all: $out"
[ "${s5:-0}" -gt 0 ] && pass "overload: requests shed with 5xx ($s5)" || fail "overload: nothing shed with :max-inflight 20: $out"
check_eq "overload: every request answered 2xx or 503" "$NO" "$((${ok2:-0} + ${s5:-0}))"
check_eq "overload: no 3xx/4xx" "0 0" "${s3:-?} ${s4:-?}"
shed=$(metric "$BASE" valk_server_requests_shed_total)
[[ "$shed" =~ ^[0-9]+$ ]] && [ "$shed" -ge "$((${s5:-0} + 1))" ] && pass "shed requests counted ($shed)" ||
  fail "valk_server_requests_shed_total is [$shed], expected at least $((${s5:-0} + 1))"
alive "$INF" && pass "server alive after overload" || server_died "under overload" "$INF" inflight.err
out=$(timeout 30 h2load -n 20 -c 1 -m 20 "$BASE/slow" 2>&1)
h2load_all_2xx "after the overload, 20 slow requests are admitted again" "$out" 20
stop_server "$INF"

# ---- :max-connections: extra connections refused; new client served afterwards ----
start_server maxconn <<'EOF'
(aio/start)
(def handler (fn (req) (if (== (req/path req) "/metrics") (aio/metrics-json) "ok")))
(def opts {:host "127.0.0.1" :max-connections 8 :idle-timeout-ms 60000})
(def h2c (http2/server-listen 0 handler opts))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler opts))
(print (http2/server-port h2c))
(print (http2/server-port tls))
(aio/run)
EOF
MC=$SERVER_PID
two_ports maxconn
P1=$P_H2C; P2=$P_TLS
out=$(timeout 60 python3 "$H2ATTACK" maxconn --port "$P1" --hold 8 --extra 4 2>&1); st=$?
[ $st -eq 0 ] && pass "h2c max-connections: $(tail -1 <<<"$out")" || fail "h2c max-connections: $out"
out=$(timeout 60 python3 "$H2ATTACK" maxconn --port "$P2" --tls --hold 8 --extra 4 2>&1); st=$?
[ $st -eq 0 ] && pass "tls max-connections: $(tail -1 <<<"$out")" || fail "tls max-connections: $out"
# The limit is per server: 8 curl clients in parallel on each port are all served.
pids=()
for ((i = 0; i < 8; i++)); do
  "${CURL[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$P1/" >>"$TMP/par.txt" &
  pids+=($!)
done
wait "${pids[@]}"
check_eq "8 parallel clients at :max-connections 8" 8 "$(grep -c '^200$' "$TMP/par.txt")"
rej=$(metric "http://127.0.0.1:$P1" valk_server_connections_rejected_total)
[[ "$rej" =~ ^[0-9]+$ ]] && [ "$rej" -ge 8 ] && pass "refused connections counted ($rej)" ||
  fail "valk_server_connections_rejected_total is [$rej], expected at least 8"
alive "$MC" && pass "server alive" || server_died "max-connections" "$MC" maxconn.err
server_answers "max-connections h2c afterwards" "http://127.0.0.1:$P1"
server_answers "max-connections tls afterwards" "https://127.0.0.1:$P2"
stop_server "$MC"
finish
