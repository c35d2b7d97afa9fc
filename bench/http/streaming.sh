#!/usr/bin/env bash
# Streaming benchmark (issue 10): streamed response bodies, Server-Sent
# Events and streamed uploads, Valkyria's HTTP/2 server side by side with
# nghttpd (and Node.js for SSE) in one run, over loopback.
#
# Usage: bench/http/streaming.sh [RUNS]    (default 3; medians reported)
# Environment:
#   VALK=path          Valkyria binary (default: build/valk in the repo root)
#   NGHTTPD, H2LOAD, NGHTTP, NODE   the peers and clients (default: on PATH)
#   SIZE=bytes         download and upload body size (default 1073741824, 1 GiB)
#   SSE_CLIENTS=n      SSE clients, one connection each (default 1000)
#   SSE_EVENTS=n       events broadcast to every client (default 500)
#   IDLE_CONNS=n IDLE_STREAMS=m   idle SSE streams: n connections x m streams
#                      (default 100 x 100; m at most 100, the server's
#                      :max-concurrent-streams)
#   SECTIONS="download sse idle upload"   a subset (default all)
#
# 1. Download: GET of a SIZE body, `h2load -n 1 -c 1 URL` (one connection, one
#    stream; h2load announces 2^30-1 byte windows, so flow control never
#    throttles the server), over h2c and TLS (ALPN h2). Servers:
#      valk-gen   bench/http/stream_server.valk /gen: the body produced in Lisp,
#                 64 KiB stream/writes, waiting for stream/drain when refused
#      valk-file  the same server's /file: (http2/file FILE)
#      nghttpd    `nghttpd [--no-tls] -d DIR PORT [KEY CERT]` serving FILE
#    Each server is started fresh per row; one warm-up run (which also
#    brings FILE into the page cache), then RUNS runs. GB/s = SIZE / the time
#    h2load reports ("finished in"), 10^9 bytes; median of the runs. A run
#    counts only if h2load reports 1 succeeded, a 2xx and SIZE bytes of data.
#    Server CPU (user + system from /proc/PID/stat, all threads) per GB over
#    the measured runs, and the server's VmHWM (peak RSS) at the end.
# 2. SSE fan-out: bench/http/sse_server.valk and bench/http/sse_node.js
#    (h2c), `h2load -n C -c C -m 1 URL/sse`: C clients (connections) each
#    open one event stream; when all C are open the server broadcasts
#    SSE_EVENTS ticks of one 24-byte event to every stream as fast as it
#    can (yielding to the loop between ticks), then ends every stream.
#    Events are counted by the server (sent = C x SSE_EVENTS, every send that
#    was accepted) and checked at the client: h2load must report C succeeded
#    and exactly C x SSE_EVENTS x 24 bytes of data. events/s = sent / the
#    server's time from the first tick until the last stream closed.
# 3. Idle SSE streams: a fresh server, bench/http/sse_idle.py opens
#    IDLE_CONNS x IDLE_STREAMS event streams that stay open and idle;
#    (VmRSS after - VmRSS before) / streams. min(RUNS, 3) runs, median.
# 4. Upload: a SIZE POST body, `h2load -n 1 -c 1 -d FILE URL`, h2c and TLS.
#    valk: stream_server.valk /up reads it with stream/read on
#    (req/body-stream req) (:stream-bodies true) and answers the byte count,
#    checked once with `nghttp -d FILE URL` (the warm-up run). nghttpd reads
#    and discards the body of a request for a 3-byte file; it runs twice: with
#    its default windows (64 KiB per stream) and with -w 20 -W 24 (1 MiB
#    stream, 16 MiB connection window), which are valk's windows.
#
# Progress goes to stderr, the report (markdown) to stdout. Exit status 1 if
# a server could not be started or a run failed.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/http"
RUNS=${1:-3}
case "$RUNS" in -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;; esac
case "$RUNS" in ''|*[!0-9]*|0) echo "streaming.sh: RUNS must be a positive number" >&2; exit 2 ;; esac

