// Open files as byte streams (docs/io.md#files), and line readers over any
// readable byte stream (fs/lines).
#pragma once

#include <string>

#include "aio/handle.h"
#include "aio/stream.h"
#include "core/vm.h"

namespace valk::io {

enum class OpenMode : uint8_t { Read, Write, Append };

// (fs/open path mode): a handle (kind Io) of a byte stream of kind "file":
// readable for Read (read ahead in 64 KiB chunks while the stream's unread
// bytes are under its high watermark), writable for Write (create/truncate,
// 0644) and Append. The open file is owned by the scope current now: the
// scope's end cancels the stream and closes the fd. The fd is closed when
// the stream ends however it ends (end of file, stream/close after a flush,
// stream/cancel, an error).
aio::Handle* fs_open(VM& vm, std::string path, OpenMode mode);

// A line reader over a readable stream: each read-line is a handle of the
// next line (without "\n" or "\r\n"), nil after the last one. Memory: the
// stream's watermark plus the longest line.
bool is_line_reader(Value v);
Value new_line_reader(VM& vm, aio::ByteStream* s);
aio::Handle* read_line(VM& vm, Value reader);
// Ends the reader's stream (stream/cancel): pending and later reads give nil.
void close_line_reader(Value reader);

}  // namespace valk::io
