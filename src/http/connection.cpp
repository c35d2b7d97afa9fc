// One connection of the HTTP/2 server: TCP (and TLS through memory BIOs),
// output with backpressure, input fed to nghttp2, and the connection timer.
#include "http/server_internal.h"

#include <openssl/err.h>

#include <algorithm>
#include <cstring>

#include "aio/loop.h"
#include "core/runtime.h"
#include "core/vm.h"

namespace valk::http {

void flush_tls(Connection* c);
bool start_session(Connection* c);

// -- output --
// Output goes out in pieces, each a WriteReq handed to uv_write: frames
// from nghttp2 (or TLS records from OpenSSL) are copied straight into it.
// Large pieces are kept for reuse (rt().server.write_pool): a body moving
// at speed does not allocate and fault in a fresh buffer for each.
constexpr size_t kPiece = 128u << 10;
constexpr size_t kSpareLarge = 32;

struct WriteReq {
  uv_write_t req;
  Connection* conn;
  size_t len;
  size_t cap;
  char data[];
};

// A large piece (from the pool), or one of exactly `need` bytes.
WriteReq* new_piece(Connection* c, size_t need, bool large) {
  auto& pool = rt().server.write_pool.spare;
  WriteReq* w;
  if (large && need <= kPiece && !pool.empty()) {
    w = static_cast<WriteReq*>(pool.back());
    pool.pop_back();
  } else {
    size_t cap = large ? std::max(need, kPiece) : need;
    w = static_cast<WriteReq*>(malloc(sizeof(WriteReq) + cap));
    w->cap = cap;
  }
  w->conn = c;
  w->len = 0;
  return w;
}

void drop_piece(WriteReq* w) {
  auto& pool = rt().server.write_pool.spare;
  if (w->cap == kPiece && pool.size() < kSpareLarge) pool.push_back(w);
  else free(w);
}

void on_written(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  Connection* c = w->conn;
  c->unsent -= w->len;
  drop_piece(w);
  if (status < 0) {
    io_failed(c, "write");
    return;
  }
  // Backpressure: reading resumes once the backlog has drained enough.
  if (c->paused && c->unsent <= c->srv->opts.low_watermark && !c->closing) {
    c->paused = false;
    conn_flush(c);
  }
  if (c->closing && c->unsent == 0) conn_close(c);
}

// A failed I/O call closes its connection and is counted: errors are
// converted here, once, and never dropped (a connection that lost bytes
// of its frame stream cannot go on).
void io_failed(Connection* c, const char* op) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;  // (writes cancelled by our close)
  M().server_io_errors.get({op}).inc();
  conn_close(c);
}

// Hands a filled piece to libuv (it is ours again in on_written).
void send_piece(Connection* c, WriteReq* w) {
  if (w->len == 0 || uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) {
    drop_piece(w);
    return;
  }
  uv_buf_t buf = uv_buf_init(w->data, unsigned(w->len));
  c->unsent += w->len;
  M().server_bytes_out.add(w->len);
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, on_written) < 0) {
    c->unsent -= w->len;
    drop_piece(w);
    io_failed(c, "write");
  }
}

void write_raw(Connection* c, const char* data, size_t n) {
  if (n == 0) return;
  WriteReq* w = new_piece(c, n, false);
  memcpy(w->data, data, n);
  w->len = n;
  send_piece(c, w);
}

// Sends what OpenSSL has encrypted, in whole pieces.
void flush_tls(Connection* c) {
  for (;;) {
    size_t pending = BIO_ctrl_pending(c->wbio);
    if (pending == 0) return;
    WriteReq* w = new_piece(c, std::min(pending, kPiece), pending > 4096);
    int n;
    while (w->len < w->cap &&
           (n = BIO_read(c->wbio, w->data + w->len, int(std::min<size_t>(w->cap - w->len, INT32_MAX)))) > 0)
      w->len += size_t(n);
    send_piece(c, w);
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
  }
}

