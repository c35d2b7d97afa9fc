#!/usr/bin/env bash
# Running out of heap inside the VM itself (closures, frames; not a builtin):
# the process ends with a message and status 1, never a crash or an abort.
set -uo pipefail
: "${VALK:?set VALK to the valk binary}"
out=$(VALK_HEAP_LIMIT=64M timeout 120 "$VALK" \
  -e '(fun (chainf n acc) (if (== n 0) acc (chainf (- n 1) (fn () acc))))' \
  -e '(type (chainf 100000000 0))' 2>&1); st=$?
if [ "$st" -ne 1 ]; then echo "FAIL: exit status $st, expected 1; output: $(echo "$out" | tail -3)"; exit 1; fi
if ! grep -q "out of memory" <<<"$out"; then echo "FAIL: no out-of-memory message: $(echo "$out" | tail -3)"; exit 1; fi
echo "ok: the VM running out of heap exits 1 with a message"
