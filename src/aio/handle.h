// Async handles: the one abstraction of the async runtime
// (docs/async.md#handles, docs/async.md#combinators).
//
// A handle settles exactly once: Pending -> Running -> Completed | Failed |
// Cancelled. Everything that waits on a handle is a Waiter on it; when the
// handle settles, its waiters are notified through a work list, never by
// recursion, so chains of any length settle and cancel in constant C stack.
//
// Lisp callbacks (then's f, finally's f, on-cancel functions, ...) never run
// from C++: they become Jobs in a queue, run by the loop's driver or by the
// drain that a builtin which queued jobs returns through (%aio-drain in
// lib/valk/aio.valk, as a tail call), so "settles during the call" holds and
// no C++ frame sits between two Lisp calls (docs/internals.md).
//
// Each kind keeps its own state in Handle::k and reacts through its entry
// in kind_ops() (combinators.cpp, timers.cpp): the machinery here never
// looks inside a kind's state.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/proto.h"
#include "core/runtime.h"
#include "core/value.h"

namespace valk {
struct VM;
}

namespace valk::aio {

enum class State : uint8_t { Pending, Running, Completed, Failed, Cancelled };

enum class Kind : uint8_t {
  Value,       // pure / fail
  Then,        // (aio/then h f)
  Catch,       // (aio/catch h f)
  Finally,     // (aio/finally h f)
  Adopt,       // settles as another handle does (flattening)
  All,
  AllSettled,
  Race,
  Any,
  Sleep,       // timer: completes with `result` at its deadline
  Never,
  Interval,    // calls fn every period until cancelled or fn returns :stop
  Schedule,    // calls fn once at its deadline
  Within,      // input, or :timeout at the deadline
  Scope,
  Bracket,
  Pmap,        // parallel map with a concurrency limit
  Resume,      // aio/await in a reset: calls k with the outcome, any outcome
  External,    // settled by runtime code (servers, clients, ...)
  Native,      // runs a C++ callback when its input settles (servers, clients)
  Io,          // an operation of the runtime (a client transfer): ext is IoOps
  Shield,      // (aio/shield h): settles as h; cancelling it defers, never reaching h (sync.h)
};

struct Handle;

// A handle waiting on another: notified once, with its input index.
struct Waiter {
  Handle* target;
  uint32_t index;
  Waiter* next;
};

inline constexpr uint8_t kHandled = 1;      // a failure was observed
inline constexpr uint8_t kCancelling = 2;   // cancel requested, settling deferred
inline constexpr uint8_t kReported = 4;     // listed as an unhandled failure
inline constexpr uint8_t kStarted = 8;      // combinator has begun (callback ran)
inline constexpr uint8_t kDeciding = 16;    // settling: inputs it cancels are not news
inline constexpr uint8_t kDeadline = 32;    // timer armed at its context's deadline (context.h)

// Native: C++ code told when a handle settles. ctx may be cleared (set to
// nullptr) by its owner to stop the callback, e.g. when a stream is gone.
struct NativeWatch {
  void (*fn)(void* ctx, Handle* settled);
  void* ctx;
};

// Io: how to abort the operation when the handle is cancelled (cleared by
// the operation's owner once it has ended).
struct IoOps {
  void (*cancel)(void* ctx);
  void* ctx;
};

// ---- each kind's own state ------------------------------------------------------
// A handle carries the fields every kind shares, then exactly one of these,
// chosen by its kind (Handle::k below). No field has two meanings.

// then / catch / finally / resume / adopt: one input and a Lisp function
// (then's f, catch's f, finally's cleanup, resume's continuation), and the
// handle its callback returned, which it then settles as (adopt: only that).
struct StepState {
  Handle* input;
  Value fn;
  Handle* follows;
};
// all / all-settled / race / any: the inputs (the combinator's own list),
// one result slot per input, and how many are still to settle.
struct MultiState {
  Value inputs;
  Value* slots;
  uint32_t remaining;
};
// sleep / schedule / interval / within: the timer-heap entry, and what the
// timer does when it fires (one member per kind).
struct TimerState {
  uint32_t heap_index;  // position in the timer heap while armed
  union {
    Value sleep_value;     // sleep: the value to complete with
    struct {
      Value fn;
      Handle* follows;     // the handle fn returned, if still running
    } schedule;            // schedule: the function to call
    struct {
      Value fn;
      int64_t period_us;
    } interval;            // interval: the function and the time between ticks
    Handle* within_input;  // within: the handle being timed
  };
};
// scope: its children (every handle started on its behalf), its function,
// and the handle that function returned, if still running.
struct ScopeState {
  Handle* first_child;
  Value fn;
  Handle* follows;
};
// bracket: acquire -> use -> release, release exactly once. (Rare kinds
// keep their state out of line, so that every handle stays small.)
struct BracketState {
  Handle* acquire;   // the acquiring handle
  Handle* use;       // use's handle, once started
  Value use_fn;
  Value release;
  Value resource;    // what acquire produced
};
// parallel-map: items not started yet, the handles started, their results.
struct PmapState {
  Value fn;
  Value items;     // remaining items
  Value started;   // handles started so far (newest first)
  Value* results;  // one per item
  uint32_t next;   // index of the next item
  uint32_t limit;
  uint32_t active;
  uint32_t remaining;
};
// native: a C++ callback on one input.
struct NativeState {
  Handle* input;
  NativeWatch* watch;
};

// Laid out as an Opaque value (header, class) followed by the fields every
// kind shares, then the kind's own state.
struct Handle {
  // The first 8 bytes are an ObjHeader (type Opaque at byte 0, the id where
  // its `extra` is); the header's spare bytes hold state, kind and flags.
  Type type;
  State state;
  Kind kind;
  uint8_t flags;
  uint32_t id;
  const OpaqueClass* cls;  // the handle class (what makes it a handle)
  uint32_t dependents;  // waiters that are live handles (upstream cancel rule)
  uint32_t created_ms;  // coarse clock, for ages (wraps after 49 days)
  Value result;         // once settled: the value, or the failure (any value)
  Waiter* waiters;
  Value on_cancel;      // functions to call on cancellation, in order
  Handle* scope;        // the scope this handle belongs to, if any
  Value ctx;            // the request context it was created under (context.h), or nil
  Handle* live_prev;    // every unsettled handle is on the live list
  Handle* live_next;
  Handle* sib_prev;     // siblings within the owning scope
  Handle* sib_next;
  const Proto* src_proto;  // where it was created (for errors and aio/dump)
  const uint32_t* src_pc;
  union {  // the member named after the kind (kind_ops() says which)
    StepState step;
    MultiState multi;
    TimerState timer;
    ScopeState scope;
    BracketState* bracket;
    PmapState* pmap;
    NativeState native;
    IoOps io;
  } k;
};

// Every pending handle costs 144 bytes of the heap: keep it there. The
// collector adds one byte to each object (interior pointers are on) and
// rounds to 16, so a sizeof of 129 to 143 costs the same 144 bytes; 136 is
// the most a handle can be (it is 136 since Handle::ctx, which was free).
static_assert(sizeof(Handle) + 1 <= 144, "a handle grew: keep kinds' state small or out of line");
static_assert(offsetof(Handle, id) == offsetof(ObjHeader, extra), "the id is the header's extra");

inline uint32_t handle_id(const Handle* h) { return h->id; }
// Where h keeps the handle its callback's result is followed through (the
// kinds whose callback may return a running handle), else nullptr.
Handle** follows_slot(Handle* h);
inline bool is_timed(Kind k) {
  return k == Kind::Sleep || k == Kind::Schedule || k == Kind::Interval || k == Kind::Within;
}

// How each kind reacts (combinators.cpp, timers.cpp): one entry per Kind.
struct KindOps {
  const char* name;
  // An input settled (index: which input; 1 is a followed handle for the
  // kinds that adopt a callback's result).
  void (*input_settled)(VM& vm, Handle* h, uint32_t index, Handle* in);
  // Cancellation was requested: true when the handle settles later
  // (after a cleanup runs), false to settle it cancelled now.
  bool (*cancel_requested)(VM& vm, Handle* h);
  // The handles it waits on, for upstream cancellation (may be null).
  void (*for_each_input)(Handle* h, void (*fn)(Handle* in, void* ctx), void* ctx);
};
const KindOps& kind_ops(Kind k);

// Calls fn(ctx, in) once `in` settles (at once if it already has). The
// returned handle owns the watch: clear watch->ctx to detach.
Handle* watch(VM& vm, Handle* in, void (*fn)(void*, Handle*), void* ctx, NativeWatch** watch_out);

inline bool settled(const Handle* h) { return h->state >= State::Completed; }

bool is_handle(Value v);
Handle* as_handle(Value v);
inline Value handle_value(Handle* h) { return obj_val(h); }

// ---- creation -------------------------------------------------------------------
Handle* new_handle(VM& vm, Kind kind, State state = State::Pending);
Handle* pure(VM& vm, Value v);
Handle* fail(VM& vm, Value err);

// ---- settling ---------------------------------------------------------------------
// Each is a no-op on a settled handle. Notification of waiters is queued
// and processed before the outermost settle returns.
void complete(Handle* h, Value v);
void fail_with(Handle* h, Value err);
void cancel_settle(Handle* h);
// Settles `h` from the outcome of a callback: a handle is adopted, an error
// value fails, anything else completes.
void resolve(VM& vm, Handle* h, Value r);
// Requests cancellation (aio/cancel): true if h was not settled yet.
bool cancel(Handle* h);

// `target` waits on `input` (index for combinators).
void wait_on(Handle* target, Handle* input, uint32_t index);

// The outcome as a value: the value, or the failure as an error value
// (a cancelled handle gives an error that says so).
Value outcome(Handle* h);
// The failure of a failed handle as an error value.
Value failure_as_error(Handle* h);
void mark_handled(Handle* h);

// ---- jobs (Lisp callbacks) --------------------------------------------------------
enum class JobKind : uint8_t {
  Resolve,   // resolve target with the result
  Finally,   // after f: target takes its input's outcome, unless f failed
  Ignore,    // on-cancel callbacks, interval ticks: the result is dropped
  Release,   // bracket release ran: settle the bracket with its saved outcome
  Interval,  // an interval tick: :stop completes the interval
};
void queue_job(VM& vm, Value fn, Value args, Handle* target, JobKind kind);
bool have_jobs();
// True while a job runs: the driver (loop.h) cannot be started from one.
bool in_job();
// For the Lisp drain: runs the next job (as a tail call through the VM's
// job trampoline, which reports to job_done), or returns false if none.
Value run_next_job(VM& vm);
void job_done(VM& vm, Value token, Value result);
// A builtin's return: v itself when no job is queued, else a tail call that
// drains the queue and then yields v.
Value return_draining(VM& vm, Value v);

// ---- scopes ------------------------------------------------------------------------
Handle* current_scope();
void set_current_scope(Handle* s);
// When a scope's result is ready: cancel its unsettled children, then settle.
void scope_result(VM& vm, Handle* scope, Value r);

// ---- bookkeeping ------------------------------------------------------------------
using Counts = HandleCounts;  // (core/runtime.h)
const Counts& counts();
Handle* live_handles();  // the first unsettled handle (iterate live_next)
// Prints failures nobody handled (at exit). Returns how many.
int report_unhandled();
SrcLoc created_at(const Handle* h);

// Releases h's claim on one input: cancels it if nobody else waits on it.
void release_input(Handle* in);
// A finally's f or a bracket's release returned r: settle h when r (which
// may be a handle still running) is done.
void finish_after_cleanup(Handle* h, Value r);

// Combinator-specific notification (combinators.cpp).
void on_input_settled(VM& vm, Handle* target, uint32_t index, Handle* input);
// Kind-specific cancellation (stopping timers, deferring brackets).
bool on_cancel_requested(VM& vm, Handle* h);

}  // namespace valk::aio
