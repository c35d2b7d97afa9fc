// Shared helpers for builtin functions, and the registry of builtin modules.
//
// Conventions every builtin follows (docs/language.md#errors-are-values):
//  - arity is checked by the VM from min/max before the call;
//  - an argument that is an error value, where the builtin wants something
//    else, is returned as is (the original error travels outward);
//  - any other bad argument gives a fresh error naming the builtin, e.g.
//    "str/split: argument 1 must be a string, got integer".
#pragma once

#include <new>
#include <string>

#include "core/value.h"
#include "core/vm.h"

namespace valk {

void define(const char* name, BuiltinFn fn, int min_args, int max_args,
            uint16_t intrinsic = 0);
void define_value(const char* name, Value v);

// Returns the error to give when args[i] is not of the expected kind: the
// argument itself if it is an error, else a type error.
Value bad_arg(const char* fn, int index, const char* expected, Value got);

#define VALK_CHECK(cond, fn, i, expected)                                   \
  do {                                                                      \
    if (!(cond)) return ::valk::bad_arg(fn, i, expected, args[i]);          \
  } while (0)

// Module openers, one per file under src/lib/.
void open_math(VM& vm);      // + - * / % comparisons, number conversions
void open_lists(VM& vm);     // list, head, tail, cons, join, len, nth, ...
void open_strings(VM& vm);   // str, str/*, printf, print, make-string, ...
void open_plists(VM& vm);    // plist/*, get
void open_dicts(VM& vm);     // dict, dict/*
void open_json(VM& vm);      // json/parse, json/encode, json/null
void open_io(VM& vm);        // read, read-file, load, error, test/capture-*
void open_console(VM& vm);   // read-line, read-stdin (blocking reads of standard input)
void open_system(VM& vm);    // exit, shutdown, time-us, type, mem/*, sys/*
void open_core(VM& vm);      // apply, eval, \ (runtime lambdas), def helpers
void open_aio(VM& vm);       // aio/*: handles, combinators, timers, the loop
void open_metrics(VM& vm);   // aio/metrics*, metrics/* (user metrics)
void open_http(VM& vm);      // http2/server-*, http2/response, req/*
void open_client(VM& vm);    // %http-fetch (the client; its API is lib/valk/http_api.valk)
void open_format(VM& vm);    // format
void open_regex(VM& vm);     // re/match, re/find-all, re/replace, re/split (PCRE2)
void open_sort(VM& vm);      // %sort-default, %sort-by-keys (sort, sort-by: prelude.valk)
void open_streams(VM& vm);   // stream/*: byte streams (HTTP bodies; later sockets, pipes, files)
void open_context(VM& vm);   // ctx/*, trace/*: request contexts (src/aio/context.h)
void open_net(VM& vm);       // tcp/*, unix/*, dns/resolve (src/io/tcp.h, src/io/dns.h)
void open_os(VM& vm);        // os/signal, os/on-signal (src/io/signals.h)
void open_fs(VM& vm);        // fs/*: files on libuv's thread pool (src/io/fs.h, file_stream.h)
void open_proc(VM& vm);      // proc/*: child processes (src/io/process.h)
void open_channels(VM& vm);  // chan/*, aio/semaphore, aio/event, aio/shield (src/aio/channel.h, sync.h)

inline void open_all(VM& vm) {
  open_core(vm);
  open_math(vm);
  open_lists(vm);
  open_strings(vm);
  open_plists(vm);
  open_dicts(vm);
  open_json(vm);
  open_io(vm);
  open_console(vm);
  open_system(vm);
  open_aio(vm);
  open_metrics(vm);
  open_http(vm);
  open_client(vm);
  open_format(vm);
  open_regex(vm);
  open_sort(vm);
  open_streams(vm);
  open_context(vm);
  open_net(vm);
  open_os(vm);
  open_fs(vm);
  open_proc(vm);
  open_channels(vm);
}

// printf-style directives of fmt applied to args, appended to out (format.cpp);
// kNil or the error. Strict (format): any value for %s, unknown directives and
// extra arguments are errors. Printf (printf, println): %s wants a string, an
// unknown directive is copied literally, extra arguments are ignored.
// Messages name fn.
enum class FormatStyle { Strict, Printf };
Value format_into(const char* fn, std::string_view fmt, Value* args, int argc, FormatStyle style,
                  std::string& out);

// The system value of upstream's aio API ((aio/sleep sys ms) etc.).
bool is_aio_system(Value v);

// Display form of all args concatenated (str) / joined by spaces (print).
std::string display_concat(Value* args, int argc, const char* sep);

// ---- the heap limit (value.cpp) ------------------------------------------------
// The collector's heap is capped (default: half the machine's or the
// cgroup's memory; VALK_HEAP_LIMIT; mem/heap/set-hard-limit). Inside a
// builtin wrapped by `guarded`, an allocation the collector cannot satisfy
// throws HeapExhausted, and the builtin returns an error value instead.
struct HeapExhausted {
  size_t bytes;
};
// Guards alive on this thread; whether the VM's reserve was let go (then a
// builtin runs only once memory is back). Inline: every builtin call pays them.
inline thread_local int g_alloc_guards = 0;
inline bool g_heap_emergency = false;
void enter_builtin_in_emergency();  // throws HeapExhausted while memory is short
// While one is alive on this thread, a failed allocation throws.
class AllocGuard {
 public:
  AllocGuard() {
    if (__builtin_expect(g_heap_emergency, 0) && g_alloc_guards == 0)
      enter_builtin_in_emergency();  // may throw, before the count goes up
    ++g_alloc_guards;
  }
  ~AllocGuard() { --g_alloc_guards; }
  AllocGuard(const AllocGuard&) = delete;
  AllocGuard& operator=(const AllocGuard&) = delete;
};
// The error a builtin returns when memory ran out (never fails itself).
Value heap_exhausted_error(size_t bytes);

// A builtin that allocates is defined as define("x", guarded<b_x>, ...).
// A builtin runs no Lisp code, so nothing but its own C++ frames unwinds.
template <BuiltinFn F>
Value guarded(VM& vm, Value* args, int argc) {
  try {
    AllocGuard g;
    return F(vm, args, argc);
  } catch (const HeapExhausted& e) {
    return heap_exhausted_error(e.bytes);
  } catch (const std::bad_alloc&) {  // malloc'd buffers (std::string)
    return heap_exhausted_error(0);
  }
}

// The limit in bytes (0: none) and setting it; VALK_HEAP_LIMIT's value or the
// default; bytes still free under the limit (without one, in the machine).
int64_t heap_limit();
void set_heap_limit(int64_t bytes);
int64_t default_heap_limit();
size_t heap_room();
// kNil when count * each more bytes fit under the limit (after a collection
// if need be), else an error naming fn. For results whose size is known
// before they are built.
Value check_room(const char* fn, uint64_t count, uint64_t each);
// Collects now, whatever mem/gc/set-min-interval says.
void collect_now();
// Bytes of the heap held back as the VM's reserve (not the program's data).
size_t heap_reserve_held();

// An upper bound of the display (or readable) text of v, stopping early once
// it passes cap. For builtins that print into memory.
size_t printed_size_bound(Value v, bool readable, size_t cap);
// kNil, or an error when the display text of args would not fit in memory.
Value check_print_room(const char* fn, Value* args, int argc, size_t sep_len);

}  // namespace valk
