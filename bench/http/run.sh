#!/usr/bin/env bash
# HTTP/2 server benchmark: the hello server (bench/http/hello_server.valk)
# against nghttpd serving the same 13 bytes and against a Node.js http2
# server with the same handler (bench/http/hello_node.js), all over TLS
# (ALPN h2), each loaded with
#
#   h2load -n 60000 -c 16 -m 32 -t 1 https://127.0.0.1:PORT/
#
# Usage: bench/http/run.sh [RUNS]     (default 3 runs per server; medians reported)
# Environment:
#   VALK=path        Valkyria binary (default: build/valk in the repo root)
#   NODE=cmd         Node.js (default: node)
#   NGHTTPD=cmd      nghttpd (default: nghttpd; Debian package nghttp2-server)
#   H2LOAD=cmd       h2load (default: h2load; Debian package nghttp2-client)
#   IDLE_N=n         idle connections for the memory measurement (default 1000)
#   WORKERS="1 2"    worker counts for the scaling part (default: 1 .. nproc);
#                    skipped when `valk --help` does not list --workers
#   ONLY="valk node" run only these servers (nghttpd node valk; default all)
#
# For each server: start it, check that GET / answers "Hello, World!", one
# warm-up h2load run (-n 10000), then RUNS measured runs with the command
# above plus --log-file. Reported: requests/s (h2load's "finished in ...,
# N req/s"), median of the runs; p99 latency: the 99th percentile
# (nearest rank) of the per-request durations in the --log-file (third
# column, microseconds from request start to end of response), median of the
# runs' p99s; mean "time for request" as h2load prints it; the server's CPU
# time (user + system, /proc/PID/stat) over the measured runs divided by the
# requests, which is less disturbed by other load on the machine than
# requests/s. A run that does not end with all 60000 requests succeeded with
# 2xx counts as failed.
#
# Memory per idle connection: a fresh server, VmRSS before and after
# bench/http/idle_conns.py opens IDLE_N TLS connections that each made one
# request and stay open, (after - before) / IDLE_N. The same for valk
# without TLS (bench/http/hello_h2c.valk) shows how much of it is TLS.
#
# Progress goes to stderr, the report (markdown) to stdout. Exit status 1
# if a server could not be started or a run failed.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/http"
RUNS=${1:-3}
case "$RUNS" in -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;; esac
case "$RUNS" in ''|*[!0-9]*|0) echo "run.sh: RUNS must be a positive number" >&2; exit 2 ;; esac

VALK=${VALK:-$ROOT/build/valk}
case "$VALK" in /*) ;; */*) VALK="$PWD/$VALK" ;; esac
NODE=${NODE:-node}
NGHTTPD=${NGHTTPD:-nghttpd}
H2LOAD=${H2LOAD:-h2load}
IDLE_N=${IDLE_N:-1000}
ONLY=${ONLY:-nghttpd node valk}
N=60000 C=16 M=32 T=1
STATUS=0

log() { echo "$@" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

for tool in "$H2LOAD" openssl curl python3; do
  have "$tool" || { log "run.sh: $tool is needed"; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/valk-h2bench.XXXXXX")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# A self-signed certificate, and the 13 bytes for nghttpd to serve as /.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
  -days 2 -subj /CN=localhost >/dev/null 2>&1 || { log "run.sh: openssl failed"; exit 1; }
mkdir -p "$TMP/www"
printf 'Hello, World!' >"$TMP/www/index.html"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME PORT [WORKERS]: starts it in the background (SERVER_PID)
# and waits until GET / answers "Hello, World!" (10 s at most).
start_server() {
  local name=$1 port=$2 workers=${3:-}
  case "$name" in
    nghttpd) "$NGHTTPD" -d "$TMP/www" "$port" "$TMP/key.pem" "$TMP/cert.pem" >"$TMP/server.log" 2>&1 & ;;
    node)    "$NODE" "$HERE/hello_node.js" "$port" "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/server.log" 2>&1 & ;;
    valk)
      if [ -n "$workers" ]; then
        "$VALK" --workers "$workers" "$HERE/hello_server.valk" "$port" "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/server.log" 2>&1 &
      else
        "$VALK" "$HERE/hello_server.valk" "$port" "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/server.log" 2>&1 &
      fi ;;
    valk-h2c) "$VALK" "$HERE/hello_h2c.valk" "$port" >"$TMP/server.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  local i body url="https://127.0.0.1:$port/" how=--http2
  [ "$name" = valk-h2c ] && url="http://127.0.0.1:$port/" how=--http2-prior-knowledge
  for ((i = 0; i < 100; i++)); do
    body=$(curl -sk "$how" --max-time 2 "$url" 2>/dev/null)
    [ "$body" = "Hello, World!" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "run.sh: $name did not answer on port $port: $(head -c 300 "$TMP/server.log")"
  stop_server
  return 1
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
  fi
}

