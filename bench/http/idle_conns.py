#!/usr/bin/env python3
"""Memory per idle HTTP/2 connection, for bench/http/run.sh.

    idle_conns.py PID PORT N [--hold SECONDS] [--h2c] [--no-request]

Reads VmRSS of the server process PID, then opens N TLS connections to
127.0.0.1:PORT (ALPN h2), and on each sends the HTTP/2 connection preface,
an empty SETTINGS frame and one GET / (HPACK, static table only),
acknowledges the server's SETTINGS and reads until the response has ended. The connections are then
idle: open, no stream in progress, as a browser keeps them between requests.
With --h2c the connections are cleartext (prior knowledge), without TLS.
With --no-request no request is made: the client sends the preface and
SETTINGS, waits for the server's SETTINGS and acknowledges them. That
measures the connection alone, without the garbage one request leaves in
the server's heap, but the server's header timeout (10 s by default) must
not expire while the N connections are being opened.
(One request is made because a server may close a connection that never
sends request headers; see the header timeout in docs/http-server.md.)
After all N are open it waits a second, reads VmRSS again, prints

    before_kib after_kib n bytes_per_connection

on one line, and closes the connections.
"""
import socket
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def request_headers(authority):
    a = authority.encode()
    # :method GET (2), :scheme https (7), :path / (4), :authority literal
    # with indexed name 1, without indexing.
    return bytes([0x82, 0x87, 0x84, 0x01, len(a)]) + a


def vmrss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def read_frame(sock, buf):
    while len(buf) < 9:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    length = int.from_bytes(buf[0:3], "big")
    while len(buf) < 9 + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    ftype, flags = buf[3], buf[4]
    stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
    payload = bytes(buf[9:9 + length])
    del buf[:9 + length]
    return ftype, flags, stream, payload


def open_conn(ctx, port, request=True):
    s = socket.create_connection(("127.0.0.1", port))
    if ctx is not None:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    if ctx is not None and s.selected_alpn_protocol() != "h2":
        raise RuntimeError("ALPN did not select h2: %r" % s.selected_alpn_protocol())
    s.sendall(PREFACE + frame(4, 0, 0) +
              (frame(1, 0x5, 1, request_headers("localhost:%d" % port)) if request else b""))
    buf = bytearray()
    while True:
        ftype, flags, stream, payload = read_frame(s, buf)
        if ftype == 4 and not flags & 1:          # server SETTINGS: ack it
            s.sendall(frame(4, 1, 0))
            if not request:
                return s
        if stream == 1 and ftype in (0, 1) and flags & 1:  # END_STREAM
            return s
        if ftype == 7:
            raise RuntimeError("GOAWAY from server: %r" % payload)


def main():
    args = sys.argv[1:]
    hold = 0.0
    h2c = "--h2c" in args
    if h2c:
        args.remove("--h2c")
    request = "--no-request" not in args
    if not request:
        args.remove("--no-request")
    if "--hold" in args:
        i = args.index("--hold")
        hold = float(args[i + 1])
        del args[i:i + 2]
    pid, port, n = int(args[0]), int(args[1]), int(args[2])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    if h2c:
        ctx = None
    # Warm-up: one connection first, so one-time costs (TLS context, first
    # session, allocator arenas) are in the "before" figure.
    warm = open_conn(ctx, port)   # (a request is made on this one in any case)
    time.sleep(0.5)
    before = vmrss_kib(pid)
    conns = [open_conn(ctx, port, request) for _ in range(n)]
    time.sleep(1.0)
    after = vmrss_kib(pid)
    if hold:
        time.sleep(hold)
    print(before, after, n, round((after - before) * 1024 / n))
    for s in conns + [warm]:
        s.close()


if __name__ == "__main__":
    main()
