#!/usr/bin/env bash
# The HTTP client against our own HTTP/2 server over verified TLS: headers and
# bodies round-trip, POST/PUT/DELETE/PATCH, query strings, status codes,
# asynchronous handlers, connection reuse across sequential requests, 1,000
# concurrent requests multiplexed on one connection (the server's connection
# count), and cancellation of slow requests (aio/cancel, aio/within,
# aio/race, a failing fetch-all, a scope) that the server sees as a stream
# reset while the connection lives on; then, in fresh processes, a request
# next to an open stream is answered at once, a program that cancelled a
# fetch ends at once, and 1,000 requests against a server allowing 100
# streams per connection use at most 8 connections.
source "$(dirname "$0")/client/lib.sh"

make_pki
# The server allows 1,000 concurrent streams per connection, so 1,000
# requests fit on one connection.
STATE_FILE=$TMP/state TLS_CERT=$PKI/server.pem TLS_KEY=$PKI/server.key MCS=1000 start_server echo_tls <<EOF
(load "$CLIENT_DIR/echo_server.valk")
EOF
SERVER=$SERVER_PID
BASE=https://localhost:$SERVER_PORT
CONCURRENT=$(scale 1000)

run_client server -u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/ca.pem" "BASE=$BASE" \
  "BASE2=https://127.0.0.1:$SERVER_PORT" "STATE_FILE=$TMP/state" "CONCURRENT=$CONCURRENT" <<'EOF'
(def base (getenv "BASE"))
(fun (url p) (str base p))
; The same server by its address: another origin, so another connection.
(def base2 (getenv "BASE2"))
(fun (url2 p) (str base2 p))

; (started cancelled conns active) from the state file the server writes on
; every request and cancellation (client/echo_server.valk); started and
; cancelled count the /slow requests with that tag. The file, not a request,
; so that watching the server never depends on the client under test.
(def state-file (getenv "STATE_FILE"))
(fun (server-state & tag)
  (let ((st (try (read (read-file state-file)) (fn (e) ()))))
    (if (and (list? st) (plist/has? st :conns))
        (list (%tagged tag (plist/get st :started)) (%tagged tag (plist/get st :cancelled))
              (plist/get st :conns) (plist/get st :active))
        (list -1 -1 -1 -1))))
(fun (%tagged tag tags) (if (nil? tag) (len tags) (len (filter (fn (t) (== t (head tag))) tags))))
(fun (started s) (nth 1 s))
(fun (cancelled s) (nth 2 s))
(fun (conns s) (nth 3 s))
; reads the state every 50 ms until (pred state), for at most 2 s: a reset
; reaches a local server in well under that
(fun (poll-state tag pred) (%poll-state tag pred (+ (time-us) 2000000)))
(fun (%poll-state tag pred deadline)
  (let ((s (server-state tag)))
    (if (or (pred s) (> (time-us) deadline)) s
        (do (aio/await (aio/sleep 50)) (%poll-state tag pred deadline)))))
; waits until the server has started n /slow requests tagged tag
(fun (wait-started tag n) (started (poll-state tag (fn (s) (>= (started s) n)))))
; the number of them cancelled, once n are (or 2 s have passed)
(fun (wait-cancelled tag n) (cancelled (poll-state tag (fn (s) (>= (cancelled s) n)))))

(check-eq "a first request" 200 (response-status (value-of (fetch (url "/echo")))))
(def s0 (server-state))
(def conns0 (conns s0))
(check "the server's state file is there" (> conns0 0) (%short s0))

; ---- headers round-trip
(def r (value-of (fetch (-> (http-get (url "/echo"))
                            (with-header "X-Trace" "abc-123")
                            (with-header "X-Twice" "one")
                            (with-header "X-Twice" "two")))))
(check-eq "request header arrives (lower-cased by HTTP/2)" "abc-123" (response-header r "echo-x-trace"))
(check-eq "a header given twice arrives twice, in order" (list "one" "two")
          (map (fn (p) (head (tail p)))
               (filter (fn (p) (== (head p) "echo-x-twice")) (response-headers r))))
(def hs (value-of (fetch-text (-> (http-get (url "/headers"))
                                  (with-auth "s3cret")
                                  (with-user-agent "valk-test/1.0")))))
(check "with-auth: authorization: Bearer ..." (str/contains? hs "authorization: Bearer s3cret\n") hs)
(check "with-user-agent replaces the default" (and (str/contains? hs "user-agent: valk-test/1.0\n")
                                                   (not (str/contains? hs "valkyria/"))) hs)
