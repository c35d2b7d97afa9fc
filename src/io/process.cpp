// Child processes (see process.h).
#include "io/process.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <unordered_set>

#include "aio/loop.h"
#include "core/vm.h"
#include "io/io.h"
#include "io/uv_stream.h"

extern char** environ;

namespace valk::io {

// Pinned (gc.h rule 2): libuv points at the process and timer handles until
// their close callbacks; it keeps the Proc alive meanwhile.
struct ProcCore {
  uv_process_t proc;
  uv_timer_t timer;
  Proc* p = nullptr;
  int open_handles = 0;  // uv handles not closed yet
  bool grace = false;    // the timer is the kill grace (else :timeout-ms)
};

namespace {

constexpr const char* kKind = "process";

const OpaqueClass kProcClass = {"process", [](std::string& out, const Opaque* o) {
                                  auto* p = static_cast<const Proc*>(o->payload);
                                  out += "<process ";
                                  out += std::to_string(p->pid);
                                  if (!p->exited) out += " running>";
                                  else if (p->signal) out += " killed " + std::to_string(p->signal) + ">";
                                  else out += " exited " + std::to_string(p->status) + ">";
                                }};

// Live process groups (pids), told SIGTERM when the program exits: a
// process in a session of its own would otherwise outlive `exit`.
std::unordered_set<int>& live_pids() {
  static auto* s = new std::unordered_set<int>;  // never destroyed: used at exit
  return *s;
}
void terminate_all_at_exit() {
  for (int pid : live_pids()) {
    ::kill(-pid, SIGTERM);
    ::kill(pid, SIGTERM);
  }
}

std::string subject(const Proc* p) { return std::string(p->op) + " " + p->cmd; }

void maybe_free(ProcCore* core) {
  Proc* p = core->p;
  if (core->open_handles > 0 || p->pipes_open > 0) return;
  p->core = nullptr;
  gc_delete_pinned(core);
}

void on_handle_closed(uv_handle_t* h) {
  auto* core = static_cast<ProcCore*>(h->data);
  --core->open_handles;
  maybe_free(core);
}

void send(Proc* p, int sig) {
  if (p->exited && p->pipes_open == 0) return;
  if (p->group) {
    if (uv_kill(-p->pid, sig) == 0) return;
  }
  if (!p->exited) uv_kill(p->pid, sig);
}

// Cancellation, a timeout, too much output, the owner's scope ending:
// SIGTERM now, SIGKILL after the grace; the pipes are closed at once.
void terminate(Proc* p) {
  if (!p->terminating) {
    p->terminating = true;
    if (!p->exited) {
      send(p, SIGTERM);
      if (p->core) {
        p->core->grace = true;
        uv_timer_start(&p->core->timer, [](uv_timer_t* t) {
          auto* core = static_cast<ProcCore*>(t->data);
          if (!core->p->exited) send(core->p, SIGKILL);
        }, uint64_t(p->kill_grace_ms), 0);
      }
    } else if (p->group) {
      send(p, SIGTERM);  // what is left of the group holds the pipes
    }
  }
  for (UvConn*& c : p->conns)
    if (c) abort_conn(c, aio::StreamEnd::Cancelled);  // (pipe_finished clears c)
}

Value plist_of(std::initializer_list<std::pair<const char*, Value>> kv) {
  ListBuilder lb(true);
  for (auto& [k, v] : kv) {
    lb.push(intern(k));
    lb.push(v);
  }
  return lb.result();
}

void check_run(Proc* p) {
  aio::Handle* h = p->run_h;
  if (!h || aio::settled(h)) return;
  if (!p->exited || !p->done[1] || !p->done[2]) return;
  h->k.io = {nullptr, nullptr};
  p->run_h = nullptr;
  aio::complete(h, plist_of({{":status", p->signal ? kNil : make_int(p->status)},
                             {":signal", p->signal ? make_int(p->signal) : kNil},
                             {":stdout", p->text[1]},
                             {":stderr", p->text[2]}}));
}

void fail_run(Proc* p, Value err) {
  aio::Handle* h = p->run_h;
  if (!h || aio::settled(h)) return;
  h->k.io = {nullptr, nullptr};
  p->run_h = nullptr;
  aio::fail_with(h, err);
  terminate(p);
}

// The process has exited and its pipes are closed: its scope's claim ends.
void maybe_release(Proc* p) {
  if (!p->exited || p->pipes_open > 0 || !p->owner) return;
  aio::Handle* o = p->owner;
  p->owner = nullptr;
  release(o);
}

void pipe_finished(void* ctx) {
  auto* slot = static_cast<ProcSlot*>(ctx);
  Proc* p = slot->p;
  p->conns[slot->fd] = nullptr;
  --p->pipes_open;
  check_run(p);
  maybe_release(p);
  if (p->core) maybe_free(p->core);
}

void on_exit(uv_process_t* h, int64_t exit_status, int term_signal) {
  auto* core = static_cast<ProcCore*>(h->data);
  Proc* p = core->p;
  p->exited = true;
  live_pids().erase(p->pid);
  p->status = exit_status;
  p->signal = term_signal;
  open_gauge(kKind).dec();
  uv_timer_stop(&core->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&core->proc), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&core->timer), on_handle_closed);
  // Nobody reads the stdin pipe any more.
  if (p->conns[0]) abort_conn(p->conns[0], aio::StreamEnd::Closed);
  if (!p->waiters.empty()) {
    Value r = exit_plist(p);
    TracedVector<aio::Handle*> ws;
    ws.swap(p->waiters);
    for (aio::Handle* w : ws)
      if (!aio::settled(w)) aio::complete(w, r);
  }
  check_run(p);
  maybe_release(p);
}

