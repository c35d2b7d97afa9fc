// A libuv stream behind a byte stream (see uv_stream.h).
#include "io/uv_stream.h"

#include <openssl/err.h>

#include <algorithm>
#include <cstring>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "aio/loop.h"
#include "core/gc.h"
#include "core/runtime.h"
#include "core/vm.h"
#include "http/tls.h"
#include "io/io.h"

namespace valk::io {

// Pinned (gc.h rule 2): libuv points at it until its close callback, and it
// holds the stream and handles, which the collector must see.
struct UvConn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } u;
  const char* kind;
  std::string label;
  aio::ByteStream* s = nullptr;
  aio::Handle* owner = nullptr;
  aio::Handle* ready = nullptr;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // (owned by ssl)
  BIO* wbio = nullptr;
  bool handshaken = false;
  bool reading = false;   // uv_read_start is in effect
  bool read_eof = false;  // the peer ended its side
  bool shutting = false;  // a shutdown was requested (after the queue)
  bool shut = false;      // ... and is done
  bool closing = false;   // uv_close was called
  bool close_when_shut = false;  // close_gracefully: the read side is not waited for
  size_t in_flight = 0;   // bytes handed to uv_write, not yet written
  uv_shutdown_t shutdown_req;
  int64_t idle_ms = 0;
  int64_t last_active_ms = 0;
  aio::Handle* idle_timer = nullptr;
  aio::NativeWatch* idle_watch = nullptr;
  void (*finished)(void*) = nullptr;
  void* finished_ctx = nullptr;
};

namespace {

// At most this much is handed to the kernel ahead of its taking it: the
// rest stays in the stream's queue, where the watermarks see it.
constexpr size_t kMaxInFlight = 256u << 10;
constexpr size_t kChunk = 64u << 10;

int64_t now_ms() { return aio::now_us() / 1000; }

struct WriteReq {
  uv_write_t req;
  UvConn* c;
  size_t len;
  char data[];
};

void finish(UvConn* c, aio::StreamEnd why, Value err = kNil);
void flush(UvConn* c);

void on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  UvConn* c = w->c;
  c->in_flight -= w->len;
  free(w);
  if (c->closing) return;
  if (status < 0) {
    finish(c, aio::StreamEnd::Reset, uv_error(c->kind, "write", c->label, status));
    return;
  }
  c->last_active_ms = now_ms();
  flush(c);
}

// Writes bytes as they are: at once if the socket takes them, else queued
// in libuv (bounded by kMaxInFlight through flush).
void send_raw(UvConn* c, const char* data, size_t n) {
  if (c->in_flight == 0) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(data), unsigned(n));
    int r = uv_try_write(&c->u.stream, &b, 1);
    if (r > 0) {
      data += r;
      n -= size_t(r);
      c->last_active_ms = now_ms();
    } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
      finish(c, aio::StreamEnd::Reset, uv_error(c->kind, "write", c->label, r));
      return;
    }
    if (n == 0) return;
  }
  auto* w = static_cast<WriteReq*>(malloc(sizeof(WriteReq) + n));
  w->c = c;
  w->len = n;
  memcpy(w->data, data, n);
  uv_buf_t b = uv_buf_init(w->data, unsigned(n));
  c->in_flight += n;
  int r = uv_write(&w->req, &c->u.stream, &b, 1, on_write);
  if (r < 0) {
    c->in_flight -= n;
    free(w);
    finish(c, aio::StreamEnd::Reset, uv_error(c->kind, "write", c->label, r));
  }
}

// What OpenSSL wrote into its output BIO goes to the socket.
void send_tls_output(UvConn* c) {
  char buf[16384];
  int n;
  while (!c->closing && (n = BIO_read(c->wbio, buf, sizeof buf)) > 0) send_raw(c, buf, size_t(n));
}

