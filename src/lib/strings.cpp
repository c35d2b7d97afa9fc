// String and output builtins (docs/language.md#forms). Strings are byte strings that may
// hold NUL, so everything here works on (pointer, length), never strlen.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "core/printer.h"
#include "lib/builtins.h"

namespace valk {
namespace {

constexpr size_t kMaxMakeString = 100u * 1024 * 1024;

std::string_view sv(Value v) { return as_string(v)->view(); }

// Output goes through stdio's buffer; flushing per call only pays off when a
// person is watching (the VM flushes at exit, capture-start before redirecting).
void write_stdout(std::string_view s) {
  static const bool tty = isatty(STDOUT_FILENO);
  fwrite(s.data(), 1, s.size(), stdout);
  if (tty) fflush(stdout);
}

// An error among the arguments of str, print and println is returned instead
// of being turned into text (docs/language.md#errors-are-values): a message
// built from a failed computation must not look like a result. repr is how
// an error is printed on purpose.
Value first_error(Value* args, int argc) {
  for (int i = 0; i < argc; ++i)
    if (is_error(args[i])) return args[i];
  return kNil;
}

Value b_str(VM&, Value* args, int argc) {
  if (argc == 1 && is_string(args[0])) return args[0];
  if (Value err = first_error(args, argc); err != kNil) return err;
  if (Value err = check_print_room("str", args, argc, 0); err != kNil) return err;
  return make_string(display_concat(args, argc, ""));
}

Value b_print(VM&, Value* args, int argc) {
  if (Value err = first_error(args, argc); err != kNil) return err;
  if (Value err = check_print_room("print", args, argc, 1); err != kNil) return err;
  std::string out = display_concat(args, argc, " ");
  out += '\n';
  write_stdout(out);
  return kNil;
}

// printf and println format with format.cpp's engine, in its printf style.
Value format(std::string_view fmt, Value* args, int argc, std::string& out) {
  return format_into("printf", fmt, args, argc, FormatStyle::Printf, out);
}

Value b_printf(VM&, Value* args, int argc) {
  if (Value err = first_error(args, argc); err != kNil) return err;
  VALK_CHECK(is_string(args[0]), "printf", 0, "a format string");
  std::string out;
  Value err = format(sv(args[0]), args + 1, argc - 1, out);
  if (err != kNil) return err;
  write_stdout(out);
  return kNil;
}

Value b_println(VM&, Value* args, int argc) {
  if (Value err = first_error(args, argc); err != kNil) return err;
  std::string out;
  if (is_string(args[0])) {
    Value err = format(sv(args[0]), args + 1, argc - 1, out);
    if (err != kNil) return err;
  } else {
    if (Value err = check_print_room("println", args, argc, 1); err != kNil) return err;
    out = display_concat(args, argc, " ");  // (println 42): nothing to format
  }
  out += '\n';
  write_stdout(out);
  return kNil;
}

Value b_split(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "str/split", 0, "a string");
  VALK_CHECK(is_string(args[1]), "str/split", 1, "a string");
  std::string_view s = sv(args[0]), d = sv(args[1]);
  if (d.empty()) return make_error("str/split: delimiter must not be empty");
  if (s.size() > (size_t(1) << 16)) {
    // Each piece costs a cell and a string header: count them first.
    uint64_t pieces = 1;
    for (size_t at = s.find(d); at != std::string_view::npos; at = s.find(d, at + d.size())) ++pieces;
    if (Value err = check_room("str/split", pieces, sizeof(Cons) + sizeof(String) + 16 + d.size());
        err != kNil)
      return err;
  }
  ListBuilder lb(false);
  size_t pos = 0;
  for (;;) {
    size_t hit = s.find(d, pos);
    if (hit == std::string_view::npos) break;
    lb.push(make_string(s.substr(pos, hit - pos)));
    pos = hit + d.size();
  }
  lb.push(make_string(s.substr(pos)));
  return lb.result();
}

// (str/join list [sep]); (str/join sep list) is accepted too.
Value b_join(VM&, Value* args, int argc) {
  Value list = args[0], sep = argc > 1 ? args[1] : kUnbound;
  if (argc > 1 && is_string(list) && is_list(sep)) std::swap(list, sep);
  VALK_CHECK(is_list(list), "str/join", 0, "a list");
  if (argc > 1) VALK_CHECK(is_string(sep), "str/join", 1, "a string");
  if (Value err = check_print_room("str/join", &list, 1, 0); err != kNil) return err;
  if (sep != kUnbound && as_string(sep)->len > 0)
    if (Value err = check_room("str/join", list_length(list), as_string(sep)->len); err != kNil)
      return err;
  for (Value p = list; is_cons(p); p = cdr(p))
    if (is_error(car(p))) return car(p);
  std::string out;
  bool first = true;
  for (Value p = list; is_cons(p); p = cdr(p)) {
    if (!first && sep != kUnbound) out += sv(sep);
    first = false;
    print_display(out, car(p));
  }
  return make_string(out);
}

Value b_replace(VM&, Value* args, int) {
  for (int i = 0; i < 3; ++i) VALK_CHECK(is_string(args[i]), "str/replace", i, "a string");
  std::string_view s = sv(args[0]), from = sv(args[1]), to = sv(args[2]);
  if (from.empty()) return make_error("str/replace: the string to replace must not be empty");
  // Count first: the result can be far larger than the input, and is built
  // in place once its size is known to fit.
  uint64_t hits = 0;
  for (size_t at = s.find(from); at != std::string_view::npos; at = s.find(from, at + from.size()))
    ++hits;
  if (hits == 0) return args[0];
  uint64_t grown;
  if (__builtin_mul_overflow(hits, uint64_t(to.size()), &grown))
    return check_room("str/replace", UINT64_MAX, 2);
  uint64_t total = s.size() - hits * from.size() + grown;
  if (Value err = check_room("str/replace", total, 1); err != kNil) return err;
  char* p;
  Value out = make_string_uninit(size_t(total), &p);
  size_t pos = 0;
  for (size_t hit = s.find(from); hit != std::string_view::npos; hit = s.find(from, pos)) {
    memcpy(p, s.data() + pos, hit - pos);
    p += hit - pos;
    if (!to.empty()) memcpy(p, to.data(), to.size());
    p += to.size();
    pos = hit + from.size();
  }
  memcpy(p, s.data() + pos, s.size() - pos);
  return out;
}

// (str/slice s start [end]): byte offsets, clamped into the string.
Value b_slice(VM&, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), "str/slice", 0, "a string");
  VALK_CHECK(is_int(args[1]), "str/slice", 1, "an integer");
  if (argc > 2) VALK_CHECK(is_int(args[2]), "str/slice", 2, "an integer");
  std::string_view s = sv(args[0]);
  int64_t len = int64_t(s.size());
  int64_t start = int_val(args[1]), end = argc > 2 ? int_val(args[2]) : len;
  if (start < 0) start = 0;
  if (end > len) end = len;
  if (start >= end) return make_string("");
  return make_string(s.substr(size_t(start), size_t(end - start)));
}

