// stream/pipe (see stream.h): a copy loop in C++ driven by native watches,
// so that no Lisp runs per chunk and a cancelled read loses nothing (the
// stream's own rule: a read that was cancelled was handed no bytes).
#include <algorithm>

#include "aio/combinators.h"
#include "aio/stream.h"
#include "core/gc.h"
#include "core/vm.h"

namespace valk::aio {

namespace {

// Pinned: the watches point at it.
struct Pipe {
  Handle* h;
  ByteStream* src;
  ByteStream* dst;
  bool close_dst;
  int64_t total = 0;
  Handle* pending = nullptr;  // the read, drain or close being waited on
  NativeWatch* watch = nullptr;
  Value held = kNil;          // a chunk read that dst could not take yet
};

void step(Pipe* p);

void done(Pipe* p) {
  if (p->watch) p->watch->ctx = nullptr;
  p->watch = nullptr;
  p->h->k.io = {nullptr, nullptr};
  gc_delete_pinned(p);
}

void stop(void* ctx) {  // the pipe's handle was cancelled
  auto* p = static_cast<Pipe*>(ctx);
  Handle* pending = p->pending;
  if (p->watch) p->watch->ctx = nullptr;
  p->watch = nullptr;
  p->pending = nullptr;
  if (pending) cancel(pending);
  // A chunk already read from src goes to dst if it can take it, so that
  // stopping loses no byte that dst has room for.
  if (p->held != kNil) {
    std::string why;
    write(p->dst, as_string(p->held)->view(), &why);
  }
  gc_delete_pinned(p);
}

void wait(Pipe* p, Handle* h, void (*fn)(void*, Handle*)) {
  p->pending = h;
  watch(current_vm(), h, fn, p, &p->watch);
}

void on_closed(void* ctx, Handle* h) {
  auto* p = static_cast<Pipe*>(ctx);
  p->watch = nullptr;
  p->pending = nullptr;
  Handle* out = p->h;
  Value r = h->result;
  int64_t total = p->total;
  done(p);
  if (r == intern(":closed")) complete(out, make_fix(total));
  else fail_with(out, make_error(std::string("stream/pipe: the destination ended (") +
                                 (is_keyword(r) ? std::string(as_symbol(r)->view()) : "?") + ")"));
}

void dst_gone(Pipe* p) {
  Handle* out = p->h;
  std::string why = std::string("stream/pipe: the destination ended (") + end_name(p->dst->end) + ")";
  done(p);
  fail_with(out, make_error(why));
}

void on_drained(void* ctx, Handle* h) {
  auto* p = static_cast<Pipe*>(ctx);
  p->watch = nullptr;
  p->pending = nullptr;
  if (h->state != State::Completed) return dst_gone(p);
  step(p);
}

void on_chunk(void* ctx, Handle* h) {
  auto* p = static_cast<Pipe*>(ctx);
  p->watch = nullptr;
  p->pending = nullptr;
  if (h->state == State::Failed) {
    Handle* out = p->h;
    Value err = failure_as_error(h);
    mark_handled(h);
    done(p);
    fail_with(out, err);
    return;
  }
  if (h->state != State::Completed) return dst_gone(p);  // (not expected: nobody else cancels it)
  Value chunk = h->result;
  if (chunk == kNil) {  // src ended
    if (!p->close_dst) {
      Handle* out = p->h;
      int64_t total = p->total;
      done(p);
      complete(out, make_fix(total));
      return;
    }
    Handle* closed = closed_handle(current_vm(), p->dst);
    close(p->dst);
    wait(p, closed, on_closed);
    return;
  }
  p->held = chunk;
  step(p);
}

void step(Pipe* p) {
  if (p->dst->end != StreamEnd::Open || p->dst->close_requested) return dst_gone(p);
  if (p->held != kNil) {
    std::string why;
    String* s = as_string(p->held);
    if (!write(p->dst, s->view(), &why)) {  // full: wait for room
      wait(p, drain(current_vm(), p->dst), on_drained);
      return;
    }
    p->total += int64_t(s->len);
    p->held = kNil;
  }
  if (queued(p->dst) >= p->dst->high) {
    wait(p, drain(current_vm(), p->dst), on_drained);
    return;
  }
  // A chunk that fits between the watermarks, so that a write after a
  // drain is never refused again.
  size_t room = p->dst->high > p->dst->low ? p->dst->high - p->dst->low : 1;
  wait(p, read(current_vm(), p->src, std::min<size_t>(room, 256u << 10)), on_chunk);
}

}  // namespace

Handle* pipe(VM& vm, ByteStream* src, ByteStream* dst, bool close_dst) {
  Handle* h = new_handle(vm, Kind::Io, State::Running);
  auto* p = gc_new_pinned<Pipe>();
  p->h = h;
  p->src = src;
  p->dst = dst;
  p->close_dst = close_dst;
  h->k.io = {stop, p};
  if (!src->readable) {
    done(p);
    fail_with(h, make_error("stream/pipe: the source is not readable"));
    return h;
  }
  if (!dst->writable) {
    done(p);
    fail_with(h, make_error("stream/pipe: the destination is not writable"));
    return h;
  }
  step(p);
  return h;
}

}  // namespace valk::aio
