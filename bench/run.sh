#!/usr/bin/env bash
# Valkyria benchmark runner: times Valkyria against Lua 5.4 and Guile 3
# (interpreted, --no-auto-compile) on the programs in bench/programs/, and
# its async runtime against Node.js (Promises and timers), side by side in
# one run on this machine.
#
# Usage: bench/run.sh [RUNS] [--markdown] [--async | --no-async]
#   RUNS        runs per benchmark and language (default 5); the median is reported
#   --markdown  print the results as markdown tables (for docs/benchmarks.md)
#   --async     only the async section (aio vs Node.js timings, memory per handle)
#   --no-async  everything but the async section
# Environment:
#   VALK=path       Valkyria binary (default: build/valk in the repo root)
#   LUA=cmd         Lua 5.4 interpreter (default: lua5.4)
#   GUILE=cmd       Guile 3 (default: guile)
#   NODE=cmd        Node.js, for the async section (default: node)
#   BENCH_ONLY="fib loop"   run only these benchmarks (default: all). Names:
#                   fib loop list string closure (language benchmarks; the
#                   start-up and deep-recursion sections run with them),
#                   aio_chain aio_all aio_sleep aio_mem, or async for all four.
#   BENCH_TIMEOUT=s per-process time limit for the checking run (default 300)
#   BENCH_NO_HYPERFINE=1    time with the date +%s%N loop even if hyperfine exists
#
# Every time is whole-process wall time (start-up included): the median of
# RUNS runs measured by hyperfine (--shell=none, 1 warm-up run), or, if
# hyperfine is missing, by a loop around `date +%s%N`.  Before it is timed,
# each program is run once and its output compared with the expected
# checksum; a program that fails, times out or prints the wrong thing is
# reported as FAIL and not timed.  Progress goes to stderr, results to stdout.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG="$ROOT/bench/programs"

RUNS=5
MARKDOWN=0
ASYNC_MODE=default
for arg in "$@"; do
  case "$arg" in
    --markdown|-m) MARKDOWN=1 ;;
    --async) ASYNC_MODE=only ;;
    --no-async) ASYNC_MODE=none ;;
    -h|--help) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    ''|*[!0-9]*) echo "run.sh: unknown argument: $arg (usage: bench/run.sh [RUNS] [--markdown] [--async | --no-async])" >&2; exit 2 ;;
    *) RUNS=$arg ;;
  esac
done
if [ "$RUNS" -lt 1 ]; then echo "run.sh: RUNS must be at least 1" >&2; exit 2; fi

VALK=${VALK:-$ROOT/build/valk}
case "$VALK" in
  /*) ;;
  */*) VALK="$PWD/$VALK" ;;
  *) VALK=$(command -v "$VALK" || echo "$VALK") ;;
esac
LUA=${LUA:-lua5.4}
GUILE=${GUILE:-guile}
NODE=${NODE:-node}
TIMEOUT=${BENCH_TIMEOUT:-300}
LANG_ALL="fib loop list string closure"
ASYNC_ALL="aio_chain aio_all aio_sleep aio_mem"
# Split the selection into language benchmarks (BENCHES) and async ones
# (ASYNC_BENCHES).  The start-up and deep-recursion sections (CORE=1) run
# unless the selection is async only.
BENCHES="" ASYNC_BENCHES="" CORE=1
if [ -n "${BENCH_ONLY:-}" ]; then
  for b in $BENCH_ONLY; do
    case "$b" in
      async) ASYNC_BENCHES+=" $ASYNC_ALL" ;;
      aio_*) ASYNC_BENCHES+=" $b" ;;
      *) BENCHES+=" $b" ;;
    esac
  done
  [ -z "$BENCHES" ] && CORE=0
else
  BENCHES=$LANG_ALL ASYNC_BENCHES=$ASYNC_ALL
fi
case "$ASYNC_MODE" in
  only) BENCHES="" CORE=0; [ -n "$ASYNC_BENCHES" ] || ASYNC_BENCHES=$ASYNC_ALL ;;
  none) ASYNC_BENCHES="" ;;