VALK=${VALK:-$ROOT/build/valk}
case "$VALK" in /*) ;; */*) VALK="$PWD/$VALK" ;; esac
NGHTTPD=${NGHTTPD:-nghttpd}
H2LOAD=${H2LOAD:-h2load}
NGHTTP=${NGHTTP:-nghttp}
NODE=${NODE:-node}
SIZE=${SIZE:-1073741824}
SSE_CLIENTS=${SSE_CLIENTS:-1000}
SSE_EVENTS=${SSE_EVENTS:-500}
IDLE_CONNS=${IDLE_CONNS:-100}
IDLE_STREAMS=${IDLE_STREAMS:-100}
SECTIONS=${SECTIONS:-download sse idle upload}
EVENT_BYTES=24   # "data: 0123456789abcdef\n\n"
STATUS=0

log() { echo "$@" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

for tool in "$H2LOAD" "$NGHTTP" openssl curl python3; do
  have "$tool" || { log "streaming.sh: $tool is needed"; exit 1; }
done
[ -x "$VALK" ] || { log "streaming.sh: $VALK not found (build it, or set VALK)"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/valk-streambench.XXXXXX")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
  -days 2 -subj /CN=localhost >/dev/null 2>&1 || { log "streaming.sh: openssl failed"; exit 1; }
mkdir -p "$TMP/www"
printf 'ok\n' >"$TMP/www/ready"
FILE="$TMP/www/big.bin"
if want download || want upload; then
  log "== writing a $SIZE-byte file"
  head -c "$SIZE" /dev/zero | tr '\0' 'x' >"$FILE" || { log "streaming.sh: cannot write $FILE"; exit 1; }
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

median() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) { print "-"; exit }
  if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
mb() { awk -v k="$1" 'BEGIN { if (k == "" || k == "-") print "-"; else printf "%.1f\n", k * 1024 / 1e6 }'; }

# start NAME PORT TRANSPORT [ARGS...]: starts a server in the background
# (SERVER_PID) and waits until GET /ready answers "ok" (10 s at most).
start() {
  local name=$1 port=$2 tr=$3
  shift 3
  local tls=()
  [ "$tr" = tls ] && tls=("$TMP/cert.pem" "$TMP/key.pem")
  case "$name" in
    valk)    "$VALK" "$HERE/stream_server.valk" "$port" "$FILE" "$SIZE" "${tls[@]}" >"$TMP/server.log" 2>&1 & ;;
    nghttpd)
      if [ "$tr" = tls ]; then
        "$NGHTTPD" "$@" -d "$TMP/www" "$port" "$TMP/key.pem" "$TMP/cert.pem" >"$TMP/server.log" 2>&1 &
      else
        "$NGHTTPD" "$@" --no-tls -d "$TMP/www" "$port" >"$TMP/server.log" 2>&1 &
      fi ;;
    valk-sse) "$VALK" "$HERE/sse_server.valk" "$port" "$@" >"$TMP/server.log" 2>&1 & ;;
    node-sse) "$NODE" "$HERE/sse_node.js" "$port" "$@" >"$TMP/server.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  local i body url how=(--http2-prior-knowledge)
  url="http://127.0.0.1:$port/ready"
  [ "$tr" = tls ] && url="https://127.0.0.1:$port/ready" how=(-k --http2)
  for ((i = 0; i < 100; i++)); do
    body=$(curl -s "${how[@]}" --max-time 2 "$url" 2>/dev/null)
    case "$body" in ok*) return 0 ;; esac
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "streaming.sh: $name ($tr) did not answer on port $port: $(head -c 300 "$TMP/server.log")"
  stop
  return 1
}

stop() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
  fi
}

# h2load_secs OUTPUT: the "finished in" time in seconds.
h2load_secs() {
  sed -n 's/^finished in \([0-9.]*\)\(ms\|s\),.*/\1 \2/p' <<<"$1" |
    awk '{ if ($2 == "ms") printf "%.6f\n", $1 / 1000; else printf "%.6f\n", $1 }'
}
h2load_data() { sed -n 's/^traffic: .*, [0-9.]*[KMGT]*B (\([0-9]*\)) data$/\1/p' <<<"$1"; }
h2load_ok() { # OUTPUT N: N requests succeeded with 2xx
  grep -q "requests: $2 total, $2 started, $2 done, $2 succeeded" <<<"$1" &&
    grep -q "status codes: $2 2xx" <<<"$1"
}

