#include "cli/workers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace valk {

namespace {

volatile sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int sig) { g_stop_signal = sig; }

struct Worker {
  pid_t pid = 0;
  int index = 0;
  time_t started = 0;
  int quick_failures = 0;  // exits soon after starting, in a row
};

pid_t spawn(Worker& w) {
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    setenv("VALK_WORKER", std::to_string(w.index + 1).c_str(), 1);
    return 0;
  }
  w.pid = pid;
  w.started = time(nullptr);
  return pid;
}

}  // namespace

int run_workers(int n) {
  std::vector<Worker> workers;
  workers.resize(size_t(n));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  fflush(stdout);
  fflush(stderr);
  for (int i = 0; i < n; ++i) {
    workers[size_t(i)].index = i;
    if (spawn(workers[size_t(i)]) == 0) return -1;
  }
  int status_out = 0;
  int alive = n;
  bool stopping = false;
  while (alive > 0) {
    if (g_stop_signal && !stopping) {
      stopping = true;  // Ctrl-C or SIGTERM: stop every worker, then exit
      for (auto& w : workers)
        if (w.pid > 0) kill(w.pid, SIGTERM);
    }
    int st = 0;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (auto& w : workers) {
      if (w.pid != pid) continue;
      w.pid = 0;
      --alive;
      bool crashed = WIFSIGNALED(st) && !stopping;
      bool failed = WIFEXITED(st) && WEXITSTATUS(st) != 0;
      if (stopping) break;
      if (crashed || failed) {
        // A worker that keeps failing right after it starts is not
        // restarted forever: three quick failures in a row end the run.
        w.quick_failures = time(nullptr) - w.started < 2 ? w.quick_failures + 1 : 0;
        if (w.quick_failures >= 3) {
          fprintf(stderr, "valk: worker %d keeps failing; stopping\n", w.index + 1);
          status_out = failed ? WEXITSTATUS(st) : 1;
          stopping = true;
          for (auto& o : workers)
            if (o.pid > 0) kill(o.pid, SIGTERM);
          break;
        }
        fprintf(stderr, "valk: worker %d (pid %d) %s; restarting it\n", w.index + 1, int(pid),
                crashed ? "crashed" : "failed");
        if (spawn(w) == 0) return -1;
        ++alive;
      }
      break;
    }
  }
  return status_out;
}

}  // namespace valk
