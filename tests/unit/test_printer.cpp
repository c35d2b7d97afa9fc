// Printer unit tests: every value kind in both modes, and read/print round
// trips (read(print_repr(x)) is x).
#include <gc/gc.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "core/printer.h"
#include "core/proto.h"
#include "core/reader.h"

using namespace valk;

namespace {

const bool gc_ready = [] {
  GC_INIT();
  return true;
}();

Value rd(std::string_view src) {
  Reader r(src, "t.valk");
  Value v = r.read();
  EXPECT_FALSE(is_error(v)) << src << ": " << display_string(v);
  return v;
}

std::string disp(Value v) { return display_string(v); }
std::string repr(Value v) { return repr_string(v); }

Value make_proto(Value name, const char* formals, const char* body) {
  auto* p = static_cast<Proto*>(gc_alloc(sizeof(Proto)));
  memset(p, 0, sizeof *p);
  p->h = {Type::Proto, 0, 0, 0};
  p->name = name;
  p->formals = formals ? rd(formals) : kNil;
  p->body = body ? rd(body) : kNil;
  return obj_val(p);
}

Value make_closure(Value proto) {
  auto* c = static_cast<Closure*>(gc_alloc(sizeof(Closure)));
  c->h = {Type::Closure, 0, 0, 0};
  c->proto = as_proto(proto);
  c->env = nullptr;
  return obj_val(c);
}

Value make_partial(Value fn, uint32_t nargs) {
  auto* p = static_cast<Partial*>(gc_alloc(sizeof(Partial) + nargs * sizeof(Value)));
  p->h = {Type::Partial, 0, 0, nargs};
  p->fn = fn;
  for (uint32_t i = 0; i < nargs; ++i) p->args[i] = make_int(i);
  return obj_val(p);
}

Value make_bare(Type t) {
  auto* h = static_cast<ObjHeader*>(gc_alloc(64));
  *h = {t, 0, 0, 0};
  return obj_val(h);
}

Value dummy_builtin(VM&, Value*, int) { return kNil; }

}  // namespace

// ---- atoms --------------------------------------------------------------------

