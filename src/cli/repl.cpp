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
    // Piped input: evaluate the whole of it as a program, printing each value.
    std::string src, line;
    int c;
    while ((c = getchar()) != EOF) src.push_back(char(c));
    LocMap locs;
    Reader reader(src, intern_filename("<stdin>"), &locs);
    int status = 0;
    while (!reader.at_end()) {
      Value form = reader.read();
      Value r = is_error(form) ? form : vm.eval_form(form);
      std::string out = repr_string(r);
      printf("%s\n", out.c_str());
      if (is_error(r)) status = 1;
      if (is_error(form)) break;
    }
    return status;
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
