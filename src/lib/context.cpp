// Request contexts for Lisp (docs/async.md#request-contexts-and-deadlines):
// ctx/get, ctx/locals, ctx/deadline, ctx/deadline-exceeded?, trace/id,
// trace/span, trace/parent-span, and the helpers that make the context of
// the special forms ctx/with and ctx/with-deadline and make it current for
// their body (src/core/compiler.cpp).
#include <cmath>

#include "aio/clock.h"
#include "aio/context.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using namespace aio;

// (%ctx-deadline ms): a child of the current context whose deadline is ms
// from now (or the current one's, if earlier).
Value b_ctx_deadline_make(VM&, Value* args, int) {
  VALK_CHECK(is_number(args[0]), "ctx/with-deadline", 0, "a number of milliseconds");
  double ms = num_as_double(args[0]);
  if (std::isnan(ms)) return bad_arg("ctx/with-deadline", 0, "a number of milliseconds", args[0]);
  int64_t us;
  if (ms <= 0) us = 0;
  else if (ms >= double(kMaxDelayUs / 1000)) us = kMaxDelayUs;
  else us = int64_t(ms * 1000);
  // A deadline of 0 ms is one that has already passed (now), not "none".
  int64_t at = now_us() + us;
  if (at <= 0) at = 1;
  return make_context(current_context(), at, kNil);
}

// (%ctx-local key v): a child of the current context with key bound to v.
Value b_ctx_local(VM&, Value* args, int) {
  if (is_error(args[0])) return args[0];
  if (is_error(args[1])) return args[1];
  return make_context(current_context(), 0, cons(args[0], cons(args[1], kNil, true), true));
}

// (%ctx-enter ctx): ctx is current; the previous context (an error for ctx
// is returned as is, nothing changed).
Value b_ctx_enter(VM&, Value* args, int) {
  if (is_error(args[0])) return args[0];
  if (!is_context(args[0])) return bad_arg("%ctx-enter", 0, "a context", args[0]);
  return set_current_context(args[0]);
}
// (%ctx-leave previous r): previous is current again; r. An error as the
// previous context is what %ctx-enter was given: the result.
Value b_ctx_leave(VM&, Value* args, int) {
  if (is_error(args[0])) return args[0];
  set_current_context(args[0]);
  return args[1];
}

Value b_ctx_get(VM&, Value* args, int) {
  Value ctx = current_context();
  if (!is_context(ctx)) return kNil;
  for (Value p = as_context(ctx)->locals; is_cons(p) && is_cons(cdr(p)); p = cdr(cdr(p)))
    if (values_equal(car(p), args[0])) return car(cdr(p));
  return kNil;
}

Value b_ctx_locals(VM&, Value*, int) {
  Value ctx = current_context();
  return is_context(ctx) ? as_context(ctx)->locals : kNil;
}

// (ctx/deadline): the milliseconds left, rounded up (so 0 only once it has
// passed); 0 when there is no deadline.
Value b_ctx_deadline(VM&, Value*, int) {
  int64_t left = remaining_us(current_context());
  if (left <= 0) return make_fix(0);
  return make_int((left + 999) / 1000);
}

Value b_ctx_exceeded(VM&, Value*, int) {
  Value ctx = current_context();
  return make_bool(context_deadline(ctx) != 0 && remaining_us(ctx) == 0);
}

// (ctx/current): the current context value, or nil.
Value b_ctx_current(VM&, Value*, int) { return current_context(); }

Value b_trace_id(VM&, Value*, int) {
  Value ctx = current_context();
  return is_context(ctx) ? make_string(trace_id_hex(ctx)) : kNil;
}
Value b_trace_span(VM&, Value*, int) {
  Value ctx = current_context();
  return is_context(ctx) ? make_string(span_id_hex(as_context(ctx)->span_id)) : kNil;
}
Value b_trace_parent_span(VM&, Value*, int) {
  Value ctx = current_context();
  if (!is_context(ctx) || as_context(ctx)->parent_span_id == 0) return kNil;
  return make_string(span_id_hex(as_context(ctx)->parent_span_id));
}
// (trace/traceparent): the W3C traceparent header value of the current
// context, or nil.
Value b_traceparent(VM&, Value*, int) {
  Value ctx = current_context();
  return is_context(ctx) ? make_string(traceparent(ctx)) : kNil;
}

}  // namespace

void open_context(VM&) {
  define("%ctx-deadline", b_ctx_deadline_make, 1, 1);
  define("%ctx-local", b_ctx_local, 2, 2);
  define("%ctx-enter", b_ctx_enter, 1, 1);
  define("%ctx-leave", b_ctx_leave, 2, 2);
  define("ctx/get", b_ctx_get, 1, 1);
  define("ctx/locals", b_ctx_locals, 0, 0);
  define("ctx/deadline", b_ctx_deadline, 0, 0);
  define("ctx/deadline-exceeded?", b_ctx_exceeded, 0, 0);
  define("ctx/current", b_ctx_current, 0, 0);
  define("trace/id", b_trace_id, 0, 0);
  define("trace/span", b_trace_span, 0, 0);
  define("trace/parent-span", b_trace_parent_span, 0, 0);
  define("trace/traceparent", b_traceparent, 0, 0);
}

}  // namespace valk
