// The VM: an explicit-stack bytecode machine. A Lisp call pushes a Frame on
// the VM's own frame stack, never a C frame, so recursion depth is bounded
// only by memory (and max_depth), tail calls reuse their frame, and a
// continuation is a copy of a segment of the two stacks.
#pragma once

#include <csignal>
#include <string>
#include <string_view>

#include "core/value.h"

namespace valk {

struct Proto;

struct Frame {
  const uint32_t* pc;  // next instruction of this frame
  Closure* closure;    // the running function
  Env* env;            // heap frame (env-mode functions) or captured env
  uint32_t base;       // index of local slot 0 in the value stack
  uint32_t flags;      // kFrameReset: delimiter of async-reset
};
inline constexpr uint32_t kFrameReset = 1;

struct VM {
  VM();
  ~VM();
  VM(const VM&) = delete;
  VM& operator=(const VM&) = delete;

  // ---- running code --------------------------------------------------------
  // Calls fn with args and runs until it returns. Usable from C++ whenever
  // no builtin is executing further up (the CLI, the event loop).
  Value call(Value fn, const Value* args, int argc);
  // Reads, compiles and runs every form of src; stops at the first error
  // value and returns it (located), else the last value. is_file: src is a
  // file's whole text (its "#!" first line is skipped).
  Value eval_source(std::string_view src, const char* file, bool is_file = false);
  Value eval_form(Value form);
  Value run_file(const std::string& path);
  // Defines the builtins and loads the standard library (the constructor
  // does; reset_runtime does again).
  void load_library();

  // For builtins that need Lisp code run (apply, eval, load): record the call
  // and return the value this returns; the VM then performs the call in the
  // builtin's place, as a tail call.
  Value tail_call(Value fn, Value arglist);

  // The async runtime's callbacks ("jobs") run through a trampoline frame
  // that delimits them like async-reset and reports the result to
  // job_done_hook(vm, token, result). Calling job_trampoline(n) with
  // (fn arg1..argn token) runs one job.
  static Value job_trampoline(int nargs);
  static void (*job_done_hook)(VM& vm, Value token, Value result);

  // True when an async-reset delimits the running code (within the
  // current run of the interpreter loop).
  bool in_reset() const;

  // Stamps an unlocated error with the location of the running instruction.
  void locate(Value err);
  SrcLoc current_loc() const;

  // ---- state -------------------------------------------------------------------
  Value* stack = nullptr;
  size_t stack_cap = 0;
  size_t sp = 0;  // first free slot
  Frame* frames = nullptr;
  size_t frames_cap = 0;
  size_t nframes = 0;
  size_t max_depth;     // frames; past it a call yields an error value
  size_t exec_base = 0; // frames below belong to outer runs of execute()
#ifdef VALK_STEP_LIMIT
  // Fuzzing builds only: past step_limit calls (0: none) every call yields
  // the error "step limit exceeded", so any program ends.
  uint64_t steps = 0, step_limit = 0;
#endif

  int exit_code = 0;
  bool exit_requested = false;  // (shutdown n) / (exit n): finish and exit
  Value pending_fn = kNil;  // a builtin's tail call (tail_call), when has_pending
  bool has_pending = false;
  Value pending_args = kNil;
  std::string current_file;  // the file being loaded, for relative load

  void grow_stack(size_t need);
  void grow_frames();

 private:
  Value execute(size_t stop_depth);
  friend struct VMAccess;
};

VM& current_vm();

// Ctrl-C at the REPL (src/cli/repl.cpp): its SIGINT handler sets this flag.
// While it is set, every call the VM makes yields the error "interrupted",
// which carries the interruption out of any loop (a loop is a call, code only
// jumps forward), through try handlers too. Whoever installed the handler
// clears it before the next evaluation; outside the REPL nothing sets it.
inline volatile std::sig_atomic_t g_interrupt = 0;

}  // namespace valk
