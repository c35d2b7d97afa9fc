#!/usr/bin/env bash
# The HTTP client benchmark: 10,000 GETs of a small file (128 bytes) from a
# local nghttpd over TLS (HTTP/2, one connection), in batches of 100 awaited
# one after another:
#   valk   bench/client/fetch_batches.valk       fetch-all of 100 URLs per batch
#   node   bench/client/fetch_batches_node.js    http2 module, Promise.all of 100 streams
#   h2load -n 10000 -c 1 -m 100                  the upper bound (nghttp2's load generator)
# Each is run RUNS times (default 3); the median requests/s is reported, with
# the ratios valk/h2load and valk/node. Then valk's maximum resident memory
# (GNU time) for 10,000, 40,000 and 160,000 requests: it should not grow with
# the number of requests, only with the concurrency (100).
#
#   bench/client/run.sh [RUNS] [--markdown]
#   VALK=path NODE=cmd H2LOAD=cmd NGHTTPD=cmd bench/client/run.sh
#
# Requests/s for valk and node are measured inside the program, from before
# the first request (connection set-up included) to the last response; h2load
# reports its own (also from the connection's start). Progress goes to
# stderr, results to stdout; the exit status is 1 if a run failed.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/client
VALK=${VALK:-$ROOT/build/valk}
NODE=${NODE:-node}
H2LOAD=${H2LOAD:-h2load}
NGHTTPD=${NGHTTPD:-nghttpd}
RUNS=3
MARKDOWN=0
for arg in "$@"; do
  case "$arg" in
    --markdown) MARKDOWN=1 ;;
    [0-9]*) RUNS=$arg ;;
    *) echo "usage: $0 [RUNS] [--markdown]" >&2; exit 2 ;;
  esac
done
TOTAL=10000
BATCH=100
STATUS=0

