// Async handles: the one abstraction of the async runtime (SPEC 2.2-2.3).
//
// A handle settles exactly once: Pending -> Running -> Completed | Failed |
// Cancelled. Everything that waits on a handle is a Waiter on it; when the
// handle settles, its waiters are notified through a work list, never by
// recursion, so chains of any length settle and cancel in constant C stack.
//
// Lisp callbacks (then's f, finally's f, on-cancel functions, ...) never run
// from C++ directly: they become Jobs in a queue that Lisp code drains
// (%aio-drain in lib/valk/aio.valk). A builtin that queued jobs returns
// through the drain as a tail call, so "settles during the call" holds and
// no C++ frame sits between two Lisp calls.
#pragma once

#include <cstdint>

#include "core/proto.h"
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

// Laid out as an Opaque value (header, class) followed by the handle's own
// fields; about 140 bytes, plus what a kind keeps in `ext`.
struct Handle {
  ObjHeader h;             // Type::Opaque; h.extra holds the id
  const OpaqueClass* cls;  // the handle class (what makes it a handle)
  State state;
  Kind kind;
  uint8_t flags;
  uint8_t pad;
  uint32_t remaining;   // inputs still to settle (all, any, all-settled, pmap);
                        // timed kinds: position in the timer heap
  uint32_t dependents;  // waiters that are live handles (upstream cancel rule)
  uint32_t created_ms;  // coarse clock, for ages (wraps after 49 days)
  Value result;         // the value, or the failure (any value)
  Value fn;             // callback: then/catch/finally f, bracket use, timer fn or value
  Value data;           // input(s): a handle, or a list of handles
  Waiter* waiters;
  Value on_cancel;      // functions to call on cancellation, in order
  Handle* scope;        // the scope this handle belongs to, if any
  Handle* live_prev;    // every unsettled handle is on the live list
  Handle* live_next;
  Handle* sib_prev;     // siblings within the owning scope
  Handle* sib_next;
  void* ext;            // per kind: result slots (all, any, all-settled),
                        // PmapState, BracketState, a scope's first child
  const Proto* src_proto;  // where it was created (for errors and aio/dump)
  const uint32_t* src_pc;
};

inline uint32_t handle_id(const Handle* h) { return h->h.extra; }
inline bool is_timed(Kind k) {
  return k == Kind::Sleep || k == Kind::Schedule || k == Kind::Interval || k == Kind::Within;
}
inline Handle*& first_child(Handle* scope) { return reinterpret_cast<Handle*&>(scope->ext); }
// Native: C++ code told when a handle settles. ctx may be cleared (set to
// nullptr) by its owner to stop the callback, e.g. when a stream is gone.
struct NativeWatch {
  void (*fn)(void* ctx, Handle* settled);
  void* ctx;
};
// Calls fn(ctx, in) once `in` settles (at once if it already has). The
// returned handle owns the watch: clear watch->ctx to detach.
Handle* watch(VM& vm, Handle* in, void (*fn)(void*, Handle*), void* ctx, NativeWatch** watch_out);

// Io: how to abort the operation when the handle is cancelled.
struct IoOps {
  void (*cancel)(void* ctx);
  void* ctx;
};

// Bracket: the release function (what `use` and `acquire` need lives in
// fn / data / result).
struct BracketState {
  Value release;
};

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
struct Counts {
  uint64_t created, completed, failed, cancelled;
  uint64_t pending;  // unsettled now
};
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
