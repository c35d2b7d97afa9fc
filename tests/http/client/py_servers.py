#!/usr/bin/env python3
"""Small servers for the HTTP client tests (standard library only).

  py_servers.py MODE [--cert PEM --key PEM]

prints its port on the first line of stdout, then serves until killed.

  h1            HTTP/1.1 (cleartext, or TLS offering only ALPN http/1.1 with
                --cert/--key): GET /anything answers "h1 GET /anything";
                /gzip answers a gzip-encoded body; /redirect redirects (302)
                to /target; /loop redirects to itself; /echo answers the
                request body; /close-early sends headers promising 1,000,000
                bytes, 1,000 of them, then closes the connection
  h2-midbody    HTTP/2 over cleartext (prior knowledge): answers every request
                with HEADERS (content-length 1000000) and 1,000 bytes of DATA,
                then closes the connection
  hang          accepts connections, reads, never answers
  reset         accepts connections and resets them (RST) when the request arrives
"""
import argparse
import gzip
import http.server
import socket
import socketserver
import ssl
import struct
import sys
import threading


class H1(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/gzip":
            body = gzip.compress(b"decompressed by the client " * 100)
            self.answer(200, body, [("Content-Encoding", "gzip"), ("Content-Type", "text/plain")])
        elif self.path == "/redirect":
            self.answer(302, b"", [("Location", "/target")])
        elif self.path == "/loop":
            self.answer(302, b"", [("Location", "/loop")])
        elif self.path == "/close-early":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.answer(200, ("h1 %s %s" % (self.command, self.path)).encode())

    do_HEAD = do_GET
    do_DELETE = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.answer(200, self.rfile.read(n))

    do_PUT = do_POST


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def h1(args):
    srv = ThreadingServer(("127.0.0.1", 0), H1)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def read_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def h2_midbody_conn(c):
    try:
        read_exact(c, 24)  # the preface
        c.sendall(frame(4, 0, 0))  # our SETTINGS
        while True:
            head = read_exact(c, 9)
            length = int.from_bytes(head[:3], "big")
            ftype, flags, stream = head[3], head[4], struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
            read_exact(c, length)
            if ftype == 4 and not flags & 1:
                c.sendall(frame(4, 1, 0))  # SETTINGS ACK
            if ftype == 1:  # HEADERS: answer, then leave in the middle of the body
                # :status 200 (static index 8), content-length: 1000000 (literal, name index 28)
                block = b"\x88" + b"\x0f\x0d" + bytes([7]) + b"1000000"
                c.sendall(frame(1, 4, stream, block))
                c.sendall(frame(0, 0, stream, b"y" * 1000))
                c.shutdown(socket.SHUT_RDWR)
                return
    except (EOFError, OSError):
        pass
    finally:
        c.close()


def serve(handler):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def hang_conn(c):
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass


def reset_conn(c):
    # Reset once the request has arrived: a reset sent at accept time can
    # reach the client while it still completes connect(), which it then
    # reports as "connection refused" (a flaky test).
    try:
        c.settimeout(10)
        c.recv(65536)
    except OSError:
        pass
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["h1", "h2-midbody", "hang", "reset"])
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    if args.mode == "h1":
        h1(args)
    elif args.mode == "h2-midbody":
        serve(h2_midbody_conn)
    elif args.mode == "hang":
        serve(hang_conn)
    else:
        serve(reset_conn)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
