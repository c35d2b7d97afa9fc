// The event loop (see loop.h).
#include "aio/loop.h"

#include <cstdio>

#include "aio/clock.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

uv_loop_t g_loop;
uv_timer_t g_master;  // armed for the earliest timer deadline (real time)
bool g_started = false;
bool g_stop = false;
LoopStats g_stats{};

void on_master(uv_timer_t*) {}  // waking the loop is all it is for

// The master timer counts as loop work only while armed, so that
// uv_loop_alive() means "real I/O is pending" and uv_run blocks on it.
void disarm_master() {
  uv_timer_stop(&g_master);
  uv_unref(reinterpret_cast<uv_handle_t*>(&g_master));
}
void arm_master() {
  int64_t d = next_deadline();
  if (d < 0 || virtual_time()) return;
  int64_t wait_us = d - now_us();
  uint64_t ms = wait_us <= 0 ? 0 : uint64_t((wait_us + 999) / 1000);
  uv_ref(reinterpret_cast<uv_handle_t*>(&g_master));
  uv_timer_start(&g_master, on_master, ms, 0);
}

}  // namespace

uv_loop_t* loop() { return &g_loop; }
bool started() { return g_started; }

void start(VM& vm) {
  if (g_started) return;
  uv_loop_init(&g_loop);
  uv_timer_init(&g_loop, &g_master);
  uv_unref(reinterpret_cast<uv_handle_t*>(&g_master));  // timers count as work by themselves
  g_started = true;
}

void drain(VM& vm) {
  static Value fn = intern("%aio-drain");
  while (have_jobs()) {
    Value arg = kNil;
    vm.call(as_symbol(fn)->global, &arg, 1);
  }
}

bool step(VM& vm, bool may_block) {
  start(vm);
  int64_t t0 = now_us();
  ++g_stats.iterations;
  drain(vm);
  if (fire_due(vm) > 0) {
    drain(vm);
    g_stats.busy_us += now_us() - t0;
    return true;
  }
  disarm_master();
  bool io = uv_loop_alive(&g_loop) != 0;
  int64_t next = next_deadline();
  if (!io && next < 0) return have_jobs();
  if (virtual_time()) {
    // Let I/O that is ready run; if nothing else is ready, time jumps to
    // the next timer instead of waiting for it.
    if (io) uv_run(&g_loop, next >= 0 ? UV_RUN_NOWAIT : UV_RUN_ONCE);
    if (!have_jobs() && next >= 0) advance_virtual(next);
  } else {
    arm_master();
    g_stats.busy_us += now_us() - t0;
    // What the program printed appears before the loop waits, even when
    // stdout is a pipe (a server's log, for instance).
    if (may_block) fflush(stdout);
    uv_run(&g_loop, may_block ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    return true;
  }
  g_stats.busy_us += now_us() - t0;
  return true;
}

void run(VM& vm) {
  if (g_stop) return;  // stopped for good (aio/stop): nothing runs the loop again
  while (!g_stop && step(vm, true)) {
  }
  drain(vm);
}

bool run_until(VM& vm, Handle* h) {
  while (!settled(h)) {
    if (!step(vm, true)) return settled(h);
  }
  return true;
}

Handle* stop(VM& vm) {
  g_stop = true;
  Handle* done = new_handle(vm, Kind::External);
  // Nothing is left running: every unsettled handle is cancelled.
  for (;;) {
    Handle* h = live_handles();
    while (h && (h == done || settled(h))) h = h->live_next;
    if (!h) break;
    cancel(h);
  }
  complete(done, kNil);
  return done;
}

bool stop_requested() { return g_stop; }
void clear_stop() { g_stop = false; }

const LoopStats& loop_stats() { return g_stats; }

}  // namespace valk::aio
