#!/usr/bin/env bash
# The HTTP/2 server against hostile clients (docs/http-server.md#hardening), with the frame-level
# client h2attack.py, on the h2c and the TLS port: rapid reset, CONTINUATION
# floods, oversized header lists and fields, slow handshakes (silent, one byte
# at a time, many at once), half-sent requests, clients vanishing mid-request,
# random bytes. Each attack must end in a clean refusal or close within its
# bound; afterwards the server must answer a normal request on both ports and
# its resident memory must be back near the baseline (30 MB).
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1

HEADER_TIMEOUT_MS=500
IDLE_TIMEOUT_MS=2000
start_server attacks <<EOF
(aio/start)
(def big (make-string 655360 "0123456789abcdef"))   ; 10 MB, shared by every response
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/slow") (aio/then (aio/sleep 200) (fn (_) "slow")))
      ((== p "/big") big)
      (true "ok")))))
(def opts {:host "127.0.0.1" :header-timeout-ms $HEADER_TIMEOUT_MS :idle-timeout-ms $IDLE_TIMEOUT_MS
           :max-header-bytes 16384 :max-body-bytes 1048576})
(def h2c (http2/server-listen 0 handler opts))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler opts))
(print (http2/server-port h2c))
(print (http2/server-port tls))
(aio/run)
EOF
PID=$SERVER_PID
two_ports attacks

# Warm up with the normal load used below (TLS contexts, GC heap, nghttp2
# pools), then take the baseline.
timeout 30 h2load -n 20000 -c 16 -m 50 "http://127.0.0.1:$P_H2C/" >/dev/null 2>&1
timeout 30 h2load -n 20000 -c 16 -m 50 "https://127.0.0.1:$P_TLS/" >/dev/null 2>&1
sleep 0.3
BASE_RSS=$(rss_kb "$PID")
echo "baseline RSS: $BASE_RSS kB"

# attack KIND REPEAT MODE [ARGS...]: runs h2attack.py MODE REPEAT times on the
# h2c or tls port; each run must exit 0. Then the server must still be alive,
# answer on both ports, and be back near the baseline memory.
attack() {
  local kind=$1 repeat=$2 mode=$3; shift 3
  local port=$P_H2C flag=()
  [ "$kind" = tls ] && { port=$P_TLS; flag=(--tls); }
  local i out st ok=1 last=
  for ((i = 0; i < repeat; i++)); do
    out=$(timeout 45 python3 "$H2ATTACK" "$mode" --port "$port" "${flag[@]}" "$@" 2>&1); st=$?
    last=$(tail -1 <<<"$out")
    if [ $st -ne 0 ]; then ok=0; break; fi
  done
  if [ $ok -eq 1 ]; then pass "$kind $mode x$repeat: $last"
  else fail "$kind $mode $* (run $((i + 1)) of $repeat): $(tail -5 <<<"$out" | tr '\n' ' ') [exit $st]"; fi
  if ! alive "$PID"; then
    server_died "during $kind $mode" "$PID" attacks.err
    finish
  fi
  server_answers "after $kind $mode: h2c" "http://127.0.0.1:$P_H2C"
  server_answers "after $kind $mode: tls" "https://127.0.0.1:$P_TLS"
  check_rss "after $kind $mode" "$PID" "$BASE_RSS" 30
}

H=$(((HEADER_TIMEOUT_MS + 999) / 1000 + 2))   # seconds allowed for a header-timeout close
I=$(((IDLE_TIMEOUT_MS + 999) / 1000 + 3))     # ... for an idle-timeout close
for kind in h2c tls; do
  echo "== $kind"
  attack "$kind" 5 rapid-reset --count 5000
  attack "$kind" 3 rapid-reset --count 5000 --stagger --path /slow
  attack "$kind" 3 continuation-flood --count 100000 --within 15
  attack "$kind" 3 continuation-flood --empty --count 100000 --within 15
  attack "$kind" 5 oversized-headers --size 100000
  attack "$kind" 3 huge-header --size 70000
  attack "$kind" 1 silent --within "$H"
  attack "$kind" 1 dribble --interval 0.1 --within "$H"
  attack "$kind" 1 silent-many --count 200 --within "$H"
  [ "$kind" = tls ] && attack tls 1 silent-after-tls --within "$H"
  attack "$kind" 1 half-headers --within "$H"
  attack "$kind" 1 half-body --path /slow --within "$I"
  attack "$kind" 1 vanish --path /slow --count 50
  attack "$kind" 3 random --bytes 65536 --within "$H"
  attack "$kind" 3 random --after-preface --bytes 65536 --within "$H"
  attack "$kind" 1 idle --within "$I"
done

