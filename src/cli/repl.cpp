// The REPL. Reads until a form is complete (continuation prompt "...> "),
// evaluates each form and prints its value in readable form.
//
// On a terminal it uses libedit's own (wide-character) API with a read
// function of its own: input is decoded as UTF-8 whatever the locale, and
// Ctrl-C is handled here. A SIGINT handler (installed without SA_RESTART)
// sets g_interrupt: while a line is being typed, the interrupted read turns
// into the key ^C, bound to discarding the line (and any unfinished form);
// during an evaluation, the VM turns its next call into the error value
// "interrupted" (src/core/vm.h), and a loop waiting in uv_run is woken
// (aio::wake_from_signal). Definitions made before stay.
#include "cli/repl.h"

#include <histedit.h>
#include <langinfo.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "aio/loop.h"
#include "core/printer.h"
#include "core/reader.h"
#include "core/utf8.h"
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
  // Interrupted: the terminal showed ^C; the value goes on the next line.
  if (g_interrupt) putchar('\n');
  if (echo || is_error(r)) {
    std::string out = repr_string(r);
    printf("%s\n", out.c_str());
    fflush(stdout);
  }
  return true;
}



// UTF-8 to wide characters for the history (a malformed byte is U+FFFD).
std::wstring utf8_to_wide(const std::string& s) {
  std::wstring out;
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    int more = b < 0x80 ? 0 : b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC2 ? 1 : -1;
    uint32_t cp = more == 0 ? b : more == 1 ? (b & 0x1F) : more == 2 ? (b & 0x0F) : (b & 0x07);
    size_t j = i + 1;
    for (int k = 0; k < more && j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80; ++k, ++j)
      cp = (cp << 6) | (static_cast<unsigned char>(s[j]) & 0x3F);
    if (more < 0 || j - i != size_t(more) + 1) cp = 0xFFFD;
    out += wchar_t(cp);
    i = j;
  }
  return out;
}

// ---- the terminal ----------------------------------------------------------------

volatile std::sig_atomic_t g_winch = 0;  // the terminal was resized
volatile std::sig_atomic_t g_cont = 0;   // continued after Ctrl-Z (the shell reset the terminal)
bool g_line_cancelled = false;           // Ctrl-C while a line was being typed
bool g_continuation = false;             // the prompt for a form's next line

void on_sigint(int) {
  g_interrupt = 1;
  aio::wake_from_signal();
}
void on_sigwinch(int) { g_winch = 1; }
void on_sigcont(int) { g_cont = 1; }

constexpr wchar_t kCtrlC = 3;

