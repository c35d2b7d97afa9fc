// The HTTP/2 server (see server.h).
//
// Memory: Connection and Stream are C++ objects in uncollectable GC memory:
// libuv and nghttp2 hold pointers to them, and they hold Lisp values (the
// handler's handle, the response body) that the collector must see. They
// are freed explicitly when closed. A Server is the Lisp value the program
// holds, so it is collectable: the live-server list keeps it while it
// listens or has connections; once stopped its TLS context and nghttp2
// callbacks are freed, and the collector takes the rest (a finalizer runs
// its destructor) when the program drops it.
#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "aio/loop.h"
#include "aio/metrics.h"
#include "aio/stream.h"
#include "core/gc.h"
#include "core/printer.h"
#include "core/runtime.h"
#include "core/vm.h"
#include "http/static_files.h"
#include "http/text.h"
#include "io/file_pump.h"
#include "http/tls.h"

namespace valk::http {

struct Connection;
namespace {
struct Stream;
}  // namespace

// A connection (in valk::http, not file-local: the runtime state names it).
struct Connection {
  Server* srv = nullptr;
  uv_tcp_t tcp;
  uv_timer_t timer;
  int open_handles = 0;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;
  BIO* wbio = nullptr;
  bool handshake_done = false;
  nghttp2_session* session = nullptr;
  Stream* streams = nullptr;
  std::vector<Stream*> ready;  // requests complete, to dispatch after the read
  TracedVector<aio::ByteStream*> drained;  // response streams taken from: drain events due
  bool consume_due = false;    // a streamed request body was read: open windows
  size_t unsent = 0;           // bytes handed to uv_write, not yet written
  bool paused = false;
  bool closing = false;
  bool got_headers = false;    // the header timeout no longer applies
  bool goaway_sent = false;
  bool flush_queued = false;   // in rt().server.to_flush
  int64_t last_activity_ms = 0;
  int64_t accepted_ms = 0;
  Connection* next = nullptr;
  Connection* prev = nullptr;
};

struct Server {
  ~Server() { release(); }
  // What OpenSSL and nghttp2 allocated: freed as soon as the server is done.
  void release() {
    if (tls) SSL_CTX_free(tls);
    if (callbacks) nghttp2_session_callbacks_del(callbacks);
    if (option) nghttp2_option_del(option);
    tls = nullptr;
    callbacks = nullptr;
    option = nullptr;
  }
  Opaque base;  // a Valkyria value (class "server"); payload = this
  ServerOptions opts;
  Value handler = kNil;
  uv_tcp_t listener;
  SSL_CTX* tls = nullptr;
  int port = 0;
  bool listening = false;
  bool stopping = false;
  uint32_t nconnections = 0;
  uint32_t inflight = 0;
  Connection* connections = nullptr;
  aio::Handle* stop_handle = nullptr;  // the one handle every server-stop returns
  bool stopped = false;                 // stop_handle has completed
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_option* option = nullptr;
};

namespace {

const OpaqueClass kServerClass = {"server", [](std::string& out, const Opaque* o) {
                                    auto* s = reinterpret_cast<const Server*>(o->payload);
                                    out += "<server " + std::string(s->opts.tls ? "https" : "h2c") +
                                           "://" + s->opts.host + ":" + std::to_string(s->port) +
                                           (s->stopping ? " stopping>" : ">");
                                  }};
const OpaqueClass kRequestClass = {"request", [](std::string& out, const Opaque* o) {
                                     auto* r = reinterpret_cast<const Request*>(o->payload);
                                     out += "<request ";
                                     print_display(out, r->method);
                                     out += ' ';
                                     print_display(out, r->path);
                                     out += '>';
                                   }};

metrics::Standard& M() { return metrics::standard(); }

// ---- streams ------------------------------------------------------------------------

struct Stream {
  int32_t id = 0;
  Connection* conn = nullptr;
  std::string method, path, authority, scheme;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  size_t header_bytes = 0;
  bool too_large = false;
  bool complete = false;    // the whole request arrived
  bool dispatched = false;  // counted in inflight
  bool responded = false;
  aio::Handle* work = nullptr;        // the handler's handle
  aio::NativeWatch* watch = nullptr;  // tells us when `work` settles
  Value body_value = kNil;            // the response body (a string)
  size_t body_off = 0;
  aio::ByteStream* out = nullptr;     // a streamed response body (stream/open)
  aio::ByteStream* in = nullptr;      // the request body as it arrives (:stream-bodies)
  aio::StreamEnd out_end = aio::StreamEnd::Closed;  // how `out` ends when nghttp2 closes it
  bool deferred = false;              // nghttp2 waits for `out` to have data
  size_t to_consume = 0;              // request body bytes read, window not opened yet
  int64_t body_activity_ms = 0;       // last request DATA (the body timeout)
  Request* req = nullptr;             // the handler's request value (its link is cleared at the end)
  bool in_done = false;               // the streamed request body has all arrived
  struct FileJob* file_job = nullptr; // a file being opened for the response
  int file_fd = -1;                   // ... its descriptor while fstat runs
  aio::NativeWatch* body_watch = nullptr;  // req/read-body's outcome (413 past the limit)
  bool discard_body = false;          // answered early: the rest of the body is dropped
  int64_t body_timed_out_ms = 0;      // when the body timeout answered it (0: not yet)
  aio::Handle* deadline = nullptr;    // :request-timeout-ms timer, watched
  aio::NativeWatch* deadline_watch = nullptr;
  uint64_t start_ns = 0;
  Stream* next = nullptr;
  Stream* prev = nullptr;
};

// ---- connections ----------------------------------------------------------------------


void conn_close(Connection* c);
void conn_flush(Connection* c);
void io_failed(Connection* c, const char* op);
void flush_tls(Connection* c);
void conn_start_reading(Connection* c);

int64_t now_ms() { return aio::now_us() / 1000; }

// -- output --
struct WriteReq {
  uv_write_t req;
  Connection* conn;
  size_t len;
  char data[];
};

void on_written(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  Connection* c = w->conn;
  c->unsent -= w->len;
  free(w);
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

void write_raw(Connection* c, const char* data, size_t n) {
  if (n == 0 || uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
  auto* w = static_cast<WriteReq*>(malloc(sizeof(WriteReq) + n));
  w->conn = c;
  w->len = n;
  memcpy(w->data, data, n);
  uv_buf_t buf = uv_buf_init(w->data, unsigned(n));
  c->unsent += n;
  M().server_bytes_out.add(n);
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, on_written) < 0) {
    c->unsent -= n;
    free(w);
    io_failed(c, "write");
  }
}

// Encrypts and sends; false (the connection closed) when OpenSSL fails.
bool tls_send(Connection* c, const std::string& out) {
  if (SSL_write(c->ssl, out.data(), int(out.size())) <= 0) {
    ERR_clear_error();
    io_failed(c, "tls_write");
    return false;
  }
  flush_tls(c);
  return true;
}

// Sends what OpenSSL has encrypted.
void flush_tls(Connection* c) {
  char buf[16384];
  int n;
  while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) write_raw(c, buf, size_t(n));
}

// Takes frames from nghttp2 while the backlog is under the high watermark.
void open_windows(Connection* c);
void fire_drains(Connection* c);

void conn_flush(Connection* c) {
  if (!c->session || c->closing) return;
  open_windows(c);
  std::string out;
  const size_t high = c->srv->opts.high_watermark;
  for (;;) {
    if (c->unsent + out.size() >= high) {
      if (!c->paused) {
        c->paused = true;  // stop reading until the client catches up
        M().server_backpressure_pauses.inc();
      }
      break;
    }
    const uint8_t* data;
    ssize_t n = nghttp2_session_mem_send(c->session, &data);
    if (n < 0) {
      conn_close(c);
      return;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), size_t(n));
    if (out.size() >= 65536) {  // hand over in pieces of a useful size
      if (c->ssl) {
        if (!tls_send(c, out)) return;
      } else {
        write_raw(c, out.data(), out.size());
      }
      if (c->closing && uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
      out.clear();
    }
  }
  if (!out.empty()) {
    if (c->ssl) {
      if (!tls_send(c, out)) return;
    } else {
      write_raw(c, out.data(), out.size());
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

// ---- responses -----------------------------------------------------------------------

ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                  nghttp2_data_source* source, void*) {
  auto* st = static_cast<Stream*>(source->ptr);
  size_t len = is_string(st->body_value) ? as_string(st->body_value)->len : 0;
  size_t n = len - st->body_off;
  if (n > length) n = length;
  if (n) memcpy(buf, as_string(st->body_value)->data + st->body_off, n);
  st->body_off += n;
  if (st->body_off >= len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return ssize_t(n);
}

void count_request(Stream* st, int status);

void respond(Stream* st, int status, std::vector<std::pair<std::string, std::string>> headers,
             Value body) {
  Connection* c = st->conn;
  if (st->responded || !c->session) return;
  st->responded = true;
  st->body_value = is_string(body) ? body : make_string(display_string(body));
  st->body_off = 0;
  std::string status_text = std::to_string(status);
  std::string length = std::to_string(as_string(st->body_value)->len);
  std::vector<nghttp2_nv> nva;
  auto add = [&](const std::string& n, const std::string& v) {
    nva.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  };
  // nghttp2 copies the header block only when the response is submitted:
  // every name and value must outlive that call (no temporaries).
  static const std::string kStatusName = ":status";
  add(kStatusName, status_text);
  bool has_length = false, has_type = false;
  for (auto& [n, v] : headers) {
    if (n == "content-length") has_length = true;
    if (n == "content-type") has_type = true;
  }
  std::string cl = "content-length", ct = "content-type", tp = "text/plain; charset=utf-8";
  // 1xx, 204 and 304 have no body (RFC 9110 6.4.1), nor has any answer to
  // HEAD: a body sent anyway is a protocol error to the client. HEAD keeps
  // the length the body would have had.
  bool no_content = status < 200 || status == 204 || status == 304;
  bool bodiless = no_content || st->method == "HEAD";
  for (auto& [n, v] : headers) add(n, v);
  if (!has_length && !no_content) add(cl, length);
  if (!has_type && as_string(st->body_value)->len > 0 && !no_content) add(ct, tp);
  nghttp2_data_provider prov;
  prov.source.ptr = st;
  prov.read_callback = read_body;
  int rv = nghttp2_submit_response(c->session, st->id, nva.data(), nva.size(),
                                   bodiless ? nullptr : &prov);
  if (rv != 0) return;
  count_request(st, status);
}

// Metrics: requests by method and status class (the counters are looked
// up once per pair, not per request).
void count_request(Stream* st, int status) {
  static const char* const known[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH",
                                      "OTHER"};
  static metrics::Counter* by_pair[8][7] = {};
  int mi = 7;
  for (int i = 0; i < 7; ++i)
    if (st->method == known[i]) mi = i;
  int ci = status >= 100 && status < 600 ? status / 100 : 6;
  if (!by_pair[mi][ci])
    by_pair[mi][ci] = &M().server_requests.get({known[mi], metrics::status_class(status)});
  by_pair[mi][ci]->inc();
}

void respond_text(Stream* st, int status, const char* text,
                  std::vector<std::pair<std::string, std::string>> extra = {}) {
  respond(st, status, std::move(extra), make_string(text));
}

// Headers given as (("name" "value") ...) or as a plist {:name "value"}.
bool headers_of(Value v, std::vector<std::pair<std::string, std::string>>& out) {
  if (!is_list(v)) return false;
  if (is_cons(v) && (is_keyword(car(v)) || is_string(car(v))) && !is_cons(car(v))) {
    for (Value p = v; is_cons(p); p = cdr(cdr(p))) {
      if (!is_cons(cdr(p))) return false;
      out.push_back({lower_ascii(text_of(car(p))), text_of(car(cdr(p)))});
    }
    return true;
  }
  for (Value p = v; is_cons(p); p = cdr(p)) {
    Value pair = car(p);
    if (!is_cons(pair) || !is_cons(cdr(pair))) return false;
    out.push_back({lower_ascii(text_of(car(pair))), text_of(car(cdr(pair)))});
  }
  return true;
}


// A response's head, from a plist {:status :headers :body :content-type
// :cache-control :stream}.
struct Head {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  Value body = kUnbound;
  Value stream_fn = kUnbound;  // {:stream f}: f is called with the body stream
  Value file = kUnbound;       // {:file path}: the body is that file
  Value root = kUnbound;       // ... which must resolve inside this directory (http2/static)
  Value failed = kNil;         // an error value found in the plist
};

// False when malformed (head.failed holds an error value found inside).
bool parse_head(Value r, Head& head) {
  static const Value kStatus = intern(":status"), kHeaders = intern(":headers"),
                     kBody = intern(":body"), kType = intern(":content-type"),
                     kCache = intern(":cache-control"), kStream = intern(":stream"),
                     kFile = intern(":file"), kRoot = intern(":root");
  Value status = plist_lookup(r, kStatus);
  if (is_int(status)) head.status = int(int_val(status));
  else if (is_string(status)) head.status = atoi(as_string(status)->data);
  else if (status != kUnbound) head.status = 0;
  Value hv = plist_lookup(r, kHeaders);
  head.body = plist_lookup(r, kBody);
  head.stream_fn = plist_lookup(r, kStream);
  head.file = plist_lookup(r, kFile);
  head.root = plist_lookup(r, kRoot);
  for (Value v : {status, hv, head.body, head.stream_fn, head.file, head.root})
    if (is_error(v)) {
      head.failed = v;
      return false;
    }
  if (head.status < 100 || head.status > 999) return false;
  if (hv != kUnbound && hv != kNil && !headers_of(hv, head.headers)) return false;
  if (head.stream_fn != kUnbound && !is_function(head.stream_fn)) return false;
  if (head.file != kUnbound && !is_string(head.file)) return false;
  if (head.root != kUnbound && (!is_string(head.root) || head.file == kUnbound)) return false;
  // Upstream's shorthand keys name two common headers; :headers wins.
  for (auto [key, name] : {std::pair{kType, "content-type"}, std::pair{kCache, "cache-control"}}) {
    Value v = plist_lookup(r, key);
    if (v == kUnbound || v == kNil) continue;
    if (!is_string(v)) return false;
    bool given = false;
    for (auto& [n, _] : head.headers) given |= n == name;
    if (!given) head.headers.push_back({name, std::string(as_string(v)->view())});
  }
  return true;
}

void respond_streaming(Stream* st, const Head& head);
void respond_file(Stream* st, const Head& head);

void log_handler_error(Stream* st, const std::string& what) {
  fprintf(stderr, "valk: http2: handler for %s %s: %s\n", st->method.c_str(), st->path.c_str(),
          what.c_str());
}

// Sends what the handler produced: (http2/response ...) / a plist, a
// string, or an error (500, details in the log only).
void respond_with(Stream* st, Value r) {
  if (st->responded) return;  // already answered (413 or 504 by the server, a stream)
  if (is_error(r)) {
    std::string msg = display_string(as_error(r)->message);
    const SrcLoc& l = as_error(r)->loc;
    if (l.file) {
      std::string at;
      put_loc(at, l);
      msg = at + ": " + msg;
    }
    log_handler_error(st, msg);
    respond_text(st, 500, "Internal Server Error\n");
    return;
  }
  if (is_string(r)) {
    respond(st, 200, {}, r);
    return;
  }
  if (is_cons(r) && is_keyword(car(r))) {
    Head head;
    if (!parse_head(r, head)) {
      if (is_error(head.failed)) return respond_with(st, head.failed);  // a body that failed is a 500
      log_handler_error(st, "malformed response " + repr_string(r));
      respond_text(st, 500, "Internal Server Error\n");
      return;
    }
    if (head.stream_fn != kUnbound) return respond_streaming(st, head);
    if (head.file != kUnbound) return respond_file(st, head);
    respond(st, head.status, std::move(head.headers),
            head.body == kUnbound || head.body == kNil ? make_string("") : head.body);
    return;
  }
  log_handler_error(st, "unexpected response value " + repr_string(r));
  respond_text(st, 500, "Internal Server Error\n");
}

void stream_free(Stream* st);

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

void on_work_settled(void* ctx, aio::Handle* h) {
  auto* st = static_cast<Stream*>(ctx);
  st->watch = nullptr;
  if (st->out) {
    // The handler opened a stream: its result is not the response (upstream
    // handlers return :deferred), but a failure is still logged.
    if (h->state == aio::State::Failed) {
      Value e = aio::failure_as_error(h);
      std::string at;
      if (as_error(e)->loc.file) {
        put_loc(at, as_error(e)->loc);
        at += ": ";
      }
      log_handler_error(st, at + display_string(as_error(e)->message));
    }
    return;
  }
  if (h->state == aio::State::Completed) {
    respond_with(st, h->result);
  } else if (h->state == aio::State::Failed) {
    respond_with(st, aio::failure_as_error(h));
  } else {
    respond_text(st, 503, "Service Unavailable\n");
  }
  request_flush(st->conn);
}

// ---- streamed bodies (docs/streams.md) ----------------------------------------------
// A response stream is pulled by nghttp2 through read_stream_body: with
// nothing queued the data provider defers, and a write resumes it. A request
// body stream is pushed from on_data_chunk; the stream's flow-control window
// is opened only as the program reads (consumed), so an unread body costs at
// most one window of memory.

ssize_t read_stream_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                         nghttp2_data_source* source, void*) {
  auto* st = static_cast<Stream*>(source->ptr);
  aio::ByteStream* bs = st->out;
  bool eof = false;
  size_t n = aio::take(bs, reinterpret_cast<char*>(buf), length, &eof);
  if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (n) st->conn->drained.push_back(bs);  // drain events fire after nghttp2 returns
  if (n == 0 && !eof) {
    st->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return ssize_t(n);
}

Stream* out_owner(aio::ByteStream* bs) { return static_cast<Stream*>(bs->transport); }

void out_wake(aio::ByteStream* bs) {
  Stream* st = out_owner(bs);
  Connection* c = st->conn;
  if (!c->session) return;
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(c->session, st->id);
  }
  request_flush(c);
}

void out_abort(aio::ByteStream* bs, aio::StreamEnd why) {
  Stream* st = out_owner(bs);
  Connection* c = st->conn;
  st->out_end = why;
  if (why == aio::StreamEnd::Timeout) {
    // A timeout ends the body gracefully, after what is queued.
    bs->close_requested = true;
    out_wake(bs);
    return;
  }
  if (c->session) {
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    request_flush(c);
  }
}

const aio::StreamTransport kResponseBody = {"http2", out_wake, nullptr, out_abort};

void in_consumed(aio::ByteStream* bs, size_t n) {
  Stream* st = static_cast<Stream*>(bs->transport);
  st->to_consume += n;
  st->conn->consume_due = true;
  request_flush(st->conn);
}

const aio::StreamTransport kRequestBody = {"http2-request", nullptr, in_consumed, nullptr};

// Opens the windows of request bodies the program has read from.
void open_windows(Connection* c) {
  if (!c->consume_due || !c->session) return;
  c->consume_due = false;
  for (Stream* st = c->streams; st; st = st->next)
    if (st->to_consume) {
      nghttp2_session_consume_stream(c->session, st->id, st->to_consume);
      st->to_consume = 0;
    }
}

void fire_drains(Connection* c) {
  if (c->drained.empty()) return;
  TracedVector<aio::ByteStream*> list;
  list.swap(c->drained);
  for (aio::ByteStream* bs : list) aio::after_take(bs);
}

// Submits HEADERS with a deferred body: the stream is the body.
aio::ByteStream* start_stream(Stream* st, int status,
                              std::vector<std::pair<std::string, std::string>> headers) {
  Connection* c = st->conn;
  std::string status_text = std::to_string(status);
  std::vector<nghttp2_nv> nva;
  auto add = [&](const std::string& n, const std::string& v) {
    nva.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  };
  static const std::string kStatusName = ":status";
  add(kStatusName, status_text);
  for (auto& [n, v] : headers) add(n, v);
  aio::ByteStream* bs = aio::new_stream(&kResponseBody, st, true, false);
  const ServerOptions& o = c->srv->opts;
  bs->high = o.stream_high_watermark;
  bs->low = o.stream_low_watermark;
  st->out = bs;
  nghttp2_data_provider prov;
  prov.source.ptr = st;
  prov.read_callback = read_stream_body;
  if (nghttp2_submit_response(c->session, st->id, nva.data(), nva.size(), &prov) != 0) {
    st->out = nullptr;
    aio::ended(bs, aio::StreamEnd::Reset);
    return nullptr;
  }
  st->responded = true;
  count_request(st, status);
  M().server_response_streams.inc();
  // An open stream is not a request in progress: it no longer counts
  // against :max-inflight (10,000 idle event streams must not shed others).
  if (st->dispatched) {
    st->dispatched = false;
    --c->srv->inflight;
  }
  request_flush(c);
  return bs;
}

// {:status ... :stream f}: the handler's answer is a producer of the body.
void respond_streaming(Stream* st, const Head& head) {
  if (st->responded || !st->conn->session) return;
  aio::ByteStream* bs = start_stream(st, head.status, head.headers);
  if (!bs) return;
  VM& vm = current_vm();
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Adopt);
  aio::queue_job(vm, head.stream_fn, cons(aio::stream_value(bs), kNil), h, aio::JobKind::Resolve);
}

// ---- files (docs/http-server.md#files) -------------------------------------------------
// Each step is a uv_fs_* request on libuv's thread pool (the loop never
// blocks on the disk): for a static root, realpath of the root and of the
// file (a symlink leading out is refused), then open and fstat; the answer
// is planned by static_files.h and the body pumped by io/file_pump.h.
struct FileJob {
  uv_fs_t req;
  Stream* st = nullptr;  // null once the stream is gone
  std::string path, root, root_real;
  HeaderList extra;       // the handler's own headers
  std::string content_type;
  bool index_tried = false;
};

void file_done(FileJob* j) {
  if (j->st) j->st->file_job = nullptr;
  delete j;
}

void file_fail(FileJob* j, int status) {
  if (j->st) {
    respond_text(j->st, status, status == 404 ? "Not Found\n"
                                : status == 403 ? "Forbidden\n"
                                                : "Internal Server Error\n");
    request_flush(j->st->conn);
  }
  file_done(j);
}

int status_of_fs_error(ssize_t e) {
  if (e == UV_ENOENT || e == UV_ENOTDIR || e == UV_ENAMETOOLONG || e == UV_ELOOP) return 404;
  if (e == UV_EACCES || e == UV_EPERM) return 403;
  return 500;
}

void file_open(FileJob* j);
void file_resolve(FileJob* j);

void close_fd(uv_file fd) {
  auto* r = new uv_fs_t;
  if (uv_fs_close(aio::loop(), r, fd, [](uv_fs_t* q) {
        uv_fs_req_cleanup(q);
        delete q;
      }) != 0)
    delete r;
}

void on_file_stat(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  uv_stat_t sb = r->statbuf;
  uv_fs_req_cleanup(r);
  uv_file file = j->st ? j->st->file_fd : -1;
  if (!j->st) return file_done(j);
  j->st->file_fd = -1;
  if (res < 0) {
    close_fd(file);
    return file_fail(j, status_of_fs_error(res));
  }
  if ((sb.st_mode & S_IFMT) == S_IFDIR) {
    close_fd(file);
    if (!j->root.empty() && !j->index_tried) {  // a directory of a static root: its index
      j->index_tried = true;
      j->path += "/index.html";
      return file_resolve(j);
    }
    return file_fail(j, j->root.empty() ? 403 : 404);
  }
  if ((sb.st_mode & S_IFMT) != S_IFREG) {
    close_fd(file);
    return file_fail(j, 403);
  }
  Stream* st = j->st;
  FilePlan plan = plan_file(int64_t(sb.st_size), time_t(sb.st_mtim.tv_sec), j->path, st->method,
                            st->headers, j->content_type);
  for (auto& h : j->extra) plan.headers.push_back(h);
  file_done(j);
  if (!plan.send_body) {
    close_fd(file);
    respond(st, plan.status, std::move(plan.headers), make_string(""));
    request_flush(st->conn);
    return;
  }
  aio::ByteStream* bs = start_stream(st, plan.status, std::move(plan.headers));
  if (!bs) return close_fd(file);
  io::pump_file(bs, file, plan.offset, plan.length);
}

void on_file_open(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  uv_fs_req_cleanup(r);
  if (!j->st) {
    if (res >= 0) close_fd(uv_file(res));
    return file_done(j);
  }
  if (res < 0) return file_fail(j, status_of_fs_error(res));
  j->st->file_fd = uv_file(res);
  j->req.data = j;
  if (uv_fs_fstat(aio::loop(), &j->req, uv_file(res), on_file_stat) != 0) {
    close_fd(uv_file(res));
    j->st->file_fd = -1;
    file_fail(j, 500);
  }
}

void file_open(FileJob* j) {
  j->req.data = j;
  if (uv_fs_open(aio::loop(), &j->req, j->path.c_str(), O_RDONLY | O_CLOEXEC, 0, on_file_open) != 0)
    file_fail(j, 500);
}

void on_path_real(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  std::string real = res >= 0 ? static_cast<const char*>(r->ptr) : "";
  uv_fs_req_cleanup(r);
  if (!j->st) return file_done(j);
  if (res < 0) return file_fail(j, status_of_fs_error(res));
  // Inside the root, after every symlink is followed.
  const std::string& root = j->root_real;
  bool inside = real == root || (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
                                 (root.back() == '/' || real[root.size()] == '/'));
  if (!inside) return file_fail(j, 403);
  j->path = real;
  file_open(j);
}

void file_resolve(FileJob* j) {
  j->req.data = j;
  if (uv_fs_realpath(aio::loop(), &j->req, j->path.c_str(), on_path_real) != 0) file_fail(j, 500);
}

void on_root_real(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  if (res >= 0) j->root_real = static_cast<const char*>(r->ptr);
  uv_fs_req_cleanup(r);
  if (!j->st) return file_done(j);
  if (res < 0) {
    log_handler_error(j->st, "http2/static: the root " + j->root + " cannot be resolved: " +
                                 uv_strerror(int(res)));
    return file_fail(j, 500);
  }
  file_resolve(j);
}

void respond_file(Stream* st, const Head& head) {
  if (st->responded || !st->conn->session) return;
  auto* j = new FileJob;
  j->st = st;
  st->file_job = j;
  j->path = std::string(as_string(head.file)->view());
  for (auto& [n, v] : head.headers) {
    if (n == "content-type") j->content_type = v;
    else if (n != "content-length") j->extra.push_back({n, v});
  }
  if (head.root == kUnbound) return file_open(j);
  j->root = std::string(as_string(head.root)->view());
  j->req.data = j;
  if (uv_fs_realpath(aio::loop(), &j->req, j->root.c_str(), on_root_real) != 0) file_fail(j, 500);
}

// req/read-body past :max-body-bytes answers 413 at once, as a buffered
// body does, and stops the upload (the handler's own answer comes too late).
void on_body_read(void* ctx, aio::Handle* h) {
  auto* st = static_cast<Stream*>(ctx);
  st->body_watch = nullptr;
  if (h->state != aio::State::Failed || st->responded || st->in_done) return;
  respond_text(st, 413, "Payload Too Large\n");
  // The rest of the body is dropped as it comes; the stream is reset a
  // tick after the answer went out (the connection timer), if the client
  // is still sending.
  st->discard_body = true;
  st->body_timed_out_ms = now_ms();
  request_flush(st->conn);
}

Value make_request(Stream* st) {
  auto* r = static_cast<Request*>(gc_alloc(sizeof(Request)));
  r->method = make_string(st->method);
  std::string path = st->path, query;
  size_t q = path.find('?');
  if (q != std::string::npos) {
    query = path.substr(q + 1);
    path.resize(q);
  }
  r->path = make_string(path);
  r->query = make_string(query);
  r->authority = make_string(st->authority);
  r->scheme = make_string(st->scheme.empty() ? (st->conn->ssl ? "https" : "http") : st->scheme);
  ListBuilder hb;
  for (auto& [n, v] : st->headers) {
    ListBuilder pair;
    pair.push(make_string(n));
    pair.push(make_string(v));
    hb.push(pair.result());
  }
  r->headers = hb.result();
  r->body = st->in ? kNil : make_string(st->body);
  r->streamed_body = st->in != nullptr;
  r->body_stream = st->in ? aio::stream_value(st->in) : kNil;
  r->live = st;
  r->max_body_bytes = st->conn->srv->opts.max_body_bytes;
  st->req = r;
  return make_opaque(&kRequestClass, r);
}

// :request-timeout-ms: a handler that has not started its response is
// cancelled (with everything it started, through its scopes) and the client
// gets 504. A response stream, once open, is governed by its own timeouts.
void on_request_timeout(void* ctx, aio::Handle*) {
  auto* st = static_cast<Stream*>(ctx);
  st->deadline = nullptr;
  st->deadline_watch = nullptr;
  if (st->responded) return;
  M().server_request_timeouts.inc();
  respond_text(st, 504, "Gateway Timeout: the handler did not answer in time\n");
  if (st->work && !aio::settled(st->work)) aio::cancel(st->work);
  request_flush(st->conn);
}

// A request has fully arrived: shed it, refuse it, or run the handler.
void dispatch(VM& vm, Stream* st) {
  Server* srv = st->conn->srv;
  st->start_ns = uv_hrtime();
  if (st->too_large) {
    respond_text(st, 413, "Payload Too Large\n");
    return;
  }
  if (srv->inflight >= srv->opts.max_inflight) {
    M().server_requests_shed.inc();
    respond_text(st, 503, "Service Unavailable: overloaded\n", {{"retry-after", "1"}});
    return;
  }
  st->dispatched = true;
  ++srv->inflight;
  Value req = make_request(st);
  // The handler runs as a job: it may return a value or a handle, and may
  // aio/await inside without blocking the loop.
  aio::Handle* work = aio::new_handle(vm, aio::Kind::Adopt);
  aio::queue_job(vm, srv->handler, cons(req, kNil), work, aio::JobKind::Resolve);
  st->work = work;
  aio::watch(vm, work, on_work_settled, st, &st->watch);
  if (srv->opts.request_timeout_ms && !aio::settled(work)) {
    st->deadline = aio::sleep(vm, srv->opts.request_timeout_ms, kNil);
    aio::watch(vm, st->deadline, on_request_timeout, st, &st->deadline_watch);
  }
}

// ---- nghttp2 callbacks ----------------------------------------------------------------

Stream* stream_of(nghttp2_session* s, int32_t id) {
  return static_cast<Stream*>(nghttp2_session_get_stream_user_data(s, id));
}

int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<Connection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  Stream* st = gc_new_pinned<Stream>();
  st->id = frame->hd.stream_id;
  st->conn = c;
  st->body_activity_ms = now_ms();
  st->next = c->streams;
  if (c->streams) c->streams->prev = st;
  c->streams = st;
  nghttp2_session_set_stream_user_data(session, st->id, st);
  M().server_streams_total.inc();
  M().server_streams_active.inc();
  return 0;
}

int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* c = static_cast<Connection*>(user);
  Stream* st = stream_of(session, frame->hd.stream_id);
  if (!st) return 0;
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > c->srv->opts.max_header_bytes) {
    // Too large a header list: refuse this stream (431 is not possible
    // once the stream is reset, so the client sees a reset).
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":method") st->method = v;
  else if (n == ":path") st->path = v;
  else if (n == ":authority") st->authority = v;
  else if (n == ":scheme") st->scheme = v;
  else if (!n.empty() && n[0] != ':') st->headers.emplace_back(n, v);
  return 0;
}