# p99 in ms of the third column of an h2load --log-file (nearest rank).
p99_ms() {
  cut -f3 "$1" | sort -n | awk '{a[NR] = $1} END {
    if (NR == 0) { print "-"; exit }
    i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1
    printf "%.2f\n", a[i] / 1000 }'
}

median() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) { print "-"; exit }
  if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

# utime + stime of a process (and its threads), in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# bench NAME [WORKERS]: sets RPS (median req/s), P99 (median p99 ms),
# MEAN (median of h2load's mean time for request), ALL (each run's req/s),
# CPU (server CPU microseconds per request over the measured runs).
bench() {
  local name=$1 workers=${2:-} port i out rps p99 mean
  RPS="-" P99="-" MEAN="-" ALL=""
  port=$(free_port)
  start_server "$name" "$port" "$workers" || { STATUS=1; return 1; }
  local url="https://127.0.0.1:$port/"
  "$H2LOAD" -n 10000 -c "$C" -m "$M" -t "$T" "$url" >/dev/null 2>&1   # warm-up
  : >"$TMP/rps"; : >"$TMP/p99"; : >"$TMP/mean"
  local cpu0 ok=0
  cpu0=$(cpu_ticks "$SERVER_PID")
  for ((i = 1; i <= RUNS; i++)); do
    rm -f "$TMP/req.log"   # h2load appends to an existing log file
    out=$("$H2LOAD" -n "$N" -c "$C" -m "$M" -t "$T" --log-file "$TMP/req.log" "$url" 2>&1)
    if ! grep -q "requests: $N total, $N started, $N done, $N succeeded" <<<"$out" ||
       ! grep -q "status codes: $N 2xx" <<<"$out"; then
      log "run.sh: $name${workers:+ --workers $workers} run $i failed:"
      log "$(grep -E '^(requests|status codes)' <<<"$out")"
      STATUS=1
      continue
    fi
    rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
    mean=$(awk '/^time for request:/ { v = $6; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
      else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
      printf "%.2f\n", v }' <<<"$out")
    if [ "$(wc -l <"$TMP/req.log")" -ne "$N" ]; then
      log "run.sh: $name run $i: the log file has $(wc -l <"$TMP/req.log") lines, not $N"
      STATUS=1
      continue
    fi
    p99=$(p99_ms "$TMP/req.log")
    log "  $name${workers:+ --workers $workers} run $i: $rps req/s, p99 $p99 ms, mean $mean ms"
    echo "$rps" >>"$TMP/rps"; echo "$p99" >>"$TMP/p99"; echo "$mean" >>"$TMP/mean"
    ALL+="${ALL:+, }$(printf '%.0f' "$rps")"
    ok=$((ok + 1))
  done
  # Server CPU time (user + system) per request over the measured runs; with
  # --workers the CPU is in the worker processes, not measured here.
  CPU="-"
  if [ -z "$workers" ] && [ $ok -gt 0 ]; then
    CPU=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$SERVER_PID")" -v hz="$(getconf CLK_TCK)" -v n=$((ok * N)) \
      'BEGIN { printf "%.1f\n", (b - a) / hz * 1e6 / n }')
  fi
  stop_server
  RPS=$(median <"$TMP/rps"); P99=$(median <"$TMP/p99"); MEAN=$(median <"$TMP/mean")
}

# idle_mem NAME: sets IDLE (bytes per idle connection) and IDLE_RAW.
idle_mem() {
  local name=$1 port line
  IDLE="-" IDLE_RAW=""
  port=$(free_port)
  start_server "$name" "$port" || { STATUS=1; return 1; }
  # nghttpd serves in the process it was started as; node and valk too.
  local h2c=""
  [ "$name" = valk-h2c ] && h2c=--h2c
  if line=$(python3 "$HERE/idle_conns.py" "$SERVER_PID" "$port" "$IDLE_N" $h2c 2>"$TMP/idle.err"); then
    IDLE=$(awk '{print $4}' <<<"$line")
    IDLE_RAW=$(awk '{printf "%s -> %s KiB", $1, $2}' <<<"$line")
    log "  $name: $IDLE_N idle connections: $IDLE_RAW, $IDLE B each"
  else
    log "run.sh: idle connections to $name failed: $(tail -3 "$TMP/idle.err")"
    STATUS=1
  fi
  stop_server
}

fmt() { [ "$1" = "-" ] && echo "-" || printf '%.0f' "$1"; }

# ---- machine -----------------------------------------------------------------------------

echo "### Machine"
echo
echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), nproc = $(nproc)"
echo "- Kernel: $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- Valkyria: $("$VALK" --version 2>&1 | head -1) ($VALK)"
have "$NGHTTPD" && echo "- nghttpd: $("$NGHTTPD" --version 2>&1 | head -1)"
have "$NODE" && echo "- Node.js: $("$NODE" --version 2>&1)"
echo "- h2load: $("$H2LOAD" --version 2>&1 | head -1); $(openssl version)"
echo "- Load: \`h2load -n $N -c $C -m $M -t $T --log-file LOG https://127.0.0.1:PORT/\`, 1 warm-up run (-n 10000), then $RUNS runs per server"
echo

