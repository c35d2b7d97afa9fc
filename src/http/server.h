// The HTTP/2 server (docs/http-server.md, #hardening): server -> connection -> stream, on
// libuv, with nghttp2 for framing and OpenSSL (memory BIOs) for TLS.
//
// Handlers are Lisp functions run as async jobs, so a handler may return a
// value or a handle and may aio/await inside; the response is sent when its
// result is ready. A client that resets a stream or disconnects cancels the
// handler's handle.
#pragma once

#include <cstdint>
#include <string>

#include "aio/handle.h"
#include "core/value.h"

namespace valk::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;
  bool tls = false;
  std::string cert, key;
  uint32_t max_connections = 10000;
  uint32_t max_concurrent_streams = 100;
  uint32_t max_inflight = 10000;         // requests in progress before 503s
  uint64_t max_body_bytes = 8u << 20;    // larger request bodies get 413
  uint32_t max_header_bytes = 64u << 10; // request header list, all fields
  uint32_t header_timeout_ms = 10000;    // TLS handshake + first request headers
  uint32_t idle_timeout_ms = 60000;      // no stream open and nothing received
  size_t high_watermark = 1u << 20;      // unsent output that pauses reading
  size_t low_watermark = 256u << 10;     // ... and resumes it
  bool reuseport = false;                // share the port with worker processes
  size_t stream_high_watermark = 1u << 20;  // a response stream's queue: writes past it are refused
  size_t stream_low_watermark = 256u << 10;  // ... and drain events fire below this
  bool stream_bodies = false;            // run handlers when headers arrive; bodies as streams
  uint32_t body_timeout_ms = 10000;      // a request body that stops arriving: 408 / reset
  uint32_t request_timeout_ms = 0;       // a handler that has not responded by then: 504 (0: none)
};

struct Server;

// Starts listening. Returns the server value, or an error value that says
// what went wrong (port in use, bad certificate, ...).
Value listen(VM& vm, const ServerOptions& opts, Value handler);
bool is_server(Value v);
Server* as_server(Value v);
int server_port(const Server* s);
// Stops accepting, lets requests in flight finish, then completes the
// returned handle.
aio::Handle* stop(VM& vm, Server* s);

// Requests as Lisp values.
bool is_request(Value v);
struct Request {
  Value method, path, query, authority, scheme, headers, body;
  void* live;          // the server's stream while the request is in progress, else null
  Value body_stream;   // the body as a stream, once asked for (req/body-stream)
  bool streamed_body;  // the handler runs before the body has arrived (:stream-bodies)
  uint64_t max_body_bytes;  // req/read-body's limit
};
Request* as_request(Value v);

// (stream/open req [head]): sends the response's HEADERS now and returns a
// stream for its body (docs/streams.md), or an error value. head is a plist
// {:status :content-type :cache-control :headers}.
Value open_response_stream(VM& vm, Value req, Value head);
// (req/body-stream req): the request body as a readable stream. A buffered
// body gives a stream that has all of it and has ended.
Value request_body_stream(VM& vm, Value req);
// (req/read-body req): a handle of the whole body (fails past :max-body-bytes).
Value read_request_body(VM& vm, Value req);

}  // namespace valk::http
