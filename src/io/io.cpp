// Shared pieces of the I/O kinds (see io.h).
#include "io/io.h"

#include <uv.h>

#include <map>

namespace valk::io {

std::string uv_message(std::string_view op, std::string_view subject, int code) {
  std::string m(op);
  if (!subject.empty()) {
    m += ' ';
    m += subject;
  }
  m += ": ";
  m += uv_strerror(code);
  m += " (";
  m += uv_err_name(code);
  m += ')';
  return m;
}

Value uv_error(const char* kind, std::string_view op, std::string_view subject, int code) {
  errors_counter(kind).inc();
  return make_error(uv_message(op, subject, code));
}

Value io_error(const char* kind, std::string message) {
  errors_counter(kind).inc();
  return make_error(message);
}

namespace {
template <class M>
M& cached(metrics::Family<M>& family, const char* kind) {
  // Keyed by the pointer: callers pass string literals.
  static std::map<std::pair<const void*, const char*>, M*> cache;
  auto key = std::make_pair(static_cast<const void*>(&family), kind);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  M& m = family.get({std::string_view(kind)});
  cache.emplace(key, &m);
  return m;
}
}  // namespace

metrics::Counter& ops_counter(const char* kind) { return cached(metrics::std().io_operations, kind); }
metrics::Counter& errors_counter(const char* kind) { return cached(metrics::std().io_errors, kind); }
metrics::Gauge& open_gauge(const char* kind) { return cached(metrics::std().io_open, kind); }

aio::Handle* own(VM& vm, void (*close)(void* ctx), void* ctx) {
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  h->k.io = {close, ctx};
  // Nobody awaits it: its cancellation is how the scope closes the
  // resource, not a failure to report.
  aio::mark_handled(h);
  return h;
}

aio::Handle* own_in(VM& vm, aio::Handle* scope, void (*close)(void* ctx), void* ctx) {
  if (scope && aio::settled(scope)) {
    close(ctx);
    return nullptr;
  }
  aio::Handle* saved = aio::current_scope();
  aio::set_current_scope(scope);
  aio::Handle* h = own(vm, close, ctx);
  aio::set_current_scope(saved);
  return h;
}

void release(aio::Handle* owner) {
  if (!owner || aio::settled(owner)) return;
  owner->k.io = {nullptr, nullptr};
  aio::complete(owner, kNil);
}

}  // namespace valk::io
