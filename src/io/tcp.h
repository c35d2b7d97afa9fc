// TCP and Unix domain sockets (docs/io.md#tcp): connecting gives a byte
// stream (io/uv_stream.h); a server calls the program's handler with one
// stream per connection.
#pragma once

#include <cstdint>
#include <string>

#include "aio/handle.h"
#include "core/value.h"

namespace valk::io {

struct ConnectOptions {
  bool tls = false;
  bool verify = true;        // :insecure true turns certificate checks off
  std::string ca_file;       // else SSL_CERT_FILE, else the system's store
  std::string server_name;   // SNI and the name checked (default: the host)
  int64_t idle_timeout_ms = 0;
};

// A handle of the connected stream (after the TLS handshake, with :tls).
// Fails with "tcp/connect host:port: connection refused (ECONNREFUSED)" and
// the like; cancelling it stops the look-up, the connect or the handshake.
aio::Handle* tcp_connect(VM& vm, const std::string& host, int port, const ConnectOptions& o);
aio::Handle* unix_connect(VM& vm, const std::string& path, const ConnectOptions& o);

struct ListenOptions {
  std::string host = "127.0.0.1";  // a numeric IPv4 or IPv6 address
  int64_t max_connections = 10000;  // more are accepted and closed at once
  int64_t idle_timeout_ms = 0;      // a connection quiet for this long is closed
  std::string cert, key;            // TLS, when both are given
  bool reuseport = false;
  int backlog = 511;
};

// The server value, or an error value. Each connection runs
// (handler stream) in a scope of its own (lib/valk/net.valk %net-serve);
// when the handle it returns settles, the connection is closed after what
// was written has been sent.
Value tcp_listen(VM& vm, int port, Value handler, const ListenOptions& o);
Value unix_listen(VM& vm, const std::string& path, Value handler, const ListenOptions& o);

bool is_server(Value v);
int server_port(Value v);  // the bound port (0 for a Unix socket)
// Stops accepting and closes every connection; the handle completes when
// all is closed. Idempotent.
aio::Handle* server_close(VM& vm, Value v);

}  // namespace valk::io
