// The stream/* builtins (docs/streams.md): the program's side of a byte
// stream, whatever carries it (stream/open, in http_builtins.cpp, makes an
// HTTP/2 response stream; req/body-stream a request body's).
#include <string>

#include "aio/handle.h"
#include "aio/stream.h"
#include "core/printer.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using aio::ByteStream;

#define STREAM(fn)                                                                   \
  if (!aio::is_stream(args[0])) return bad_arg(fn, 0, "a stream", args[0]);          \
  ByteStream* s = aio::as_stream(args[0])

// (stream/write s data) => the byte count, or an error value when the
// stream is closed or its queue is full (wait for stream/drain).
Value b_write(VM&, Value* args, int) {
  STREAM("stream/write");
  VALK_CHECK(is_string(args[1]), "stream/write", 1, "a string");
  std::string why;
  if (!aio::write(s, as_string(args[1])->view(), &why)) return make_error("stream/write: " + why);
  return make_fix(int64_t(as_string(args[1])->len));
}

// (stream/writable? s): open and under its high watermark.
Value b_writable(VM&, Value* args, int) {
  if (!aio::is_stream(args[0])) return is_error(args[0]) ? args[0] : kFalse;
  return make_bool(aio::writable_now(aio::as_stream(args[0])));
}

// (stream/close s) => the closed handle: the end is sent after what is queued.
Value b_close(VM& vm, Value* args, int) {
  STREAM("stream/close");
  aio::Handle* h = aio::closed_handle(vm, s);
  aio::close(s);
  return aio::return_draining(vm, aio::handle_value(h));
}

// (stream/closed s) => a handle completing with how the stream ended:
// :closed, :reset, :cancelled or :timeout.
Value b_closed(VM& vm, Value* args, int) {
  STREAM("stream/closed");
  return aio::handle_value(aio::closed_handle(vm, s));
}

// (stream/cancel s) => the closed handle: ends now (a reset), dropping the queue.
Value b_cancel(VM& vm, Value* args, int) {
  STREAM("stream/cancel");
  aio::Handle* h = aio::closed_handle(vm, s);
  aio::cancel_stream(s, aio::StreamEnd::Cancelled);
  return aio::return_draining(vm, aio::handle_value(h));
}

// (stream/drain s) => a handle completing with s once its queue is below
// the low watermark (at once if it is); cancelled if the stream ends first.
Value b_drain(VM& vm, Value* args, int) {
  STREAM("stream/drain");
  return aio::handle_value(aio::drain(vm, s));
}

Value callback_setter(Value* args, const char* fn, Value ByteStream::*slot) {
  STREAM(fn);
  if (!is_function(args[1])) return bad_arg(fn, 1, "a function", args[1]);
  if (s->end != aio::StreamEnd::Open)
    return make_error(std::string(fn) + ": the stream has ended (" + aio::end_name(s->end) + ")");
  s->*slot = args[1];
  return args[0];
}

// (stream/on-drain s f): f is called (no arguments) each time the queue
// falls below the low watermark after having reached it.
Value b_on_drain(VM&, Value* args, int) {
  return callback_setter(args, "stream/on-drain", &ByteStream::on_drain);
}
// (stream/on-close s f): f is called once when the stream ends, however.
Value b_on_close(VM&, Value* args, int) {
  return callback_setter(args, "stream/on-close", &ByteStream::on_close);
}

Value ms_setter(VM& vm, Value* args, const char* fn, void (*set)(VM&, ByteStream*, int64_t)) {
  STREAM(fn);
  if (!is_int(args[1]) || int_val(args[1]) < 0)
    return bad_arg(fn, 1, "a number of milliseconds (0 for none)", args[1]);
  set(vm, s, int_val(args[1]));
  return aio::return_draining(vm, args[0]);
}
// (stream/set-timeout s ms): ends the stream after ms without a write.
Value b_set_timeout(VM& vm, Value* args, int) {
  return ms_setter(vm, args, "stream/set-timeout", aio::set_idle_timeout);
}
// (stream/set-max-session s ms): ends the stream ms after it opened.
Value b_set_max_session(VM& vm, Value* args, int) {
  return ms_setter(vm, args, "stream/set-max-session", aio::set_max_session);
}

// (stream/set-watermarks s high [low]): the queue's bounds for this stream
// (low defaults to a quarter of high).
Value b_set_watermarks(VM&, Value* args, int argc) {
  STREAM("stream/set-watermarks");
  VALK_CHECK(is_int(args[1]) && int_val(args[1]) > 0, "stream/set-watermarks", 1, "a positive byte count");
  size_t high = size_t(int_val(args[1])), low = high / 4;
  if (argc > 2) {
    VALK_CHECK(is_int(args[2]) && int_val(args[2]) >= 0 && size_t(int_val(args[2])) <= high,
               "stream/set-watermarks", 2, "a low watermark at most the high one");
    low = size_t(int_val(args[2]));
  }
  s->high = high;
  s->low = low;
  aio::after_take(s);  // a drain may be due under the new low watermark
  return args[0];
}