int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                  void* user) {
  auto* c = static_cast<Connection*>(user);
  Stream* st = stream_of(c->session, id);
  if (!st) return 0;
  // The connection's window is the server's to open at once; a stream's
  // only once its bytes were taken (a streamed body: when the program reads).
  nghttp2_session_consume_connection(c->session, len);
  st->body_activity_ms = now_ms();
  if (st->in && !st->discard_body) {
    aio::push(st->in, reinterpret_cast<const char*>(data), len);
    return 0;
  }
  if (st->discard_body) {
    nghttp2_session_consume_stream(c->session, id, len);
    return 0;
  }
  nghttp2_session_consume_stream(c->session, id, len);
  if (st->body.size() + len > c->srv->opts.max_body_bytes) {
    st->too_large = true;  // keep reading (flow control), answer 413 at the end
    st->body.clear();
    st->body.shrink_to_fit();
  } else if (!st->too_large) {
    st->body.append(reinterpret_cast<const char*>(data), len);
  }
  return 0;
}

int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<Connection*>(user);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    c->got_headers = true;
    Stream* st = stream_of(session, frame->hd.stream_id);
    if (st) st->body_activity_ms = now_ms();
    if (st && c->srv->opts.stream_bodies && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      // The handler runs now and reads the body as it arrives.
      st->in = aio::new_stream(&kRequestBody, st, false, true);
      st->complete = true;  // (dispatched once)
      c->ready.push_back(st);
      return 0;
    }
  }
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    Stream* st = stream_of(session, frame->hd.stream_id);
    if (st && st->in) {
      st->in_done = true;
      aio::push_end(st->in, kNil);
      return 0;
    }
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    Stream* st = stream_of(session, frame->hd.stream_id);
    if (st && !st->complete) {
      st->complete = true;
      c->ready.push_back(st);  // dispatched after nghttp2 returns: no Lisp inside its callbacks
    }
  }
  return 0;
}

