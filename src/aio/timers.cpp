// Timer heap and clocks (see clock.h).
#include <gc/gc.h>
#include <gc/gc_allocator.h>
#include <uv.h>

#include <cstdlib>
#include <ctime>
#include <vector>

#include "aio/clock.h"
#include "aio/handle.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

bool g_virtual = [] {
  const char* v = getenv("VALK_VIRTUAL_TIME");
  return v && *v && *v != '0';
}();
int64_t g_virtual_now = 0;
uint64_t g_seq = 0;
constexpr uint32_t kNotArmed = UINT32_MAX;

struct Entry {
  int64_t deadline;
  uint64_t seq;  // FIFO among equal deadlines
  Handle* handle;
};
// Traced: the heap holds the only pointers to some timed handles.
std::vector<Entry, traceable_allocator<Entry>> g_heap;

bool before(const Entry& a, const Entry& b) {
  return a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq);
}
void place(size_t i, const Entry& e) {
  g_heap[i] = e;
  e.handle->remaining = uint32_t(i);
}
void sift_up(size_t i) {
  Entry e = g_heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before(e, g_heap[p])) break;
    place(i, g_heap[p]);
    i = p;
  }
  place(i, e);
}
void sift_down(size_t i) {
  Entry e = g_heap[i];
  size_t n = g_heap.size();
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(g_heap[c + 1], g_heap[c])) ++c;
    if (!before(g_heap[c], e)) break;
    place(i, g_heap[c]);
    i = c;
  }
  place(i, e);
}
void heap_push(const Entry& e) {
  g_heap.push_back(e);
  sift_up(g_heap.size() - 1);
}
bool armed(const Handle* h) {
  return h->remaining < g_heap.size() && g_heap[h->remaining].handle == h;
}
void heap_remove(Handle* h) {
  if (!armed(h)) return;
  size_t i = h->remaining;
  Entry last = g_heap.back();
  g_heap.pop_back();
  if (last.handle != h) {
    place(i, last);
    sift_up(i);
    sift_down(last.handle->remaining);
  }
  h->remaining = kNotArmed;
}
Entry pop_min() {
  Entry e = g_heap[0];
  heap_remove(e.handle);
  return e;
}

}  // namespace

int64_t now_us() {
  if (g_virtual) return g_virtual_now;
  return int64_t(uv_hrtime() / 1000);
}
int64_t coarse_now_us() {
  if (g_virtual) return g_virtual_now;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

bool virtual_time() { return g_virtual; }
void set_virtual_time(bool on) {
  if (on && !g_virtual) g_virtual_now = int64_t(uv_hrtime() / 1000);
  g_virtual = on;
}
void advance_virtual(int64_t to) {
  if (to > g_virtual_now) g_virtual_now = to;
}

void timer_start(Handle* h, int64_t delay_us, int64_t period_us) {
  if (armed(h)) heap_remove(h);
  if (delay_us < 0) delay_us = 0;
  if (period_us > 0) h->result = make_int(period_us);
  heap_push({now_us() + delay_us, g_seq++, h});
}

void timer_settled(Handle* h) {
  if (is_timed(h->kind)) heap_remove(h);
}

int64_t next_deadline() { return g_heap.empty() ? -1 : g_heap[0].deadline; }
size_t active_timers() { return g_heap.size(); }

int fire_due(VM& vm) {
  int fired = 0;
  int64_t now = now_us();
  // Timers armed by the callbacks below wait for the next round.
  uint64_t horizon = g_seq;
  while (!g_heap.empty() && g_heap[0].deadline <= now && g_heap[0].seq < horizon) {
    Entry e = pop_min();
    Handle* h = e.handle;
    ++fired;
    if (settled(h)) continue;
    switch (h->kind) {
      case Kind::Sleep:
        complete(h, h->fn);
        break;
      case Kind::Schedule:
        queue_job(vm, h->fn, kNil, h, JobKind::Resolve);  // an error fails it
        break;
      case Kind::Interval: {
        queue_job(vm, h->fn, kNil, h, JobKind::Interval);
        int64_t next = e.deadline + int_val(h->result);
        heap_push({next < now ? now : next, g_seq++, h});
        break;
      }
      case Kind::Within: {
        // Cancel the input first (unless another waiter still needs it), so
        // the within's dependents see it cancelled; then fail with :timeout.
        h->flags |= kStarted;  // its input settling now is not the outcome
        if (is_handle(h->data)) release_input(as_handle(h->data));
        fail_with(h, make_error(":timeout"));
        break;
      }
      default:
        complete(h, kNil);
        break;
    }
  }
  return fired;
}

}  // namespace valk::aio
