// The event loop (see loop.h).
#include "aio/loop.h"

#include <atomic>
#include <cstdio>
#include <vector>

#include "aio/clock.h"
#include "core/runtime.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

// The running loop's interrupt handle, for wake_from_signal (which cannot
// look at the runtime's state safely).
std::atomic<uv_async_t*> g_interrupt_handle{nullptr};
static_assert(std::atomic<uv_async_t*>::is_always_lock_free, "used from a signal handler");
// uv_run returns after the iteration that ran this; nothing else to do.
void on_interrupt(uv_async_t*) {}

// This file's part of the runtime (core/runtime.h).
LoopState& L() { return rt().loop; }

// Waking the loop is all the master timer is for. libuv runs due timers at
// the start of an iteration, before it polls: a wake-up spent there would
// leave uv_run blocked in epoll with the timer heap due. uv_stop makes that
// iteration poll without blocking.
void on_master(uv_timer_t*) { uv_stop(&L().loop); }

// The master timer counts as loop work only while armed, so that
// uv_loop_alive() means "real I/O is pending" and uv_run blocks on it.
void disarm_master() {
  uv_timer_stop(&L().master);
  uv_unref(reinterpret_cast<uv_handle_t*>(&L().master));
}
void arm_master() {
  int64_t d = next_deadline();
  if (d < 0 || virtual_time()) return;
  uv_update_time(&L().loop);  // the timer counts from now, not the last iteration
  int64_t wait_us = d - now_us();
  uint64_t ms = wait_us <= 0 ? 0 : uint64_t((wait_us + 999) / 1000);
  uv_ref(reinterpret_cast<uv_handle_t*>(&L().master));
  uv_timer_start(&L().master, on_master, ms, 0);
}

bool poll_round(VM& vm, bool for_run) {
  for (auto fn : L().before_poll) fn();
  if (for_run && L().stop) return false;
  if (have_jobs()) {
    // Queued by a before-poll hook: let ready I/O in, then run them.
    uv_run(&L().loop, UV_RUN_NOWAIT);
    return true;
  }
  if (fire_due(vm) > 0) {
    // Timers that are always due (a chain of (aio/sleep 0)) must not starve
    // I/O: ready sockets and write completions are let in every round.
    if (!virtual_time()) uv_run(&L().loop, UV_RUN_NOWAIT);
    return true;
  }
  disarm_master();
  bool io = uv_loop_alive(&L().loop) != 0;
  int64_t next = next_deadline();
  if (!io && next < 0) return false;
  if (virtual_time()) {
    // Let I/O that is ready run; if nothing else is ready, time jumps to
    // the next timer instead of waiting for it.
    if (io) {
      L().polling = true;
      uv_run(&L().loop, next >= 0 ? UV_RUN_NOWAIT : UV_RUN_ONCE);
      L().polling = false;
    }
    if (!have_jobs() && next >= 0) advance_virtual(next);
    return true;
  }
  arm_master();
  // What the program printed appears before the loop waits, even when
  // stdout is a pipe (a server's log, for instance).
  fflush(stdout);
  if (L().woke_us >= 0) L().stats.busy_us += now_us() - L().woke_us;
  L().polling = true;
  uv_run(&L().loop, UV_RUN_ONCE);
  L().polling = false;
  L().woke_us = now_us();
  return true;
}

}  // namespace

uv_loop_t* loop() { return &L().loop; }
bool started() { return L().started; }

// A fresh runtime (reset_runtime): close the loop's timer and the loop.
void close_loop(Runtime& old) {
  LoopState& l = old.loop;
  if (!l.started) return;
  g_interrupt_handle.store(nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&l.master), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&l.interrupt), nullptr);
  for (int i = 0; i < 100 && uv_loop_close(&l.loop) == UV_EBUSY; ++i) uv_run(&l.loop, UV_RUN_NOWAIT);
  l.started = false;
}

void start(VM& vm) {
  if (L().started) return;
  add_runtime_teardown(close_loop);
  uv_loop_init(&L().loop);
  uv_timer_init(&L().loop, &L().master);
  uv_unref(reinterpret_cast<uv_handle_t*>(&L().master));  // timers count as work by themselves
  uv_async_init(&L().loop, &L().interrupt, on_interrupt);
  uv_unref(reinterpret_cast<uv_handle_t*>(&L().interrupt));  // not work of its own
  g_interrupt_handle.store(&L().interrupt);
  L().started = true;
  L().woke_us = now_us();
}

bool poll(VM& vm, bool for_run) {
  start(vm);
  ++L().stats.iterations;
  // I/O callbacks and timers belong to no request: what they create (a
  // server's handler job, say) must not pick up the context of the code that
  // runs the loop, a blocking aio/await inside ctx/with (src/aio/context.h).
  Value ctx = rt().async.context;
  rt().async.context = kNil;
  bool r = poll_round(vm, for_run);
  rt().async.context = ctx;
  return r;
}

void wake() {
  if (L().polling) uv_stop(&L().loop);
}

void wake_from_signal() {
  if (uv_async_t* h = g_interrupt_handle.load()) uv_async_send(h);
}

void add_before_poll(void (*fn)()) {
  for (auto f : L().before_poll)
    if (f == fn) return;
  L().before_poll.push_back(fn);
}

Handle* stop(VM& vm) {
  L().stop = true;
  Handle* done = new_handle(vm, Kind::External);
  // Nothing is left running: every unsettled handle is cancelled.
  for (;;) {
    Handle* h = live_handles();
    // (A handle already cancelling, a finally or bracket waiting for its
    // cleanup, settles once that has run: cancelling it again does nothing.)
    while (h && (h == done || settled(h) || (h->flags & kCancelling))) h = h->live_next;
    if (!h) break;
    cancel(h);
  }
  complete(done, kNil);
  return done;
}

bool stop_requested() { return L().stop; }
void clear_stop() { L().stop = false; }

const LoopStats& loop_stats() { return L().stats; }

}  // namespace valk::aio