void on_timeout(uv_timer_t* t) {
  auto* core = static_cast<ProcCore*>(t->data);
  Proc* p = core->p;
  if (core->grace || p->exited) return;
  fail_run(p, io_error(kKind, subject(p) + ": timed out after " + std::to_string(p->timeout_ms) + " ms"));
  terminate(p);  // (a spawned process with :timeout-ms: terminated the same way)
}

void on_output(void* ctx, aio::Handle* h) {
  auto* slot = static_cast<ProcSlot*>(ctx);
  Proc* p = slot->p;
  if (h->state == aio::State::Completed) {
    p->text[slot->fd] = h->result;
    p->done[slot->fd] = true;
    check_run(p);
    return;
  }
  if (h->state == aio::State::Cancelled) return;  // the run was cancelled (its scope ended)
  Value e = aio::failure_as_error(h);
  std::string what = slot->fd == 1 ? "stdout" : "stderr";
  if (p->streams[slot->fd] && p->streams[slot->fd]->in_error == kNil && !p->terminating)
    fail_run(p, io_error(kKind, subject(p) + ": " + what + " over " + std::to_string(p->max_output) +
                                    " bytes (:max-output)"));
  else
    fail_run(p, e);
}

void cancel_run(void* ctx) {
  Proc* p = static_cast<Proc*>(ctx);
  p->run_h = nullptr;
  terminate(p);
}

void close_owned(void* ctx) {
  Proc* p = static_cast<Proc*>(ctx);
  p->owner = nullptr;
  terminate(p);
}

std::vector<std::string> environment(const ProcSpec& s) {
  std::vector<std::string> env;
  std::set<std::string> replaced;
  for (auto& [k, v] : s.env) replaced.insert(k);
  if (!s.env_replace)
    for (char** e = environ; e && *e; ++e) {
      const char* eq = strchr(*e, '=');
      std::string k = eq ? std::string(*e, size_t(eq - *e)) : std::string(*e);
      if (!replaced.count(k)) env.emplace_back(*e);
    }
  for (auto& [k, v] : s.env) env.push_back(k + "=" + v);
  return env;
}

