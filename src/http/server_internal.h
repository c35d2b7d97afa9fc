// The HTTP/2 server's parts, shared by its files (internal to src/http/):
//   server.cpp        listening, accepting, stopping (Server)
//   connection.cpp    one TCP/TLS connection: reading, writing, backpressure, timers
//   h2_stream.cpp     one HTTP/2 stream: the request as it arrives, the handler's job
//   response.cpp      turning what a handler returned into HEADERS and DATA
//   body_streams.cpp  streamed bodies: the transports behind stream/open and req/body-stream
//   file_response.cpp files sent from disk ({:file path}, http2/static)
//
// Memory: Connection and Stream are C++ objects in uncollectable GC memory:
// libuv and nghttp2 hold pointers to them, and they hold Lisp values (the
// handler's handle, the response body) that the collector must see. They
// are freed explicitly when closed. A Server is the Lisp value the program
// holds, so it is collectable: the live-server list keeps it while it
// listens or has connections; once stopped its TLS context and nghttp2
// callbacks are freed, and the collector takes the rest (a finalizer runs
// its destructor) when the program drops it.
#pragma once

#include <openssl/ssl.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "aio/clock.h"
#include "aio/handle.h"
#include "aio/loop.h"
#include "aio/metrics.h"
#include "aio/stream.h"
#include "core/gc.h"
#include "core/value.h"
#include "http/server.h"
#include "http/static_files.h"

namespace valk::http {

struct Stream;
struct FileJob;

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
  bool body_input = false;     // streamed request body bytes arrived in this read
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

// A response's head, from a plist {:status :headers :body :content-type
// :cache-control :stream :file :root}.
struct Head {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  Value body = kUnbound;
  Value stream_fn = kUnbound;  // {:stream f}: f is called with the body stream
  Value file = kUnbound;       // {:file path}: the body is that file
  Value root = kUnbound;       // ... which must resolve inside this directory (http2/static)
  Value failed = kNil;         // an error value found in the plist
};

inline metrics::Standard& M() { return metrics::standard(); }
// The loop's time of this iteration (no system call): what the server's
// timeouts are measured in.
inline int64_t now_ms() { return int64_t(uv_now(aio::loop())); }
constexpr uint64_t kTickMs = 1000;  // the connection timer's period

// server.cpp
void on_connection(uv_stream_t* listener, int status);
void maybe_finish_stop(Server* s);

// connection.cpp
void conn_close(Connection* c);
void conn_flush(Connection* c);
void io_failed(Connection* c, const char* op);
void conn_start_reading(Connection* c);
void on_conn_timer(uv_timer_t* t);
// Queues c to be flushed before the loop polls again (one write for many
// responses); flush_batch is the before-poll hook that does it.
void request_flush(Connection* c);
void flush_batch();

// h2_stream.cpp
Stream* stream_of(nghttp2_session* s, int32_t id);
void stream_free(Stream* st);  // detaches and frees; a handler still running is cancelled
void dispatch(VM& vm, Stream* st);  // the request has arrived (or its headers, :stream-bodies)
int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user);
int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
              size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
int on_data_chunk(nghttp2_session* session, uint8_t flags, int32_t id, const uint8_t* data,
                  size_t len, void* user);
int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user);
int on_stream_close(nghttp2_session* session, int32_t id, uint32_t error_code, void* user);

// response.cpp
void respond(Stream* st, int status, HeaderList headers, Value body);
// Submits :status, the headers (names already lower case) and, if given, a
// content-length and a content-type; body null for none.
int submit_head(Stream* st, int status, const HeaderList& headers, nghttp2_data_provider* body,
                const std::string* length = nullptr, const std::string* type = nullptr);
void respond_text(Stream* st, int status, const char* text, HeaderList extra = {});
void respond_with(Stream* st, Value r);  // what a handler returned
void count_request(Stream* st, int status);
bool parse_head(Value r, Head& head);  // false when malformed (head.failed: an error found inside)
void log_handler_error(Stream* st, const std::string& what);

// body_streams.cpp
aio::ByteStream* start_stream(Stream* st, int status, HeaderList headers);  // HEADERS now, body later
void respond_streaming(Stream* st, const Head& head);                       // {:stream f}
aio::ByteStream* new_request_body(Stream* st);                             // :stream-bodies
void open_windows(Connection* c);  // flow control for request bodies the program has read
void fire_drains(Connection* c);   // drain events of response streams nghttp2 took from
void on_body_read(void* ctx, aio::Handle* h);

// file_response.cpp
void respond_file(Stream* st, const Head& head);
void detach_file_job(FileJob* j);  // the stream is gone: the job closes what it opened and ends
void close_fd(uv_file fd);

}  // namespace valk::http
