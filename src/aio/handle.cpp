// Handles: creation, settling, waiters, cancellation, the job queue.
#include "aio/handle.h"

#include <gc/gc.h>
#include <gc/gc_allocator.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "aio/clock.h"
#include "aio/loop.h"
#include "core/compiler.h"
#include "core/gc.h"
#include "core/runtime.h"
#include "core/printer.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

// This file's part of the runtime (core/runtime.h).
AsyncState& A() { return rt().async; }

void print_handle(std::string& out, const Opaque* self);
const OpaqueClass kHandleClass = {"handle", print_handle};


// Failures that settled with nobody waiting: reported at exit unless
// observed first. Observed ones are dropped as the list grows (amortised
// O(1)), so a program that fails and catches forever holds no memory for
// it; past kMaxUnhandled unobserved ones the oldest are reported at once.
constexpr size_t kMaxUnhandled = 1024;
void report_one(Handle* h);
void note_unhandled(Handle* h) {
  A().unhandled.push_back(h);
  if (A().unhandled.size() < A().unhandled_compact_at) return;
  size_t keep = 0;
  for (Handle* x : A().unhandled)
    if (!(x->flags & (kHandled | kReported)) && x->state == State::Failed) A().unhandled[keep++] = x;
  A().unhandled.resize(keep);
  if (keep > kMaxUnhandled) {
    size_t drop = keep - kMaxUnhandled / 2;
    for (size_t i = 0; i < drop; ++i) report_one(A().unhandled[i]);
    A().unhandled.erase(A().unhandled.begin(), A().unhandled.begin() + long(drop));
  }
  A().unhandled.shrink_to_fit();
  A().unhandled_compact_at = A().unhandled.size() * 2 < 64 ? 64 : A().unhandled.size() * 2;
}
}  // namespace

// A queued callback. It is its own token while it runs: the job
// trampoline hands it back to job_done with the callback's result.
// (72 bytes, 80 in the collected heap: its kind lives in the header.)
struct Job {
  Opaque base;  // base.h.extra: the JobKind
  Value fn;
  Value args;
  Handle* target;
  Handle* scope;
  Handle* scope_before;
  // The request context it runs under (its target's, else the one current
  // when it was queued); while it runs, the context to restore after it.
  Value ctx;
  JobKind kind() const { return JobKind(base.h.extra); }
};
static_assert(sizeof(Job) <= 72, "a job grew past 80 bytes of the collected heap");

