#!/usr/bin/env bash
# Metrics exports (docs/async.md#metrics): (aio/metrics-prometheus) passes `promtool check
# metrics` (Debian's prometheus package) with no error and no lint warning;
# (aio/metrics-json) parses as JSON; (aio/metrics) is a plist. Each also
# takes an upstream-style system argument, ignored.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

command -v promtool >/dev/null || { echo "FAIL: promtool not found (apt-get install prometheus)" >&2; exit 1; }

run() {  # run FILE OUT: the program's stdout to OUT; fails the test on a non-zero status
  local st=0
  "$VALK" "$1" >"$2" 2>"$tmp/stderr" || st=$?
  [ "$st" -eq 0 ] || fail "$1 exited $st: $(head -5 "$tmp/stderr")"
}

# ---- Prometheus text --------------------------------------------------------
printf '(print (aio/metrics-prometheus))\n' >prom.valk
run prom.valk prom.txt
# promtool prints problems (errors and lint warnings alike) and exits non-zero;
# either one fails the test.
st=0
promtool check metrics <prom.txt >promtool.out 2>&1 || st=$?
[ "$st" -eq 0 ] || fail "promtool check metrics exited $st"
[ -s promtool.out ] && fail "promtool reported: $(cat promtool.out)"

for needle in \
  '# TYPE valk_handles_created_total counter' \
  '# TYPE valk_handles_pending gauge' \
  '# TYPE valk_server_requests_total counter' \
  '# TYPE valk_server_request_duration_seconds histogram' \
  'valk_server_request_duration_seconds_bucket{le="0.0005"} ' \
  'valk_server_request_duration_seconds_bucket{le="2.5"} ' \
  'valk_server_request_duration_seconds_bucket{le="+Inf"} ' \
  'valk_server_request_duration_seconds_sum ' \
  'valk_server_request_duration_seconds_count ' \
  '# TYPE valk_heap_bytes gauge' \
  '# TYPE valk_gc_collections_total counter'; do
  grep -qF -- "$needle" prom.txt || fail "prometheus output lacks [$needle]"
done
grep -q '^# HELP valk_loop_iterations_total .' prom.txt || fail "prometheus output lacks HELP lines"

# With the upstream system argument.
printf '(print (aio/metrics-prometheus 0))\n' >prom_arg.valk
run prom_arg.valk prom_arg.txt
st=0
promtool check metrics <prom_arg.txt >promtool_arg.out 2>&1 || st=$?
[ "$st" -eq 0 ] && [ ! -s promtool_arg.out ] || fail "with an argument: promtool: $(cat promtool_arg.out)"

# ---- JSON -------------------------------------------------------------------
printf '(print (aio/metrics-json))\n' >json.valk
run json.valk metrics.json
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys; json.load(sys.stdin)' <metrics.json 2>json.err ||
    fail "aio/metrics-json is not JSON: $(head -3 json.err)"
  python3 -c '
import json, sys
m = json.load(sys.stdin)
assert isinstance(m["valk_handles_created_total"], int), "handles_created not an integer"
assert isinstance(m["valk_server_requests_total"], list), "labelled family not a list"
h = m["valk_server_request_duration_seconds"]
assert h["buckets"]["+Inf"] == h["count"], "+Inf bucket differs from count"
assert m["valk_heap_bytes"] > 0, "heap size not positive"
' <metrics.json 2>json.err || fail "aio/metrics-json content: $(tail -1 json.err)"
else
  fail "python3 not found: cannot check aio/metrics-json"
fi

# ---- plist --------------------------------------------------------------------
printf '%s\n' \
  '(def m (aio/metrics))' \
  '(print (type (get m :handles-created-total)))' \
  '(print (type (get m :loop-busy-seconds-total)))' \
  '(print (get (get (get m :server-request-duration-seconds) :buckets) "+Inf"))' \
  '(print (type (aio/metrics :sys)))' >plist.valk
run plist.valk plist.txt
expected=$(printf ':integer\n:float\n0\n:list')
[ "$(cat plist.txt)" == "$expected" ] || fail "aio/metrics plist: expected [$expected], got [$(cat plist.txt)]"

[ "$FAILED" -eq 0 ] || exit 1
echo ok
