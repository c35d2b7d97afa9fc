// Semaphores, events and shields (see sync.h).
#include "aio/sync.h"

#include <algorithm>
#include <string>

#include "core/runtime.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

const OpaqueClass kSemaphoreClass = {"semaphore", [](std::string& out, const Opaque* o) {
                                       auto* s = reinterpret_cast<const Semaphore*>(o->payload);
                                       out += s->lock ? "<lock " : "<semaphore ";
                                       out += std::to_string(s->id) + " " + std::to_string(s->permits) + "/" +
                                              std::to_string(s->max) + ">";
                                     }};
const OpaqueClass kEventClass = {"event", [](std::string& out, const Opaque* o) {
                                   auto* e = reinterpret_cast<const Event*>(o->payload);
                                   out += "<event " + std::to_string(e->id) + (e->set ? " set>" : " unset>");
                                 }};

bool live(const Handle* h) { return !settled(h) && !(h->flags & kCancelling); }

Handle* new_wait(VM& vm) {
  Handle* h = new_handle(vm, Kind::Io, State::Running);
  h->k.io = {nullptr, nullptr};  // a cancelled waiter is skipped: nothing to undo
  return h;
}

// ---- shield ------------------------------------------------------------------------
// The shield (kind Shield) does not wait on its input through wait_on, so
// cancelling it reaches nothing upstream; a native watch (outside any
// scope) on the input settles it instead. k.native.input is the input.

bool shield_cancel(VM&, Handle* s) {
  Handle* in = s->k.native.input;
  return in && !settled(in);  // deferred until the input ends (shield_done)
}

void shield_inputs(Handle*, void (*)(Handle*, void*), void*) {}
void shield_ignore(VM&, Handle*, uint32_t, Handle*) {}

void shield_done(void* ctx, Handle* in) {
  auto* s = static_cast<Handle*>(ctx);
  s->k.native.input = nullptr;
  if (settled(s)) return;
  if (s->flags & kCancelling) {
    cancel_settle(s);  // the deferred cancellation, now that the work has ended
    return;
  }
  switch (in->state) {
    case State::Completed: complete(s, in->result); break;
    case State::Failed: fail_with(s, in->result); break;
    default: cancel(s); break;  // (in is settled: the shield settles at once)
  }
}

// Takes h out of its scope's children, so that the scope's end does not
// cancel it (the shield's owner decides). As handle.cpp's scope_unlink.
void leave_scope(Handle* h) {
  Handle* sc = h->scope;
  if (!sc) return;
  if (h->sib_prev)
    h->sib_prev->sib_next = h->sib_next;
  else if (sc->kind == Kind::Scope && sc->k.scope.first_child == h)
    sc->k.scope.first_child = h->sib_next;
  if (h->sib_next) h->sib_next->sib_prev = h->sib_prev;
  h->sib_prev = h->sib_next = nullptr;
  h->scope = nullptr;
}

}  // namespace

const KindOps kShieldOps{"shield", shield_ignore, shield_cancel, shield_inputs};

// ---- semaphores --------------------------------------------------------------------

Semaphore* new_semaphore(int64_t n, bool lock) {
  static int64_t next_id = 0;
  Semaphore* s = gc_new_finalized<Semaphore>();
  s->base.h = {Type::Opaque, 0, 0, 0};
  s->base.cls = &kSemaphoreClass;
  s->base.payload = s;
  s->id = ++next_id;
  s->permits = s->max = n;
  s->lock = lock;
  return s;
}
bool is_semaphore(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kSemaphoreClass;
}
Semaphore* as_semaphore(Value v) { return static_cast<Semaphore*>(reinterpret_cast<Opaque*>(v)->payload); }

Handle* acquire(VM& vm, Semaphore* s) {
  Handle* h = new_wait(vm);
  // FIFO: a free permit goes to a newcomer only if nobody waits (a waiter
  // exists only while no permit is free, so this is the same test).
  if (s->permits > 0) {
    --s->permits;
    complete(h, obj_val(s));
    return h;
  }
  if (s->waiters.size() >= s->purge_at) {
    s->waiters.erase(std::remove_if(s->waiters.begin(), s->waiters.end(), [](Handle* w) { return !live(w); }),
                     s->waiters.end());
    s->purge_at = std::max<size_t>(16, s->waiters.size() * 2);
  }
  s->waiters.push_back(h);
  return h;
}

bool release(Semaphore* s) {
  while (!s->waiters.empty()) {
    Handle* w = s->waiters.front();
    s->waiters.pop_front();
    if (live(w)) {
      complete(w, obj_val(s));  // the permit passes to w (settled in this step)
      return true;
    }
  }
  if (s->permits >= s->max) return false;
  ++s->permits;
  return true;
}

// ---- events ------------------------------------------------------------------------

Event* new_event() {
  static int64_t next_id = 0;
  Event* e = gc_new_finalized<Event>();
  e->base.h = {Type::Opaque, 0, 0, 0};
  e->base.cls = &kEventClass;
  e->base.payload = e;
  e->id = ++next_id;
  return e;
}
bool is_event(Value v) { return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kEventClass; }
Event* as_event(Value v) { return static_cast<Event*>(reinterpret_cast<Opaque*>(v)->payload); }

bool event_set(Event* e, Value v) {
  if (e->set) return false;
  e->set = true;
  e->value = v;
  TracedVector<Handle*> ws;
  ws.swap(e->waiters);
  for (Handle* w : ws)
    if (live(w)) complete(w, v);
  return true;
}

Handle* event_wait(VM& vm, Event* e) {
  Handle* h = new_wait(vm);
  if (e->set) {
    complete(h, e->value);
    return h;
  }
  if (e->waiters.size() >= e->purge_at) {  // drop cancelled waiters (amortised O(1))
    e->waiters.erase(std::remove_if(e->waiters.begin(), e->waiters.end(), [](Handle* w) { return !live(w); }),
                     e->waiters.end());
    e->purge_at = std::max<size_t>(64, e->waiters.size() * 2);
  }
  e->waiters.push_back(h);
  return h;
}

// ---- shield ------------------------------------------------------------------------

Handle* shield(VM& vm, Value x) {
  Handle* s = new_handle(vm, Kind::Shield, State::Running);  // owned by the current scope
  Handle* saved = current_scope();
  set_current_scope(nullptr);  // what the shield starts belongs to no scope
  Handle* in;
  if (is_handle(x)) {
    in = as_handle(x);
    leave_scope(in);
  } else {
    in = new_handle(vm, Kind::Adopt);
    queue_job(vm, x, kNil, in, JobKind::Resolve);  // runs outside any scope
  }
  s->k.native.input = in;
  s->k.native.watch = nullptr;
  watch(vm, in, shield_done, s, nullptr);  // (at once if in has settled)
  set_current_scope(saved);
  return s;
}

}  // namespace valk::aio