Value b_strlen(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "str/len", 0, "a string");
  return make_int(int64_t(as_string(args[0])->len));
}

Value map_bytes(const char* name, int (*f)(int), Value* args) {
  VALK_CHECK(is_string(args[0]), name, 0, "a string");
  std::string_view s = sv(args[0]);
  char* p;
  Value out = make_string_uninit(s.size(), &p);
  for (size_t i = 0; i < s.size(); ++i) p[i] = char(f(static_cast<unsigned char>(s[i])));
  return out;
}

// ASCII only: the C locale functions, whatever locale the process runs in.
int ascii_upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

Value b_upper(VM&, Value* args, int) { return map_bytes("str/upper", ascii_upper, args); }
Value b_lower(VM&, Value* args, int) { return map_bytes("str/lower", ascii_lower, args); }

Value b_trim(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "str/trim", 0, "a string");
  std::string_view s = sv(args[0]), t = trim(s);
  return t.size() == s.size() ? args[0] : make_string(t);
}

Value trim_side(const char* name, bool left, Value* args) {
  VALK_CHECK(is_string(args[0]), name, 0, "a string");
  std::string_view s = sv(args[0]), t = s;
  if (left)
    while (!t.empty() && is_space(t.front())) t.remove_prefix(1);
  else
    while (!t.empty() && is_space(t.back())) t.remove_suffix(1);
  return t.size() == s.size() ? args[0] : make_string(t);
}
Value b_trim_left(VM&, Value* args, int) { return trim_side("str/trim-left", true, args); }
Value b_trim_right(VM&, Value* args, int) { return trim_side("str/trim-right", false, args); }

