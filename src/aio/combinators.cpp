// Combinators (docs/async.md#combinators): each kind's constructor, what it
// does when an input settles, and how it is cancelled. The table at the end
// (kind_ops) is the only place that dispatches on the kind; timed kinds
// live in timers.cpp.
#include "aio/combinators.h"

#include <gc/gc.h>

#include "aio/clock.h"
#include "aio/sync.h"
#include "core/proto.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

// ---- shared helpers ----------------------------------------------------------------

// Takes the outcome of `in` (used by adopting kinds).
void copy_outcome(Handle* h, Handle* in) {
  mark_handled(in);
  switch (in->state) {
    case State::Completed: complete(h, in->result); break;
    case State::Failed: fail_with(h, in->result); break;
    case State::Cancelled: cancel(h); break;
    default: break;
  }
}

// Releases every handle of a list except `keep`.
void release_others(Value handles, Handle* keep) {
  for (Value d = handles; is_cons(d); d = cdr(d)) {
    Handle* in = as_handle(car(d));
    if (in != keep) release_input(in);
  }
}

Value plist2(const char* k1, Value v1, const char* k2, Value v2) {
  ListBuilder b;
  b.push(intern(k1));
  b.push(v1);
  b.push(intern(k2));
  b.push(v2);
  return b.result();
}

// Calls f with arguments, as a job whose result the returned handle adopts.
Handle* call_async(VM& vm, Handle* owner, Value f, Value args) {
  // Started on the owner's behalf, so in the owner's scope (this may run
  // while a timer or another handle is being settled, outside any scope).
  Handle* saved = current_scope();
  set_current_scope(owner->scope);
  Handle* u = new_handle(vm, Kind::Adopt);
  set_current_scope(saved);
  queue_job(vm, f, args, u, JobKind::Resolve);
  return u;
}

void no_inputs(Handle*, void (*)(Handle*, void*), void*) {}
bool settle_now(VM&, Handle*) { return false; }
void ignore_input(VM&, Handle*, uint32_t, Handle*) {}

// ---- then / catch / resume / adopt -------------------------------------------------

void step_inputs(Handle* h, void (*fn)(Handle*, void*), void* ctx) {
  if (h->k.step.input) fn(h->k.step.input, ctx);
}

void then_input(VM& vm, Handle* h, uint32_t index, Handle* in) {
  if (index == 1) return copy_outcome(h, in);
  mark_handled(in);
  h->k.step.input = nullptr;  // settled: not needed, and a long chain can be collected
  if (in->state == State::Completed) {
    h->state = State::Running;
    queue_job(vm, h->k.step.fn, cons(in->result, kNil), h, JobKind::Resolve);
  } else if (in->state == State::Failed) {
    fail_with(h, in->result);
  } else {
    cancel(h);
  }
}

void catch_input(VM& vm, Handle* h, uint32_t index, Handle* in) {
  if (index == 1) return copy_outcome(h, in);
  mark_handled(in);
  h->k.step.input = nullptr;
  if (in->state == State::Failed) {
    h->state = State::Running;
    queue_job(vm, h->k.step.fn, cons(in->result, kNil), h, JobKind::Resolve);
  } else if (in->state == State::Completed) {
    complete(h, in->result);
  } else {
    cancel(h);
  }
}

void resume_input(VM& vm, Handle* h, uint32_t index, Handle* in) {
  if (index == 1) return copy_outcome(h, in);
  h->k.step.input = nullptr;
  h->state = State::Running;
  queue_job(vm, h->k.step.fn, cons(outcome(in), kNil), h, JobKind::Resolve);
}

// Adopt, schedule and external handles only ever follow another handle.
void follow_input(VM&, Handle* h, uint32_t, Handle* in) { copy_outcome(h, in); }

Handle* step(VM& vm, Kind kind, Handle* in, Value f) {
  Handle* h = new_handle(vm, kind);
  h->k.step.input = in;
  h->k.step.fn = f;
  wait_on(h, in, 0);
  return h;
}

// ---- finally -----------------------------------------------------------------------

void finally_input(VM& vm, Handle* h, uint32_t index, Handle* in) {
  mark_handled(in);
  if (index == 2) return finish_after_cleanup(h, obj_val(in));  // an async cleanup ended
  if (!(h->flags & kStarted)) {
    h->flags |= kStarted;
    h->state = State::Running;
    queue_job(vm, h->k.step.fn, kNil, h, JobKind::Finally);
  }
}

bool finally_cancel(VM& vm, Handle* h) {
  // f runs exactly once, cancellation included; the handle settles
  // (cancelled) after it has run.
  if (h->flags & kStarted) return true;
  h->flags |= kStarted;
  queue_job(vm, h->k.step.fn, kNil, h, JobKind::Finally);
  return true;
}

