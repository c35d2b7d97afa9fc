// Byte streams (docs/streams.md): the one interface for data that flows
// over time. A stream has a writable side (a sink: write, drain, close) and
// a readable side (a source: read, end), either or both. What carries the
// bytes is a transport: an HTTP/2 response or request body today; sockets,
// pipes and files later plug in the same way.
//
// The rules of the runtime hold here: the transport's I/O callbacks only
// record (push, take, ended) and settle handles; Lisp callbacks (on-drain,
// on-close) are queued as jobs. Memory is bounded by watermarks: a write
// that would take the queue past `high` is refused (the backpressure
// signal), and drain events fire when the queue falls below `low`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aio/handle.h"
#include "core/gc.h"
#include "core/value.h"

namespace valk::aio {

// How a stream ended (the value its closed handle completes with).
enum class StreamEnd : uint8_t {
  Open,       // not ended
  Closed,     // ended normally: everything written was sent, or the source ended
  Reset,      // the peer went away or reset the stream
  Cancelled,  // stream/cancel
  Timeout,    // stream/set-timeout or stream/set-max-session expired
};

struct ByteStream;

// What a transport provides. Every callback may be null.
struct StreamTransport {
  const char* kind;  // printed: <stream http2 3 open>
  // Writable side: data was queued or a close was requested; the transport
  // pulls with take().
  void (*wake)(ByteStream*);
  // Readable side: the reader took n bytes; the transport may let n more
  // arrive (HTTP/2: the flow-control window is opened by that much).
  void (*consumed)(ByteStream*, size_t n);
  // The program ended the stream early (cancel, a timeout): abort it.
  void (*abort)(ByteStream*, StreamEnd why);
};

// A C++ party told about drain or end (e.g. a file being sent).
struct StreamListener {
  void (*fn)(void* ctx, ByteStream*);
  void* ctx;
};

struct ByteStream {
  Opaque base;  // the Lisp value (class "stream")
  const StreamTransport* ops = nullptr;
  void* transport = nullptr;  // null once the transport is gone
  int64_t id = 0;
  StreamEnd end = StreamEnd::Open;
  bool writable = false;  // has a writable side
  bool readable = false;  // has a readable side

  // -- writable side --
  std::string out;  // queued bytes from out_off on
  size_t out_off = 0;
  size_t high = 1u << 20;  // writes past this are refused
  size_t low = 256u << 10;  // drain fires below this
  bool close_requested = false;
  bool drain_armed = false;  // the queue went over `low`: a drain event is due when it falls
  Value on_drain = kNil;     // Lisp callbacks (upstream's stream/on-drain, stream/on-close)
  Value on_close = kNil;
  TracedVector<Handle*> drain_waiters;  // (stream/drain s) handles
  Handle* closed = nullptr;             // completes with the end reason
  StreamListener native_drain{nullptr, nullptr};
  StreamListener native_end{nullptr, nullptr};

  // -- timeouts (writable side) --
  int64_t idle_timeout_ms = 0;  // stream/set-timeout: no write for this long ends it
  int64_t max_session_ms = 0;   // stream/set-max-session: ends it this long after opening
  int64_t opened_ms = 0;
  int64_t last_write_ms = 0;
  Handle* timer = nullptr;  // the armed timer (a sleep watched natively)
  NativeWatch* timer_watch = nullptr;

  // -- readable side --
  std::string in;  // arrived, not read yet, from in_off on
  size_t in_off = 0;
  size_t in_quiet = 0;  // pushed quietly, readers not served yet (push_quietly)
  bool in_ended = false;
  Value in_error = kNil;         // why the source ended early (an error value), or nil
  struct Reader {
    Handle* h;
    size_t max;
  };
  TracedVector<Reader> readers;  // pending (stream/read s) handles, oldest first
  TracedVector<Handle*> whole_readers;  // pending (stream/read-all s) handles
  size_t whole_limit = SIZE_MAX;
};

ByteStream* new_stream(const StreamTransport* ops, void* transport, bool writable, bool readable);
// No transport and both sides: what is written is read back (stream/memory).
bool is_memory(const ByteStream* s);
bool is_stream(Value v);
ByteStream* as_stream(Value v);
inline Value stream_value(ByteStream* s) { return obj_val(s); }
const char* end_name(StreamEnd e);  // "open", "closed", "reset", ...

// ---- the program's side (the stream/* builtins) -----------------------------------
// Queues data; false when the stream cannot take it (*why says: closed, or
// the queue is full).
bool write(ByteStream* s, std::string_view data, std::string* why);
bool writable_now(const ByteStream* s);  // open, and the queue is under `high`
size_t queued(const ByteStream* s);
void close(ByteStream* s);  // ends after what is queued has been sent
void cancel_stream(ByteStream* s, StreamEnd why);  // ends now, dropping the queue
// A handle that completes (with the stream) once the queue is below `low`,
// at once if it is; cancelled if the stream ends first (or has ended).
Handle* drain(VM& vm, ByteStream* s);
Handle* closed_handle(VM& vm, ByteStream* s);
// The next chunk (at most max bytes) as a string, or nil at the end; fails
// if the source ended with an error.
Handle* read(VM& vm, ByteStream* s, size_t max);
// Everything up to the end as one string; fails past `limit` bytes.
Handle* read_all(VM& vm, ByteStream* s, size_t limit);
void set_idle_timeout(VM& vm, ByteStream* s, int64_t ms);
void set_max_session(VM& vm, ByteStream* s, int64_t ms);

// ---- the transport's side ---------------------------------------------------------
// Takes up to max queued bytes into buf; *eof is set when the stream is
// closing and nothing is left.
size_t take(ByteStream* s, char* buf, size_t max, bool* eof);
// After take(), outside the transport's library callbacks: fires drain
// events if the queue fell below `low`.
void after_take(ByteStream* s);
// Data arrived for the readable side / the source ended (err: why, or nil).
void push(ByteStream* s, const char* data, size_t n);
// The same in two steps, for a transport that gets many small pieces in one
// callback: buffer them, then serve the readers once (fewer, larger chunks).
void push_quietly(ByteStream* s, const char* data, size_t n);
void deliver(ByteStream* s);
void push_end(ByteStream* s, Value err);
// The transport is gone (why: how it ended): settles what waits, queues
// on-close, detaches. Idempotent.
void ended(ByteStream* s, StreamEnd why);

}  // namespace valk::aio

namespace valk::aio {

// (stream/pipe src dst): copies src into dst until src ends, reading only
// while dst has room (a slow dst slows the reads of src, whatever carries
// either). The handle completes with the byte count once dst has been
// closed after the last byte (close_dst false: dst is left open), fails if
// src ends with an error or dst ends first; cancelling it stops the copy
// and leaves both streams open. (stream_pipe.cpp)
Handle* pipe(VM& vm, ByteStream* src, ByteStream* dst, bool close_dst);

}  // namespace valk::aio