# transfer LABEL URL [h2load options]: one warm-up run, then RUNS runs of
# h2load -n 1 -c 1; sets GBS (median GB/s), ALL, CPUGB (server CPU s/GB), HWM (KiB).
# UPLOAD=1: the body is sent (-d FILE), the response data is not checked.
transfer() {
  local label=$1 url=$2 i out secs data cpu0 ok=0
  shift 2
  GBS="-" ALL="" CPUGB="-" HWM="-"
  timeout 300 "$H2LOAD" -n 1 -c 1 "$@" "$url" >/dev/null 2>&1   # warm-up
  : >"$TMP/gbs"
  cpu0=$(cpu_ticks "$SERVER_PID")
  for ((i = 1; i <= RUNS; i++)); do
    out=$(timeout 300 "$H2LOAD" -n 1 -c 1 "$@" "$url" 2>&1)
    data=$(h2load_data "$out")
    if ! h2load_ok "$out" 1 || { [ "${UPLOAD:-0}" = 0 ] && [ "$data" != "$SIZE" ]; }; then
      log "streaming.sh: $label run $i failed: $(grep -E '^(requests|status codes|traffic)' <<<"$out" | tr '\n' ' ')"
      STATUS=1
      continue
    fi
    secs=$(h2load_secs "$out")
    awk -v s="$secs" -v n="$SIZE" 'BEGIN { printf "%.3f\n", n / s / 1e9 }' >>"$TMP/gbs"
    log "  $label run $i: $secs s, $(tail -1 "$TMP/gbs") GB/s"
    ALL+="${ALL:+, }$(tail -1 "$TMP/gbs")"
    ok=$((ok + 1))
  done
  if [ $ok -gt 0 ]; then
    CPUGB=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$SERVER_PID")" -v hz="$(getconf CLK_TCK)" \
      -v gb="$(awk -v n="$SIZE" -v k=$ok 'BEGIN { print n * k / 1e9 }')" 'BEGIN { printf "%.2f\n", (b - a) / hz / gb }')
  fi
  HWM=$(status_kib "$SERVER_PID" VmHWM)
  GBS=$(median <"$TMP/gbs")
}

echo "### Machine"
echo
echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), nproc = $(nproc)"
echo "- Kernel: $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- Valkyria: $("$VALK" --version 2>&1 | head -1) ($VALK), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
have "$NGHTTPD" && echo "- nghttpd: $("$NGHTTPD" --version 2>&1 | head -1); h2load: $("$H2LOAD" --version 2>&1 | head -1); $(openssl version)"
have "$NODE" && echo "- Node.js: $("$NODE" --version 2>&1)"
echo "- Body size $SIZE bytes; $RUNS measured runs per row (after one warm-up run); GB = 10^9 bytes, MB = 10^6"
echo

# ---- 1. downloads ------------------------------------------------------------------------