// ---- native and io -----------------------------------------------------------------

void native_inputs(Handle* h, void (*fn)(Handle*, void*), void* ctx) {
  if (h->k.native.input) fn(h->k.native.input, ctx);
}

void native_input(VM&, Handle* h, uint32_t, Handle* in) {
  NativeWatch* w = h->k.native.watch;
  mark_handled(in);
  h->k.native.input = nullptr;
  complete(h, kNil);
  if (w->ctx) w->fn(w->ctx, in);
}

bool io_cancel(VM&, Handle* h) {
  if (auto* cancel_fn = h->k.io.cancel) {
    h->k.io.cancel = nullptr;  // once
    cancel_fn(h->k.io.ctx);
  }
  return false;
}

// ---- all / all-settled / race / any --------------------------------------------------

void multi_inputs(Handle* h, void (*fn)(Handle*, void*), void* ctx) {
  for (Value d = h->k.multi.inputs; is_cons(d); d = cdr(d)) fn(as_handle(car(d)), ctx);
}

Value slots_list(Handle* h) {
  ListBuilder b;
  for (Value d = h->k.multi.inputs, i = 0; is_cons(d); d = cdr(d), ++i) b.push(h->k.multi.slots[i]);
  return b.result();
}

void all_input(VM&, Handle* h, uint32_t index, Handle* in) {
  if (in->state == State::Completed) {
    h->k.multi.slots[index] = in->result;
    if (--h->k.multi.remaining == 0) complete(h, slots_list(h));
    return;
  }
  mark_handled(in);
  if (in->state == State::Failed) {
    h->flags |= kDeciding;
    release_others(h->k.multi.inputs, in);  // before the all settles
    fail_with(h, in->result);
  } else {
    cancel(h);
  }
}

void all_settled_input(VM&, Handle* h, uint32_t index, Handle* in) {
  mark_handled(in);
  h->k.multi.slots[index] = in->state == State::Completed
                                ? plist2(":status", intern(":ok"), ":value", in->result)
                                : plist2(":status", intern(":error"), ":error", failure_as_error(in));
  if (--h->k.multi.remaining == 0) complete(h, slots_list(h));
}

void race_input(VM&, Handle* h, uint32_t, Handle* in) {
  mark_handled(in);
  if (in->state == State::Cancelled) {
    // A cancelled input does not decide; all of them cancelled does.
    if (--h->k.multi.remaining == 0) cancel(h);
    return;
  }
  h->flags |= kDeciding;
  release_others(h->k.multi.inputs, in);
  if (in->state == State::Completed)
    complete(h, in->result);
  else
    fail_with(h, in->result);
}

void any_input(VM&, Handle* h, uint32_t index, Handle* in) {
  mark_handled(in);
  if (in->state == State::Completed) {
    h->flags |= kDeciding;
    release_others(h->k.multi.inputs, in);
    complete(h, in->result);
    return;
  }
  // The failure values as they are (what aio/catch would be handed), in
  // input order; a cancelled input contributes a "cancelled" error.
  h->k.multi.slots[index] = in->state == State::Failed ? in->result : failure_as_error(in);
  if (--h->k.multi.remaining == 0) fail_with(h, slots_list(h));
}

Handle* multi(VM& vm, Kind kind, Value inputs) {
  Handle* h = new_handle(vm, kind);
  size_t n = list_length(inputs);
  h->k.multi.slots = static_cast<Value*>(gc_alloc(sizeof(Value) * (n ? n : 1)));
  for (size_t i = 0; i < n; ++i) h->k.multi.slots[i] = kNil;
  h->k.multi.remaining = uint32_t(n);
  // Our own copy of the list: the caller's may be changed or shared.
  ListBuilder b;
  for (Value l = inputs; is_cons(l); l = cdr(l)) b.push(car(l));
  h->k.multi.inputs = b.result();
  if (n == 0) {
    if (kind == Kind::All || kind == Kind::AllSettled) complete(h, kNil);
    return h;
  }
  h->state = State::Running;
  uint32_t i = 0;
  for (Value l = h->k.multi.inputs; is_cons(l); l = cdr(l), ++i) {
    if (settled(h)) {
      mark_handled(as_handle(car(l)));  // decided early: its failure is not lost
      continue;
    }
    wait_on(h, as_handle(car(l)), i);
  }
  return h;
}

// ---- scope -------------------------------------------------------------------------

void scope_inputs(Handle* h, void (*fn)(Handle*, void*), void* ctx) {
  for (Handle* c = h->k.scope.first_child; c; c = c->sib_next) fn(c, ctx);
}