Value b_id(VM&, Value* args, int) {
  STREAM("stream/id");
  return make_fix(s->id);
}

// (stream/read s [max]) => a handle of the next chunk (a string of at most
// max bytes, default 64 KiB), or nil at the end.
Value b_read(VM& vm, Value* args, int argc) {
  STREAM("stream/read");
  size_t max = 64u << 10;
  if (argc > 1) {
    VALK_CHECK(is_int(args[1]) && int_val(args[1]) > 0, "stream/read", 1, "a positive byte count");
    max = size_t(int_val(args[1]));
  }
  return aio::return_draining(vm, aio::handle_value(aio::read(vm, s, max)));
}

// (stream/read-all s [limit]) => a handle of everything up to the end.
Value b_read_all(VM& vm, Value* args, int argc) {
  STREAM("stream/read-all");
  size_t limit = SIZE_MAX;
  if (argc > 1) {
    VALK_CHECK(is_int(args[1]) && int_val(args[1]) >= 0, "stream/read-all", 1, "a byte limit");
    limit = size_t(int_val(args[1]));
  }
  return aio::return_draining(vm, aio::handle_value(aio::read_all(vm, s, limit)));
}

// (stream/state s) => :open, :closing, :closed, :reset, :cancelled or :timeout.
Value b_state(VM&, Value* args, int) {
  STREAM("stream/state");
  if (s->end == aio::StreamEnd::Open && s->close_requested) return intern(":closing");
  return intern(std::string(":") + aio::end_name(s->end));
}

Value b_queued(VM&, Value* args, int) {
  STREAM("stream/queued");
  return make_fix(int64_t(aio::queued(s)));
}

Value b_is_stream(VM&, Value* args, int) { return make_bool(aio::is_stream(args[0])); }

// (stream/memory [high [low]]): a stream whose reader gets what its writer
// wrote, with the same watermarks and events as any other (tests, and
// handing bytes between two tasks).
Value b_memory(VM&, Value* args, int argc) {
  ByteStream* s = aio::new_stream(nullptr, nullptr, true, true);
  if (argc > 0) {
    VALK_CHECK(is_int(args[0]) && int_val(args[0]) > 0, "stream/memory", 0, "a positive byte count");
    s->high = size_t(int_val(args[0]));
    s->low = s->high / 4;
  }
  if (argc > 1) {
    VALK_CHECK(is_int(args[1]) && int_val(args[1]) >= 0 && size_t(int_val(args[1])) <= s->high,
               "stream/memory", 1, "a low watermark at most the high one");
    s->low = size_t(int_val(args[1]));
  }
  return aio::stream_value(s);
}

}  // namespace

// (stream/pipe src dst [opts]) => a handle of the byte count: src copied into
// dst with backpressure, dst closed at the end (opts {:end false}: left open).
Value b_pipe(VM& vm, Value* args, int argc) {
  if (!aio::is_stream(args[0])) return bad_arg("stream/pipe", 0, "a stream", args[0]);
  if (!aio::is_stream(args[1])) return bad_arg("stream/pipe", 1, "a stream", args[1]);
  bool close_dst = true;
  if (argc > 2 && args[2] != kNil) {
    VALK_CHECK(is_list(args[2]), "stream/pipe", 2, "an options plist");
    Value e = plist_lookup(args[2], intern(":end"));
    if (e != kUnbound) close_dst = truthy(e);
  }
  return aio::return_draining(
      vm, aio::handle_value(aio::pipe(vm, aio::as_stream(args[0]), aio::as_stream(args[1]), close_dst)));
}

void open_streams(VM& vm) {
  define("stream/pipe", guarded<b_pipe>, 2, 3);
  define("stream/write", guarded<b_write>, 2, 2);
  define("stream/writable?", b_writable, 1, 1);
  define("stream/close", guarded<b_close>, 1, 1);
  define("stream/closed", guarded<b_closed>, 1, 1);
  define("stream/cancel", guarded<b_cancel>, 1, 1);
  define("stream/drain", guarded<b_drain>, 1, 1);
  define("stream/on-drain", b_on_drain, 2, 2);
  define("stream/on-close", b_on_close, 2, 2);
  define("stream/set-timeout", guarded<b_set_timeout>, 2, 2);
  define("stream/set-max-session", guarded<b_set_max_session>, 2, 2);
  define("stream/id", b_id, 1, 1);
  define("stream/set-watermarks", guarded<b_set_watermarks>, 2, 3);
  define("stream/read", guarded<b_read>, 1, 2);
  define("stream/read-all", guarded<b_read_all>, 1, 2);
  define("stream/state", b_state, 1, 1);
  define("stream/queued", b_queued, 1, 1);
  define("stream?", b_is_stream, 1, 1);
  define("stream/memory", guarded<b_memory>, 0, 2);
}

}  // namespace valk