namespace {

const OpaqueClass kJobClass = {"aio-job", nullptr};

void print_handle(std::string& out, const Opaque* self) {
  auto* h = reinterpret_cast<const Handle*>(self);
  static const char* const names[] = {":pending", ":running", ":completed", ":failed",
                                      ":cancelled"};
  out += "<handle#" + std::to_string(handle_id(h)) + " " + names[int(h->state)];
  // A result may contain handles, itself included ((aio/scope (fn (s) s))):
  // results are shown one level deep, so printing always ends.
  static int depth = 0;
  if ((h->state == State::Completed || h->state == State::Failed) && depth == 0) {
    ++depth;
    out += ' ';
    std::string v = repr_string(h->result);
    --depth;
    if (v.size() > 60) v = v.substr(0, 57) + "...";
    out += v;
  } else if (h->state == State::Completed || h->state == State::Failed) {
    out += " ...";
  }
  out += '>';
}

void live_link(Handle* h) {
  h->live_prev = nullptr;
  h->live_next = A().live;
  if (A().live) A().live->live_prev = h;
  A().live = h;
}
void live_unlink(Handle* h) {
  if (h->live_prev)
    h->live_prev->live_next = h->live_next;
  else if (A().live == h)
    A().live = h->live_next;
  if (h->live_next) h->live_next->live_prev = h->live_prev;
  h->live_prev = h->live_next = nullptr;
}
void scope_link(Handle* scope, Handle* h) {
  h->scope = scope;
  h->sib_prev = nullptr;
  h->sib_next = scope->k.scope.first_child;
  if (h->sib_next) h->sib_next->sib_prev = h;
  scope->k.scope.first_child = h;
}
void scope_unlink(Handle* h) {
  Handle* s = h->scope;
  if (!s) return;
  if (h->sib_prev)
    h->sib_prev->sib_next = h->sib_next;
  else if (s->kind == Kind::Scope && s->k.scope.first_child == h)
    s->k.scope.first_child = h->sib_next;
  if (h->sib_next) h->sib_next->sib_prev = h->sib_prev;
  h->sib_prev = h->sib_next = nullptr;
}

void notify_waiters() {
  if (A().notifying) return;
  A().notifying = true;
  VM& vm = current_vm();
  while (!A().notify.empty()) {
    Handle* h = A().notify.front();
    A().notify.pop_front();
    Waiter* w = h->waiters;
    h->waiters = nullptr;
    // Waiters registered first are told first.
    Waiter* rev = nullptr;
    while (w) {
      Waiter* next = w->next;
      w->next = rev;
      rev = w;
      w = next;
    }
    for (; rev; rev = rev->next) {
      Handle* t = rev->target;
      // A handle being cancelled ignores its inputs, except a bracket or a
      // finally, which still wait for their cleanup; one that is deciding
      // its outcome ignores the inputs it cancels meanwhile.
      if (settled(t) || (t->flags & kDeciding)) continue;
      if ((t->flags & kCancelling) && t->kind != Kind::Bracket && t->kind != Kind::Finally)
        continue;
      on_input_settled(vm, t, rev->index, h);
    }
  }
  A().notifying = false;
}

void settle(Handle* h, State s, Value v) {
  if (settled(h)) return;
  wake();  // settled from an I/O callback: the driver has work
  h->state = s;
  h->result = v;
  h->flags &= uint8_t(~kCancelling);
  live_unlink(h);
  scope_unlink(h);
  --A().counts.pending;
  switch (s) {
    case State::Completed: ++A().counts.completed; break;
    case State::Failed:
      ++A().counts.failed;
      if (!h->waiters && !(h->flags & kHandled)) note_unhandled(h);
      break;
    case State::Cancelled: ++A().counts.cancelled; break;
    default: break;
  }
  timer_settled(h);
  if (h->waiters) {
    A().notify.push_back(h);
    notify_waiters();
  }
}

}  // namespace

bool is_handle(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Handle*>(v)->cls == &kHandleClass;
}
Handle* as_handle(Value v) { return reinterpret_cast<Handle*>(v); }

Handle* new_handle(VM& vm, Kind kind, State state) {
  AsyncState& a = A();  // (one look-up of the runtime)
  auto* h = static_cast<Handle*>(gc_alloc(sizeof(Handle)));
  h->type = Type::Opaque;
  h->id = uint32_t(a.next_id++);
  h->cls = &kHandleClass;
  h->state = state;
  h->kind = kind;
  h->flags = 0;
  h->dependents = 0;
  h->created_ms = uint32_t(coarse_now_us() / 1000);
  h->result = kNil;
  h->waiters = nullptr;
  h->on_cancel = kNil;
  h->scope = nullptr;
  h->ctx = a.context;  // callbacks registered now run under it later
  memset(&h->k, 0, sizeof h->k);  // each constructor fills its kind's state
  // Where the program was when it asked for this handle.
  h->src_proto = nullptr;
  h->src_pc = nullptr;
  for (size_t i = vm.nframes; i-- > 0;) {
    const Proto* p = vm.frames[i].closure->proto;
    if (p->file && !p->is_lib) {
      h->src_proto = p;
      h->src_pc = vm.frames[i].pc;
      break;
    }
  }
  ++a.counts.created;
  ++a.counts.pending;
  live_link(h);
  if (a.scope && a.scope != h) {
    if (settled(a.scope))
      a.orphans.push_back(h);  // its scope is over: cancelled once this job ends
    else
      scope_link(a.scope, h);
  }
  return h;
}

Handle* pure(VM& vm, Value v) {
  Handle* h = new_handle(vm, Kind::Value);
  complete(h, v);
  return h;
}

Handle* fail(VM& vm, Value err) {
  Handle* h = new_handle(vm, Kind::Value);
  fail_with(h, err);
  return h;
}

void complete(Handle* h, Value v) { settle(h, State::Completed, v); }

void fail_with(Handle* h, Value err) {
  // An error that does not yet say where it came from names the call that
  // created the failing step.
  if (is_error(err) && !as_error(err)->loc.file) as_error(err)->loc = created_at(h);
  settle(h, State::Failed, err);
}

