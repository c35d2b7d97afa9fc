#!/usr/bin/env bash
# Upstream's client functions (docs/http-client.md#upstreams-client-functions) across
# processes: an h2c server in one valk process, and a client written in upstream's style
# (the {...} and \ spellings, (load "src/prelude.valk") and (load "src/http_api.valk") from a
# directory that has no such files, the system passed first) in another. The client's
# requests reach the server with their headers, statuses come back as strings, a refused
# connection fails the handle, and the program ends on its own once its work is done.
source "$(dirname "$0")/lib/common.sh"

start_server up_server <<'EOF'
(def srv (http2/server-listen 0
  (fn (req)
    (let ((p (req/path req)))
      (cond ((== p "/missing") (list :status "404" :body "nothing here"))
            ((== p "/who") (list :status "200" :body (str "custom=" (req/header req "x-custom"))))
            (else (list :status "200" :body (str "hello " p))))))
  {:host "127.0.0.1"}))
(print (http2/server-port srv))
(aio/run)
EOF
PORT=$SERVER_PORT
UP_PID=$SERVER_PID

# A port nothing listens on: one a server had, now stopped.
start_server gone <<'EOF'
(def s (http2/server-listen 0 (fn (req) "x") {:host "127.0.0.1"}))
(print (http2/server-port s))
(aio/run)
EOF
DEAD_PORT=$SERVER_PORT
stop_server "$SERVER_PID"

cat >"$TMP/up_client.valk" <<'EOF'
(load "src/prelude.valk")
(load "src/http_api.valk")

(def {aio} (aio/await (aio/start)))
(def {port} (str->num (getenv "PORT")))
(def {dead} (str->num (getenv "DEAD_PORT")))

(fun {show label resp} {
  (print label (http2/response-status resp) (http2/response-body resp))
})

(aio/await (aio/then (http2/client-request aio "127.0.0.1" port "/hello")
  (\ {resp} {(show "get" resp)})))
(aio/await (aio/then (http2/client-request aio "127.0.0.1" port "/missing")
  (\ {resp} {(show "missing" resp)})))
(aio/await (aio/then (http2/client-request-with-headers aio "127.0.0.1" port "/who"
                        {{"x-custom" "abc"} {"only-name"}})
  (\ {resp} {(show "headers" resp)})))
(print "ok?" (http2/response-ok? (aio/await (http2/client-request aio "127.0.0.1" port "/"))))
(print "refused" (aio/await (aio/catch (http2/client-request aio "127.0.0.1" dead "/")
  (\ {err} {(str/contains? (error-message err) "connection refused")}))))
(print "text" (aio/await ((http2/fetch-text aio "127.0.0.1" port "/cps") (\ {body} {body}))))
EOF

OUT=$(cd "$TMP" && PORT=$PORT DEAD_PORT=$DEAD_PORT timeout 30 "$VALK" up_client.valk 2>"$TMP/up_client.err")
ST=$?
check_eq "the upstream-style client exits 0 on its own" 0 "$ST"
check_eq "the client's output" "get 200 hello /hello
missing 404 nothing here
headers 200 custom=abc
ok? true
refused true
text hello /cps" "$OUT"
check_eq "nothing on the client's stderr" "" "$(cat "$TMP/up_client.err")"
if alive "$UP_PID"; then pass "the server still runs"; else server_died "the server" "$UP_PID" "$TMP/up_server.err"; fi
finish
