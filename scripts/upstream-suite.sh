#!/usr/bin/env bash
# Runs upstream's Valkyria test files (test/*.valk and test/stress/*.valk) with a valk binary
# and counts the outcome (docs/compatibility.md).
#
#   scripts/upstream-suite.sh UP VALK [LIMIT]
#
# UP is a checkout of upstream's tree (the files run from there, as upstream's own runner does);
# VALK is the binary; LIMIT is the seconds each file may take (default 20). Prints one line per
# file, `status file passed failed`, where status is ok (exit 0), fail (any other exit) or
# timeout (killed at the limit), and passed/failed add up the test module's `N passed, M failed`
# lines of that file; then a summary line. The files run one at a time: several of them listen
# on fixed ports.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 UP VALK [LIMIT]" >&2
  exit 2
fi
up=$1
valk=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
limit=${3:-20}
cd "$up" || exit 2

files=0 ok=0 timeouts=0 passed=0 failed=0 test_timeouts=0
for f in test/*.valk test/stress/*.valk; do
  [ -f "$f" ] || continue
  out=$(timeout -k 5 "$limit" "$valk" "$f" 2>&1 </dev/null)
  rc=$?
  p=0 m=0
  while read -r a b; do
    p=$((p + a))
    m=$((m + b))
  done < <(printf '%s\n' "$out" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1 \2/p')
  t=$(printf '%s\n' "$out" | grep -c '  TIMEOUT : ')
  case $rc in
    0) status=ok; ok=$((ok + 1)) ;;
    124 | 137) status=timeout; timeouts=$((timeouts + 1)) ;;
    *) status=fail ;;
  esac
  files=$((files + 1))
  passed=$((passed + p))
  failed=$((failed + m))
  test_timeouts=$((test_timeouts + t))
  echo "$status $f $p $m"
done
echo "summary: $files files, $ok exit 0, $timeouts killed at ${limit}s;" \
  "tests: $passed passed, $failed failed ($test_timeouts of them TIMEOUT)"
