// The runtime's one instance (see runtime.h).
#include "core/runtime.h"

#include <cstdlib>

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
    gc_delete_pinned(old);
  }
  Runtime& fresh = rt();
  fresh.vm = vm;
  // Every global is unbound again, then the library defines its own.
  for_each_symbol([](Value sym, void*) { as_symbol(sym)->global = kUnbound; }, nullptr);
  if (vm) vm->load_library();
}

}  // namespace valk
