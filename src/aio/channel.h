// Channels (docs/async.md#channels): FIFO queues of values between tasks,
// with a capacity (0: a rendezvous), backpressure (a put waits while the
// buffer is full), close, and select over several operations.
//
// The one guarantee: cancelling a pending take or put never loses or
// duplicates a value. A pending operation is a handle in the channel's
// taker or putter queue; a value moves only to or from an operation whose
// handle is still pending (neither settled nor being cancelled), and the
// move settles that handle at once, in the same C++ step. A cancelled
// operation is settled, so it is skipped: it was handed nothing, and a
// cancelled put's value never entered the channel. A select is one handle
// registered in several queues: once one registration fires, the handle is
// settled and every other registration is skipped the same way.
//
// When a move settles two handles (a put meeting a waiting take, or the
// reverse), the operation that just arrived is settled first: it was made
// in this very call, so nothing waits on it yet and settling it cannot run
// anything; the waiting one is settled second, when the move is complete,
// so whatever its settling cancels can no longer undo the move.
#pragma once

#include <cstddef>
#include <cstdint>

#include "aio/handle.h"
#include "core/gc.h"
#include "core/value.h"

namespace valk::aio {

struct Channel {
  Opaque base;  // the Lisp value (class "channel")
  int64_t id = 0;
  size_t capacity = 0;
  bool closed = false;
  TracedDeque<Value> buf;  // buffered values, oldest first
  struct Taker {
    Handle* h;
    bool select;  // completes with (list ch value) rather than the value
  };
  struct Putter {
    Handle* h;
    Value v;
    bool select;  // completes with (list ch true) rather than true
  };
  TracedDeque<Taker> takers;    // pending takes (only while buf is empty)
  TracedDeque<Putter> putters;  // pending puts (only while buf is full)
  size_t takers_purge_at = 16;   // queue lengths that trigger dropping settled entries
  size_t putters_purge_at = 16;
};

Channel* new_channel(size_t capacity);
bool is_channel(Value v);
Channel* as_channel(Value v);
inline Value channel_value(Channel* c) { return obj_val(c); }

// What a take gets once the channel is closed and drained; what try-take
// gives when nothing is ready. Neither can be put into a channel.
Value closed_marker();  // :closed
Value empty_marker();   // :empty

// A handle completing with true once v is buffered or handed to a taker;
// fails at once (or when the channel closes first) on a closed channel.
Handle* put(VM& vm, Channel* c, Value v);
// A handle completing with the next value, or :closed once closed and drained.
Handle* take(VM& vm, Channel* c);
// Later puts fail, pending puts fail, pending takes get :closed (the
// buffer is still taken first). Idempotent.
void close(Channel* c);
// True if v was buffered or handed to a pending taker now (c must be open).
bool try_put(Channel* c, Value v);
// The next value now, :closed, or :empty.
Value try_take(Channel* c);
// Live pending operations (for tests and printing).
size_t pending_takers(Channel* c);
size_t pending_putters(Channel* c);

struct SelectOp {
  bool take;
  Channel* ch;
  Value v;  // put's value
};
// One handle for the first op ready now in list order, else the first to
// become ready: (list ch value) for a take, (list ch true) for a put; a put
// on a closed channel fails it. n > 0.
Handle* select(VM& vm, const SelectOp* ops, size_t n);

}  // namespace valk::aio
