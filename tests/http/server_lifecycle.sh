#!/usr/bin/env bash
# Server lifetime and the I/O boundary: http2/server-stop is idempotent (one
# handle, nothing left pending); a stopped server's TLS context and nghttp2
# state are freed (listen/stop cycles keep resident memory flat); request
# query names are never interned (new names from clients do not grow the
# heap); a failed socket write or read closes the connection, is counted in
# valk_server_io_errors_total, and the server goes on serving.
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1

# ---- stop twice, three times: the same handle ------------------------------------
cat >stop_twice.valk <<'EOF2'
(def srv (http2/server-listen 0 (lambda (req) "hi") {:host "127.0.0.1" :tls false}))
(def a (http2/server-stop srv))
(def b (http2/server-stop srv))
(print (== a b))
(aio/await a)
(def c (http2/server-stop srv))
(print (== a c) (aio/status c))
(print (aio/dump))
EOF2
out=$(timeout 10 "$VALK" stop_twice.valk 2>&1)
check_eq "server-stop is idempotent" "true
true :completed
aio/dump: 0 live handles, 0 timers
0" "$out"

# ---- listen/stop cycles with TLS: resident memory stays flat -----------------------
N=$(scale 400)
cat >cycles.valk <<EOF2
(fun (rss-kb)
  (let ((lines (str/split (read-file "/proc/self/status") "\n"))
        (l (head (filter (fn (x) (== (str/slice x 0 6) "VmRSS:")) lines))))
    (str->num (head (filter (fn (w) (> (len w) 0)) (tail (str/split l " ")))))))
(fun (cycle n)
  (if (<= n 0) nil
      (do (aio/await (http2/server-stop (http2/server-listen 0 "cert.pem" "key.pem" (lambda (req) "x") {:host "127.0.0.1"})))
          (cycle (- n 1)))))
(cycle 50)
(mem/gc/collect)
(def before (rss-kb))
(cycle $N)
(mem/gc/collect)
(print (- (rss-kb) before))
EOF2
grow=$(timeout 120 "$VALK" cycles.valk 2>&1 | tail -1)
if [[ "$grow" =~ ^-?[0-9]+$ ]]; then
  if [ "$IS_ASAN" -eq 1 ]; then echo "note: $N TLS listen/stop cycles: RSS +$grow kB (not checked under ASan)"
  elif [ "$grow" -le 4096 ]; then pass "$N TLS listen/stop cycles: RSS +$grow kB"
  else fail "$N TLS listen/stop cycles: RSS grew by $grow kB (stopped servers are not freed)"; fi
else
  fail "listen/stop cycles: no number printed: $grow"
fi

# ---- query names from clients are not interned --------------------------------------
start_server query <<'EOF2'
(fun (symbols)
  (str->num (last (str/split (head (filter (fn (l) (== (str/slice l 0 21) "valk_symbols_interned"))
                                           (str/split (aio/metrics-prometheus) "\n")))
                             " "))))
(def n 0)
(def srv (http2/server-listen 0 (lambda (req)
  (cond ((== (req/path req) "/count") (str n))
        ((== (req/path req) "/symbols") (str (symbols)))
        (true (do (def n (+ n (len (req/query req)))) "ok"))))
  {:host "127.0.0.1" :tls false}))
(print (http2/server-port srv))
EOF2
QP=$SERVER_PORT
s0=$(h2c_get "$QP" /symbols)
NQ=$(scale 500)
# (One curl per request: libcurl 7.88 cannot reuse an h2c connection.)
seq 0 $((NQ - 1)) | xargs -P 8 -I{} curl -sS --http2-prior-knowledge --max-time 20 -o /dev/null \
  "http://127.0.0.1:$QP/q?name{}=1&other{}=2"
check_eq "every query arrived" $((NQ * 4)) "$(h2c_get "$QP" /count)"
s1=$(h2c_get "$QP" /symbols)
if [[ "$s0" =~ ^[0-9]+$ && "$s1" =~ ^[0-9]+$ ]] && [ $((s1 - s0)) -lt 10 ]; then
  pass "$((NQ * 2)) new query names from clients: interned symbols $s0 -> $s1"
else
  fail "$((NQ * 2)) new query names: interned symbols went from [$s0] to [$s1]"
fi
stop_server "$SERVER_PID"

# ---- a failed write closes the connection and is counted ------------------------------
start_server drops <<'EOF2'
(def big (make-string 20000000 "x"))
(def srv (http2/server-listen 0 (lambda (req)
  (cond ((== (req/path req) "/big") big)
        ((== (req/path req) "/io-errors")
         (str (foldl + 0 (map (fn (l) (if (> (len (str/split l "valk_server_io_errors_total{")) 1)
                                         (str->num (last (str/split l " "))) 0))
                              (str/split (aio/metrics-prometheus) "\n")))))
        (true "ok")))
  {:host "127.0.0.1" :tls false}))
(print (http2/server-port srv))
EOF2
DP=$SERVER_PORT
out=$(timeout 45 python3 "$H2ATTACK" drop-download --port "$DP" --path /big --count 10 2>&1)
if alive "$SERVER_PID"; then
  errs=$(h2c_get "$DP" /io-errors)
  if [[ "$errs" =~ ^[0-9]+$ ]] && [ "$errs" -ge 1 ]; then pass "reset downloads: $errs I/O errors counted, connections closed"
  else fail "reset downloads: valk_server_io_errors_total is [$errs] ($out)"; fi
  server_answers "after the failed writes" "http://127.0.0.1:$DP"
else
  server_died "clients resetting during a 20 MB download" "$SERVER_PID" drops.err
fi
finish