int on_stream_close(nghttp2_session* session, int32_t id, uint32_t error_code, void* user) {
  auto* c = static_cast<Connection*>(user);
  Stream* st = stream_of(session, id);
  if (!st) return 0;
  nghttp2_session_set_stream_user_data(session, id, nullptr);
  for (auto& r : c->ready)
    if (r == st) r = nullptr;
  // The request's duration runs until its response has been sent.
  if (st->responded && st->start_ns)
    M().server_request_duration.observe_ns(uv_hrtime() - st->start_ns);
  if (st->out && error_code != NGHTTP2_NO_ERROR && st->out_end == aio::StreamEnd::Closed)
    st->out_end = aio::StreamEnd::Reset;
  stream_free(st);
  return 0;
}

// Detaches a stream and frees it; a handler still running is cancelled.
void stream_free(Stream* st) {
  Connection* c = st->conn;
  if (st->prev) st->prev->next = st->next;
  else if (c->streams == st) c->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  M().server_streams_active.dec();
  if (st->dispatched) --c->srv->inflight;
  if (st->watch) st->watch->ctx = nullptr;
  if (st->req) st->req->live = nullptr;
  if (st->body_watch) st->body_watch->ctx = nullptr;
  if (st->file_job) st->file_job->st = nullptr;  // (its callback closes what it opened)
  if (st->file_fd >= 0) {
    close_fd(st->file_fd);
    st->file_fd = -1;
  }
  if (st->deadline_watch) {
    st->deadline_watch->ctx = nullptr;
    aio::cancel(st->deadline);
  }
  // Streams end first (on-close runs, a waiting producer is cancelled),
  // then the handler's own work.
  if (st->out) {
    M().server_response_streams.dec();
    aio::StreamEnd why = st->out_end;
    if (why == aio::StreamEnd::Closed && !st->out->close_requested) why = aio::StreamEnd::Reset;
    aio::ended(st->out, why);
  }
  if (st->in) {
    if (!st->in_done)
      aio::push_end(st->in, make_error("stream/read: the request body did not finish (the client "
                                       "reset the stream or went away)"));
    aio::ended(st->in, st->in_done ? aio::StreamEnd::Closed : aio::StreamEnd::Reset);
  }
  if (st->work && !aio::settled(st->work)) aio::cancel(st->work);
  gc_delete_pinned(st);
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

void maybe_finish_stop(Server* s);

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
constexpr uint64_t kTickMs = 1000;
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

void on_connection(uv_stream_t* listener, int status) {
  auto* s = static_cast<Server*>(listener->data);
  if (status < 0) return;
  Connection* c = gc_new_pinned<Connection>();
  c->srv = s;
  uv_tcp_init(aio::loop(), &c->tcp);
  c->tcp.data = c;
  c->open_handles = 1;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
      gc_delete_pinned(static_cast<Connection*>(h->data));
    });
    return;
  }
  if (s->stopping || s->nconnections >= s->opts.max_connections) {
    // Over the limit: refused at once.
    M().server_connections_rejected.inc();
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
      gc_delete_pinned(static_cast<Connection*>(h->data));
    });
    return;
  }
  ++s->nconnections;
  M().server_connections_total.inc();  // accepted ones; refused are counted apart
  M().server_connections_active.inc();
  c->next = s->connections;
  if (s->connections) s->connections->prev = c;
  s->connections = c;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_init(aio::loop(), &c->timer);
  c->timer.data = c;
  c->open_handles = 2;
  c->last_activity_ms = c->accepted_ms = now_ms();
  // One timer per connection, ticking: the header, body and idle timeouts
  // are checked at each tick (to within kTickMs).
  uv_timer_start(&c->timer, on_conn_timer, std::min<uint64_t>(kTickMs, s->opts.header_timeout_ms), 0);
  if (s->tls) {
    c->ssl = SSL_new(s->tls);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
  }
  conn_start_reading(c);
}

