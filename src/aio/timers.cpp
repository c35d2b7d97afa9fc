// Timer heap and clocks (see clock.h).
#include <gc/gc.h>
#include <gc/gc_allocator.h>
#include <uv.h>

#include <cstdlib>
#include <ctime>
#include <vector>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "aio/context.h"
#include "aio/handle.h"
#include "core/gc.h"
#include "core/runtime.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

// This file's part of the runtime (core/runtime.h): the heap holds the only
// pointers to some timed handles, so it is traced.
TimerHeap& T() { return rt().timers; }
constexpr uint32_t kNotArmed = UINT32_MAX;
using Entry = TimerEntry;

bool before(const Entry& a, const Entry& b) {
  return a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq);
}
void place(size_t i, const Entry& e) {
  T().heap[i] = e;
  e.handle->k.timer.heap_index = uint32_t(i);
}
void sift_up(size_t i) {
  Entry e = T().heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before(e, T().heap[p])) break;
    place(i, T().heap[p]);
    i = p;
  }
  place(i, e);
}
void sift_down(size_t i) {
  Entry e = T().heap[i];
  size_t n = T().heap.size();
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(T().heap[c + 1], T().heap[c])) ++c;
    if (!before(T().heap[c], e)) break;
    place(i, T().heap[c]);
    i = c;
  }
  place(i, e);
}
void heap_push(const Entry& e) {
  T().heap.push_back(e);
  sift_up(T().heap.size() - 1);
}
bool armed(const Handle* h) {
  return h->k.timer.heap_index < T().heap.size() && T().heap[h->k.timer.heap_index].handle == h;
}
void heap_remove(Handle* h) {
  if (!armed(h)) return;
  size_t i = h->k.timer.heap_index;
  Entry last = T().heap.back();
  T().heap.pop_back();
  if (last.handle != h) {
    place(i, last);
    sift_up(i);
    sift_down(last.handle->k.timer.heap_index);
  }
  h->k.timer.heap_index = kNotArmed;
}
Entry pop_min() {
  Entry e = T().heap[0];
  heap_remove(e.handle);
  return e;
}

// A timer of a handle created under a context with a deadline never waits
// past it: armed at the deadline instead, it fails then (deadline_fired).
int64_t capped(Handle* h, int64_t at) {
  h->flags &= uint8_t(~kDeadline);
  int64_t d = context_deadline(h->ctx);
  if (d != 0 && (at > d || d <= now_us())) {  // past it, or it has passed already
    h->flags |= kDeadline;
    return d;
  }
  return at;
}

}  // namespace

