// The runtime: all the state of a running Valkyria program, in one place
// (the model is Lua's global_State and Janet's janet_vm). Each subsystem's
// .cpp file reads and writes its own part through rt(); nothing else keeps
// mutable state at file scope, except what is process-wide by nature
// (listed at the end).
//
// One runtime exists at a time. reset_runtime() discards it and starts a
// fresh one (new loop, no handles, no timers, every global unbound again,
// the standard library loaded anew): unit tests use it to start clean. It
// may only be called when no server, transfer or timer is live.
#pragma once

#include <uv.h>

#include <cstdint>
#include <unordered_set>
#include <cstdlib>
#include <vector>

#include "core/gc.h"
#include "core/value.h"

namespace valk {

struct VM;
namespace aio {
struct Handle;
struct Job;
}  // namespace aio
namespace http {
struct Server;
struct Connection;
struct Transfer;
}  // namespace http

// ---- the async runtime: handles, jobs, scopes (src/aio/handle.cpp) ------------------------
struct HandleCounts {
  uint64_t created, completed, failed, cancelled;
  uint64_t pending;  // unsettled now
};
struct AsyncState {
  uint32_t next_id = 1;
  HandleCounts counts{};
  aio::Handle* live = nullptr;   // unsettled handles: roots, so pending work is never collected
  aio::Handle* scope = nullptr;  // the scope code is running on behalf of
  TracedDeque<aio::Handle*> notify;  // settled handles whose waiters are still to be told
  bool notifying = false;
  // Failures that settled with nobody waiting (reported unless observed).
  TracedVector<aio::Handle*> unhandled;
  size_t unhandled_compact_at = 64;
  // Handles started on behalf of a scope that had already finished.
  TracedVector<aio::Handle*> orphans;
  TracedDeque<aio::Job*> jobs;  // queued Lisp callbacks
  int jobs_running = 0;         // started and not yet reported done
  // The request context code is running under (src/aio/context.h): nil, or
  // a context value. Handles and jobs capture it; jobs restore it.
  Value context = kNil;
  uint64_t trace_state[2] = {0, 0};  // trace and span id generator (context.cpp)
};

// ---- timers and clocks (src/aio/timers.cpp) -----------------------------------------------
struct TimerEntry {
  int64_t deadline;
  uint64_t seq;  // FIFO among equal deadlines
  aio::Handle* handle;
};
struct TimerHeap {
  bool virtual_time = false;  // VALK_VIRTUAL_TIME=1 or (aio/virtual-time)
  int64_t virtual_now = 0;
  uint64_t seq = 0;
  TracedVector<TimerEntry> heap;  // holds the only pointers to some timed handles
};

// ---- the event loop (src/aio/loop.cpp) ----------------------------------------------------
struct LoopStats {
  uint64_t iterations;
  int64_t busy_us;
};
struct LoopState {
  uv_loop_t loop;    // scanned by the collector: its handle list reaches every open handle
  uv_timer_t master;  // armed for the earliest timer deadline (real time)
  uv_async_t interrupt;  // sent by the REPL's Ctrl-C handler (wake_from_signal)
  bool started = false;
  bool stop = false;
  bool polling = false;  // inside uv_run
  LoopStats stats{};
  int64_t woke_us = -1;  // when the last poll returned: busy time runs from here
  std::vector<void (*)()> before_poll;
};

// ---- the HTTP/2 server (src/http/server.cpp) ------------------------------------------------
struct ServerState {
  // Connections whose responses are written before the next poll.
  std::vector<http::Connection*> to_flush;
  // Servers that listen or still have connections.
  TracedVector<http::Server*> live;
  // Spare output buffers (connection.cpp), so that a large body does not
  // allocate and fault in a fresh one for every piece it is written in.
  struct WritePool {
    std::vector<void*> spare;  // 128 KiB pieces
    ~WritePool() {
      for (void* p : spare) free(p);
    }
  } write_pool;
};

// ---- the HTTP client (src/http/client.cpp) --------------------------------------------------
struct ClientState {
  void* multi = nullptr;  // CURLM*, made on the first fetch
  std::unordered_set<http::Transfer*> live;  // transfers in flight (pinned memory)
  uv_timer_t timer;  // curl's timeout
  uv_timer_t kick;   // works around libcurl 7.88's stalled multiplexed transfers
  int64_t open_sockets = 0;
};

struct Runtime {
  VM* vm = nullptr;       // the interpreter running this program
  Value system = kNil;    // the aio system value, made on first use
  AsyncState async;
  TimerHeap timers;
  LoopState loop;
  ServerState server;
  ClientState client;
};

// The runtime in use (made on first use).
extern Runtime* g_runtime;
Runtime& make_runtime();
inline Runtime& rt() { return g_runtime ? *g_runtime : make_runtime(); }
// Discards the runtime and makes a fresh one (see the top of this file).
void reset_runtime();
// What a subsystem must close before its part of the runtime is discarded
// (the loop's own timers, curl's multi handle); registered once.
void add_runtime_teardown(void (*fn)(Runtime& old));

// Process-wide, not per runtime (and why):
// - the symbol table (value.cpp): symbols are names, shared and never freed;
//   their global bindings are reset by reset_runtime;
// - the collector's configuration and hooks (vm.cpp, system.cpp): one heap
//   per process;
// - the VM's internal trampolines (vm.cpp): immutable code, made once;
// - the table of inlined builtins and whether a program redefined one
//   (vm.cpp): read by every arithmetic instruction, so a plain global;
//   load_library sets it anew;
// - the heap limit and the allocation batch of cons cells (value.cpp):
//   properties of the one collected heap;
// - the metrics registry (metrics.cpp): counters for the whole process, which
//   exporters read; a fresh runtime keeps counting;
// - the count of user metric families (metrics_builtins.cpp): part of the
//   registry's bound;
// - the worker supervisor's signal flag (cli/workers.cpp): signal handlers
//   can only reach file-scope state.

}  // namespace valk
