// TLS for the HTTP/2 server: an OpenSSL context that offers h2 by ALPN.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace valk::http {

// Loads the certificate chain and key; on failure returns nullptr and a
// message naming the file and the reason in `err`.
SSL_CTX* make_server_tls(const std::string& cert, const std::string& key, std::string& err);

// The first OpenSSL error on this thread as text (and clears the queue).
std::string tls_error_text();

}  // namespace valk::http
