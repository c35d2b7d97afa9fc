// Errors, reading, files, and output capture for the test module.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/printer.h"
#include "core/reader.h"
#include "lib/builtins.h"

namespace valk {
namespace {

// A path for the C library: NUL-terminated, so an embedded NUL would
// silently name another file.
bool bad_path(Value path) {
  const String* s = as_string(path);
  return memchr(s->data, 0, s->len) != nullptr;
}
Value nul_path_error(const char* fn) {
  return make_errorf("%s: path contains a NUL byte", fn);
}

Value b_error(VM&, Value* args, int) {
  if (is_error(args[0])) return args[0];  // an error keeps travelling (docs/language.md#errors-are-values)
  return make_error(args[0]);
}

Value b_is_error(VM&, Value* args, int) { return make_bool(is_error(args[0])); }

// (ref? x): upstream's test for its opaque Reference values; here, any opaque
// runtime object (capture, handle, request, ...).
Value b_is_ref(VM&, Value* args, int) {
  return make_bool(is_obj(args[0]) && as_obj(args[0])->type == Type::Opaque);
}

Value b_error_message(VM&, Value* args, int) {
  if (!is_error(args[0])) return bad_arg("error-message", 0, "an error", args[0]);
  return as_error(args[0])->message;
}

// (read s): the first form of s, unevaluated; a syntax error comes back as
// the reader's error value.
Value b_read(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "read", 0, "a string");
  static const char* const file = intern_filename("<read>");
  Reader r(as_string(args[0])->view(), file);
  if (r.at_end()) return make_error("read: no form in input");
  return r.read();
}

Value b_read_file(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "read-file", 0, "a string");
  if (bad_path(args[0])) return nul_path_error("read-file");
  const char* path = as_string(args[0])->data;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_errorf("read-file: cannot open %s: %s", path, strerror(errno));
  std::string data;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(size_t(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return make_errorf("read-file: cannot read %s: %s", path, strerror(e));
    }
    if (n == 0) break;
    data.append(buf, size_t(n));
  }
  close(fd);
  return make_string(data);
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

// (write-file path content): a string is written as is, any other value in
// its display form.
Value b_write_file(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "write-file", 0, "a string");
  if (bad_path(args[0])) return nul_path_error("write-file");
  if (is_error(args[1])) return args[1];
  std::string shown;
  std::string_view content;
  if (is_string(args[1])) {
    content = as_string(args[1])->view();
  } else {
    if (Value err = check_print_room("write-file", args + 1, 1, 0); err != kNil) return err;
    print_display(shown, args[1]);
    content = shown;
  }
  const char* path = as_string(args[0])->data;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_errorf("write-file: cannot open %s: %s", path, strerror(errno));
  bool ok = write_all(fd, content.data(), content.size());
  int e = errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (!ok) return make_errorf("write-file: cannot write %s: %s", path, strerror(e));
  return kTrue;
}

Value b_file_exists(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "file-exists?", 0, "a string");
  if (bad_path(args[0])) return nul_path_error("file-exists?");
  return make_bool(access(as_string(args[0])->data, F_OK) == 0);
}

// ---- output capture ----------------------------------------------------------
// capture-start points fds 1 and 2 at fresh memory files; capture-stop puts
// the saved fds back and returns what was written. Captures nest: each start
// saves whatever fds 1 and 2 were at that moment.
struct Capture {
  int saved_out, saved_err;
  int tmp_out, tmp_err;
  bool active;
};

const OpaqueClass kCaptureClass = {"capture", nullptr};

int temp_fd() {
  int fd = memfd_create("valk-capture", MFD_CLOEXEC);
  if (fd >= 0) return fd;
  FILE* f = tmpfile();  // kernels without memfd
  if (!f) return -1;
  fd = dup(fileno(f));
  fclose(f);
  return fd;
}

void close_all(std::initializer_list<int> fds) {
  for (int fd : fds)
    if (fd >= 0) close(fd);
}

Value b_capture_start(VM&, Value*, int) {
  // Allocated first: running out of memory must not leave the fds redirected.
  auto* c = static_cast<Capture*>(gc_alloc_atomic(sizeof(Capture)));
  Value cap = make_opaque(&kCaptureClass, c);
  fflush(stdout);
  fflush(stderr);
  int tmp_out = temp_fd(), tmp_err = temp_fd();
  int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
  if (tmp_out < 0 || tmp_err < 0 || saved_out < 0 || saved_err < 0) {
    int e = errno;
    close_all({tmp_out, tmp_err, saved_out, saved_err});
    return make_errorf("test/capture-start: %s", strerror(e));
  }
  if (dup2(tmp_out, STDOUT_FILENO) < 0 || dup2(tmp_err, STDERR_FILENO) < 0) {
    int e = errno;
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close_all({tmp_out, tmp_err, saved_out, saved_err});
    return make_errorf("test/capture-start: %s", strerror(e));
  }
  *c = {saved_out, saved_err, tmp_out, tmp_err, true};
  return cap;
}

std::string slurp(int fd) {
  std::string out;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, size_t(n));
    off += n;
  }
  return out;
}

Value b_capture_stop(VM&, Value* args, int) {
  Value v = args[0];
  if (!has_type(v, Type::Opaque) || reinterpret_cast<Opaque*>(v)->cls != &kCaptureClass)
    return bad_arg("test/capture-stop", 0, "a capture", v);
  auto* c = static_cast<Capture*>(reinterpret_cast<Opaque*>(v)->payload);
  if (!c->active) return make_error("test/capture-stop: capture already stopped");
  fflush(stdout);
  fflush(stderr);
  dup2(c->saved_out, STDOUT_FILENO);
  dup2(c->saved_err, STDERR_FILENO);
  std::string out = slurp(c->tmp_out), err = slurp(c->tmp_err);
  close_all({c->saved_out, c->saved_err, c->tmp_out, c->tmp_err});
  c->active = false;
  ListBuilder lb(true);
  lb.push(intern(":stdout"));
  lb.push(make_string(out));
  lb.push(intern(":stderr"));
  lb.push(make_string(err));
  return lb.result();
}

}  // namespace

void open_io(VM&) {
  define("error", guarded<b_error>, 1, 1);
  define("error?", guarded<b_is_error>, 1, 1);
  define("error-message", guarded<b_error_message>, 1, 1);
  define("read", guarded<b_read>, 1, 1);
  define("read-file", guarded<b_read_file>, 1, 1);
  define("write-file", guarded<b_write_file>, 2, 2);
  define("file-exists?", guarded<b_file_exists>, 1, 1);
  define("ref?", guarded<b_is_ref>, 1, 1);
  define("test/capture-start", guarded<b_capture_start>, 0, 0);
  define("test/capture-stop", guarded<b_capture_stop>, 1, 1);
}

}  // namespace valk
