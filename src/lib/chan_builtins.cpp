// Channels, semaphores, locks, events and shields (docs/async.md#channels,
// docs/async.md#synchronisation-and-shielding). The state and the no-loss
// rules are in src/aio/channel.h and src/aio/sync.h; aio/with-permit and
// aio/with-lock are lib/valk/sync.valk (an aio/bracket).
#include <string>
#include <vector>

#include "aio/channel.h"
#include "aio/handle.h"
#include "aio/sync.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using aio::Channel;

#define CHAN(fn)                                                                   \
  if (!aio::is_channel(args[0])) return bad_arg(fn, 0, "a channel", args[0]);     \
  Channel* c = aio::as_channel(args[0])
#define SEM(fn)                                                                     \
  if (!aio::is_semaphore(args[0])) return bad_arg(fn, 0, "a semaphore", args[0]);  \
  aio::Semaphore* s = aio::as_semaphore(args[0])
#define EVENT(fn)                                                               \
  if (!aio::is_event(args[0])) return bad_arg(fn, 0, "an event", args[0]);     \
  aio::Event* e = aio::as_event(args[0])

Value hv(aio::Handle* h) { return aio::handle_value(h); }

bool is_marker(Value v) { return v == aio::closed_marker() || v == aio::empty_marker(); }
Value marker_error(const char* fn, Value v) {
  return make_error(std::string(fn) + ": " + (v == aio::closed_marker() ? ":closed" : ":empty") +
                    " cannot be sent: it is a marker of chan/take and chan/try-take");
}

// (chan/new [capacity]): capacity 0 (the default) is a rendezvous.
Value b_new(VM&, Value* args, int argc) {
  size_t cap = 0;
  if (argc > 0) {
    VALK_CHECK(is_int(args[0]) && int_val(args[0]) >= 0, "chan/new", 0, "a capacity (0 or more)");
    cap = size_t(int_val(args[0]));
  }
  return aio::channel_value(aio::new_channel(cap));
}

// (chan/put ch v) => a handle completing with true once v is buffered or
// taken; failing if the channel is (or gets) closed first.
Value b_put(VM& vm, Value* args, int) {
  CHAN("chan/put");
  if (is_marker(args[1])) return hv(aio::fail(vm, marker_error("chan/put", args[1])));
  return aio::return_draining(vm, hv(aio::put(vm, c, args[1])));
}

// (chan/take ch) => a handle of the next value, or :closed once closed and drained.
Value b_take(VM& vm, Value* args, int) {
  CHAN("chan/take");
  return aio::return_draining(vm, hv(aio::take(vm, c)));
}

Value b_close(VM& vm, Value* args, int) {
  CHAN("chan/close");
  aio::close(c);
  return aio::return_draining(vm, args[0]);
}

// (chan/try-put ch v) => true if v was buffered or handed to a taker now, else false.
Value b_try_put(VM& vm, Value* args, int) {
  CHAN("chan/try-put");
  if (is_marker(args[1])) return marker_error("chan/try-put", args[1]);
  if (c->closed) return make_error("chan/try-put: the channel is closed");
  return aio::return_draining(vm, make_bool(aio::try_put(c, args[1])));
}

// (chan/try-take ch) => the next value now, :closed (closed and drained), or :empty.
Value b_try_take(VM& vm, Value* args, int) {
  CHAN("chan/try-take");
  return aio::return_draining(vm, aio::try_take(c));
}

Value b_count(VM&, Value* args, int) {
  CHAN("chan/count");
  return make_fix(int64_t(c->buf.size()));
}
Value b_capacity(VM&, Value* args, int) {
  CHAN("chan/capacity");
  return make_fix(int64_t(c->capacity));
}
// (chan/pending ch) => (takers putters): the operations waiting now.
Value b_pending(VM&, Value* args, int) {
  CHAN("chan/pending");
  return cons(make_fix(int64_t(aio::pending_takers(c))), cons(make_fix(int64_t(aio::pending_putters(c))), kNil));
}

// (chan/closed? x): for a channel, whether it is closed; for anything
// else, whether x is the :closed marker a take completes with.
Value b_closed(VM&, Value* args, int) {
  if (aio::is_channel(args[0])) return make_bool(aio::as_channel(args[0])->closed);
  return make_bool(args[0] == aio::closed_marker());
}

Value b_is_chan(VM&, Value* args, int) { return make_bool(aio::is_channel(args[0])); }

