// Constructors of the combinator handles (docs/async.md#combinators). Each registers its
// inputs with wait_on; inputs already settled are seen at once, so a
// combinator of settled inputs settles during the call (its Lisp callbacks
// run when the caller drains the job queue: see return_draining).
#pragma once

#include "aio/handle.h"

namespace valk::aio {

Handle* then(VM& vm, Handle* in, Value f);
Handle* catch_(VM& vm, Handle* in, Value f);
Handle* finally(VM& vm, Handle* in, Value f);
Handle* adopt(VM& vm, Handle* in);
// (k outcome) once `in` settles, whatever the outcome; the handle adopts k's result.
Handle* resume(VM& vm, Handle* in, Value k);
Handle* all(VM& vm, Value inputs);          // inputs: a list of handles
Handle* all_settled(VM& vm, Value inputs);
Handle* race(VM& vm, Value inputs);         // non-empty
Handle* any(VM& vm, Value inputs);          // non-empty
Handle* sleep(VM& vm, int64_t ms, Value value);
Handle* never(VM& vm);
Handle* schedule(VM& vm, int64_t ms, Value f);
Handle* interval(VM& vm, int64_t ms, Value f);
Handle* within(VM& vm, Handle* in, int64_t ms);
Handle* scope(VM& vm, Value f, bool pass_scope);
Handle* bracket(VM& vm, Value acquire, Value release, Value use);
Handle* pmap(VM& vm, Value f, Value items, uint32_t limit);
void pmap_fill(VM& vm, Handle* h);

// What the timed kinds do (timers.cpp), for kind_ops (combinators.cpp).
extern const KindOps kSleepOps, kScheduleOps, kIntervalOps, kWithinOps;

}  // namespace valk::aio
