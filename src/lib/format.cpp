// format, and the directive engine printf and println share (docs/language.md#format).
//
// Directives: %[flags][width][.precision][length]conversion, with flags "-+ 0#",
// width and precision as digits or '*' (taken from the arguments), length
// modifiers (hh h l ll j z t L) accepted and ignored (integers are 64-bit),
// and the conversions s d i u x X o f F e E g G c %. The numeric ones go to
// snprintf with the same spec; %s and %c pad by characters (UTF-8 code
// points), not bytes.
//
// Two styles: Strict (format) refuses what it does not understand, and shows
// any value with %s; Printf (printf, println) keeps their old rules: %s wants
// a string, an unknown directive is copied literally, extra arguments are
// ignored. Nothing is left in `out` that matters when an error is returned.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "core/utf8.h"
#include "core/printer.h"
#include "lib/builtins.h"

namespace valk {
namespace {

constexpr int64_t kMaxWidth = int64_t(1) << 24;  // per directive, width and precision

struct Ctx {
  const char* fn;
  FormatStyle style;
  Value* args;
  int argc;
  int next = 0;  // index of the next argument
  bool strict() const { return style == FormatStyle::Strict; }
  int argno(int index) const { return index + 2; }  // the format string is argument 1
};

Value too_few(const Ctx& c) {
  if (!c.strict()) return make_errorf("%s: not enough arguments for format string", c.fn);
  return make_errorf("%s: too few arguments for the format string: got %d", c.fn, c.argc);
}

// args[index] is not what conversion `what` wants (an error is passed on).
Value wrong_type(const Ctx& c, int index, const char* what, const char* want) {
  Value v = c.args[index];
  if (is_error(v)) return v;
  if (!c.strict())
    return make_errorf("%s: %s requires %s argument, got %s", c.fn, what, want, describe_type(v).c_str());
  return make_errorf("%s: argument %d must be %s for %s, got %s", c.fn, c.argno(index), want, what,
                     describe_type(v).c_str());
}

// Byte length of the first n characters of s (UTF-8 lead bytes counted).
size_t prefix_bytes(std::string_view s, int64_t n) {
  size_t i = 0;
  int64_t seen = 0;
  for (; i < s.size(); ++i) {
    bool lead = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (lead && seen++ == n) break;
  }
  return i;
}

int64_t char_count(std::string_view s) {
  int64_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

void append_padded(std::string& out, std::string_view s, int64_t width, bool left) {
  int64_t chars = width > 0 ? char_count(s) : 0;
  size_t pad = width > chars ? size_t(width - chars) : 0;
  if (!left) out.append(pad, ' ');
  out += s;
  if (left) out.append(pad, ' ');
}


// snprintf of one numeric directive, appended to out.
template <class T>
void append_printf(std::string& out, const std::string& spec, T x) {
  char small[128];
  int n = snprintf(small, sizeof small, spec.c_str(), x);
  if (n < 0) return;
  if (size_t(n) < sizeof small) {
    out.append(small, size_t(n));
    return;
  }
  size_t at = out.size();
  out.resize(at + size_t(n) + 1);
  snprintf(out.data() + at, size_t(n) + 1, spec.c_str(), x);
  out.resize(at + size_t(n));
}

// Reads digits or '*' at fmt[j] into *into (-1 when absent). A '*' takes an
// integer argument. Returns kNil or an error.
Value read_count(Ctx& c, std::string_view fmt, size_t& j, int64_t* into, bool* from_arg,
                 const char* what) {
  *from_arg = false;
  if (j < fmt.size() && fmt[j] == '*') {
    ++j;
    if (c.next >= c.argc) return too_few(c);
    int index = c.next++;
    if (!is_int(c.args[index])) {
      std::string label = std::string("the * ") + what;
      return wrong_type(c, index, c.strict() ? label.c_str() : "*", "an integer");
    }
    *into = int_val(c.args[index]);
    *from_arg = true;
  } else if (j < fmt.size() && fmt[j] >= '0' && fmt[j] <= '9') {
    int64_t v = 0;
    while (j < fmt.size() && fmt[j] >= '0' && fmt[j] <= '9') {
      if (v <= kMaxWidth) v = v * 10 + (fmt[j] - '0');
      ++j;
    }
    *into = v;
  }
  if (*into > kMaxWidth || *into < -kMaxWidth)
    return make_errorf("%s: %s %lld is too large (at most %lld)", c.fn, what, (long long)*into,
                       (long long)kMaxWidth);
  return kNil;
}

}  // namespace

Value format_into(const char* fn, std::string_view fmt, Value* args, int argc, FormatStyle style,
                  std::string& out) {
  Ctx c{fn, style, args, argc};
  for (size_t i = 0; i < fmt.size(); ++i) {
    char ch = fmt[i];
    if (ch != '%') {
      // Copy the run of plain text at once.
      size_t end = fmt.find('%', i);
      if (end == std::string_view::npos) end = fmt.size();
      out.append(fmt.data() + i, end - i);
      i = end - 1;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool minus = false, plus = false, space = false, zero = false, hash = false;
    for (; j < fmt.size(); ++j) {
      char f = fmt[j];
      if (f == '-') minus = true;
      else if (f == '+') plus = true;
      else if (f == ' ') space = true;
      else if (f == '0') zero = true;
      else if (f == '#') hash = true;
      else break;
    }
    int64_t width = -1, prec = -1;
    bool star;
    if (Value err = read_count(c, fmt, j, &width, &star, "width"); err != kNil) return err;
    if (width < 0 && star) {  // a negative * width: left-justified
      minus = true;
      width = -width;
    }
    if (j < fmt.size() && fmt[j] == '.') {
      ++j;
      prec = 0;  // "%.f": precision 0
      if (Value err = read_count(c, fmt, j, &prec, &star, "precision"); err != kNil) return err;
      if (prec < 0) prec = -1;  // a negative * precision: as if none
    }
    // Length modifiers: accepted, meaningless here.
    if (j < fmt.size() && (fmt[j] == 'h' || fmt[j] == 'l')) {
      char m = fmt[j++];
      if (j < fmt.size() && fmt[j] == m) ++j;
    } else if (j < fmt.size() && strchr("jztL", fmt[j]) && fmt[j] != 0) {
      ++j;
    }
    char conv = j < fmt.size() ? fmt[j] : 0;
    // printf and println keep upstream's three conversions: a program that
    // printed "%x" literally there still does.
    const char* convs = c.strict() ? "sdiuxXofFeEgGc%" : "sdf";
    if (conv == 0 || !strchr(convs, conv)) {
      if (c.strict()) {
        if (conv == 0) return make_errorf("%s: incomplete directive at the end of the format string", fn);
        std::string d(fmt.substr(i, j + 1 - i));
        return make_error(std::string(fn) + ": unknown directive \"" + d + "\" at byte " +
                          std::to_string(i + 1) + " of the format string");
      }
      out += '%';  // unknown directive: the rest is copied by the loop
      continue;
    }
    char what[4] = {'%', conv, 0, 0};
    if (conv == '%') {  // "%5%" and the like: a percent sign, no argument
      out += '%';
      i = j;
      continue;
    }
    if (c.next >= argc) return too_few(c);
    int index = c.next++;
    Value v = args[index];
    if (is_error(v)) return v;
    std::string spec = "%";
    if (minus) spec += '-';
    if (plus) spec += '+';
    if (space) spec += ' ';
    if (zero) spec += '0';
    if (hash) spec += '#';
    if (width >= 0) spec += std::to_string(width);
    if (prec >= 0) spec += "." + std::to_string(prec);
    switch (conv) {
      case 's': {
        if (!c.strict() && !is_string(v)) return wrong_type(c, index, what, "a string");
        std::string shown;
        std::string_view s;
        if (is_string(v)) {
          s = as_string(v)->view();
        } else {
          if (Value err = check_print_room(fn, &v, 1, 0); err != kNil) return err;
          print_display(shown, v);
          s = shown;
        }
        if (prec >= 0) s = s.substr(0, prefix_bytes(s, prec));
        append_padded(out, s, width, minus);
        break;
      }
      case 'c': {
        if (!is_int(v)) return wrong_type(c, index, what, "an integer");
        int64_t cp = int_val(v);
        if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          if (!c.strict())
            return make_errorf("%s: %%c requires a character code, got %lld", fn, (long long)cp);
          return make_errorf(
              "%s: argument %d must be a character code (0 to 0x10FFFF, not a surrogate) for %%c, "
              "got %lld",
              fn, c.argno(index), (long long)cp);
        }
        std::string s;
        put_utf8(s, uint32_t(cp));
        append_padded(out, s, width, minus);
        break;
      }
      case 'd':
      case 'i':
        if (!is_int(v)) return wrong_type(c, index, what, "an integer");
        spec += "lld";
        append_printf(out, spec, (long long)int_val(v));
        break;
      case 'u':
      case 'x':
      case 'X':
      case 'o':
        // A negative integer shows as its 64-bit two's complement, as in C.
        if (!is_int(v)) return wrong_type(c, index, what, "an integer");
        spec += "ll";
        spec += conv;
        append_printf(out, spec, (unsigned long long)int_val(v));
        break;
      default:  // f F e E g G
        if (!is_number(v)) return wrong_type(c, index, what, "a number");
        spec += conv;
        append_printf(out, spec, num_as_double(v));
        break;
    }
    i = j;
    // Widths reach 16 MB per directive: past a megabyte, watch the budget.
    if (out.size() > (size_t(1) << 20) && out.size() > heap_room())
      return check_room(fn, out.size(), 1);
  }
  if (c.strict() && c.next < argc) {
    for (int k = c.next; k < argc; ++k)
      if (is_error(args[k])) return args[k];
    return make_errorf("%s: too many arguments for the format string: it uses %d, got %d", fn,
                       c.next, argc);
  }
  return kNil;
}

namespace {

// (format fmt args...): the formatted string.
Value b_format(VM&, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), "format", 0, "a format string");
  std::string out;
  Value err = format_into("format", as_string(args[0])->view(), args + 1, argc - 1,
                          FormatStyle::Strict, out);
  if (err != kNil) return err;
  return make_string(out);
}

}  // namespace

void open_format(VM&) { define("format", guarded<b_format>, 1, -1); }

}  // namespace valk
