# shellcheck shell=bash disable=SC2034
# Shared helpers for the HTTP/2 server tests (sourced, not run: it lives in
# lib/ so that scripts/run-tests.sh, which runs tests/http/*.sh, leaves it out).
#
#   source "$(dirname "$0")/lib/common.sh"
#   make_cert                          # $TMP/cert.pem, $TMP/key.pem (self-signed, 127.0.0.1)
#   start_server NAME <<'EOF'          # runs a .valk snippet in $TMP; it must print the
#   (def srv (http2/server-listen 0 handler {:host "127.0.0.1"}))   # port as its first line
#   (print (http2/server-port srv))
#   (aio/run)
#   EOF
#   # -> $SERVER_PID, $SERVER_PORT; stdout in $TMP/NAME.out, stderr in $TMP/NAME.err
#   stop_server "$SERVER_PID"
#
# Every server started here is killed by the EXIT trap; $TMP is removed
# unless VALK_HTTP_KEEP=1. fail() records a
# failure and carries on; finish prints the verdict and exits with it.
set -uo pipefail
: "${VALK:?set VALK to the valk binary}"
case "$VALK" in /*) ;; *) VALK="$PWD/$VALK" ;; esac
[ -x "$VALK" ] || { echo "FAIL: VALK=$VALK is not an executable" >&2; exit 1; }
HTTP_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)  # tests/http
H2ATTACK="$HTTP_TESTS_DIR/h2attack.py"

for tool in curl nghttp h2load python3 openssl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is required for the HTTP tests" >&2; exit 1; }
done

FAILED=0
SERVER_PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/valk-http.XXXXXX")

cleanup() {
  local p
  for p in "${SERVER_PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null
  done
  # Background clients (curl, nghttp, h2load, python) started by the script.
  local jobs_left
  jobs_left=$(jobs -p)
  [ -n "$jobs_left" ] && kill $jobs_left 2>/dev/null
  wait 2>/dev/null
  if [ -n "${VALK_HTTP_KEEP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; FAILED=1; }
pass() { echo "ok: $*"; }
check_eq() {  # check_eq WHAT EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
has() {  # has WHAT HAYSTACK NEEDLE
  case "$2" in *"$3"*) pass "$1" ;; *) fail "$1: expected to find [$3] in [$(head -c 600 <<<"$2")]" ;; esac
}
finish() {
  if [ "$FAILED" -eq 0 ]; then echo "PASS: $(basename "$0")"; exit 0; fi
  echo "FAILED: $(basename "$0") (see FAIL lines above)" >&2
  exit 1
}

# An ASan/UBSan build is several times slower and keeps freed memory in
# quarantine, so loads are scaled down and resident-memory bounds relaxed.
IS_ASAN=0
if grep -q '__asan_init' "$VALK" 2>/dev/null; then IS_ASAN=1; fi
scale() {  # scale N: N for a release build, N/5 (at least 1) under ASan
  if [ "$IS_ASAN" -eq 1 ]; then local n=$(($1 / 5)); echo $((n > 0 ? n : 1)); else echo "$1"; fi
}

make_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 ||
    { echo "FAIL: openssl could not make a certificate" >&2; exit 1; }
}

# start_server NAME: the snippet on stdin is written to $TMP/NAME.valk and run
# from $TMP; waits (up to 20 s) for the port on the first stdout line.
# two_ports NAME: waits for a server started with start_server NAME that
# printed two ports (h2c, then TLS); sets P_H2C and P_TLS.
two_ports() {
  local i
  for ((i = 0; i < 100; i++)); do [ "$(wc -l <"$1.out")" -ge 2 ] && break; sleep 0.05; done
  P_H2C=$(sed -n 1p "$1.out")
  P_TLS=$(sed -n 2p "$1.out")
}

start_server() {
  local name=$1
  cat >"$TMP/$name.valk"
  (cd "$TMP" && exec "$VALK" "$name.valk" >"$TMP/$name.out" 2>"$TMP/$name.err") &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  SERVER_PORT=
  local i line
  for ((i = 0; i < 400; i++)); do
    line=$(head -n 1 "$TMP/$name.out" 2>/dev/null)
    if [[ "$line" =~ ^[0-9]+$ ]]; then SERVER_PORT=$line; return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "FAIL: server $name did not report its port. stdout:" >&2
  cat "$TMP/$name.out" >&2
  echo "stderr:" >&2
  cat "$TMP/$name.err" >&2
  exit 1
}

# stop_server PID: TERM, then KILL after 3 s.
stop_server() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

alive() { kill -0 "$1" 2>/dev/null; }

# server_died WHAT PID ERRFILE: fails WHAT with how the server process ended
# (exit status or signal) and the informative end of its stderr (handler
# error lines left out).
server_died() {
  local what=$1 pid=$2 err=$3 st how
  wait "$pid" 2>/dev/null; st=$?
  if [ "$st" -gt 128 ]; then how="killed by signal $((st - 128))"; else how="exit status $st"; fi
  fail "$what: the server died ($how); stderr:
$(grep -v '^valk: http2: handler for ' "$err" 2>/dev/null | grep -E -A12 'Sanitizer|runtime error|ERROR' | head -40)
$(grep -v '^valk: http2: handler for ' "$err" 2>/dev/null | tail -5)"
}

# wait_exit PID SECONDS: 0 when the process exits in time (its status in $EXIT_STATUS).
wait_exit() {
  local pid=$1 secs=$2 i
  EXIT_STATUS=
  for ((i = 0; i < secs * 20; i++)); do
    if ! alive "$pid"; then wait "$pid" 2>/dev/null; EXIT_STATUS=$?; return 0; fi
    sleep 0.05
  done
  return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# check_rss WHAT PID BASELINE_KB [LIMIT_MB]: resident memory back near its
# baseline (waits up to 5 s for it to settle). Under ASan only reported.
check_rss() {
  local what=$1 pid=$2 base=$3 limit=${4:-30} now i tries=10
  [ "$IS_ASAN" -eq 1 ] && tries=1
  for ((i = 0; i < tries; i++)); do
    now=$(rss_kb "$pid")
    [ $((now - base)) -le $((limit * 1024)) ] && break
    sleep 0.5
  done
  local grow=$(((now - base) / 1024))
  if [ "$IS_ASAN" -eq 1 ]; then
    echo "note: $what: RSS ${now} kB (baseline ${base} kB, +${grow} MB; not checked under ASan)"
  elif [ $((now - base)) -le $((limit * 1024)) ]; then
    pass "$what: RSS ${now} kB, baseline ${base} kB (+${grow} MB, limit ${limit} MB)"
  else
    fail "$what: RSS ${now} kB grew by ${grow} MB over the baseline ${base} kB (limit ${limit} MB)"
  fi
}

# Clients. Each prints the body and sets nothing; callers check $?.
CURL=(curl -sS --max-time 20)
h2c_get() { "${CURL[@]}" --http2-prior-knowledge "http://127.0.0.1:$1$2"; }
tls_get() { "${CURL[@]}" --http2 --cacert "$TMP/cert.pem" "https://127.0.0.1:$1$2"; }

# server_answers WHAT URL_BASE: a normal request gets 200 (h2c or https URL base).
server_answers() {
  local what=$1 base=$2 code
  if [[ "$base" == https:* ]]; then
    code=$("${CURL[@]}" --http2 --cacert "$TMP/cert.pem" -o /dev/null -w '%{http_code} %{http_version}' "$base/")
  else
    code=$("${CURL[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' "$base/")
  fi
  check_eq "$what: a normal request is answered" "200 2" "$code"
}