void cancel_settle(Handle* h) { settle(h, State::Cancelled, kNil); }

void resolve(VM& vm, Handle* h, Value r) {
  if (settled(h)) return;
  if (is_handle(r)) {
    Handle* inner = as_handle(r);
    if (inner == h) {
      fail_with(h, make_error("aio: a handle cannot resolve to itself"));
      return;
    }
    if (settled(inner)) {
      mark_handled(inner);
      settle(h, inner->state, inner->result);
      return;
    }
    // Flatten: h now settles as the inner handle does.
    Handle** slot = follows_slot(h);
    if (!slot) {
      fail_with(h, make_error("aio: this kind of handle cannot adopt a running handle"));
      return;
    }
    *slot = inner;
    h->state = State::Running;
    wait_on(h, inner, 1);
    return;
  }
  if (is_error(r)) {
    fail_with(h, r);
    return;
  }
  complete(h, r);
}

void wait_on(Handle* target, Handle* input, uint32_t index) {
  mark_handled(input);
  if (settled(input)) {
    on_input_settled(current_vm(), target, index, input);
    return;
  }
  auto* w = static_cast<Waiter*>(gc_alloc(sizeof(Waiter)));
  w->target = target;
  w->index = index;
  w->next = input->waiters;
  input->waiters = w;
  ++input->dependents;
}

void mark_handled(Handle* h) { h->flags |= kHandled; }

Value failure_as_error(Handle* h) {
  if (h->state == State::Cancelled) {
    Value e = make_error("cancelled");
    as_error(e)->loc = created_at(h);
    return e;
  }
  if (is_error(h->result)) return h->result;
  // aio/fail with a non-error value: an error carrying that value's text.
  Value e = make_error(is_string(h->result) ? h->result : make_string(display_string(h->result)));
  as_error(e)->loc = created_at(h);
  return e;
}

Value outcome(Handle* h) {
  mark_handled(h);
  if (h->state == State::Completed) return h->result;
  return failure_as_error(h);
}

// ---- cancellation -----------------------------------------------------------------

namespace {

// The handles x waits on, for upstream propagation: its kind's inputs and
// the handle it follows. (A scope's children are reached apart.)
template <class F>
void for_each_input(Handle* x, F f) {
  if (x->kind != Kind::Scope)
    kind_ops(x->kind).for_each_input(x, [](Handle* in, void* ctx) { (*static_cast<F*>(ctx))(in); }, &f);
  if (Handle** slot = follows_slot(x); slot && *slot) f(*slot);
}

}  // namespace

// Releases x's claim on its inputs: an input nobody else waits on any more
// is cancelled too (the shared-input rule).
static void release_inputs(Handle* x, TracedVector<Handle*>& work) {
  for_each_input(x, [&](Handle* in) {
    if (settled(in)) return;
    if (in->dependents > 0) --in->dependents;
    if (in->dependents == 0) work.push_back(in);
  });
}

bool cancel(Handle* h) {
  if (settled(h) || (h->flags & kCancelling)) return false;
  VM& vm = current_vm();
  // Phase 1: everything this cancellation reaches, dependents before the
  // handles they wait on. Phase 2 settles in reverse, so inputs and scope
  // children are cancelled before whatever waits on them settles.
  TracedVector<Handle*> work{h}, order;
  while (!work.empty()) {
    Handle* x = work.back();
    work.pop_back();
    if (settled(x) || (x->flags & kCancelling)) continue;
    x->flags |= kCancelling;
    order.push_back(x);
    for (Value f = x->on_cancel; is_cons(f); f = cdr(f))
      queue_job(vm, car(f), kNil, x, JobKind::Ignore);  // runs in x's scope
    x->on_cancel = kNil;
    if (x->kind == Kind::Scope)
      for (Handle* c = x->k.scope.first_child; c; c = c->sib_next) work.push_back(c);
    release_inputs(x, work);
  }
  for (size_t i = order.size(); i-- > 0;) {
    Handle* x = order[i];
    if (settled(x)) continue;
    // Most kinds settle now; some (bracket, finally) after a callback runs.
    if (!on_cancel_requested(vm, x)) cancel_settle(x);
  }
  return true;
}

