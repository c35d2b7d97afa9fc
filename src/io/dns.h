// Name resolution on libuv's thread pool (uv_getaddrinfo).
#pragma once

#include <string>

#include "aio/handle.h"

namespace valk::io {

// A handle of the addresses of `host` as strings ("127.0.0.1", "::1"), in
// the resolver's order without repeats; family 4 or 6 restricts it (0: both).
// Fails with "dns/resolve nosuch.invalid: unknown node or service (EAI_NONAME)".
// Cancelling it cancels the look-up if it has not started (its result is
// dropped if it has).
aio::Handle* dns_resolve(VM& vm, const std::string& host, int family);

}  // namespace valk::io