// (str/nth s i): the one-byte string at 0-based index i.
Value b_str_nth(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "str/nth", 0, "a string");
  VALK_CHECK(is_int(args[1]), "str/nth", 1, "an integer");
  std::string_view s = sv(args[0]);
  int64_t i = int_val(args[1]);
  if (i < 0 || uint64_t(i) >= s.size())
    return make_errorf("str/nth: index %lld out of range for a string of length %zu",
                       (long long)i, s.size());
  return make_string(s.substr(size_t(i), 1));
}

Value check_two_strings(const char* name, Value* args) {
  if (!is_string(args[0])) return bad_arg(name, 0, "a string", args[0]);
  if (!is_string(args[1])) return bad_arg(name, 1, "a string", args[1]);
  return kNil;
}

Value b_contains(VM&, Value* args, int) {
  if (Value e = check_two_strings("str/contains?", args); e != kNil) return e;
  return make_bool(sv(args[0]).find(sv(args[1])) != std::string_view::npos);
}

Value b_starts_with(VM&, Value* args, int) {
  if (Value e = check_two_strings("str/starts-with?", args); e != kNil) return e;
  return make_bool(sv(args[0]).starts_with(sv(args[1])));
}

Value b_ends_with(VM&, Value* args, int) {
  if (Value e = check_two_strings("str/ends-with?", args); e != kNil) return e;
  return make_bool(sv(args[0]).ends_with(sv(args[1])));
}

Value b_index_of(VM&, Value* args, int) {
  if (Value e = check_two_strings("str/index-of", args); e != kNil) return e;
  size_t hit = sv(args[0]).find(sv(args[1]));
  return make_int(hit == std::string_view::npos ? -1 : int64_t(hit));
}

// Accepts [+-]digits[.digits][(e|E)[+-]digits] (".5" and "1." too), with
// whitespace around. Sets *is_float when there is a fraction or exponent.
bool number_syntax(std::string_view s, bool* is_float) {
  size_t i = 0, n = s.size(), mant = 0;
  *is_float = false;
  auto digit = [&](size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  while (digit(i)) ++i, ++mant;
  if (i < n && s[i] == '.') {
    *is_float = true;
    ++i;
    while (digit(i)) ++i, ++mant;
  }
  if (mant == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    *is_float = true;
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

Value b_str_to_num(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "str->num", 0, "a string");
  std::string_view orig = sv(args[0]);
  // Leading whitespace is skipped, as strtol does; anything after the
  // number, trailing spaces included, is an error (upstream's rule).
  std::string_view s = orig;
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r'))
    s.remove_prefix(1);
  bool is_float;
  // Messages are built as strings: printf would stop at a NUL byte.
  if (!number_syntax(s, &is_float))
    return make_error("str->num: not a number: \"" + std::string(orig) + "\"");
  if (s[0] == '+') s.remove_prefix(1);  // from_chars takes no '+'
  const char* end = s.data() + s.size();
  double d = 0;
  int64_t i = 0;
  auto r = is_float ? std::from_chars(s.data(), end, d) : std::from_chars(s.data(), end, i);
  if (r.ec != std::errc() || r.ptr != end)
    return make_error("str->num: number out of range: \"" + std::string(orig) + "\"");
  return is_float ? make_float(d) : make_int(i);
}

Value b_num_to_str(VM&, Value* args, int) {
  VALK_CHECK(is_number(args[0]), "num->str", 0, "a number");
  std::string out;
  print_display(out, args[0]);
  return make_string(out);
}

// (make-string n pat): pat repeated n times; pat is a string or a byte value.
Value b_make_string(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "make-string", 0, "an integer");
  int64_t n = int_val(args[0]);
  if (n < 0) return make_errorf("make-string: count must not be negative, got %lld", (long long)n);
  char byte;
  std::string_view pat;
  if (is_string(args[1])) {
    pat = sv(args[1]);
  } else if (is_int(args[1])) {
    int64_t code = int_val(args[1]);
    if (code < 0 || code > 255)
      return make_errorf("make-string: character code %lld is not a byte (0-255)", (long long)code);
    byte = char(code);
    pat = std::string_view(&byte, 1);
  } else {
    return bad_arg("make-string", 1, "a string or character code", args[1]);
  }
  if (n == 0 || pat.empty()) return make_string("");
  if (uint64_t(n) > kMaxMakeString / pat.size())
    return make_errorf("make-string: result larger than %zu bytes", kMaxMakeString);
  size_t total = size_t(n) * pat.size();
  if (Value err = check_room("make-string", total + sizeof(String) + 1, 1); err != kNil) return err;
  char* p;
  Value out = make_string_uninit(total, &p);
  if (pat.size() == 1) {
    memset(p, pat[0], total);
  } else {
    for (size_t off = 0; off < total; off += pat.size()) memcpy(p + off, pat.data(), pat.size());
  }
  return out;
}

Value b_is_string(VM&, Value* args, int) { return make_bool(is_string(args[0])); }
Value b_is_symbol(VM&, Value* args, int) {
  return make_bool(is_symbol(args[0]) && !is_keyword(args[0]));
}
Value b_is_keyword(VM&, Value* args, int) { return make_bool(is_keyword(args[0])); }

Value b_sym_to_str(VM&, Value* args, int) {
  VALK_CHECK(is_symbol(args[0]), "sym->str", 0, "a symbol");
  return make_string(as_symbol(args[0])->view());
}

Value b_str_to_sym(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "str->sym", 0, "a string");
  return intern(sv(args[0]));
}

