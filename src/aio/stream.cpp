// Byte streams (see stream.h).
#include "aio/stream.h"

#include <algorithm>
#include <cstring>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "core/printer.h"
#include "core/runtime.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

const OpaqueClass kStreamClass = {"stream", [](std::string& out, const Opaque* o) {
                                    auto* s = reinterpret_cast<const ByteStream*>(o->payload);
                                    out += "<stream ";
                                    out += s->ops && s->ops->kind ? s->ops->kind : "memory";
                                    out += ' ';
                                    out += std::to_string(s->id);
                                    out += ' ';
                                    out += end_name(s->end);
                                    if (s->end == StreamEnd::Open && s->close_requested) out += " closing";
                                    out += '>';
                                  }};

int64_t now_ms() { return now_us() / 1000; }

Value end_keyword(StreamEnd e) { return intern(std::string(":") + end_name(e)); }

// Runs a Lisp callback of the stream as a job; its failure is reported like
// any unhandled failure (the job's handle is nobody's input).
void queue_callback(Value fn, Value args) {
  if (!is_function(fn)) return;
  VM& vm = current_vm();
  Handle* h = new_handle(vm, Kind::Adopt);
  queue_job(vm, fn, args, h, JobKind::Resolve);
}

// Drain waiters, the on-drain callback, and a native producer: told once
// per crossing below `low`.
void fire_drain(ByteStream* s) {
  s->drain_armed = false;
  TracedVector<Handle*> ws;
  ws.swap(s->drain_waiters);
  for (Handle* h : ws) complete(h, stream_value(s));
  queue_callback(s->on_drain, kNil);
  if (s->native_drain.fn) s->native_drain.fn(s->native_drain.ctx, s);
}

// The queue's buffer is kept between writes (freeing and regrowing it for
// every chunk cost a third of a download's CPU); only one larger than a
// queue ever needs is given back. A stream's buffers go when it ends.
void compact(std::string& buf, size_t& off) {
  if (off == buf.size()) {
    buf.clear();
    off = 0;
    if (buf.capacity() > (4u << 20)) buf.shrink_to_fit();
  } else if (off > (64u << 10) && off * 2 > buf.size()) {
    buf.erase(0, off);
    off = 0;
  }
}

// Settles pending readers from what has arrived.
void serve_readers(ByteStream* s) {
  size_t taken = 0;
  while (!s->readers.empty()) {
    size_t avail = s->in.size() - s->in_off;
    if (avail == 0 && !s->in_ended) break;
    auto [h, max] = s->readers.front();
    s->readers.erase(s->readers.begin());
    if (settled(h)) continue;  // cancelled while waiting: it was handed nothing
    if (avail == 0) {
      if (s->in_error != kNil) fail_with(h, s->in_error);
      else complete(h, kNil);
      continue;
    }
    size_t n = std::min(avail, max);
    Value chunk = make_string(std::string_view(s->in.data() + s->in_off, n));
    s->in_off += n;
    taken += n;
    complete(h, chunk);
  }
  compact(s->in, s->in_off);
  if (taken && s->transport && s->ops && s->ops->consumed) s->ops->consumed(s, taken);
  if (taken && is_memory(s)) after_take(s);
}

void serve_whole_readers(ByteStream* s) {
  if (s->whole_readers.empty()) return;
  size_t avail = s->in.size() - s->in_off;
  if (avail > s->whole_limit) {
    Value err = make_error("stream/read-all: more than " + std::to_string(s->whole_limit) +
                           " bytes");
    for (Handle* h : s->whole_readers) fail_with(h, err);
    s->whole_readers.clear();
    return;
  }
  if (!s->in_ended) {
    // Everything buffered is taken for the whole read: let more arrive.
    return;
  }
  Value whole = s->in_error != kNil ? s->in_error
                                    : make_string(std::string_view(s->in.data() + s->in_off, avail));
  TracedVector<Handle*> ws;
  ws.swap(s->whole_readers);
  for (Handle* h : ws) {
    if (s->in_error != kNil) fail_with(h, whole);
    else complete(h, whole);
  }
  s->in_off = s->in.size();
  compact(s->in, s->in_off);
}

void arm_timer(ByteStream* s);

void on_timer(void* ctx, Handle*) {
  auto* s = static_cast<ByteStream*>(ctx);
  s->timer = nullptr;
  s->timer_watch = nullptr;
  if (s->end != StreamEnd::Open) return;
  int64_t now = now_ms();
  bool idle = s->idle_timeout_ms > 0 && now - s->last_write_ms >= s->idle_timeout_ms;
  bool session = s->max_session_ms > 0 && now - s->opened_ms >= s->max_session_ms;
  if (idle || session) {
    // Ends gracefully: what is queued is still sent, then the end of the
    // body (an SSE client reconnects on its own).
    if (s->transport && s->ops && s->ops->abort) s->ops->abort(s, StreamEnd::Timeout);
    else ended(s, StreamEnd::Timeout);
    return;
  }
  arm_timer(s);
}

