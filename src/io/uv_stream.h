// A libuv stream (a TCP socket, a pipe to a process, a Unix domain socket)
// behind a byte stream (aio/stream.h), optionally through TLS (OpenSSL with
// memory BIOs, as the HTTP/2 server does).
//
// What the program sees is the stream interface: stream/read gives the next
// chunk or nil at the peer's end; stream/write queues, refused past the high
// watermark; stream/close sends what is queued, then shuts the write side
// down (the read side stays open until the peer ends too: TCP's half-close).
// Backpressure runs both ways: the socket is read only while the unread
// bytes are under the stream's high watermark, and writes are refused past
// it until stream/drain completes.
//
// The connection is owned by the scope it was opened in (io::own): the
// scope's end closes it. When it is closed, the uv handle is closed and the
// connection's memory freed once libuv is done with it.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <cstdint>
#include <string>

#include "aio/stream.h"

namespace valk::io {

struct UvConn;

// A connection whose uv handle the caller initialises (uv_tcp_init or
// uv_pipe_init on aio::loop()) and connects or accepts; `kind` names it in
// metrics and printing ("tcp", "unix", "pipe"); `label` (an address, a
// command) names it in errors.
UvConn* new_conn(const char* kind, std::string label);
uv_stream_t* conn_stream(UvConn* c);
void set_label(UvConn* c, std::string label);  // (an accepted connection: its peer)
uv_tcp_t* conn_tcp(UvConn* c);
uv_pipe_t* conn_pipe(UvConn* c);

struct AttachOptions {
  bool writable = true;
  bool readable = true;
  bool owned = true;   // owned by `scope` (false: by its creator, e.g. a process or a server)
  aio::Handle* scope = nullptr;  // the scope current when the program asked (aio::current_scope())
  SSL* ssl = nullptr;  // TLS over the connection: the caller set connect or accept state
  // With TLS: settled once the handshake is done (completed with the
  // stream) or failed (a verification error names the address).
  aio::Handle* ready = nullptr;
  int64_t idle_timeout_ms = 0;  // no byte either way for this long: the connection is closed
};

// The connection is connected: makes its byte stream and starts reading.
aio::ByteStream* attach(VM& vm, UvConn* c, const AttachOptions& opts);

// A connection that failed before attach (a refused connect): closes the
// uv handle (if `initialised`) and frees the connection.
void discard(UvConn* c, bool initialised);

// For the process kind: called once when the stream has ended and the uv
// handle is closed (the process waits for its pipes before it reports).
void on_finished(UvConn* c, void (*fn)(void* ctx), void* ctx);

// Sends what is queued, then closes the whole connection (not only the
// write side): for a server when its handler is done.
void close_gracefully(UvConn* c);

// Closes at once (the stream ends as `why`).
void abort_conn(UvConn* c, aio::StreamEnd why);

}  // namespace valk::io