// (chan/select ops): ops is a list of (list :take ch), (list :put ch v), or
// a channel (a take). Exactly one op happens.
Value b_select(VM& vm, Value* args, int) {
  static const Value kTake = intern(":take"), kPut = intern(":put");
  std::vector<aio::SelectOp> ops;
  int i = 0;
  for (Value l = args[0]; is_cons(l); l = cdr(l), ++i) {
    Value op = car(l);
    if (aio::is_channel(op)) {
      ops.push_back({true, aio::as_channel(op), kNil});
      continue;
    }
    size_t n = is_cons(op) ? list_length(op) : 0;
    if (n == 2 && car(op) == kTake && aio::is_channel(car(cdr(op)))) {
      ops.push_back({true, aio::as_channel(car(cdr(op))), kNil});
    } else if (n == 3 && car(op) == kPut && aio::is_channel(car(cdr(op)))) {
      Value v = car(cdr(cdr(op)));
      if (is_marker(v)) return hv(aio::fail(vm, marker_error("chan/select", v)));
      ops.push_back({false, aio::as_channel(car(cdr(op))), v});
    } else {
      return make_error("chan/select: op " + std::to_string(i) +
                        " must be a channel, (list :take ch) or (list :put ch v)");
    }
  }
  if (ops.empty()) return bad_arg("chan/select", 0, "a non-empty list of ops", args[0]);
  return aio::return_draining(vm, hv(aio::select(vm, ops.data(), ops.size())));
}

// ---- semaphores, locks, events --------------------------------------------------

Value b_semaphore(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]) && int_val(args[0]) >= 0, "aio/semaphore", 0, "a permit count (0 or more)");
  return obj_val(aio::new_semaphore(int_val(args[0]), false));
}
Value b_lock(VM&, Value*, int) { return obj_val(aio::new_semaphore(1, true)); }
Value b_is_semaphore(VM&, Value* args, int) { return make_bool(aio::is_semaphore(args[0])); }

// (aio/acquire sem) => a handle completing (with sem) once a permit is held.
Value b_acquire(VM& vm, Value* args, int) {
  SEM("aio/acquire");
  return aio::return_draining(vm, hv(aio::acquire(vm, s)));
}
// (aio/release sem) => sem; an error if no permit was held.
Value b_release(VM& vm, Value* args, int) {
  SEM("aio/release");
  if (!aio::release(s)) return make_error("aio/release: no permit of this semaphore is held");
  return aio::return_draining(vm, args[0]);
}
// (aio/permits sem) => the permits free now.
Value b_permits(VM&, Value* args, int) {
  SEM("aio/permits");
  return make_fix(s->permits);
}

Value b_event(VM&, Value*, int) { return obj_val(aio::new_event()); }
Value b_is_event(VM&, Value* args, int) { return make_bool(aio::is_event(args[0])); }
// (aio/event-set ev [value]) => true the first time, false after (a no-op).
Value b_event_set(VM& vm, Value* args, int argc) {
  EVENT("aio/event-set");
  return aio::return_draining(vm, make_bool(aio::event_set(e, argc > 1 ? args[1] : kTrue)));
}
Value b_event_is_set(VM&, Value* args, int) {
  EVENT("aio/event-set?");
  return make_bool(e->set);
}
// (aio/event-wait ev) => a handle completing with the event's value once set.
Value b_event_wait(VM& vm, Value* args, int) {
  EVENT("aio/event-wait");
  return aio::return_draining(vm, hv(aio::event_wait(vm, e)));
}

// (aio/shield h-or-fn) => a handle settling as h; cancelling it never reaches h.
Value b_shield(VM& vm, Value* args, int) {
  VALK_CHECK(aio::is_handle(args[0]) || is_function(args[0]), "aio/shield", 0,
             "a handle or a function returning one");
  return aio::return_draining(vm, hv(aio::shield(vm, args[0])));
}

}  // namespace

void open_channels(VM&) {
  define("chan/new", guarded<b_new>, 0, 1);
  define("chan/put", guarded<b_put>, 2, 2);
  define("chan/take", guarded<b_take>, 1, 1);
  define("chan/close", guarded<b_close>, 1, 1);
  define("chan/try-put", guarded<b_try_put>, 2, 2);
  define("chan/try-take", guarded<b_try_take>, 1, 1);
  define("chan/count", b_count, 1, 1);
  define("chan/capacity", b_capacity, 1, 1);
  define("chan/pending", guarded<b_pending>, 1, 1);
  define("chan/closed?", b_closed, 1, 1);
  define("chan?", b_is_chan, 1, 1);
  define("chan/select", guarded<b_select>, 1, 1);
  define("aio/semaphore", guarded<b_semaphore>, 1, 1);
  define("aio/lock", guarded<b_lock>, 0, 0);
  define("aio/semaphore?", b_is_semaphore, 1, 1);
  define("aio/acquire", guarded<b_acquire>, 1, 1);
  define("aio/release", guarded<b_release>, 1, 1);
  define("aio/permits", b_permits, 1, 1);
  define("aio/event", guarded<b_event>, 0, 0);
  define("aio/event?", b_is_event, 1, 1);
  define("aio/event-set", guarded<b_event_set>, 1, 2);
  define("aio/event-set?", b_event_is_set, 1, 1);
  define("aio/event-wait", guarded<b_event_wait>, 1, 1);
  define("aio/shield", guarded<b_shield>, 1, 1);
}

}  // namespace valk