// Encrypts and sends; false (the connection closed) when OpenSSL fails.
bool tls_send(Connection* c, const char* data, size_t n) {
  if (SSL_write(c->ssl, data, int(n)) <= 0) {
    ERR_clear_error();
    io_failed(c, "tls_write");
    return false;
  }
  flush_tls(c);
  return true;
}

// Takes frames from nghttp2 while the backlog is under the high watermark.
void open_windows(Connection* c);
void fire_drains(Connection* c);

void conn_flush(Connection* c) {
  if (!c->session || c->closing) return;
  open_windows(c);
  const size_t high = c->srv->opts.high_watermark;
  // Frames gather on the stack first: most flushes are a few frames (an
  // event, a small response) and leave in one exactly-sized write. Past
  // that, they go into large pooled pieces (a body moving at speed).
  char small[4096];
  size_t small_len = 0;
  WriteReq* w = nullptr;  // the large piece being filled, if any
  // Cleartext: a piece goes to the socket. TLS: it is the plaintext that
  // SSL_write encrypts into pieces of its own (then it is reused).
  auto hand_over = [&]() -> bool {
    if (!w || w->len == 0) return true;
    if (c->ssl) {
      bool ok = tls_send(c, w->data, w->len);
      w->len = 0;
      if (!ok) {
        drop_piece(w);
        w = nullptr;
        return false;
      }
    } else {
      send_piece(c, w);
      w = nullptr;
    }
    return !uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp));
  };
  for (;;) {
    if (c->unsent + small_len + (w ? w->len : 0) >= high) {
      if (!c->paused) {
        c->paused = true;  // stop reading until the client catches up
        M().server_backpressure_pauses.inc();
      }
      break;
    }
    const uint8_t* data;
    ssize_t n = nghttp2_session_mem_send(c->session, &data);
    if (n < 0) {
      if (w) drop_piece(w);
      conn_close(c);
      return;
    }
    if (n == 0) break;
    if (!w && small_len + size_t(n) <= sizeof small) {
      memcpy(small + small_len, data, size_t(n));
      small_len += size_t(n);
      continue;
    }
    if (w && w->len + size_t(n) > w->cap) {
      if (!hand_over()) return;
      if (w && size_t(n) > w->cap) {  // (a frame larger than a piece: a piece of its size)
        drop_piece(w);
        w = nullptr;
      }
    }
    if (!w) {
      w = new_piece(c, small_len + size_t(n), true);
      memcpy(w->data, small, small_len);
      w->len = small_len;
      small_len = 0;
    }
    memcpy(w->data + w->len, data, size_t(n));
    w->len += size_t(n);
  }
  if (!hand_over()) return;
  if (w) drop_piece(w);
  if (small_len) {
    if (c->ssl) {
      if (!tls_send(c, small, small_len)) return;
    } else {
      write_raw(c, small, small_len);
    }
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
  }
  fire_drains(c);
  if (c->paused) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
  } else if (!c->closing) {
    conn_start_reading(c);  // resumes reading if backpressure had paused it
  }
  if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session)) {
    c->closing = true;
    if (c->unsent == 0) conn_close(c);
  }
}

// Responses are produced by handler jobs, which the loop's driver runs
// between two polls; they are sent in one batch before the loop polls again
// (a before-poll hook): one write for many streams, not one each.
void request_flush(Connection* c) {
  if (!c->flush_queued) {
    c->flush_queued = true;
    rt().server.to_flush.push_back(c);
  }
}

void flush_batch() {
  // A flush can queue more (a drain event lets a C++ producer write): a
  // few rounds, then the loop is woken to come back.
  for (int round = 0; round < 8 && !rt().server.to_flush.empty(); ++round) {
    std::vector<Connection*> list;
    list.swap(rt().server.to_flush);
    for (Connection* c : list) {
      if (!c->flush_queued) continue;
      c->flush_queued = false;
      conn_flush(c);
    }
  }
  if (!rt().server.to_flush.empty()) aio::wake();
}

