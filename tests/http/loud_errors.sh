#!/usr/bin/env bash
# Errors are loud (docs/language.md#errors-are-values): text built from an
# error is that error. A handler whose body or response :body is made from a
# failed computation answers 500 (never a 200/404 carrying "Error: ..."), and
# the log names where the error was made; a script whose top-level print is
# handed an error exits 1 with that location.
source "$(dirname "$0")/lib/common.sh"
cd "$TMP" || exit 1

start_server loud <<'EOF2'
(fun (lookup id) (if (== id "1") "alice" (error "no such user")))
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/str") (str "hello " (lookup "2")))
      ((== p "/plist") (list :status 404 :body (str "{\"error\":\"" (lookup "2") "\"}")))
      ((== p "/ok") (str "hello " (lookup "1")))
      (else (list :status 404 :body "none"))))))
(def srv (http2/server-listen 0 handler {:host "127.0.0.1" :tls false}))
(print (http2/server-port srv))
(aio/run)
EOF2
PORT=$SERVER_PORT

check_eq "a handler returning str of an error answers 500" "500" \
  "$("${CURL[@]}" --http2-prior-knowledge "http://127.0.0.1:$PORT/str" -o /dev/null -w '%{http_code}')"
BODY=$("${CURL[@]}" --http2-prior-knowledge "http://127.0.0.1:$PORT/plist" -w ' %{http_code}')
check_eq "a :body built from an error answers 500, not the 404 with the error inside" \
  "Internal Server Error
 500" "$BODY"
check_eq "the good path still answers" "hello alice" "$(h2c_get "$PORT" /ok)"
sleep 0.2
LOG=$(cat "$TMP/loud.err")
has "the log names the error's location" "$LOG" "loud.valk:1:"
has "the log has the message" "$LOG" "no such user"
stop_server "$SERVER_PID"

# A script: (print (f 2)) where f fails stops with f's location and status 1.
printf '(fun (f x) (if (> x 1) (error "too big") x))\n(print (f 1))\n(print (f 2))\n(print "not reached")\n' >script.valk
OUT=$("$VALK" script.valk 2>"$TMP/script.err"); ST=$?
check_eq "print of an error exits 1" "1" "$ST"
check_eq "output before the error is kept, nothing after" "1" "$OUT"
has "stderr has file:line:col and message" "$(cat "$TMP/script.err")" "script.valk:1:24: too big"

# Printing an error on purpose.
check_eq "repr prints an error on purpose" "Error[x]" "$("$VALK" -e '(print (repr (error "x")))' | head -1)"
finish