for tool in "$VALK" "$NODE" "$H2LOAD" "$NGHTTPD" openssl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/valk-client-bench.XXXXXX")
NGHTTPD_PID=
cleanup() {
  [ -n "$NGHTTPD_PID" ] && kill "$NGHTTPD_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A CA and a certificate it signs for localhost: every client verifies it.
(
  cd "$TMP" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" &&
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost \
      -addext subjectAltName=DNS:localhost,IP:127.0.0.1 &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -copy_extensions copy -out server.pem
) >"$TMP/openssl.log" 2>&1 || { cat "$TMP/openssl.log" >&2; exit 1; }
mkdir -p "$TMP/www"
head -c 96 /dev/urandom | base64 -w0 >"$TMP/www/small.txt"  # 128 bytes
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$NGHTTPD" -a 127.0.0.1 -d "$TMP/www" "$PORT" "$TMP/server.key" "$TMP/server.pem" >"$TMP/nghttpd.log" 2>&1 &
NGHTTPD_PID=$!
for _ in $(seq 100); do
  curl -sf --cacert "$TMP/ca.pem" -o /dev/null "https://localhost:$PORT/small.txt" 2>/dev/null && break
  sleep 0.05
done
URL=https://localhost:$PORT/small.txt

median() { sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }  # field NAME < "a=1 NAME=2"

# run_prog NAME CMD...: RUNS runs; checks ok=TOTAL; prints the median rps.
run_prog() {
  local name=$1 i out rps=()
  shift
  for ((i = 1; i <= RUNS; i++)); do
    out=$("$@" 2>"$TMP/$name.err")
    if [ "$(field ok <<<"$out")" != "$TOTAL" ]; then
      echo "$name run $i FAILED: $out $(tail -3 "$TMP/$name.err")" >&2
      STATUS=1
      echo FAIL
      return
    fi
    echo "  $name run $i: $out" >&2
    rps+=("$(field rps <<<"$out")")
  done
  printf '%s\n' "${rps[@]}" | median
}

echo "valk: $VALK" >&2
VALK_RPS=$(run_prog valk env SSL_CERT_FILE="$TMP/ca.pem" "$VALK" "$HERE/fetch_batches.valk" "$URL" "$TOTAL" "$BATCH")
NODE_RPS=$(run_prog node env CA_FILE="$TMP/ca.pem" "$NODE" "$HERE/fetch_batches_node.js" "$URL" "$TOTAL" "$BATCH")
h2load_rps=()
for ((i = 1; i <= RUNS; i++)); do
  out=$("$H2LOAD" -n "$TOTAL" -c 1 -m "$BATCH" "$URL" 2>&1)
  if ! grep -q "$TOTAL succeeded" <<<"$out"; then
    echo "h2load run $i FAILED: $out" >&2
    STATUS=1
    continue
  fi
  r=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
  echo "  h2load run $i: $r req/s" >&2
  h2load_rps+=("${r%.*}")
done
H2LOAD_RPS=$( ((${#h2load_rps[@]})) && printf '%s\n' "${h2load_rps[@]}" | median || echo FAIL)

# Memory: valk's max RSS for growing totals, same concurrency.
rss() {  # rss N: the largest of RUNS max-RSS readings, in KiB
  local i best=0 m
  for ((i = 1; i <= RUNS; i++)); do
    m=$( { env SSL_CERT_FILE="$TMP/ca.pem" /usr/bin/time -f 'MAXRSS %M' "$VALK" "$HERE/fetch_batches.valk" \
      "$URL" "$1" "$BATCH" >/dev/null; } 2>&1 | sed -n 's/^MAXRSS //p')
    [ -n "$m" ] && [ "$m" -gt "$best" ] && best=$m
  done
  echo "$best"
}
RSS10=$(rss 10000)
RSS40=$(rss 40000)
RSS160=$(rss 160000)

ratio() { [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}' || echo "n/a"; }
R_H2LOAD=$(ratio "$VALK_RPS" "$H2LOAD_RPS")
R_NODE=$(ratio "$VALK_RPS" "$NODE_RPS")
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r != "n/a" && r + 0 >= t) ? "met" : "NOT met"}'; }

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
CURLV=$(python3 -c 'import ctypes; l = ctypes.CDLL("libcurl.so.4"); l.curl_version.restype = ctypes.c_char_p; print(l.curl_version().decode())' 2>/dev/null)
if [ "$MARKDOWN" -eq 1 ]; then
  cat <<EOF
Run on $(date -u '+%Y-%m-%d %H:%M UTC'): $CPU, $(nproc) CPUs, Linux $(uname -r); $($NODE --version | sed 's/^/Node.js /'),
$($H2LOAD --version | head -1), $CURLV. Median of $RUNS runs.

| client | requests/s | valk / client |
|---|---|---|
| valk \`fetch-all\`, batches of $BATCH | $VALK_RPS | |
| h2load -n $TOTAL -c 1 -m $BATCH (upper bound) | $H2LOAD_RPS | $R_H2LOAD |
| Node.js http2, batches of $BATCH | $NODE_RPS | $R_NODE |

| valk requests | max RSS |
|---|---|
| 10,000 | $((RSS10 / 1024)) MiB |
| 40,000 | $((RSS40 / 1024)) MiB |
| 160,000 | $((RSS160 / 1024)) MiB |

Targets: at least half of h2load's requests/s: $(verdict "$R_H2LOAD" 0.5) ($R_H2LOAD); faster than
Node.js: $(verdict "$R_NODE" 1.0) ($R_NODE).
EOF
else
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $CPU, $(nproc) CPUs, Linux $(uname -r)"
  echo "tools:   $($NODE --version), $($H2LOAD --version | head -1), $CURLV"
  printf '%-44s %12s %14s\n' "client ($TOTAL GETs, $BATCH at a time)" "requests/s" "valk / client"
  printf '%-44s %12s %14s\n' "valk fetch-all" "$VALK_RPS" ""
  printf '%-44s %12s %14s\n' "h2load -n $TOTAL -c 1 -m $BATCH" "$H2LOAD_RPS" "$R_H2LOAD"
  printf '%-44s %12s %14s\n' "node http2" "$NODE_RPS" "$R_NODE"
  echo "valk max RSS: 10,000 requests $RSS10 KiB, 40,000 $RSS40 KiB, 160,000 $RSS160 KiB"
  echo "targets: >= 0.5 of h2load: $(verdict "$R_H2LOAD" 0.5); faster than node: $(verdict "$R_NODE" 1.0)"
fi
exit "$STATUS"