(check "the default user-agent is valkyria/VERSION"
       (str/contains? (value-of (fetch-text (url "/headers"))) "user-agent: valkyria/") "")
(def mw (compose-middleware (fn (q) (with-auth q "tok")) (fn (q) (with-header q "X-Mw" "2"))))
(def mr (value-of (fetch (mw (http-get (url "/echo"))))))
(check-eq "compose-middleware: both applied" "2" (response-header mr "echo-x-mw"))
(def c (value-of (fetch (url "/cookies"))))
(check-eq "response headers keep repeated names, in order" (list "a=1" "b=2")
          (map (fn (p) (head (tail p))) (filter (fn (p) (== (head p) "set-cookie")) (response-headers c))))
(check-eq "response-header gives the first" "a=1" (response-header c "Set-Cookie"))
(check-eq "response-header of an absent name is nil" () (response-header c "x-absent"))

; ---- bodies and methods
(fun (echo-of req) (value-of (fetch req)))
(def p (echo-of (http-post (url "/echo") "hello")))
(check-eq "POST: method" "POST" (response-header p "x-method"))
(check-eq "POST: body back" "hello" (response-body p))
(def bin (str "a\0b\xff\x01\r\n\0"))
(check-eq "POST: a binary body with NUL bytes round-trips" bin (response-body (echo-of (http-post (url "/echo") bin))))
(def mb (make-string (* 5 1024 1024) "y"))
(def big (echo-of (http-post (url "/echo") mb)))
(check-eq "POST: 5 MB body, length seen by the server" (str (len mb)) (response-header big "x-body-length"))
(check "POST: 5 MB body round-trips" (== mb (response-body big)) (len (response-body big)))
(def e (echo-of (http-post (url "/echo"))))
(check-eq "POST without a body: method" "POST" (response-header e "x-method"))
(check-eq "POST without a body: empty" "0" (response-header e "x-body-length"))
(def pu (echo-of (http-put (url "/echo") "put body")))
(check-eq "PUT: method and body" (list "PUT" "put body") (list (response-header pu "x-method") (response-body pu)))
(def pe (echo-of (http-put (url "/echo"))))
(check-eq "PUT without a body" (list "PUT" "0") (list (response-header pe "x-method") (response-header pe "x-body-length")))
(def d (echo-of (http-delete (url "/echo"))))
(check-eq "DELETE: method, no body" (list "DELETE" "0") (list (response-header d "x-method") (response-header d "x-body-length")))
(def db (echo-of (with-body (http-delete (url "/echo")) "why")))
(check-eq "DELETE with a body" (list "DELETE" "why") (list (response-header db "x-method") (response-body db)))
(def pa (echo-of (-> (http-request "PATCH" (url "/echo")) (with-body "patch"))))
(check-eq "PATCH through http-request" (list "PATCH" "patch") (list (response-header pa "x-method") (response-body pa)))
(def ct (value-of (fetch-text (-> (http-post (url "/headers") "{}") (with-content-type "application/json")))))
(check "with-content-type sets the body's type" (str/contains? ct "content-type: application/json\n") ct)
(def q (echo-of (with-query (http-get (url "/echo")) (list :q "valk lisp" :page 2 :odd "a&b=c/d?e+f%"))))
(check-eq "with-query: percent-encoded, decoded by the server" (repr (list "q" "valk lisp" "page" "2" "odd" "a&b=c/d?e+f%"))
          (response-header q "x-query"))
(def q2 (echo-of (with-query (http-get (url "/echo?x=1")) {:y 2})))
(check-eq "with-query after an existing query" (repr (list "x" "1" "y" "2")) (response-header q2 "x-query"))

; ---- status codes: every one completes; response-ok? tells 2xx
(def codes (list 200 201 204 301 400 404 418 500 503))
(def sr (value-of (fetch-all (map (fn (n) (with-option (http-get (url (str "/status/" n))) :follow-redirects false)) codes))))
(check-eq "status codes come back as they are" codes (map response-status sr))
(check-eq "response-ok? only for 2xx" (list true true true false false false false false false)
          (map response-ok? sr))
(check-eq "204: empty body" "" (response-body (nth 3 sr)))
(check-eq "500 from a failing handler completes normally" 500 (response-status (value-of (fetch (url "/error")))))
(check-eq "404 for an unknown path" 404 (response-status (value-of (fetch (url "/nowhere")))))

