// The aio/* builtins (docs/async.md). The handle machinery is in src/aio/; what is
// here checks arguments and returns through the job drain when callbacks
// were queued. Upstream's spellings that pass the system first, such as
// (aio/sleep sys ms), are accepted: a leading system value is skipped.
#include <cstring>
#include <string>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "aio/handle.h"
#include "aio/loop.h"
#include "core/printer.h"
#include "core/proto.h"
#include "core/runtime.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using namespace aio;

const OpaqueClass kSystemClass = {"aio-system", [](std::string& out, const Opaque*) {
                                    out += "<aio-system>";
                                  }};
Value system_value() {
  Value& sys = rt().system;
  if (sys == kNil) {
    sys = make_opaque(&kSystemClass, nullptr);
    define_value("%aio-system", sys);
  }
  return sys;
}
}  // namespace

bool is_aio_system(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kSystemClass;
}

namespace {

// Drops a leading system argument (upstream style).
#define SKIP_SYSTEM()                       \
  do {                                      \
    if (argc > 0 && is_aio_system(args[0])) {   \
      ++args;                               \
      --argc;                               \
    }                                       \
  } while (0)

Value hv(Handle* h) { return handle_value(h); }

Value need_handle(const char* fn, int i, Value* args) {
  return bad_arg(fn, i, "a handle", args[i]);
}
#define CHECK_HANDLE(fn, i) \
  if (!is_handle(args[i])) return need_handle(fn, i, args)
#define CHECK_FN(fn, i) VALK_CHECK(is_function(args[i]), fn, i, "a function")

// The list argument of all/race/any: a list of handles.
Value check_handles(const char* fn, Value* args, int i) {
  Value l = args[i];
  if (!is_list(l)) return bad_arg(fn, i, "a list of handles", l);
  for (Value p = l; is_cons(p); p = cdr(p)) {
    if (is_error(car(p))) return car(p);
    if (!is_handle(car(p)))
      return make_errorf("%s: every element must be a handle, got %s", fn, describe_type(car(p)).c_str());
  }
  return kNil;
}

bool wants_argument(Value f) {
  if (has_type(f, Type::Closure)) {
    const Proto* p = as_closure(f)->proto;
    return p->nparams > 0 || p->has_rest;
  }
  if (has_type(f, Type::Builtin)) return reinterpret_cast<Builtin*>(f)->max_args != 0;
  return true;
}

// Milliseconds as given: floats are truncated, NaN and negatives are 0, and
// anything past what the clock can count saturates (timer_start clamps).
int64_t ms_arg(Value v) {
  if (!is_float(v)) return int_val(v);
  double d = float_val(v);
  if (!(d > 0)) return 0;
  if (d >= 9.2e18) return INT64_MAX;
  return int64_t(d);
}

// ---- runtime ------------------------------------------------------------------------

Value b_start(VM& vm, Value* args, int argc) {
  if (argc == 1 && !is_list(args[0]) && !is_aio_system(args[0]))
    return bad_arg("aio/start", 0, "a config plist", args[0]);
  start(vm);
  clear_stop();
  return hv(pure(vm, system_value()));
}

// The driver (loop.h) is entered from top-level code only: a job that
// started it would run other jobs inside itself, out of order.
Value driver_refused(const char* what) {
  return make_errorf("%s: cannot run the event loop from inside a callback (a job of the loop); "
                     "return a handle instead, or use aio/then / aio/await inside async-reset",
                     what);
}

Value drive(VM& vm, Value h) {
  static Value fn = intern("%aio-drive");
  return vm.tail_call(as_symbol(fn)->global, cons(h, kNil));
}

Value b_run(VM& vm, Value* args, int argc) {
  SKIP_SYSTEM();
  if (in_job()) return driver_refused("aio/run");
  if (stop_requested()) return kNil;  // stopped for good: nothing runs the loop again
  return drive(vm, kNil);
}

Value b_stop(VM& vm, Value* args, int argc) {
  SKIP_SYSTEM();
  return return_draining(vm, hv(stop(vm)));
}

Value b_virtual_time(VM& vm, Value* args, int argc) {
  bool on = argc == 0 || truthy(args[0]);
  set_virtual_time(on);
  return make_bool(virtual_time());
}

// ---- creating and reading handles ----------------------------------------------------

Value b_pure(VM& vm, Value* args, int argc) { return hv(pure(vm, args[0])); }
Value b_fail(VM& vm, Value* args, int argc) { return hv(fail(vm, args[0])); }

Value b_status(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/status", 0);
  static const char* const names[] = {":pending", ":running", ":completed", ":failed",
                                      ":cancelled"};
  Handle* h = as_handle(args[0]);
  if (h->flags & kCancelling) return intern(":cancelled");
  return intern(names[int(h->state)]);
}

Value b_result(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/result", 0);
  Handle* h = as_handle(args[0]);
  if (h->state != State::Completed)
    return make_errorf("aio/result: the handle is not completed (%s)",
                       h->state == State::Failed      ? "failed"
                       : h->state == State::Cancelled ? "cancelled"
                                                      : "still running");
  return h->result;
}

Value b_error(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/error", 0);
  Handle* h = as_handle(args[0]);
  if (h->state != State::Failed) return make_error("aio/error: the handle has not failed");
  mark_handled(h);
  return h->result;
}

Value b_is_handle(VM& vm, Value* args, int argc) { return make_bool(is_handle(args[0])); }

// ---- sequencing -------------------------------------------------------------------------

Value b_then(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/then", 0);
  CHECK_FN("aio/then", 1);
  return return_draining(vm, hv(then(vm, as_handle(args[0]), args[1])));
}

Value b_catch(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/catch", 0);
  CHECK_FN("aio/catch", 1);
  return return_draining(vm, hv(catch_(vm, as_handle(args[0]), args[1])));
}

Value b_finally(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/finally", 0);
  CHECK_FN("aio/finally", 1);
  return return_draining(vm, hv(finally(vm, as_handle(args[0]), args[1])));
}

// ---- parallel -----------------------------------------------------------------------------

Value b_all(VM& vm, Value* args, int argc) {
  Value e = check_handles("aio/all", args, 0);
  if (e != kNil) return e;
  return return_draining(vm, hv(all(vm, args[0])));
}
Value b_all_settled(VM& vm, Value* args, int argc) {
  Value e = check_handles("aio/all-settled", args, 0);
  if (e != kNil) return e;
  return return_draining(vm, hv(all_settled(vm, args[0])));
}
Value b_race(VM& vm, Value* args, int argc) {
  Value e = check_handles("aio/race", args, 0);
  if (e != kNil) return e;
  if (args[0] == kNil) return make_error("aio/race: cannot race an empty list");
  return return_draining(vm, hv(race(vm, args[0])));
}
Value b_any(VM& vm, Value* args, int argc) {
  Value e = check_handles("aio/any", args, 0);
  if (e != kNil) return e;
  if (args[0] == kNil) return make_error("aio/any: needs at least one handle");
  return return_draining(vm, hv(any(vm, args[0])));
}

// (aio/parallel-map f items limit): f on every item, at most limit at once.
Value b_pmap(VM& vm, Value* args, int argc) {
  CHECK_FN("aio/parallel-map", 0);
  VALK_CHECK(is_list(args[1]), "aio/parallel-map", 1, "a list");
  int64_t limit = 0;
  if (argc == 3) {
    VALK_CHECK(is_int(args[2]) && int_val(args[2]) > 0, "aio/parallel-map", 2,
               "a positive integer");
    limit = int_val(args[2]);
  } else {
    limit = int64_t(list_length(args[1]));
  }
  if (limit > UINT32_MAX) limit = UINT32_MAX;
  return return_draining(vm, hv(pmap(vm, args[0], args[1], uint32_t(limit))));
}

// ---- cancellation and resources -------------------------------------------------------------

Value b_cancel(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/cancel", 0);
  return return_draining(vm, make_bool(cancel(as_handle(args[0]))));
}

Value b_cancelled(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/cancelled?", 0);
  Handle* h = as_handle(args[0]);
  return make_bool(h->state == State::Cancelled || (h->flags & kCancelling));
}

Value b_on_cancel(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/on-cancel", 0);
  CHECK_FN("aio/on-cancel", 1);
  Handle* h = as_handle(args[0]);
  if (h->state == State::Cancelled) {
    queue_job(vm, args[1], kNil, nullptr, JobKind::Ignore);
    return return_draining(vm, args[0]);
  }
  if (settled(h)) return args[0];  // completed or failed: it will never be cancelled
  // Kept in registration order: every one runs, once.
  ListBuilder b(false);
  for (Value l = h->on_cancel; is_cons(l); l = cdr(l)) b.push(car(l));
  b.push(args[1]);
  h->on_cancel = b.result();
  return args[0];
}

Value b_bracket(VM& vm, Value* args, int argc) {
  if (!is_handle(args[0]) && !is_function(args[0]))
    return bad_arg("aio/bracket", 0, "a handle or a function returning one", args[0]);
  CHECK_FN("aio/bracket", 1);
  CHECK_FN("aio/bracket", 2);
  return return_draining(vm, hv(bracket(vm, args[0], args[1], args[2])));
}

Value b_scope(VM& vm, Value* args, int argc) {
  CHECK_FN("aio/scope", 0);
  return return_draining(vm, hv(scope(vm, args[0], wants_argument(args[0]))));
}

// ---- time -----------------------------------------------------------------------------------

Value b_sleep(VM& vm, Value* args, int argc) {
  SKIP_SYSTEM();
  if (argc != 1) return make_errorf("aio/sleep: expected 1 argument (ms), got %d", argc);
  VALK_CHECK(is_number(args[0]), "aio/sleep", 0, "a number of milliseconds");
  start(vm);
  return hv(sleep(vm, ms_arg(args[0]), kNil));
}

// (aio/delay ms val) (seed) and (aio/delay sys ms thunk) (upstream): the
// upstream form is in lib/valk/aio.valk, reached through %aio-delay-thunk.
Value b_delay(VM& vm, Value* args, int argc) {
  if (argc == 3 && is_aio_system(args[0])) {
    static Value f = intern("%aio-delay-thunk");
    return vm.tail_call(as_symbol(f)->global, cons(args[1], cons(args[2], kNil)));
  }
  if (argc != 2) return make_errorf("aio/delay: expected (aio/delay ms value), got %d arguments", argc);
  VALK_CHECK(is_number(args[0]), "aio/delay", 0, "a number of milliseconds");
  start(vm);
  return hv(sleep(vm, ms_arg(args[0]), args[1]));
}

Value b_never(VM& vm, Value* args, int argc) {
  SKIP_SYSTEM();
  start(vm);
  return hv(never(vm));
}

Value b_schedule(VM& vm, Value* args, int argc) {
  SKIP_SYSTEM();
  if (argc != 2) return make_errorf("aio/schedule: expected 2 arguments (ms fn), got %d", argc);
  VALK_CHECK(is_number(args[0]), "aio/schedule", 0, "a number of milliseconds");
  CHECK_FN("aio/schedule", 1);
  start(vm);
  return hv(schedule(vm, ms_arg(args[0]), args[1]));
}

Value b_interval(VM& vm, Value* args, int argc) {
  SKIP_SYSTEM();
  if (argc != 2) return make_errorf("aio/interval: expected 2 arguments (ms fn), got %d", argc);
  VALK_CHECK(is_number(args[0]) && ms_arg(args[0]) >= 0, "aio/interval", 0,
             "a number of milliseconds");
  CHECK_FN("aio/interval", 1);
  start(vm);
  return hv(interval(vm, ms_arg(args[0]), args[1]));
}

Value b_within(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/within", 0);
  VALK_CHECK(is_number(args[1]), "aio/within", 1, "a number of milliseconds");
  start(vm);
  return return_draining(vm, hv(within(vm, as_handle(args[0]), ms_arg(args[1]))));
}

// ---- the drain and await, used by lib/valk/aio.valk -----------------------------------------

Value b_run_next_job(VM& vm, Value* args, int argc) { return run_next_job(vm); }
Value b_settled(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/await", 0);
  return make_bool(settled(as_handle(args[0])));
}
Value b_outcome(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/await", 0);
  return outcome(as_handle(args[0]));
}
Value b_in_reset(VM& vm, Value* args, int argc) { return make_bool(vm.in_reset()); }

// At top level: run the loop until the handle settles.
Value b_block_on(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/await", 0);
  if (in_job()) return driver_refused("aio/await");
  mark_handled(as_handle(args[0]));
  return drive(vm, args[0]);
}

// (%aio-poll h): one round of timers and I/O for the driver. True when
// work may remain; when nothing is left, false for aio/run (h nil) and an
// error for an awaited handle that can then never settle.
Value b_poll(VM& vm, Value* args, int argc) {
  Value h = args[0];
  if (h != kNil && !is_handle(h)) return need_handle("%aio-poll", 0, args);
  if (in_job()) return driver_refused("aio/run");
  if (poll(vm, h == kNil)) return kTrue;
  if (h == kNil || settled(as_handle(h))) return kFalse;
  return make_errorf("aio/await: handle#%llu can never settle: nothing is left to run",
                     (unsigned long long)handle_id(as_handle(h)));
}

// Inside a reset: (k outcome) once h settles; the reset yields this handle.
Value b_resume_on(VM& vm, Value* args, int argc) {
  CHECK_HANDLE("aio/await", 0);
  CHECK_FN("aio/await", 1);
  return return_draining(vm, hv(resume(vm, as_handle(args[0]), args[1])));
}

Value b_dump(VM& vm, Value* args, int argc) {
  int64_t now = coarse_now_us();
  int n = 0;
  std::string out;
  for (Handle* h = live_handles(); h; h = h->live_next) {
    std::string line;
    print_display(line, hv(h));
    SrcLoc l = created_at(h);
    char buf[256];
    uint32_t age_ms = uint32_t(now / 1000) - h->created_ms;
    snprintf(buf, sizeof buf, "  %s age %.3f s", line.c_str(), double(age_ms) / 1e3);
    out += buf;
    if (l.file) {
      out += "  created at ";
      put_loc(out, l);
    }
    out += '\n';
    ++n;
  }
  fprintf(stdout, "aio/dump: %d live handle%s, %zu timer%s\n%s", n, n == 1 ? "" : "s",
          active_timers(), active_timers() == 1 ? "" : "s", out.c_str());
  fflush(stdout);
  return make_fix(n);
}

}  // namespace

