#!/usr/bin/env bash
# Async I/O benchmark: Valkyria's fs/* and tcp/* streams side by side with
# Node.js (and `cat` for the file read), in one run on this machine.
#
# Usage: bench/io/run.sh [RUNS]    (default 3; medians reported)
# Environment:
#   VALK=path        Valkyria binary (default: build/valk in the repo root)
#   NODE=cmd         Node.js (default: node)
#   IO_FILE=path     the file read by workload 1 (default /tmp/valk-iobench-1g.bin;
#                    written once with `head -c FILE_SIZE /dev/zero | tr '\0' x`
#                    if missing or of another size, and kept for later runs)
#   FILE_SIZE=bytes  its size (default 1073741824, 1 GiB)
#   ECHO_BYTES=bytes bytes sent through the echo connection (default 1 GiB;
#                    a multiple of 65536)
#   CONNS=n          concurrent connections of workload 3 (default 10000, lowered
#                    to fit the open-file limit: 2 fds per connection, both ends
#                    are in the one process)
#   WORKLOADS="startup file echo conns"   a subset (default all)
#   IO_TIMEOUT=s     limit per process (default 600)
#
# Workloads (each program prints a byte count, checked before its time counts):
#   startup  `valk -e 1` and `node -e 'console.log(1)'`: the start-up included in
#          every other row.
#   file   valk bench/io/file_read.valk FILE: (fs/open FILE) and a stream/read loop
#          (64 KiB reads), counting bytes; node bench/io/file_read.js FILE:
#          fs.createReadStream, highWaterMark 64 KiB, counting 'data'; and
#          `cat FILE > /dev/null`. The page cache is warmed first (cat once).
#   echo   bench/io/tcp_echo.{valk,js} ECHO_BYTES: one loopback connection to an
#          echo server in the same process (stream/pipe conn conn; sock.pipe(sock));
#          the client writes 64 KiB chunks, waiting for drain when refused, and
#          reads everything back.
#   conns  bench/io/tcp_conns.{valk,js} CONNS: CONNS connections started at once
#          to the process's own echo server (backlog 4096); each sends 32 bytes,
#          reads them back, closes and waits for the server's close.
# Each run is whole-process wall time (date +%s%N around the process, start-up
# included) and its peak RSS (GNU time %M); runs are interleaved (valk, node,
# cat, valk, ...) so that other load on the machine hits all alike; medians of
# RUNS. Ratios are valk/node and valk/cat of the median times (above 1: valk is
# slower). Progress goes to stderr, the report (markdown) to stdout. Exit
# status 1 if a run failed (wrong output, crash or timeout).

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/io"
RUNS=${1:-3}
case "$RUNS" in -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;; esac
case "$RUNS" in ''|*[!0-9]*|0) echo "run.sh: RUNS must be a positive number" >&2; exit 2 ;; esac

VALK=${VALK:-$ROOT/build/valk}
case "$VALK" in /*) ;; */*) VALK="$PWD/$VALK" ;; esac
NODE=${NODE:-node}
IO_FILE=${IO_FILE:-/tmp/valk-iobench-1g.bin}
FILE_SIZE=${FILE_SIZE:-1073741824}
ECHO_BYTES=${ECHO_BYTES:-1073741824}
CONNS=${CONNS:-10000}
WORKLOADS=${WORKLOADS:-startup file echo conns}
TIMEOUT=${IO_TIMEOUT:-600}
STATUS=0

log() { echo "$@" >&2; }
want() { case " $WORKLOADS " in *" $1 "*) return 0 ;; esac; return 1; }
[ -x "$VALK" ] || { log "run.sh: $VALK not found (build it, or set VALK)"; exit 1; }
command -v "$NODE" >/dev/null || { log "run.sh: $NODE not found"; exit 1; }
[ -x /usr/bin/time ] || { log "run.sh: /usr/bin/time (GNU time) is needed"; exit 1; }

# Open files: ask for 65536; keep what is allowed if that is refused.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
CONNS_ASKED=$CONNS
if [ "$NOFILE" != unlimited ] && [ $((2 * CONNS + 100)) -gt "$NOFILE" ]; then
  CONNS=$(( (NOFILE - 100) / 2 ))
  log "== open-file limit $NOFILE: $CONNS connections instead of $CONNS_ASKED"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/valk-iobench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

median() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) { print "-"; exit }
  if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
gbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s == "-" || s == 0) print "-"; else printf "%.2f\n", b / s / 1e9 }'; }
mb() { awk -v k="$1" 'BEGIN { if (k == "" || k == "-") print "-"; else printf "%.1f\n", k * 1024 / 1e6 }'; }

