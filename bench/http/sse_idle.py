#!/usr/bin/env python3
"""Memory per idle SSE stream, for bench/http/streaming.sh.

    sse_idle.py PID PORT CONNS STREAMS [PATH]

Opens CONNS cleartext HTTP/2 connections (prior knowledge) to
127.0.0.1:PORT and on each sends the preface, SETTINGS and STREAMS GET
requests for PATH (default /sse; HPACK, static table only) on streams 1, 3,
5, ..., acknowledges the server's SETTINGS and reads until the response
HEADERS of all STREAMS streams have arrived. The streams are then open and
idle: the server has answered 200 and sends nothing more. (STREAMS must not
exceed the server's SETTINGS_MAX_CONCURRENT_STREAMS, 100 by default.)

Before the first connection one warm-up connection opens STREAMS streams
and keeps them, so one-time costs (the first session, allocator arenas, the
GC heap's first growth) are in the "before" figure. VmRSS of the server PID
is read before, after half of the connections and after all of them (each
after a 1 s pause); printed on one line:

    before_kib half_kib after_kib streams bytes_per_stream marginal_bytes_per_stream

bytes_per_stream is (after - before) * 1024 / (CONNS * STREAMS) and the
marginal figure is (after - half) over the second half's streams. Then the
connections are closed.
"""
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def request_headers(authority, path):
    a, p = authority.encode(), path.encode()
    # :method GET (2), :scheme http (6), :path literal with indexed name 4,
    # :authority literal with indexed name 1, both without indexing.
    return bytes([0x82, 0x86, 0x04, len(p)]) + p + bytes([0x01, len(a)]) + a


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


def open_conn(port, streams, path):
    s = socket.create_connection(("127.0.0.1", port))
    hdr = request_headers("127.0.0.1:%d" % port, path)
    out = [PREFACE, frame(4, 0, 0)]
    for i in range(streams):
        out.append(frame(1, 0x5, 2 * i + 1, hdr))  # END_STREAM | END_HEADERS
    s.sendall(b"".join(out))
    buf = bytearray()
    answered = set()
    while len(answered) < streams:
        ftype, flags, stream, payload = read_frame(s, buf)
        if ftype == 4 and not flags & 1:          # server SETTINGS: ack it
            s.sendall(frame(4, 1, 0))
        elif ftype == 1 and stream:
            if payload[:1] != b"\x88" and b"200" not in payload:  # :status 200 (indexed 8) or literal
                raise RuntimeError("stream %d: status is not 200: %r" % (stream, payload[:20]))
            answered.add(stream)
        elif ftype == 3:
            raise RuntimeError("stream %d reset by the server: %r" % (stream, payload))
        elif ftype == 7:
            raise RuntimeError("GOAWAY from server: %r" % payload)
    return s


def main():
    pid, port, conns, streams = (int(a) for a in sys.argv[1:5])
    path = sys.argv[5] if len(sys.argv) > 5 else "/sse"
    warm = open_conn(port, streams, path)
    time.sleep(1.0)
    before = vmrss_kib(pid)
    half_n = conns // 2
    socks = [open_conn(port, streams, path) for _ in range(half_n)]
    time.sleep(1.0)
    half = vmrss_kib(pid)
    socks += [open_conn(port, streams, path) for _ in range(conns - half_n)]
    time.sleep(1.0)
    after = vmrss_kib(pid)
    n = conns * streams
    marginal = round((after - half) * 1024 / ((conns - half_n) * streams)) if conns > half_n else 0
    print(before, half, after, n, round((after - before) * 1024 / n), marginal)
    for s in socks + [warm]:
        s.close()


if __name__ == "__main__":
    main()
