#!/usr/bin/env bash
# The HTTP client against nghttpd (Debian's nghttp2-server) serving files over
# TLS with a certificate from a test CA: fetch, fetch-text, fetch-with-request,
# fetch-all, status codes, a 50 MB file, verification failing without the
# right CA and succeeding with SSL_CERT_FILE (or :ca-file), the loudly named
# opt-out, and one connection for all of it.
source "$(dirname "$0")/client/lib.sh"

make_pki
WWW=$TMP/www
mkdir -p "$WWW/sub" "$WWW/files"
printf 'hello from nghttpd\n' >"$WWW/hello.txt"
printf 'index of sub\n' >"$WWW/sub/index.html"
for i in $(seq 0 49); do printf 'file %d\n' "$i" >"$WWW/files/f$i.txt"; done
BIG_BYTES=$((50 * 1024 * 1024))
head -c "$BIG_BYTES" /dev/urandom >"$WWW/big.bin"
start_nghttpd "$WWW"
BASE=https://localhost:$NGHTTPD_PORT

run_client nghttpd -u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/ca.pem" "BASE=$BASE" "BIG_BYTES=$BIG_BYTES" <<'EOF'
(def base (getenv "BASE"))
(fun (url p) (str base p))

; fetch: a response plist
(def r (value-of (fetch (url "/hello.txt"))))
(check-eq "fetch: status" 200 (response-status r))
(check-eq "fetch: body" "hello from nghttpd\n" (response-body r))
(check-eq "fetch: HTTP/2 negotiated by ALPN" "2" (response-http-version r))
(check "fetch: response-ok?" (response-ok? r) (%short r))
(check-eq "fetch: response-header, any case" "19" (response-header r "Content-Length"))
(check-eq "fetch: response-header by keyword" "19" (response-header r :content-length))
(check "fetch: header names are lower case" (str/starts-with? (response-header r "server") "nghttpd")
       (%short (response-headers r)))
(check-eq "fetch: :url" (url "/hello.txt") (plist/get r :url))

; fetch-text, fetch-with-request
(check-eq "fetch-text" "hello from nghttpd\n" (value-of (fetch-text (url "/hello.txt"))))
(def req (-> (http-get (url "/hello.txt")) (with-header "Accept" "text/plain")))
(check-eq "fetch-with-request" "hello from nghttpd\n" (response-body (value-of (fetch-with-request req))))
(check-eq "fetch-text of a request" "hello from nghttpd\n" (value-of (fetch-text req)))

; fetch-all: 50 files at once, answers in input order
(def rs (value-of (fetch-all (map (fn (i) (url (str "/files/f" i ".txt"))) (range 0 50)))))
(check-eq "fetch-all: 50 responses" 50 (len rs))
(check-eq "fetch-all: bodies in input order" (map (fn (i) (str "file " i "\n")) (range 0 50))
          (map response-body rs))
(check "fetch-all: every one over HTTP/2" (all? (fn (x) (== "2" (response-http-version x))) rs) "")
(check-eq "fetch-all of ()" () (value-of (fetch-all ())))
(def mixed (value-of (fetch-all (list (url "/hello.txt") (http-get (url "/missing")) req))))
(check-eq "fetch-all: URLs and requests mixed, a 404 among them" (list 200 404 200)
          (map response-status mixed))

; status codes: non-2xx complete normally
(def h404 (fetch (url "/missing")))
(def nf (value-of h404))
(check-eq "404: the handle completes" :completed (aio/status h404))
(check-eq "404: status" 404 (response-status nf))
(check "404: not response-ok?" (not (response-ok? nf)) "")
(def moved (value-of (fetch (url "/sub"))))
(check-eq "301: followed by default" 200 (response-status moved))
(check-eq "301: body of the target" "index of sub\n" (response-body moved))
(check-eq "301: :url is where it ended" (url "/sub/") (plist/get moved :url))
(def unfollowed (value-of (fetch (with-option (http-get (url "/sub")) :follow-redirects false))))
(check-eq "301: not followed with :follow-redirects false" 301 (response-status unfollowed))
(check-eq "301: location header" (url "/sub/") (response-header unfollowed "location"))
(def nm (value-of (fetch (with-header (http-get (url "/hello.txt"))
                                      "If-Modified-Since" "Fri, 01 Jan 2100 00:00:00 GMT"))))
(check-eq "304 Not Modified" 304 (response-status nm))
(check-eq "304: empty body" "" (response-body nm))
(def head-r (value-of (fetch (http-request "HEAD" (url "/hello.txt")))))
(check-eq "HEAD: status" 200 (response-status head-r))
(check-eq "HEAD: no body" "" (response-body head-r))
(check-eq "HEAD: content-length" "19" (response-header head-r "content-length"))

; a 50 MB file
(def t0 (time-us))
(def big (value-of (fetch (url "/big.bin"))))
(def ms (/ (- (time-us) t0) 1000))
(check-eq "50 MB: status" 200 (response-status big))
(check-eq "50 MB: every byte arrived" (str->num (getenv "BIG_BYTES")) (len (response-body big)))
(write-file "big.out" (response-body big))
(print (str "note: 50 MB in " ms " ms"))
(check "metrics: client bytes in count the 50 MB"
       (>= (metric :client-bytes-in-total) (str->num (getenv "BIG_BYTES"))) (metric :client-bytes-in-total))

; everything above went over one connection
(check-eq "one pooled connection for all of it" 1 (metric :client-connections-pooled))
(check "metrics: client requests counted" (>= (metric :client-requests-total) 60) (metric :client-requests-total))
(done)
EOF
if cmp -s "$TMP/big.out" "$WWW/big.bin"; then pass "50 MB: the body is byte for byte the file"; else
  fail "50 MB: the body written by the client differs from the file"; fi
rm -f "$TMP/big.out"

# Without the test CA the certificate cannot be verified: a failed handle.
run_client no_ca -u SSL_CERT_FILE "BASE=$BASE" "CA=$PKI/ca.pem" <<'EOF'
(def base (getenv "BASE"))
(def h (fetch (str base "/hello.txt")))
(check-failed "without the CA: verification fails" h
              (list "TLS failure" "/hello.txt" "certificate"))
(print (str "note: " (error-message (aio/error h))))
(check-eq "metrics: counted as a tls error" (list (list :kind "tls" :value 1)) (metric :client-errors-total))
; the opt-out, loudly named, for local testing
(def ins (value-of (fetch (with-insecure-skip-tls-verify (http-get (str base "/hello.txt"))))))
(check-eq "with-insecure-skip-tls-verify: fetched anyway" "hello from nghttpd\n" (response-body ins))
; another request without the opt-out still verifies (no state leaks between requests)
(check-failed "verification is per request: the next one still fails" (fetch (str base "/hello.txt"))
              (list "TLS failure"))
; :ca-file names the bundle for one request
(def cf (value-of (fetch (with-option (http-get (str base "/hello.txt")) :ca-file (getenv "CA")))))
(check-eq "with-option :ca-file: verified with the test CA" 200 (response-status cf))
(done)
EOF

# SSL_CERT_FILE naming a bundle without the signing CA: still a failure.
run_client other_ca -u SSL_CERT_FILE "SSL_CERT_FILE=$PKI/other-ca.pem" "BASE=$BASE" <<'EOF'
(check-failed "SSL_CERT_FILE with another CA: verification fails"
              (fetch (str (getenv "BASE") "/hello.txt")) (list "TLS failure" "certificate"))
(done)
EOF

stop_server "$NGHTTPD_PID"
finish
