// What the program-running fuzz targets share: calling a global, resetting
// the VM's limits between inputs, and settling the async work an input left.
#pragma once

#include <cstddef>
#include <cstdint>

#include "aio/handle.h"
#include "core/gc.h"
#include "core/vm.h"

namespace valk::fuzz {

inline Value call_global(VM& vm, const char* name) {
  Value fn = as_symbol(intern(name))->global;
  return is_function(fn) ? vm.call(fn, nullptr, 0) : kNil;
}

inline void reset_limits(VM& vm, uint64_t step_limit, size_t max_depth) {
  vm.steps = 0;
  vm.step_limit = step_limit;
  vm.max_depth = max_depth;
  vm.exit_requested = false;
  vm.exit_code = 0;
}

// Cancels whatever an input left pending and runs the cleanups that
// cancelling queues, each round with twice a program's step budget. Not
// aio/stop: that cancels the same way but stops the loop for good, so the
// cleanups would never run. Cleanups that keep starting new work can still
// leave some behind for the next input.
inline void settle_leftovers(VM& vm, uint64_t step_limit) {
  TracedVector<aio::Handle*> pending;
  for (int round = 0; round < 4; ++round) {
    pending.clear();
    for (aio::Handle* h = aio::live_handles(); h; h = h->live_next)
      if (!aio::settled(h) && !(h->flags & aio::kCancelling)) pending.push_back(h);
    for (aio::Handle* h : pending) aio::cancel(h);  // skips the ones settled meanwhile
    if (pending.empty() && !aio::have_jobs()) return;
    vm.steps = 0;
    vm.step_limit = 2 * step_limit;
    call_global(vm, "aio/run");
  }
}

}  // namespace valk::fuzz
