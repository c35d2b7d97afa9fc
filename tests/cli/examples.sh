#!/usr/bin/env bash
# The example programs that end by themselves run to completion with status
# 0 (the server examples are run by make run and the HTTP tests).
set -uo pipefail
: "${VALK:?set VALK to the valk binary}"
cd "$(dirname "$0")/../../examples" || exit 1
FAILED=0
for f in demo.valk async_pipeline.valk async_scope.valk async_await.valk files.valk processes.valk \
         tcp_echo.valk channels.valk; do
  out=$(timeout 60 "$VALK" "$f" 2>&1); st=$?
  if [ "$st" -eq 0 ]; then echo "ok: $f"; else echo "FAIL: $f exited $st: $(tail -3 <<<"$out")" >&2; FAILED=1; fi
done
exit $FAILED
