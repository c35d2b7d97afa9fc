#!/usr/bin/env bash
# Streamed HTTP/2 bodies (docs/streams.md, docs/http-server.md#streaming) with
# real clients: SSE read by curl -N and nghttp as events are produced (the
# first arrives before the last is written), a 1 GiB download with the
# server's RSS sampled, a slow reader against a drain-paced producer, a
# client that goes away mid-stream (on-close runs, the producer's scope is
# cancelled), request bodies read as they arrive (a 1 GiB upload in bounded
# memory), and the request and body timeouts.
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1

start_server streams <<EOF
(def gate (stream/memory))          ; /go lets /sse finish: a stream used as a signal
(def closes 0)
(def ticks 0)
(def refused 0)
(def max-queued 0)
(def chunk (make-string 1024 "0123456789abcdef"))   ; 16 KiB
(def chunk64 (str chunk chunk chunk chunk))         ; 64 KiB

; n chunks of 64 KiB, each written when the queue has room (stream/drain).
(fun (produce s n)
  (if (<= n 0) (stream/close s)
      (aio/then (stream/drain s)
                (fn (_)
                  (let ((r (stream/write s chunk64)))
                    (if (error? r) (def refused (+ refused 1)) nil)
                    (if (> (stream/queued s) max-queued) (def max-queued (stream/queued s)) nil)
                    (produce s (- n 1)))))))

(fun (tick s)
  (aio/then (aio/sleep 20)
            (fn (_) (def ticks (+ ticks 1)) (stream/write s "tick\n") (tick s))))

(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/sse")
       (let ((s (sse/open req)))
         (sse/send s "first")
         (aio/then (stream/read gate)
                   (fn (_) (sse/event s "last" "second\nline") (sse/close s)))
         :deferred))
      ((== p "/go") (do (stream/write gate "go") "went"))
      ((== p "/big")
       (let ((s (stream/open req {:content-type "application/octet-stream"})))
         (produce s (str->num (req/query req "n")))
         :deferred))
      ((== p "/endless")
       (aio/scope (fn (sc)
         (let ((s (stream/open req {:content-type "text/plain"})))
           (stream/on-close s (fn () (def closes (+ closes 1))))
           (tick s)
           (stream/closed s)))))
      ((== p "/producer")   ; the seed-style form: the response names its producer
       (list :status 201 :headers (list (list "x-form" "stream"))
             :stream (fn (s) (stream/write s "made ") (stream/write s "by f") (stream/close s))))
      ((== p "/stats") (str "closes=" closes " ticks=" ticks " refused=" refused " max-queued=" max-queued))
      ((== p "/read-body") (aio/then (req/read-body req) (fn (b) (str "got " (len b)))))
      ((== p "/body-stream")
       (aio/then (stream/read-all (req/body-stream req)) (fn (b) (str "streamed " (len b)))))
      (else (list :status 404 :body "none"))))))
(def srv (http2/server-listen 0 handler {:host "127.0.0.1"}))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler {:host "127.0.0.1"}))
(print (http2/server-port srv))
(print (http2/server-port tls))
(aio/run)
EOF
two_ports streams
SPID=$SERVER_PID
H2C=(curl -sS --http2-prior-knowledge --max-time 60)

# ---- SSE as it is produced --------------------------------------------------------------
sse_check() {  # sse_check WHAT COMMAND...: the first event before /go, all of it after
  local what=$1
  shift
  "$@" >"$TMP/sse.out" 2>"$TMP/sse.err" &
  local cpid=$! i
  for ((i = 0; i < 200; i++)); do
    grep -q "data: first" "$TMP/sse.out" 2>/dev/null && break
    sleep 0.05
  done
  if grep -q "data: first" "$TMP/sse.out" && ! grep -q second "$TMP/sse.out"; then
    pass "$what: the first event arrived before the last was written"
  else
    fail "$what: no first event while the stream is open: $(cat "$TMP/sse.out" "$TMP/sse.err")"
  fi
  "${H2C[@]}" "http://127.0.0.1:$P_H2C/go" >/dev/null
  wait "$cpid"
  check_eq "$what: the whole event stream" \
    "$(printf 'data: first\n\nevent: last\ndata: second\ndata: line\n\n')" "$(cat "$TMP/sse.out")"
}
sse_check "curl -N h2c" "${H2C[@]}" -N "http://127.0.0.1:$P_H2C/sse"
sse_check "curl -N TLS" curl -sS --http2 --cacert "$TMP/cert.pem" --max-time 60 -N "https://127.0.0.1:$P_TLS/sse"
if command -v nghttp >/dev/null; then
  sse_check "nghttp" stdbuf -o0 nghttp "http://127.0.0.1:$P_H2C/sse"   # (unbuffered: it writes with stdio)
