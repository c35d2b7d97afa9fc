# shellcheck shell=bash disable=SC2034
# Helpers for the HTTP client tests (tests/http/client_*.sh), on top of the
# shared ../lib/common.sh (fail/pass/finish, start_server, scale, the EXIT trap).
#
#   source "$(dirname "$0")/client/lib.sh"
#   make_pki                 # $PKI/ca.pem and server, expired, wrong-name certificates
#   start_nghttpd DIR        # -> $NGHTTPD_PID, $NGHTTPD_PORT (TLS, $PKI/server.*)
#   start_py NAME MODE [ARGS]  # client/py_servers.py -> $PY_PID, $PY_PORT
#   run_client NAME [ENV=V ...] <<'EOF'
#   (check-eq "status" 200 (response-status (value-of (fetch (str base "/x")))))
#   (done)
#   EOF
#
# run_client writes the program to $TMP/NAME.valk after a line that loads
# client/check.valk, runs it from $TMP (at most $CLIENT_TIMEOUT s, default 50)
# and turns its "ok:" / "FAIL:" lines into this script's verdict; a program
# that does not reach (done) fails. Its output is in $TMP/NAME.out / .err.
CLIENT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/common.sh
source "$CLIENT_DIR/../lib/common.sh"

command -v nghttpd >/dev/null || { echo "FAIL: nghttpd (nghttp2-server) is required" >&2; exit 1; }

# A free TCP port on 127.0.0.1 (for servers that cannot take port 0).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT [PID]: until 127.0.0.1:PORT accepts connections (10 s).
wait_port() {
  local port=$1 pid=${2:-} i
  for ((i = 0; i < 200; i++)); do
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' \
      "$port" 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}

# make_pki: a test CA and certificates it signs, all for localhost and 127.0.0.1
# unless said otherwise, in $PKI:
#   ca.pem                       the CA (what SSL_CERT_FILE names)
#   server.pem / server.key      valid for a day
#   expired.pem / expired.key    valid in January 2020 only
#   wrongname.pem / wrongname.key  valid, but for wrong.example only
#   other-ca.pem                 another CA that signed none of them
PKI=
make_pki() {
  PKI=$TMP/pki
  mkdir -p "$PKI/db"
  : >"$PKI/db/index.txt"
  echo 01 >"$PKI/db/serial"
  cat >"$PKI/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $PKI/db/index.txt
new_certs_dir = $PKI/db
serial = $PKI/db/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
EOF
  {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 2 \
      -subj "/CN=Valkyria Test CA" &&
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/other-ca.key" -out "$PKI/other-ca.pem" \
        -days 2 -subj "/CN=Some Other CA" &&
      sign_cert server localhost "DNS:localhost,IP:127.0.0.1" -days 1 &&
      sign_cert expired localhost "DNS:localhost,IP:127.0.0.1" \
        -startdate 20200101000000Z -enddate 20200201000000Z &&
      sign_cert wrongname wrong.example "DNS:wrong.example" -days 1
  } >"$PKI/openssl.log" 2>&1 || {
    echo "FAIL: openssl could not make the test certificates:" >&2
    cat "$PKI/openssl.log" >&2
    exit 1
  }
}
sign_cert() {  # sign_cert NAME CN SAN [openssl ca date options]
  local name=$1 cn=$2 san=$3
  shift 3
  openssl req -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" \
    -subj "/CN=$cn" -addext "subjectAltName=$san" &&
    openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/ca.pem" -keyfile "$PKI/ca.key" -notext \
      -in "$PKI/$name.csr" -out "$PKI/$name.pem" "$@"
}

# start_nghttpd DIR [CERT_NAME]: nghttpd serving DIR over TLS with
# $PKI/CERT_NAME.{pem,key} (default server) on a free port.
NGHTTPD_PID=
NGHTTPD_PORT=
start_nghttpd() {
  local dir=$1 cert=${2:-server}
  for _ in 1 2 3; do
    NGHTTPD_PORT=$(free_port)
    nghttpd -a 127.0.0.1 -d "$dir" "$NGHTTPD_PORT" "$PKI/$cert.key" "$PKI/$cert.pem" \
      >"$TMP/nghttpd-$cert.log" 2>&1 &
    NGHTTPD_PID=$!
    disown "$NGHTTPD_PID"
    SERVER_PIDS+=("$NGHTTPD_PID")
    if wait_port "$NGHTTPD_PORT" "$NGHTTPD_PID"; then return 0; fi
    kill "$NGHTTPD_PID" 2>/dev/null
  done
  echo "FAIL: nghttpd did not start:" >&2
  cat "$TMP/nghttpd-$cert.log" >&2
  exit 1
}

# run_client NAME [VAR=VALUE ...]: see the top of this file. Sets CLIENT_STATUS.
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-50}
run_client() {
  local name=$1
  shift
  {
    printf '(load "%s/check.valk")\n' "$CLIENT_DIR"
    cat
  } >"$TMP/$name.valk"
  local t0=$SECONDS
  (cd "$TMP" && env "$@" timeout -k 5 "$CLIENT_TIMEOUT" "$VALK" "$name.valk" \
    >"$TMP/$name.out" 2>"$TMP/$name.err")
  CLIENT_STATUS=$?
  [ $((SECONDS - t0)) -ge 5 ] && echo "$name: note: took $((SECONDS - t0)) s"
  local line
  while IFS= read -r line; do
    case "$line" in
      "ok: "* | "note: "*) echo "$name: $line" ;;
      "FAIL: "*) fail "$name: ${line#FAIL: }" ;;
    esac
  done <"$TMP/$name.out"
  if ! grep -q '^done: ' "$TMP/$name.out" || [ "$CLIENT_STATUS" -ne 0 ]; then
    fail "$name: the program did not finish (exit $CLIENT_STATUS$([ "$CLIENT_STATUS" -eq 124 ] && echo ", timed out")). stderr:"
    tail -n 20 "$TMP/$name.err" >&2
  fi
  # ASan and UBSan reports go to stderr; the program may still exit 0.
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/$name.err"; then
    fail "$name: sanitizer report:"
    grep -A 30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/$name.err" | head -n 60 >&2
  fi
}

# start_py NAME MODE [ARGS...]: one of client/py_servers.py's servers
# -> $PY_PID, $PY_PORT (output in $TMP/NAME.out / .err).
PY_PID=
PY_PORT=
start_py() {
  local name=$1 i line
  shift
  python3 "$CLIENT_DIR/py_servers.py" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PY_PID=$!
  disown "$PY_PID"  # killed by the EXIT trap without a "Killed" line
  SERVER_PIDS+=("$PY_PID")
  PY_PORT=
  for ((i = 0; i < 200; i++)); do
    line=$(head -n 1 "$TMP/$name.out" 2>/dev/null)
    if [[ "$line" =~ ^[0-9]+$ ]]; then PY_PORT=$line; return 0; fi
    kill -0 "$PY_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: py_servers.py $* did not start:" >&2
  cat "$TMP/$name.err" >&2
  exit 1
}