void send_plain(UvConn* c, const char* data, size_t n) {
  if (!c->ssl) return send_raw(c, data, n);
  if (SSL_write(c->ssl, data, int(n)) <= 0) {
    finish(c, aio::StreamEnd::Reset, io_error(c->kind, "write " + c->label + ": " + http::tls_error_text()));
    return;
  }
  send_tls_output(c);
}

void on_shutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<UvConn*>(req->data);
  c->shut = true;
  if (c->closing) return;
  // The write side is done. A source that the peer has ended too (or a
  // stream that reads nothing) is over; otherwise reading goes on.
  if (status < 0 || !c->s || !c->s->readable || c->read_eof || c->close_when_shut)
    finish(c, aio::StreamEnd::Closed);
}

void start_shutdown(UvConn* c) {
  if (c->shutting || c->closing) return;
  c->shutting = true;
  if (c->ssl && c->handshaken) {
    SSL_shutdown(c->ssl);  // close_notify
    send_tls_output(c);
    if (c->closing) return;
  }
  c->shutdown_req.data = c;
  if (uv_shutdown(&c->shutdown_req, &c->u.stream, on_shutdown) < 0) finish(c, aio::StreamEnd::Closed);
}

void flush(UvConn* c) {
  aio::ByteStream* s = c->s;
  if (c->closing || !s || s->end != aio::StreamEnd::Open) return;
  if (c->ssl && !c->handshaken) return;  // sent once the handshake is done
  bool took = false;
  char buf[kChunk];
  while (!c->closing && c->in_flight < kMaxInFlight) {
    bool eof = false;
    size_t n = aio::take(s, buf, sizeof buf, &eof);
    if (n) {
      took = true;
      send_plain(c, buf, n);
    }
    if (eof) {
      start_shutdown(c);
      break;
    }
    if (!n) break;
  }
  if (took && !c->closing) aio::after_take(s);
}

size_t unread(const aio::ByteStream* s) { return s->in.size() - s->in_off; }

// How much may wait unread before the socket is paused: the high watermark,
// or what a pending stream/read-all accepts.
size_t read_limit(const aio::ByteStream* s) {
  return s->whole_readers.empty() ? s->high : std::max(s->high, s->whole_limit);
}

void on_read(uv_stream_t* st, ssize_t nread, const uv_buf_t* buf);

void alloc_buffer(uv_handle_t*, size_t, uv_buf_t* b) {
  // One buffer for every connection: on_read consumes it before returning.
  static char shared[kChunk];
  *b = uv_buf_init(shared, sizeof shared);
}

void start_reading(UvConn* c) {
  if (c->reading || c->closing || c->read_eof || !c->s || !c->s->readable) return;
  if (unread(c->s) >= read_limit(c->s)) return;
  int r = uv_read_start(&c->u.stream, alloc_buffer, on_read);
  if (r < 0) {
    finish(c, aio::StreamEnd::Reset, uv_error(c->kind, "read", c->label, r));
    return;
  }
  c->reading = true;
}

void pause_if_full(UvConn* c) {
  if (c->reading && !c->closing && unread(c->s) >= read_limit(c->s)) {
    uv_read_stop(&c->u.stream);
    c->reading = false;
  }
}

// The peer ended its side: readers get the end, and our side ends too once
// what is queued has been sent (as Node's sockets do by default): a stream
// whose peer has gone is closed, not left half open. (Our own stream/close
// first is the half-close that stays open for reading.)
void peer_ended(UvConn* c) {
  aio::push_end(c->s, kNil);
  if (!c->s->writable || c->shut) return finish(c, aio::StreamEnd::Closed);
  aio::close(c->s);  // -> flush -> shutdown -> finish
}