; ---- asynchronous handlers
(check-eq "handler returning a handle" "answered later" (value-of (fetch-text (url "/async"))))
(check-eq "handler using aio/await" "awaited 42" (value-of (fetch-text (url "/await"))))

; ---- connection reuse across sequential requests
(fun (sequential n acc)
  (if (== n 0) acc
      (sequential (- n 1) (cons (response-status (value-of (fetch (url "/echo")))) acc))))
(def seq-statuses (sequential 20 ()))
(check-eq "20 sequential requests" (map (fn (_) 200) (range 0 20)) seq-statuses)
(check-eq "sequential requests reuse the connection (server connections)" conns0 (conns (server-state)))
(check-eq "one pooled client connection" 1 (metric :client-connections-pooled))

; ---- many concurrent requests, multiplexed on that one connection
(def n (str->num (getenv "CONCURRENT")))
(def t0 (time-us))
(def many (value-of (fetch-all (map (fn (i) (http-post (url "/echo") (str i))) (range 0 n)))))
(def ms1 (/ (- (time-us) t0) 1000))
(check-eq (str n " concurrent POSTs: all answered, in order") (map str (range 0 n)) (map response-body many))
(print (str "note: " n " concurrent POSTs in " ms1 " ms"))
(def t1 (time-us))
(def slowish (value-of (fetch-all (map (fn (i) (url "/async")) (range 0 n)))))
(def ms2 (/ (- (time-us) t1) 1000))
(check-eq (str n " concurrent requests to a 20 ms handler") (map (fn (_) "answered later") (range 0 n)) (map response-body slowish))
(check (str "they ran concurrently: " ms2 " ms, one after another would take " (* n 20) " ms")
       (< ms2 (/ (* n 20) 4)) "")
(check-eq "all of it on the one connection (server connections)" conns0 (conns (server-state)))
(check-eq "all of it on the one connection (client pool)" 1 (metric :client-connections-pooled))

; ---- cancellation: the server sees the stream reset, the connection lives on
; Each case tags its slow requests, so a reset that arrives late is not
; counted for another case. Nothing else is sent on that connection while
; the test waits for the server to see the reset.
(def slow (fetch (url "/slow?tag=cancel")))
(check-eq "cancel: the server started the slow request" 1 (wait-started "cancel" 1))
(check-eq "cancel: aio/cancel of a running fetch returns true" true (aio/cancel slow))
(check-eq "cancel: the handle is cancelled" :cancelled (aio/status slow))
(check-eq "cancel: the server saw the stream reset (its handler's handle was cancelled)"
          1 (wait-cancelled "cancel" 1))
(check-eq "cancel: the connection was kept (stream reset, not a close)" conns0 (conns (server-state)))
(check "cancel: counted as a cancelled client request"
       (any? (fn (x) (== (plist/get x :kind) "cancelled")) (metric :client-errors-total))
       (%short (metric :client-errors-total)))
(def settled (settle (fetch (url "/echo"))))
(check-eq "cancel: aio/cancel of a settled fetch returns false" (list false :completed)
          (list (aio/cancel settled) (aio/status settled)))

; aio/within: the timeout cancels the transfer
(def w (aio/within (fetch (url "/slow?tag=within")) 300))
(settle w)
(check-eq "aio/within: fails with :timeout" (list :failed ":timeout")
          (list (aio/status w) (error-message (aio/error w))))
(check-eq "aio/within: the server saw the reset" 1 (wait-cancelled "within" 1))


; fetch-all: one failure (a request timing out) fails it and cancels the rest
(def fa (fetch-all (list (url "/slow?tag=all") (with-timeout (http-get (url "/slow?tag=all")) 500))))
(check-failed "fetch-all: a request timing out fails it" fa (list "timed out" "/slow?tag=all"))
(check-eq "fetch-all: both slow requests had started" 2 (wait-started "all" 2))
(check-eq "fetch-all: the server saw both streams reset (timed out, cancelled)" 2 (wait-cancelled "all" 2))

; a scope cancels what it started when its result is ready
(def sc (value-of (aio/scope (fn () (fetch (url "/slow?tag=scope")) (aio/delay 200 :scope-done)))))
(check-eq "scope: result" :scope-done sc)
(check-eq "scope: the fetch it left running was cancelled, the server saw it" 1 (wait-cancelled "scope" 1))
; (A cancelled transfer that shares its connection with no other one closes
; that connection, so the server hears of it at once: libcurl 7.88 would
; otherwise hold the stream reset back. Requests go on working.)
(check-eq "after all the cancellations: requests still work" 200
          (response-status (value-of (fetch (url "/echo")))))

