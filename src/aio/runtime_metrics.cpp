#include "aio/runtime_metrics.h"

#include "aio/clock.h"
#include "aio/handle.h"
#include "aio/loop.h"
#include "aio/metrics.h"

namespace valk::aio {

void sync_runtime_metrics() {
  metrics::Standard& m = metrics::standard();
  // Counters only go up: add what happened since the last export.
  static Counts last{};
  static LoopStats last_loop{};
  const Counts& c = counts();
  m.handles_created.add(c.created - last.created);
  m.handles_completed.add(c.completed - last.completed);
  m.handles_failed.add(c.failed - last.failed);
  m.handles_cancelled.add(c.cancelled - last.cancelled);
  last = c;
  m.handles_pending.set(int64_t(c.pending));
  m.timers_active.set(int64_t(active_timers()));
  const LoopStats& l = loop_stats();
  m.loop_iterations.add(l.iterations - last_loop.iterations);
  m.loop_busy_seconds.add_float(double(l.busy_us - last_loop.busy_us) / 1e6);
  last_loop = l;
}

}  // namespace valk::aio
