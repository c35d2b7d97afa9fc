#!/usr/bin/env bash
# Files over HTTP (docs/http-server.md#files): http2/file and http2/static
# with curl over h2c and TLS: content types, lengths and bytes, HEAD, 304 on
# if-modified-since and if-none-match, byte ranges (206, 416), directory
# index, 404/403/405, traversal refused (.., encoded slashes, symlinks out of
# the root), and no file descriptor left open after downloads that finish or
# are cut off.
source "$(dirname "$0")/lib/common.sh"
make_cert
cd "$TMP" || exit 1

mkdir -p www/sub www/empty-dir
printf '<h1>home</h1>\n' >www/index.html
printf 'body{}\n' >www/sub/site.css
head -c 5000000 /dev/urandom >www/sub/data.bin
: >www/empty.txt
printf 'secret\n' >secret.txt
ln -s "$TMP/secret.txt" www/out-link
ln -s "$TMP/www/sub/site.css" www/in-link

start_server files <<EOF
(def static (http2/static "www"))
(def handler (fn (req)
  (let ((p (req/path req)))
    (cond
      ((== p "/one") (http2/file "secret.txt" (list :headers (list (list "cache-control" "no-store")))))
      ((== p "/typed") (http2/file "secret.txt" (list :content-type "application/x-secret")))
      ((== p "/missing") (http2/file "no-such-file"))
      ((== p "/badroot") ((http2/static "no-such-dir") req))
      ((== p "/204") (list :status 204 :body "must not be sent"))
      ((== p "/304") (list :status 304 :body "must not be sent"))
      (else (static req))))))
(def srv (http2/server-listen 0 handler {:host "127.0.0.1"}))
(def tls (http2/server-listen 0 "cert.pem" "key.pem" handler {:host "127.0.0.1"}))
(print (http2/server-port srv))
(print (http2/server-port tls))
(aio/run)
EOF
two_ports files
SPID=$SERVER_PID
C=(curl -sS --http2-prior-knowledge --max-time 30 --path-as-is)
U="http://127.0.0.1:$P_H2C"
fds() { ls "/proc/$SPID/fd" | wc -l; }
FDS0=$(fds)

get() {  # get PATH [curl options]: "code bytes type"
  local p=$1
  shift
  "${C[@]}" "$@" -o "$TMP/body" -w '%{http_code} %{size_download} %{content_type}' "$U$p"
}
check_eq "index of the root" "200 14 text/html; charset=utf-8" "$(get /)"
check_eq "a file by name" "200 14 text/html; charset=utf-8" "$(get /index.html)"
check_eq "css" "200 7 text/css; charset=utf-8" "$(get /sub/site.css)"
check_eq "5 MB binary" "200 5000000 application/octet-stream" "$(get /sub/data.bin)"
cmp -s "$TMP/body" www/sub/data.bin && pass "5 MB binary: the same bytes" || fail "5 MB binary differs"
check_eq "an empty file" "200 0 text/plain; charset=utf-8" "$(get /empty.txt)"
out=$(curl -sS --http2 --cacert "$TMP/cert.pem" --max-time 30 "https://127.0.0.1:$P_TLS/sub/data.bin" | sha256sum)
check_eq "5 MB over TLS: the same bytes" "$(sha256sum <www/sub/data.bin)" "$out"
check_eq "a symlink inside the root" "200 7 text/css; charset=utf-8" "$(get /in-link)"

hdr=$("${C[@]}" -D - -o /dev/null "$U/sub/site.css" | tr -d '\r')
has "content-length" "$hdr" "content-length: 7"
has "last-modified" "$hdr" "last-modified: "
has "etag" "$hdr" 'etag: W/"'
has "accept-ranges" "$hdr" "accept-ranges: bytes"
hdr=$("${C[@]}" -I "$U/sub/data.bin" | tr -d '\r')
has "HEAD: the length of the file" "$hdr" "content-length: 5000000"
check_eq "HEAD: no body" "200 0" "$("${C[@]}" -I -o /dev/null -w '%{http_code} %{size_download}' "$U/sub/data.bin")"

# ---- conditional requests -----------------------------------------------------------
lm=$(sed -n 's/^last-modified: //p' <<<"$hdr")
etag=$("${C[@]}" -D - -o /dev/null "$U/sub/data.bin" | tr -d '\r' | sed -n 's/^etag: //p')
check_eq "if-modified-since the file's date: 304" "304 0" "$(get /sub/data.bin -H "if-modified-since: $lm" | cut -d' ' -f1-2)"
check_eq "if-modified-since long ago: 200" "200 5000000" \
  "$(get /sub/data.bin -H 'if-modified-since: Mon, 01 Jan 2001 00:00:00 GMT' | cut -d' ' -f1-2)"
check_eq "if-none-match the etag: 304" "304 0" "$(get /sub/data.bin -H "if-none-match: $etag" | cut -d' ' -f1-2)"
check_eq "if-none-match another etag: 200" "200 5000000" "$(get /sub/data.bin -H 'if-none-match: "nope"' | cut -d' ' -f1-2)"
check_eq "a malformed date is ignored" "200 5000000" "$(get /sub/data.bin -H 'if-modified-since: yesterday' | cut -d' ' -f1-2)"

