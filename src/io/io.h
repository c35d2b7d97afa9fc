// What every kind of I/O beyond HTTP shares (docs/io.md): errors converted
// once at the libuv boundary, metrics by kind, and ownership by scopes.
//
// The rules each kind follows:
//  - every operation is a handle (aio/handle.h); libuv callbacks only record
//    what happened and settle handles or push into streams, never run Lisp;
//  - a failure is an error value naming the operation, the path or address,
//    and libuv's message: "fs/read /no/such: no such file or directory (ENOENT)";
//  - what stays open after the operation that opened it (a socket, a process,
//    an open file, a server) is owned by the scope it was opened in: when the
//    scope ends, it is closed (see own()).
#pragma once

#include <string>
#include <string_view>

#include "aio/handle.h"
#include "aio/metrics.h"
#include "core/value.h"

namespace valk::io {

// "op subject: message (CODE)" for a libuv error code (negative errno).
std::string uv_message(std::string_view op, std::string_view subject, int code);
// The same as an error value; counts an error of `kind` (metrics below).
Value uv_error(const char* kind, std::string_view op, std::string_view subject, int code);
// An error value that is not libuv's ("proc/run: the command must be a string").
Value io_error(const char* kind, std::string message);

// valk_io_operations_total{kind}, valk_io_errors_total{kind}, valk_io_open{kind}.
// The references are cached by kind (a handful of fixed names).
metrics::Counter& ops_counter(const char* kind);
metrics::Counter& errors_counter(const char* kind);
metrics::Gauge& open_gauge(const char* kind);

// A resource the program opened: a pending handle (kind Io) stands for it
// in the scope that was current, so that the scope's end (which cancels its
// unsettled children) closes it. close(ctx) is called at most once, from
// the cancellation; when the resource closes by itself, release() settles
// the handle without calling close. Outside any scope the handle is only
// bookkeeping (aio/dump lists what is open).
aio::Handle* own(VM& vm, void (*close)(void* ctx), void* ctx);
// The same for a resource that opens later than the call that asked for it
// (a connect, an open on the thread pool): owned by `scope`, the scope that
// was current at the call (aio::current_scope()). If that scope has ended
// meanwhile, close(ctx) runs at once and the result is null.
aio::Handle* own_in(VM& vm, aio::Handle* scope, void (*close)(void* ctx), void* ctx);
void release(aio::Handle* owner);  // null is fine; idempotent

}  // namespace valk::io
