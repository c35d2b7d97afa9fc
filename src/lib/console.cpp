// Standard input for scripts and filters: read-line, read-stdin
// (docs/language.md#standard-input).
//
// These reads block: the event loop does not run while they wait, so they are
// meant for scripts and filters, not for servers. They read through the C
// library's stdin, as the REPL does with piped input, so the two never lose
// each other's buffered bytes. Bytes are kept as they are (UTF-8 included);
// a line may be of any length, bounded only by the heap limit.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "lib/builtins.h"

namespace valk {
namespace {

// The text read so far must still fit under the heap limit once it becomes a
// string: checked each time the buffer doubles, so the checks cost nothing.
Value check_growth(const char* fn, const std::string& buf, size_t& next_check) {
  if (buf.size() < next_check) return kNil;
  next_check = buf.size() * 2;
  return check_room(fn, buf.size(), 2);  // the buffer and the string made from it
}

// EINTR from a signal handler installed without SA_RESTART (the REPL's
// Ctrl-C): the read is interrupted when the REPL asked for it, else retried.
bool interrupted_read(FILE* in) {
  if (!ferror(in) || errno != EINTR) return false;
  clearerr(in);
  return true;
}

// (read-line): the next line of standard input without its line end ("\n",
// or "\r\n"), or nil at the end of input. A last line without "\n" is a line.
Value b_read_line(VM&, Value*, int) {
  std::string line;
  size_t next_check = size_t(1) << 20;
  bool got = false, newline = false;
  flockfile(stdin);
  for (;;) {
    int c = getc_unlocked(stdin);
    if (c == EOF) {
      if (interrupted_read(stdin)) {
        if (g_interrupt) {
          funlockfile(stdin);
          return make_error("read-line: interrupted");
        }
        continue;
      }
      break;
    }
    got = true;
    if (c == '\n') {
      newline = true;
      break;
    }
    line += char(c);
    if (Value err = check_growth("read-line", line, next_check); err != kNil) {
      funlockfile(stdin);
      return err;
    }
  }
  bool failed = ferror(stdin);
  int e = errno;
  // The end of input is not sticky: on a terminal, Ctrl-D ends one read.
  if (!newline) clearerr(stdin);
  funlockfile(stdin);
  if (failed) return make_errorf("read-line: cannot read standard input: %s", strerror(e));
  if (!got) return kNil;
  if (newline && !line.empty() && line.back() == '\r') line.pop_back();
  return make_string(line);
}

// (read-stdin): the rest of standard input as one string ("" at its end).
Value b_read_stdin(VM&, Value*, int) {
  std::string data;
  size_t next_check = size_t(1) << 20;
  char buf[65536];
  for (;;) {
    size_t n = fread(buf, 1, sizeof buf, stdin);
    data.append(buf, n);
    if (Value err = check_growth("read-stdin", data, next_check); err != kNil) return err;
    if (n == sizeof buf) continue;
    if (interrupted_read(stdin)) {
      if (g_interrupt) return make_error("read-stdin: interrupted");
      continue;
    }
    bool failed = ferror(stdin);
    int e = errno;
    clearerr(stdin);  // the end of input is not sticky (a terminal's Ctrl-D)
    if (failed) return make_errorf("read-stdin: cannot read standard input: %s", strerror(e));
    break;
  }
  return make_string(data);
}

}  // namespace

void open_console(VM&) {
  define("read-line", guarded<b_read_line>, 0, 0);
  define("read-stdin", guarded<b_read_stdin>, 0, 0);
}

}  // namespace valk