void arm_timer(ByteStream* s) {
  if (s->end != StreamEnd::Open) return;
  if (s->timer_watch) {  // re-armed: the old timer is dropped
    s->timer_watch->ctx = nullptr;
    cancel(s->timer);
    s->timer = nullptr;
    s->timer_watch = nullptr;
  }
  int64_t now = now_ms(), due = INT64_MAX;
  if (s->idle_timeout_ms > 0) due = std::min(due, s->last_write_ms + s->idle_timeout_ms);
  if (s->max_session_ms > 0) due = std::min(due, s->opened_ms + s->max_session_ms);
  if (due == INT64_MAX) return;
  VM& vm = current_vm();
  Handle* sl = sleep(vm, std::max<int64_t>(0, due - now), kNil);
  s->timer = sl;
  watch(vm, sl, on_timer, s, &s->timer_watch);
}

}  // namespace

const char* end_name(StreamEnd e) {
  switch (e) {
    case StreamEnd::Open: return "open";
    case StreamEnd::Closed: return "closed";
    case StreamEnd::Reset: return "reset";
    case StreamEnd::Cancelled: return "cancelled";
    case StreamEnd::Timeout: return "timeout";
  }
  return "?";
}

ByteStream* new_stream(const StreamTransport* ops, void* transport, bool writable, bool readable) {
  static int64_t next_id = 0;
  ByteStream* s = gc_new_finalized<ByteStream>();
  s->base.h = {Type::Opaque, 0, 0, 0};
  s->base.cls = &kStreamClass;
  s->base.payload = s;
  s->ops = ops;
  s->transport = transport;
  s->id = ++next_id;
  s->writable = writable;
  s->readable = readable;
  s->opened_ms = s->last_write_ms = now_ms();
  return s;
}

bool is_stream(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kStreamClass;
}
ByteStream* as_stream(Value v) { return static_cast<ByteStream*>(reinterpret_cast<Opaque*>(v)->payload); }

// A memory stream (no transport, both sides) queues its writes for its
// reader: the unread bytes are its queue.
bool is_memory(const ByteStream* s) { return !s->ops && s->writable && s->readable; }

size_t queued(const ByteStream* s) {
  return is_memory(s) ? s->in.size() - s->in_off : s->out.size() - s->out_off;
}

bool writable_now(const ByteStream* s) {
  return s->writable && s->end == StreamEnd::Open && !s->close_requested && queued(s) < s->high;
}

bool write(ByteStream* s, std::string_view data, std::string* why) {
  if (!s->writable) {
    *why = "the stream is not writable";
    return false;
  }
  if (s->end != StreamEnd::Open || s->close_requested) {
    *why = std::string("the stream is ") + (s->end == StreamEnd::Open ? "closing" : end_name(s->end));
    return false;
  }
  // An empty queue takes a write of any size, so that no write is refused
  // for ever; otherwise the queue stays under `high`.
  if (queued(s) > 0 && queued(s) + data.size() > s->high) {
    *why = "queue full (backpressure): wait for stream/drain";
    return false;
  }
  s->last_write_ms = now_ms();
  if (is_memory(s)) {
    push(s, data.data(), data.size());
    if (queued(s) >= s->low) s->drain_armed = true;
    return true;
  }
  s->out.append(data);
  if (queued(s) >= s->low) s->drain_armed = true;
  if (s->transport && s->ops && s->ops->wake) s->ops->wake(s);
  return true;
}

void close(ByteStream* s) {
  if (s->end != StreamEnd::Open || s->close_requested) return;
  s->close_requested = true;
  if (is_memory(s)) {  // the reader gets what is left, then the end
    push_end(s, kNil);
    ended(s, StreamEnd::Closed);
    return;
  }
  if (!s->writable) {  // a source only: closing it is the end
    ended(s, StreamEnd::Closed);
    return;
  }
  if (s->transport && s->ops && s->ops->wake) s->ops->wake(s);
  else if (!s->transport) ended(s, StreamEnd::Closed);
}

void cancel_stream(ByteStream* s, StreamEnd why) {
  if (s->end != StreamEnd::Open) return;
  s->out.clear();
  s->out_off = 0;
  if (s->transport && s->ops && s->ops->abort) s->ops->abort(s, why);
  ended(s, why);  // (a no-op if abort already ended it)
}