// index 1: the running result of the scope's function.
void scope_input(VM& vm, Handle* h, uint32_t, Handle* in) { scope_result(vm, h, obj_val(in)); }

// ---- bracket -----------------------------------------------------------------------

void bracket_inputs(Handle* h, void (*fn)(Handle*, void*), void* ctx) {
  Handle* in = h->k.bracket->use ? h->k.bracket->use : h->k.bracket->acquire;
  if (in) fn(in, ctx);
}

void bracket_release(VM& vm, Handle* h) {
  h->flags |= kStarted;
  queue_job(vm, h->k.bracket->release, cons(h->k.bracket->resource, kNil), h, JobKind::Release);
}

void bracket_input(VM& vm, Handle* h, uint32_t index, Handle* in) {
  if (index == 2) return finish_after_cleanup(h, obj_val(in));  // release done
  if (index == 1) {  // use settled: release, once
    if (!(h->flags & kStarted)) bracket_release(vm, h);
    return;
  }
  // index 0: acquire settled
  mark_handled(in);
  if (in->state == State::Completed) {
    h->k.bracket->resource = in->result;
    if (h->flags & kCancelling) {
      // Cancelled while acquiring: use never runs, but what was acquired
      // is still released.
      bracket_release(vm, h);
      return;
    }
    h->state = State::Running;
    Handle* u = call_async(vm, h, h->k.bracket->use_fn, cons(in->result, kNil));
    h->k.bracket->use = u;
    wait_on(h, u, 1);
  } else if (in->state == State::Failed) {
    fail_with(h, in->result);
  } else if (h->flags & kCancelling) {
    cancel_settle(h);
  } else {
    cancel(h);
  }
}

bool bracket_cancel(VM& vm, Handle* h) {
  // Once use has started, the bracket settles after release has run.
  if (h->flags & kStarted) return true;
  Handle* waiting = h->k.bracket->use ? h->k.bracket->use : h->k.bracket->acquire;
  if (waiting && !settled(waiting)) return true;  // its outcome decides (input_settled)
  if (h->k.bracket->use) {
    bracket_release(vm, h);
    return true;
  }
  return false;
}

// ---- parallel-map --------------------------------------------------------------------

void pmap_inputs(Handle* h, void (*fn)(Handle*, void*), void* ctx) {
  for (Value d = h->k.pmap->started; is_cons(d); d = cdr(d)) fn(as_handle(car(d)), ctx);
}

void pmap_input(VM& vm, Handle* h, uint32_t index, Handle* in) {
  PmapState& st = *h->k.pmap;
  mark_handled(in);
  if (in->state == State::Completed) {
    st.results[index] = in->result;
    --st.active;
    if (--st.remaining == 0) {
      ListBuilder b;
      for (uint32_t i = 0; i < st.next; ++i) b.push(st.results[i]);
      complete(h, b.result());
      return;
    }
    pmap_fill(vm, h);
    return;
  }
  h->flags |= kDeciding;
  release_others(st.started, in);
  if (in->state == State::Failed)
    fail_with(h, in->result);
  else
    cancel(h);
}

}  // namespace

// ---- the table -------------------------------------------------------------------------

const KindOps& kind_ops(Kind k) {
  static const KindOps kValue{"value", ignore_input, settle_now, no_inputs};
  static const KindOps kThen{"then", then_input, settle_now, step_inputs};
  static const KindOps kCatch{"catch", catch_input, settle_now, step_inputs};
  static const KindOps kFinally{"finally", finally_input, finally_cancel, step_inputs};
  static const KindOps kAdopt{"adopt", follow_input, settle_now, no_inputs};
  static const KindOps kAll{"all", all_input, settle_now, multi_inputs};
  static const KindOps kAllSettled{"all-settled", all_settled_input, settle_now, multi_inputs};
  static const KindOps kRace{"race", race_input, settle_now, multi_inputs};
  static const KindOps kAny{"any", any_input, settle_now, multi_inputs};
  static const KindOps kNever{"never", ignore_input, settle_now, no_inputs};
  static const KindOps kScope{"scope", scope_input, settle_now, scope_inputs};
  static const KindOps kBracket{"bracket", bracket_input, bracket_cancel, bracket_inputs};
  static const KindOps kPmap{"parallel-map", pmap_input, settle_now, pmap_inputs};
  static const KindOps kResume{"await", resume_input, settle_now, step_inputs};
  static const KindOps kExternal{"external", follow_input, settle_now, no_inputs};
  static const KindOps kNative{"native", native_input, settle_now, native_inputs};
  static const KindOps kIo{"io", ignore_input, io_cancel, no_inputs};
  switch (k) {
    case Kind::Value: return kValue;
    case Kind::Then: return kThen;
    case Kind::Catch: return kCatch;
    case Kind::Finally: return kFinally;
    case Kind::Adopt: return kAdopt;
    case Kind::All: return kAll;
    case Kind::AllSettled: return kAllSettled;
    case Kind::Race: return kRace;
    case Kind::Any: return kAny;
    case Kind::Sleep: return kSleepOps;
    case Kind::Never: return kNever;
    case Kind::Interval: return kIntervalOps;
    case Kind::Schedule: return kScheduleOps;
    case Kind::Within: return kWithinOps;
    case Kind::Scope: return kScope;
    case Kind::Bracket: return kBracket;
    case Kind::Pmap: return kPmap;
    case Kind::Resume: return kResume;
    case Kind::External: return kExternal;
    case Kind::Native: return kNative;
    case Kind::Io: return kIo;
    case Kind::Shield: return kShieldOps;
  }
  return kValue;
}

