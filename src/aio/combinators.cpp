// Combinators (SPEC 2.3): how each kind of handle reacts when an input
// settles, and how it is cancelled.
#include "aio/combinators.h"

#include <gc/gc.h>

#include "aio/clock.h"
#include "core/proto.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

// Result slots of all / any / all-settled / pmap: slots[0] holds the count.
Value* slots_of(Handle* h) { return static_cast<Value*>(h->ext); }
Value* new_slots(size_t n) {
  auto* s = static_cast<Value*>(gc_alloc(sizeof(Value) * (n + 1)));
  s[0] = make_fix(int64_t(n));
  for (size_t i = 1; i <= n; ++i) s[i] = kNil;
  return s;
}
Value slots_list(Handle* h) {
  Value* s = slots_of(h);
  ListBuilder b;
  for (int64_t i = 1; i <= fix_val(s[0]); ++i) b.push(s[i]);
  return b.result();
}

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

// Releases every input of a multi-input combinator except `keep`.
void release_others(Handle* h, Handle* keep) {
  for (Value d = h->data; is_cons(d); d = cdr(d)) {
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

// Pmap state: the items not started yet and how many may run at once.
struct PmapState {
  Value items;      // remaining items
  uint32_t next;    // index of the next item
  uint32_t limit;
  uint32_t active;
};

Value release_of(Handle* bracket) { return static_cast<BracketState*>(bracket->ext)->release; }

// Calls f with arguments, as a job whose result `target` adopts.
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

}  // namespace

// ---- notification ------------------------------------------------------------------

void on_input_settled(VM& vm, Handle* h, uint32_t index, Handle* in) {
  switch (h->kind) {
    case Kind::Adopt:
      copy_outcome(h, in);
      return;
    case Kind::Then:
      if (index == 1) return copy_outcome(h, in);
      mark_handled(in);
      h->data = kNil;  // settled: no longer needed, and a long chain can be collected
      if (in->state == State::Completed) {
        h->state = State::Running;
        queue_job(vm, h->fn, cons(in->result, kNil), h, JobKind::Resolve);
      } else if (in->state == State::Failed) {
        fail_with(h, in->result);
      } else {
        cancel(h);
      }
      return;
    case Kind::Catch:
      if (index == 1) return copy_outcome(h, in);
      mark_handled(in);
      h->data = kNil;
      if (in->state == State::Failed) {
        h->state = State::Running;
        queue_job(vm, h->fn, cons(in->result, kNil), h, JobKind::Resolve);
      } else if (in->state == State::Completed) {
        complete(h, in->result);
      } else {
        cancel(h);
      }
      return;
    case Kind::Native: {
      auto* w = static_cast<NativeWatch*>(h->ext);
      mark_handled(in);
      complete(h, kNil);
      if (w->ctx) w->fn(w->ctx, in);
      return;
    }
    case Kind::Resume:
      if (index == 1) return copy_outcome(h, in);
      h->state = State::Running;
      queue_job(vm, h->fn, cons(outcome(in), kNil), h, JobKind::Resolve);
      return;
    case Kind::Finally:
      mark_handled(in);
      if (index == 2) return finish_after_cleanup(h, obj_val(in));
      if (!(h->flags & kStarted)) {
        h->flags |= kStarted;
        h->state = State::Running;
        queue_job(vm, h->fn, kNil, h, JobKind::Finally);
      }
      return;
    case Kind::Within:
      if (h->flags & kStarted) return;  // timing out: the timeout decides
      copy_outcome(h, in);
      return;
    case Kind::All: {
      Value* s = slots_of(h);
      if (in->state == State::Completed) {
        s[index + 1] = in->result;
        if (--h->remaining == 0) complete(h, slots_list(h));
        return;
      }
      mark_handled(in);
      if (in->state == State::Failed) {
        h->flags |= kDeciding;
        release_others(h, in);  // before the all settles
        fail_with(h, in->result);
      } else {
        cancel(h);
      }
      return;
    }
    case Kind::AllSettled: {
      Value* s = slots_of(h);
      mark_handled(in);
      s[index + 1] = in->state == State::Completed
                         ? plist2(":status", intern(":ok"), ":value", in->result)
                         : plist2(":status", intern(":error"), ":error", failure_as_error(in));
      if (--h->remaining == 0) complete(h, slots_list(h));
      return;
    }
    case Kind::Race:
      mark_handled(in);
      if (in->state == State::Cancelled) {
        // A cancelled input does not decide; all of them cancelled does.
        if (--h->remaining == 0) cancel(h);
        return;
      }
      h->flags |= kDeciding;
      release_others(h, in);
      if (in->state == State::Completed)
        complete(h, in->result);
      else
        fail_with(h, in->result);
      return;
    case Kind::Any: {
      mark_handled(in);
      if (in->state == State::Completed) {
        h->flags |= kDeciding;
        release_others(h, in);
        complete(h, in->result);
        return;
      }
      slots_of(h)[index + 1] = failure_as_error(in);
      if (--h->remaining == 0) fail_with(h, slots_list(h));
      return;
    }
    case Kind::Scope:
      // index 1: the running result of the scope's function.
      scope_result(vm, h, obj_val(in));
      return;
    case Kind::Bracket:
      if (index == 2) return finish_after_cleanup(h, obj_val(in));  // release done
      if (index == 0) {  // acquire settled
        mark_handled(in);
        if (in->state == State::Completed) {
          if (h->flags & kCancelling) {
            // Cancelled while acquiring: use never runs, but what was
            // acquired is still released.
            h->result = in->result;
            h->flags |= kStarted;
            queue_job(vm, release_of(h), cons(in->result, kNil), h, JobKind::Release);
            return;
          }
          h->state = State::Running;
          h->result = in->result;  // the resource, until the bracket settles
          Handle* u = call_async(vm, h, h->fn, cons(in->result, kNil));
          h->data = obj_val(u);
          wait_on(h, u, 1);
        } else if (in->state == State::Failed) {
          fail_with(h, in->result);
        } else {
          if (h->flags & kCancelling)
            cancel_settle(h);
          else
            cancel(h);
        }
        return;
      }
      if (index == 1 && !(h->flags & kStarted)) {  // use settled: release, once
        h->flags |= kStarted;
        queue_job(vm, release_of(h), cons(h->result, kNil), h, JobKind::Release);
      }
      return;
    case Kind::Pmap: {
      auto* st = static_cast<PmapState*>(h->ext);
      Value* results = reinterpret_cast<Value*>(st + 1);
      mark_handled(in);
      if (in->state == State::Completed) {
        results[index] = in->result;
        --st->active;
        if (--h->remaining == 0) {
          ListBuilder b;
          for (uint32_t i = 0; i < st->next; ++i) b.push(results[i]);
          complete(h, b.result());
          return;
        }
        pmap_fill(vm, h);
        return;
      }
      h->flags |= kDeciding;
      release_others(h, in);
      if (in->state == State::Failed)
        fail_with(h, in->result);
      else
        cancel(h);
      return;
    }
    default:
      return;
  }
}

bool on_cancel_requested(VM& vm, Handle* h) {
  switch (h->kind) {
    case Kind::Io:
      if (auto* ops = static_cast<IoOps*>(h->ext); ops && ops->cancel) {
        auto* cancel_fn = ops->cancel;
        ops->cancel = nullptr;  // once
        cancel_fn(ops->ctx);
      }
      return false;
    case Kind::Finally:
      // f runs exactly once, cancellation included; the handle settles
      // (cancelled) after it has run.
      if (h->flags & kStarted) return true;
      h->flags |= kStarted;
      queue_job(vm, h->fn, kNil, h, JobKind::Finally);
      return true;
    case Kind::Bracket:
      // Once use has started, the bracket settles after release has run.
      if (h->flags & kStarted) return true;
      if (is_handle(h->data) && !settled(as_handle(h->data))) return true;
      if (h->state == State::Running && is_handle(h->data)) {
        h->flags |= kStarted;
        queue_job(vm, release_of(h), cons(h->result, kNil), h, JobKind::Release);
        return true;
      }
      return false;
    default:
      return false;
  }
}

// ---- constructors ----------------------------------------------------------------------

Handle* then(VM& vm, Handle* in, Value f) {
  Handle* h = new_handle(vm, Kind::Then);
  h->fn = f;
  h->data = obj_val(in);
  wait_on(h, in, 0);
  return h;
}

Handle* catch_(VM& vm, Handle* in, Value f) {
  Handle* h = new_handle(vm, Kind::Catch);
  h->fn = f;
  h->data = obj_val(in);
  wait_on(h, in, 0);
  return h;
}

Handle* finally(VM& vm, Handle* in, Value f) {
  Handle* h = new_handle(vm, Kind::Finally);
  h->fn = f;
  h->data = obj_val(in);
  wait_on(h, in, 0);
  return h;
}

Handle* resume(VM& vm, Handle* in, Value k) {
  Handle* h = new_handle(vm, Kind::Resume);
  h->fn = k;
  h->data = obj_val(in);
  wait_on(h, in, 0);
  return h;
}

Handle* watch(VM& vm, Handle* in, void (*fn)(void*, Handle*), void* ctx, NativeWatch** out) {
  Handle* h = new_handle(vm, Kind::Native);
  auto* w = static_cast<NativeWatch*>(gc_alloc(sizeof(NativeWatch)));
  w->fn = fn;
  w->ctx = ctx;
  h->ext = w;
  h->data = obj_val(in);
  if (out) *out = w;
  wait_on(h, in, 0);
  return h;
}

Handle* adopt(VM& vm, Handle* in) {
  Handle* h = new_handle(vm, Kind::Adopt);
  h->data = obj_val(in);
  wait_on(h, in, 1);
  return h;
}

namespace {
Handle* multi(VM& vm, Kind kind, Value inputs) {
  Handle* h = new_handle(vm, kind);
  size_t n = list_length(inputs);
  h->ext = new_slots(n);
  h->remaining = uint32_t(n);
  // Our own copy of the list: the caller's may be changed or shared.
  ListBuilder b;
  for (Value l = inputs; is_cons(l); l = cdr(l)) b.push(car(l));
  h->data = b.result();
  if (n == 0) {
    if (kind == Kind::All || kind == Kind::AllSettled) complete(h, kNil);
    return h;
  }
  h->state = State::Running;
  uint32_t i = 0;
  for (Value l = h->data; is_cons(l); l = cdr(l), ++i) {
    if (settled(h)) {
      mark_handled(as_handle(car(l)));  // decided early: its failure is not lost
      continue;
    }
    wait_on(h, as_handle(car(l)), i);
  }
  return h;
}
}  // namespace

Handle* all(VM& vm, Value inputs) { return multi(vm, Kind::All, inputs); }
Handle* all_settled(VM& vm, Value inputs) { return multi(vm, Kind::AllSettled, inputs); }
Handle* race(VM& vm, Value inputs) { return multi(vm, Kind::Race, inputs); }
Handle* any(VM& vm, Value inputs) { return multi(vm, Kind::Any, inputs); }

Handle* sleep(VM& vm, int64_t ms, Value value) {
  Handle* h = new_handle(vm, Kind::Sleep, State::Running);
  h->fn = value;
  timer_start(h, ms * 1000);
  return h;
}

Handle* never(VM& vm) { return new_handle(vm, Kind::Never, State::Running); }

Handle* schedule(VM& vm, int64_t ms, Value f) {
  Handle* h = new_handle(vm, Kind::Schedule, State::Running);
  h->fn = f;
  timer_start(h, ms * 1000);
  return h;
}

Handle* interval(VM& vm, int64_t ms, Value f) {
  Handle* h = new_handle(vm, Kind::Interval, State::Running);
  h->fn = f;
  int64_t us = ms * 1000;
  timer_start(h, us, us > 0 ? us : 1);
  return h;
}

Handle* within(VM& vm, Handle* in, int64_t ms) {
  Handle* h = new_handle(vm, Kind::Within, State::Running);
  h->data = obj_val(in);
  wait_on(h, in, 0);
  if (!settled(h)) timer_start(h, ms * 1000);
  return h;
}

Handle* scope(VM& vm, Value f, bool pass_scope) {
  Handle* h = new_handle(vm, Kind::Scope, State::Running);
  queue_job(vm, f, pass_scope ? cons(obj_val(h), kNil) : kNil, h, JobKind::Resolve);
  return h;
}

Handle* bracket(VM& vm, Value acquire, Value release, Value use) {
  Handle* h = new_handle(vm, Kind::Bracket);
  h->fn = use;
  auto* st = static_cast<BracketState*>(gc_alloc(sizeof(BracketState)));
  st->release = release;
  h->ext = st;
  Handle* acq = is_handle(acquire) ? as_handle(acquire) : call_async(vm, h, acquire, kNil);
  h->data = obj_val(acq);
  wait_on(h, acq, 0);
  return h;
}

Handle* pmap(VM& vm, Value f, Value items, uint32_t limit) {
  Handle* h = new_handle(vm, Kind::Pmap, State::Running);
  size_t n = list_length(items);
  auto* st = static_cast<PmapState*>(gc_alloc(sizeof(PmapState) + sizeof(Value) * (n + 1)));
  st->items = items;
  st->next = 0;
  st->limit = limit ? limit : 1;
  st->active = 0;
  h->ext = st;
  h->fn = f;
  h->remaining = uint32_t(n);
  if (n == 0) {
    complete(h, kNil);
    return h;
  }
  pmap_fill(vm, h);
  return h;
}

void pmap_fill(VM& vm, Handle* h) {
  auto* st = static_cast<PmapState*>(h->ext);
  while (!settled(h) && st->active < st->limit && is_cons(st->items)) {
    Value item = car(st->items);
    st->items = cdr(st->items);
    uint32_t i = st->next++;
    ++st->active;
    Handle* u = call_async(vm, h, h->fn, cons(item, kNil));
    h->data = cons(obj_val(u), h->data);
    wait_on(h, u, i);
  }
}

}  // namespace valk::aio
