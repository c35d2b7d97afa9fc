#!/usr/bin/env bash
# Every example of docs/http-client.md (the client examples of docs/async.md among
# them) runs as written against the page's demo server, and prints exactly
# the output shown under it (tests/http/client/doc_examples.py).
source "$(dirname "$0")/client/lib.sh"

DOC=$HTTP_TESTS_DIR/../../docs/http-client.md
[ -f "$DOC" ] || { fail "no docs/http-client.md"; finish; }
make_cert  # $TMP/cert.pem, $TMP/key.pem for localhost, as the page makes them
PORT=$(free_port)
python3 "$CLIENT_DIR/doc_examples.py" server "$DOC" "$PORT" >"$TMP/demo_server.valk" ||
  { fail "the page's demo server block"; finish; }
(cd "$TMP" && exec "$VALK" demo_server.valk >"$TMP/demo.out" 2>"$TMP/demo.err") &
DEMO=$!
SERVER_PIDS+=("$DEMO")
if wait_port "$PORT" "$DEMO"; then
  check_eq "the demo server prints its port" "listening on $PORT" "$(head -n 1 "$TMP/demo.out")"
else
  fail "the demo server did not start: $(cat "$TMP/demo.err")"
  finish
fi

python3 "$CLIENT_DIR/doc_examples.py" run "$DOC" "$PORT" "$VALK" "$TMP" >"$TMP/examples.out" 2>&1
while IFS= read -r line; do
  case "$line" in
    "ok: "*) echo "$line" ;;
    "FAIL: "*) fail "${line#FAIL: }" ;;
    *) echo "$line" >&2 ;;
  esac
done <"$TMP/examples.out"
grep -q '^ok: [0-9]* examples$' "$TMP/examples.out" || fail "not every example ran"

stop_server "$DEMO"
finish
