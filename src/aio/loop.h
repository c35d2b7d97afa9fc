// The event loop and its one driver.
//
// Lisp runs in two places only: the program's top-level forms (run by the
// CLI or the REPL) and jobs, the queued callbacks of the async runtime.
// Nothing else calls into Lisp: libuv, nghttp2 and curl callbacks only
// record what happened, settle handles and queue jobs.
//
// The driver is written in Lisp (%aio-drive in lib/valk/aio.valk): it drains
// the job queue, then calls poll() below for one round of timers and I/O,
// and repeats until the awaited handle settles (top-level aio/await) or no
// work is left (aio/run). So jobs run on the same VM stack as the code that
// started the driver, with no C++ frame between two Lisp calls. The driver
// can only be started from top-level code: from inside a job, aio/run and a
// blocking aio/await give an error value (docs/internals.md).
#pragma once

#include <uv.h>

#include "aio/handle.h"

namespace valk::aio {

uv_loop_t* loop();
bool started();
void start(VM& vm);  // idempotent

// One round without running Lisp: the before-poll hooks (flushing batched
// output), due timers, then I/O (uv_run once; it blocks only when no job
// is queued and no timer is due). False when nothing is left at all: no
// job, no timer, no live I/O, or aio/stop was called and `for_run`.
bool poll(VM& vm, bool for_run);

// Something happened inside uv_run that the driver must act on (a handle
// settled, a job was queued): the current iteration returns without
// blocking. Called by the handle machinery; cheap when not polling.
void wake();

// For a signal handler (async-signal-safe): makes a uv_run that waits return
// (the REPL's Ctrl-C, so that the driver's next call sees g_interrupt).
// Does nothing before the loop has started.
void wake_from_signal();

// C++ code that must run before the loop waits (e.g. the server writing
// the responses its handlers produced during the last drain).
void add_before_poll(void (*fn)());

// Stops aio/run and cancels every pending handle; returns the handle that
// completes when teardown is done.
Handle* stop(VM& vm);
bool stop_requested();
// aio/start after aio/stop: the runtime runs again.
void clear_stop();

const LoopStats& loop_stats();

}  // namespace valk::aio
