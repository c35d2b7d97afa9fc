// A file pumped into a byte stream (see file_pump.h).
#include "io/file_pump.h"

#include <algorithm>
#include <string>

#include "aio/loop.h"
#include "core/gc.h"

namespace valk::io {

namespace {

// Reads of up to 512 KiB: a thread-pool round trip per read is the cost to
// keep small (at 128 KiB it was 40% of a file download's CPU). The stream's
// low watermark is raised to leave one read of room under its high one, so
// the next read starts while half a megabyte is still queued to send.
constexpr size_t kChunk = 512u << 10;

// Pinned: libuv points to it while a read is on the thread pool, and it
// keeps the stream reachable until then.
struct Pump {
  uv_fs_t req;
  uv_file fd = -1;
  int64_t offset = 0;
  int64_t remaining = 0;
  aio::ByteStream* sink = nullptr;
  bool reading = false;
  bool stopped = false;  // the stream ended: close and free once no read is out
  char* buf = nullptr;
};

void finish(Pump* p) {
  // The close goes to the thread pool like the reads (a close can block on
  // some file systems); the pump itself is done now.
  uv_fs_t* close_req = new uv_fs_t;
  if (uv_fs_close(aio::loop(), close_req, p->fd, [](uv_fs_t* r) {
        uv_fs_req_cleanup(r);
        delete r;
      }) != 0)
    delete close_req;
  free(p->buf);
  gc_delete_pinned(p);
}

void read_more(Pump* p);

void on_read(uv_fs_t* r) {
  auto* p = static_cast<Pump*>(r->data);
  ssize_t n = r->result;
  uv_fs_req_cleanup(r);
  p->reading = false;
  if (p->stopped) return finish(p);
  if (n <= 0) {
    // A read error or a file that shrank: the body is cut short, which the
    // client sees (content-length not reached) — a reset, not a silent end.
    aio::cancel_stream(p->sink, aio::StreamEnd::Reset);
    return;  // (ended -> on_end -> finish)
  }
  p->offset += n;
  p->remaining -= n;
  std::string why;
  aio::write(p->sink, std::string_view(p->buf, size_t(n)), &why);
  if (p->remaining <= 0) {
    aio::close(p->sink);
    if (!p->stopped) {
      p->stopped = true;
      p->sink->native_drain = {nullptr, nullptr};
      p->sink->native_end = {nullptr, nullptr};
      finish(p);
    }
    return;
  }
  read_more(p);
}

void read_more(Pump* p) {
  if (p->reading || p->stopped || p->remaining <= 0) return;
  if (aio::queued(p->sink) >= p->sink->low) return;  // the drain event brings us back
  p->reading = true;
  size_t room = p->sink->high > aio::queued(p->sink) ? p->sink->high - aio::queued(p->sink) : 0;
  size_t want = std::min<size_t>(kChunk, std::max<size_t>(room, 64u << 10));
  uv_buf_t b = uv_buf_init(p->buf, unsigned(std::min<int64_t>(int64_t(want), p->remaining)));
  p->req.data = p;
  if (uv_fs_read(aio::loop(), &p->req, p->fd, &b, 1, p->offset, on_read) != 0) {
    p->reading = false;
    aio::cancel_stream(p->sink, aio::StreamEnd::Reset);
  }
}

void on_drain(void* ctx, aio::ByteStream*) { read_more(static_cast<Pump*>(ctx)); }

void on_end(void* ctx, aio::ByteStream*) {
  auto* p = static_cast<Pump*>(ctx);
  if (p->stopped) return;
  p->stopped = true;
  // A read on the thread pool is cancelled if it has not started; if it
  // has, its callback frees the pump.
  if (p->reading) {
    uv_cancel(reinterpret_cast<uv_req_t*>(&p->req));
    return;
  }
  finish(p);
}

}  // namespace

void pump_file(aio::ByteStream* sink, uv_file fd, int64_t offset, int64_t length) {
  Pump* p = gc_new_pinned<Pump>();
  p->fd = fd;
  p->offset = offset;
  p->remaining = length;
  p->sink = sink;
  p->buf = static_cast<char*>(malloc(kChunk));
  sink->native_drain = {on_drain, p};
  sink->native_end = {on_end, p};
  if (sink->high > kChunk) sink->low = std::max(sink->low, sink->high - kChunk);
  if (length <= 0) {
    aio::close(sink);
    p->stopped = true;
    sink->native_drain = {nullptr, nullptr};
    sink->native_end = {nullptr, nullptr};
    finish(p);
    return;
  }
  read_more(p);
}

}  // namespace valk::io