// Spawns: the Proc (running), or an error value.
Value spawn(VM& vm, const ProcSpec& s, Proc** out) {
  aio::start(vm);
  ops_counter(kKind).inc();
  if (!s.cwd.empty()) {
    struct stat st;
    if (::stat(s.cwd.c_str(), &st) != 0)
      return uv_error(kKind, s.op, s.cmd + " (cwd " + s.cwd + ")", -errno);
    if (!S_ISDIR(st.st_mode)) return uv_error(kKind, s.op, s.cmd + " (cwd " + s.cwd + ")", UV_ENOTDIR);
  }
  Proc* p = gc_new_finalized<Proc>();
  p->base.h = {Type::Opaque, 0, 0, 0};
  p->base.cls = &kProcClass;
  p->base.payload = p;
  p->op = s.op;
  p->cmd = s.cmd;
  p->group = s.group;
  p->timeout_ms = s.timeout_ms;
  p->kill_grace_ms = s.kill_grace_ms;
  p->max_output = s.max_output;
  for (int i = 0; i < 3; ++i) p->slots[i] = {p, i};

  auto* core = gc_new_pinned<ProcCore>();
  core->p = p;
  p->core = core;
  core->proc.data = core;
  core->timer.data = core;

  uv_stdio_container_t stdio[3];
  StdioMode modes[3] = {s.in, s.out, s.err};
  // What valk printed comes before what the child prints to the same place.
  if (s.out == StdioMode::Inherit || s.err == StdioMode::Inherit) {
    fflush(stdout);
    fflush(stderr);
  }
  UvConn* conns[3] = {nullptr, nullptr, nullptr};
  for (int i = 0; i < 3; ++i) {
    switch (modes[i]) {
      case StdioMode::Pipe: {
        conns[i] = new_conn("pipe", s.cmd);
        uv_pipe_init(aio::loop(), conn_pipe(conns[i]), 0);
        stdio[i].flags = uv_stdio_flags(UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE));
        stdio[i].data.stream = conn_stream(conns[i]);
        break;
      }
      case StdioMode::Inherit:
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
        break;
      case StdioMode::Ignore: stdio[i].flags = UV_IGNORE; break;
    }
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(s.cmd.c_str()));
  for (auto& a : s.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  if (!s.env.empty() || s.env_replace) {
    env_strings = environment(s);
    for (auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.exit_cb = on_exit;
  o.file = s.cmd.c_str();
  o.args = argv.data();
  o.env = envp.empty() ? nullptr : envp.data();
  o.cwd = s.cwd.empty() ? nullptr : s.cwd.c_str();
  o.flags = s.group ? UV_PROCESS_DETACHED : 0;
  o.stdio_count = 3;
  o.stdio = stdio;
  int r = uv_spawn(aio::loop(), &core->proc, &o);
  if (r < 0) {
    for (UvConn* c : conns)
      if (c) discard(c, true);
    // The handle was initialised (libuv's spawn fails after uv__handle_init).
    core->open_handles = 1;
    uv_close(reinterpret_cast<uv_handle_t*>(&core->proc), on_handle_closed);
    p->exited = true;
    return uv_error(kKind, s.op, s.cmd, r);
  }
  p->pid = core->proc.pid;
  static bool hooked = (std::atexit(terminate_all_at_exit), true);
  (void)hooked;
  live_pids().insert(p->pid);
  open_gauge(kKind).inc();
  uv_timer_init(aio::loop(), &core->timer);
  core->open_handles = 2;
  for (int i = 0; i < 3; ++i) {
    if (!conns[i]) continue;
    AttachOptions ao;
    ao.writable = i == 0;
    ao.readable = i != 0;
    ao.owned = false;
    p->streams[i] = attach(vm, conns[i], ao);
    p->conns[i] = conns[i];
    ++p->pipes_open;
    on_finished(conns[i], pipe_finished, &p->slots[i]);
  }
  if (s.timeout_ms > 0) uv_timer_start(&core->timer, on_timeout, uint64_t(s.timeout_ms), 0);
  *out = p;
  return kNil;
}

}  // namespace

bool is_proc(Value v) {
  return is_obj(v) && as_obj(v)->type == Type::Opaque &&
         reinterpret_cast<Opaque*>(v)->cls == &kProcClass;
}
Proc* as_proc(Value v) { return static_cast<Proc*>(reinterpret_cast<Opaque*>(v)->payload); }

Value exit_plist(const Proc* p) {
  return plist_of({{":status", p->signal ? kNil : make_int(p->status)},
                   {":signal", p->signal ? make_int(p->signal) : kNil}});
}

aio::Handle* proc_run(VM& vm, const ProcSpec& spec) {
  ProcSpec s = spec;
  s.op = "proc/run";
  if (s.has_stdin_text) s.in = StdioMode::Pipe;
  Proc* p = nullptr;
  Value e = spawn(vm, s, &p);
  if (e != kNil) return aio::fail(vm, e);
  p->run = true;
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  p->run_h = h;
  h->k.io = {cancel_run, p};
  if (aio::ByteStream* in = p->streams[0]) {
    in->high = std::max(in->high, s.stdin_text.size() + 1);
    std::string why;
    if (!s.stdin_text.empty()) aio::write(in, s.stdin_text, &why);
    aio::close(in);
  }
  for (int fd = 1; fd <= 2; ++fd) {
    aio::ByteStream* st = p->streams[fd];
    if (!st) continue;
    p->done[fd] = false;
    aio::Handle* all = aio::read_all(vm, st, s.max_output);
    aio::mark_handled(all);
    aio::NativeWatch* w = nullptr;
    aio::Handle* wh = aio::watch(vm, all, on_output, &p->slots[fd], &w);
    aio::mark_handled(wh);
  }
  check_run(p);  // (settled already if it failed at once)
  return h;
}

Value proc_spawn(VM& vm, const ProcSpec& spec) {
  ProcSpec s = spec;
  s.op = "proc/spawn";
  Proc* p = nullptr;
  Value e = spawn(vm, s, &p);
  if (e != kNil) return e;
  p->owner = own(vm, close_owned, p);
  return obj_val(p);
}

aio::Handle* proc_wait(VM& vm, Proc* p) {
  if (p->exited) return aio::pure(vm, exit_plist(p));
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  h->k.io = {nullptr, nullptr};
  p->waiters.push_back(h);
  return h;
}

int proc_kill(Proc* p, int sig) {
  if (p->exited) return 0;
  int r = p->group ? uv_kill(-p->pid, sig) : uv_kill(p->pid, sig);
  if (r < 0 && p->group) r = uv_kill(p->pid, sig);
  return r < 0 ? r : 1;
}

}  // namespace valk::io