; aio/race: the loser is cancelled (the winner comes from the other origin,
; another connection)
(def rc (value-of (aio/race (list (fetch (url "/slow?tag=race")) (fetch (url2 "/async"))))))
(check-eq "aio/race: the fast one wins" "answered later" (response-body rc))
(check-eq "aio/race: the server saw the loser's reset" 1 (wait-cancelled "race" 1))
(check-eq "no client handle left pending" 0 (metric :handles-pending))
(done)
(exit 0)  ; at once: waiting at exit after a cancel is checked below
EOF

# A request on a connection that has another stream open (a slow request in
# flight) must complete as soon as its answer arrives. With libcurl 7.88.1's
# multi-socket API it sometimes waits instead for curl's next timer (10 s, the
# connect timeout) or for other traffic (here the slow answer, after 3 s): a
# fresh process a few times, stopping at the first stall.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  before=$FAILED
  FAILED=0
  run_client "open_stream_$attempt" -u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/ca.pem" "BASE=$BASE" <<'EOF' >/dev/null
(def base (getenv "BASE"))
(value-of (fetch (str base "/echo")))             ; the connection
(def slow (fetch (str base "/slow?ms=3000")))     ; a stream left open
(def t0 (time-us))
(def a (value-of (fetch-text (str base "/status/200"))))
(def b (value-of (fetch-text (str base "/status/201"))))
(def ms (/ (- (time-us) t0) 1000))
(aio/cancel slow)
(check "two requests next to an open stream are answered" (== (list a b) (list "status 200" "status 201")) (%short (list a b)))
(check (str "... at once (" ms " ms), not after a timer") (< ms 2000) (str ms " ms"))
(done)
(exit 0)  ; at once: waiting at exit after a cancel is checked below
EOF
  now=$FAILED
  FAILED=$((before | now))
  if [ "$now" -ne 0 ]; then
    fail "a request next to an open HTTP/2 stream stalled (attempt $attempt; see docs/http-client.md, 'Known problems')"
    break
  fi
done
[ "$now" -eq 0 ] && pass "requests next to an open stream: answered at once in 10 fresh processes"

# A program that cancelled a fetch ends when its work is done: it does not
# wait for the cancelled request's answer (here 5 s away).
T0=$(date +%s%N)
run_client exit_after_cancel -u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/ca.pem" "BASE=$BASE" <<'EOF'
(def base (getenv "BASE"))
(value-of (fetch (str base "/echo")))
(def slow (fetch (str base "/slow?tag=exit&ms=5000")))
(aio/await (aio/sleep 200))
(check "the slow request is cancelled" (aio/cancel slow) "")
(done)
EOF
MS=$((($(date +%s%N) - T0) / 1000000))
if [ "$MS" -lt 2500 ]; then pass "the program ends at once after cancelling a fetch ($MS ms)"; else
  fail "the program waited at exit for a cancelled fetch's answer: it took $MS ms"; fi

# With the server's default limit of 100 concurrent streams per connection,
# 1,000 requests still all complete; the client opens a few more connections
# (at most 8 per origin) rather than queueing them all on one.
TLS_CERT=$PKI/server.pem TLS_KEY=$PKI/server.key start_server echo_tls100 <<EOF
(load "$CLIENT_DIR/echo_server.valk")
EOF
run_client server100 -u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/ca.pem" "BASE=https://localhost:$SERVER_PORT" \
  "CONCURRENT=$CONCURRENT" <<'EOF'
(def base (getenv "BASE"))
(def n (str->num (getenv "CONCURRENT")))
(def many (value-of (fetch-all (map (fn (i) (str base "/async")) (range 0 n)))))
(check-eq (str n " requests against a 100-stream server all complete") (map (fn (_) 200) (range 0 n)) (map response-status many))
(def state (str/split (value-of (fetch-text (str base "/state"))) " "))
(def conns (str->num (head (tail (str/split (nth 3 state) "=")))))
(print (str "note: connections opened: " conns))
(check (str "at most 8 connections (" conns ")") (and (>= conns 1) (<= conns 8)) "")
(done)
EOF

stop_server "$SERVER_PID"
stop_server "$SERVER"
finish
