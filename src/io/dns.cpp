// Name resolution (see dns.h).
#include "io/dns.h"

#include <netdb.h>

#include <algorithm>
#include <vector>

#include "aio/loop.h"
#include "core/gc.h"
#include "io/io.h"

namespace valk::io {

namespace {

// Pinned: libuv points at it until the callback, which always comes
// (with UV_EAI_CANCELED when uv_cancel won).
struct Lookup {
  uv_getaddrinfo_t req;
  aio::Handle* h;
  std::string host;
};

void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* l = static_cast<Lookup*>(req->data);
  aio::Handle* h = l->h;
  if (!aio::settled(h)) {
    h->k.io = {nullptr, nullptr};
    if (status < 0) {
      aio::fail_with(h, uv_error("dns", "dns/resolve", l->host, status));
    } else {
      std::vector<std::string> seen;
      ListBuilder out;
      for (addrinfo* a = res; a; a = a->ai_next) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (a->ai_family == AF_INET)
          uv_ip4_name(reinterpret_cast<sockaddr_in*>(a->ai_addr), ip, sizeof ip);
        else if (a->ai_family == AF_INET6)
          uv_ip6_name(reinterpret_cast<sockaddr_in6*>(a->ai_addr), ip, sizeof ip);
        else
          continue;
        if (std::find(seen.begin(), seen.end(), ip) != seen.end()) continue;
        seen.emplace_back(ip);
        out.push(make_string(ip));
      }
      aio::complete(h, out.result());
    }
  }
  if (res) uv_freeaddrinfo(res);
  gc_delete_pinned(l);
}

void cancel_lookup(void* ctx) { uv_cancel(reinterpret_cast<uv_req_t*>(&static_cast<Lookup*>(ctx)->req)); }

}  // namespace

aio::Handle* dns_resolve(VM& vm, const std::string& host, int family) {
  aio::start(vm);
  ops_counter("dns").inc();
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  auto* l = gc_new_pinned<Lookup>();
  l->h = h;
  l->host = host;
  l->req.data = l;
  addrinfo hints{};
  hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // (one entry per address, not one per socket type)
  int r = uv_getaddrinfo(aio::loop(), &l->req, on_resolved, host.c_str(), nullptr, &hints);
  if (r < 0) {
    aio::fail_with(h, uv_error("dns", "dns/resolve", host, r));
    gc_delete_pinned(l);
    return h;
  }
  h->k.io = {cancel_lookup, l};
  return h;
}

}  // namespace valk::io
