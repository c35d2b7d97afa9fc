// The HTTP client (docs/http-client.md): libcurl's multi-socket interface driven by
// our libuv loop. libcurl does TLS verification, ALPN and HTTP/2
// multiplexing, connection pooling, HTTP/1.1 fallback, redirects and
// decompression; this file turns transfers into handles.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "aio/handle.h"

namespace valk::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool has_body = false;
  long timeout_ms = 30000;         // the whole transfer
  long connect_timeout_ms = 10000;
  bool follow_redirects = true;
  long max_redirects = 10;
  bool insecure_skip_verify = false;  // explicit, loudly named: local testing only
  bool http2_prior_knowledge = false; // h2c servers over http://
  std::string ca_file;                // else SSL_CERT_FILE, else the system store
};

// Starts a transfer; the handle completes with a response plist
// {:status n :headers ((name value) ...) :body "..." :http-version "2" :url "..."}
// or fails with an error naming what happened and the URL. Cancelling the
// handle aborts the transfer.
aio::Handle* fetch(VM& vm, const ClientRequest& req);

}  // namespace valk::http
