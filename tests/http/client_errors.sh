#!/usr/bin/env bash
# The HTTP client's failure paths: a refused port, an unknown host, an expired
# certificate, a certificate for another name, a server that closes in the
# middle of the body (HTTP/1.1 and HTTP/2), a server that resets the
# connection, timeouts (a slow answer, a TLS handshake that never finishes).
# Each must be a failed handle whose error names the URL and what happened,
# counted in the client metrics; repeated hundreds of times they must not
# leak file descriptors or memory; and the same program runs clean under
# AddressSanitizer with leak detection (build-asan/valk, when it exists).
source "$(dirname "$0")/client/lib.sh"

make_pki
WWW=$TMP/www
mkdir -p "$WWW"
printf 'hello\n' >"$WWW/hello.txt"
start_nghttpd "$WWW" expired
EXPIRED_PORT=$NGHTTPD_PORT
start_nghttpd "$WWW" wrongname
WRONGNAME_PORT=$NGHTTPD_PORT
start_py h1 h1
H1_PORT=$PY_PORT
start_py h2mid h2-midbody
H2MID_PORT=$PY_PORT
start_py hang hang
HANG_PORT=$PY_PORT
start_py reset reset
RESET_PORT=$PY_PORT
TLS_CERT=$PKI/server.pem TLS_KEY=$PKI/server.key start_server echo_tls <<EOF
(load "$CLIENT_DIR/echo_server.valk")
EOF
ECHO_PORT=$SERVER_PORT
REFUSED_PORT=$(free_port)  # nothing listens there

ENVS=(-u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/ca.pem"
  "EXPIRED=https://localhost:$EXPIRED_PORT" "WRONGNAME=https://localhost:$WRONGNAME_PORT"
  "H1=http://127.0.0.1:$H1_PORT" "H2MID=http://127.0.0.1:$H2MID_PORT"
  "HANG=https://127.0.0.1:$HANG_PORT" "RESET=http://127.0.0.1:$RESET_PORT"
  "ECHO=https://localhost:$ECHO_PORT" "REFUSED=https://127.0.0.1:$REFUSED_PORT")

# The failures, each once with its message checked. (errors.valk is also run
# under ASan below.)
cat >"$TMP/errors_body.valk" <<'EOF'
(fun (url var path) (str (getenv var) path))
(fun (timed f) (let ((t0 (time-us)) (v (f))) (list v (/ (- (time-us) t0) 1000))))

(check-failed "refused port: a failed handle naming the URL and the refusal"
              (fetch (url "REFUSED" "/x")) (list (url "REFUSED" "/x") "connection refused"))
(check-failed "unknown host" (fetch "https://no-such-host.invalid/x")
              (list "https://no-such-host.invalid/x" "cannot resolve host" "no-such-host.invalid"))
(check-failed "expired certificate" (fetch (url "EXPIRED" "/hello.txt"))
              (list (url "EXPIRED" "/hello.txt") "TLS failure" "expired"))
(check-failed "certificate for another name" (fetch (url "WRONGNAME" "/hello.txt"))
              (list (url "WRONGNAME" "/hello.txt") "TLS failure" "localhost"))
(check-failed "HTTP/1.1 server closing in the middle of the body" (fetch (url "H1" "/close-early"))
              (list (url "H1" "/close-early") "transfer failed" "closed"))
(check-failed "HTTP/2 server closing in the middle of the body"
              (fetch (with-option (http-get (url "H2MID" "/x")) :http2-prior-knowledge true))
              (list (url "H2MID" "/x") "failed"))
(check-failed "server resetting the connection: the message says reset" (fetch (url "RESET" "/x"))
              (list (url "RESET" "/x") "reset"))
(def slow (timed (fn () (settle (fetch (with-timeout (http-get (url "ECHO" "/slow?tag=timeout")) 300))))))
(check-failed "with-timeout 300 on a slow answer" (head slow) (list "/slow?tag=timeout" "timed out"))
(check (str "... after about 300 ms (" (nth 2 slow) " ms)") (and (>= (nth 2 slow) 250) (< (nth 2 slow) 3000)) "")
(def hs (timed (fn () (settle (fetch (with-timeout (http-get (url "HANG" "/x")) 400))))))
(check-failed "with-timeout on a TLS handshake that never finishes" (head hs) (list (url "HANG" "/x") "timed out"))
(check (str "... after about 400 ms (" (nth 2 hs) " ms)") (and (>= (nth 2 hs) 350) (< (nth 2 hs) 3000)) "")
(check-eq "not an http(s) URL: an error at once" true
          (error? (fetch "ftp://127.0.0.1/x")))
(check-eq "a request without a URL: an error at once" true (error? (fetch (list :method "GET"))))
(def kinds (map (fn (x) (plist/get x :kind)) (metric :client-errors-total)))
(check "client errors counted by kind (dns, connect, tls, timeout, connection)"
       (all? (fn (k) (any? (fn (x) (== x k)) kinds)) (list "dns" "connect" "tls" "timeout" "connection"))
       (%short (metric :client-errors-total)))