else
  echo "note: nghttp not installed: its SSE check skipped"
fi
hdr=$("${H2C[@]}" -D - -o /dev/null "http://127.0.0.1:$P_H2C/sse" --max-time 1 2>/dev/null | tr -d '\r')
has "SSE content type" "$hdr" "content-type: text/event-stream"
has "SSE cache-control" "$hdr" "cache-control: no-cache"

# ---- the seed-style form {:stream f} ----------------------------------------------------
out=$("${H2C[@]}" -w ' %{http_code}' "http://127.0.0.1:$P_H2C/producer")
check_eq "{:stream f}: the producer's body and the given status" "made by f 201" "$out"

# ---- a large download, memory sampled ---------------------------------------------------
sample_rss_max() {  # sample_rss_max PID OUTFILE: the largest VmRSS until killed
  local max=0 now
  while true; do
    now=$(rss_kb "$1")
    [ "$now" -gt "$max" ] && { max=$now; echo "$max" >"$2"; }
    sleep 0.1
  done
}
download() {  # download WHAT URL BYTES LIMIT_MB [curl options...]
  local what=$1 url=$2 bytes=$3 limit=$4
  shift 4
  local base
  base=$(rss_kb "$SPID")
  sample_rss_max "$SPID" "$TMP/rss.max" &
  local sampler=$!
  local got
  got=$(curl -sS --max-time 300 "$@" -o /dev/null -w '%{size_download}' "$url")
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  check_eq "$what: every byte arrived" "$bytes" "$got"
  local max
  max=$(cat "$TMP/rss.max" 2>/dev/null || echo 0)
  if [ "$IS_ASAN" -eq 1 ]; then
    echo "note: $what: max RSS ${max} kB (baseline ${base} kB; not checked under ASan)"
  elif [ "$max" -le $((limit * 1024)) ]; then
    pass "$what: the server's RSS stayed at ${max} kB or less (limit ${limit} MB, baseline ${base} kB)"
  else
    fail "$what: the server's RSS reached ${max} kB (limit ${limit} MB, baseline ${base} kB)"
  fi
}
N=$(scale 16384)   # 64 KiB chunks: 1 GiB (200 MiB under ASan)
download "1 GiB streamed over h2c" "http://127.0.0.1:$P_H2C/big?n=$N" $((N * 65536)) 64 --http2-prior-knowledge
N2=$(scale 2048)
download "128 MiB streamed over TLS" "https://127.0.0.1:$P_TLS/big?n=$N2" $((N2 * 65536)) 64 --http2 --cacert "$TMP/cert.pem"

# ---- a slow reader paces the producer ---------------------------------------------------
download "a reader at 2 MB/s" "http://127.0.0.1:$P_H2C/big?n=96" $((96 * 65536)) 64 --http2-prior-knowledge --limit-rate 2M
stats=$("${H2C[@]}" "http://127.0.0.1:$P_H2C/stats")
has "drain-paced producer: no write was refused" "$stats" "refused=0"
mq=$(sed -n 's/.*max-queued=\([0-9]*\).*/\1/p' <<<"$stats")
if [ -n "$mq" ] && [ "$mq" -le $((1024 * 1024 + 65536)) ]; then
  pass "the stream's queue stayed under its high watermark ($mq bytes)"