declare -A G CPU H
if want download; then
  for tr in h2c tls; do
    scheme=http
    [ "$tr" = tls ] && scheme=https
    for srv in valk-gen valk-file nghttpd; do
      [ "$srv" = nghttpd ] && ! have "$NGHTTPD" && { log "streaming.sh: $NGHTTPD not found, skipped"; continue; }
      port=$(free_port)
      log "== download: $srv ($tr)"
      case $srv in
        valk-gen) start valk "$port" "$tr" && url="$scheme://127.0.0.1:$port/gen" ;;
        valk-file) start valk "$port" "$tr" && url="$scheme://127.0.0.1:$port/file" ;;
        nghttpd) start nghttpd "$port" "$tr" && url="$scheme://127.0.0.1:$port/big.bin" ;;
      esac || { STATUS=1; continue; }
      transfer "$srv $tr" "$url"
      G[$srv,$tr]=$GBS CPU[$srv,$tr]=$CPUGB H[$srv,$tr]=$HWM G[$srv,$tr,all]=$ALL
      stop
    done
  done

  echo "### 1. Streamed download of $SIZE bytes (\`h2load -n 1 -c 1 URL\`, median of $RUNS)"
  echo
  echo "| server | transport | GB/s (median) | each run | server CPU s/GB | server VmHWM MB |"
  echo "|:---|:---|---:|:---|---:|---:|"
  for tr in h2c tls; do
    for s in valk-gen valk-file nghttpd; do
      [ -n "${G[$s,$tr]:-}" ] || continue
      label=$s
      case $s in
        valk-gen) label="valk, Lisp producer (64 KiB stream/write + stream/drain)" ;;
        valk-file) label="valk, \`(http2/file ...)\`" ;;
        nghttpd) label="nghttpd -d" ;;
      esac
      echo "| $label | $tr | ${G[$s,$tr]} | ${G[$s,$tr,all]} | ${CPU[$s,$tr]} | $(mb "${H[$s,$tr]}") |"
    done
  done
  echo
  for tr in h2c tls; do
    echo "- $tr: valk-gen / nghttpd $(ratio "${G[valk-gen,$tr]:--}" "${G[nghttpd,$tr]:--}"), valk-file / nghttpd $(ratio "${G[valk-file,$tr]:--}" "${G[nghttpd,$tr]:--}") (GB/s); server CPU per GB, valk-file / nghttpd $(ratio "${CPU[valk-file,$tr]:--}" "${CPU[nghttpd,$tr]:--}")"
  done
  echo
fi

# ---- 2. SSE fan-out ----------------------------------------------------------------------

declare -A E EH EALL
SSE_OPEN="-"
if want sse; then
  for srv in valk-sse node-sse; do
    [ "$srv" = node-sse ] && ! have "$NODE" && { log "streaming.sh: $NODE not found, skipped"; continue; }
    : >"$TMP/eps"; : >"$TMP/hwm"; EALL[$srv]=""
    log "== SSE fan-out: $srv, $SSE_CLIENTS clients x $SSE_EVENTS events"
    for ((i = 1; i <= RUNS; i++)); do
      port=$(free_port)
      start "$srv" "$port" h2c "$SSE_CLIENTS" "$SSE_EVENTS" || { STATUS=1; break; }
      if [ "$srv" = valk-sse ] && [ "$SSE_OPEN" = "-" ]; then
        # Does the library's sse/open work? (sse_server.valk works around it.)
        SSE_OPEN=$(curl -s --http2-prior-knowledge --max-time 5 -o "$TMP/sse-open.out" -w '%{http_code}' "http://127.0.0.1:$port/sse-open")
        log "  (sse/open) GET /sse-open: $SSE_OPEN $(head -c 80 "$TMP/sse-open.out" | tr '\n' ' ')"
      fi
      out=$(timeout 300 "$H2LOAD" -n "$SSE_CLIENTS" -c "$SSE_CLIENTS" -m 1 "http://127.0.0.1:$port/sse" 2>&1)
      res=$(curl -s --http2-prior-knowledge --max-time 5 "http://127.0.0.1:$port/result")
      hwm=$(status_kib "$SERVER_PID" VmHWM)
      stop
      data=$(h2load_data "$out")
      want_bytes=$((SSE_CLIENTS * SSE_EVENTS * EVENT_BYTES))
      read -r _c _e sent refused us eps <<<"$res"
      if ! h2load_ok "$out" "$SSE_CLIENTS" || [ "$data" != "$want_bytes" ] ||
         [ "${sent:-}" != "$((SSE_CLIENTS * SSE_EVENTS))" ]; then
        log "streaming.sh: $srv run $i failed: result '$res', $(grep -E '^(requests|status codes|traffic)' <<<"$out" | tr '\n' ' ')"
        STATUS=1
        continue
      fi
      log "  $srv run $i: $eps events/s ($sent events, $refused refused, $us us), VmHWM $hwm KiB"
      echo "$eps" >>"$TMP/eps"; echo "$hwm" >>"$TMP/hwm"
      EALL[$srv]+="${EALL[$srv]:+, }$eps"
    done
    E[$srv]=$(median <"$TMP/eps"); EH[$srv]=$(median <"$TMP/hwm")
  done

  echo "### 2. SSE fan-out: $SSE_CLIENTS clients, $SSE_EVENTS events of $EVENT_BYTES bytes to each (h2c, median of $RUNS)"
  echo
  echo "| server | events/s (median) | each run | server VmHWM MB |"
  echo "|:---|---:|:---|---:|"
  for s in valk-sse node-sse; do
    [ -n "${E[$s]:-}" ] || continue
    label="valk (bench/http/sse_server.valk, sse/send)"
    [ "$s" = node-sse ] && label="Node.js http2 (bench/http/sse_node.js)"
    echo "| $label | ${E[$s]} | ${EALL[$s]} | $(mb "${EH[$s]}") |"
  done
  echo
  echo "- valk / node: $(ratio "${E[valk-sse]:--}" "${E[node-sse]:--}") (events/s)"
  echo "- client: \`h2load -n $SSE_CLIENTS -c $SSE_CLIENTS -m 1 http://127.0.0.1:PORT/sse\` (one stream per connection); every run checked: $SSE_CLIENTS succeeded and $((SSE_CLIENTS * SSE_EVENTS * EVENT_BYTES)) bytes of data"
  case "$SSE_OPEN" in
    200) echo "- the library's \`(sse/open req)\` answered 200" ;;
    *) echo "- the library's \`(sse/open req)\` does not work: GET /sse-open answered $SSE_OPEN; sse_server.valk opens its streams with the same head written with \`list\` (see the comment there)" ;;
  esac
  echo
