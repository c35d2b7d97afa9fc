// The event loop: one libuv loop on the program's thread (SPEC 2.1). It
// runs queued Lisp callbacks, fires timers, and polls I/O.
#pragma once

#include <uv.h>

#include "aio/handle.h"

namespace valk::aio {

uv_loop_t* loop();
bool started();
void start(VM& vm);  // idempotent

// One round: run queued callbacks, fire due timers, poll I/O (blocking only
// when may_block and nothing is ready). False when no work is left at all.
bool step(VM& vm, bool may_block);
// Runs until no work is left or stop() is called.
void run(VM& vm);
// Runs the loop until h settles; false if it never can (nothing left).
bool run_until(VM& vm, Handle* h);
// Stops aio/run and cancels every pending handle; returns the handle that
// completes when teardown is done.
Handle* stop(VM& vm);
bool stop_requested();
// aio/start after aio/stop: the runtime runs again.
void clear_stop();

// Runs the queued Lisp callbacks now (from C++, outside any builtin).
void drain(VM& vm);

struct LoopStats {
  uint64_t iterations;
  int64_t busy_us;
};
const LoopStats& loop_stats();

}  // namespace valk::aio