void read_tls_records(UvConn* c) {
  char plain[16384];
  for (;;) {
    int n = SSL_read(c->ssl, plain, sizeof plain);
    if (n > 0) {
      aio::push_quietly(c->s, plain, size_t(n));
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ) break;
    aio::deliver(c->s);
    if (e == SSL_ERROR_ZERO_RETURN) {  // close_notify: the peer's end
      c->read_eof = true;
      peer_ended(c);
      return;
    }
    finish(c, aio::StreamEnd::Reset, io_error(c->kind, "read " + c->label + ": " + http::tls_error_text()));
    return;
  }
  aio::deliver(c->s);
  send_tls_output(c);  // (session tickets, key updates)
}

void do_handshake(UvConn* c) {
  int r = SSL_do_handshake(c->ssl);
  send_tls_output(c);
  if (c->closing) return;
  if (r == 1) {
    c->handshaken = true;
    if (c->ready && !aio::settled(c->ready)) aio::complete(c->ready, aio::stream_value(c->s));
    flush(c);
    return;
  }
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
  std::string why;
  long v = SSL_get_verify_result(c->ssl);
  if (v != X509_V_OK) why = X509_verify_cert_error_string(v);
  else why = http::tls_error_text();
  finish(c, aio::StreamEnd::Reset,
         io_error(c->kind, "tls " + c->label + ": handshake failed: " + why));
}

void on_read(uv_stream_t* st, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<UvConn*>(st->data);
  if (c->closing) return;
  if (nread > 0) {
    c->last_active_ms = now_ms();
    if (c->ssl) {
      BIO_write(c->rbio, buf->base, int(nread));
      if (!c->handshaken) {
        do_handshake(c);
        if (c->closing || !c->handshaken) return;
      }
      read_tls_records(c);
    } else {
      aio::push(c->s, buf->base, size_t(nread));
    }
    if (!c->closing) pause_if_full(c);
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_EOF) {
    uv_read_stop(st);
    c->reading = false;
    c->read_eof = true;
    if (c->ssl && !c->handshaken) {
      finish(c, aio::StreamEnd::Reset,
             io_error(c->kind, "tls " + c->label + ": the peer closed during the handshake"));
      return;
    }
    peer_ended(c);
    return;
  }
  finish(c, aio::StreamEnd::Reset, uv_error(c->kind, "read", c->label, int(nread)));
}

void t_wake(aio::ByteStream* s) { flush(static_cast<UvConn*>(s->transport)); }
void t_consumed(aio::ByteStream* s, size_t) { start_reading(static_cast<UvConn*>(s->transport)); }
void t_abort(aio::ByteStream* s, aio::StreamEnd why) { finish(static_cast<UvConn*>(s->transport), why); }

const aio::StreamTransport kTcpOps{"tcp", t_wake, t_consumed, t_abort};
const aio::StreamTransport kUnixOps{"unix", t_wake, t_consumed, t_abort};
const aio::StreamTransport kPipeOps{"pipe", t_wake, t_consumed, t_abort};

const aio::StreamTransport* ops_for(const char* kind) {
  if (!strcmp(kind, "unix")) return &kUnixOps;
  if (!strcmp(kind, "pipe")) return &kPipeOps;
  return &kTcpOps;
}

void on_closed(uv_handle_t* h) {
  auto* c = static_cast<UvConn*>(h->data);
  if (c->s) open_gauge(c->kind).dec();
  release(c->owner);
  if (c->finished) c->finished(c->finished_ctx);
  if (c->ssl) SSL_free(c->ssl);
  gc_delete_pinned(c);
}

void stop_idle_timer(UvConn* c) {
  if (!c->idle_watch) return;
  c->idle_watch->ctx = nullptr;
  aio::cancel(c->idle_timer);
  c->idle_timer = nullptr;
  c->idle_watch = nullptr;
}

void arm_idle(UvConn* c);

void on_idle_timer(void* ctx, aio::Handle*) {
  auto* c = static_cast<UvConn*>(ctx);
  c->idle_timer = nullptr;
  c->idle_watch = nullptr;
  if (c->closing) return;
  if (now_ms() - c->last_active_ms >= c->idle_ms) {
    finish(c, aio::StreamEnd::Timeout);
    return;
  }
  arm_idle(c);
}

