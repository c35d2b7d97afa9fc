#!/usr/bin/env bash
# make run: the hello server (examples/hello_server.valk) over TLS on
# port 8443, with a self-signed certificate generated on first run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=build/hello
mkdir -p "$DIR"
if [ ! -f "$DIR/cert.pem" ] || [ ! -f "$DIR/key.pem" ]; then
  echo "Generating a self-signed certificate for localhost in $DIR/"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
fi
cat <<MSG
Valkyria hello server: https://localhost:8443/
Try it:  curl -k --http2 https://localhost:8443/
         h2load -n 10000 -c 10 -m 10 https://localhost:8443/
Stop it with Ctrl-C.
MSG
cd "$DIR"
exec "$ROOT/build/valk" "$ROOT/examples/hello_server.valk"
