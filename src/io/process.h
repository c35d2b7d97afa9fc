// Child processes (docs/io.md#processes): proc/run (run to the end and
// collect the output) and proc/spawn (a process value with streams).
//
// A process is spawned with libuv (uv_spawn) in a process group of its own
// (a new session, UV_PROCESS_DETACHED), so that signals reach the whole
// group: a shell's children die with it. Its pipes are UvConns
// (io/uv_stream.h) behind byte streams, owned by the process rather than by
// a scope. The process itself is owned by the scope it was started in
// (proc/spawn: io::own; proc/run: its own handle): the scope's end, or the
// handle's cancellation, sends SIGTERM to the group, then SIGKILL after a
// grace period, and closes the pipes. libuv reaps every child (its exit
// callback), so none is left a zombie.
//
// The timers here (:timeout-ms, the kill grace) are libuv timers on the real
// clock, not aio timers: a process lives in real time, and the virtual clock
// (which jumps ahead whenever the loop would wait) would time out a process
// that is merely still running, and skip the grace.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aio/handle.h"
#include "aio/stream.h"
#include "core/gc.h"
#include "core/value.h"

namespace valk::io {

struct UvConn;
struct ProcCore;

enum class StdioMode : uint8_t { Pipe, Inherit, Ignore };

struct ProcSpec {
  const char* op = "proc/run";  // names the operation in errors
  std::string cmd;
  std::vector<std::string> args;
  StdioMode in = StdioMode::Pipe, out = StdioMode::Pipe, err = StdioMode::Pipe;
  bool has_stdin_text = false;  // proc/run's :stdin "text"
  std::string stdin_text;
  bool env_replace = false;  // :env: exactly this environment
  std::vector<std::pair<std::string, std::string>> env;  // :env, or :env-add's additions
  std::string cwd;
  int64_t timeout_ms = 0;  // 0: none
  size_t max_output = size_t(64) << 20;  // per output stream (proc/run)
  int64_t kill_grace_ms = 2000;
  bool group = true;  // its own process group; signals go to the group
};

struct Proc;
// Where a pipe reports that it finished (on_finished's ctx).
struct ProcSlot {
  Proc* p;
  int fd;
};

// The process value (class "process"): collectable; the pinned ProcCore
// (which libuv points at) keeps it alive while anything is running.
struct Proc {
  Opaque base;
  ProcCore* core = nullptr;  // null once every libuv handle is closed
  const char* op = "proc/run";
  std::string cmd;
  int pid = 0;
  bool run = false;          // proc/run: run_h collects the output
  bool group = true;
  bool exited = false;
  bool terminating = false;  // SIGTERM sent by cancellation or a timeout
  int64_t status = 0;        // exit code (when not killed by a signal)
  int signal = 0;            // the signal that killed it, or 0
  int64_t timeout_ms = 0;
  int64_t kill_grace_ms = 2000;
  size_t max_output = 0;
  aio::ByteStream* streams[3] = {nullptr, nullptr, nullptr};  // stdin, stdout, stderr
  UvConn* conns[3] = {nullptr, nullptr, nullptr};             // while the pipe is open
  ProcSlot slots[3];
  int pipes_open = 0;
  aio::Handle* owner = nullptr;  // proc/spawn: its scope's claim (io::own)
  aio::Handle* run_h = nullptr;  // proc/run: the handle of the result
  Value text[3] = {kNil, kNil, kNil};  // proc/run: stdout, stderr once read
  bool done[3] = {true, true, true};   // ... read to the end (or not piped)
  TracedVector<aio::Handle*> waiters;  // pending proc/wait handles
};

bool is_proc(Value v);
Proc* as_proc(Value v);

// proc/run: a handle completing with {:status :signal :stdout :stderr}.
aio::Handle* proc_run(VM& vm, const ProcSpec& spec);
// proc/spawn: the process value, or an error value (spawn failed).
Value proc_spawn(VM& vm, const ProcSpec& spec);
// {:status n-or-nil :signal n-or-nil} of an exited process.
Value exit_plist(const Proc* p);
// proc/wait: a handle completing with exit_plist once the process exited.
aio::Handle* proc_wait(VM& vm, Proc* p);
// Sends sig (to the group); false when the process has exited already;
// a negative libuv code on failure.
int proc_kill(Proc* p, int sig);

}  // namespace valk::io