// The idle timer is an aio sleep (so the virtual clock drives it), re-armed
// for what is left when it fires rather than on every byte.
void arm_idle(UvConn* c) {
  int64_t left = c->last_active_ms + c->idle_ms - now_ms();
  VM& vm = current_vm();
  c->idle_timer = aio::sleep(vm, std::max<int64_t>(1, left), kNil);
  aio::mark_handled(c->idle_timer);
  aio::watch(vm, c->idle_timer, on_idle_timer, c, &c->idle_watch);
}

// Ends the connection: the stream ends as `why` (readers get `err`, if
// given, as the reason), and the uv handle is closed.
void finish(UvConn* c, aio::StreamEnd why, Value err) {
  if (c->closing) return;
  c->closing = true;
  stop_idle_timer(c);
  if (c->reading) uv_read_stop(&c->u.stream);
  c->reading = false;
  if (c->s) {
    if (err != kNil && c->s->readable) aio::push_end(c->s, err);
    aio::ended(c->s, why);
  }
  if (c->ready && !aio::settled(c->ready) && why == aio::StreamEnd::Cancelled) {
    aio::cancel_settle(c->ready);  // (the connect handle, being cancelled)
  } else if (c->ready && !aio::settled(c->ready)) {
    if (err == kNil) err = io_error(c->kind, std::string(c->kind) + " " + c->label + ": closed");
    aio::fail_with(c->ready, err);
  }
  uv_close(&c->u.handle, on_closed);
}

void close_owned(void* ctx) { finish(static_cast<UvConn*>(ctx), aio::StreamEnd::Cancelled); }

}  // namespace

UvConn* new_conn(const char* kind, std::string label) {
  UvConn* c = gc_new_pinned<UvConn>();
  c->kind = kind;
  c->label = std::move(label);
  c->u.handle.data = c;
  return c;
}

uv_stream_t* conn_stream(UvConn* c) { return &c->u.stream; }
void set_label(UvConn* c, std::string label) { c->label = std::move(label); }
uv_tcp_t* conn_tcp(UvConn* c) { return &c->u.tcp; }
uv_pipe_t* conn_pipe(UvConn* c) { return &c->u.pipe; }

aio::ByteStream* attach(VM& vm, UvConn* c, const AttachOptions& o) {
  c->u.handle.data = c;
  c->s = aio::new_stream(ops_for(c->kind), c, o.writable, o.readable);
  open_gauge(c->kind).inc();
  c->last_active_ms = now_ms();
  c->idle_ms = o.idle_timeout_ms;
  if (c->idle_ms > 0) arm_idle(c);
  if (o.ssl) {
    c->ssl = o.ssl;
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    c->ready = o.ready;
  }
  start_reading(c);
  if (c->ssl && !c->closing && SSL_is_server(c->ssl) == 0) do_handshake(c);  // the ClientHello
  // Last: if the scope has ended meanwhile, this closes the connection.
  if (o.owned && !c->closing) c->owner = own_in(vm, o.scope, close_owned, c);
  return c->s;
}

void discard(UvConn* c, bool initialised) {
  if (initialised) {
    c->closing = true;
    uv_close(&c->u.handle, on_closed);
  } else {
    gc_delete_pinned(c);
  }
}

void on_finished(UvConn* c, void (*fn)(void* ctx), void* ctx) {
  c->finished = fn;
  c->finished_ctx = ctx;
}

void abort_conn(UvConn* c, aio::StreamEnd why) { finish(c, why); }

void close_gracefully(UvConn* c) {
  if (c->closing || !c->s) return;
  c->close_when_shut = true;
  if (c->shut) return finish(c, aio::StreamEnd::Closed);
  if (!c->s->writable) return finish(c, aio::StreamEnd::Closed);
  aio::close(c->s);
}

}  // namespace valk::io
