// Time for the async runtime: a monotonic clock, or a virtual one for tests
// (VALK_VIRTUAL_TIME=1 or (aio/virtual-time)) that jumps to the next timer
// whenever the loop would otherwise wait. Timers live in one binary heap;
// in real time a single libuv timer is armed for the earliest deadline.
#pragma once

#include <cstddef>
#include <cstdint>

namespace valk {
struct VM;
}

namespace valk::aio {

struct Handle;

int64_t now_us();
// Cheap and coarse (a few ms): for bookkeeping such as handle ages.
int64_t coarse_now_us();
bool virtual_time();
void set_virtual_time(bool on);
// Moves the virtual clock forward (never backward).
void advance_virtual(int64_t to_us);

// A timed handle (sleep, schedule, interval, within) is in the timer heap
// while armed: its `remaining` field is its position there, and an
// interval keeps its period in `result`. No allocation per timer beyond the
// heap entry.
// The longest delay a timer takes (about 36,000 years): deadlines are
// clamped so that now + delay (and an interval's next tick) never overflows.
inline constexpr int64_t kMaxDelayUs = int64_t(1) << 60;
// Arms h's timer delay_us from now (period_us > 0 repeats).
void timer_start(Handle* h, int64_t delay_us, int64_t period_us = 0);
// Removes h's timer if it has one (called whenever a handle settles).
void timer_settled(Handle* h);
int64_t next_deadline();  // -1 when no timer is armed
size_t active_timers();
// Fires every timer whose deadline has passed; returns how many fired.
int fire_due(VM& vm);

}  // namespace valk::aio
