#!/usr/bin/env bash
# Soak test of the HTTP/2 server (docs/http-server.md#hardening), on demand only:
#   VALK_SOAK=1 VALK=build/valk bash tests/http/soak.sh
# Runs VALK_SOAK_SECONDS (default 300) of mixed load with connection churn
# on h2c and TLS: short h2load runs with fresh connections (plain, async,
# uploads, large downloads, overload with 503s), single curl requests that
# hit 200/404/500, and attack clients (rapid reset, CONTINUATION flood,
# random bytes, vanishing clients). Resident memory is sampled each round;
# it must not grow: the average of the last quarter of the samples may
# exceed the average of the second quarter (after warm-up) by at most
# VALK_SOAK_GROWTH_MB (default 20).
if [ "${VALK_SOAK:-}" != 1 ]; then
  # Skipped: exit 77 with a SKIP line (scripts/run-tests.sh reports it as skipped).
  echo "SKIP: on demand only; VALK_SOAK=1 runs ${VALK_SOAK_SECONDS:-300} s of mixed load"
  exit 77
fi
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1
DURATION=${VALK_SOAK_SECONDS:-300}
GROWTH_MB=${VALK_SOAK_GROWTH_MB:-20}

start_server soak <<'EOF'
(aio/start)
(def big (make-string 16384 "0123456789abcdef"))   ; 256 KB
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/") "ok")
      ((== p "/async") (aio/then (aio/sleep 5) (fn (_) "async")))
      ((== p "/await") (str "awaited " (aio/await (aio/delay 2 "v"))))
      ((== p "/echo") (str (len (req/body req))))
      ((== p "/big") big)
      ((== p "/slow") (aio/then (aio/sleep 100) (fn (_) "slow")))
      ((== p "/error") (error "soak error"))
      (true (http2/response 404 '() "not found"))))))
(def opts {:host "127.0.0.1" :max-inflight 300 :header-timeout-ms 1000 :idle-timeout-ms 3000})
(def h2c (http2/server-listen 0 handler opts))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler opts))
(print (http2/server-port h2c))
(print (http2/server-port tls))
(aio/run)
EOF
PID=$SERVER_PID
two_ports soak
H2C=http://127.0.0.1:$P_H2C
TLS=https://127.0.0.1:$P_TLS
head -c 65536 /dev/urandom >"$TMP/up.bin"

# load WHAT EXPECT ARGS...: one h2load run; EXPECT is "2xx" (all 2xx) or
# "answered" (every request answered, 2xx or 5xx, no stream errors).
ROUND_FAILS=0
load() {
  local what=$1 expect=$2; shift 2
  local out n
  out=$(timeout 60 h2load "$@" 2>&1)
  n=$(sed -nE 's/^requests: ([0-9]+) total.*/\1/p' <<<"$out")
  if [ "$expect" = 2xx ]; then
    grep -q "status codes: $n 2xx, 0 3xx, 0 4xx, 0 5xx" <<<"$out" && [ -n "$n" ] && return 0
  else
    grep -qE "requests: $n total, $n started, $n done, [0-9]+ succeeded, [0-9]+ failed, 0 errored, 0 timeout" <<<"$out" &&
      [ -n "$n" ] && return 0
  fi
  ROUND_FAILS=$((ROUND_FAILS + 1))
  fail "round $ROUND $what: $(grep -E '^(requests|status codes)' <<<"$out" | tr '\n' ' ')"
}

SAMPLES=()
ROUND=0
T_END=$(($(date +%s) + DURATION))
while [ "$(date +%s)" -lt "$T_END" ] && [ "$ROUND_FAILS" -lt 10 ]; do
  ROUND=$((ROUND + 1))
  load "h2c plain" 2xx -n 5000 -c 16 -m 20 "$H2C/"
  load "tls async" 2xx -n 2000 -c 16 -m 10 "$TLS/async"
  load "h2c await" 2xx -n 1000 -c 4 -m 10 "$H2C/await"
  load "h2c uploads" 2xx -n 200 -c 4 -m 4 -d "$TMP/up.bin" "$H2C/echo"
  load "tls downloads" 2xx -n 100 -c 2 -m 4 "$TLS/big"
  load "h2c overload" answered -n 2000 -c 10 -m 50 "$H2C/slow"
  # Connection churn with single requests: 200, 404, 500.
  for i in 1 2 3 4 5; do
    for p in / /nope /error; do
      h2c_get "$P_H2C" "$p" >/dev/null 2>&1 || fail "round $ROUND: curl h2c $p failed"
      tls_get "$P_TLS" "$p" >/dev/null 2>&1 || fail "round $ROUND: curl tls $p failed"
    done
  done
  # Hostile clients, in the background while the next round starts.
  for m in "rapid-reset --count 2000" "continuation-flood" "random --after-preface" "vanish --count 10 --path /slow"; do
    timeout 30 python3 "$H2ATTACK" $m --port "$P_H2C" >/dev/null 2>&1 &
    timeout 30 python3 "$H2ATTACK" $m --port "$P_TLS" --tls >/dev/null 2>&1 &
  done
  if ! alive "$PID"; then server_died "round $ROUND" "$PID" soak.err; break; fi
  SAMPLES+=("$(rss_kb "$PID")")
  echo "round $ROUND: RSS ${SAMPLES[-1]} kB"
done
for j in $(jobs -p); do [ "$j" = "$PID" ] || wait "$j" 2>/dev/null; done

alive "$PID" && pass "server alive after $ROUND rounds ($DURATION s)" || fail "the server did not survive the soak"
server_answers "after the soak: h2c" "$H2C"
server_answers "after the soak: tls" "$TLS"
n=${#SAMPLES[@]}
if [ "$n" -ge 8 ]; then
  q=$((n / 4))
  early=$(printf '%s\n' "${SAMPLES[@]:q:q}" | awk '{s += $1} END {printf "%d", s / NR}')
  late=$(printf '%s\n' "${SAMPLES[@]:n-q:q}" | awk '{s += $1} END {printf "%d", s / NR}')
  growth=$(((late - early) / 1024))
  echo "RSS after warm-up ${early} kB, at the end ${late} kB (+${growth} MB); max $(printf '%s\n' "${SAMPLES[@]}" | sort -n | tail -1) kB"
  if [ "$IS_ASAN" -eq 1 ]; then echo "note: RSS growth not checked under ASan"
  elif [ $((late - early)) -le $((GROWTH_MB * 1024)) ]; then pass "resident memory does not grow (+${growth} MB)"
  else fail "resident memory grew by ${growth} MB over the soak (limit ${GROWTH_MB} MB): ${SAMPLES[*]}"; fi
else
  fail "only $n rounds ran: too few samples to judge memory growth"
fi
if grep -qE 'AddressSanitizer|runtime error' soak.err; then fail "sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error' soak.err)"; fi
stop_server "$PID"
finish