void open_aio(VM& vm) {
  VM::job_done_hook = job_done;
  define("aio/start", b_start, 0, 1);
  define("aio/run", b_run, 0, 1);
  define("aio/stop", b_stop, 0, 1);
  define("aio/virtual-time", b_virtual_time, 0, 1);
  define("aio/pure", b_pure, 1, 1);
  define("aio/fail", b_fail, 1, 1);
  define("aio/status", b_status, 1, 1);
  define("aio/result", b_result, 1, 1);
  define("aio/error", b_error, 1, 1);
  define("handle?", b_is_handle, 1, 1);
  define("aio/then", b_then, 2, 2);
  define("aio/catch", b_catch, 2, 2);
  define("aio/finally", b_finally, 2, 2);
  define("aio/all", b_all, 1, 1);
  define("aio/all-settled", b_all_settled, 1, 1);
  define("aio/race", b_race, 1, 1);
  define("aio/any", b_any, 1, 1);
  define("aio/parallel-map", b_pmap, 2, 3);
  define("aio/cancel", b_cancel, 1, 1);
  define("aio/cancelled?", b_cancelled, 1, 1);
  define("aio/on-cancel", b_on_cancel, 2, 2);
  define("aio/bracket", b_bracket, 3, 3);
  define("aio/scope", b_scope, 1, 1);
  define("aio/sleep", b_sleep, 1, 2);
  define("aio/delay", b_delay, 2, 3);
  define("aio/never", b_never, 0, 1);
  define("aio/schedule", b_schedule, 2, 3);
  define("aio/interval", b_interval, 2, 3);
  define("aio/within", b_within, 2, 2);
  define("aio/dump", b_dump, 0, 1);
  define("%aio-system?", [](VM&, Value* args, int) { return make_bool(is_aio_system(args[0])); }, 1, 1);
  define("%aio-run-next-job", b_run_next_job, 0, 0);
  define("%aio-settled?", b_settled, 1, 1);
  define("%aio-outcome", b_outcome, 1, 1);
  define("%aio-in-reset?", b_in_reset, 0, 0);
  define("%aio-block-on", b_block_on, 1, 1);
  define("%aio-resume-on", b_resume_on, 2, 2);
  define("%aio-poll", b_poll, 1, 1);
}

}  // namespace valk