# ---- ranges -----------------------------------------------------------------------
check_eq "bytes=10-19" "206 10" "$(get /sub/data.bin -r 10-19 | cut -d' ' -f1-2)"
cmp -s "$TMP/body" <(tail -c +11 www/sub/data.bin | head -c 10) && pass "bytes=10-19: the right bytes" || fail "bytes=10-19: wrong bytes"
check_eq "the last 100 bytes" "206 100" "$(get /sub/data.bin -H 'range: bytes=-100' | cut -d' ' -f1-2)"
cmp -s "$TMP/body" <(tail -c 100 www/sub/data.bin) && pass "bytes=-100: the right bytes" || fail "bytes=-100: wrong bytes"
check_eq "an open range" "206 1000" "$(get /sub/data.bin -r 4999000- | cut -d' ' -f1-2)"
hdr=$("${C[@]}" -D - -o /dev/null -r 0-0 "$U/sub/data.bin" | tr -d '\r')
has "content-range" "$hdr" "content-range: bytes 0-0/5000000"
check_eq "a range past the end: 416" "416" "$(get /sub/data.bin -r 6000000-7000000 | cut -d' ' -f1)"
hdr=$("${C[@]}" -D - -o /dev/null -r 6000000- "$U/sub/data.bin" | tr -d '\r')
has "416 says the size" "$hdr" "content-range: bytes */5000000"
check_eq "several ranges: the whole file" "200 5000000" "$(get /sub/data.bin -r 0-1,5-6 | cut -d' ' -f1-2)"
check_eq "if-range of another date: the whole file" "200 5000000" \
  "$(get /sub/data.bin -r 0-9 -H 'if-range: Mon, 01 Jan 2001 00:00:00 GMT' | cut -d' ' -f1-2)"

# ---- refusals ------------------------------------------------------------------------
check_eq "missing: 404" "404" "$(get /nope.txt | cut -d' ' -f1)"
check_eq "a directory without index: 404" "404" "$(get /empty-dir/ | cut -d' ' -f1)"
check_eq "..: 403" "403" "$(get /../secret.txt | cut -d' ' -f1)"
check_eq "sub/../..: 403" "403" "$(get /sub/../../secret.txt | cut -d' ' -f1)"
check_eq "%2e%2e: 403" "403" "$(get /%2e%2e/secret.txt | cut -d' ' -f1)"
check_eq "an encoded slash: 403" "403" "$(get /sub%2fsite.css | cut -d' ' -f1)"
check_eq "an encoded backslash: 403" "403" "$(get /..%5csecret.txt | cut -d' ' -f1)"
check_eq "a NUL: 400" "400" "$(get /index.html%00.txt | cut -d' ' -f1)"
check_eq "a symlink out of the root: 403" "403" "$(get /out-link | cut -d' ' -f1)"
[ "$(cat "$TMP/body")" != "secret" ] && pass "the secret was not sent" || fail "the secret was sent"
check_eq "POST: 405" "405" "$(get / -X POST | cut -d' ' -f1)"
has "405 says what is allowed" "$("${C[@]}" -X POST -D - -o /dev/null "$U/" | tr -d '\r')" "allow: GET, HEAD"

# ---- http2/file ----------------------------------------------------------------------
check_eq "http2/file" "200 7 text/plain; charset=utf-8" "$(get /one)"
has "http2/file with the handler's headers" "$("${C[@]}" -D - -o /dev/null "$U/one" | tr -d '\r')" "cache-control: no-store"
check_eq "http2/file with a content type" "200 7 application/x-secret" "$(get /typed)"
check_eq "http2/file of a missing file: 404" "404" "$(get /missing | cut -d' ' -f1)"
check_eq "a static root that does not exist: 500" "500" "$(get /badroot | cut -d' ' -f1)"

# ---- statuses without a body (a body sent anyway was a client protocol error) ----------
check_eq "204 drops the handler's body" "204 0" "$("${C[@]}" -o /dev/null -w '%{http_code} %{size_download}' "$U/204")"
check_eq "304 drops the handler's body" "304 0" "$("${C[@]}" -o /dev/null -w '%{http_code} %{size_download}' "$U/304")"
hdr=$("${C[@]}" -D - -o /dev/null "$U/204" | tr -d '\r')
[[ "$hdr" != *content-length* ]] && pass "204 has no content-length" || fail "204 sent content-length: $hdr"

# ---- no descriptor outlives its response --------------------------------------------
for i in 1 2 3 4 5 6 7 8; do
  "${C[@]}" --limit-rate 200k --max-time 0.3 -o /dev/null "$U/sub/data.bin" 2>/dev/null
done
for i in 1 2 3 4 5 6 7 8; do "${C[@]}" -o /dev/null "$U/sub/data.bin"; done
sleep 0.5
check_eq "file descriptors after 16 downloads, 8 cut off" "$FDS0" "$(fds)"
alive "$SPID" && pass "the server is still running" || fail "the server died"
finish
