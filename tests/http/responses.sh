#!/usr/bin/env bash
# The HTTP/2 server's responses (docs/http-server.md), with curl and nghttp as clients,
# over TLS (ALPN h2) and cleartext h2c: every response form (http2/response,
# a string, a plist, a handle of each, aio/await inside a handler), response
# headers, request headers/method/scheme/authority/query/body, 10 MB bodies
# each way, 404/413/500, and an HTTP/1.1 client on both ports.
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1

LIMIT=$((12 * 1024 * 1024))  # :max-body-bytes
start_server responses <<EOF
(aio/start)
(def big (make-string 655360 "0123456789abcdef"))   ; 10 MB
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/") "hello")
      ((== p "/response")
       (http2/response 201 '(("content-type" "application/json") ("x-custom" "yes") ("X-Mixed-Case" "kept"))
                       "{\"ok\":true}"))
      ((== p "/plist") (list :status 202 :headers '(("x-plist" "1")) :body "plist body"))
      ((== p "/plist-literal") {:status 203 :body "literal plist"})
      ((== p "/empty") (http2/response 204 '() ""))
      ((== p "/async") (aio/then (aio/sleep 50) (fn (_) "late")))
      ((== p "/async-response")
       (aio/then (aio/sleep 20) (fn (_) (http2/response 201 '(("x-async" "1")) "async response"))))
      ((== p "/async-plist") (aio/delay 20 (list :status 202 :body "async plist")))
      ((== p "/await") (str "awaited " (aio/await (aio/delay 20 "value"))))
      ((== p "/cancel-me")
       (do (print "cancel-me started")
           (aio/on-cancel (aio/then (aio/sleep 10000) (fn (_) "never")) (fn () (print "handler cancelled")))))
      ((== p "/error") (error "boom"))
      ((== p "/fail") (aio/fail "async boom"))
      ((== p "/late-error") (aio/then (aio/sleep 10) (fn (_) (error "late boom"))))
      ((== p "/echo") (http2/response 200 '(("content-type" "application/octet-stream")) (req/body req)))
      ((== p "/download") big)
      ((== p "/info")
       (str (req/method req) " " (req/scheme req) " " (req/authority req) " " (req/path req)
            " body=" (len (req/body req))))
      ((== p "/header")
       (str "x-test=" (req/header req "X-Test-Header") " lower=" (req/header req "x-test-header")
            " missing=" (req/header req "x-none")))
      ((== p "/headers") (repr (req/headers req)))
      ((== p "/query") (str "name=" (req/query req "name") " all=" (repr (req/query req))))
      (true (http2/response 404 '(("content-type" "text/plain")) "not found"))))))
(def opts {:host "127.0.0.1" :max-body-bytes $LIMIT})
(def h2c (http2/server-listen 0 handler opts))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler opts))
(print (http2/server-port h2c))
(print (http2/server-port tls))
(aio/run)
EOF
PID=$SERVER_PID
two_ports responses
H2C=http://127.0.0.1:$P_H2C
TLS=https://127.0.0.1:$P_TLS

# creq BASE PATH [curl args]: sets CODE, VER, BODY, HDRS (lower-cased header lines).
creq() {
  local base=$1 path=$2; shift 2
  local proto=(--http2-prior-knowledge)
  [[ "$base" == https:* ]] && proto=(--http2 --cacert "$TMP/cert.pem")
  local out
  out=$("${CURL[@]}" "${proto[@]}" -D "$TMP/hdrs" -o "$TMP/body" -w '%{http_code} %{http_version}' "$@" "$base$path")
  CODE=${out% *}
  VER=${out#* }
  BODY=$(head -c 4096 "$TMP/body" 2>/dev/null | tr -d '\0')
  HDRS=$(tr -d '\r' <"$TMP/hdrs" 2>/dev/null | tr 'A-Z' 'a-z')
}
# nreq BASE PATH [nghttp args]: sets NCODE (from the :status line), NBODY, NHDRS.
nreq() {
  local base=$1 path=$2; shift 2
  NHDRS=$(timeout 20 nghttp -v "$@" "$base$path" 2>&1 | grep -E 'recv \(stream_id=[0-9]+\) [^ ]+:' | sed -E 's/.*recv \(stream_id=[0-9]+\) //')
  NCODE=$(sed -n 's/^:status: //p' <<<"$NHDRS" | head -1)
  NBODY=$(timeout 20 nghttp "$@" "$base$path" 2>/dev/null)
}

for base in "$H2C" "$TLS"; do
  kind=h2c; [[ "$base" == https:* ]] && kind=tls

  # -- every response form, with curl --
  creq "$base" /
  check_eq "$kind curl string: status" "200 2" "$CODE $VER"
  check_eq "$kind curl string: body" "hello" "$BODY"
  has "$kind curl string: text/plain" "$HDRS" "content-type: text/plain"
  has "$kind curl string: content-length" "$HDRS" "content-length: 5"

  creq "$base" /response
  check_eq "$kind http2/response: status" "201" "$CODE"
  check_eq "$kind http2/response: body" '{"ok":true}' "$BODY"
  has "$kind http2/response: content-type" "$HDRS" "content-type: application/json"
  has "$kind http2/response: custom header" "$HDRS" "x-custom: yes"
  has "$kind http2/response: mixed-case header name sent lower-case" "$HDRS" "x-mixed-case: kept"

  creq "$base" /plist
  check_eq "$kind plist: status and body" "202 plist body" "$CODE $BODY"
  has "$kind plist: header" "$HDRS" "x-plist: 1"
  creq "$base" /plist-literal
  check_eq "$kind literal plist {:status :body}" "203 literal plist" "$CODE $BODY"
  creq "$base" /empty
  check_eq "$kind 204 with an empty body" "204 " "$CODE $BODY"

  creq "$base" /async
  check_eq "$kind handle of a string" "200 late" "$CODE $BODY"
  creq "$base" /async-response
  check_eq "$kind handle of http2/response" "201 async response" "$CODE $BODY"
  has "$kind handle of http2/response: header" "$HDRS" "x-async: 1"
  creq "$base" /async-plist
  check_eq "$kind handle of a plist" "202 async plist" "$CODE $BODY"
  creq "$base" /await
  check_eq "$kind aio/await inside the handler" "200 awaited value" "$CODE $BODY"

  # -- error paths --
  for p in /error /fail /late-error; do
    creq "$base" "$p"
    check_eq "$kind $p gives 500" "500" "$CODE"
    [ -n "$BODY" ] && [ "${#BODY}" -le 200 ] && pass "$kind $p: short body" ||
      fail "$kind $p: expected a short non-empty body, got [${BODY:0:300}]"
    case "$BODY" in *boom*) fail "$kind $p: the error text leaks into the response body: $BODY" ;; esac
  done
  creq "$base" /no/such/path
  check_eq "$kind unknown path: handler's 404" "404 not found" "$CODE $BODY"

  # -- the request as the handler sees it --
  creq "$base" /info --data-binary "abc"
  check_eq "$kind method scheme authority path body" "POST ${base%%://*} ${base#*://} /info body=3" "$BODY"
  creq "$base" /info -X PUT --data-binary ""
  has "$kind PUT" "$BODY" "PUT "
  creq "$base" /info -X DELETE
  has "$kind DELETE" "$BODY" "DELETE "
  creq "$base" /header -H "X-Test-Header: Value One"
  check_eq "$kind req/header is case-insensitive" "x-test=Value One lower=Value One missing=()" "$BODY"
  creq "$base" /headers -H "X-A: 1" -H "X-B: two words"
  has "$kind req/headers: lower-case names" "$BODY" '{"x-a" "1"}'
  has "$kind req/headers: second header" "$BODY" '{"x-b" "two words"}'
  creq "$base" "/query?name=Ada%20L&x=1&flag"
  has "$kind req/query name" "$BODY" "name=Ada L "
  has "$kind req/query plist" "$BODY" '"x" "1"'
  has "$kind req/query plist, decoded" "$BODY" '"name" "Ada L"'

  # -- the same forms with nghttp --
  nreq "$base" /
  check_eq "$kind nghttp string" "200 hello" "$NCODE $NBODY"
  nreq "$base" /response
  check_eq "$kind nghttp http2/response" "201 {\"ok\":true}" "$NCODE $NBODY"
  has "$kind nghttp http2/response header" "$NHDRS" "x-custom: yes"
  nreq "$base" /plist
  check_eq "$kind nghttp plist" "202 plist body" "$NCODE $NBODY"
  nreq "$base" /async-response
  check_eq "$kind nghttp handle" "201 async response" "$NCODE $NBODY"
  nreq "$base" /error
  check_eq "$kind nghttp error" "500" "$NCODE"
  nreq "$base" /nothing-here
  check_eq "$kind nghttp 404" "404" "$NCODE"
  nreq "$base" /header -H "x-test-header: from nghttp"
  check_eq "$kind nghttp request header" "x-test=from nghttp lower=from nghttp missing=()" "$NBODY"
done

# -- a client that resets the stream or disconnects cancels the handler's handle --
expect_cancelled=0
for kind in h2c tls; do
  port=$(sed -n 1p responses.out); flag=()
  [ "$kind" = tls ] && { port=$(sed -n 2p responses.out); flag=(--tls); }
  for mode in reset-one disconnect-one; do
    out=$(timeout 20 python3 "$H2ATTACK" "$mode" --port "$port" "${flag[@]}" --path /cancel-me --delay 0.3 2>&1)
    [ $? -eq 0 ] && pass "$kind $mode: $(tail -1 <<<"$out")" || fail "$kind $mode: $out"
    expect_cancelled=$((expect_cancelled + 1))
    for ((i = 0; i < 40; i++)); do
      [ "$(grep -c '^handler cancelled$' responses.out)" -ge "$expect_cancelled" ] && break; sleep 0.05
    done
    check_eq "$kind $mode: the handler's handle was cancelled" "$expect_cancelled $expect_cancelled" \
      "$(grep -c '^cancel-me started$' responses.out) $(grep -c '^handler cancelled$' responses.out)"
  done
done

# -- 10 MB each way --
python3 -c 'import sys; sys.stdout.write("0123456789abcdef" * 655360)' >"$TMP/expected.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$TMP/up.bin"
head -c "$LIMIT" /dev/urandom >"$TMP/limit.bin"
head -c $((LIMIT + 1)) /dev/urandom >"$TMP/over.bin"
for base in "$H2C" "$TLS"; do
  kind=h2c; [[ "$base" == https:* ]] && kind=tls
  creq "$base" /download
  check_eq "$kind 10 MB download: status" "200" "$CODE"
  cmp -s "$TMP/body" "$TMP/expected.bin" && pass "$kind 10 MB download: content" ||
    fail "$kind 10 MB download: got $(wc -c <"$TMP/body") bytes, not the expected 10 MB"
  creq "$base" /echo --data-binary @"$TMP/up.bin" -H "content-type: application/octet-stream"
  check_eq "$kind 10 MB upload echoed: status" "200" "$CODE"
  cmp -s "$TMP/body" "$TMP/up.bin" && pass "$kind 10 MB upload echoed back intact" ||
    fail "$kind 10 MB upload: echoed $(wc -c <"$TMP/body") bytes that differ from the 10 MB sent"
  creq "$base" /echo --data-binary @"$TMP/limit.bin"
  check_eq "$kind body of exactly :max-body-bytes is accepted" "200" "$CODE"
  creq "$base" /echo --data-binary @"$TMP/over.bin"
  check_eq "$kind body over :max-body-bytes gives 413" "413" "$CODE"
  [ "$(wc -c <"$TMP/body")" -le 200 ] && pass "$kind 413 has a short body" ||
    fail "$kind 413 body is $(wc -c <"$TMP/body") bytes"
  # nghttp both ways.
  n=$(timeout 30 nghttp "$base/download" 2>/dev/null | wc -c)
  check_eq "$kind nghttp 10 MB download" "$((10 * 1024 * 1024))" "$n"
  timeout 30 nghttp -d "$TMP/up.bin" "$base/echo" >"$TMP/nbody" 2>/dev/null
  cmp -s "$TMP/nbody" "$TMP/up.bin" && pass "$kind nghttp 10 MB upload echoed intact" ||
    fail "$kind nghttp 10 MB upload: echoed $(wc -c <"$TMP/nbody") bytes that differ"
  nreq "$base" /echo -d "$TMP/over.bin"
  check_eq "$kind nghttp body over the limit gives 413" "413" "$NCODE"
done

# -- async handlers run concurrently: 200 requests of 50 ms each on 2 connections --
for base in "$H2C" "$TLS"; do
  kind=h2c; [[ "$base" == https:* ]] && kind=tls
  out=$(timeout 30 h2load -n 200 -c 2 -m 100 "$base/async" 2>&1)
  has "$kind 200 concurrent async requests all 2xx" "$out" "status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx"
  secs=$(sed -nE 's/^finished in ([0-9.]+)(m?s).*/\1 \2/p' <<<"$out")
  ms=$(awk '{ printf "%d", ($2 == "ms") ? $1 : $1 * 1000 }' <<<"$secs")
  [ -n "$ms" ] && [ "$ms" -lt 3000 ] && pass "$kind async handlers overlap (${ms} ms for 200 x 50 ms)" ||
    fail "$kind 200 async 50 ms requests on 2 connections took ${ms:-?} ms: handlers do not overlap"
done

# -- HTTP/1.1 clients get a clear answer or a close, never a hang --
out=$(curl -sS --max-time 10 --http1.1 -o /dev/null -w '%{http_code}' "$H2C/" 2>&1); st=$?
if [ $st -eq 28 ]; then fail "HTTP/1.1 request on the h2c port hung (no answer within 10 s)"
elif [ $st -eq 0 ] && [[ "$out" =~ ^[45][0-9][0-9]$ ]]; then pass "HTTP/1.1 on the h2c port: status $out"
elif [ $st -ne 0 ]; then pass "HTTP/1.1 on the h2c port: closed (curl exit $st)"
else fail "HTTP/1.1 on the h2c port: unexpected answer [$out]"; fi
out=$(curl -sS --max-time 10 --http1.1 --cacert "$TMP/cert.pem" -o /dev/null -w '%{http_code}' "$TLS/" 2>&1); st=$?
if [ $st -eq 28 ]; then fail "HTTP/1.1 (ALPN http/1.1) on the TLS port hung"
elif [ $st -eq 0 ] && [[ "$out" =~ ^[45][0-9][0-9]$ ]]; then pass "HTTP/1.1 on the TLS port: status $out"
elif [ $st -ne 0 ]; then pass "HTTP/1.1 on the TLS port: refused (curl exit $st)"
else fail "HTTP/1.1 on the TLS port: unexpected answer [$out]"; fi

# -- still healthy --
alive "$PID" && pass "server still running" || server_died "responses" "$PID" responses.err
server_answers "h2c after everything" "$H2C"
server_answers "tls after everything" "$TLS"
stop_server "$PID"
finish