else
  fail "the stream's queue reached $mq bytes: $stats"
fi

# ---- a client that goes away mid-stream -------------------------------------------------
"${H2C[@]}" --max-time 1 "http://127.0.0.1:$P_H2C/endless" >"$TMP/endless.out" 2>/dev/null
has "the endless stream was streaming" "$(head -c 100 "$TMP/endless.out")" "tick"
sleep 0.3
s1=$("${H2C[@]}" "http://127.0.0.1:$P_H2C/stats")
sleep 0.3
s2=$("${H2C[@]}" "http://127.0.0.1:$P_H2C/stats")
has "client gone: on-close ran once" "$s2" "closes=1 "
t1=$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' <<<"$s1")
t2=$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' <<<"$s2")
check_eq "client gone: the producer's scope was cancelled (ticks stopped)" "$t1" "$t2"

# ---- request bodies read by the handler, both servers -----------------------------------
head -c 300000 /dev/urandom >"$TMP/up.bin"
out=$("${H2C[@]}" --data-binary @"$TMP/up.bin" "http://127.0.0.1:$P_H2C/read-body")
check_eq "req/read-body on a buffered body" "got 300000" "$out"
out=$("${H2C[@]}" --data-binary @"$TMP/up.bin" "http://127.0.0.1:$P_H2C/body-stream")
check_eq "req/body-stream on a buffered body" "streamed 300000" "$out"

start_server uploads <<EOF
(fun (count s total)
  (aio/then (stream/read s)
            (fn (chunk) (if (nil? chunk) total (count s (+ total (len chunk)))))))
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/count") (aio/then (count (req/body-stream req) 0) (fn (n) (str n))))
      ((== p "/whole") (aio/then (aio/catch (req/read-body req) (fn (e) (error-message e)))
                                 (fn (b) (if (string? b) (if (str/contains? b "more than") (list :status 413 :body b) (str "whole " (len b))) b))))
      ((== p "/body") (if (error? (req/body req)) (error-message (req/body req)) "buffered?"))
      (else "ok")))))
(def srv (http2/server-listen 0 handler {:host "127.0.0.1" :stream-bodies true :max-body-bytes 1000000}))
(print (http2/server-port srv))
(aio/run)
EOF
UPID=$SERVER_PID
UP=$SERVER_PORT
out=$("${H2C[@]}" --data-binary @"$TMP/up.bin" "http://127.0.0.1:$UP/whole")
check_eq ":stream-bodies: req/read-body gathers the body" "whole 300000" "$out"
head -c 1200000 /dev/zero >"$TMP/big.bin"
out=$("${H2C[@]}" -o /dev/null -w '%{http_code}' --data-binary @"$TMP/big.bin" "http://127.0.0.1:$UP/whole")
check_eq ":stream-bodies: req/read-body past :max-body-bytes" "413" "$out"
out=$("${H2C[@]}" -d x "http://127.0.0.1:$UP/body")
has ":stream-bodies: req/body says to read the stream" "$out" "req/read-body or req/body-stream"
out=$("${H2C[@]}" "http://127.0.0.1:$UP/count")
check_eq ":stream-bodies: a request without a body" "0" "$out"

SIZE=$(($(scale 1024) * 1024 * 1024))   # 1 GiB (200 MiB under ASan)
base=$(rss_kb "$UPID")
sample_rss_max "$UPID" "$TMP/up.max" &
sampler=$!
out=$(head -c "$SIZE" /dev/zero | curl -sS --http2-prior-knowledge --max-time 300 -T - "http://127.0.0.1:$UP/count")
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
check_eq "an upload of $SIZE bytes counted chunk by chunk" "$SIZE" "$out"
max=$(cat "$TMP/up.max" 2>/dev/null || echo 0)
if [ "$IS_ASAN" -eq 1 ]; then
  echo "note: upload: max RSS ${max} kB (not checked under ASan)"
elif [ "$max" -le $((64 * 1024)) ]; then
  pass "upload: the server's RSS stayed at ${max} kB or less (limit 64 MB, baseline ${base} kB)"
