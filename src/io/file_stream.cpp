// Open files as byte streams, and line readers (see file_stream.h).
//
// A File is the stream's transport. It is pinned (libuv points to its
// requests, and it keeps the stream and its handles reachable) and lives
// from fs/open until its fd is closed and no request is in flight. At most
// one request is out at a time: the open (a work item: open + fstat), one
// read or one write, then the close. Every way the stream ends (end of
// file, a read or write error, stream/close, stream/cancel, the owning
// scope's end) comes to stop(), which closes the fd once nothing is in
// flight; the close releases the scope's claim and frees the File.
#include "io/file_stream.h"

#include <uv.h>

#include <cstring>

#include "aio/loop.h"
#include "core/gc.h"
#include "io/io.h"
#include "lib/builtins.h"

namespace valk::io {

namespace {

constexpr size_t kReadChunk = 64u << 10;
constexpr size_t kWriteChunk = 256u << 10;

struct File {
  uv_work_t work;  // the open
  uv_fs_t req;     // the read, write or close in flight
  std::string path;
  OpenMode mode = OpenMode::Read;
  uv_file fd = -1;
  int open_err = 0;
  aio::Handle* op = nullptr;     // fs/open's handle, until it settles
  aio::Handle* owner = nullptr;  // the scope's claim (io::own)
  aio::ByteStream* s = nullptr;
  bool opening = true;
  bool busy = false;      // a read or write is in flight
  bool stopped = false;   // the stream ended (or the open was cancelled): close
  bool closing = false;   // the close is in flight
  bool counted = false;   // counted in valk_io_open{kind="file"}
  char* buf = nullptr;
  size_t wlen = 0, woff = 0;  // the write in flight: buf[woff, wlen)
};

void free_file(File* f) {
  if (f->owner) release(f->owner);
  f->owner = nullptr;
  if (f->s) {
    f->s->native_end = {nullptr, nullptr};
    // The stream never outlives its transport as open.
    if (f->s->end == aio::StreamEnd::Open) aio::ended(f->s, aio::StreamEnd::Closed);
  }
  free(f->buf);
  gc_delete_pinned(f);
}

void on_closed(uv_fs_t* r) {
  auto* f = static_cast<File*>(r->data);
  int rc = int(r->result);
  uv_fs_req_cleanup(r);
  f->fd = -1;
  if (f->counted) open_gauge("file").dec();
  f->counted = false;
  if (f->owner) release(f->owner);
  f->owner = nullptr;
  aio::ByteStream* s = f->s;
  if (s && s->end == aio::StreamEnd::Open) {
    // A writable stream's graceful close ends here, after the flush and the
    // close (which can report a late write error).
    s->native_end = {nullptr, nullptr};
    if (rc < 0) uv_error("fs", "fs/close", f->path, rc);  // (counted)
    aio::ended(s, rc < 0 ? aio::StreamEnd::Reset : aio::StreamEnd::Closed);
  }
  free_file(f);
}

// Closes the fd once nothing is in flight (called again when it lands).
void maybe_close(File* f) {
  if (f->busy || f->closing || f->opening) return;
  if (f->fd < 0) return free_file(f);
  f->closing = true;
  f->req.data = f;
  if (uv_fs_close(aio::loop(), &f->req, f->fd, on_closed) != 0) {
    f->req.result = 0;
    on_closed(&f->req);
  }
}

void stop(File* f) {
  f->stopped = true;
  maybe_close(f);
}

// ---- reading ---------------------------------------------------------------------------

void read_more(File* f);

void on_read(uv_fs_t* r) {
  auto* f = static_cast<File*>(r->data);
  ssize_t n = r->result;
  uv_fs_req_cleanup(r);
  f->busy = false;
  aio::ByteStream* s = f->s;
  if (f->stopped || s->end != aio::StreamEnd::Open) return stop(f);
  if (n < 0) {
    // The reader sees the error after what was read before it.
    aio::push_end(s, uv_error("fs", "fs/read", f->path, int(n)));
    aio::ended(s, aio::StreamEnd::Reset);  // -> on_end -> stop
    return;
  }
  if (n == 0) {
    // The end of the file: what is buffered is still read, then nil. The
    // fd is closed now, not when the reader gets to the end.
    aio::push_end(s, kNil);
    aio::ended(s, aio::StreamEnd::Closed);
    return;
  }
  aio::push(s, f->buf, size_t(n));  // (may call consumed -> read_more: busy is false)
  read_more(f);
}

void read_more(File* f) {
  aio::ByteStream* s = f->s;
  if (f->busy || f->stopped || f->closing || !s || s->end != aio::StreamEnd::Open) return;
  // Read ahead only while the unread bytes are under the high watermark
  // (the reader taking some calls consumed); a read-all takes everything.
  if (s->whole_readers.empty() && s->in.size() - s->in_off >= s->high) return;
  f->busy = true;
  f->req.data = f;
  uv_buf_t b = uv_buf_init(f->buf, unsigned(kReadChunk));
  int rc = uv_fs_read(aio::loop(), &f->req, f->fd, &b, 1, -1, on_read);
  if (rc != 0) {
    f->busy = false;
    aio::push_end(s, uv_error("fs", "fs/read", f->path, rc));
    aio::ended(s, aio::StreamEnd::Reset);
  }
}

void on_consumed(aio::ByteStream* s, size_t) {
  if (s->transport) read_more(static_cast<File*>(s->transport));
}

// ---- writing ---------------------------------------------------------------------------

void write_more(File* f);

void issue_write(File* f) {
  f->busy = true;
  f->req.data = f;
  uv_buf_t b = uv_buf_init(f->buf + f->woff, unsigned(f->wlen - f->woff));
  int rc = uv_fs_write(aio::loop(), &f->req, f->fd, &b, 1, -1, [](uv_fs_t* r) {
    auto* f = static_cast<File*>(r->data);
    ssize_t n = r->result;
    uv_fs_req_cleanup(r);
    f->busy = false;
    aio::ByteStream* s = f->s;
    if (f->stopped || s->end != aio::StreamEnd::Open) return stop(f);
    if (n < 0) {
      uv_error("fs", "fs/write", f->path, int(n));  // (counted; the stream is reset)
      aio::ended(s, aio::StreamEnd::Reset);  // -> on_end -> stop
      return;
    }
    f->woff += size_t(n);
    if (f->woff < f->wlen) return issue_write(f);  // a short write: the rest
    f->wlen = f->woff = 0;
    aio::after_take(s);  // drain events
    write_more(f);
  });
  if (rc != 0) {
    f->busy = false;
    uv_error("fs", "fs/write", f->path, rc);
    aio::ended(f->s, aio::StreamEnd::Reset);
  }
}

void write_more(File* f) {
  aio::ByteStream* s = f->s;
  if (f->busy || f->stopped || f->closing || !s || s->end != aio::StreamEnd::Open) return;
  bool eof = false;
  size_t n = aio::take(s, f->buf, kWriteChunk, &eof);
  if (n > 0) {
    f->wlen = n;
    f->woff = 0;
    return issue_write(f);
  }
  if (eof) maybe_close(f);  // stream/close, all written: close, then the stream ends
}

void on_wake(aio::ByteStream* s) {
  if (s->transport) write_more(static_cast<File*>(s->transport));
}

// The stream ended (stream/cancel, stream/close of a source, or our own
// end): nothing more is read or written.
void on_end(void* ctx, aio::ByteStream*) { stop(static_cast<File*>(ctx)); }

const aio::StreamTransport kFileTransport = {"file", on_wake, on_consumed, nullptr};

// ---- opening -----------------------------------------------------------------------------

void open_work(uv_work_t* w) {
  auto* f = static_cast<File*>(w->data);
  int flags = f->mode == OpenMode::Read    ? UV_FS_O_RDONLY
              : f->mode == OpenMode::Write ? (UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_TRUNC)
                                           : (UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_APPEND);
  uv_fs_t r;
  uv_file fd = uv_fs_open(nullptr, &r, f->path.c_str(), flags, 0644, nullptr);
  uv_fs_req_cleanup(&r);
  if (fd < 0) {
    f->open_err = fd;
    return;
  }
  // A directory opens for reading; say so now rather than at the first read.
  int rc = uv_fs_fstat(nullptr, &r, fd, nullptr);
  if (rc == 0 && (r.statbuf.st_mode & S_IFMT) == S_IFDIR) rc = UV_EISDIR;
  uv_fs_req_cleanup(&r);
  if (rc != 0) {
    uv_fs_close(nullptr, &r, fd, nullptr);
    uv_fs_req_cleanup(&r);
    f->open_err = rc;
    return;
  }
  f->fd = fd;
}

void after_open(uv_work_t* w, int status) {
  auto* f = static_cast<File*>(w->data);
  f->opening = false;
  aio::Handle* op = f->op;
  f->op = nullptr;
  if (op) op->k.io = {nullptr, nullptr};
  if (f->stopped || status != 0 || (op && aio::settled(op))) {
    // Cancelled: an fd it opened anyway is closed (not counted as open).
    if (op && !aio::settled(op)) aio::cancel(op);
    f->stopped = true;
    return maybe_close(f);
  }
  if (f->open_err != 0) {
    aio::fail_with(op, uv_error("fs", "fs/open", f->path, f->open_err));
    return free_file(f);
  }
  open_gauge("file").inc();
  f->counted = true;
  bool readable = f->mode == OpenMode::Read;
  f->buf = static_cast<char*>(malloc(readable ? kReadChunk : kWriteChunk));
  aio::ByteStream* s = aio::new_stream(&kFileTransport, f, !readable, readable);
  f->s = s;
  s->native_end = {on_end, f};
  aio::complete(op, aio::stream_value(s));
  if (readable) read_more(f);
}

// fs/open's handle was cancelled while the open was pending.
void cancel_open(void* ctx) {
  auto* f = static_cast<File*>(ctx);
  f->op = nullptr;
  f->stopped = true;
  uv_cancel(reinterpret_cast<uv_req_t*>(&f->work));  // else after_open closes the fd
}

// The owning scope ended.
void owner_close(void* ctx) {
  auto* f = static_cast<File*>(ctx);
  f->owner = nullptr;  // (being cancelled: nothing to release)
  if (f->opening) {
    f->stopped = true;
    if (f->op) aio::cancel(f->op);  // -> cancel_open
    return;
  }
  if (f->s && f->s->end == aio::StreamEnd::Open) aio::cancel_stream(f->s, aio::StreamEnd::Cancelled);
  else stop(f);
}

// ---- line readers -------------------------------------------------------------------------

const OpaqueClass kLineReaderClass = {"line-reader", [](std::string& out, const Opaque*) {
                                        out += "<line-reader>";
                                      }};

struct LineReader {
  Opaque base;
  aio::ByteStream* s = nullptr;
  std::string carry;  // bytes read, not handed out yet, from off on
  size_t off = 0;
  size_t scanned = 0;  // carry[off, scanned) holds no newline
  bool eof = false;
  bool reading = false;
  bool serving = false;
  bool closed = false;  // fs/close-lines
  Value err = kNil;  // why the stream ended early
  TracedVector<aio::Handle*> waiting;  // pending read-line handles, oldest first
};

LineReader* as_reader(Value v) {
  return static_cast<LineReader*>(reinterpret_cast<Opaque*>(v)->payload);
}

bool take_line(LineReader* r, Value* line) {
  size_t nl = r->carry.find('\n', r->scanned);
  if (nl == std::string::npos) {
    r->scanned = r->carry.size();
    return false;
  }
  size_t end = nl;
  if (end > r->off && r->carry[end - 1] == '\r') --end;
  *line = make_string(std::string_view(r->carry.data() + r->off, end - r->off));
  r->off = r->scanned = nl + 1;
  if (r->off == r->carry.size()) {
    r->carry.clear();
    r->off = r->scanned = 0;
  } else if (r->off > (64u << 10) && r->off * 2 > r->carry.size()) {
    r->carry.erase(0, r->off);
    r->scanned -= r->off;
    r->off = 0;
  }
  return true;
}

void serve(LineReader* r);

void on_chunk(void* ctx, aio::Handle* in) {
  auto* r = static_cast<LineReader*>(ctx);
  r->reading = false;
  if (r->closed) return serve(r);
  if (in->state == aio::State::Completed && is_string(in->result)) {
    r->carry.append(as_string(in->result)->view());
  } else {
    r->eof = true;
    if (in->state != aio::State::Completed) r->err = aio::failure_as_error(in);
  }
  serve(r);
}

void serve(LineReader* r) {
  if (r->serving) return;
  r->serving = true;
  VM& vm = current_vm();
  while (!r->waiting.empty()) {
    aio::Handle* h = r->waiting.front();
    if (aio::settled(h)) {  // cancelled while waiting
      r->waiting.erase(r->waiting.begin());
      continue;
    }
    Value line;
    if (take_line(r, &line)) {
      r->waiting.erase(r->waiting.begin());
      aio::complete(h, line);
      continue;
    }
    if (r->eof) {
      r->waiting.erase(r->waiting.begin());
      if (r->off < r->carry.size()) {  // a last line without a newline
        Value last = make_string(std::string_view(r->carry.data() + r->off, r->carry.size() - r->off));
        std::string().swap(r->carry);  // the buffer goes now, not when the reader is collected
        r->off = r->scanned = 0;
        aio::complete(h, last);
      } else if (r->err != kNil) {
        aio::fail_with(h, r->err);
      } else {
        aio::complete(h, kNil);
      }
      continue;
    }
    if (r->reading) break;
    r->reading = true;
    aio::Handle* rd = aio::read(vm, r->s, 64u << 10);
    aio::watch(vm, rd, on_chunk, r, nullptr);
    if (r->reading) break;  // else it was served at once: go on
  }
  r->serving = false;
}

}  // namespace

aio::Handle* fs_open(VM& vm, std::string path, OpenMode mode) {
  aio::start(vm);  // (the loop starts on first use)
  ops_counter("fs").inc();
  File* f = gc_new_pinned<File>();
  f->path = std::move(path);
  f->mode = mode;
  f->owner = own(vm, owner_close, f);
  aio::Handle* op = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  f->op = op;
  op->k.io = {cancel_open, f};
  f->work.data = f;
  int rc = uv_queue_work(aio::loop(), &f->work, open_work, after_open);
  if (rc != 0) {
    op->k.io = {nullptr, nullptr};
    f->op = nullptr;
    aio::fail_with(op, uv_error("fs", "fs/open", f->path, rc));
    f->opening = false;
    free_file(f);
  }
  return op;
}

bool is_line_reader(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kLineReaderClass;
}

Value new_line_reader(VM&, aio::ByteStream* s) {
  LineReader* r = gc_new_finalized<LineReader>();
  r->base.h = {Type::Opaque, 0, 0, 0};
  r->base.cls = &kLineReaderClass;
  r->base.payload = r;
  r->s = s;
  return obj_val(r);
}

aio::Handle* read_line(VM& vm, Value reader) {
  LineReader* r = as_reader(reader);
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  h->k.io = {nullptr, nullptr};  // cancelling a pending read-line takes nothing
  r->waiting.push_back(h);
  serve(r);
  return h;
}

void close_line_reader(Value reader) {
  LineReader* r = as_reader(reader);
  r->closed = r->eof = true;
  r->err = kNil;
  std::string().swap(r->carry);
  r->off = r->scanned = 0;
  aio::cancel_stream(r->s, aio::StreamEnd::Cancelled);
  serve(r);
}

}  // namespace valk::io
