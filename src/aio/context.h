// Request contexts (docs/async.md#request-contexts-and-deadlines).
//
// A context is an immutable Lisp value: a deadline, locals (a plist) and
// trace ids. The current one is rt().async.context (nil: none). Every handle
// records the context it was created under (Handle::ctx) and every job runs
// under its target's (or, without a target, the one current when it was
// queued), restoring the previous one after, so a context follows async work.
// Timers armed under a deadline never wait past it: they fail with
// deadline_error() instead (timers.cpp).
//
// For the HTTP server, per request (tp: the request's traceparent header or
// ""; deadline_us: now_us() + the handler's time limit, or the caller's
// x-valk-deadline-ms if sooner; 0 for none):
//   Value ctx = aio::make_context(aio::context_from_traceparent(tp), deadline_us, kNil);
//   aio::with_context(ctx, [&] { h = new_handle(...); queue_job(vm, fn, args, h, kind); });
// The handler, and every handle and callback it creates, then run under ctx.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/runtime.h"
#include "core/value.h"

namespace valk {
struct VM;
}
namespace valk::http {
struct ClientRequest;
}

namespace valk::aio {

struct Handle;

struct Context {
  Opaque base;          // an Opaque value of the context class; payload is this
  Value locals;         // plist, the newest binding first
  int64_t deadline_us;  // absolute, on now_us()'s clock (virtual in tests); 0: none
  uint64_t trace_hi, trace_lo;  // the 128-bit trace id (never both 0)
  uint64_t span_id;             // never 0
  uint64_t parent_span_id;      // 0: none
};

bool is_context(Value v);
inline Context* as_context(Value v) { return reinterpret_cast<Context*>(v); }

inline Value current_context() { return rt().async.context; }
// Sets the current context (nil or a context); returns the previous one.
Value set_current_context(Value ctx);

// A child of parent (nil: a fresh trace with a new span): the parent's trace
// and span ids, its locals with `locals` (a plist) bound over them, and the
// earlier of its deadline and deadline_us (0: no deadline of its own).
Value make_context(Value parent, int64_t deadline_us, Value locals);
// The same context with no deadline (ctx itself if it has none): what an
// HTTP handler runs under once its response stream is open.
Value without_deadline(Value ctx);
// A child of parent in a new span (its parent span is parent's span).
Value new_span(Value parent);
// A context continuing the trace of a W3C traceparent header
// ("00-<32 hex>-<16 hex>-<2 hex>") in a new span; a fresh trace if the
// header is missing or malformed.
Value context_from_traceparent(std::string_view header);

// Runs f with ctx current, then restores the previous context.
template <class F>
void with_context(Value ctx, F&& f) {
  Value before = set_current_context(ctx);
  f();
  set_current_context(before);
}

// The context's deadline: -1 if it has none (or ctx is nil), else the
// microseconds left (0 once passed).
int64_t remaining_us(Value ctx);
inline int64_t context_deadline(Value ctx) {
  return is_context(ctx) ? as_context(ctx)->deadline_us : 0;
}
// The failure of work cut off by a deadline: the error "deadline exceeded".
Value deadline_error();
bool is_deadline_error(Value v);

std::string trace_id_hex(Value ctx);  // 32 hex digits
std::string span_id_hex(uint64_t span);  // 16 hex digits
// "00-<trace id>-<span id>-01"
std::string traceparent(Value ctx);

// The header fetch sends with the time left (milliseconds, rounded down).
inline constexpr const char* kDeadlineHeader = "x-valk-deadline-ms";
// The deadline an incoming x-valk-deadline-ms value asks for: now_us() plus
// that many milliseconds, or 0 when it is not a whole number of them.
int64_t deadline_from_header(std::string_view ms);
// Under the current context: caps req's timeouts at the time left (+100 ms: the
// deadline itself is enforced by fetch_in_context's timer) and adds
// x-valk-deadline-ms and traceparent (unless req sets them). Returns the
// microseconds left, or -1 when there is no deadline.
int64_t apply_context_to_request(http::ClientRequest& req);
// http::fetch under the current context: the request as above, and under a
// deadline the transfer is cut off at it (the handle fails with
// deadline_error() and the transfer is aborted).
Handle* fetch_in_context(VM& vm, http::ClientRequest& req);

}  // namespace valk::aio