Handle* drain(VM& vm, ByteStream* s) {
  if (s->end != StreamEnd::Open) {  // as for a drain pending when the stream ends
    Handle* h = new_handle(vm, Kind::External, State::Running);
    cancel_settle(h);
    return h;
  }
  if (queued(s) < s->low) return pure(vm, stream_value(s));
  Handle* h = new_handle(vm, Kind::External, State::Running);
  s->drain_waiters.push_back(h);
  return h;
}

Handle* closed_handle(VM& vm, ByteStream* s) {
  if (!s->closed) {
    s->closed = new_handle(vm, Kind::External, State::Running);
    if (s->end != StreamEnd::Open) complete(s->closed, end_keyword(s->end));
  }
  return s->closed;
}

Handle* read(VM& vm, ByteStream* s, size_t max) {
  // Cancelling a pending read needs no work: the reader list skips settled
  // handles, and data is only taken by the read it is handed to, so none
  // is lost or handed twice.
  Handle* h = new_handle(vm, Kind::Io, State::Running);
  h->k.io = {nullptr, nullptr};
  if (!s->readable) {
    fail_with(h, make_error("stream/read: the stream is not readable"));
    return h;
  }
  s->readers.push_back({h, std::max<size_t>(1, max)});
  serve_readers(s);
  return h;
}

Handle* read_all(VM& vm, ByteStream* s, size_t limit) {
  Handle* h = new_handle(vm, Kind::External, State::Running);
  if (!s->readable) {
    fail_with(h, make_error("stream/read-all: the stream is not readable"));
    return h;
  }
  s->whole_limit = limit;
  s->whole_readers.push_back(h);
  size_t avail = s->in.size() - s->in_off;
  if (avail && s->transport && s->ops && s->ops->consumed && !s->in_ended) {
    // The buffered bytes belong to the whole read now: open the window.
    s->ops->consumed(s, avail);
  }
  serve_whole_readers(s);
  return h;
}

void set_idle_timeout(VM&, ByteStream* s, int64_t ms) {
  s->idle_timeout_ms = std::max<int64_t>(0, ms);
  s->last_write_ms = now_ms();
  arm_timer(s);
}

void set_max_session(VM&, ByteStream* s, int64_t ms) {
  s->max_session_ms = std::max<int64_t>(0, ms);
  arm_timer(s);
}

// ---- transport side ---------------------------------------------------------------------

size_t take(ByteStream* s, char* buf, size_t max, bool* eof) {
  size_t n = std::min(max, queued(s));
  if (n) memcpy(buf, s->out.data() + s->out_off, n);
  s->out_off += n;
  compact(s->out, s->out_off);
  *eof = s->close_requested && queued(s) == 0;
  return n;
}

void after_take(ByteStream* s) {
  if (s->end != StreamEnd::Open || queued(s) >= s->low) return;
  if (s->drain_armed || !s->drain_waiters.empty()) fire_drain(s);
}

void push_quietly(ByteStream* s, const char* data, size_t n) {
  if (s->in_ended) return;
  s->in.append(data, n);
  s->in_quiet += n;
}

void deliver(ByteStream* s) {
  size_t n = s->in_quiet;
  s->in_quiet = 0;
  if (s->in_ended || n == 0) return;
  serve_readers(s);
  if (!s->whole_readers.empty()) {
    if (s->transport && s->ops && s->ops->consumed) s->ops->consumed(s, n);
    serve_whole_readers(s);
  }
}

void push(ByteStream* s, const char* data, size_t n) {
  if (s->in_ended) return;
  s->in.append(data, n);
  s->in_quiet += n;
  deliver(s);
}

void push_end(ByteStream* s, Value err) {
  if (s->in_ended) return;
  deliver(s);
  s->in_ended = true;
  s->in_error = err;
  serve_readers(s);
  serve_whole_readers(s);
}

void ended(ByteStream* s, StreamEnd why) {
  if (s->end != StreamEnd::Open) return;
  s->end = why;
  s->transport = nullptr;
  s->out.clear();
  s->out.shrink_to_fit();
  s->out_off = 0;
  if (s->timer_watch) {
    s->timer_watch->ctx = nullptr;
    cancel(s->timer);
    s->timer = nullptr;
    s->timer_watch = nullptr;
  }
  // A producer waiting for room is cancelled: there is nowhere to write.
  TracedVector<Handle*> ws;
  ws.swap(s->drain_waiters);
  for (Handle* h : ws) cancel(h);
  if (s->readable && !s->in_ended)
    push_end(s, why == StreamEnd::Closed ? kNil
                                         : make_error(std::string("stream/read: the stream ended (") +
                                                      end_name(why) + ")"));
  if (s->closed) complete(s->closed, end_keyword(why));
  queue_callback(s->on_close, kNil);
  s->on_drain = kNil;
  s->on_close = kNil;
  if (s->native_end.fn) s->native_end.fn(s->native_end.ctx, s);
}

}  // namespace valk::aio