esac
STARTUP_RUNS=$(( RUNS > 20 ? RUNS : 20 ))   # start-up is short and noisy: at least 20 runs
RSS_RUNS=$(( RUNS < 3 ? RUNS : 3 ))

# Expected checksums (the same for every language).
declare -A EXPECT=(
  [fib]="832040"
  [loop]="49999995000000"
  [list]="1000000 499999500000"
  [string]="200000 3742640"
  [closure]="1000000000000"
  [deep]="1000000"
  [aio_chain]="1000000"
  [aio_all]="100000 4999950000"
  [aio_sleep]="100000"
)
declare -A DESC=(
  [fib]="fib(30)"
  [loop]="tail loop 10M"
  [list]="list 1M build+fold"
  [string]="string build 200k"
  [closure]="closures 1M"
  [aio_chain]="then chain 1M (settled)"
  [aio_all]="all over 100k settled"
  [aio_sleep]="100k concurrent sleep 1ms"
)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/valk-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

log() { echo "$@" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }
HAVE_HYPERFINE=0; have hyperfine && [ -z "${BENCH_NO_HYPERFINE:-}" ] && HAVE_HYPERFINE=1
HAVE_TIME=0; [ -x /usr/bin/time ] && HAVE_TIME=1

# Command line (as an argv array in the global CMD) for language $1, program $2.
set_cmd() {
  case "$1" in
    valk)  CMD=("$VALK" "$PROG/$2.valk") ;;
    lua)   CMD=($LUA "$PROG/$2.lua") ;;
    guile) CMD=($GUILE --no-auto-compile "$PROG/$2.scm") ;;
    node)  CMD=($NODE "$PROG/$2.js") ;;
  esac
}

lang_available() {
  case "$1" in
    valk)  [ -x "$VALK" ] ;;
    lua)   have "${LUA%% *}" ;;
    guile) have "${GUILE%% *}" ;;
    node)  have "${NODE%% *}" ;;
  esac
}

# check EXPECTED argv... : run once with a time limit and compare stdout
# (trailing whitespace ignored) with EXPECTED. Sets WHY on failure.
check() {
  local expected=$1; shift
  timeout "$TIMEOUT" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
  local rc=$?
  if [ $rc -eq 124 ]; then WHY="timed out after ${TIMEOUT}s"; return 1; fi
  if [ $rc -ne 0 ]; then
    WHY="exit status $rc: $(head -c 300 "$TMP/err" | tr '\n' ' ')"; return 1
  fi
  local got
  got=$(sed -e 's/[[:space:]]*$//' "$TMP/out")
  if [ "$got" != "$expected" ]; then
    WHY="wrong output: got '$(printf '%s' "$got" | head -c 200 | tr '\n' ' ')', expected '$expected'"
    return 1
  fi
  return 0
}

# median_ms RUNS argv... : prints the median wall time in ms (3 decimals).
median_ms() {
  local runs=$1; shift
  if [ $HAVE_HYPERFINE -eq 1 ]; then
    local cmdline="" a
    for a in "$@"; do cmdline+="$(printf '%q' "$a") "; done
    if ! hyperfine --shell=none --style none --warmup 1 --runs "$runs" \
         --export-json "$TMP/h.json" "$cmdline" >/dev/null 2>"$TMP/herr"; then
      return 1
    fi
    if have jq; then
      jq -r '.results[0].median * 1000 | . * 1000 | round / 1000' "$TMP/h.json"
    else
      python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["results"][0]["median"]*1000, 3))' "$TMP/h.json"
    fi
  else
    "$@" >/dev/null 2>&1 </dev/null   # warm-up
    local i t0 t1
    : >"$TMP/times"
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N)
      "$@" >/dev/null 2>&1 </dev/null || return 1
      t1=$(date +%s%N)
      echo $(( t1 - t0 )) >>"$TMP/times"
    done
    sort -n "$TMP/times" | awk '{a[NR]=$1} END {
      m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.3f\n", m / 1e6 }'
  fi
}