int64_t now_us() {
  if (T().virtual_time) return T().virtual_now;
  return int64_t(uv_hrtime() / 1000);
}
int64_t coarse_now_us() {
  if (T().virtual_time) return T().virtual_now;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

bool virtual_time() { return T().virtual_time; }
void set_virtual_time(bool on) {
  if (on && !T().virtual_time) T().virtual_now = int64_t(uv_hrtime() / 1000);
  T().virtual_time = on;
}
void advance_virtual(int64_t to) {
  if (to > T().virtual_now) T().virtual_now = to;
}

void timer_start(Handle* h, int64_t delay_us, int64_t period_us) {
  if (armed(h)) heap_remove(h);
  if (delay_us < 0) delay_us = 0;
  if (delay_us > kMaxDelayUs) delay_us = kMaxDelayUs;
  if (period_us > kMaxDelayUs) period_us = kMaxDelayUs;
  if (period_us > 0) h->k.timer.interval.period_us = period_us;
  heap_push({capped(h, now_us() + delay_us), T().seq++, h});
}

void timer_settled(Handle* h) {
  if (is_timed(h->kind)) heap_remove(h);
}

int64_t next_deadline() { return T().heap.empty() ? -1 : T().heap[0].deadline; }
size_t active_timers() { return T().heap.size(); }

// ---- the timed kinds ----------------------------------------------------------

namespace {

// ms * 1000 without overflow (a delay that large never fires anyway).
int64_t ms_to_us(int64_t ms) {
  if (ms <= 0) return 0;
  if (ms > kMaxDelayUs / 1000) return kMaxDelayUs;
  return ms * 1000;
}

Handle* new_timed(VM& vm, Kind kind) {
  Handle* h = new_handle(vm, kind, State::Running);
  h->k.timer.heap_index = kNotArmed;
  h->k.timer.interval = {kNil, 0};  // (the largest member: every member is cleared)
  return h;
}

void sleep_fired(Handle* h) { complete(h, h->k.timer.sleep_value); }

void schedule_fired(VM& vm, Handle* h) {
  queue_job(vm, h->k.timer.schedule.fn, kNil, h, JobKind::Resolve);  // an error fails it
}

void interval_fired(VM& vm, Handle* h, int64_t deadline, int64_t now) {
  queue_job(vm, h->k.timer.interval.fn, kNil, h, JobKind::Interval);
  int64_t next = deadline + h->k.timer.interval.period_us;
  heap_push({capped(h, next < now ? now : next), T().seq++, h});
}

void within_fired(Handle* h) {
  // Cancel the input first (unless another waiter still needs it), so the
  // within's dependents see it cancelled; then fail with :timeout.
  h->flags |= kStarted;  // its input settling now is not the outcome
  if (h->k.timer.within_input) release_input(h->k.timer.within_input);
  fail_with(h, make_error(":timeout"));
}

// The context's deadline came first: the handle fails with the error
// "deadline exceeded" (a within cancels its input first, as on :timeout).
void deadline_fired(Handle* h) {
  if (h->kind == Kind::Within) {
    h->flags |= kStarted;
    if (h->k.timer.within_input) release_input(h->k.timer.within_input);
  }
  fail_with(h, deadline_error());
}

void no_inputs(Handle*, void (*)(Handle*, void*), void*) {}
void within_inputs(Handle* h, void (*fn)(Handle*, void*), void* ctx) {
  if (h->k.timer.within_input) fn(h->k.timer.within_input, ctx);
}
bool settle_now(VM&, Handle*) { return false; }
void ignore_input(VM&, Handle*, uint32_t, Handle*) {}
void follow_input(VM&, Handle* h, uint32_t, Handle* in) {  // schedule's fn returned a handle
  mark_handled(in);
  if (in->state == State::Completed) complete(h, in->result);
  else if (in->state == State::Failed) fail_with(h, in->result);
  else cancel(h);
}
void within_input(VM& vm, Handle* h, uint32_t index, Handle* in) {
  if (h->flags & kStarted) return;  // timing out: the timeout decides
  // Under a deadline that has passed, a failure (a transfer's own timeout,
  // capped at the deadline) is the deadline's.
  if ((h->flags & kDeadline) && in->state == State::Failed && remaining_us(h->ctx) == 0) {
    mark_handled(in);
    fail_with(h, deadline_error());
    return;
  }
  follow_input(vm, h, index, in);
}

}  // namespace

const KindOps kSleepOps{"sleep", ignore_input, settle_now, no_inputs};
const KindOps kScheduleOps{"schedule", follow_input, settle_now, no_inputs};
const KindOps kIntervalOps{"interval", ignore_input, settle_now, no_inputs};
const KindOps kWithinOps{"within", within_input, settle_now, within_inputs};

Handle* sleep(VM& vm, int64_t ms, Value value) {
  Handle* h = new_timed(vm, Kind::Sleep);
  h->k.timer.sleep_value = value;
  timer_start(h, ms_to_us(ms));
  return h;
}

Handle* schedule(VM& vm, int64_t ms, Value f) {
  Handle* h = new_timed(vm, Kind::Schedule);
  h->k.timer.schedule.fn = f;
  timer_start(h, ms_to_us(ms));
  return h;
}

Handle* interval(VM& vm, int64_t ms, Value f) {
  Handle* h = new_timed(vm, Kind::Interval);
  h->k.timer.interval.fn = f;
  int64_t us = ms_to_us(ms);
  timer_start(h, us, us > 0 ? us : 1);
  return h;
}

Handle* within(VM& vm, Handle* in, int64_t ms) {
  Handle* h = new_timed(vm, Kind::Within);
  h->k.timer.within_input = in;
  wait_on(h, in, 0);
  if (!settled(h)) timer_start(h, ms_to_us(ms));
  return h;
}

int fire_due(VM& vm) {
  int fired = 0;
  int64_t now = now_us();
  // Timers armed by the callbacks below wait for the next round.
  uint64_t horizon = T().seq;
  while (!T().heap.empty() && T().heap[0].deadline <= now && T().heap[0].seq < horizon) {
    Entry e = pop_min();
    Handle* h = e.handle;
    ++fired;
    if (settled(h)) continue;
    // Only timed kinds are in the heap; each reacts in its own way.
    if (h->flags & kDeadline) deadline_fired(h);
    else if (h->kind == Kind::Sleep) sleep_fired(h);
    else if (h->kind == Kind::Schedule) schedule_fired(vm, h);
    else if (h->kind == Kind::Interval) interval_fired(vm, h, e.deadline, now);
    else if (h->kind == Kind::Within) within_fired(h);
  }
  return fired;
}

}  // namespace valk::aio