else
  fail "upload: the server's RSS reached ${max} kB (limit 64 MB, baseline ${base} kB)"
fi

# ---- request and body timeouts ----------------------------------------------------------
start_server timeouts <<EOF
(def cleanups 0)
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/slow")
       (aio/scope (fn (sc)
         (aio/finally (aio/then (aio/sleep 5000) (fn (_) "too late"))
                      (fn () (def cleanups (+ cleanups 1)))))))
      ((== p "/stream")   ; streams for longer than the request timeout: not cut
       (let ((s (stream/open req {:content-type "text/plain"})))
         (aio/then (aio/sleep 700) (fn (_) (stream/write s "late but whole") (stream/close s)))
         :deferred))
      ((== p "/upload") (aio/then (req/read-body req) (fn (b) (str (len b)))))
      ((== p "/cleanups") (str cleanups))
      ((== p "/ctx") (str (if (> (ctx/deadline) 0) "deadline" "none") " " (trace/id) " "
                          (if (nil? (req/header req "x-valk-deadline-ms")) "-" "header")))
      ((== p "/hop")   ; a fetch from a handler carries the trace and the deadline on
       (aio/then (fetch-text (with-option (http-get (str "http://127.0.0.1:" port "/ctx")) :http2-prior-knowledge true)) (fn (body) (str (trace/id) " -> " body))))
      ((== p "/sleepy") (aio/then (aio/sleep 250) (fn (_) "slept")))
      (else "ok")))))
(def srv (http2/server-listen 0 handler {:host "127.0.0.1" :request-timeout-ms 300 :body-timeout-ms 500}))
(def port (http2/server-port srv))
(print port)
(aio/run)
EOF
TP=$SERVER_PORT
out=$("${H2C[@]}" -w ' %{http_code}' "http://127.0.0.1:$TP/slow")
has ":request-timeout-ms: a handler that does not answer gets 504" "$out" " 504"
sleep 0.2
check_eq ":request-timeout-ms: the handler's cleanup ran once" "1" "$("${H2C[@]}" "http://127.0.0.1:$TP/cleanups")"
out=$("${H2C[@]}" "http://127.0.0.1:$TP/stream")
check_eq ":request-timeout-ms does not cut an open stream" "late but whole" "$out"
out=$( (printf 'abc'; sleep 4) | curl -sS --http2-prior-knowledge --max-time 10 -o /dev/null -w '%{http_code}' -T - "http://127.0.0.1:$TP/upload" 2>/dev/null)
check_eq ":body-timeout-ms: a body that stops arriving gets 408" "408" "$out"
check_eq "the server still answers" "ok" "$("${H2C[@]}" "http://127.0.0.1:$TP/")"

# ---- the request context: trace ids and deadlines, across a hop -------------------------
out=$("${H2C[@]}" "http://127.0.0.1:$TP/ctx")
[[ "$out" =~ ^deadline\ [0-9a-f]{32}\ -$ ]] && pass "a handler runs under a deadline and a trace id" || fail "context: $out"
TPID=4bf92f3577b34da6a3ce929d0e0e4736
out=$("${H2C[@]}" -H "traceparent: 00-$TPID-00f067aa0ba902b7-01" "http://127.0.0.1:$TP/ctx")
has "an incoming traceparent continues its trace" "$out" " $TPID "
out=$("${H2C[@]}" -H "traceparent: 00-$TPID-00f067aa0ba902b7-01" "http://127.0.0.1:$TP/hop")
check_eq "a fetch from the handler carries the trace and the deadline" "$TPID -> deadline $TPID header" "$out"
check_eq "without a caller's deadline the request timeout (300 ms) allows 250 ms" "slept" "$("${H2C[@]}" "http://127.0.0.1:$TP/sleepy")"
out=$("${H2C[@]}" -H "x-valk-deadline-ms: 100" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TP/sleepy")
check_eq "a caller's x-valk-deadline-ms shorter than the work: 504" "504" "$out"

alive "$SPID" && pass "the streaming server is still running" || fail "the streaming server died"
finish
