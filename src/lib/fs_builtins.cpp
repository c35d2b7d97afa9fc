// The fs/* builtins (docs/io.md#files): files on libuv's thread pool.
// Every operation returns a handle; see src/io/fs.h and src/io/file_stream.h.
#include <cstring>
#include <string>

#include "aio/handle.h"
#include "aio/stream.h"
#include "io/file_stream.h"
#include "io/fs.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using io::FsOp;

// A path for the C library: a string without NUL (which would silently
// name another file). kNil when fine, else the error to return.
Value check_path(const char* fn, Value* args, int i) {
  if (!is_string(args[i])) return bad_arg(fn, i, "a path (string)", args[i]);
  const String* s = as_string(args[i]);
  if (s->len == 0) return make_errorf("%s: the path is empty", fn);
  if (memchr(s->data, 0, s->len)) return make_errorf("%s: path contains a NUL byte", fn);
  return kNil;
}

std::string str_of(Value v) { return std::string(as_string(v)->view()); }

Value start(VM& vm, FsOp op, std::string path, std::string arg = {}, bool recursive = false) {
  return aio::return_draining(vm, aio::handle_value(io::fs_start(vm, op, std::move(path), std::move(arg), recursive)));
}

#define PATH(fn, i)                                               \
  if (Value e_ = check_path(fn, args, i); e_ != kNil) return e_

template <FsOp op>
Value b_path_op(VM& vm, Value* args, int) {
  PATH(io::fs_op_name(op), 0);
  return start(vm, op, str_of(args[0]));
}

// (fs/write path data), (fs/append path data): data is a string.
template <FsOp op>
Value b_write_op(VM& vm, Value* args, int) {
  PATH(io::fs_op_name(op), 0);
  VALK_CHECK(is_string(args[1]), io::fs_op_name(op), 1, "a string");
  return start(vm, op, str_of(args[0]), str_of(args[1]));
}

// (fs/remove path [{:recursive true}])
Value b_remove(VM& vm, Value* args, int argc) {
  PATH("fs/remove", 0);
  bool recursive = false;
  if (argc > 1 && args[1] != kNil) {
    VALK_CHECK(is_cons(args[1]), "fs/remove", 1, "an options plist");
    Value r = plist_lookup(args[1], intern(":recursive"));
    recursive = r != kUnbound && truthy(r);
  }
  return start(vm, FsOp::Remove, str_of(args[0]), {}, recursive);
}

// (fs/rename from to)
Value b_rename(VM& vm, Value* args, int) {
  PATH("fs/rename", 0);
  PATH("fs/rename", 1);
  return start(vm, FsOp::Rename, str_of(args[0]), str_of(args[1]));
}

// (fs/open path [:read | :write | :append]) => a handle of a byte stream.
Value b_open(VM& vm, Value* args, int argc) {
  PATH("fs/open", 0);
  io::OpenMode mode = io::OpenMode::Read;
  if (argc > 1) {
    if (args[1] == intern(":read")) mode = io::OpenMode::Read;
    else if (args[1] == intern(":write")) mode = io::OpenMode::Write;
    else if (args[1] == intern(":append")) mode = io::OpenMode::Append;
    else return bad_arg("fs/open", 1, "a mode (:read, :write or :append)", args[1]);
  }
  return aio::return_draining(vm, aio::handle_value(io::fs_open(vm, str_of(args[0]), mode)));
}

// (fs/line-reader s) => a line reader over a readable stream.
Value b_line_reader(VM& vm, Value* args, int) {
  if (!aio::is_stream(args[0])) return bad_arg("fs/line-reader", 0, "a stream", args[0]);
  aio::ByteStream* s = aio::as_stream(args[0]);
  if (!s->readable) return make_error("fs/line-reader: the stream is not readable");
  return io::new_line_reader(vm, s);
}

// (fs/read-line r) => a handle of the next line, or nil at the end.
Value b_read_line(VM& vm, Value* args, int) {
  if (!io::is_line_reader(args[0])) return bad_arg("fs/read-line", 0, "a line reader", args[0]);
  return aio::return_draining(vm, aio::handle_value(io::read_line(vm, args[0])));
}

// (fs/close-lines r) => nil: ends the reader (and its stream) early.
Value b_close_lines(VM& vm, Value* args, int) {
  if (!io::is_line_reader(args[0])) return bad_arg("fs/close-lines", 0, "a line reader", args[0]);
  io::close_line_reader(args[0]);
  return aio::return_draining(vm, kNil);
}

}  // namespace

void open_fs(VM&) {
  define("fs/read", guarded<b_path_op<FsOp::Read>>, 1, 1);
  define("fs/write", guarded<b_write_op<FsOp::Write>>, 2, 2);
  define("fs/append", guarded<b_write_op<FsOp::Append>>, 2, 2);
  define("fs/stat", guarded<b_path_op<FsOp::Stat>>, 1, 1);
  define("fs/lstat", guarded<b_path_op<FsOp::Lstat>>, 1, 1);
  define("fs/list", guarded<b_path_op<FsOp::List>>, 1, 1);
  define("fs/mkdir", guarded<b_path_op<FsOp::Mkdir>>, 1, 1);
  define("fs/remove", guarded<b_remove>, 1, 2);
  define("fs/rename", guarded<b_rename>, 2, 2);
  define("fs/exists?", guarded<b_path_op<FsOp::Exists>>, 1, 1);
  define("fs/open", guarded<b_open>, 1, 2);
  define("fs/line-reader", guarded<b_line_reader>, 1, 1);
  define("fs/read-line", guarded<b_read_line>, 1, 1);
  define("fs/close-lines", guarded<b_close_lines>, 1, 1);
}

}  // namespace valk