fi

# ---- 3. idle SSE streams -----------------------------------------------------------------

declare -A IB IRAW
if want idle; then
  n_idle=$((IDLE_CONNS * IDLE_STREAMS))
  k=$RUNS; [ $k -gt 3 ] && k=3
  for srv in valk-sse node-sse; do
    [ "$srv" = node-sse ] && ! have "$NODE" && continue
    : >"$TMP/idle"; IRAW[$srv]=""
    log "== idle SSE streams: $srv, $IDLE_CONNS x $IDLE_STREAMS"
    for ((i = 1; i <= k; i++)); do
      port=$(free_port)
      start "$srv" "$port" h2c 0 0 || { STATUS=1; break; }
      if line=$(timeout 300 python3 "$HERE/sse_idle.py" "$SERVER_PID" "$port" "$IDLE_CONNS" "$IDLE_STREAMS" 2>"$TMP/idle.err"); then
        read -r before half after n per marginal <<<"$line"
        log "  $srv run $i: VmRSS $before -> $half -> $after KiB for $n streams: $per B each (second half: $marginal B each)"
        echo "$per" >>"$TMP/idle"
        IRAW[$srv]+="${IRAW[$srv]:+; }$before -> $after KiB"
      else
        log "streaming.sh: idle streams on $srv failed: $(tail -3 "$TMP/idle.err")"
        STATUS=1
      fi
      stop
    done
    IB[$srv]=$(median <"$TMP/idle")
  done

  echo "### 3. Memory per idle SSE stream ($IDLE_CONNS connections x $IDLE_STREAMS streams = $n_idle, h2c, median of $k)"
  echo
  echo "| server | VmRSS before -> after (each run) | bytes per idle stream |"
  echo "|:---|:---|---:|"
  for s in valk-sse node-sse; do
    [ -n "${IB[$s]:-}" ] || continue
    label=valk; [ "$s" = node-sse ] && label="Node.js http2"
    echo "| $label | ${IRAW[$s]} | ${IB[$s]} |"
  done
  echo
  echo "- valk / node: $(ratio "${IB[valk-sse]:--}" "${IB[node-sse]:--}") (bytes per stream)"
  echo
fi

# ---- 4. uploads --------------------------------------------------------------------------