// ---- reading ---------------------------------------------------------------------------

void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  static char slab[65536];  // one connection reads at a time
  *buf = uv_buf_init(slab, sizeof slab);
}

bool looks_like_http1(const char* data, size_t n) {
  static const char* const methods[] = {"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ",
                                        "PATCH ", "CONNECT "};
  for (const char* m : methods) {
    size_t l = strlen(m);
    if (n >= l && memcmp(data, m, l) == 0) return true;
  }
  return false;
}

// Feeds plaintext to nghttp2; false when the connection must close.
bool feed(Connection* c, const uint8_t* data, size_t n) {
  ssize_t rv = nghttp2_session_mem_recv(c->session, data, n);
  if (rv < 0) {
    // Protocol violations and floods: nghttp2 has queued a GOAWAY; send
    // it, then close.
    conn_flush(c);
    return false;
  }
  return true;
}

void after_input(Connection* c) {
  VM& vm = current_vm();
  if (c->body_input) {  // streamed request bodies: one chunk per read, not per frame
    c->body_input = false;
    for (Stream* st = c->streams; st; st = st->next)
      if (st->in) aio::deliver(st->in);
  }
  std::vector<Stream*> ready;
  ready.swap(c->ready);
  for (Stream* st : ready)
    if (st) dispatch(vm, st);
  conn_flush(c);
}

bool start_session(Connection* c);

void read_input(Connection* c, uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  // Only records: complete requests become handler jobs, run by the driver.
  read_input(static_cast<Connection*>(stream->data), stream, nread, buf);
}

void read_input(Connection* c, uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    if (nread == UV_EOF) conn_close(c);  // the peer closed: not an error
    else io_failed(c, "read");
    return;
  }
  if (nread == 0) return;
  M().server_bytes_in.add(uint64_t(nread));
  c->last_activity_ms = now_ms();
  if (!c->ssl) {
    if (!c->session) {
      if (looks_like_http1(buf->base, size_t(nread))) {
        // A plain HTTP/1.1 client on the h2c port: tell it, then close.
        static const std::string kBody = "This server speaks HTTP/2 only (h2c, prior knowledge).\n";
        static const std::string kMsg =
            "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\n"
            "Connection: close\r\nContent-Length: " + std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
        write_raw(c, kMsg.data(), kMsg.size());
        c->closing = true;
        uv_read_stop(stream);
        return;
      }
      if (!start_session(c)) return conn_close(c);
    }
    if (!feed(c, reinterpret_cast<uint8_t*>(buf->base), size_t(nread))) return conn_close(c);
    after_input(c);
    return;
  }
  BIO_write(c->rbio, buf->base, int(nread));
  if (!c->handshake_done) {
    int r = SSL_do_handshake(c->ssl);
    flush_tls(c);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
      M().server_tls_handshake_failures.inc();
      ERR_clear_error();
      return conn_close(c);
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
      M().server_tls_handshake_failures.inc();
      return conn_close(c);
    }
    c->handshake_done = true;
    if (!start_session(c)) return conn_close(c);
  }
  uint8_t plain[16384];
  for (;;) {
    int n = SSL_read(c->ssl, plain, sizeof plain);
    if (n <= 0) {
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_READ) break;
      if (e == SSL_ERROR_ZERO_RETURN) return conn_close(c);
      ERR_clear_error();
      return conn_close(c);
    }
    if (!feed(c, plain, size_t(n))) return conn_close(c);
  }
  after_input(c);
}

void conn_start_reading(Connection* c) {
  int rv = uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  // (UV_EALREADY: it is reading already, which is what was asked.)
  if (rv != 0 && rv != UV_EALREADY) io_failed(c, "read_start");
}

