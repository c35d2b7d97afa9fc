#!/usr/bin/env bash
# User metrics (docs/async.md#user-metrics) in the exports: a program that
# registers counters, gauges and histograms with labels (escaped values, a
# refused label set) prints (aio/metrics-prometheus), and `promtool check
# metrics` must accept it with no error and no lint warning; the user series
# and the runtime's are both there; (metrics/prometheus) is the same text;
# (aio/metrics-json) parses and holds the user families.
set -euo pipefail
: "${VALK:?set VALK to the valk binary}"
command -v promtool >/dev/null || { echo "SKIP: promtool not found (apt-get install prometheus)"; exit 77; }
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

cat >user.valk <<'VALK'
(def req (metrics/counter "app_requests_total" :help "Requests served." "method" "GET" :code "200"))
(metrics/counter-inc req)
(metrics/counter-inc req 2)
(metrics/counter-inc (metrics/counter "app_requests_total" {:method "POST" :code "500"}))
(metrics/counter-inc "app_jobs_total" "queue" "a\"b\\c")
(def q (metrics/gauge "app_queue_depth" :help "Jobs waiting." "queue" "mail"))
(metrics/gauge-set q 7)
(metrics/gauge-dec q 0.5)
(def lat (metrics/histogram "app_latency_seconds" :help "Handler latency." :buckets '(0.01 0.1 1) "route" "/a"))
(metrics/histogram-observe lat 0.05)
(metrics/histogram-observe lat 2)
(def r (map (fn (i) (metrics/counter "app_bounded_total" "id" (str i))) (range 0 1002)))
(print (aio/metrics-prometheus))
VALK
st=0
"$VALK" user.valk >prom.txt 2>stderr.txt || st=$?
[ "$st" -eq 0 ] || fail "user.valk exited $st: $(head -5 stderr.txt)"
st=0
promtool check metrics <prom.txt >promtool.out 2>&1 || st=$?
[ "$st" -eq 0 ] || fail "promtool check metrics exited $st"
[ -s promtool.out ] && fail "promtool reported: $(head -5 promtool.out)"

for needle in \
  '# HELP app_requests_total Requests served.' \
  '# TYPE app_requests_total counter' \
  'app_requests_total{code="200",method="GET"} 3' \
  'app_requests_total{code="500",method="POST"} 1' \
  'app_jobs_total{queue="a\"b\\c"} 1' \
  '# TYPE app_queue_depth gauge' \
  'app_queue_depth{queue="mail"} 6.5' \
  '# TYPE app_latency_seconds histogram' \
  'app_latency_seconds_bucket{route="/a",le="0.1"} 1' \
  'app_latency_seconds_bucket{route="/a",le="+Inf"} 2' \
  'app_latency_seconds_count{route="/a"} 2' \
  'valk_metrics_label_sets_refused_total 2' \
  '# TYPE valk_handles_created_total counter'; do
  grep -qxF -- "$needle" prom.txt || fail "prometheus output lacks the line [$needle]"
done
n=$(grep -c '^app_bounded_total{' prom.txt || true)
[ "$n" -eq 1000 ] || fail "app_bounded_total has $n series, expected the bound 1000"

# metrics/prometheus is the same text; metrics/json parses and has the families.
printf '%s\n' '(metrics/counter-inc "app_x_total" "k" "v")' \
  '(print (== (metrics/prometheus) (aio/metrics-prometheus)))' '(print (metrics/json))' >json.valk
"$VALK" json.valk >json.txt 2>stderr.txt || fail "json.valk: $(head -3 stderr.txt)"
[ "$(head -1 json.txt)" == "true" ] || fail "metrics/prometheus differs from aio/metrics-prometheus"
if command -v python3 >/dev/null; then
  tail -n +2 json.txt | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["app_x_total"] == [{"labels": {"k": "v"}, "value": 1.0}], m["app_x_total"]
assert "valk_handles_created_total" in m, "runtime metrics missing"
' 2>json.err || fail "metrics/json: $(tail -1 json.err)"
fi

[ "$FAILED" -eq 0 ] || exit 1
echo ok
