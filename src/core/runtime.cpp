// The runtime's one instance (see runtime.h).
#include "core/runtime.h"

#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define VALK_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VALK_LSAN 1
#endif
#endif
#ifdef VALK_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#include "core/vm.h"

namespace valk {

Runtime* g_runtime = nullptr;

namespace {
// Code, not state: which subsystems need a word before a reset.
std::vector<void (*)(Runtime&)>& teardowns() {
  static auto* v = new std::vector<void (*)(Runtime&)>;
  return *v;
}
}  // namespace

Runtime& make_runtime() {
  // Pinned: the collector scans it (it holds handles and Values) and never frees it.
  g_runtime = gc_new_pinned<Runtime>();
#ifdef VALK_LSAN
  // The leak checker does not scan the collector's memory: the runtime
  // holds the only pointers to libcurl's and libuv's own allocations.
  __lsan_register_root_region(g_runtime, sizeof(Runtime));
#endif
  const char* v = getenv("VALK_VIRTUAL_TIME");
  g_runtime->timers.virtual_time = v && *v && *v != '0';
  return *g_runtime;
}

void add_runtime_teardown(void (*fn)(Runtime&)) {
  for (auto f : teardowns())
    if (f == fn) return;
  teardowns().push_back(fn);
}

void reset_runtime() {
  Runtime* old = g_runtime;
  VM* vm = old ? old->vm : nullptr;
  if (old) {
    for (auto it = teardowns().rbegin(); it != teardowns().rend(); ++it) (*it)(*old);
    g_runtime = nullptr;
#ifdef VALK_LSAN
    __lsan_unregister_root_region(old, sizeof(Runtime));
#endif
    gc_delete_pinned(old);
  }
  Runtime& fresh = rt();
  fresh.vm = vm;
  // Every global is unbound again, then the library defines its own.
  for_each_symbol([](Value sym, void*) { as_symbol(sym)->global = kUnbound; }, nullptr);
  if (vm) vm->load_library();
}

}  // namespace valk
