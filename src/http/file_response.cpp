// Files sent from disk as response bodies ({:file path}, http2/static).
#include "http/server_internal.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "aio/loop.h"
#include "io/file_pump.h"

namespace valk::http {

// ---- files (docs/http-server.md#files) -------------------------------------------------
// Each step is a uv_fs_* request on libuv's thread pool (the loop never
// blocks on the disk): for a static root, realpath of the root and of the
// file (a symlink leading out is refused), then open and fstat; the answer
// is planned by static_files.h and the body pumped by io/file_pump.h.
struct FileJob {
  uv_fs_t req;
  Stream* st = nullptr;  // null once the stream is gone
  std::string path, root, root_real;
  HeaderList extra;       // the handler's own headers
  std::string content_type;
  bool index_tried = false;
};

void detach_file_job(FileJob* j) { j->st = nullptr; }

void file_done(FileJob* j) {
  if (j->st) j->st->file_job = nullptr;
  delete j;
}

void file_fail(FileJob* j, int status) {
  if (j->st) {
    respond_text(j->st, status, status == 404 ? "Not Found\n"
                                : status == 403 ? "Forbidden\n"
                                                : "Internal Server Error\n");
    request_flush(j->st->conn);
  }
  file_done(j);
}

int status_of_fs_error(ssize_t e) {
  if (e == UV_ENOENT || e == UV_ENOTDIR || e == UV_ENAMETOOLONG || e == UV_ELOOP) return 404;
  if (e == UV_EACCES || e == UV_EPERM) return 403;
  return 500;
}

void file_open(FileJob* j);
void file_resolve(FileJob* j);

void close_fd(uv_file fd) {
  auto* r = new uv_fs_t;
  if (uv_fs_close(aio::loop(), r, fd, [](uv_fs_t* q) {
        uv_fs_req_cleanup(q);
        delete q;
      }) != 0)
    delete r;
}

void on_file_stat(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  uv_stat_t sb = r->statbuf;
  uv_fs_req_cleanup(r);
  uv_file file = j->st ? j->st->file_fd : -1;
  if (!j->st) return file_done(j);
  j->st->file_fd = -1;
  if (res < 0) {
    close_fd(file);
    return file_fail(j, status_of_fs_error(res));
  }
  if ((sb.st_mode & S_IFMT) == S_IFDIR) {
    close_fd(file);
    if (!j->root.empty() && !j->index_tried) {  // a directory of a static root: its index
      j->index_tried = true;
      j->path += "/index.html";
      return file_resolve(j);
    }
    return file_fail(j, j->root.empty() ? 403 : 404);
  }
  if ((sb.st_mode & S_IFMT) != S_IFREG) {
    close_fd(file);
    return file_fail(j, 403);
  }
  Stream* st = j->st;
  FilePlan plan = plan_file(int64_t(sb.st_size), time_t(sb.st_mtim.tv_sec), j->path, st->method,
                            st->headers, j->content_type);
  for (auto& h : j->extra) plan.headers.push_back(h);
  file_done(j);
  if (!plan.send_body) {
    close_fd(file);
    respond(st, plan.status, std::move(plan.headers), make_string(""));
    request_flush(st->conn);
    return;
  }
  aio::ByteStream* bs = start_stream(st, plan.status, std::move(plan.headers));
  if (!bs) return close_fd(file);
  io::pump_file(bs, file, plan.offset, plan.length);
}

void on_file_open(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  uv_fs_req_cleanup(r);
  if (!j->st) {
    if (res >= 0) close_fd(uv_file(res));
    return file_done(j);
  }
  if (res < 0) return file_fail(j, status_of_fs_error(res));
  j->st->file_fd = uv_file(res);
  j->req.data = j;
  if (uv_fs_fstat(aio::loop(), &j->req, uv_file(res), on_file_stat) != 0) {
    close_fd(uv_file(res));
    j->st->file_fd = -1;
    file_fail(j, 500);
  }
}

void file_open(FileJob* j) {
  j->req.data = j;
  if (uv_fs_open(aio::loop(), &j->req, j->path.c_str(), O_RDONLY | O_CLOEXEC, 0, on_file_open) != 0)
    file_fail(j, 500);
}

void on_path_real(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  std::string real = res >= 0 ? static_cast<const char*>(r->ptr) : "";
  uv_fs_req_cleanup(r);
  if (!j->st) return file_done(j);
  if (res < 0) return file_fail(j, status_of_fs_error(res));
  // Inside the root, after every symlink is followed.
  const std::string& root = j->root_real;
  bool inside = real == root || (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
                                 (root.back() == '/' || real[root.size()] == '/'));
  if (!inside) return file_fail(j, 403);
  j->path = real;
  file_open(j);
}

void file_resolve(FileJob* j) {
  j->req.data = j;
  if (uv_fs_realpath(aio::loop(), &j->req, j->path.c_str(), on_path_real) != 0) file_fail(j, 500);
}

void on_root_real(uv_fs_t* r) {
  auto* j = static_cast<FileJob*>(r->data);
  ssize_t res = r->result;
  if (res >= 0) j->root_real = static_cast<const char*>(r->ptr);
  uv_fs_req_cleanup(r);
  if (!j->st) return file_done(j);
  if (res < 0) {
    log_handler_error(j->st, "http2/static: the root " + j->root + " cannot be resolved: " +
                                 uv_strerror(int(res)));
    return file_fail(j, 500);
  }
  file_resolve(j);
}

void respond_file(Stream* st, const Head& head) {
  if (st->responded || !st->conn->session) return;
  auto* j = new FileJob;
  j->st = st;
  st->file_job = j;
  j->path = std::string(as_string(head.file)->view());
  for (auto& [n, v] : head.headers) {
    if (n == "content-type") j->content_type = v;
    else if (n != "content-length") j->extra.push_back({n, v});
  }
  if (head.root == kUnbound) return file_open(j);
  j->root = std::string(as_string(head.root)->view());
  j->req.data = j;
  if (uv_fs_realpath(aio::loop(), &j->req, j->root.c_str(), on_root_real) != 0) file_fail(j, 500);
}

}  // namespace valk::http
