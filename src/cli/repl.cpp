// The REPL. Reads until a form is complete (continuation prompt "...> "),
// evaluates each form and prints its value in readable form.
#include "cli/repl.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/printer.h"
#include "core/reader.h"
#include "lib/builtins.h"

namespace valk {

void set_program_args(const std::string& file, const std::vector<std::string>& args) {
  ListBuilder b;
  for (auto& a : args) b.push(make_string(a));
  define_value("sys/args", b.result());
  define_value("sys/program", file.empty() ? kNil : make_string(file));
}

namespace {

std::string history_path() {
  const char* home = getenv("HOME");
  return home ? std::string(home) + "/.valk_history" : std::string();
}

// Evaluates every complete form in src; returns false if src is incomplete.
bool eval_input(VM& vm, const std::string& src, bool echo) {
  const char* file = intern_filename("<repl>");
  Reader probe(src, file);
  while (!probe.at_end()) {
    Value f = probe.read();
    if (is_error(f)) {
      if (probe.incomplete()) return false;
      break;
    }
  }
  Value r = vm.eval_source(src, file);
  if (echo || is_error(r)) {
    std::string out = repr_string(r);
    printf("%s\n", out.c_str());
    fflush(stdout);
  }
  return true;
}

}  // namespace

int run_repl(VM& vm) {
  bool tty = isatty(0);
  if (!tty) {
    // Piped input: the same line-by-line evaluation, without prompts or
    // history; a bad line is reported and the next one is read.
    std::string pending, line;
    char buf[4096];
    while (fgets(buf, sizeof buf, stdin)) {
      line += buf;
      if (line.empty() || line.back() != '\n') continue;
      pending += line;
      line.clear();
      if (pending.find_first_not_of(" \t\r\n") == std::string::npos) {
        pending.clear();
        continue;
      }
      if (eval_input(vm, pending, true)) pending.clear();
    }
    pending += line;
    if (pending.find_first_not_of(" \t\r\n") != std::string::npos &&
        !eval_input(vm, pending, true)) {
      // Input ended inside a form: say so.
      printf("%s\n", repr_string(vm.eval_source(pending, intern_filename("<repl>"))).c_str());
    }
    return 0;
  }
  std::string hist = history_path();
  using_history();
  if (!hist.empty()) read_history(hist.c_str());
  printf("Valkyria %s. Ctrl-D to exit.\n", VALK_VERSION);
  std::string pending;
  for (;;) {
    char* line = readline(pending.empty() ? "valk> " : "...> ");
    if (!line) break;
    std::string l(line);
    free(line);
    if (pending.empty() && l.find_first_not_of(" \t") == std::string::npos) continue;
    pending += l;
    pending += '\n';
    if (!eval_input(vm, pending, true)) continue;
    std::string entry = pending.substr(0, pending.size() - 1);
    add_history(entry.c_str());
    if (!hist.empty()) append_history(1, hist.c_str());
    pending.clear();
  }
  printf("\n");
  if (!hist.empty()) write_history(hist.c_str());
  return 0;
}

}  // namespace valk