// The name of a keyword without its colon: (keyword->str :a) is "a".
Value b_keyword_to_str(VM&, Value* args, int) {
  VALK_CHECK(is_keyword(args[0]), "keyword->str", 0, "a keyword");
  return make_string(as_symbol(args[0])->view().substr(1));
}

Value b_str_to_keyword(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "str->keyword", 0, "a string");
  std::string_view s = sv(args[0]);
  if (s.starts_with(':')) return intern(s);
  return intern(":" + std::string(s));
}

}  // namespace

void open_strings(VM&) {
  define("str", guarded<b_str>, 0, -1);
  define("print", guarded<b_print>, 0, -1);
  define("printf", guarded<b_printf>, 1, -1);
  define("println", guarded<b_println>, 1, -1);
  define("str/split", guarded<b_split>, 2, 2);
  define("str/join", guarded<b_join>, 1, 2);
  define("str/replace", guarded<b_replace>, 3, 3);
  define("str/slice", guarded<b_slice>, 2, 3);
  define("str/len", guarded<b_strlen>, 1, 1);
  define("str/upper", guarded<b_upper>, 1, 1);
  define("str/lower", guarded<b_lower>, 1, 1);
  define("str/trim", guarded<b_trim>, 1, 1);
  define("str/trim-left", guarded<b_trim_left>, 1, 1);
  define("str/trim-right", guarded<b_trim_right>, 1, 1);
  define("str/nth", guarded<b_str_nth>, 2, 2);
  define("str/contains?", guarded<b_contains>, 2, 2);
  define("str/starts-with?", guarded<b_starts_with>, 2, 2);
  define("str/ends-with?", guarded<b_ends_with>, 2, 2);
  define("str/index-of", guarded<b_index_of>, 2, 2);
  define("str->num", guarded<b_str_to_num>, 1, 1);
  define("num->str", guarded<b_num_to_str>, 1, 1);
  define("make-string", guarded<b_make_string>, 2, 2);
  define("string?", guarded<b_is_string>, 1, 1);
  define("symbol?", guarded<b_is_symbol>, 1, 1);
  define("keyword?", guarded<b_is_keyword>, 1, 1);
  define("sym->str", guarded<b_sym_to_str>, 1, 1);
  define("str->sym", guarded<b_str_to_sym>, 1, 1);
  define("keyword->str", guarded<b_keyword_to_str>, 1, 1);
  define("str->keyword", guarded<b_str_to_keyword>, 1, 1);
}

}  // namespace valk