TEST(Printer, Integers) {
  ASSERT_TRUE(gc_ready);
  EXPECT_EQ(disp(make_int(0)), "0");
  EXPECT_EQ(disp(make_int(-42)), "-42");
  EXPECT_EQ(disp(make_int(INT64_MAX)), "9223372036854775807");
  EXPECT_EQ(repr(make_int(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(disp(make_int(kFixMax + 1)), "4611686018427387904");  // boxed
}

TEST(Printer, Floats) {
  struct {
    double d;
    const char* text;
  } cases[] = {
      {2.0, "2.0"},       {0.1, "0.1"},         {-0.5, "-0.5"},       {3.14, "3.14"},
      {1e21, "1e+21"},    {1e-7, "1e-07"},      {-0.0, "-0.0"},       {0.0, "0.0"},
      {1e100, "1e+100"},  {123456.0, "123456.0"}, {2.5e-3, "0.0025"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
      {-std::numeric_limits<double>::quiet_NaN(), "nan"},
  };
  for (auto& c : cases) {
    EXPECT_EQ(disp(make_float(c.d)), c.text);
    EXPECT_EQ(repr(make_float(c.d)), c.text);
  }
  // Shortest form that reads back exactly.
  EXPECT_EQ(disp(make_float(0.1 + 0.2)), "0.30000000000000004");
  EXPECT_EQ(disp(make_float(5e-324)), "5e-324");
  EXPECT_EQ(disp(make_float(1.7976931348623157e308)), "1.7976931348623157e+308");
}

TEST(Printer, Strings) {
  Value s = make_string("a\"b\\c\nd");
  EXPECT_EQ(disp(s), "a\"b\\c\nd");
  EXPECT_EQ(repr(s), R"("a\"b\\c\nd")");
  EXPECT_EQ(repr(make_string("\t\r\a\b\f\v\x1b")), R"("\t\r\a\b\f\v\e")");
  EXPECT_EQ(repr(make_string(std::string("x\0y", 3))), R"("x\0y")");
  EXPECT_EQ(disp(make_string(std::string("x\0y", 3))), std::string("x\0y", 3));
  EXPECT_EQ(repr(make_string("\x01\x1f\x7f")), R"("\x01\x1f\x7f")");
  EXPECT_EQ(repr(make_string("caf\xc3\xa9 \xff")), "\"caf\xc3\xa9 \xff\"");  // high bytes raw
  EXPECT_EQ(repr(make_string("it's")), R"("it's")");
  EXPECT_EQ(repr(make_string("")), R"("")");
  EXPECT_EQ(disp(make_string("")), "");
}

TEST(Printer, SymbolsKeywordsBooleansNil) {
  EXPECT_EQ(disp(intern("aio/then")), "aio/then");
  EXPECT_EQ(repr(intern("->")), "->");
  EXPECT_EQ(disp(intern(":completed")), ":completed");
  EXPECT_EQ(repr(intern(":ok")), ":ok");
  EXPECT_EQ(disp(kTrue), "true");
  EXPECT_EQ(repr(kFalse), "false");
  EXPECT_EQ(disp(kNil), "()");
  EXPECT_EQ(repr(kNil), "()");
  EXPECT_EQ(disp(kUnbound), "#<unbound>");
}

// ---- lists ------------------------------------------------------------------------

TEST(Printer, Lists) {
  EXPECT_EQ(repr(rd("(a b c)")), "(a b c)");
  EXPECT_EQ(repr(rd("{a b c}")), "{a b c}");
  EXPECT_EQ(repr(rd("(a {b (c)} () {})")), "(a {b (c)} () ())");
  // The style comes from the first cell only.
  Value mixed = cons(make_int(1), cons(make_int(2), kNil, false), true);
  EXPECT_EQ(repr(mixed), "{1 2}");
  EXPECT_EQ(repr(cons(make_int(1), make_int(2), false)), "(1 . 2)");
  EXPECT_EQ(repr(cons(make_int(1), cons(make_int(2), make_string("x"), true), true)),
            "{1 2 . \"x\"}");
  EXPECT_EQ(disp(cons(make_int(1), make_string("x"), true)), "{1 . x}");
}

TEST(Printer, ListElementsFollowTheMode) {
  ListBuilder b;  // Q-style, as `list` builds
  b.push(make_int(1));
  b.push(make_string("x"));
  b.push(intern(":k"));
  b.push(make_error("boom"));
  EXPECT_EQ(disp(b.result()), "{1 x :k Error: boom}");
  EXPECT_EQ(repr(b.result()), "{1 \"x\" :k Error[boom]}");
}

TEST(Printer, LongListIsIterative) {
  ListBuilder b;
  for (int i = 0; i < 1000000; ++i) b.push(make_int(i % 10));
  std::string s = disp(b.result());
  EXPECT_EQ(s.size(), 2u * 1000000 + 1);
  EXPECT_EQ(s.substr(0, 6), "{0 1 2");
}

TEST(Printer, AnyDepthPrintsInFull) {
  // (There was a 10,000-level cut-off that printed `...`: not readable back.)
  Value v = intern("x");
  for (int i = 0; i < 20000; ++i) v = cons(v, kNil);
  EXPECT_EQ(repr(v), std::string(20000, '(') + "x" + std::string(20000, ')'));
}

TEST(Printer, CarCycleTerminates) {
  Value v = cons(kNil, kNil);
  as_cons(v)->car = v;  // only mutation can build this; printing must still end
  std::string s = repr(v);
  EXPECT_NE(s.find("..."), std::string::npos);
}

// ---- errors and functions ----------------------------------------------------------

TEST(Printer, Errors) {
  Value e = make_error("file not found");
  EXPECT_EQ(disp(e), "Error: file not found");
  EXPECT_EQ(repr(e), "Error[file not found]");
  Value le = make_error(rd("{:timeout \"x\"}"));
  EXPECT_EQ(disp(le), "Error: {:timeout x}");
  EXPECT_EQ(repr(le), "Error[{:timeout x}]");
  EXPECT_EQ(repr(make_error(intern(":cancelled"))), "Error[:cancelled]");
}

TEST(Printer, Builtins) {
  Value b = make_builtin("car", dummy_builtin, 1, 1);
  EXPECT_EQ(disp(b), "<builtin car>");
  EXPECT_EQ(repr(b), "<builtin car>");
}

TEST(Printer, Closures) {
  Value anon = make_closure(make_proto(kNil, "{x y}", "{+ x y}"));
  EXPECT_EQ(disp(anon), "<lambda>");
  EXPECT_EQ(repr(anon), "(\\ {x y} {+ x y})");
  Value named = make_closure(make_proto(intern("add"), "(x y)", "(+ x y)"));
  EXPECT_EQ(disp(named), "<lambda add>");
  EXPECT_EQ(repr(named), "(\\ (x y) (+ x y))");
  Value empty = make_closure(make_proto(kNil, nullptr, nullptr));
  EXPECT_EQ(repr(empty), "(\\ {} {})");
  Value strs = make_closure(make_proto(kNil, "{s}", "{str s \"!\"}"));
  EXPECT_EQ(repr(strs), "(\\ {s} {str s \"!\"})");
  // Inside a displayed list, a closure still displays.
  EXPECT_EQ(disp(cons(anon, kNil, true)), "{<lambda>}");
  EXPECT_EQ(repr(cons(anon, kNil, true)), "{(\\ {x y} {+ x y})}");
}

TEST(Printer, Partials) {
  // Both modes say whose partial it is, how many arguments it has and where
  // it was made (the VM fills in made; these are built by hand).
  Value f = make_closure(make_proto(intern("f"), "{a b c}", "{+ a b c}"));
  as_closure(f)->proto->nparams = 3;
  Value pf = make_partial(f, 1);
  EXPECT_EQ(disp(pf), "<partial application of f (1 of 3 arguments)>");
  as_partial(pf)->made = {intern_filename("m1.valk"), 4, 20};
  EXPECT_EQ(disp(pf), "<partial application of f (1 of 3 arguments, made at m1.valk:4:20)>");
  EXPECT_EQ(repr(pf), disp(pf));
  Value h = make_closure(make_proto(kNil, "{a b & rest}", "{rest}"));
  as_closure(h)->proto->nparams = 2;
  as_closure(h)->proto->has_rest = 1;
  EXPECT_EQ(repr(make_partial(h, 1)), "<partial application of a lambda (1 of at least 2 arguments)>");
  Value b = make_builtin("+", dummy_builtin, 0, -1);
  EXPECT_EQ(disp(make_partial(b, 1)), "<partial application of + (1 arguments)>");
}

TEST(Printer, OtherObjects) {
  EXPECT_EQ(disp(make_bare(Type::Continuation)), "<continuation>");
  EXPECT_EQ(repr(make_bare(Type::Continuation)), "<continuation>");
  EXPECT_EQ(disp(make_bare(Type::Env)), "<env>");
  EXPECT_EQ(disp(make_proto(kNil, nullptr, nullptr)), "<proto>");
}

TEST(Printer, Opaques) {
  static const OpaqueClass plain{"handle", nullptr};
  static const OpaqueClass custom{"request", [](std::string& out, const Opaque* self) {
                                    out += "<request #";
                                    out += std::to_string(reinterpret_cast<uintptr_t>(self->payload));
                                    out += ">";
                                  }};
  EXPECT_EQ(disp(make_opaque(&plain, nullptr)), "<handle>");
  EXPECT_EQ(repr(make_opaque(&plain, nullptr)), "<handle>");
  EXPECT_EQ(disp(make_opaque(&custom, reinterpret_cast<void*>(7))), "<request #7>");
}

TEST(Printer, AppendsToExistingOutput) {
  std::string out = "x=";
  print_display(out, make_string("s"));
  out += ' ';
  print_repr(out, make_string("s"));
  EXPECT_EQ(out, "x=s \"s\"");
}

// ---- round trips ------------------------------------------------------------------

namespace {

// read(print_repr(v)) must equal v structurally, and print the same (which
// also checks the {} / () style that values_equal ignores).
void expect_round_trip(Value v) {
  std::string text = repr_string(v);
  Reader r(text, "rt");
  Value back = r.read();
  ASSERT_FALSE(is_error(back)) << text << ": " << display_string(back);
  EXPECT_TRUE(r.at_end()) << text;
  EXPECT_TRUE(values_equal(v, back)) << text;
  EXPECT_EQ(repr_string(back), text);
  if (is_float(v)) {
    ASSERT_TRUE(is_float(back)) << text;
    EXPECT_EQ(std::signbit(float_val(v)), std::signbit(float_val(back))) << text;
  }
  if (is_int(v)) {
    EXPECT_TRUE(is_int(back)) << text;
  }
}

}  // namespace

TEST(Printer, RoundTripsOfSources) {
  for (const char* src : {
           "42", "-42", "9223372036854775807", "-9223372036854775808", "3.14", "-0.5", "1e9",
           "2.5e-3", "1.", "-0.0", "1e300", "1e-300", "\"plain\"", R"("\n\t\r\0\\\"\a\b\f\v\e")",
           R"("\x00\x01\x7f\xff")", R"("\u{1F600}")", R"("\q")", "sym", ":kw", "true", "false",
           "()", "{}", "(a (b {c d}) {e (f)})", "'x", "`(a ,b ,@c)", "(\\ {x} {+ x 1})",
           "{1 2.5 \"s\" :k (nested {deep (deeper)})}", "(aio/then h (lambda (v) (print v)))"}) {
    SCOPED_TRACE(src);
    expect_round_trip(rd(src));
  }
}

TEST(Printer, RoundTripAllBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += char(c);
  expect_round_trip(make_string(all));
}

TEST(Printer, RoundTripRandomValues) {
  std::mt19937_64 rng(12345);
  const char* syms[] = {"a", "->", "list?", ":ok", ":", "aio/then", "nil", "\\", "...", "+", "-"};
  // Builds a random value iteratively enough: depth is bounded by the argument.
  auto gen = [&](auto& self, int depth) -> Value {
    switch (rng() % (depth > 0 ? 7 : 5)) {
      case 0: {
        static const int64_t edge[] = {0, 1, -1, INT64_MAX, INT64_MIN, kFixMax, kFixMin,
                                       kFixMax + 1, kFixMin - 1};
        return make_int(rng() % 2 ? edge[rng() % 9] : int64_t(rng()));
      }
      case 1: {
        double d;
        do {
          uint64_t bits = rng();
          memcpy(&d, &bits, sizeof d);
        } while (!std::isfinite(d));
        return make_float(rng() % 2 ? d : double(int64_t(rng() % 2000) - 1000) / 8);
      }
      case 2: {
        std::string s(rng() % 12, '\0');
        for (auto& c : s) c = char(rng());
        return make_string(s);
      }
      case 3: return intern(syms[rng() % (sizeof syms / sizeof *syms)]);
      case 4: return rng() % 3 == 0 ? kNil : make_bool(rng() % 2);
      default: {
        bool q = rng() % 2;
        ListBuilder b(q);
        int n = int(rng() % 5) + 1;
        for (int i = 0; i < n; ++i) b.push(self(self, depth - 1));
        return b.result();
      }
    }
  };
  for (int i = 0; i < 3000; ++i) {
    Value v = gen(gen, 4);
    SCOPED_TRACE(repr_string(v));
    expect_round_trip(v);
  }
}

TEST(Printer, ReaderRegressions) {
  // Inputs once found by hand or by fuzzing, kept as regression checks.
  for (const char* src : {"1.e5", "-1E-5", "{'a `b ,c ,@d}", "(\"\\u{7F}\")"}) {
    SCOPED_TRACE(src);
    expect_round_trip(rd(src));
  }
}
