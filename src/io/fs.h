// Files on libuv's thread pool (docs/io.md#files): whole-file operations
// (fs/read, fs/write, fs/stat, ...) as handles. Open files as byte streams
// are in file_stream.h.
#pragma once

#include <string>

#include "aio/handle.h"
#include "core/vm.h"

namespace valk::io {

enum class FsOp : uint8_t { Read, Write, Append, Stat, Lstat, List, Mkdir, Remove, Rename, Exists };

// The operation's name as the program calls it ("fs/read"), for errors.
const char* fs_op_name(FsOp op);

// Starts `op` on the thread pool and returns its handle (kind Io): it
// completes with the result (fs/read: the file's contents as a string;
// fs/stat, fs/lstat: a plist; fs/list: the sorted entry names; fs/exists?: a
// boolean; the others: true), or fails with an error value naming the
// operation, the path and libuv's message. Cancelling it before the work
// starts takes it off the queue; after, the result is discarded.
//   path: the file; arg: the data (write, append) or the new name (rename);
//   recursive: fs/remove of a directory and everything under it.
aio::Handle* fs_start(VM& vm, FsOp op, std::string path, std::string arg = {}, bool recursive = false);

}  // namespace valk::io