# ratio A B : A/B with 2 decimals, or "-" if either is not a number.
ratio() {
  case "$1$2" in *[!0-9.]*|'') echo "-"; return ;; esac
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'
}

fmt_ms() {
  case "$1" in
    ''|*[!0-9.]*) echo "$1" ;;
    *) awk -v x="$1" 'BEGIN { if (x < 10) printf "%.2f\n", x; else if (x < 100) printf "%.1f\n", x; else printf "%.0f\n", x }' ;;
  esac
}

# ---- table output -------------------------------------------------------
# table_start TITLE col...   table_row col...   (first column left-aligned)
TABLE_W=()
table_start() {
  local title=$1; shift
  echo
  if [ $MARKDOWN -eq 1 ]; then
    echo "### $title"; echo
    local line="|" sep="|" c
    for c in "$@"; do line+=" $c |"; done
    local first=1
    for c in "$@"; do
      if [ $first -eq 1 ]; then sep+=":---|"; first=0; else sep+="---:|"; fi
    done
    echo "$line"; echo "$sep"
  else
    echo "$title"
    TABLE_W=(28); local i
    for ((i = 1; i < $#; i++)); do TABLE_W+=(12); done
    table_row "$@"
    local total=0 w; for w in "${TABLE_W[@]}"; do total=$(( total + w + 2 )); done
    printf '%*s\n' "$total" '' | tr ' ' '-'
  fi
}
table_row() {
  if [ $MARKDOWN -eq 1 ]; then
    local line="|" c
    for c in "$@"; do line+=" $c |"; done
    echo "$line"
  else
    local i=0 c
    for c in "$@"; do
      if [ $i -eq 0 ]; then printf '%-*s  ' "${TABLE_W[$i]}" "$c"
      else printf '%*s  ' "${TABLE_W[$i]:-12}" "$c"; fi
      i=$(( i + 1 ))
    done
    echo
  fi
}

# ---- machine info ---------------------------------------------------------
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
[ -n "$cpu" ] || cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1)
valk_ver="missing ($VALK)"
if [ -x "$VALK" ]; then
  valk_ver=$(timeout 10 "$VALK" --version 2>/dev/null | head -1)
  [ -n "$valk_ver" ] || valk_ver="(no --version output)"
fi
lua_ver=$($LUA -v 2>&1 | head -1 | awk '{print $1, $2}')
guile_ver=$($GUILE --version 2>/dev/null | head -1)
node_ver=$($NODE --version 2>/dev/null | head -1); node_ver=${node_ver:-"missing ($NODE)"}
hf_ver=$([ $HAVE_HYPERFINE -eq 1 ] && hyperfine --version || echo "date +%s%N loop (hyperfine not used)")

if [ $MARKDOWN -eq 1 ]; then
  echo "### Machine"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- CPU: ${cpu:-unknown}, nproc = $(nproc)"
  echo "- Kernel: $(uname -sr)"
  echo "- Valkyria: $valk_ver; Lua: $lua_ver; Guile: $guile_ver (run with --no-auto-compile)"
  [ -n "$ASYNC_BENCHES" ] && echo "- Node.js: $node_ver (async section)"
  echo "- Timer: $hf_ver; median of $RUNS runs (start-up: $STARTUP_RUNS runs), 1 warm-up run"
else
  echo "Valkyria benchmarks"
  echo "  date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "  cpu:      ${cpu:-unknown}"
  echo "  nproc:    $(nproc)"
  echo "  kernel:   $(uname -sr)"
  echo "  valk:     $valk_ver  [$VALK]"
  echo "  lua:      $lua_ver"
  echo "  guile:    $guile_ver (--no-auto-compile)"
  [ -n "$ASYNC_BENCHES" ] && echo "  node:     $node_ver (async section)"
  echo "  timer:    $hf_ver; median of $RUNS runs (start-up: $STARTUP_RUNS), 1 warm-up run"
fi

FAILS=0
TARGET_NOTES=()

# ---- programs ---------------------------------------------------------------
declare -A T
if [ $CORE -eq 1 ]; then
table_start "Whole-process wall time, median of $RUNS runs (ms)" \
  "benchmark" "valk ms" "lua ms" "guile ms" "valk/lua" "valk/guile"
for b in $BENCHES; do
  if [ -z "${EXPECT[$b]+x}" ]; then log "unknown benchmark: $b"; continue; fi
  for lang in valk lua guile; do
    if ! lang_available "$lang"; then
      T[$b.$lang]="FAIL"; log "[$b/$lang] FAIL: interpreter not found"; FAILS=$((FAILS + 1)); continue
    fi
    set_cmd "$lang" "$b"
    log "[$b/$lang] checking: ${CMD[*]}"
    if ! check "${EXPECT[$b]}" "${CMD[@]}"; then
      T[$b.$lang]="FAIL"; log "[$b/$lang] FAIL: $WHY"; FAILS=$((FAILS + 1)); continue
    fi
    log "[$b/$lang] timing, $RUNS runs"
    if ms=$(median_ms "$RUNS" "${CMD[@]}") && [ -n "$ms" ]; then
      T[$b.$lang]=$ms
    else
      T[$b.$lang]="FAIL"; log "[$b/$lang] FAIL: timing run failed"; FAILS=$((FAILS + 1))
    fi
  done
  table_row "${DESC[$b]}" "$(fmt_ms "${T[$b.valk]}")" "$(fmt_ms "${T[$b.lua]}")" \
    "$(fmt_ms "${T[$b.guile]}")" "$(ratio "${T[$b.valk]}" "${T[$b.lua]}")" \
    "$(ratio "${T[$b.valk]}" "${T[$b.guile]}")"
done
if [ -n "${T[fib.valk]+x}" ]; then
  r=$(ratio "${T[fib.valk]}" "${T[fib.lua]}")
  if [ "$r" = "-" ]; then TARGET_NOTES+=("fib(30) no slower than Lua 5.4: FAIL (no measurement)")
  elif awk -v r="$r" -v a="${T[fib.valk]}" -v b="${T[fib.lua]}" 'BEGIN { exit !(a <= b) }'; then
    TARGET_NOTES+=("fib(30) no slower than Lua 5.4: PASS (valk/lua = $r)")
  else TARGET_NOTES+=("fib(30) no slower than Lua 5.4: FAIL (valk/lua = $r)"); fi
fi

# ---- start-up -----------------------------------------------------------------
table_start "Start-up, median of $STARTUP_RUNS runs (ms)" "command" "ms"
su_row() {  # label expected argv...
  local label=$1 expected=$2; shift 2
  local ms="FAIL"
  if ! have "$1" && [ ! -x "$1" ]; then
    log "[startup] FAIL: $1 not found"; FAILS=$((FAILS + 1))
  elif [ -n "$expected" ] && ! check "$expected" "$@"; then
    log "[startup] FAIL: $label: $WHY"; FAILS=$((FAILS + 1))
  elif [ -z "$expected" ] && ! timeout "$TIMEOUT" "$@" >/dev/null 2>&1 </dev/null; then
    log "[startup] FAIL: $label exits non-zero"; FAILS=$((FAILS + 1))
  else
    log "[startup] timing $label, $STARTUP_RUNS runs"
    ms=$(median_ms "$STARTUP_RUNS" "$@") || ms="FAIL"
  fi
  SU_MS=$ms
  table_row "$label" "$(fmt_ms "$ms")"
}
su_row "valk -e 1" "1" "$VALK" -e 1; valk_su=$SU_MS
su_row "lua5.4 -e ''" "" $LUA -e ''
su_row "guile -c 1" "" $GUILE -c 1
case "$valk_su" in
  ''|*[!0-9.]*) TARGET_NOTES+=("valk -e 1 start-up < 10 ms: FAIL (no measurement)") ;;
  *) if awk -v a="$valk_su" 'BEGIN { exit !(a < 10) }'; then
       TARGET_NOTES+=("valk -e 1 start-up < 10 ms: PASS ($(fmt_ms "$valk_su") ms)")
     else TARGET_NOTES+=("valk -e 1 start-up < 10 ms: FAIL ($(fmt_ms "$valk_su") ms)"); fi ;;
