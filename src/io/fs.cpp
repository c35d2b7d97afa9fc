// Whole-file operations (see fs.h).
//
// Each operation is ONE uv_queue_work item that does all of its system
// calls on the worker thread, with libuv's synchronous uv_fs_* calls (a
// null callback; a null loop: libuv's synchronous path never touches it).
// Chaining asynchronous uv_fs calls instead (open -> fstat -> read ... ->
// close) would cost a thread-pool round trip per call and a state machine
// per operation, and a cancellation in the middle of the chain would have
// to undo the steps done so far. As one work item:
//  - cancelling before it starts is uv_cancel of that one item;
//  - once started it runs to its end on the worker, which closes any fd it
//    opened itself, so a cancelled (discarded) result never leaks an fd;
//  - the worker touches only the Op's plain C++ fields (never the
//    collector's heap); values are built in the after-work callback, on the
//    loop's thread.
#include "io/fs.h"

#include <uv.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "aio/loop.h"
#include "core/gc.h"
#include "io/io.h"
#include "lib/builtins.h"

namespace valk::io {

namespace {

constexpr size_t kReadChunk = 256u << 10;

// Pinned: libuv points to `work` while it is queued or running, and the
// handle it settles must stay reachable until then.
struct Op {
  uv_work_t work;
  FsOp op;
  bool recursive = false;
  bool discard = false;  // the handle was cancelled: drop the result
  size_t limit = SIZE_MAX;  // fs/read: the most the heap can take now
  aio::Handle* h = nullptr;
  std::string path, arg;
  // Results, written by the worker.
  int err = 0;
  std::string out;
  uv_stat_t st{};
  std::vector<std::string> names;
  bool exists = false;
};

// ---- the worker's side: synchronous libuv calls ------------------------------------

int sync_stat(const char* path, uv_stat_t* st, bool link) {
  uv_fs_t r;
  int rc = link ? uv_fs_lstat(nullptr, &r, path, nullptr) : uv_fs_stat(nullptr, &r, path, nullptr);
  if (rc == 0) *st = r.statbuf;
  uv_fs_req_cleanup(&r);
  return rc;
}

int sync_close(uv_file fd) {
  uv_fs_t r;
  int rc = uv_fs_close(nullptr, &r, fd, nullptr);
  uv_fs_req_cleanup(&r);
  return rc;
}

int do_read(Op* o) {
  uv_fs_t r;
  uv_file fd = uv_fs_open(nullptr, &r, o->path.c_str(), UV_FS_O_RDONLY, 0, nullptr);
  uv_fs_req_cleanup(&r);
  if (fd < 0) return fd;
  int rc = uv_fs_fstat(nullptr, &r, fd, nullptr);
  if (rc == 0 && (r.statbuf.st_mode & S_IFMT) == S_IFDIR) rc = UV_EISDIR;
  // A file the heap cannot hold is refused before it is read (EFBIG).
  if (rc == 0 && uint64_t(r.statbuf.st_size) > o->limit) rc = UV_EFBIG;
  // The size is a hint only: /proc files say 0, and files grow.
  if (rc == 0 && r.statbuf.st_size > 0) o->out.reserve(size_t(r.statbuf.st_size));
  uv_fs_req_cleanup(&r);
  while (rc == 0) {
    size_t at = o->out.size();
    o->out.resize(at + kReadChunk);
    uv_buf_t b = uv_buf_init(o->out.data() + at, unsigned(kReadChunk));
    ssize_t n = uv_fs_read(nullptr, &r, fd, &b, 1, -1, nullptr);
    uv_fs_req_cleanup(&r);
    o->out.resize(at + size_t(std::max<ssize_t>(n, 0)));
    if (n < 0) rc = int(n);
    if (n <= 0) break;
    if (o->out.size() > o->limit) rc = UV_EFBIG;  // it grew
  }
  int crc = sync_close(fd);
  if (rc == 0) rc = crc;
  if (rc != 0) o->out.clear();
  return rc;
}

int do_write(Op* o, bool append) {
  uv_fs_t r;
  int flags = UV_FS_O_WRONLY | UV_FS_O_CREAT | (append ? UV_FS_O_APPEND : UV_FS_O_TRUNC);
  uv_file fd = uv_fs_open(nullptr, &r, o->path.c_str(), flags, 0644, nullptr);
  uv_fs_req_cleanup(&r);
  if (fd < 0) return fd;
  int rc = 0;
  size_t off = 0;
  while (off < o->arg.size()) {
    size_t n = std::min<size_t>(o->arg.size() - off, 1u << 30);
    uv_buf_t b = uv_buf_init(o->arg.data() + off, unsigned(n));
    ssize_t w = uv_fs_write(nullptr, &r, fd, &b, 1, -1, nullptr);
    uv_fs_req_cleanup(&r);
    if (w < 0) {
      rc = int(w);
      break;
    }
    off += size_t(w);
  }
  int crc = sync_close(fd);  // a close can report a late write error (NFS)
  return rc ? rc : crc;
}

int do_list(Op* o) {
  uv_fs_t r;
  int rc = uv_fs_scandir(nullptr, &r, o->path.c_str(), 0, nullptr);
  if (rc >= 0) {
    uv_dirent_t ent;
    while (uv_fs_scandir_next(&r, &ent) != UV_EOF) o->names.emplace_back(ent.name);
    rc = 0;
  }
  uv_fs_req_cleanup(&r);
  std::sort(o->names.begin(), o->names.end());
  return rc;
}

// mkdir -p: each prefix in turn; one that exists already is fine.
int do_mkdir(Op* o) {
  const std::string& p = o->path;
  uv_fs_t r;
  for (size_t i = 1; i <= p.size(); ++i) {
    if (i < p.size() && p[i] != '/') continue;
    if (p[i - 1] == '/') continue;  // "a//b", or a trailing slash
    std::string prefix = p.substr(0, i);
    int rc = uv_fs_mkdir(nullptr, &r, prefix.c_str(), 0755, nullptr);
    uv_fs_req_cleanup(&r);
    if (rc != 0 && rc != UV_EEXIST) return rc;
  }
  uv_stat_t st;
  int rc = sync_stat(p.c_str(), &st, false);
  if (rc != 0) return rc;
  return (st.st_mode & S_IFMT) == S_IFDIR ? 0 : UV_EEXIST;  // a file is in the way
}

int remove_path(const std::string& path, bool recursive) {
  uv_stat_t st;
  int rc = sync_stat(path.c_str(), &st, true);  // lstat: a symlink is removed, not followed
  if (rc != 0) return rc;
  uv_fs_t r;
  if ((st.st_mode & S_IFMT) != S_IFDIR) {
    rc = uv_fs_unlink(nullptr, &r, path.c_str(), nullptr);
    uv_fs_req_cleanup(&r);
    return rc;
  }
  if (recursive) {
    std::vector<std::string> names;
    rc = uv_fs_scandir(nullptr, &r, path.c_str(), 0, nullptr);
    if (rc >= 0) {
      uv_dirent_t ent;
      while (uv_fs_scandir_next(&r, &ent) != UV_EOF) names.emplace_back(ent.name);
      rc = 0;
    }
    uv_fs_req_cleanup(&r);
    if (rc != 0) return rc;
    for (auto& n : names)
      if ((rc = remove_path(path + "/" + n, true)) != 0) return rc;
  }
  rc = uv_fs_rmdir(nullptr, &r, path.c_str(), nullptr);
  uv_fs_req_cleanup(&r);
  return rc;
}

void work(uv_work_t* w) {
  auto* o = static_cast<Op*>(w->data);
  uv_fs_t r;
  switch (o->op) {
    case FsOp::Read: o->err = do_read(o); break;
    case FsOp::Write: o->err = do_write(o, false); break;
    case FsOp::Append: o->err = do_write(o, true); break;
    case FsOp::Stat: o->err = sync_stat(o->path.c_str(), &o->st, false); break;
    case FsOp::Lstat: o->err = sync_stat(o->path.c_str(), &o->st, true); break;
    case FsOp::List: o->err = do_list(o); break;
    case FsOp::Mkdir: o->err = do_mkdir(o); break;
    case FsOp::Remove: o->err = remove_path(o->path, o->recursive); break;
    case FsOp::Rename:
      o->err = uv_fs_rename(nullptr, &r, o->path.c_str(), o->arg.c_str(), nullptr);
      uv_fs_req_cleanup(&r);
      break;
    case FsOp::Exists: {
      uv_stat_t st;
      int rc = sync_stat(o->path.c_str(), &st, false);
      o->exists = rc == 0;
      // Missing (or a dangling symlink, or a file where a directory should
      // be) is an answer, not a failure; other errors (EACCES) are failures.
      o->err = (rc == UV_ENOENT || rc == UV_ENOTDIR) ? 0 : rc;
      break;
    }
  }
  // What write had to write is no longer needed.
  if (o->op == FsOp::Write || o->op == FsOp::Append) std::string().swap(o->arg);
}

// ---- the loop's side ----------------------------------------------------------------

Value kw(const char* k) { return intern(k); }

double seconds(const uv_timespec_t& t) { return double(t.tv_sec) + double(t.tv_nsec) / 1e9; }

Value stat_plist(const uv_stat_t& st) {
  const char* type = ":other";
  switch (st.st_mode & S_IFMT) {
    case S_IFREG: type = ":file"; break;
    case S_IFDIR: type = ":dir"; break;
    case S_IFLNK: type = ":symlink"; break;
    default: break;
  }
  ListBuilder b;
  b.push(kw(":size"));
  b.push(make_int(int64_t(st.st_size)));
  b.push(kw(":mtime"));
  b.push(make_float(seconds(st.st_mtim)));
  b.push(kw(":type"));
  b.push(kw(type));
  b.push(kw(":mode"));
  b.push(make_int(int64_t(st.st_mode & 07777)));
  return b.result();
}

Value result_value(Op* o) {
  switch (o->op) {
    case FsOp::Read: {
      if (Value e = check_room("fs/read", o->out.size(), 1); e != kNil) return e;
      return make_string(o->out);
    }
    case FsOp::Stat:
    case FsOp::Lstat: return stat_plist(o->st);
    case FsOp::List: {
      ListBuilder b;
      for (auto& n : o->names) b.push(make_string(n));
      return b.result();
    }
    case FsOp::Exists: return make_bool(o->exists);
    default: return kTrue;
  }
}

void after_work(uv_work_t* w, int status) {
  auto* o = static_cast<Op*>(w->data);
  aio::Handle* h = o->h;
  if (!o->discard && !aio::settled(h)) {
    h->k.io = {nullptr, nullptr};
    std::string subject = o->path;
    if (o->op == FsOp::Rename) subject += " -> " + o->arg;
    int err = status != 0 ? status : o->err;
    if (err != 0) {
      aio::fail_with(h, uv_error("fs", fs_op_name(o->op), subject, err));
    } else {
      Value v;
      try {
        AllocGuard g;
        v = result_value(o);
      } catch (const HeapExhausted& e) {
        v = heap_exhausted_error(e.bytes);
      } catch (const std::bad_alloc&) {
        v = heap_exhausted_error(0);
      }
      if (is_error(v)) aio::fail_with(h, v);
      else aio::complete(h, v);
    }
  }
  gc_delete_pinned(o);
}

// The handle was cancelled: off the queue if the work has not started;
// else it runs to its end (closing what it opened) and is discarded.
void cancel_op(void* ctx) {
  auto* o = static_cast<Op*>(ctx);
  o->discard = true;
  uv_cancel(reinterpret_cast<uv_req_t*>(&o->work));
}

}  // namespace

const char* fs_op_name(FsOp op) {
  switch (op) {
    case FsOp::Read: return "fs/read";
    case FsOp::Write: return "fs/write";
    case FsOp::Append: return "fs/append";
    case FsOp::Stat: return "fs/stat";
    case FsOp::Lstat: return "fs/lstat";
    case FsOp::List: return "fs/list";
    case FsOp::Mkdir: return "fs/mkdir";
    case FsOp::Remove: return "fs/remove";
    case FsOp::Rename: return "fs/rename";
    case FsOp::Exists: return "fs/exists?";
  }
  return "fs/?";
}

aio::Handle* fs_start(VM& vm, FsOp op, std::string path, std::string arg, bool recursive) {
  aio::start(vm);  // (the loop starts on first use)
  ops_counter("fs").inc();
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  Op* o = gc_new_pinned<Op>();
  o->op = op;
  o->recursive = recursive;
  o->h = h;
  o->path = std::move(path);
  o->arg = std::move(arg);
  if (op == FsOp::Read) o->limit = heap_room();
  o->work.data = o;
  h->k.io = {cancel_op, o};
  int rc = uv_queue_work(aio::loop(), &o->work, work, after_work);
  if (rc != 0) {
    h->k.io = {nullptr, nullptr};
    aio::fail_with(h, uv_error("fs", fs_op_name(op), o->path, rc));
    gc_delete_pinned(o);
  }
  return h;
}

}  // namespace valk::io