// One byte of the terminal: 1, 0 at its end, -1 on an error, 2 for Ctrl-C.
int read_byte(EditLine* el, unsigned char* c) {
  for (;;) {
    if (g_interrupt) {
      g_interrupt = 0;
      return 2;
    }
    if (g_winch) {
      g_winch = 0;
      el_resize(el);
    }
    if (g_cont) {
      // Back from Ctrl-Z: the terminal's modes are the shell's again. Editing
      // mode is set once more from them, and the line redrawn.
      g_cont = 0;
      el_set(el, EL_PREP_TERM, 0);
      el_set(el, EL_PREP_TERM, 1);
      el_set(el, EL_REFRESH);
    }
    ssize_t n = read(STDIN_FILENO, c, 1);
    if (n == 1) return 1;
    if (n == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

// libedit's read function (EL_GETCFN): one character, decoded from UTF-8 by
// hand so that the locale does not matter; a malformed sequence reads as
// U+FFFD and the byte that broke it is read again.
int pushed_back = -1;
int read_char(EditLine* el, wchar_t* wc) {
  unsigned char b;
  if (pushed_back >= 0) {
    b = static_cast<unsigned char>(pushed_back);
    pushed_back = -1;
  } else if (int r = read_byte(el, &b); r != 1) {
    if (r == 2) {
      *wc = kCtrlC;
      return 1;
    }
    return r;
  }
  int more;
  uint32_t cp;
  if (b < 0x80) {
    *wc = wchar_t(b);
    return 1;
  } else if (b >= 0xC2 && b <= 0xDF) {
    more = 1, cp = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    more = 2, cp = b & 0x0F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    more = 3, cp = b & 0x07;
  } else {
    *wc = 0xFFFD;
    return 1;
  }
  for (int i = 0; i < more; ++i) {
    unsigned char c;
    int r = read_byte(el, &c);
    if (r == 2) {
      *wc = kCtrlC;
      return 1;
    }
    if (r != 1) break;
    if ((c & 0xC0) != 0x80) {
      pushed_back = c;
      break;
    }
    cp = (cp << 6) | (c & 0x3F);
    if (i == more - 1) {
      bool overlong = (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000);
      bool bad = overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF);
      *wc = bad ? 0xFFFD : wchar_t(cp);
      return 1;
    }
  }
  *wc = 0xFFFD;
  return 1;
}

// Ctrl-C (bound to ^C): ends the line being typed, which the REPL drops. The
// rest of the line is written again to bring the cursor to its end, then
// "^C" and a new line, where the next prompt goes.
unsigned char cancel_line(EditLine* el, int) {
  g_line_cancelled = true;
  const LineInfoW* li = el_wline(el);
  std::string rest;
  for (const wchar_t* p = li->cursor; p < li->lastchar; ++p) put_utf8(rest, uint32_t(*p));
  fputs(rest.c_str(), stdout);
  fputs("^C\n", stdout);
  fflush(stdout);
  return CC_NEWLINE;
}

wchar_t* prompt(EditLine*) {
  static wchar_t first[] = L"valk> ", next[] = L"...> ";
  return g_continuation ? next : first;
}

// libedit draws wide characters through the locale: a UTF-8 one, so that
// what is typed shows as typed (the text itself does not depend on it).
void use_utf8_locale() {
  if (setlocale(LC_CTYPE, "") && strcmp(nl_langinfo(CODESET), "UTF-8") == 0) return;
  if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "C");
}

int run_terminal(VM& vm) {
  use_utf8_locale();
  struct sigaction sa {}, old_int {}, old_winch {}, old_cont {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the read waiting for a key returns
  sigaction(SIGINT, &sa, &old_int);
  sa.sa_handler = on_sigcont;  // the read waiting for a key returns, as for SIGINT
  sigaction(SIGCONT, &sa, &old_cont);
  sa.sa_handler = on_sigwinch;
  sa.sa_flags = SA_RESTART;  // a resize is seen at the next key
  sigaction(SIGWINCH, &sa, &old_winch);

  std::string hist_file = history_path();
  HistoryW* hist = history_winit();
  HistEventW ev;
  history_w(hist, &ev, H_SETSIZE, 1000);
  if (!hist_file.empty()) history_w(hist, &ev, H_LOAD, hist_file.c_str());

  EditLine* el = el_init("valk", stdin, stdout, stderr);
  el_wset(el, EL_EDITOR, L"emacs");
  el_wset(el, EL_HIST, history_w, hist);
  el_wset(el, EL_PROMPT, prompt);
  el_wset(el, EL_GETCFN, read_char);
  el_wset(el, EL_ADDFN, L"valk-cancel", L"Discard the line being typed", cancel_line);
  el_wset(el, EL_BIND, L"^C", L"valk-cancel", nullptr);
  el_source(el, nullptr);  // ~/.editrc

  printf("Valkyria %s. Ctrl-C interrupts, Ctrl-D exits.\n", VALK_VERSION);
  fflush(stdout);
  std::string pending;
  for (;;) {
    g_continuation = !pending.empty();
    int count = 0;
    const wchar_t* wl = el_wgets(el, &count);
    if (g_line_cancelled) {
      g_line_cancelled = false;
      pending.clear();
      continue;
    }
    if (!wl || count <= 0) break;  // Ctrl-D, or the terminal went away
    std::string l;
    for (int i = 0; i < count; ++i) put_utf8(l, uint32_t(wl[i]));
    if (!l.empty() && l.back() == '\n') l.pop_back();
    if (pending.empty() && l.find_first_not_of(" \t") == std::string::npos) continue;
    pending += l;
    pending += '\n';
    g_interrupt = 0;
    bool complete = eval_input(vm, pending, true);
    g_interrupt = 0;
    clearerr(stdout);  // a write cut short by Ctrl-C
    if (!complete) continue;
    history_w(hist, &ev, H_ENTER, utf8_to_wide(pending.substr(0, pending.size() - 1)).c_str());
    if (!hist_file.empty()) history_w(hist, &ev, H_SAVE, hist_file.c_str());
    pending.clear();
  }
  printf("\n");
  el_end(el);
  history_wend(hist);
  // Ctrl-C after the REPL (while pending async work runs) ends the process.
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGWINCH, &old_winch, nullptr);
  sigaction(SIGCONT, &old_cont, nullptr);
  return 0;
}

}  // namespace

int run_repl(VM& vm) {
  if (!isatty(0)) {
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
  return run_terminal(vm);
}
}  // namespace valk
