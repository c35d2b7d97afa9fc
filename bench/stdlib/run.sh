#!/usr/bin/env bash
# Standard-library benchmarks, side by side on this machine:
#   sort     (sort xs) of 1,000,000 pseudo-random integers vs Lua 5.4's table.sort
#   findall  (re/find-all "[a-z]+ing\b" text) over 10 MB of generated text vs
#            Python 3's re.findall
# Each is run RUNS times (default 3); the medians are printed, of the
# operation alone (timed inside the program: time-us in Valkyria, os.clock
# in Lua, time.perf_counter in Python) and of the whole process (wall time,
# start-up and setting up the data included), with the ratio other / valk
# (above 1: Valkyria is faster). Before timing, the two programs' checksums
# must agree.
#
# Usage: bench/stdlib/run.sh [RUNS]
# Environment: VALK (default build/valk), LUA (lua5.4), PYTHON (python3),
#              SORT_N (1000000), TEXT_BYTES (10485760)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/stdlib"
RUNS=${1:-3}
VALK=${VALK:-$ROOT/build/valk}
LUA=${LUA:-lua5.4}
PYTHON=${PYTHON:-python3}
SORT_N=${SORT_N:-1000000}
TEXT_BYTES=${TEXT_BYTES:-10485760}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for tool in "$VALK" "$LUA" "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
now_ns() { date +%s%N; }

# bench NAME CMD...: runs CMD RUNS times; sets OP (median µs of the operation),
# WALL (median µs of the process) and CHECK (its check= line).
bench() {
  local name=$1 i t0 t1 out ops=() walls=()
  shift
  for ((i = 0; i < RUNS; i++)); do
    t0=$(now_ns)
    out=$("$@" 2>&1) || { echo "run.sh: $name failed:" >&2; echo "$out" >&2; exit 1; }
    t1=$(now_ns)
    ops+=("$(sed -n 's/^op_us=//p' <<<"$out")")
    walls+=($(((t1 - t0) / 1000)))
    CHECK=$(grep '^check=' <<<"$out")
  done
  OP=$(printf '%s\n' "${ops[@]}" | median)
  WALL=$(printf '%s\n' "${walls[@]}" | median)
  echo "  $name: op $(fmt "$OP") ms, process $(fmt "$WALL") ms ($CHECK)" >&2
}
fmt() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

row() {  # row LABEL OTHER VALK_OP VALK_WALL OTHER_OP OTHER_WALL
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$3")" "$(fmt "$5")" \
    "$(ratio "$5" "$3")" "$(fmt "$4")" "$(fmt "$6")" "$(ratio "$6" "$4")"
}

echo "sort of $SORT_N integers ($RUNS runs)" >&2
bench valk "$VALK" "$HERE/sort.valk" "$SORT_N"
V_OP=$OP V_WALL=$WALL V_CHECK=$CHECK
bench lua "$LUA" "$HERE/sort.lua" "$SORT_N"
[ "$CHECK" = "$V_CHECK" ] || { echo "run.sh: sort checksums differ: $V_CHECK vs $CHECK" >&2; exit 1; }
SORT_ROW=$(row "sort, $SORT_N integers, vs Lua 5.4 table.sort" lua "$V_OP" "$V_WALL" "$OP" "$WALL")

echo "re/find-all over $TEXT_BYTES bytes ($RUNS runs)" >&2
"$PYTHON" "$HERE/gen_text.py" "$TMP/text.txt" "$TEXT_BYTES"
bench valk "$VALK" "$HERE/findall.valk" "$TMP/text.txt"
V_OP=$OP V_WALL=$WALL V_CHECK=$CHECK
bench python "$PYTHON" "$HERE/findall.py" "$TMP/text.txt"
[ "$CHECK" = "$V_CHECK" ] || { echo "run.sh: find-all checksums differ: $V_CHECK vs $CHECK" >&2; exit 1; }
FIND_ROW=$(row "re/find-all \`[a-z]+ing\\b\`, $TEXT_BYTES bytes, vs Python re.findall" python "$V_OP" "$V_WALL" "$OP" "$WALL")

echo
echo "Medians of $RUNS runs, in ms; ratio = other / valk (above 1: Valkyria is faster)."
echo
echo "| benchmark | valk op | other op | ratio | valk process | other process | ratio |"
echo "|---|---|---|---|---|---|---|"
echo "$SORT_ROW"
echo "$FIND_ROW"