// Servers that listen or still have connections: the collector must not
// take them while libuv and their connections point at them.

void forget_server(Server* s) {
  for (auto& x : rt().server.live)
    if (x == s) {
      x = rt().server.live.back();
      rt().server.live.pop_back();
      break;
    }
}

void maybe_finish_stop(Server* s) {
  if (!s->stopping || s->listening || s->connections || s->stopped) return;
  s->stopped = true;
  s->release();
  forget_server(s);
  if (s->stop_handle) aio::complete(s->stop_handle, kNil);
}

}  // namespace

// ---- the server ----------------------------------------------------------------------------

bool is_server(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kServerClass;
}
Server* as_server(Value v) { return static_cast<Server*>(reinterpret_cast<Opaque*>(v)->payload); }
int server_port(const Server* s) { return s->port; }

bool is_request(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kRequestClass;
}
Request* as_request(Value v) { return static_cast<Request*>(reinterpret_cast<Opaque*>(v)->payload); }

Value open_response_stream(VM&, Value req, Value head) {
  if (!is_request(req)) return make_error("stream/open: argument 1 must be a request, got " + describe_type(req));
  auto* st = static_cast<Stream*>(as_request(req)->live);
  if (!st || !st->conn->session)
    return make_error("stream/open: the request has ended (the client went away)");
  if (st->responded)
    return make_error("stream/open: the response has already started");
  Head h;
  if (head != kNil && head != kUnbound) {
    if (!is_list(head) || !parse_head(head, h)) {
      if (is_error(h.failed)) return h.failed;
      return make_error("stream/open: malformed response head " + repr_string(head));
    }
  }
  bool has_type = false;
  for (auto& [n, _] : h.headers) has_type |= n == "content-type";
  if (!has_type) h.headers.push_back({"content-type", "application/octet-stream"});
  aio::ByteStream* bs = start_stream(st, h.status, std::move(h.headers));
  if (!bs) return make_error("stream/open: the response could not be started");
  return aio::stream_value(bs);
}