esac

# ---- deep recursion peak memory ----------------------------------------------------
# Max RSS (KiB, GNU time %M) of a 1,000,000-deep non-tail recursion; the
# largest of up to 3 runs.  MB here is 10^6 bytes.
table_start "Peak memory, 1,000,000-deep non-tail recursion (max RSS of $RSS_RUNS runs)" \
  "program" "max RSS MB" "KiB"
rss_row() {  # label argv...
  local label=$1; shift
  local max="" i kb
  if [ $HAVE_TIME -eq 0 ]; then
    log "[deep] FAIL: /usr/bin/time missing (apt-get install time)"
  elif [ -x "$1" ] || have "$1"; then
    for ((i = 0; i < RSS_RUNS; i++)); do
      log "[deep] $label run $((i + 1))/$RSS_RUNS"
      timeout "$TIMEOUT" /usr/bin/time -f '%M' -o "$TMP/rss" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
      local rc=$?
      local got; got=$(sed -e 's/[[:space:]]*$//' "$TMP/out")
      if [ $rc -ne 0 ] || [ "$got" != "${EXPECT[deep]}" ]; then
        log "[deep] FAIL: $label: exit $rc, output '$(printf '%s' "$got" | head -c 100)': $(head -c 300 "$TMP/err" | tr '\n' ' ')"
        max=""; break
      fi
      kb=$(tail -1 "$TMP/rss")
      if [ -z "$max" ] || [ "$kb" -gt "$max" ]; then max=$kb; fi
    done
  else
    log "[deep] FAIL: $1 not found"
  fi
  RSS_KB=$max
  if [ -n "$max" ]; then
    table_row "$label" "$(awk -v k="$max" 'BEGIN { printf "%.1f\n", k * 1024 / 1e6 }')" "$max"
  else
    FAILS=$((FAILS + 1)); table_row "$label" "FAIL" "-"
  fi
}
rss_row "valk deep.valk" "$VALK" "$PROG/deep.valk"; valk_rss=$RSS_KB
rss_row "guile deep.scm (reference)" $GUILE --no-auto-compile "$PROG/deep.scm"
if [ -n "$valk_rss" ]; then
  mb=$(awk -v k="$valk_rss" 'BEGIN { printf "%.1f\n", k * 1024 / 1e6 }')
  if awk -v k="$valk_rss" 'BEGIN { exit !(k * 1024 < 500e6) }'; then
    TARGET_NOTES+=("deep recursion max RSS < 500 MB: PASS ($mb MB)")
  else TARGET_NOTES+=("deep recursion max RSS < 500 MB: FAIL ($mb MB)"); fi