bool start_session(Connection* c) {
  Server* s = c->srv;
  if (nghttp2_session_server_new2(&c->session, s->callbacks, c, s->option) != 0) return false;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->opts.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, s->opts.max_header_bytes},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
  };
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
  // A larger connection window: bodies are not throttled to 64 KB per RTT.
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 16 << 20);
  return true;
}

void on_conn_closed(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->open_handles > 0) return;
  Server* s = c->srv;
  if (c->prev) c->prev->next = c->next;
  else if (s->connections == c) s->connections = c->next;
  if (c->next) c->next->prev = c->prev;
  gc_delete_pinned(c);
  maybe_finish_stop(s);
}

void conn_close(Connection* c) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
  c->closing = true;
  if (c->flush_queued) {
    // Off the flush list now: the connection is freed when its close ends,
    // which can come before the next flush (a response settled by other
    // I/O inside the same loop iteration).
    auto& l = rt().server.to_flush;
    l.erase(std::remove(l.begin(), l.end(), c), l.end());
    c->flush_queued = false;
  }
  while (c->streams) stream_free(c->streams);
  if (c->session) {
    nghttp2_session_del(c->session);
    c->session = nullptr;
  }
  if (c->ssl) {
    SSL_free(c->ssl);  // frees the BIOs too
    c->ssl = nullptr;
  }
  --c->srv->nconnections;
  M().server_connections_active.dec();
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_conn_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_conn_closed);
}

// Slow handshakes and header dribbling (slowloris) hit the header timeout;
// a quiet connection with no stream open hits the idle timeout.
void conn_timer(Connection* c);
void on_conn_timer(uv_timer_t* t) {
  conn_timer(static_cast<Connection*>(t->data));
}
void conn_timer(Connection* c) {
  if (c->closing) return;
  int64_t now = now_ms();
  const ServerOptions& o = c->srv->opts;
  if (!c->got_headers) {
    if (now - c->accepted_ms < int64_t(o.header_timeout_ms)) {
      uv_timer_start(&c->timer, on_conn_timer, kTickMs, 0);
      return;
    }
    if (c->ssl && !c->handshake_done) M().server_tls_handshake_failures.inc();  // timed out
    conn_close(c);
    return;
  }
  // A request body that stops arriving for :body-timeout-ms is answered 408
  // (or, if the handler reads it as a stream, that read fails); a stream
  // still open a tick after that is reset.
  bool reset_some = false;
  for (Stream* st = c->streams; st; st = st->next) {
    bool arriving = st->in ? !st->in_done : !st->complete;
    if (!arriving || !o.body_timeout_ms) continue;
    if (st->body_timed_out_ms) {
      if (now - st->body_timed_out_ms >= 500 && c->session) {
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
        reset_some = true;
      }
      continue;
    }
    if (now - st->body_activity_ms < int64_t(o.body_timeout_ms)) continue;
    st->body_timed_out_ms = now;
    M().server_body_timeouts.inc();
    if (st->in) {
      st->in_done = true;
      aio::push_end(st->in, make_error("stream/read: the request body stopped arriving (:body-timeout-ms)"));
    }
    if (!st->responded) respond_text(st, 408, "Request Timeout: the body stopped arriving\n");
    reset_some = true;
  }
  if (reset_some) request_flush(c);
  // A request still arriving (headers sent, body not finished) that has
  // gone quiet for the idle timeout is abandoned with its connection;
  // requests that only wait for their handler are not affected.
  bool stalled_request = false;
  for (Stream* st = c->streams; st; st = st->next)
    if (!st->complete) stalled_request = true;
  if (stalled_request && now - c->last_activity_ms >= int64_t(o.idle_timeout_ms)) {
    conn_close(c);
    return;
  }
  if (!c->streams && now - c->last_activity_ms >= int64_t(o.idle_timeout_ms)) {
    if (c->session) {
      nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                            nullptr, 0);
      conn_flush(c);
    }
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_conn_timer, kTickMs, 0);
}

}  // namespace valk::http