declare -A U UC UH UALL
if want upload; then
  for tr in h2c tls; do
    scheme=http
    [ "$tr" = tls ] && scheme=https
    for srv in valk nghttpd nghttpd-w; do
      case $srv in nghttpd*) have "$NGHTTPD" || continue ;; esac
      port=$(free_port)
      log "== upload: $srv ($tr)"
      case $srv in
        valk) start valk "$port" "$tr" || { STATUS=1; continue; }
          url="$scheme://127.0.0.1:$port/up"
          # The byte count the handler answers must be SIZE (also the warm-up).
          got=$(timeout 300 "$NGHTTP" -d "$FILE" "$url" 2>/dev/null | tr -d '\r\n')
          if [ "$got" != "$SIZE" ]; then
            log "streaming.sh: valk upload ($tr) counted '$got', not $SIZE"
            STATUS=1
          fi ;;
        nghttpd) start nghttpd "$port" "$tr" || { STATUS=1; continue; }
          url="$scheme://127.0.0.1:$port/ready" ;;
        nghttpd-w) start nghttpd "$port" "$tr" -w 20 -W 24 || { STATUS=1; continue; }
          url="$scheme://127.0.0.1:$port/ready" ;;
      esac
      UPLOAD=1 transfer "upload $srv $tr" "$url" -d "$FILE"
      U[$srv,$tr]=$GBS UC[$srv,$tr]=$CPUGB UH[$srv,$tr]=$HWM UALL[$srv,$tr]=$ALL
      stop
    done
  done

  echo "### 4. Upload of $SIZE bytes (\`h2load -n 1 -c 1 -d FILE URL\`, a POST, median of $RUNS)"
  echo
  echo "| server | transport | GB/s (median) | each run | server CPU s/GB | server VmHWM MB |"
  echo "|:---|:---|---:|:---|---:|---:|"
  for tr in h2c tls; do
    for s in valk nghttpd nghttpd-w; do
      [ -n "${U[$s,$tr]:-}" ] || continue
      case $s in
        valk) label="valk, :stream-bodies + stream/read" ;;
        nghttpd) label="nghttpd (default windows, 64 KiB per stream)" ;;
        nghttpd-w) label="nghttpd -w 20 -W 24 (valk's windows)" ;;
      esac
      echo "| $label | $tr | ${U[$s,$tr]} | ${UALL[$s,$tr]} | ${UC[$s,$tr]} | $(mb "${UH[$s,$tr]}") |"
    done
  done
  echo
  for tr in h2c tls; do
    echo "- $tr: valk / nghttpd $(ratio "${U[valk,$tr]:--}" "${U[nghttpd,$tr]:--}"), valk / nghttpd -w 20 -W 24 $(ratio "${U[valk,$tr]:--}" "${U[nghttpd-w,$tr]:--}") (GB/s)"
  done
  echo
fi

# ---- goals -------------------------------------------------------------------------------

echo "### Goals"
echo
pass() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-") print "n/a";
  else if ((op == ">=" && a >= b) || (op == "<" && a < b)) print "PASS"; else print "FAIL" }'; }
if want download; then
  for tr in h2c tls; do
    echo "- download ($tr) at least nghttpd's GB/s: Lisp producer $(pass "${G[valk-gen,$tr]:--}" "${G[nghttpd,$tr]:--}" ">="), http2/file $(pass "${G[valk-file,$tr]:--}" "${G[nghttpd,$tr]:--}" ">=")"
  done
fi
if want upload; then
  for tr in h2c tls; do
    echo "- upload ($tr) at least nghttpd's GB/s: $(pass "${U[valk,$tr]:--}" "${U[nghttpd,$tr]:--}" ">=") (default nghttpd), $(pass "${U[valk,$tr]:--}" "${U[nghttpd-w,$tr]:--}" ">=") (nghttpd -w 20 -W 24)"
  done
fi
want idle && echo "- RSS per idle SSE stream under 8 KB (8192 B): $(pass "${IB[valk-sse]:--}" 8192 "<") (${IB[valk-sse]:--} B)"

exit $STATUS
