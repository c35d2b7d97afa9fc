// Copies the runtime's own counters (handles, timers, loop) into the
// metrics registry. Called before every export, so the hot paths keep
// plain counters of their own and pay nothing for metrics.
#pragma once

namespace valk::aio {
void sync_runtime_metrics();
}
