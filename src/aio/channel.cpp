// Channels (see channel.h for the no-loss rule and why it holds).
#include "aio/channel.h"

#include <algorithm>
#include <string>

#include "core/runtime.h"
#include "core/vm.h"
#include "io/io.h"

namespace valk::aio {

namespace {

const OpaqueClass kChannelClass = {"channel", [](std::string& out, const Opaque* o) {
                                     auto* c = reinterpret_cast<const Channel*>(o->payload);
                                     out += "<channel " + std::to_string(c->id);
                                     out += c->closed ? " closed " : " open ";
                                     out += std::to_string(c->buf.size()) + "/" + std::to_string(c->capacity);
                                     out += '>';
                                   }};

// A pending operation that may still be handed a value (or take one).
bool live(const Handle* h) { return !settled(h) && !(h->flags & kCancelling); }

Value closed_error() { return make_error("chan/put: the channel is closed"); }

Value pair(Channel* c, Value v) { return cons(channel_value(c), cons(v, kNil)); }

// Drops settled entries once a queue has grown (a loop of timed-out takes
// leaves one behind each time): amortised O(1) per entry.
template <class Q>
void maybe_purge(Q& q, size_t& purge_at) {
  if (q.size() < purge_at) return;
  q.erase(std::remove_if(q.begin(), q.end(), [](const auto& e) { return !live(e.h); }), q.end());
  purge_at = std::max<size_t>(16, q.size() * 2);
}

// The oldest live taker / putter, removed from its queue; false if none.
bool pop_taker(Channel* c, Channel::Taker* out) {
  while (!c->takers.empty()) {
    Channel::Taker t = c->takers.front();
    c->takers.pop_front();
    if (live(t.h)) {
      *out = t;
      return true;
    }
  }
  return false;
}
bool pop_putter(Channel* c, Channel::Putter* out) {
  while (!c->putters.empty()) {
    Channel::Putter p = c->putters.front();
    c->putters.pop_front();
    if (live(p.h)) {
      *out = p;
      return true;
    }
  }
  return false;
}
bool has_taker(Channel* c) {
  while (!c->takers.empty() && !live(c->takers.front().h)) c->takers.pop_front();
  return !c->takers.empty();
}
bool has_putter(Channel* c) {
  while (!c->putters.empty() && !live(c->putters.front().h)) c->putters.pop_front();
  return !c->putters.empty();
}

void settle_taker(Channel* c, const Channel::Taker& t, Value v) { complete(t.h, t.select ? pair(c, v) : v); }
void settle_putter(Channel* c, const Channel::Putter& p) { complete(p.h, p.select ? pair(c, kTrue) : kTrue); }

// A buffered slot came free: the oldest live put moves its value in.
void refill(Channel* c) {
  Channel::Putter p;
  if (c->buf.size() < c->capacity && pop_putter(c, &p)) {
    c->buf.push_back(p.v);
    settle_putter(c, p);  // (the value is in: whatever this settling does cannot undo that)
  }
}

bool take_ready(Channel* c) { return !c->buf.empty() || has_putter(c) || c->closed; }
bool put_ready(Channel* c) { return c->closed || has_taker(c) || c->buf.size() < c->capacity; }

// Runs a ready take for the fresh handle h (settled first: see channel.h).
void do_take(Channel* c, Handle* h, bool sel) {
  Channel::Taker me{h, sel};
  if (!c->buf.empty()) {
    Value v = c->buf.front();
    c->buf.pop_front();
    settle_taker(c, me, v);
    refill(c);
    return;
  }
  Channel::Putter p;
  if (pop_putter(c, &p)) {
    settle_taker(c, me, p.v);
    settle_putter(c, p);
    return;
  }
  settle_taker(c, me, closed_marker());  // closed and drained
}

// Runs a ready put for the fresh handle h.
void do_put(Channel* c, Handle* h, Value v, bool sel) {
  Channel::Putter me{h, v, sel};
  if (c->closed) {
    fail_with(h, closed_error());
    return;
  }
  Channel::Taker t;
  if (pop_taker(c, &t)) {
    settle_putter(c, me);
    settle_taker(c, t, v);
    return;
  }
  c->buf.push_back(v);
  settle_putter(c, me);
}

Handle* new_op(VM& vm) {
  Handle* h = new_handle(vm, Kind::Io, State::Running);
  h->k.io = {nullptr, nullptr};  // cancelling needs no work: a settled entry is skipped
  return h;
}

void count_op() {
  static metrics::Counter& n = io::ops_counter("channel");
  n.inc();
}

}  // namespace

Value closed_marker() {
  static Value v = intern(":closed");
  return v;
}
Value empty_marker() {
  static Value v = intern(":empty");
  return v;
}

Channel* new_channel(size_t capacity) {
  static int64_t next_id = 0;
  Channel* c = gc_new_finalized<Channel>();
  c->base.h = {Type::Opaque, 0, 0, 0};
  c->base.cls = &kChannelClass;
  c->base.payload = c;
  c->id = ++next_id;
  c->capacity = capacity;
  return c;
}

bool is_channel(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kChannelClass;
}
Channel* as_channel(Value v) { return static_cast<Channel*>(reinterpret_cast<Opaque*>(v)->payload); }

Handle* put(VM& vm, Channel* c, Value v) {
  count_op();
  Handle* h = new_op(vm);
  if (put_ready(c)) {
    do_put(c, h, v, false);
  } else {
    maybe_purge(c->putters, c->putters_purge_at);
    c->putters.push_back({h, v, false});
  }
  return h;
}

Handle* take(VM& vm, Channel* c) {
  count_op();
  Handle* h = new_op(vm);
  if (take_ready(c)) {
    do_take(c, h, false);
  } else {
    maybe_purge(c->takers, c->takers_purge_at);
    c->takers.push_back({h, false});
  }
  return h;
}

void close(Channel* c) {
  if (c->closed) return;
  c->closed = true;
  // Swapped out first: settling runs other code, which may use the channel.
  TracedDeque<Channel::Putter> ps;
  ps.swap(c->putters);
  TracedDeque<Channel::Taker> ts;
  if (c->buf.empty()) ts.swap(c->takers);  // (takers wait only on an empty buffer)
  for (auto& p : ps)
    if (live(p.h)) fail_with(p.h, closed_error());
  for (auto& t : ts)
    if (live(t.h)) settle_taker(c, t, closed_marker());
}

bool try_put(Channel* c, Value v) {
  if (c->closed) return false;
  Channel::Taker t;
  if (pop_taker(c, &t)) {
    settle_taker(c, t, v);
    return true;
  }
  if (c->buf.size() < c->capacity) {
    c->buf.push_back(v);
    return true;
  }
  return false;
}

Value try_take(Channel* c) {
  if (!c->buf.empty()) {
    Value v = c->buf.front();
    c->buf.pop_front();
    refill(c);
    return v;
  }
  Channel::Putter p;
  if (pop_putter(c, &p)) {
    settle_putter(c, p);
    return p.v;
  }
  return c->closed ? closed_marker() : empty_marker();
}

size_t pending_takers(Channel* c) {
  return size_t(std::count_if(c->takers.begin(), c->takers.end(), [](auto& t) { return live(t.h); }));
}
size_t pending_putters(Channel* c) {
  return size_t(std::count_if(c->putters.begin(), c->putters.end(), [](auto& p) { return live(p.h); }));
}

Handle* select(VM& vm, const SelectOp* ops, size_t n) {
  count_op();
  Handle* h = new_op(vm);
  for (size_t i = 0; i < n; ++i) {
    const SelectOp& op = ops[i];
    if (op.take ? take_ready(op.ch) : put_ready(op.ch)) {
      if (op.take)
        do_take(op.ch, h, true);
      else
        do_put(op.ch, h, op.v, true);
      return h;
    }
  }
  // Nothing ready: registered everywhere; the first to fire settles h, and
  // the other registrations are then skipped (h is no longer live).
  for (size_t i = 0; i < n; ++i) {
    Channel* c = ops[i].ch;
    if (ops[i].take) {
      maybe_purge(c->takers, c->takers_purge_at);
      c->takers.push_back({h, true});
    } else {
      maybe_purge(c->putters, c->putters_purge_at);
      c->putters.push_back({h, ops[i].v, true});
    }
  }
  return h;
}

}  // namespace valk::aio
