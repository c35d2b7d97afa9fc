// The proc/* builtins (docs/io.md#processes): child processes, through
// io/process.h.
#include <signal.h>

#include <string>

#include "aio/handle.h"
#include "core/dict.h"
#include "io/io.h"
#include "io/process.h"
#include "lib/builtins.h"

namespace valk {

namespace {

using io::ProcSpec;
using io::StdioMode;

Value opt(Value opts, const char* key) {
  Value v = plist_lookup(opts, intern(key));
  return v == kUnbound ? kNil : v;
}

Value opt_error(const char* fn, const char* key, const char* expected, Value got) {
  if (is_error(got)) return got;
  return make_errorf("%s: option %s must be %s, got %s", fn, key, expected, describe_type(got).c_str());
}

// A key of :env: a string, or a keyword (:HOME is "HOME").
bool env_name(Value k, std::string& out) {
  if (is_string(k)) {
    out = std::string(as_string(k)->view());
  } else if (is_keyword(k)) {
    out = std::string(as_symbol(k)->view().substr(1));
  } else {
    return false;
  }
  return !out.empty() && out.find('=') == std::string::npos && out.find('\0') == std::string::npos;
}

Value env_of(const char* fn, const char* key, Value v, ProcSpec& s) {
  auto add = [&](Value k, Value val) -> bool {
    std::string name;
    if (!env_name(k, name) || !is_string(val)) return false;
    s.env.emplace_back(std::move(name), std::string(as_string(val)->view()));
    return true;
  };
  const char* expected = "a plist of names (strings or keywords) and string values";
  if (is_dict(v)) {
    bool ok = true;
    dict_for_each(as_dict(v), [&](Value k, Value val) { ok = ok && add(k, val); });
    if (!ok) return opt_error(fn, key, expected, v);
    return kNil;
  }
  if (!is_list(v)) return opt_error(fn, key, expected, v);
  for (Value p = v; is_cons(p); p = cdr(cdr(p))) {
    if (!is_cons(cdr(p)) || !add(car(p), car(cdr(p)))) return opt_error(fn, key, expected, v);
  }
  return kNil;
}

Value stdio_of(const char* fn, const char* key, Value v, StdioMode& mode) {
  if (v == kNil) return kNil;
  if (v == intern(":pipe")) mode = StdioMode::Pipe;
  else if (v == intern(":inherit")) mode = StdioMode::Inherit;
  else if (v == intern(":ignore")) mode = StdioMode::Ignore;
  else return opt_error(fn, key, ":pipe, :inherit or :ignore", v);
  return kNil;
}

Value ms_of(const char* fn, const char* key, Value v, int64_t& out, bool allow_zero) {
  if (v == kNil) return kNil;
  if (!is_int(v) || int_val(v) < (allow_zero ? 0 : 1))
    return opt_error(fn, key, allow_zero ? "a number of milliseconds (0 or more)" : "a positive number of milliseconds", v);
  out = int_val(v);
  return kNil;
}

// Reads (fn cmd args [opts]) into s; kNil or the error to return.
Value parse(const char* fn, Value* args, int argc, bool run, ProcSpec& s) {
  VALK_CHECK(is_string(args[0]) && as_string(args[0])->len > 0, fn, 0, "a command (a non-empty string)");
  s.cmd = std::string(as_string(args[0])->view());
  if (s.cmd.find('\0') != std::string::npos) return bad_arg(fn, 0, "a command without NUL bytes", args[0]);
  VALK_CHECK(is_list(args[1]), fn, 1, "a list of strings");
  for (Value p = args[1]; is_cons(p); p = cdr(p)) {
    if (!is_string(car(p))) return bad_arg(fn, 1, "a list of strings", args[1]);
    s.args.emplace_back(as_string(car(p))->view());
  }
  if (run) s.in = StdioMode::Ignore;  // proc/run: empty stdin unless :stdin text
  if (argc < 3 || args[2] == kNil) return kNil;
  Value o = args[2];
  VALK_CHECK(is_list(o), fn, 2, "an options plist");
  Value v;
  if ((v = opt(o, ":stdin")) != kNil) {
    if (is_string(v)) {
      if (!run) return opt_error(fn, ":stdin", ":pipe, :inherit or :ignore (write text to (proc/stdin p))", v);
      s.has_stdin_text = true;
      s.stdin_text = std::string(as_string(v)->view());
      s.in = StdioMode::Pipe;
    } else if (Value e = stdio_of(fn, ":stdin", v, s.in); e != kNil) {
      return run && v == intern(":pipe") ? opt_error(fn, ":stdin", "a string, :inherit or :ignore", v) : e;
    }
    if (run && !s.has_stdin_text && s.in == StdioMode::Pipe)
      return opt_error(fn, ":stdin", "a string, :inherit or :ignore", v);
  }
  if (Value e = stdio_of(fn, ":stdout", opt(o, ":stdout"), s.out); e != kNil) return e;
  if (Value e = stdio_of(fn, ":stderr", opt(o, ":stderr"), s.err); e != kNil) return e;
  Value env = opt(o, ":env"), env_add = opt(o, ":env-add");
  if (env != kNil && env_add != kNil) return make_errorf("%s: give :env or :env-add, not both", fn);
  if (env != kNil) {
    s.env_replace = true;
    if (Value e = env_of(fn, ":env", env, s); e != kNil) return e;
  } else if (env_add != kNil) {
    if (Value e = env_of(fn, ":env-add", env_add, s); e != kNil) return e;
  }
  if ((v = opt(o, ":cwd")) != kNil) {
    if (!is_string(v) || as_string(v)->len == 0) return opt_error(fn, ":cwd", "a directory (a string)", v);
    s.cwd = std::string(as_string(v)->view());
  }
  if (Value e = ms_of(fn, ":timeout-ms", opt(o, ":timeout-ms"), s.timeout_ms, true); e != kNil) return e;
  if (Value e = ms_of(fn, ":kill-grace-ms", opt(o, ":kill-grace-ms"), s.kill_grace_ms, true); e != kNil)
    return e;
  if ((v = opt(o, ":max-output")) != kNil) {
    if (!is_int(v) || int_val(v) < 0) return opt_error(fn, ":max-output", "a byte count", v);
    s.max_output = size_t(int_val(v));
  }
  if ((v = opt(o, ":group")) != kNil) s.group = truthy(v);
  return kNil;
}

// (proc/run cmd args [opts]) => a handle of {:status :signal :stdout :stderr}.
Value b_run(VM& vm, Value* args, int argc) {
  ProcSpec s;
  if (Value e = parse("proc/run", args, argc, true, s); e != kNil) return e;
  return aio::return_draining(vm, aio::handle_value(io::proc_run(vm, s)));
}

// (proc/spawn cmd args [opts]) => a handle of the process.
Value b_spawn(VM& vm, Value* args, int argc) {
  ProcSpec s;
  if (Value e = parse("proc/spawn", args, argc, false, s); e != kNil) return e;
  Value p = io::proc_spawn(vm, s);
  aio::Handle* h = is_error(p) ? aio::fail(vm, p) : aio::pure(vm, p);
  return aio::return_draining(vm, aio::handle_value(h));
}

#define PROC(fn)                                                               \
  if (!io::is_proc(args[0])) return bad_arg(fn, 0, "a process", args[0]);     \
  io::Proc* p = io::as_proc(args[0])

Value stream_or_nil(aio::ByteStream* s) { return s ? aio::stream_value(s) : kNil; }

Value b_stdin(VM&, Value* args, int) {
  PROC("proc/stdin");
  return stream_or_nil(p->streams[0]);
}
Value b_stdout(VM&, Value* args, int) {
  PROC("proc/stdout");
  return stream_or_nil(p->streams[1]);
}
Value b_stderr(VM&, Value* args, int) {
  PROC("proc/stderr");
  return stream_or_nil(p->streams[2]);
}
Value b_pid(VM&, Value* args, int) {
  PROC("proc/pid");
  return make_int(p->pid);
}
Value b_is_proc(VM&, Value* args, int) { return make_bool(io::is_proc(args[0])); }

// (proc/wait p) => a handle of {:status :signal} once the process exited.
Value b_wait(VM& vm, Value* args, int) {
  PROC("proc/wait");
  return aio::return_draining(vm, aio::handle_value(io::proc_wait(vm, p)));
}

// (proc/status p) => :running, or the exit plist.
Value b_status(VM&, Value* args, int) {
  PROC("proc/status");
  return p->exited ? io::exit_plist(p) : intern(":running");
}

// (proc/kill p [signal]) => true when sent, false when it had exited.
Value b_kill(VM&, Value* args, int argc) {
  PROC("proc/kill");
  int sig = SIGTERM;
  if (argc > 1) {
    Value v = args[1];
    static const std::pair<const char*, int> names[] = {
        {":term", SIGTERM}, {":kill", SIGKILL}, {":int", SIGINT},   {":hup", SIGHUP},
        {":usr1", SIGUSR1}, {":usr2", SIGUSR2}, {":quit", SIGQUIT}, {":stop", SIGSTOP},
        {":cont", SIGCONT}};
    sig = -1;
    if (is_keyword(v)) {
      for (auto& [n, s] : names)
        if (v == intern(n)) sig = s;
    } else if (is_int(v) && int_val(v) >= 0 && int_val(v) < 65) {
      sig = int(int_val(v));
    }
    if (sig < 0)
      return bad_arg("proc/kill", 1, "a signal (:term :kill :int :hup :usr1 :usr2 :quit :stop :cont, or a number)",
                     v);
  }
  int r = io::proc_kill(p, sig);
  if (r < 0) return io::uv_error("process", "proc/kill", std::to_string(p->pid), r);
  return make_bool(r > 0);
}

}  // namespace

void open_proc(VM&) {
  define("proc/run", guarded<b_run>, 2, 3);
  define("proc/spawn", guarded<b_spawn>, 2, 3);
  define("proc/stdin", b_stdin, 1, 1);
  define("proc/stdout", b_stdout, 1, 1);
  define("proc/stderr", b_stderr, 1, 1);
  define("proc/pid", guarded<b_pid>, 1, 1);
  define("proc/wait", guarded<b_wait>, 1, 1);
  define("proc/status", guarded<b_status>, 1, 1);
  define("proc/kill", guarded<b_kill>, 1, 2);
  define("proc?", b_is_proc, 1, 1);
}

}  // namespace valk
