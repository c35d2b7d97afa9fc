// Signals (see signals.h).
#include "io/signals.h"

#include <csignal>
#include <cstring>
#include <string>

#include "aio/loop.h"
#include "core/gc.h"
#include "core/vm.h"
#include "io/io.h"

namespace valk::io {

namespace {

struct Named {
  const char* name;
  int signum;
};
constexpr Named kSignals[] = {{"term", SIGTERM}, {"int", SIGINT},     {"hup", SIGHUP},
                              {"usr1", SIGUSR1}, {"usr2", SIGUSR2},   {"quit", SIGQUIT},
                              {"winch", SIGWINCH}, {"pipe", SIGPIPE}, {"alrm", SIGALRM},
                              {"chld", SIGCHLD}, {"cont", SIGCONT},   {"tstp", SIGTSTP}};

// Pinned: libuv points at it until its close callback.
struct Watcher {
  uv_signal_t sig;
  aio::Handle* h;
  Value fn = kNil;  // signal_each
  int signum;
};

// What the process did with a signal before the program watched it (the
// REPL's Ctrl-C handler, the worker supervisor's), restored when the last
// watcher of that signal goes: libuv would leave the default action.
struct Saved {
  int watchers = 0;
  struct sigaction action;
};
Saved g_saved[NSIG];

void watching(int signum) {
  if (g_saved[signum].watchers++ == 0) sigaction(signum, nullptr, &g_saved[signum].action);
}

void close_watcher(Watcher* w) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&w->sig))) return;
  open_gauge("signal").dec();
  uv_close(reinterpret_cast<uv_handle_t*>(&w->sig), [](uv_handle_t* h) {
    gc_delete_pinned(static_cast<Watcher*>(h->data));
  });
  // uv_close stopped the watcher; with none left libuv set SIG_DFL.
  if (--g_saved[w->signum].watchers == 0) sigaction(w->signum, &g_saved[w->signum].action, nullptr);
}

void cancel_watcher(void* ctx) { close_watcher(static_cast<Watcher*>(ctx)); }

Watcher* start(VM& vm, aio::Handle* h, int signum, uv_signal_cb cb, bool once) {
  aio::start(vm);
  auto* w = gc_new_pinned<Watcher>();
  w->h = h;
  w->signum = signum;
  uv_signal_init(aio::loop(), &w->sig);
  w->sig.data = w;
  watching(signum);
  int r = once ? uv_signal_start_oneshot(&w->sig, cb, signum) : uv_signal_start(&w->sig, cb, signum);
  open_gauge("signal").inc();
  if (r < 0) {
    close_watcher(w);
    aio::fail_with(h, uv_error("signal", "os/signal", std::to_string(signum), r));
    return nullptr;
  }
  h->k.io = {cancel_watcher, w};
  return w;
}

}  // namespace

int signal_number(Value v) {
  if (is_fix(v)) {
    int64_t n = fix_val(v);
    return n > 0 && n < NSIG && n != SIGKILL && n != SIGSTOP ? int(n) : -1;
  }
  if (is_keyword(v)) {
    std::string_view n = as_symbol(v)->view();
    if (!n.empty() && n[0] == ':') n.remove_prefix(1);
    if (n.substr(0, 3) == "sig") n.remove_prefix(3);
    for (auto& s : kSignals)
      if (n == s.name) return s.signum;
  }
  return -1;
}

Value signal_keyword(int signum) {
  for (auto& s : kSignals)
    if (s.signum == signum) return intern(std::string(":") + s.name);
  return make_fix(signum);
}

aio::Handle* signal_once(VM& vm, int signum) {
  ops_counter("signal").inc();
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  start(vm, h, signum, [](uv_signal_t* s, int signum) {
    auto* w = static_cast<Watcher*>(s->data);
    aio::Handle* h = w->h;
    h->k.io = {nullptr, nullptr};
    close_watcher(w);
    aio::complete(h, signal_keyword(signum));
  }, true);
  return h;
}

aio::Handle* signal_each(VM& vm, int signum, Value f) {
  ops_counter("signal").inc();
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  aio::mark_handled(h);  // cancelling it is how it ends
  Watcher* w = start(vm, h, signum, [](uv_signal_t* s, int signum) {
    auto* w = static_cast<Watcher*>(s->data);
    VM& vm = current_vm();
    aio::Handle* job = aio::new_handle(vm, aio::Kind::Adopt);
    aio::queue_job(vm, w->fn, cons(signal_keyword(signum), kNil), job, aio::JobKind::Resolve);
    aio::wake();
  }, false);
  if (w) {
    w->fn = f;
    uv_unref(reinterpret_cast<uv_handle_t*>(&w->sig));
  }
  return h;
}

}  // namespace valk::io
