// Sends a file's bytes into a writable byte stream (aio/stream.h), read on
// libuv's thread pool (uv_fs_read) only while the stream's queue is under
// its low watermark: a slow reader paces the disk, and memory stays at one
// watermark plus one read whatever the file's size.
#pragma once

#include <uv.h>

#include <cstdint>

#include "aio/stream.h"

namespace valk::io {

// Takes ownership of fd (closed at the end, however the stream ends) and
// sends `length` bytes from `offset`, then closes the stream.
void pump_file(aio::ByteStream* sink, uv_file fd, int64_t offset, int64_t length);

}  // namespace valk::io
