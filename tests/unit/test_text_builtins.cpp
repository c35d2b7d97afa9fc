// format, re/*, and the C++ half of sort / sort-by, called directly (the
// .valk suites tests/valk/{format,regex,sort}.valk cover them from Lisp).
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/printer.h"
#include "core/vm.h"
#include "lib/builtins.h"

namespace valk {
namespace {

VM& vm() {
  static VM* v = new VM;
  return *v;
}

Value call(const char* name, std::initializer_list<Value> args) {
  vm();
  Value fn = as_symbol(intern(name))->global;
  EXPECT_TRUE(has_type(fn, Type::Builtin)) << name;
  if (!has_type(fn, Type::Builtin)) return kUnbound;
  auto* b = reinterpret_cast<Builtin*>(fn);
  Value argv[8];
  int argc = 0;
  for (Value v : args) argv[argc++] = v;
  return b->fn(vm(), argv, argc);
}

Value S(std::string_view s) { return make_string(s); }
Value I(int64_t i) { return make_int(i); }
Value F(double d) { return make_float(d); }
Value L(std::initializer_list<Value> xs) {
  ListBuilder lb(true);
  for (Value x : xs) lb.push(x);
  return lb.result();
}
std::string text(Value v) { return is_string(v) ? std::string(as_string(v)->view()) : repr_string(v); }
std::string errmsg(Value v) {
  return is_error(v) ? display_string(as_error(v)->message) : "not an error: " + repr_string(v);
}

TEST(TextBuiltins, FormatIntoStyles) {
  vm();
  Value args[] = {I(5), S("x"), I(9)};
  std::string out;
  EXPECT_EQ(format_into("format", "%d %s", args, 2, FormatStyle::Strict, out), kNil);
  EXPECT_EQ(out, "5 x");
  out.clear();
  // Printf style: %q stays, the third argument is ignored.
  EXPECT_EQ(format_into("printf", "%d%q%s", args, 3, FormatStyle::Printf, out), kNil);
  EXPECT_EQ(out, "5%qx");
  out.clear();
  EXPECT_EQ(errmsg(format_into("format", "%d%q", args, 3, FormatStyle::Strict, out)),
            "format: unknown directive \"%q\" at byte 3 of the format string");
  out.clear();
  EXPECT_EQ(errmsg(format_into("printf", "%s", args, 1, FormatStyle::Printf, out)),
            "printf: %s requires a string argument, got integer");
}

TEST(TextBuiltins, FormatBoxedIntegersAndNul) {
  EXPECT_EQ(text(call("format", {S("%d|%x"), I(INT64_MIN), I(INT64_MAX)})),
            "-9223372036854775808|7fffffffffffffff");
  Value r = call("format", {S(std::string_view("a\0%s", 4)), S("b")});
  EXPECT_EQ(text(r), std::string("a\0b", 3));
}

TEST(TextBuiltins, RegexResultsAreCopies) {
  Value subject = S("key=value");
  Value m = call("re/match", {S("(\\w+)=(\\w+)"), subject});
  ASSERT_TRUE(is_cons(m));
  EXPECT_EQ(text(car(cdr(m))), "key");
  EXPECT_NE(as_string(car(m))->data, as_string(subject)->data);  // a GC string of its own
}

TEST(TextBuiltins, RegexUtf8Validation) {
  // Valid: 2-, 3- and 4-byte forms, and U+10FFFF; invalid: a lone
  // continuation byte, an overlong NUL, a surrogate, past U+10FFFF, truncated.
  for (const char* ok : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"})
    EXPECT_FALSE(is_error(call("re/match", {S("."), S(ok)}))) << ok;
  for (const char* bad : {"\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"})
    EXPECT_TRUE(is_error(call("re/match", {S("."), S(bad)}))) << bad;
  // The ASCII fast path: a bad byte after 8-byte runs.
  EXPECT_EQ(errmsg(call("re/find-all", {S("a"), S("aaaaaaaaaaaaaaaaa\xff")})),
            "re/find-all: argument 2 is not valid UTF-8 (at byte 17)");
}

TEST(TextBuiltins, RegexCacheIsBounded) {
  for (int i = 0; i < 300; ++i) call("re/match", {S("q" + std::to_string(i)), S("x")});
  EXPECT_EQ(int_val(call("%re/cache-size", {})), 256);
}

TEST(TextBuiltins, SortDefaultExactNumbers) {
  // 2^53 + 1 and the float 2^53: distinct, in order; boxed integers too.
  Value r = call("%sort-default", {L({I(9007199254740993), F(9007199254740992.0), I(INT64_MIN)})});
  EXPECT_EQ(repr_string(r), "{-9223372036854775808 9007199254740992.0 9007199254740993}");
  // The input's {} / () style is kept.
  Value plain = cons(I(2), cons(I(1), kNil, false), false);
  EXPECT_EQ(repr_string(call("%sort-default", {plain})), "(1 2)");
}

TEST(TextBuiltins, SortByKeys) {
  Value r = call("%sort-by-keys", {L({I(2), I(1), I(2), I(0)}), L({S("a"), S("b"), S("c"), S("d")})});
  EXPECT_EQ(repr_string(r), "{\"d\" \"b\" \"a\" \"c\"}");
  EXPECT_EQ(errmsg(call("%sort-by-keys", {L({I(1)}), L({})})), "sort-by: 1 keys for 0 values");
  EXPECT_EQ(repr_string(call("%revappend", {L({I(2), I(1)}), L({I(3)})})), "{1 2 3}");
}

}  // namespace
}  // namespace valk