void finish_after_cleanup(Handle* h, Value r) {
  if (settled(h)) return;
  if (is_handle(r) && !settled(as_handle(r))) {
    wait_on(h, as_handle(r), 2);  // an async cleanup: wait for it
    return;
  }
  if (is_handle(r)) mark_handled(as_handle(r));
  bool cleanup_failed = is_error(r) || (is_handle(r) && as_handle(r)->state == State::Failed);
  if (cleanup_failed && (h->flags & kCancelling)) {
    // Cancelled already (aio/cancel said so, aio/status shows it): it stays
    // cancelled. The cleanup's failure is not lost: nobody handles it, so
    // it is reported like any unhandled failure.
    if (is_handle(r)) {
      as_handle(r)->flags &= uint8_t(~kHandled);
      note_unhandled(as_handle(r));
    } else {
      Handle* f = fail(current_vm(), r);
      (void)f;  // settles with no waiter: listed as unhandled
    }
    cancel_settle(h);
    return;
  }
  if (cleanup_failed) {
    fail_with(h, is_handle(r) ? as_handle(r)->result : r);
    return;
  }
  // Finally: its input; bracket: the `use` handle.
  Handle* in = h->kind == Kind::Finally ? h->k.step.input : h->k.bracket->use;
  if ((h->flags & kCancelling) || !in || in->state == State::Cancelled) {
    cancel_settle(h);
  } else {
    mark_handled(in);
    settle(h, in->state, in->result);
  }
}

void release_input(Handle* in) {
  if (settled(in)) return;
  if (in->dependents > 0) --in->dependents;
  if (in->dependents == 0) cancel(in);
}

// ---- jobs --------------------------------------------------------------------------

void queue_job(VM& vm, Value fn, Value args, Handle* target, JobKind kind) {
  AsyncState& a = A();  // (one look-up of the runtime)
  auto* j = static_cast<Job*>(gc_alloc(sizeof(Job)));
  j->base.h = {Type::Opaque, 0, 0, uint32_t(kind)};
  j->base.cls = &kJobClass;
  j->base.payload = j;
  j->fn = fn;
  j->args = args;
  j->target = target;
  j->scope = target ? (target->kind == Kind::Scope ? target : target->scope) : a.scope;
  j->scope_before = nullptr;
  j->ctx = target ? target->ctx : a.context;
  a.jobs.push_back(j);
  wake();
}

bool have_jobs() { return !A().jobs.empty(); }
bool in_job() { return A().jobs_running > 0; }

Value run_next_job(VM& vm) {
  AsyncState& a = A();  // (one look-up of the runtime)
  if (a.jobs.empty()) return kFalse;
  Job* j = a.jobs.front();
  a.jobs.pop_front();
  // No callback runs for a handle that was cancelled after it was queued
  // (cleanups, finally's f and bracket's release, still run).
  Handle* t = j->target;
  if (t && (j->kind() == JobKind::Resolve || j->kind() == JobKind::Interval) &&
      (settled(t) || (t->flags & kCancelling)))
    return kTrue;
  j->scope_before = a.scope;
  a.scope = j->scope;
  std::swap(a.context, j->ctx);  // j->ctx: the one to restore
  if (t && j->kind() != JobKind::Ignore && t->state == State::Pending) t->state = State::Running;
  // (trampoline fn [arg] job): runs fn delimited, then job_done.
  ++a.jobs_running;
  Value token = obj_val(j);
  Value call = is_cons(j->args) ? cons(j->fn, cons(car(j->args), cons(token, kNil)))
                                : cons(j->fn, cons(token, kNil));
  return vm.tail_call(VM::job_trampoline(is_cons(j->args) ? 1 : 0), call);
}

void job_done(VM& vm, Value token, Value r) {
  AsyncState& a = A();  // (one look-up of the runtime)
  auto* t = reinterpret_cast<Job*>(token);
  --a.jobs_running;
  a.scope = t->scope_before;
  a.context = t->ctx;
  while (!a.orphans.empty()) {
    Handle* o = a.orphans.back();
    a.orphans.pop_back();
    if (o != t->target && !(is_handle(r) && as_handle(r) == o)) cancel(o);
  }
  Handle* h = t->target;
  switch (t->kind()) {
    case JobKind::Resolve:
      if (h) {
        if (h->kind == Kind::Scope)
          scope_result(vm, h, r);
        else
          resolve(vm, h, r);
      }
      break;
    case JobKind::Finally:
    case JobKind::Release:
      if (h && !settled(h)) finish_after_cleanup(h, r);
      break;
    case JobKind::Interval:
      if (h && !settled(h) && is_keyword(r) && as_symbol(r)->view() == ":stop") complete(h, kNil);
      break;
    case JobKind::Ignore:
      break;
  }
}