// ---- constructors ----------------------------------------------------------------------

Handle* then(VM& vm, Handle* in, Value f) { return step(vm, Kind::Then, in, f); }
Handle* catch_(VM& vm, Handle* in, Value f) { return step(vm, Kind::Catch, in, f); }
Handle* finally(VM& vm, Handle* in, Value f) { return step(vm, Kind::Finally, in, f); }
Handle* resume(VM& vm, Handle* in, Value k) { return step(vm, Kind::Resume, in, k); }

Handle* watch(VM& vm, Handle* in, void (*fn)(void*, Handle*), void* ctx, NativeWatch** out) {
  Handle* h = new_handle(vm, Kind::Native);
  auto* w = static_cast<NativeWatch*>(gc_alloc(sizeof(NativeWatch)));
  w->fn = fn;
  w->ctx = ctx;
  h->k.native.watch = w;
  h->k.native.input = in;
  if (out) *out = w;
  wait_on(h, in, 0);
  return h;
}

Handle* adopt(VM& vm, Handle* in) {
  Handle* h = new_handle(vm, Kind::Adopt);
  h->k.step.follows = in;
  wait_on(h, in, 1);
  return h;
}

Handle* all(VM& vm, Value inputs) { return multi(vm, Kind::All, inputs); }
Handle* all_settled(VM& vm, Value inputs) { return multi(vm, Kind::AllSettled, inputs); }
Handle* race(VM& vm, Value inputs) { return multi(vm, Kind::Race, inputs); }
Handle* any(VM& vm, Value inputs) { return multi(vm, Kind::Any, inputs); }

Handle* never(VM& vm) { return new_handle(vm, Kind::Never, State::Running); }

Handle* scope(VM& vm, Value f, bool pass_scope) {
  Handle* h = new_handle(vm, Kind::Scope, State::Running);
  h->k.scope.fn = f;
  queue_job(vm, f, pass_scope ? cons(obj_val(h), kNil) : kNil, h, JobKind::Resolve);
  return h;
}

Handle* bracket(VM& vm, Value acquire, Value release, Value use) {
  Handle* h = new_handle(vm, Kind::Bracket);
  h->k.bracket = static_cast<BracketState*>(gc_alloc(sizeof(BracketState)));
  h->k.bracket->use = nullptr;
  h->k.bracket->use_fn = use;
  h->k.bracket->release = release;
  h->k.bracket->resource = kNil;
  Handle* acq = is_handle(acquire) ? as_handle(acquire) : call_async(vm, h, acquire, kNil);
  h->k.bracket->acquire = acq;
  wait_on(h, acq, 0);
  return h;
}

Handle* pmap(VM& vm, Value f, Value items, uint32_t limit) {
  Handle* h = new_handle(vm, Kind::Pmap, State::Running);
  size_t n = list_length(items);
  h->k.pmap = static_cast<PmapState*>(gc_alloc(sizeof(PmapState)));
  PmapState& st = *h->k.pmap;
  st.fn = f;
  st.items = items;
  st.started = kNil;
  st.results = static_cast<Value*>(gc_alloc(sizeof(Value) * (n + 1)));
  st.next = 0;
  st.limit = limit ? limit : 1;
  st.active = 0;
  st.remaining = uint32_t(n);
  if (n == 0) {
    complete(h, kNil);
    return h;
  }
  pmap_fill(vm, h);
  return h;
}

void pmap_fill(VM& vm, Handle* h) {
  PmapState& st = *h->k.pmap;
  while (!settled(h) && st.active < st.limit && is_cons(st.items)) {
    Value item = car(st.items);
    st.items = cdr(st.items);
    uint32_t i = st.next++;
    ++st.active;
    Handle* u = call_async(vm, h, st.fn, cons(item, kNil));
    st.started = cons(obj_val(u), st.started);
    wait_on(h, u, i);
  }
}

}  // namespace valk::aio