else
  TARGET_NOTES+=("deep recursion max RSS < 500 MB: FAIL (no measurement)")
fi

fi  # CORE: language benchmarks, start-up, deep recursion

# ---- async: aio vs Node.js Promises and timers ------------------------------------
# Same method as the language benchmarks: each program checked once, then
# the median whole-process wall time of RUNS runs; node runs bench/programs/B.js.
ASYNC_TIMED="" ASYNC_MEM=0
for b in $ASYNC_BENCHES; do
  case "$b" in
    aio_mem) ASYNC_MEM=1 ;;
    aio_chain|aio_all|aio_sleep) case " $ASYNC_TIMED " in *" $b "*) ;; *) ASYNC_TIMED+=" $b" ;; esac ;;
    *) log "unknown benchmark: $b" ;;
  esac
done
if [ -n "$ASYNC_TIMED" ]; then
  table_start "Async: whole-process wall time, median of $RUNS runs (ms)" \
    "benchmark" "valk ms" "node ms" "valk/node"
  for b in $ASYNC_TIMED; do
    for lang in valk node; do
      if ! lang_available "$lang"; then
        T[$b.$lang]="FAIL"; log "[$b/$lang] FAIL: interpreter not found"; FAILS=$((FAILS + 1)); continue
      fi
      set_cmd "$lang" "$b"
      log "[$b/$lang] checking: ${CMD[*]}"
      if ! check "${EXPECT[$b]}" "${CMD[@]}"; then
        T[$b.$lang]="FAIL"; log "[$b/$lang] FAIL: $WHY"; FAILS=$((FAILS + 1)); continue
      fi
      log "[$b/$lang] timing, $RUNS runs"
      if ms=$(median_ms "$RUNS" "${CMD[@]}") && [ -n "$ms" ]; then
        T[$b.$lang]=$ms
      else
        T[$b.$lang]="FAIL"; log "[$b/$lang] FAIL: timing run failed"; FAILS=$((FAILS + 1))
      fi
    done
    r=$(ratio "${T[$b.valk]}" "${T[$b.node]}")
    table_row "${DESC[$b]}" "$(fmt_ms "${T[$b.valk]}")" "$(fmt_ms "${T[$b.node]}")" "$r"
    if [ "$r" = "-" ]; then TARGET_NOTES+=("${DESC[$b]} faster than Node.js: FAIL (no measurement)")
    elif awk -v a="${T[$b.valk]}" -v b="${T[$b.node]}" 'BEGIN { exit !(a < b) }'; then
      TARGET_NOTES+=("${DESC[$b]} faster than Node.js: PASS (valk/node = $r)")
    else TARGET_NOTES+=("${DESC[$b]} faster than Node.js: FAIL (valk/node = $r)"); fi
  done
  # Context: the start-up part of every number above.
  as_valk="FAIL" as_node="FAIL"
  if lang_available valk && check "1" "$VALK" -e 1; then
    log "[async] timing valk -e 1, $STARTUP_RUNS runs"
    as_valk=$(median_ms "$STARTUP_RUNS" "$VALK" -e 1) || as_valk="FAIL"
  fi
  if lang_available node && check "1" $NODE -e 'console.log(1)'; then
    log "[async] timing node -e 'console.log(1)', $STARTUP_RUNS runs"
    as_node=$(median_ms "$STARTUP_RUNS" $NODE -e 'console.log(1)') || as_node="FAIL"
  fi
  table_row "(start-up alone, $STARTUP_RUNS runs)" "$(fmt_ms "$as_valk")" "$(fmt_ms "$as_node")" \
    "$(ratio "$as_valk" "$as_node")"
