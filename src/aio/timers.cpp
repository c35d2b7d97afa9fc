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
// Traced: the heap holds the only pointers to timers of unreferenced handles.
std::vector<Timer*, traceable_allocator<Timer*>> g_heap;

bool before(const Timer* a, const Timer* b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}
void place(size_t i, Timer* t) {
  g_heap[i] = t;
  t->index = uint32_t(i);
}
void sift_up(size_t i) {
  Timer* t = g_heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before(t, g_heap[p])) break;
    place(i, g_heap[p]);
    i = p;
  }
  place(i, t);
}
void sift_down(size_t i) {
  Timer* t = g_heap[i];
  size_t n = g_heap.size();
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(g_heap[c + 1], g_heap[c])) ++c;
    if (!before(g_heap[c], t)) break;
    place(i, g_heap[c]);
    i = c;
  }
  place(i, t);
}
void heap_push(Timer* t) {
  g_heap.push_back(t);
  sift_up(g_heap.size() - 1);
}
void heap_remove(Timer* t) {
  size_t i = t->index;
  if (i >= g_heap.size() || g_heap[i] != t) return;
  Timer* last = g_heap.back();
  g_heap.pop_back();
  if (last != t) {
    place(i, last);
    sift_up(i);
    sift_down(last->index);
  }
  t->index = UINT32_MAX;
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
  if (!h->timer) {
    h->timer = static_cast<Timer*>(gc_alloc(sizeof(Timer)));
    h->timer->handle = h;
  } else {
    heap_remove(h->timer);
  }
  if (delay_us < 0) delay_us = 0;
  h->timer->deadline = now_us() + delay_us;
  h->timer->period = period_us;
  h->timer->seq = g_seq++;
  heap_push(h->timer);
}

void timer_settled(Handle* h) {
  if (h->timer) heap_remove(h->timer);
}

int64_t next_deadline() { return g_heap.empty() ? -1 : g_heap[0]->deadline; }
size_t active_timers() { return g_heap.size(); }

int fire_due(VM& vm) {
  int fired = 0;
  int64_t now = now_us();
  // Timers armed by the callbacks below wait for the next round.
  uint64_t horizon = g_seq;
  while (!g_heap.empty() && g_heap[0]->deadline <= now && g_heap[0]->seq < horizon) {
    Timer* t = g_heap[0];
    heap_remove(t);
    Handle* h = t->handle;
    ++fired;
    if (settled(h)) continue;
    switch (h->kind) {
      case Kind::Sleep:
        complete(h, h->fn);
        break;
      case Kind::Schedule:
        queue_job(vm, h->fn, kNil, h, JobKind::Schedule);
        break;
      case Kind::Interval:
        queue_job(vm, h->fn, kNil, h, JobKind::Interval);
        t->deadline += t->period;
        if (t->deadline < now) t->deadline = now;
        t->seq = g_seq++;
        heap_push(t);
        break;
      case Kind::Within: {
        // Cancel the input first (unless another waiter still needs it), so
        // the within's dependents see it cancelled; then fail with :timeout.
        h->flags |= kStarted;  // its input settling now is not the outcome
        if (is_handle(h->data)) {
          Handle* in = as_handle(h->data);
          if (!settled(in)) {
            if (in->dependents > 0) --in->dependents;
            if (in->dependents == 0) cancel(in);
          }
        }
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
