// valk: run a program, evaluate an expression, or start the REPL (docs/language.md#the-command-line).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "aio/handle.h"
#include "aio/loop.h"
#include "cli/repl.h"
#include "cli/workers.h"
#include "core/printer.h"
#include "core/vm.h"

namespace {

// Keep in step with docs/valk.1 (tests/cli/install.sh compares them).
const char kUsage[] =
    "Usage: valk [options] [FILE [ARGS...]]\n"
    "\n"
    "  valk FILE [ARGS...]   run a program (ARGS are in sys/args); FILE may start with #!\n"
    "  valk -e EXPR          evaluate EXPR and print its value (a handle: its outcome)\n"
    "  valk                  start the interactive REPL (Ctrl-C interrupts, Ctrl-D exits)\n"
    "\n"
    "Options:\n"
    "  -e, --eval EXPR       evaluate EXPR, print the result, exit (may be repeated)\n"
    "  --max-depth N         nested calls allowed before a call yields an error\n"
    "  --workers N           run FILE in N worker processes sharing listening ports\n"
    "  -h, --help            show this help\n"
    "  -v, --version         show the version\n"
    "\n"
    "Exit status: the value given to (exit n), else 1 after a top-level error, else 0.\n"
    "Environment: VALK_MAX_DEPTH (same as --max-depth), VALK_HEAP_LIMIT (heap cap: 512M,\n"
    "4G, 25%, none), VALK_VIRTUAL_TIME=1 (virtual clock for timers).\n";

// A top-level error: file:line:col: message on stderr.
void report(const valk::Value err) {
  fflush(stdout);  // keep what the program printed before the error in order
  const valk::Error* e = valk::as_error(err);
  std::string msg = valk::display_string(e->message);
  if (e->loc.file && msg.rfind(e->loc.file, 0) != 0)
    fprintf(stderr, "%s:%u:%u: %s\n", e->loc.file, e->loc.line, e->loc.col, msg.c_str());
  else
    fprintf(stderr, "%s\n", msg.c_str());
}

// The end of a program that ran to its last form: pending async work runs to
// completion (the loop's driver, as (aio/run) would), then failures nobody
// handled are reported. After aio/stop, servers are not waited for.
int finish(valk::VM& vm, int status) {
  if (valk::aio::started() && !valk::aio::stop_requested()) {
    valk::Value r = vm.call(valk::as_symbol(valk::intern("aio/run"))->global, nullptr, 0);
    if (valk::is_error(r)) {
      report(r);
      status = 1;
    }
  }
  fflush(stdout);
  valk::aio::report_unhandled();
  if (vm.exit_requested) return vm.exit_code;
  return status;
}

// A top-level error ends the program at once, exit status 1, whatever is
// still live: servers and pending work are abandoned (the process exits, so
// the kernel closes their sockets), unhandled failures are still reported.
int fail(valk::VM& vm, valk::Value err) {
  report(err);
  valk::aio::report_unhandled();
  fflush(stdout);
  return vm.exit_requested ? vm.exit_code : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that goes away while we write must be an error on that socket,
  // not the end of the process.
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> exprs;
  std::string file;
  std::vector<std::string> args;
  long long max_depth = 0;
  long long workers = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!file.empty()) {
      args.push_back(a);
    } else if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else if (a == "-v" || a == "--version") {
      printf("valk %s\n", VALK_VERSION);
      return 0;
    } else if (a == "-e" || a == "--eval") {
      if (i + 1 >= argc) {
        fprintf(stderr, "valk: %s needs an expression\n", a.c_str());
        return 2;
      }
      exprs.push_back(argv[++i]);
    } else if (a == "--max-depth") {
      if (i + 1 >= argc || atoll(argv[i + 1]) <= 0) {
        fprintf(stderr, "valk: --max-depth needs a positive number\n");
        return 2;
      }
      max_depth = atoll(argv[++i]);
    } else if (a == "--workers") {
      if (i + 1 >= argc || atoll(argv[i + 1]) <= 0 || atoll(argv[i + 1]) > 1024) {
        fprintf(stderr, "valk: --workers needs a number from 1 to 1024\n");
        return 2;
      }
      workers = atoll(argv[++i]);
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      fprintf(stderr, "valk: unknown option %s\n%s", a.c_str(), kUsage);
      return 2;
    } else {
      file = a;
    }
  }

  if (workers > 0) {
    if (file.empty()) {
      fprintf(stderr, "valk: --workers needs a program file\n");
      return 2;
    }
    int rc = valk::run_workers(int(workers));
    if (rc >= 0) return rc;  // the supervisor is done; workers go on below
  }

  valk::VM vm;
  if (max_depth > 0) vm.max_depth = size_t(max_depth);
  valk::set_program_args(file, args);

  if (!exprs.empty()) {
    for (auto& e : exprs) {
      valk::Value r = vm.eval_source(e, valk::intern_filename("<-e>"));
      // A handle: the loop runs until it settles, and its outcome is the
      // result (aio/await at top level).
      if (valk::aio::is_handle(r))
        r = vm.call(valk::as_symbol(valk::intern("aio/await"))->global, &r, 1);
      if (valk::is_error(r)) return fail(vm, r);
      std::string out = valk::repr_string(r);
      printf("%s\n", out.c_str());
    }
    return finish(vm, 0);
  }
  if (!file.empty()) {
    valk::Value r = vm.run_file(file);
    if (valk::is_error(r)) return fail(vm, r);
    return finish(vm, 0);
  }
  return finish(vm, valk::run_repl(vm));
}