fi

# ---- async: memory per pending handle ------------------------------------------------
# bench/programs/aio_mem_K.{valk,js} N: N pending handles (promises) kept in
# a list (array), print N and the heap in use, exit.  Per element:
# (maxRSS(2N) - maxRSS(N)) / N, each maxRSS the median of RSS_RUNS runs
# (GNU time %M); "heap" is the same difference of the program's own heap
# figure after a full collection (valk: mem/heap/usage, GC heap only; node:
# process.memoryUsage().heapUsed with --expose-gc, V8 heap only).
MEM_N=100000
# mem_measure LANG KIND N : sets MEM_RSS (KiB) and MEM_HEAP (bytes), or "" on failure.
mem_measure() {
  local lang=$1 kind=$2 n=$3 i rc got
  MEM_RSS="" MEM_HEAP=""
  local cmd
  case "$lang" in
    valk) cmd=("$VALK" "$PROG/aio_mem_$kind.valk" "$n") ;;
    node) cmd=($NODE --expose-gc "$PROG/aio_mem_$kind.js" "$n") ;;
  esac
  : >"$TMP/rsslist"
  for ((i = 0; i < RSS_RUNS; i++)); do
    log "[aio_mem] $lang $kind N=$n run $((i + 1))/$RSS_RUNS"
    timeout "$TIMEOUT" /usr/bin/time -f '%M' -o "$TMP/rss" "${cmd[@]}" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
    got=$(head -1 "$TMP/out" | sed -e 's/[[:space:]]*$//')
    if [ $rc -ne 0 ] || [ "$got" != "$n" ]; then
      log "[aio_mem] FAIL: $lang $kind N=$n: exit $rc, output '$(head -c 100 "$TMP/out" | tr '\n' ' ')': $(head -c 300 "$TMP/err" | tr '\n' ' ')"
      return 1
    fi
    tail -1 "$TMP/rss" >>"$TMP/rsslist"
    MEM_HEAP=$(sed -n 2p "$TMP/out" | tr -dc '0-9')
  done
  MEM_RSS=$(sort -n "$TMP/rsslist" | awk '{a[NR]=$1} END { print a[int((NR+1)/2)] }')
}
# per_elem A B N : (B - A) / N rounded, or "-".
per_elem() {
  case "$1$2" in *[!0-9]*|'') echo "-"; return ;; esac
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.0f\n", (b - a) / n }'
}
if [ $ASYNC_MEM -eq 1 ]; then
  table_start "Async: memory per pending handle, N = $MEM_N and $((2 * MEM_N)) (bytes per element; max RSS median of $RSS_RUNS runs)" \
    "kind" "valk KiB N/2N" "valk B/elem" "valk heap B" "node KiB N/2N" "node B/elem" "node heap B"
  declare -A MEMDESC=(
    [never]="never (aio/never)"
    [sleep]="timer (aio/sleep 100000)"
    [then]="then on never (aio/then)"
    [list]="list cell only (baseline)"
  )
  for kind in never sleep then list; do
    declare -A R=()
    for lang in valk node; do
      R[$lang.rss]="-" R[$lang.kib]="FAIL" R[$lang.heap]="-"
      if [ $HAVE_TIME -eq 0 ]; then
        log "[aio_mem] FAIL: /usr/bin/time missing (apt-get install time)"; FAILS=$((FAILS + 1)); continue
      fi
      if ! lang_available "$lang"; then
        log "[aio_mem] FAIL: $lang not found"; FAILS=$((FAILS + 1)); continue
      fi
      if mem_measure "$lang" "$kind" "$MEM_N"; then
        r1=$MEM_RSS h1=$MEM_HEAP
        if mem_measure "$lang" "$kind" $((2 * MEM_N)); then
          R[$lang.kib]="$r1/$MEM_RSS"
          R[$lang.rss]=$(awk -v a="$r1" -v b="$MEM_RSS" -v n="$MEM_N" 'BEGIN { printf "%.0f\n", (b - a) * 1024 / n }')
          R[$lang.heap]=$(per_elem "$h1" "$MEM_HEAP" "$MEM_N")
          continue
        fi
      fi
      FAILS=$((FAILS + 1))
    done
    table_row "${MEMDESC[$kind]}" "${R[valk.kib]}" "${R[valk.rss]}" "${R[valk.heap]}" \
      "${R[node.kib]}" "${R[node.rss]}" "${R[node.heap]}"
    if [ "$kind" != list ]; then
      case "${R[valk.rss]}" in
        ''|*[!0-9-]*|-) TARGET_NOTES+=("memory per pending handle < 200 B, ${MEMDESC[$kind]}: FAIL (no measurement)") ;;
        *) if [ "${R[valk.rss]}" -lt 200 ]; then
             TARGET_NOTES+=("memory per pending handle < 200 B, ${MEMDESC[$kind]}: PASS (${R[valk.rss]} B by max RSS, ${R[valk.heap]} B of GC heap; list cell included)")
           else
             TARGET_NOTES+=("memory per pending handle < 200 B, ${MEMDESC[$kind]}: FAIL (${R[valk.rss]} B by max RSS, ${R[valk.heap]} B of GC heap; list cell included)")
           fi ;;
      esac
    fi
    unset R
  done
fi

# ---- targets -------------------------------------------------------------------
echo
if [ $MARKDOWN -eq 1 ]; then echo "### Targets"; echo; fi
[ $MARKDOWN -eq 1 ] || echo "Targets"
for n in "${TARGET_NOTES[@]}"; do
  if [ $MARKDOWN -eq 1 ]; then echo "- $n"; else echo "  $n"; fi
done
if [ $FAILS -ne 0 ]; then
  log "run.sh: $FAILS failure(s); see the messages above"
  exit 1
fi
exit 0
