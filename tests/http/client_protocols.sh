#!/usr/bin/env bash
# The HTTP client's protocol choices: HTTP/2 over cleartext with
# :http2-prior-knowledge (our h2c server), HTTP/1.1 for plain http:// URLs
# and as the ALPN fallback over TLS (a Python HTTP/1.1 server), gzip
# decoding, redirects (followed, limited), keep-alive reuse over HTTP/1.1.
source "$(dirname "$0")/client/lib.sh"

make_pki
start_server echo_h2c <<EOF
(load "$CLIENT_DIR/echo_server.valk")
EOF
H2C=$SERVER_PID
H2C_PORT=$SERVER_PORT
start_py h1 h1
H1_PORT=$PY_PORT
start_py h1tls h1 --cert "$PKI/server.pem" --key "$PKI/server.key"
H1TLS_PORT=$PY_PORT

run_client protocols -u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/ca.pem" "H2C=http://127.0.0.1:$H2C_PORT" \
  "H1=http://127.0.0.1:$H1_PORT" "H1TLS=https://localhost:$H1TLS_PORT" <<'EOF'
(def h2c (getenv "H2C"))
(def h1 (getenv "H1"))
(def h1tls (getenv "H1TLS"))
(fun (pk req) (with-option req :http2-prior-knowledge true))

; ---- h2c: HTTP/2 over cleartext, prior knowledge
(def r (value-of (fetch (pk (http-get (str h2c "/echo"))))))
(check-eq "h2c with :http2-prior-knowledge: HTTP/2" "2" (response-http-version r))
(check-eq "h2c: status" 200 (response-status r))
; A second request on the same h2c connection. (libcurl 7.88.1, Debian 12's,
; fails it with "Error in the HTTP2 framing layer": curl issue 10634, fixed
; in curl 8.0.0.)
(def second (fetch (pk (http-get (str h2c "/echo")))))
(settle second)
(check "h2c: a second request on the connection completes" (== (aio/status second) :completed)
       (%short (aio/error second)))
(def p (value-of (fetch (pk (-> (http-post (str h2c "/echo") "over h2c") (with-header "X-K" "v"))))))
(check-eq "h2c: POST body and header round-trip" (list "over h2c" "v")
          (list (response-body p) (response-header p "echo-x-k")))
(def many (value-of (fetch-all (map (fn (i) (pk (http-post (str h2c "/echo") (str i)))) (range 0 200)))))
(check-eq "h2c: 200 concurrent requests" (map str (range 0 200)) (map response-body many))
; libcurl 7.88 cannot reuse or share an h2c connection (curl issue 10634),
; so the client gives each h2c request a connection of its own.
(check "h2c: each request had a connection of its own"
       (> (str->num (str/slice (nth 3 (str/split (value-of (fetch-text (pk (http-get (str h2c "/state"))))) " ")) 6 20)) 200)
       "expected more than 200 connections")

; ---- plain http:// is HTTP/1.1 unless told otherwise
(def r1 (value-of (fetch (str h1 "/plain"))))
(check-eq "http:// speaks HTTP/1.1" (list 200 "1.1" "h1 GET /plain")
          (list (response-status r1) (response-http-version r1) (response-body r1)))
(def p1 (value-of (fetch (http-post (str h1 "/echo") "body over 1.1"))))
(check-eq "HTTP/1.1: POST body round-trips" "body over 1.1" (response-body p1))
(def pu1 (value-of (fetch (http-put (str h1 "/echo") "put over 1.1"))))
(check-eq "HTTP/1.1: PUT body round-trips" "put over 1.1" (response-body pu1))
(check-eq "HTTP/1.1: DELETE" "h1 DELETE /thing" (value-of (fetch-text (http-delete (str h1 "/thing")))))
(def hd (value-of (fetch (http-request "HEAD" (str h1 "/head")))))
(check-eq "HTTP/1.1: HEAD has no body" (list 200 "") (list (response-status hd) (response-body hd)))
(def seq1 (map (fn (i) (response-status (value-of (fetch (str h1 "/seq" i))))) (range 0 10)))
(check-eq "HTTP/1.1: 10 sequential requests" (map (fn (_) 200) (range 0 10)) seq1)
(def par1 (value-of (fetch-all (map (fn (i) (str h1 "/par" i)) (range 0 20)))))
(check-eq "HTTP/1.1: 20 at once, in order" (map (fn (i) (str "h1 GET /par" i)) (range 0 20)) (map response-body par1))
(def rr (value-of (fetch (str h2c "/echo"))))
(check-eq "http:// to our h2c-only server without the option: 505, a normal response"
          (list 505 "1.1") (list (response-status rr) (response-http-version rr)))

; ---- TLS with a server that offers only http/1.1 by ALPN: falls back
(def t1 (value-of (fetch (str h1tls "/tls"))))
(check-eq "https:// falls back to HTTP/1.1 by ALPN" (list 200 "1.1" "h1 GET /tls")
          (list (response-status t1) (response-http-version t1) (response-body t1)))

; ---- content encoding, redirects
(def gz (value-of (fetch (str h1 "/gzip"))))
(check-eq "gzip bodies are decoded" (str/join (map (fn (_) "decompressed by the client ") (range 0 100)) "")
          (response-body gz))
(check-eq "... and the content-encoding header is kept" "gzip" (response-header gz "content-encoding"))
(def rd (value-of (fetch (str h1 "/redirect"))))
(check-eq "302 followed" (list 200 "h1 GET /target" (str h1 "/target"))
          (list (response-status rd) (response-body rd) (plist/get rd :url)))
(def nr (value-of (fetch (with-option (http-get (str h1 "/redirect")) :follow-redirects false))))
(check-eq "302 not followed with :follow-redirects false" (list 302 "/target")
          (list (response-status nr) (response-header nr "location")))
(check-failed "a redirect loop fails after 10" (fetch (str h1 "/loop")) (list "/loop" "redirects"))
(check-failed ":max-redirects 2" (fetch (with-option (http-get (str h1 "/loop")) :max-redirects 2))
              (list "Maximum (2) redirects"))
(done)
EOF

stop_server "$H2C"
finish