(check-eq "no handle left pending" 0 (metric :handles-pending))
; what the messages look like, for the record
(for-each (fn (u) (print (str "note: " (error-message (aio/error (settle (fetch u)))))))
          (list (url "REFUSED" "/x") "https://no-such-host.invalid/x" (url "EXPIRED" "/hello.txt")
                (url "WRONGNAME" "/hello.txt") (url "H1" "/close-early") (url "RESET" "/x")
                (with-option (http-get (url "H2MID" "/x")) :http2-prior-knowledge true)
                (with-timeout (http-get (url "HANG" "/x")) 200)))
(done)
EOF
run_client errors "${ENVS[@]}" <"$TMP/errors_body.valk"

# Under AddressSanitizer with leak detection: the client's own allocations
# (curl handles, header lists, transfers) are freed on every failure path.
# (The collector's heap is not malloc's, so LSan sees only C/C++ memory.)
ASAN_VALK=$(dirname "$VALK")/../build-asan/valk
if [ "$IS_ASAN" -eq 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 run_client errors_lsan "${ENVS[@]}" <"$TMP/errors_body.valk"
elif [ -x "$ASAN_VALK" ]; then
  ASAN_OPTIONS=detect_leaks=1 VALK="$ASAN_VALK" run_client errors_asan "${ENVS[@]}" <"$TMP/errors_body.valk"
else
  echo "note: no build-asan/valk next to $VALK: the ASan run is skipped"
fi

# Hundreds of failures: file descriptors and memory stay flat. The program
# stops at two checkpoints (after 100 and after 400 failures of every kind)
# and waits for this script to look at it.
ROUNDS=$(scale 100)
cat >"$TMP/leak.valk" <<EOF
(load "$CLIENT_DIR/check.valk")
(fun (url var path) (str (getenv var) path))
(fun (wait-for f) (if (file-exists? f) true (do (aio/await (aio/sleep 20)) (wait-for f))))
(fun (failures n)
  (when (> n 0)
    (settle (fetch-all (list (url "REFUSED" "/x") (url "EXPIRED" "/hello.txt") (url "H1" "/close-early")
                             (url "RESET" "/x") (with-option (http-get (url "H2MID" "/x")) :http2-prior-knowledge true))))
    (settle (aio/all-settled (list (fetch (url "REFUSED" "/x")) (fetch (url "EXPIRED" "/hello.txt"))
                                   (fetch (url "WRONGNAME" "/hello.txt")) (fetch (url "H1" "/close-early"))
                                   (fetch (url "RESET" "/x")))))
    (failures (- n 1))))
(failures $ROUNDS)
(print "checkpoint 1")
(wait-for "go-1")
(failures (* 3 $ROUNDS))
(print "checkpoint 2")
(wait-for "go-2")
(check-eq "no handle left pending" 0 (metric :handles-pending))
(check "no pooled connection left open" (<= (metric :client-connections-pooled) 1) (metric :client-connections-pooled))
(done)
EOF
(cd "$TMP" && exec env "${ENVS[@]}" "$VALK" leak.valk >"$TMP/leak.out" 2>"$TMP/leak.err") &
LEAK_PID=$!
SERVER_PIDS+=("$LEAK_PID")
checkpoint() {  # checkpoint N: waits (40 s) for the line; sets FDS and RSS
  local i
  for ((i = 0; i < 800; i++)); do
    grep -q "^checkpoint $1\$" "$TMP/leak.out" 2>/dev/null && break
    alive "$LEAK_PID" || break
    sleep 0.05
  done
  FDS=$(ls "/proc/$LEAK_PID/fd" 2>/dev/null | wc -l)
  RSS=$(rss_kb "$LEAK_PID")
  touch "$TMP/go-$1"
}
checkpoint 1
FDS1=$FDS
RSS1=$RSS
checkpoint 2
FDS2=$FDS
RSS2=$RSS
if wait_exit "$LEAK_PID" 40; then
  grep '^FAIL: ' "$TMP/leak.out" | while IFS= read -r l; do echo "$l" >&2; done
  grep -q '^FAIL: ' "$TMP/leak.out" && fail "leak: the program's checks failed"
  grep -q '^done: ' "$TMP/leak.out" || { fail "leak: the program did not finish"; tail -5 "$TMP/leak.err" >&2; }
else
  fail "leak: the program did not finish in time"
fi
echo "note: $((ROUNDS * 10)) failures: $FDS1 fds, RSS $RSS1 kB; $((ROUNDS * 40)) failures: $FDS2 fds, RSS $RSS2 kB"
if [ "$FDS1" -gt 0 ] && [ "$FDS2" -le "$((FDS1 + 2))" ]; then
  pass "file descriptors flat after $((ROUNDS * 40)) failures ($FDS1 -> $FDS2)"
else
  fail "file descriptors grew with failures: $FDS1 -> $FDS2"
fi
if [ "$IS_ASAN" -eq 1 ]; then
  echo "note: RSS not checked under ASan"
elif [ "$RSS1" -gt 0 ] && [ "$((RSS2 - RSS1))" -le 10240 ]; then
  pass "memory flat after $((ROUNDS * 40)) failures (+$(((RSS2 - RSS1) / 1024)) MB)"
else
  fail "memory grew with failures: $RSS1 kB -> $RSS2 kB"
fi

finish
