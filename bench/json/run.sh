#!/usr/bin/env bash
# JSON parse and encode: Valkyria (json/parse, json/encode) against Python's json module and
# Node's JSON, on a generated 10 MB document (bench/json/gen.py: an array of objects with
# strings, some non-ASCII and escaped, integers, floats, booleans, nulls, nested arrays and
# an object). Each run is a fresh process that reads the file, then times the parse and the
# encode (compact, UTF-8 kept) alone: time-us in Valkyria, time.perf_counter in Python,
# performance.now in Node. Prints the median of RUNS runs (default 5) and the ratios.
#
#   bench/json/run.sh [RUNS]        VALK=... PYTHON=... NODE=... SIZE=bytes
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RUNS=${1:-5}
VALK=${VALK:-build/valk}
PYTHON=${PYTHON:-python3}
NODE=${NODE:-node}
SIZE=${SIZE:-10000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
doc=$tmp/doc.json
"$PYTHON" bench/json/gen.py "$doc" "$SIZE"
echo "document: $(stat -c %s "$doc") bytes; $RUNS runs each; median ms" >&2

cat >"$tmp/b.valk" <<VALK
(def s (read-file "$doc"))
(def t0 (time-us))
(def v (json/parse s))
(def t1 (time-us))
(def out (json/encode v))
(def t2 (time-us))
(print (- t1 t0) (- t2 t1) (len out))
VALK
cat >"$tmp/b.py" <<PY
import json, time
s = open("$doc", encoding="utf-8").read()
t0 = time.perf_counter(); v = json.loads(s); t1 = time.perf_counter()
out = json.dumps(v, ensure_ascii=False, separators=(",", ":")); t2 = time.perf_counter()
print(int((t1 - t0) * 1e6), int((t2 - t1) * 1e6), len(out.encode()))
PY
cat >"$tmp/b.js" <<JS
const s = require("fs").readFileSync("$doc", "utf8");
const t0 = performance.now(); const v = JSON.parse(s); const t1 = performance.now();
const out = JSON.stringify(v); const t2 = performance.now();
console.log(Math.round((t1 - t0) * 1000), Math.round((t2 - t1) * 1000), Buffer.byteLength(out));
JS

# run NAME CMD...: RUNS runs; prints "NAME parse_median_us encode_median_us".
run() {
  local name=$1
  shift
  : >"$tmp/$name.times"
  for _ in $(seq "$RUNS"); do "$@" >>"$tmp/$name.times"; done
  "$PYTHON" - "$name" "$tmp/$name.times" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
print(sys.argv[1], statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), rows[0][2])
PY
}
{
  run valk "$VALK" "$tmp/b.valk"
  run python "$PYTHON" "$tmp/b.py"
  if command -v "$NODE" >/dev/null; then run node "$NODE" "$tmp/b.js"; else echo "node: not installed" >&2; fi
} >"$tmp/results"

"$PYTHON" - "$tmp/results" <<'PY'
import sys
r = {}
for line in open(sys.argv[1]):
    name, p, e, n = line.split()
    r[name] = (float(p) / 1000, float(e) / 1000, int(n))
print("%-8s %10s %10s %12s" % ("", "parse ms", "encode ms", "output bytes"))
for name, (p, e, n) in r.items():
    print("%-8s %10.1f %10.1f %12d" % (name, p, e, n))
v = r["valk"]
for other in ("python", "node"):
    if other in r:
        o = r[other]
        print("valk / %-6s  parse %.2fx  encode %.2fx  (below 1: valk is faster)" % (other, v[0] / o[0], v[1] / o[1]))
PY