Value request_body_stream(VM&, Value req) {
  Request* r = as_request(req);
  if (r->body_stream == kNil) {
    // A buffered body: a stream that has all of it and has ended.
    aio::ByteStream* bs = aio::new_stream(nullptr, nullptr, false, true);
    aio::push(bs, as_string(r->body)->data, as_string(r->body)->len);
    aio::push_end(bs, kNil);
    r->body_stream = aio::stream_value(bs);
  }
  return r->body_stream;
}

Value read_request_body(VM& vm, Value req) {
  Request* r = as_request(req);
  if (!r->streamed_body) return aio::handle_value(aio::pure(vm, r->body));
  uint64_t limit = r->max_body_bytes;
  aio::Handle* h = aio::read_all(vm, aio::as_stream(r->body_stream), size_t(limit));
  auto* st = static_cast<Stream*>(r->live);
  if (st && !aio::settled(h) && !st->body_watch) aio::watch(vm, h, on_body_read, st, &st->body_watch);
  else if (st && aio::settled(h)) on_body_read(st, h);
  return aio::handle_value(h);
}

Value listen(VM& vm, const ServerOptions& opts, Value handler) {
  aio::start(vm);
  aio::add_before_poll(flush_batch);
  Server* s = gc_new_finalized<Server>();
  s->base.h = {Type::Opaque, 0, 0, 0};
  s->base.cls = &kServerClass;
  s->base.payload = s;
  s->opts = opts;
  s->handler = handler;
  auto fail = [&](const std::string& msg) {
    s->release();
    return make_error("http2/server-listen: " + msg);
  };
  if (opts.tls) {
    std::string err;
    s->tls = make_server_tls(opts.cert, opts.key, err);
    if (!s->tls) return fail(err);
  }
  // The socket is made by hand so that SO_REUSEPORT can be set for worker
  // processes (libuv 1.44 has no flag for it).
  sockaddr_storage addr{};
  int family = AF_INET;
  if (uv_ip4_addr(opts.host.c_str(), opts.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
    if (uv_ip6_addr(opts.host.c_str(), opts.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
      return fail("invalid host address " + opts.host);
    family = AF_INET6;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (opts.reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  socklen_t alen = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), alen) != 0) {
    std::string e = strerror(errno);
    close(fd);
    return fail("cannot listen on " + opts.host + ":" + std::to_string(opts.port) + ": " + e);
  }
  uv_tcp_init(aio::loop(), &s->listener);
  s->listener.data = s;
  int rv = uv_tcp_open(&s->listener, fd);
  if (rv != 0) close(fd);  // not adopted by libuv: still ours to close
  if (rv == 0) rv = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listener), 1024, on_connection);
  if (rv != 0) {
    // (The loop's handle list keeps the server alive until the close ends.)
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), nullptr);
    return fail("cannot listen on " + opts.host + ":" + std::to_string(opts.port) + ": " +
                uv_strerror(rv));
  }
  sockaddr_storage bound{};
  int blen = sizeof bound;
  uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&bound), &blen);
  s->port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->listening = true;
  rt().server.live.push_back(s);

  nghttp2_session_callbacks_new(&s->callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(s->callbacks, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(s->callbacks, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(s->callbacks, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(s->callbacks, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(s->callbacks, on_stream_close);
  nghttp2_option_new(&s->option);
  // Windows are opened by the server (nghttp2_session_consume*): a streamed
  // request body's only as fast as the program reads it.
  nghttp2_option_set_no_auto_window_update(s->option, 1);
  // Hardening: rapid-reset and CONTINUATION floods are cut off by nghttp2.
  nghttp2_option_set_stream_reset_rate_limit(s->option, 1000, 33);
  nghttp2_option_set_max_continuations(s->option, 8);
  nghttp2_option_set_max_settings(s->option, 32);
  nghttp2_option_set_max_outbound_ack(s->option, 1000);
  return obj_val(s);
}

aio::Handle* stop(VM& vm, Server* s) {
  // Idempotent: every call returns the same handle.
  if (s->stop_handle) return s->stop_handle;
  aio::Handle* h = aio::new_handle(vm, aio::Kind::External, aio::State::Running);
  s->stopping = true;
  s->stop_handle = h;
  if (s->stopped || (!s->listening && !s->connections)) {
    maybe_finish_stop(s);
    return h;
  }
  if (s->listening) {
    s->listening = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), [](uv_handle_t* l) {
      maybe_finish_stop(static_cast<Server*>(l->data));
    });
  }
  // Requests in flight finish; connections close when they have none.
  for (Connection* c = s->connections; c; c = c->next) {
    if (!c->session) {
      conn_close(c);
      continue;
    }
    nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    conn_flush(c);
  }
  return h;
}

}  // namespace valk::http