# ---- throughput and latency --------------------------------------------------------------

declare -A R_RPS R_P99 R_MEAN R_ALL R_CPU R_IDLE
for s in nghttpd node valk; do
  case " $ONLY " in *" $s "*) ;; *) continue ;; esac
  case "$s" in
    nghttpd) have "$NGHTTPD" || { log "run.sh: $NGHTTPD not found, skipped"; continue; } ;;
    node) have "$NODE" || { log "run.sh: $NODE not found, skipped"; continue; } ;;
    valk) [ -x "$VALK" ] || { log "run.sh: $VALK not found"; STATUS=1; continue; } ;;
  esac
  log "== $s"
  bench "$s"
  R_RPS[$s]=$RPS R_P99[$s]=$P99 R_MEAN[$s]=$MEAN R_ALL[$s]=$ALL R_CPU[$s]=$CPU
done

echo "### Requests per second and latency (TLS, median of $RUNS runs)"
echo
echo "| server | req/s (median) | each run | p99 ms | mean ms | server CPU µs/req |"
echo "|:---|---:|:---|---:|---:|---:|"
for s in nghttpd node valk; do
  [ -n "${R_RPS[$s]:-}" ] || continue
  echo "| $s | $(fmt "${R_RPS[$s]}") | ${R_ALL[$s]} | ${R_P99[$s]} | ${R_MEAN[$s]} | ${R_CPU[$s]} |"
done
echo
V=${R_RPS[valk]:--}
echo "- valk / nghttpd: $(ratio "$V" "${R_RPS[nghttpd]:--}") (req/s)"
echo "- valk / node: $(ratio "$V" "${R_RPS[node]:--}") (req/s)"
echo "- server CPU per request, valk / nghttpd: $(ratio "${R_CPU[valk]:--}" "${R_CPU[nghttpd]:--}")"
echo

# ---- scaling with --workers ----------------------------------------------------------------

case " $ONLY " in *" valk "*) DO_VALK=1 ;; *) DO_VALK=0 ;; esac
if [ $DO_VALK -eq 1 ] && "$VALK" --help 2>&1 | grep -q -- '--workers'; then
  WORKERS=${WORKERS:-$(seq 1 "$(nproc)" | tr '\n' ' ')}
  echo "### Scaling with \`valk --workers W\` (median of $RUNS runs)"
  echo
  echo "| workers | req/s | p99 ms | vs 1 worker |"
  echo "|---:|---:|---:|---:|"
  BASE=""
  for w in $WORKERS; do
    log "== valk --workers $w"
    bench valk "$w"
    [ -z "$BASE" ] && BASE=$RPS
    echo "| $w | $(fmt "$RPS") | $P99 | $(ratio "$RPS" "$BASE") |"
  done
  echo
  echo "h2load runs with -t $T (one client thread, one core) on a machine with $(nproc) cores, so"
  echo "the client's core is not available to the workers."
  echo
elif [ $DO_VALK -eq 1 ]; then
  echo "### Scaling with --workers"
  echo
  echo "Skipped: \`valk --help\` does not list --workers."
  echo
fi

# ---- memory per idle connection ----------------------------------------------------------

echo "### Memory per idle connection ($IDLE_N TLS connections, one request each, then idle)"
echo
echo "| server | VmRSS before -> after | bytes per connection |"
echo "|:---|:---|---:|"
for s in valk nghttpd node valk-h2c; do
  case " $ONLY " in *" ${s%-h2c} "*) ;; *) continue ;; esac
  case "$s" in
    nghttpd) have "$NGHTTPD" || continue ;;
    node) have "$NODE" || continue ;;
    valk*) [ -x "$VALK" ] || continue ;;
  esac
  log "== idle connections: $s"
  idle_mem "$s"
  R_IDLE[$s]=$IDLE
  label=$s
  [ "$s" = valk-h2c ] && label="valk, h2c (no TLS; for the split only)"
  echo "| $label | $IDLE_RAW | $(fmt "$IDLE") |"
done
echo

# ---- targets -------------------------------------------------------------------------------

if [ -n "${R_RPS[valk]:-}" ]; then
  echo "### Targets"
  echo
  pass() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { if (a == "-" || b == "-") print "n/a";
    else if ((op == ">=" && a >= b) || (op == "<" && a < b)) print "PASS"; else print "FAIL" }'; }
  echo "- at least nghttpd's requests/s with one worker: $(pass "${R_RPS[valk]}" "${R_RPS[nghttpd]:--}" ">=") (valk/nghttpd = $(ratio "${R_RPS[valk]}" "${R_RPS[nghttpd]:--}"))"
  echo "- p99 latency reported: valk ${R_P99[valk]} ms"
  echo "- memory per idle connection under 32 KB: $(pass "${R_IDLE[valk]:--}" 32768 "<") (${R_IDLE[valk]:--} B)"
fi

exit $STATUS
