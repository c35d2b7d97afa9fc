// Synchronisation between tasks (docs/async.md#synchronisation-and-shielding):
// semaphores (and locks, semaphores of one), events, and shields.
//
// Waiters are pending handles in a FIFO, as for channels (channel.h): a
// permit or an event's value goes only to a waiter still pending, and
// settles it in the same step, so a cancelled waiter is skipped and never
// consumes a permit.
#pragma once

#include <cstdint>

#include "aio/handle.h"
#include "core/gc.h"
#include "core/value.h"

namespace valk::aio {

struct Semaphore {
  Opaque base;  // class "semaphore"
  int64_t id = 0;
  int64_t permits = 0;  // free now
  int64_t max = 0;      // the count it was made with
  bool lock = false;    // made by aio/lock (printed so)
  TracedDeque<Handle*> waiters;
  size_t purge_at = 16;
};

struct Event {
  Opaque base;  // class "event"
  int64_t id = 0;
  bool set = false;
  Value value = kNil;
  TracedVector<Handle*> waiters;
  size_t purge_at = 64;
};

Semaphore* new_semaphore(int64_t n, bool lock);
bool is_semaphore(Value v);
Semaphore* as_semaphore(Value v);
// Completes (with the semaphore) once a permit is held: at once if one is free.
Handle* acquire(VM& vm, Semaphore* s);
// Gives a permit back, to the oldest live waiter if any. False if no
// permit was held (more releases than acquires).
bool release(Semaphore* s);

Event* new_event();
bool is_event(Value v);
Event* as_event(Value v);
// The first set wins (true); later ones change nothing (false).
bool event_set(Event* e, Value v);
Handle* event_wait(VM& vm, Event* e);

// (aio/shield x): x a handle, or a function (called as a job, outside any
// scope) returning a handle or a value. The shield settles as x does;
// cancelling the shield does not reach x: the shield settles cancelled
// once x has ended.
Handle* shield(VM& vm, Value x);
extern const KindOps kShieldOps;

}  // namespace valk::aio