Value return_draining(VM& vm, Value v) {
  if (A().jobs.empty()) return v;
  static Value drain = intern("%aio-drain");
  VM::job_done_hook = job_done;
  return vm.tail_call(as_symbol(drain)->global, cons(v, kNil));
}

// ---- scopes ----------------------------------------------------------------------------

Handle* current_scope() { return A().scope; }
void set_current_scope(Handle* s) { A().scope = s; }

void scope_result(VM& vm, Handle* scope, Value r) {
  if (settled(scope)) return;
  // The result may still be running: wait for it (index 1), then finish.
  if (is_handle(r) && as_handle(r) == scope) {
    r = make_error("aio/scope: the scope's function returned the scope itself");
  } else if (is_handle(r) && !settled(as_handle(r))) {
    Handle* inner = as_handle(r);
    // The result handle is the scope's own work: it leaves the children
    // (it must not be cancelled when the scope finishes) but keeps the
    // scope, so its callbacks still run on the scope's behalf.
    scope_unlink(inner);
    scope->k.scope.follows = inner;
    scope->state = State::Running;
    wait_on(scope, inner, 1);
    return;
  }
  // Nothing started inside outlives the scope: cancel what is left first.
  // (Each keeps its scope: cleanups that run later are still on its behalf.)
  while (Handle* c = scope->k.scope.first_child) {
    scope_unlink(c);
    cancel(c);
  }
  if (is_handle(r)) {
    Handle* inner = as_handle(r);
    mark_handled(inner);
    settle(scope, inner->state, inner->result);
  } else if (is_error(r)) {
    fail_with(scope, r);
  } else {
    complete(scope, r);
  }
}

// ---- bookkeeping ------------------------------------------------------------------------

const Counts& counts() { return A().counts; }
Handle* live_handles() { return A().live; }

SrcLoc created_at(const Handle* h) {
  if (!h->src_proto) return {nullptr, 0, 0};
  const uint32_t* pc = h->src_pc;
  if (pc > h->src_proto->code) --pc;
  return proto_loc(h->src_proto, pc);
}

namespace {
void report_one(Handle* h) {
  if ((h->flags & (kHandled | kReported)) || h->state != State::Failed) return;
  h->flags |= kReported;
  Value e = failure_as_error(h);
  const SrcLoc& l = as_error(e)->loc;
  std::string msg = display_string(as_error(e)->message);
  if (l.file)
    fprintf(stderr, "valk: unhandled failure of handle#%llu (created at %s:%u:%u): %s\n",
            (unsigned long long)handle_id(h), l.file, l.line, l.col, msg.c_str());
  else
    fprintf(stderr, "valk: unhandled failure of handle#%llu: %s\n", (unsigned long long)handle_id(h),
            msg.c_str());
}
}  // namespace

int report_unhandled() {
  int n = 0;
  for (Handle* h : A().unhandled) {
    if ((h->flags & (kHandled | kReported)) || h->state != State::Failed) continue;
    report_one(h);
    ++n;
  }
  A().unhandled.clear();
  A().unhandled.shrink_to_fit();
  return n;
}

// ---- dispatch by kind ------------------------------------------------------------------

Handle** follows_slot(Handle* h) {
  switch (h->kind) {
    case Kind::Then:
    case Kind::Catch:
    case Kind::Resume:
    case Kind::Adopt:
    case Kind::External: return &h->k.step.follows;
    case Kind::Schedule: return &h->k.timer.schedule.follows;
    case Kind::Scope: return &h->k.scope.follows;
    default: return nullptr;
  }
}

void on_input_settled(VM& vm, Handle* target, uint32_t index, Handle* input) {
  kind_ops(target->kind).input_settled(vm, target, index, input);
}

bool on_cancel_requested(VM& vm, Handle* h) { return kind_ops(h->kind).cancel_requested(vm, h); }

}  // namespace valk::aio