# timed NAME EXPECTED CMD...: runs CMD once, appends its wall seconds to
# $TMP/NAME.t and its peak RSS (KiB) to $TMP/NAME.m if it printed EXPECTED.
timed() {
  local name=$1 expect=$2
  shift 2
  local t0 t1 out rc
  t0=$(date +%s%N)
  out=$(/usr/bin/time -f %M -o "$TMP/rss" timeout "$TIMEOUT" "$@" 2>"$TMP/err")
  rc=$?
  t1=$(date +%s%N)
  if [ $rc -ne 0 ] || [ "$out" != "$expect" ] || grep -q . "$TMP/err"; then
    log "   FAIL $name (exit $rc, printed '${out:0:80}', expected '$expect'): $(head -c 300 "$TMP/err")"
    echo FAIL >>"$TMP/$name.fail"
    STATUS=1
    return 1
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }' >>"$TMP/$name.t"
  tail -n 1 "$TMP/rss" >>"$TMP/$name.m"
  log "   $name $(tail -n 1 "$TMP/$name.t") s, $(tail -n 1 "$TMP/$name.m") KiB"
}
t() { if [ -s "$TMP/$1.fail" ] || [ ! -s "$TMP/$1.t" ]; then echo -; else median <"$TMP/$1.t"; fi; }
m() { if [ -s "$TMP/$1.fail" ] || [ ! -s "$TMP/$1.m" ]; then echo -; else median <"$TMP/$1.m"; fi; }

if want startup; then
  for r in $(seq "$RUNS"); do
    log "== startup, run $r"
    timed start_valk 1 "$VALK" -e 1
    timed start_node 1 "$NODE" -e 'console.log(1)'
  done
fi
if want file; then
  if [ ! -f "$IO_FILE" ] || [ "$(stat -c %s "$IO_FILE")" != "$FILE_SIZE" ]; then
    log "== writing $IO_FILE ($FILE_SIZE bytes)"
    head -c "$FILE_SIZE" /dev/zero | tr '\0' x >"$IO_FILE" || { log "run.sh: cannot write $IO_FILE"; exit 1; }
  fi
  log "== file: warming the page cache"
  cat "$IO_FILE" >/dev/null
  for r in $(seq "$RUNS"); do
    log "== file, run $r"
    timed file_valk "$FILE_SIZE" "$VALK" "$HERE/file_read.valk" "$IO_FILE"
    timed file_node "$FILE_SIZE" "$NODE" "$HERE/file_read.js" "$IO_FILE"
    timed file_cat "" sh -c 'cat "$1" >/dev/null' sh "$IO_FILE"
  done
fi
if want echo; then
  for r in $(seq "$RUNS"); do
    log "== echo, run $r"
    timed echo_valk "$ECHO_BYTES" "$VALK" "$HERE/tcp_echo.valk" "$ECHO_BYTES"
    timed echo_node "$ECHO_BYTES" "$NODE" "$HERE/tcp_echo.js" "$ECHO_BYTES"
  done
fi
if want conns; then
  for r in $(seq "$RUNS"); do
    log "== conns ($CONNS), run $r"
    timed conns_valk "$((CONNS * 32))" "$VALK" "$HERE/tcp_conns.valk" "$CONNS"
    timed conns_node "$((CONNS * 32))" "$NODE" "$HERE/tcp_conns.js" "$CONNS"
  done
fi

echo "#### Machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), nproc $(nproc)"
echo "- kernel: $(uname -r)"
echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "- node: $("$NODE" --version)"
echo "- open-file limit: $NOFILE"
echo "- runs: $RUNS (medians)"
echo
echo "#### Wall time (s, whole process), median of $RUNS runs"
echo
echo "| workload | valk s | node s | cat s | valk/node | valk/cat | valk GB/s | node GB/s | valk RSS MB | node RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
if want startup; then
  echo "| start-up only | $(t start_valk) | $(t start_node) | - | $(ratio "$(t start_valk)" "$(t start_node)") | - | - | - | $(mb "$(m start_valk)") | $(mb "$(m start_node)") |"
fi
if want file; then
  echo "| read $FILE_SIZE-byte file, 64 KiB chunks | $(t file_valk) | $(t file_node) | $(t file_cat) | $(ratio "$(t file_valk)" "$(t file_node)") | $(ratio "$(t file_valk)" "$(t file_cat)") | $(gbps "$FILE_SIZE" "$(t file_valk)") | $(gbps "$FILE_SIZE" "$(t file_node)") | $(mb "$(m file_valk)") | $(mb "$(m file_node)") |"
fi
if want echo; then
  echo "| TCP echo of $ECHO_BYTES bytes, 1 connection | $(t echo_valk) | $(t echo_node) | - | $(ratio "$(t echo_valk)" "$(t echo_node)") | - | $(gbps "$ECHO_BYTES" "$(t echo_valk)") | $(gbps "$ECHO_BYTES" "$(t echo_node)") | $(mb "$(m echo_valk)") | $(mb "$(m echo_node)") |"
fi
if want conns; then
  echo "| $CONNS concurrent echo connections (32 B each) | $(t conns_valk) | $(t conns_node) | - | $(ratio "$(t conns_valk)" "$(t conns_node)") | - | - | - | $(mb "$(m conns_valk)") | $(mb "$(m conns_node)") |"
fi
echo
echo "GB/s = bytes / median wall time, 10^9 bytes (the echo counts the bytes sent once); MB = 10^6 bytes; RSS = peak (GNU time %M), median."
exit $STATUS