# Slow readers (docs/http-server.md#hardening backpressure): 4 connections x 20 streams of a 10 MB
# body that the clients do not read. Unsent output must stay bounded per
# connection (high watermark), not grow to 800 MB; others are served meanwhile.
for kind in h2c tls; do
  port=$P_H2C; flag=(); [ "$kind" = tls ] && { port=$P_TLS; flag=(--tls); }
  pids=()
  for i in 1 2 3 4; do
    timeout 45 python3 "$H2ATTACK" slow-reader --port "$port" "${flag[@]}" --path /big --count 20 --within 3 \
      >"$TMP/slow-reader-$i.txt" 2>&1 &
    pids+=($!)
  done
  sleep 2
  server_answers "$kind while slow readers hold 80 x 10 MB responses: h2c" "http://127.0.0.1:$P_H2C"
  server_answers "$kind while slow readers hold 80 x 10 MB responses: tls" "https://127.0.0.1:$P_TLS"
  check_rss "$kind while slow readers hold 80 x 10 MB responses" "$PID" "$BASE_RSS" 60
  st=0; for p in "${pids[@]}"; do wait "$p" || st=1; done
  [ $st -eq 0 ] && pass "$kind slow readers: $(tail -1 "$TMP/slow-reader-1.txt")" ||
    fail "$kind slow readers: $(cat "$TMP"/slow-reader-*.txt | tr '\n' ' ')"
  alive "$PID" || { server_died "slow readers" "$PID" attacks.err; finish; }
  check_rss "after $kind slow readers" "$PID" "$BASE_RSS" 30
done

# Everything at once: the floods in parallel with normal load.
pids=()
for kind in h2c tls; do
  port=$P_H2C; flag=(); [ "$kind" = tls ] && { port=$P_TLS; flag=(--tls); }
  for mode in rapid-reset continuation-flood oversized-headers random; do
    timeout 45 python3 "$H2ATTACK" "$mode" --port "$port" "${flag[@]}" >/dev/null 2>&1 &
    pids+=($!)
  done
done
out=$(timeout 45 h2load -n 20000 -c 16 -m 50 "http://127.0.0.1:$P_H2C/" 2>&1)
grep -q "status codes: 20000 2xx" <<<"$out" && pass "normal load alongside the attacks: all 2xx" ||
  fail "normal load alongside the attacks: $(grep -E '^(requests|status codes)' <<<"$out" | tr '\n' ' ')"
wait "${pids[@]}"
alive "$PID" && pass "server alive after the combined attacks" || server_died "combined attacks" "$PID" attacks.err
server_answers "after the combined attacks: h2c" "http://127.0.0.1:$P_H2C"
server_answers "after the combined attacks: tls" "https://127.0.0.1:$P_TLS"
check_rss "after the combined attacks" "$PID" "$BASE_RSS" 30
if grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error' attacks.err; then
  fail "sanitizer report in the server's stderr: $(grep -m3 -E 'Sanitizer|runtime error' attacks.err)"
fi
stop_server "$PID"

# Clients that disconnect in the middle of a large response (docs/http-server.md#hardening:
# "clients that vanish"): the server's next writes hit a closed or reset
# socket; that must fail the one connection (EPIPE), not the process (SIGPIPE).
start_server drops <<'EOF'
(aio/start)
(def big (make-string 655360 "0123456789abcdef"))   ; 10 MB
(def handler (fn (req) (if (== (req/path req) "/big") big "ok")))
(def h2c (http2/server-listen 0 handler {:host "127.0.0.1"}))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler {:host "127.0.0.1"}))
(print (http2/server-port h2c))
(print (http2/server-port tls))
(aio/run)
EOF
PID=$SERVER_PID
two_ports drops
for kind in h2c tls; do
  alive "$PID" || break
  port=$P_H2C; flag=(); [ "$kind" = tls ] && { port=$P_TLS; flag=(--tls); }
  out=$(timeout 45 python3 "$H2ATTACK" drop-download --port "$port" "${flag[@]}" --path /big --count 20 2>&1)
  sleep 0.3
  if alive "$PID"; then
    pass "$kind: $(tail -1 <<<"$out")"
    server_answers "$kind: after clients dropped large downloads" "http://127.0.0.1:$P_H2C"
  else
    server_died "$kind: clients resetting the connection during a 10 MB download" "$PID" drops.err
  fi
done
if alive "$PID"; then
  for i in 1 2 3 4 5; do
    "${CURL[@]}" --http2-prior-knowledge "http://127.0.0.1:$P_H2C/big" 2>/dev/null | head -c 10 >/dev/null
  done
  sleep 0.3
  if alive "$PID"; then pass "curl ... | head -c 10 on a 10 MB response (x5): server alive"
  else server_died "curl ... | head -c 10 on a 10 MB response" "$PID" drops.err; fi
fi
alive "$PID" && server_answers "after the dropped downloads" "http://127.0.0.1:$P_H2C"
stop_server "$PID"
finish
