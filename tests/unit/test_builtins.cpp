// Builtins called directly, without the compiler: each test looks a builtin
// up in the global table and calls its C++ function with prepared arguments.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "core/printer.h"
#include "core/vm.h"
#include "lib/builtins.h"

namespace valk {
namespace {

VM& vm() {
  static VM* v = new VM;  // one VM for the binary (a fresh runtime: test_runtime.cpp)
  return *v;
}

class Builtins : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { vm(); }
};

// Calls builtin `name`, checking the argument count against its arity the
// way the VM does. Arguments are copied to the C stack, where the GC sees them.
Value call(const char* name, std::initializer_list<Value> args = {}) {
  Value fn = as_symbol(intern(name))->global;
  EXPECT_TRUE(has_type(fn, Type::Builtin)) << name << " is not a builtin";
  if (!has_type(fn, Type::Builtin)) return kUnbound;
  auto* b = reinterpret_cast<Builtin*>(fn);
  Value argv[16];
  int argc = 0;
  for (Value v : args) argv[argc++] = v;
  EXPECT_GE(argc, b->min_args) << name;
  if (b->max_args >= 0) {
    EXPECT_LE(argc, b->max_args) << name;
  }
  return b->fn(vm(), argv, argc);
}

Value I(int64_t i) { return make_int(i); }
Value F(double d) { return make_float(d); }
Value S(std::string_view s) { return make_string(s); }
Value K(const char* name) { return intern(name); }  // keyword or symbol
Value Q(std::initializer_list<Value> xs) {
  ListBuilder lb(true);
  for (Value x : xs) lb.push(x);
  return lb.result();
}
Value SL(std::initializer_list<Value> xs) {
  ListBuilder lb(false);
  for (Value x : xs) lb.push(x);
  return lb.result();
}

std::string text(Value s) {
  EXPECT_TRUE(is_string(s)) << type_name(s);
  return is_string(s) ? std::string(as_string(s)->view()) : std::string();
}
std::string errmsg(Value e) {
  EXPECT_TRUE(is_error(e)) << "not an error: " << type_name(e);
  if (!is_error(e)) return "";
  return display_string(as_error(e)->message);
}
std::string show(Value v) { return display_string(v); }

#define EXPECT_INT(v, n)                      \
  do {                                        \
    Value v_ = (v);                           \
    ASSERT_TRUE(is_int(v_)) << type_name(v_); \
    EXPECT_EQ(int_val(v_), int64_t(n));       \
  } while (0)
#define EXPECT_FLOAT(v, d)                      \
  do {                                          \
    Value v_ = (v);                             \
    ASSERT_TRUE(is_float(v_)) << type_name(v_); \
    EXPECT_DOUBLE_EQ(float_val(v_), (d));       \
  } while (0)
#define EXPECT_EQUAL(a, b) EXPECT_TRUE(values_equal((a), (b))) << show(a) << " vs " << show(b)
#define EXPECT_ERR(v, msg) EXPECT_EQ(errmsg(v), msg)

// Runs f with stdout and stderr captured by the capture builtins.
template <class Fn>
std::pair<std::string, std::string> captured(Fn f) {
  Value cap = call("test/capture-start");
  f();
  Value res = call("test/capture-stop", {cap});
  return {text(call("plist/get", {res, K(":stdout")})),
          text(call("plist/get", {res, K(":stderr")}))};
}

// ---- registration ---------------------------------------------------------------

TEST_F(Builtins, SpecNamesAreRegistered) {
  for (const char* n :
       {"+", "-", "*", "/", "%", "<", ">", "<=", ">=", "==", "!=", "ord", "list", "head", "tail",
        "cons", "join", "len", "init", "range", "nth", "fst", "snd", "trd", "last", "take",
        "drop", "reverse", "exists", "sum", "product", "str", "str/split", "str/replace",
        "str/slice", "str->num", "num->str", "make-string", "printf", "println", "print",
        "plist/get", "plist/set", "plist/has?", "plist/keys", "plist/vals", "get", "read",
        "read-file", "error", "error?", "list?", "nil?", "type", "time-us"}) {
    EXPECT_TRUE(has_type(as_symbol(intern(n))->global, Type::Builtin)) << n;
  }
}

// ---- arithmetic -----------------------------------------------------------------

TEST_F(Builtins, Identities) {
  EXPECT_INT(call("+"), 0);
  EXPECT_INT(call("*"), 1);
  EXPECT_INT(call("+", {I(42)}), 42);
  EXPECT_INT(call("-", {I(5)}), -5);
  EXPECT_FLOAT(call("-", {F(2.5)}), -2.5);
  EXPECT_INT(call("/", {I(5)}), 5);
}

TEST_F(Builtins, IntegerArithmetic) {
  EXPECT_INT(call("+", {I(1), I(2), I(3)}), 6);
  EXPECT_INT(call("-", {I(10), I(3), I(2)}), 5);
  EXPECT_INT(call("*", {I(2), I(3), I(4)}), 24);
  EXPECT_INT(call("+", {I(kFixMax), I(1)}), kFixMax + 1);  // leaves the immediate range
  EXPECT_INT(call("-", {I(kFixMin), I(1)}), kFixMin - 1);
  EXPECT_INT(call("+", {I(kFixMax), I(kFixMax)}), 2 * kFixMax);
  EXPECT_INT(call("-", {I(INT64_MAX), I(INT64_MAX)}), 0);
}

TEST_F(Builtins, OverflowIsAnError) {
  EXPECT_ERR(call("+", {I(INT64_MAX), I(1)}), "integer overflow");
  EXPECT_ERR(call("+", {I(1), I(2), I(INT64_MAX)}), "integer overflow");
  EXPECT_ERR(call("-", {I(INT64_MIN), I(1)}), "integer overflow");
  EXPECT_ERR(call("-", {I(INT64_MIN)}), "integer overflow");
  EXPECT_ERR(call("*", {I(int64_t(1) << 40), I(int64_t(1) << 40)}), "integer overflow");
  EXPECT_ERR(call("*", {I(INT64_MAX), I(2)}), "integer overflow");
  EXPECT_ERR(call("/", {I(INT64_MIN), I(-1)}), "integer overflow");
  EXPECT_ERR(call("abs", {I(INT64_MIN)}), "integer overflow");
  EXPECT_INT(call("*", {I(int64_t(1) << 31), I(int64_t(1) << 31)}), int64_t(1) << 62);
}

TEST_F(Builtins, Division) {
  EXPECT_INT(call("/", {I(7), I(2)}), 3);
  EXPECT_INT(call("/", {I(-7), I(2)}), -3);  // toward zero
  EXPECT_INT(call("/", {I(7), I(-2)}), -3);
  EXPECT_INT(call("/", {I(10), I(-2)}), -5);  // upstream rejected negative divisors
  EXPECT_INT(call("/", {I(100), I(5), I(2)}), 10);
  EXPECT_ERR(call("/", {I(1), I(0)}), "division by zero");
  EXPECT_ERR(call("/", {I(1), F(0.0)}), "division by zero");
  EXPECT_INT(call("%", {I(7), I(3)}), 1);
  EXPECT_INT(call("%", {I(-7), I(3)}), -1);
  EXPECT_INT(call("%", {I(7), I(-3)}), 1);
  EXPECT_INT(call("%", {I(INT64_MIN), I(-1)}), 0);
  EXPECT_ERR(call("%", {I(7), I(0)}), "division by zero");
  EXPECT_FLOAT(call("%", {F(7.5), I(2)}), 1.5);
}

TEST_F(Builtins, FloatsAreContagious) {
  EXPECT_FLOAT(call("+", {I(1), F(2.5)}), 3.5);
  EXPECT_FLOAT(call("+", {F(0.5), I(1), I(2)}), 3.5);
  EXPECT_FLOAT(call("*", {I(2), F(1.5)}), 3.0);
  EXPECT_FLOAT(call("/", {I(7), F(2.0)}), 3.5);
  EXPECT_FLOAT(call("/", {F(1.0), I(4)}), 0.25);
  EXPECT_FLOAT(call("-", {I(1), F(0.25)}), 0.75);
}

TEST_F(Builtins, TypeErrorsAndPropagation) {
  EXPECT_ERR(call("+", {I(1), S("a")}), "+: argument 2 must be a number, got string");
  EXPECT_ERR(call("-", {K(":k")}), "-: argument 1 must be a number, got keyword");
  Value e = make_error("boom");
  // The incoming error itself comes back, not a new one (docs/language.md#errors-are-values).
  EXPECT_EQ(call("+", {I(1), e}), e);
  EXPECT_EQ(call("*", {e, I(2)}), e);
  EXPECT_EQ(call("<", {I(1), e}), e);
  EXPECT_EQ(call("head", {e}), e);
  EXPECT_EQ(call("len", {e}), e);
  EXPECT_EQ(call("nth", {I(1), e}), e);
  EXPECT_EQ(call("str/split", {e, S(",")}), e);
  EXPECT_EQ(call("str->num", {e}), e);
  EXPECT_EQ(call("plist/get", {e, K(":a")}), e);
  EXPECT_EQ(call("sum", {Q({I(1), e})}), e);
  EXPECT_EQ(call("printf", {S("%d"), e}), e);
  EXPECT_EQ(call("error", {e}), e);
  // Text made from an error is the error (docs/language.md#errors-are-values).
  EXPECT_EQ(call("str", {S("a"), e}), e);
  EXPECT_EQ(call("print", {e}), e);
  EXPECT_EQ(call("str/join", {Q({S("a"), e})}), e);
  EXPECT_EQ(text(call("repr", {e})), "Error[boom]");
  // Builtins that accept any value keep errors as ordinary values.
  Value l = call("list", {e});
  EXPECT_EQ(car(l), e);
  EXPECT_EQ(call("error?", {e}), kTrue);
}

TEST_F(Builtins, Comparisons) {
  EXPECT_EQ(call("<", {I(1), I(2)}), kTrue);
  EXPECT_EQ(call("<", {I(2), I(1)}), kFalse);
  EXPECT_EQ(call("<", {I(1), I(2), I(3)}), kTrue);
  EXPECT_EQ(call("<", {I(1), I(3), I(2)}), kFalse);
  EXPECT_EQ(call("<=", {I(1), I(1), I(2)}), kTrue);
  EXPECT_EQ(call(">", {I(3), I(2), I(1)}), kTrue);
  EXPECT_EQ(call(">=", {I(2), I(2)}), kTrue);
  EXPECT_EQ(call(">=", {I(1), I(2)}), kFalse);
  EXPECT_EQ(call("<", {I(1), F(1.5)}), kTrue);
  EXPECT_EQ(call(">", {F(2.5), I(2)}), kTrue);
  EXPECT_EQ(call("<", {I(INT64_MAX - 1), I(INT64_MAX)}), kTrue);  // exact, not via double
  EXPECT_EQ(call("<", {S("a"), S("b")}), kTrue);
  EXPECT_EQ(call("<", {S("ab"), S("abc")}), kTrue);
  EXPECT_EQ(call(">", {S("\xff"), S("a")}), kTrue);  // bytes compare unsigned
  EXPECT_EQ(call("<=", {S("a"), S("a"), S("b")}), kTrue);
  EXPECT_ERR(call("<", {I(1), S("a")}), "<: argument 2 must be a number, got string");
  EXPECT_ERR(call("<", {S("a"), I(1)}), "<: argument 2 must be a string, got integer");
  EXPECT_ERR(call("<", {K(":a"), K(":b")}),
             "<: argument 1 must be a number or string, got keyword");
  double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(call("<=", {F(nan), I(1)}), kFalse);
  EXPECT_EQ(call(">=", {F(nan), I(1)}), kFalse);
}

TEST_F(Builtins, Equality) {
  EXPECT_EQ(call("==", {I(1), F(1.0)}), kTrue);
  EXPECT_EQ(call("==", {I(1), S("1")}), kFalse);
  EXPECT_EQ(call("==", {K(":a"), S(":a")}), kFalse);
  EXPECT_EQ(call("==", {S("ab"), S("ab")}), kTrue);
  EXPECT_EQ(call("==", {Q({I(1), I(2)}), call("cons", {I(1), Q({I(2)})})}), kTrue);
  EXPECT_EQ(call("==", {Q({I(1), I(2)}), Q({I(1)})}), kFalse);
  EXPECT_EQ(call("==", {kNil, kNil}), kTrue);
  EXPECT_EQ(call("!=", {I(1), I(2)}), kTrue);
  EXPECT_EQ(call("!=", {I(1), I(1)}), kFalse);
  // Upstream used 1 and 0 for true and false.
  EXPECT_EQ(call("==", {kTrue, I(1)}), kTrue);
  EXPECT_EQ(call("==", {I(0), kFalse}), kTrue);
  EXPECT_EQ(call("==", {kTrue, I(2)}), kFalse);
  EXPECT_EQ(call("==", {kFalse, kNil}), kFalse);
  EXPECT_EQ(call("==", {Q({kTrue, kFalse}), Q({I(1), I(0)})}), kTrue);
  EXPECT_EQ(call("!=", {kTrue, I(1)}), kFalse);
}

TEST_F(Builtins, NumericFunctions) {
  EXPECT_INT(call("min", {I(3), I(1), I(2)}), 1);
  EXPECT_INT(call("max", {I(3), I(1), I(2)}), 3);
  EXPECT_FLOAT(call("max", {I(1), F(2.5)}), 2.5);
  EXPECT_INT(call("max", {I(7)}), 7);
  EXPECT_INT(call("abs", {I(-4)}), 4);
  EXPECT_FLOAT(call("abs", {F(-1.5)}), 1.5);
  EXPECT_INT(call("floor", {F(2.7)}), 2);
  EXPECT_INT(call("floor", {F(-2.5)}), -3);
  EXPECT_INT(call("ceil", {F(2.1)}), 3);
  EXPECT_INT(call("round", {F(2.5)}), 3);
  EXPECT_INT(call("round", {F(-2.5)}), -3);
  EXPECT_INT(call("floor", {I(9)}), 9);
  EXPECT_TRUE(is_error(call("floor", {F(1e300)})));
  EXPECT_TRUE(is_error(call("round", {F(std::numeric_limits<double>::quiet_NaN())})));
  EXPECT_FLOAT(call("sqrt", {I(16)}), 4.0);
  EXPECT_TRUE(is_error(call("sqrt", {I(-1)})));
  EXPECT_FLOAT(call("pow", {I(2), I(10)}), 1024.0);
  EXPECT_FLOAT(call("pow", {F(4.0), F(0.5)}), 2.0);
  EXPECT_EQ(call("number?", {F(1.0)}), kTrue);
  EXPECT_EQ(call("number?", {S("1")}), kFalse);
  EXPECT_EQ(call("int?", {I(INT64_MAX)}), kTrue);
  EXPECT_EQ(call("int?", {F(1.0)}), kFalse);
  EXPECT_EQ(call("float?", {F(1.0)}), kTrue);
  EXPECT_INT(call("ord", {I(1), I(2)}), -1);
  EXPECT_INT(call("ord", {I(2), I(2)}), 0);
  EXPECT_INT(call("ord", {F(3.5), I(2)}), 1);
  EXPECT_INT(call("ord", {S("a"), S("c")}), -1);
  EXPECT_INT(call("ord", {S("b"), S("b")}), 0);
  EXPECT_TRUE(is_error(call("ord", {S("a"), I(1)})));
}

// ---- lists ----------------------------------------------------------------------

TEST_F(Builtins, ListAndAccessors) {
  EXPECT_EQ(call("list"), kNil);
  Value l = call("list", {I(1), I(2), I(3)});
  EXPECT_TRUE(is_qcons(l));
  EXPECT_EQUAL(l, Q({I(1), I(2), I(3)}));
  EXPECT_INT(call("head", {l}), 1);
  EXPECT_EQUAL(call("tail", {l}), Q({I(2), I(3)}));
  EXPECT_EQ(call("tail", {Q({I(1)})}), kNil);
  EXPECT_ERR(call("head", {kNil}), "head: argument 1 must be a non-empty list, got nil");
  EXPECT_ERR(call("tail", {I(5)}), "tail: argument 1 must be a non-empty list, got integer");
  EXPECT_INT(call("first", {l}), 1);
  EXPECT_EQUAL(call("rest", {l}), Q({I(2), I(3)}));
}

TEST_F(Builtins, Cons) {
  Value c = call("cons", {I(0), Q({I(1), I(2)})});
  EXPECT_TRUE(is_cons(c) && !is_qcons(c));  // () style, as upstream
  EXPECT_EQUAL(c, Q({I(0), I(1), I(2)}));
  EXPECT_EQ(show(c), "(0 1 2)");
  EXPECT_EQUAL(call("cons", {I(1), kNil}), Q({I(1)}));
  EXPECT_ERR(call("cons", {I(1), I(2)}), "cons: argument 2 must be a list, got integer");
  Value e = make_error("x");
  EXPECT_EQ(car(call("cons", {e, kNil})), e);
}

TEST_F(Builtins, Join) {
  Value j = call("join", {Q({I(1), I(2)}), Q({I(3)}), I(4)});
  EXPECT_TRUE(is_qcons(j));
  EXPECT_EQUAL(j, Q({I(1), I(2), I(3), I(4)}));
  Value s = call("join", {SL({I(1)}), Q({I(2)})});
  EXPECT_TRUE(is_cons(s) && !is_qcons(s));  // style of the first argument
  Value r = SL({I(7), I(8)});
  EXPECT_EQ(call("join", {kNil, r}), r);  // upstream: nil joined with b is b
  Value shared = Q({I(9), I(10)});
  Value js = call("join", {Q({I(1)}), shared});
  EXPECT_EQ(cdr(js), shared);  // the last list is shared, not copied
  EXPECT_EQUAL(call("join", {Q({I(1)})}), Q({I(1)}));
  EXPECT_EQUAL(call("join", {kNil, I(5)}), Q({I(5)}));
  EXPECT_EQ(call("join", {kNil, kNil}), kNil);
  Value e = make_error("x");
  Value je = call("join", {Q({I(1)}), e});  // later non-list arguments are elements
  EXPECT_EQ(car(cdr(je)), e);
  EXPECT_TRUE(is_error(call("join")));
  EXPECT_ERR(call("join", {I(5), Q({I(1)})}), "join: argument 1 must be a list, got integer");
  EXPECT_EQUAL(call("append", {Q({I(1)}), Q({I(2)})}), Q({I(1), I(2)}));
}

TEST_F(Builtins, LenInit) {
  EXPECT_INT(call("len", {Q({I(1), I(2)})}), 2);
  EXPECT_INT(call("len", {kNil}), 0);
  EXPECT_INT(call("len", {S(std::string_view("a\0b", 3))}), 3);
  EXPECT_ERR(call("len", {I(3)}), "len: argument 1 must be a list, string or dict, got integer");
  Value i = call("init", {Q({I(1), I(2), I(3)})});
  EXPECT_TRUE(is_qcons(i));
  EXPECT_EQUAL(i, Q({I(1), I(2)}));
  EXPECT_FALSE(is_qcons(call("init", {SL({I(1), I(2)})})));
  EXPECT_EQ(call("init", {Q({I(1)})}), kNil);
  EXPECT_TRUE(is_error(call("init", {kNil})));
}

TEST_F(Builtins, Range) {
  Value r = call("range", {I(0), I(3)});
  EXPECT_TRUE(is_cons(r) && !is_qcons(r));
  EXPECT_EQUAL(r, Q({I(0), I(1), I(2)}));
  EXPECT_EQ(call("range", {I(3), I(3)}), kNil);
  EXPECT_EQ(call("range", {I(5), I(0)}), kNil);
  EXPECT_EQUAL(call("range", {I(0), I(10), I(3)}), Q({I(0), I(3), I(6), I(9)}));
  EXPECT_EQUAL(call("range", {I(5), I(0), I(-2)}), Q({I(5), I(3), I(1)}));
  EXPECT_EQ(call("range", {I(0), I(5), I(-1)}), kNil);
  EXPECT_TRUE(is_error(call("range", {I(0), I(5), I(0)})));
  EXPECT_EQUAL(call("range", {I(INT64_MAX - 2), I(INT64_MAX)}),
               Q({I(INT64_MAX - 2), I(INT64_MAX - 1)}));
  EXPECT_EQUAL(call("range", {I(INT64_MIN + 1), I(INT64_MIN - 0), I(-5)}),
               Q({I(INT64_MIN + 1)}));
  EXPECT_ERR(call("range", {S("a"), I(1)}), "range: argument 1 must be an integer, got string");
}

TEST_F(Builtins, MillionElementList) {
  const int64_t n = 1000000;
  Value r = call("range", {I(0), I(n)});
  EXPECT_INT(call("len", {r}), n);
  EXPECT_INT(call("sum", {r}), n * (n - 1) / 2);
  EXPECT_INT(call("last", {r}), n - 1);
  EXPECT_INT(call("nth", {I(n), r}), n - 1);
  Value rev = call("reverse", {r});
  EXPECT_INT(call("head", {rev}), n - 1);
  EXPECT_INT(call("len", {call("take", {I(n - 1), r})}), n - 1);
  EXPECT_INT(call("len", {call("drop", {I(10), r})}), n - 10);
  EXPECT_INT(call("len", {call("init", {r})}), n - 1);
  EXPECT_INT(call("len", {call("join", {r, rev})}), 2 * n);
  EXPECT_EQ(call("exists", {I(n - 1), r}), kTrue);
  EXPECT_EQ(call("==", {r, call("reverse", {rev})}), kTrue);
}

TEST_F(Builtins, NthAndFriends) {
  Value abc = Q({K("a"), K("b"), K("c")});
  EXPECT_EQ(call("nth", {I(1), abc}), K("a"));  // 1-based, as upstream's prelude
  EXPECT_EQ(call("nth", {I(3), abc}), K("c"));
  EXPECT_TRUE(is_error(call("nth", {I(0), abc})));
  EXPECT_TRUE(is_error(call("nth", {I(-1), abc})));
  EXPECT_TRUE(is_error(call("nth", {I(4), abc})));
  EXPECT_TRUE(is_error(call("nth", {I(1), kNil})));
  EXPECT_ERR(call("nth", {I(1), I(2)}), "nth: argument 2 must be a list, got integer");
  EXPECT_EQ(call("fst", {abc}), K("a"));
  EXPECT_EQ(call("snd", {abc}), K("b"));
  EXPECT_EQ(call("trd", {abc}), K("c"));
  EXPECT_TRUE(is_error(call("trd", {Q({I(1), I(2)})})));
  EXPECT_TRUE(is_error(call("fst", {kNil})));
  EXPECT_EQ(call("last", {abc}), K("c"));
  EXPECT_TRUE(is_error(call("last", {kNil})));
}

TEST_F(Builtins, TakeDropReverse) {
  Value l = Q({I(1), I(2), I(3)});
  EXPECT_EQUAL(call("take", {I(2), l}), Q({I(1), I(2)}));
  EXPECT_TRUE(is_qcons(call("take", {I(2), l})));
  EXPECT_EQ(call("take", {I(10), l}), l);  // clamped
  EXPECT_EQ(call("take", {I(3), l}), l);
  EXPECT_EQ(call("take", {I(0), l}), kNil);
  EXPECT_EQ(call("take", {I(-1), l}), kNil);
  EXPECT_EQ(call("take", {I(2), kNil}), kNil);
  EXPECT_EQUAL(call("drop", {I(1), l}), Q({I(2), I(3)}));
  EXPECT_EQ(call("drop", {I(10), l}), kNil);  // clamped
  EXPECT_EQ(call("drop", {I(3), l}), kNil);
  EXPECT_EQ(call("drop", {I(0), l}), l);
  EXPECT_EQ(call("drop", {I(-2), l}), l);
  EXPECT_EQUAL(call("reverse", {l}), Q({I(3), I(2), I(1)}));
  EXPECT_TRUE(is_qcons(call("reverse", {l})));
  EXPECT_EQ(call("reverse", {kNil}), kNil);
  EXPECT_TRUE(is_error(call("take", {S("1"), l})));
  EXPECT_TRUE(is_error(call("drop", {I(1), I(1)})));
}

TEST_F(Builtins, SumProductExists) {
  EXPECT_INT(call("sum", {Q({I(1), I(2), I(3)})}), 6);
  EXPECT_INT(call("sum", {kNil}), 0);
  EXPECT_INT(call("product", {Q({I(2), I(3), I(4)})}), 24);
  EXPECT_INT(call("product", {kNil}), 1);
  EXPECT_FLOAT(call("sum", {Q({I(1), F(2.5)})}), 3.5);
  EXPECT_ERR(call("sum", {Q({I(1), S("a")})}), "sum: element 2 must be a number, got string");
  EXPECT_ERR(call("product", {Q({I(INT64_MAX), I(2)})}), "integer overflow");
  EXPECT_ERR(call("sum", {I(1)}), "sum: argument 1 must be a list, got integer");
  Value l = Q({I(1), Q({I(2)}), S("x")});
  EXPECT_EQ(call("exists", {I(1), l}), kTrue);
  EXPECT_EQ(call("exists", {F(1.0), l}), kTrue);
  EXPECT_EQ(call("exists", {SL({I(2)}), l}), kTrue);
  EXPECT_EQ(call("exists", {S("x"), l}), kTrue);
  EXPECT_EQ(call("exists", {I(5), l}), kFalse);
  EXPECT_EQ(call("exists", {I(5), kNil}), kFalse);
}

TEST_F(Builtins, ListPredicates) {
  EXPECT_EQ(call("list?", {kNil}), kTrue);
  EXPECT_EQ(call("list?", {Q({I(1)})}), kTrue);
  EXPECT_EQ(call("list?", {SL({I(1)})}), kTrue);
  EXPECT_EQ(call("list?", {I(1)}), kFalse);
  EXPECT_EQ(call("list?", {S("")}), kFalse);
  EXPECT_EQ(call("nil?", {kNil}), kTrue);
  EXPECT_EQ(call("nil?", {Q({I(1)})}), kFalse);
  EXPECT_EQ(call("nil?", {I(0)}), kFalse);
  EXPECT_EQ(call("nil?", {kFalse}), kFalse);
}

// ---- strings --------------------------------------------------------------------

TEST_F(Builtins, Str) {
  EXPECT_EQ(text(call("str")), "");
  EXPECT_EQ(text(call("str", {S("a"), I(1), K(":k"), K("sym")})), "a1:ksym");
  EXPECT_EQ(text(call("str", {kNil, kTrue, kFalse})), "()truefalse");
  EXPECT_EQ(text(call("str", {Q({I(1), S("x")})})), "{1 x}");
  EXPECT_EQ(text(call("str", {S(std::string_view("a\0b", 3)), S("c")})),
            std::string("a\0bc", 4));
  std::string big(10000, 'x');  // no per-argument truncation (upstream cut at 256)
  EXPECT_EQ(text(call("str", {Q({S(big)})})).size(), big.size() + 2);
}

TEST_F(Builtins, PrintAndPrintf) {
  auto [out, err] = captured([] {
    EXPECT_EQ(call("print", {S("a"), I(1), K(":k"), Q({S("x")})}), kNil);
    call("print");
    call("printf", {S("%d items %s %%|"), I(3), S("x")});
    call("printf", {S("%ld %f %.2f|"), I(-5), F(1.5), F(2.0)});
    call("printf", {S("[%5d][%-3s][%3s][%.1s]"), I(42), S("a"), S("b"), S("xyz")});
    call("printf", {S("%q %z %"), I(1)});  // unknown directives are literal
    // %s takes strings only (upstream's rule); an error is passed on.
    EXPECT_ERR(call("printf", {S("%s\n"), Q({I(1)})}),
               "printf: %s requires a string argument, got list");
    Value e = make_error("e");
    EXPECT_EQ(call("printf", {S("%s\n"), e}), e);
    call("println", {S("n=%d"), I(7)});
    call("println", {I(42), S("x")});
    fprintf(stderr, "to-stderr");
  });
  EXPECT_EQ(out,
            "a 1 :k {x}\n"
            "\n"
            "3 items x %|"
            "-5 1.500000 2.00|"
            "[   42][a  ][  b][x]"
            "%q %z %"
            "n=7\n"
            "42 x\n");
  EXPECT_EQ(err, "to-stderr");
}

TEST_F(Builtins, PrintfErrors) {
  auto [out, err] = captured([] {
    EXPECT_ERR(call("printf", {S("%d %d"), I(1)}),
               "printf: not enough arguments for format string");
    EXPECT_ERR(call("printf", {S("%s")}), "printf: not enough arguments for format string");
    EXPECT_ERR(call("printf", {S("%d"), S("x")}),
               "printf: %d requires an integer argument, got string");
    EXPECT_TRUE(is_error(call("printf", {S("%d"), F(1.5)})));
    EXPECT_TRUE(is_error(call("printf", {S("%f"), S("x")})));
    EXPECT_ERR(call("printf", {I(1)}), "printf: argument 1 must be a format string, got integer");
    EXPECT_TRUE(is_error(call("println", {S("%d")})));
  });
  EXPECT_EQ(out, "");  // a failed printf writes nothing
}

TEST_F(Builtins, Split) {
  Value parts = call("str/split", {S("a,b,,c"), S(",")});
  EXPECT_TRUE(is_cons(parts) && !is_qcons(parts));
  EXPECT_EQUAL(parts, Q({S("a"), S("b"), S(""), S("c")}));
  EXPECT_EQUAL(call("str/split", {S("abc"), S(",")}), Q({S("abc")}));
  EXPECT_EQUAL(call("str/split", {S(""), S(",")}), Q({S("")}));
  EXPECT_EQUAL(call("str/split", {S(",a,"), S(",")}), Q({S(""), S("a"), S("")}));
  EXPECT_EQUAL(call("str/split", {S("a::b::c"), S("::")}), Q({S("a"), S("b"), S("c")}));
  EXPECT_EQUAL(call("str/split", {S(std::string_view("a\0b", 3)), S(std::string_view("\0", 1))}),
               Q({S("a"), S("b")}));
  EXPECT_TRUE(is_error(call("str/split", {S("abc"), S("")})));
  EXPECT_ERR(call("str/split", {I(1), S(",")}),
             "str/split: argument 1 must be a string, got integer");
}

TEST_F(Builtins, JoinReplaceSlice) {
  EXPECT_EQ(text(call("str/join", {Q({S("a"), S("b"), S("c")}), S(", ")})), "a, b, c");
  EXPECT_EQ(text(call("str/join", {S("-"), Q({S("a"), S("b")})})), "a-b");
  EXPECT_EQ(text(call("str/join", {Q({S("a"), I(1)})})), "a1");
  EXPECT_EQ(text(call("str/join", {kNil, S(",")})), "");
  EXPECT_EQ(text(call("str/replace", {S("aaa"), S("a"), S("bb")})), "bbbbbb");
  EXPECT_EQ(text(call("str/replace", {S("hello world"), S("o"), S("")})), "hell wrld");
  EXPECT_EQ(text(call("str/replace", {S("abc"), S("x"), S("y")})), "abc");
  EXPECT_EQ(text(call("str/replace", {S(std::string_view("a\0b", 3)),
                                      S(std::string_view("\0", 1)), S("-")})),
            "a-b");
  EXPECT_TRUE(is_error(call("str/replace", {S("abc"), S(""), S("y")})));
  EXPECT_EQ(text(call("str/slice", {S("hello"), I(1), I(3)})), "el");
  EXPECT_EQ(text(call("str/slice", {S("hello"), I(-5), I(100)})), "hello");
  EXPECT_EQ(text(call("str/slice", {S("hello"), I(3), I(1)})), "");
  EXPECT_EQ(text(call("str/slice", {S("hello"), I(2)})), "llo");
  EXPECT_EQ(text(call("str/slice", {S("hello"), I(9), I(12)})), "");
}

TEST_F(Builtins, SmallStringFunctions) {
  EXPECT_INT(call("str/len", {S(std::string_view("a\0b", 3))}), 3);
  EXPECT_EQ(text(call("str/upper", {S("abC1\xe9")})), "ABC1\xe9");
  EXPECT_EQ(text(call("str/lower", {S("ABc1")})), "abc1");
  EXPECT_EQ(text(call("str/trim", {S(" \t x y \n")})), "x y");
  EXPECT_EQ(text(call("str/trim", {S("   ")})), "");
  EXPECT_EQ(call("str/contains?", {S("hello"), S("ell")}), kTrue);
  EXPECT_EQ(call("str/contains?", {S("hello"), S("xyz")}), kFalse);
  EXPECT_EQ(call("str/starts-with?", {S("hello"), S("he")}), kTrue);
  EXPECT_EQ(call("str/starts-with?", {S("hello"), S("lo")}), kFalse);
  EXPECT_EQ(call("str/ends-with?", {S("hello"), S("lo")}), kTrue);
  EXPECT_INT(call("str/index-of", {S("hello"), S("l")}), 2);
  EXPECT_INT(call("str/index-of", {S("hello"), S("z")}), -1);
  EXPECT_EQ(call("string?", {S("")}), kTrue);
  EXPECT_EQ(call("string?", {K("a")}), kFalse);
  EXPECT_EQ(call("symbol?", {K("a")}), kTrue);
  EXPECT_EQ(call("symbol?", {K(":a")}), kFalse);
  EXPECT_EQ(call("keyword?", {K(":a")}), kTrue);
  EXPECT_EQ(call("keyword?", {K("a")}), kFalse);
  EXPECT_EQ(text(call("sym->str", {K("abc")})), "abc");
  EXPECT_EQ(text(call("sym->str", {K(":abc")})), ":abc");
  EXPECT_EQ(call("str->sym", {S("abc")}), K("abc"));
  EXPECT_EQ(text(call("keyword->str", {K(":abc")})), "abc");
  EXPECT_EQ(call("str->keyword", {S("abc")}), K(":abc"));
  EXPECT_TRUE(is_error(call("keyword->str", {K("abc")})));
}

TEST_F(Builtins, StrToNum) {
  EXPECT_INT(call("str->num", {S("42")}), 42);
  EXPECT_INT(call("str->num", {S("  42")}), 42);
  EXPECT_TRUE(is_error(call("str->num", {S("42  ")})));  // trailing text, spaces too
  EXPECT_INT(call("str->num", {S("-7")}), -7);
  EXPECT_INT(call("str->num", {S("+7")}), 7);
  EXPECT_INT(call("str->num", {S("9223372036854775807")}), INT64_MAX);
  EXPECT_FLOAT(call("str->num", {S("3.5")}), 3.5);
  EXPECT_FLOAT(call("str->num", {S("-0.5")}), -0.5);
  EXPECT_FLOAT(call("str->num", {S("1e3")}), 1000.0);
  EXPECT_FLOAT(call("str->num", {S("2.5e-3")}), 0.0025);
  EXPECT_FLOAT(call("str->num", {S(".5")}), 0.5);
  EXPECT_ERR(call("str->num", {S("abc")}), "str->num: not a number: \"abc\"");
  EXPECT_TRUE(is_error(call("str->num", {S("")})));
  EXPECT_TRUE(is_error(call("str->num", {S("12abc")})));
  EXPECT_TRUE(is_error(call("str->num", {S("1 2")})));
  EXPECT_TRUE(is_error(call("str->num", {S("inf")})));
  EXPECT_TRUE(is_error(call("str->num", {S("nan")})));
  EXPECT_TRUE(is_error(call("str->num", {S("-")})));
  EXPECT_TRUE(is_error(call("str->num", {S("1e")})));
  EXPECT_TRUE(is_error(call("str->num", {S("99999999999999999999")})));
  EXPECT_TRUE(is_error(call("str->num", {S("1e999")})));
  EXPECT_TRUE(is_error(call("str->num", {S(std::string_view("1\0", 2))})));
  EXPECT_EQ(text(call("num->str", {I(42)})), "42");
  EXPECT_EQ(text(call("num->str", {I(-3)})), "-3");
  EXPECT_ERR(call("num->str", {S("x")}), "num->str: argument 1 must be a number, got string");
}

TEST_F(Builtins, MakeString) {
  EXPECT_EQ(text(call("make-string", {I(3), S("ab")})), "ababab");
  EXPECT_EQ(text(call("make-string", {I(3), I(65)})), "AAA");
  EXPECT_EQ(text(call("make-string", {I(2), I(0)})), std::string("\0\0", 2));
  EXPECT_EQ(text(call("make-string", {I(0), S("x")})), "");
  EXPECT_EQ(text(call("make-string", {I(5), S("")})), "");
  EXPECT_TRUE(is_error(call("make-string", {I(-1), S("x")})));
  EXPECT_TRUE(is_error(call("make-string", {I(200000000), S("x")})));
  EXPECT_TRUE(is_error(call("make-string", {I(INT64_MAX), S("xy")})));
  EXPECT_TRUE(is_error(call("make-string", {I(2), I(300)})));
  EXPECT_TRUE(is_error(call("make-string", {I(2), kNil})));
}

// ---- plists ---------------------------------------------------------------------

TEST_F(Builtins, Plists) {
  Value pl = Q({K(":a"), I(1), K(":b"), I(2)});
  EXPECT_INT(call("plist/get", {pl, K(":a")}), 1);
  EXPECT_INT(call("plist/get", {pl, K(":b")}), 2);
  EXPECT_EQ(call("plist/get", {pl, K(":c")}), kNil);
  EXPECT_EQ(call("plist/get", {kNil, K(":a")}), kNil);
  EXPECT_EQ(call("plist/get", {I(5), K(":a")}), kNil);  // upstream: not a plist, no value
  EXPECT_INT(call("plist/get", {Q({S("x"), I(1)}), S("x")}), 1);
  EXPECT_EQ(call("plist/get", {Q({K(":a")}), K(":a")}), kNil);  // dangling key

  EXPECT_EQUAL(call("plist/set", {pl, K(":a"), I(10)}), Q({K(":a"), I(10), K(":b"), I(2)}));
  EXPECT_EQUAL(pl, Q({K(":a"), I(1), K(":b"), I(2)}));  // unchanged
  EXPECT_EQUAL(call("plist/set", {pl, K(":c"), I(3)}),
               Q({K(":a"), I(1), K(":b"), I(2), K(":c"), I(3)}));
  Value fresh = call("plist/set", {kNil, K(":c"), I(3)});
  EXPECT_TRUE(is_qcons(fresh));
  EXPECT_EQUAL(fresh, Q({K(":c"), I(3)}));
  // A key equal to a value does not match the value.
  EXPECT_EQUAL(call("plist/set", {Q({K(":a"), K(":b"), K(":b"), I(1)}), K(":b"), I(2)}),
               Q({K(":a"), K(":b"), K(":b"), I(2)}));

  EXPECT_EQ(call("plist/has?", {pl, K(":b")}), kTrue);
  EXPECT_EQ(call("plist/has?", {pl, K(":z")}), kFalse);
  EXPECT_EQ(call("plist/has?", {Q({K(":a"), kNil}), K(":a")}), kTrue);
  EXPECT_EQUAL(call("plist/keys", {pl}), Q({K(":a"), K(":b")}));
  EXPECT_EQUAL(call("plist/vals", {pl}), Q({I(1), I(2)}));
  EXPECT_EQ(call("plist/keys", {kNil}), kNil);
  EXPECT_EQUAL(call("plist/remove", {pl, K(":a")}), Q({K(":b"), I(2)}));
  EXPECT_EQUAL(call("plist/remove", {pl, K(":z")}), pl);
  EXPECT_INT(call("get", {pl, K(":a")}), 1);
  EXPECT_EQ(call("get", {pl, K(":z")}), kNil);
  EXPECT_INT(call("get", {pl, K(":z"), I(99)}), 99);
  EXPECT_EQ(call("get", {Q({K(":a"), kNil}), K(":a"), I(99)}), kNil);  // present but nil
  EXPECT_TRUE(is_error(call("plist/set", {I(1), K(":a"), I(2)})));
}

// ---- errors, reading, files -----------------------------------------------------

TEST_F(Builtins, ErrorValues) {
  Value e = call("error", {S("boom")});
  ASSERT_TRUE(is_error(e));
  EXPECT_EQ(text(call("error-message", {e})), "boom");
  Value e2 = call("error", {I(42)});
  EXPECT_INT(call("error-message", {e2}), 42);
  EXPECT_EQ(call("error?", {e}), kTrue);
  EXPECT_EQ(call("error?", {I(1)}), kFalse);
  EXPECT_ERR(call("error-message", {I(5)}),
             "error-message: argument 1 must be an error, got integer");
}

TEST_F(Builtins, Read) {
  Value f = call("read", {S("(+ 1 2) (ignored)")});
  ASSERT_TRUE(is_cons(f));
  EXPECT_FALSE(is_qcons(f));
  EXPECT_EQ(car(f), K("+"));
  EXPECT_INT(call("len", {f}), 3);
  EXPECT_TRUE(is_qcons(call("read", {S("{a b}")})));
  EXPECT_INT(call("read", {S("  42 ")}), 42);
  EXPECT_EQ(text(call("read", {S("\"hi\"")})), "hi");
  EXPECT_TRUE(is_error(call("read", {S("(1 2")})));
  EXPECT_TRUE(is_error(call("read", {S("")})));
  EXPECT_TRUE(is_error(call("read", {S(" ; just a comment")})));
}

TEST_F(Builtins, Files) {
  char dir[] = "/tmp/valk-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/f.txt";
  std::string content("line1\n\0bin\xff", 11);
  EXPECT_EQ(call("file-exists?", {S(path)}), kFalse);
  EXPECT_EQ(call("write-file", {S(path), S(content)}), kTrue);
  EXPECT_EQ(call("file-exists?", {S(path)}), kTrue);
  EXPECT_EQ(text(call("read-file", {S(path)})), content);
  EXPECT_EQ(call("write-file", {S(path), Q({I(1), I(2)})}), kTrue);
  EXPECT_EQ(text(call("read-file", {S(path)})), "{1 2}");
  EXPECT_ERR(call("read-file", {S(std::string(dir) + "/missing")}),
             "read-file: cannot open " + std::string(dir) + "/missing: No such file or directory");
  EXPECT_TRUE(is_error(call("write-file", {S(std::string(dir) + "/no/such/dir"), S("x")})));
  EXPECT_TRUE(is_error(call("read-file", {S(path + std::string("\0x", 2))})));
  Value e = make_error("e");
  EXPECT_EQ(call("write-file", {S(path), e}), e);
  unlink(path.c_str());
  rmdir(dir);
}

TEST_F(Builtins, Capture) {
  Value outer = call("test/capture-start");
  EXPECT_EQ(call("type", {outer}), K(":capture"));
  call("print", {S("outer-1")});
  Value inner = call("test/capture-start");
  call("print", {S("inner")});
  fprintf(stderr, "inner-err");
  Value ri = call("test/capture-stop", {inner});
  call("print", {S("outer-2")});
  Value ro = call("test/capture-stop", {outer});
  EXPECT_TRUE(is_qcons(ri));
  EXPECT_EQ(text(call("plist/get", {ri, K(":stdout")})), "inner\n");
  EXPECT_EQ(text(call("plist/get", {ri, K(":stderr")})), "inner-err");
  EXPECT_EQ(text(call("plist/get", {ro, K(":stdout")})), "outer-1\nouter-2\n");
  EXPECT_EQ(text(call("plist/get", {ro, K(":stderr")})), "");
  EXPECT_TRUE(is_error(call("test/capture-stop", {outer})));  // already stopped
  EXPECT_ERR(call("test/capture-stop", {I(5)}),
             "test/capture-stop: argument 1 must be a capture, got integer");
  Value e = make_error("e");
  EXPECT_EQ(call("test/capture-stop", {e}), e);
}

// ---- system ---------------------------------------------------------------------

TEST_F(Builtins, TypeNames) {
  EXPECT_EQ(call("type", {I(1)}), K(":integer"));
  EXPECT_EQ(call("type", {I(INT64_MAX)}), K(":integer"));
  EXPECT_EQ(call("type", {F(1.0)}), K(":float"));
  EXPECT_EQ(call("type", {S("s")}), K(":string"));
  EXPECT_EQ(call("type", {K("s")}), K(":symbol"));
  EXPECT_EQ(call("type", {K(":s")}), K(":keyword"));
  EXPECT_EQ(call("type", {Q({I(1)})}), K(":list"));
  EXPECT_EQ(call("type", {SL({I(1)})}), K(":list"));
  EXPECT_EQ(call("type", {kNil}), K(":nil"));
  EXPECT_EQ(call("type", {kTrue}), K(":boolean"));
  EXPECT_EQ(call("type", {kFalse}), K(":boolean"));
  EXPECT_EQ(call("type", {as_symbol(intern("+"))->global}), K(":function"));
  EXPECT_EQ(call("type", {make_error("x")}), K(":error"));
}

TEST_F(Builtins, Clocks) {
  Value a = call("time-us", {kNil});  // arguments are ignored
  Value b = call("time-us");
  ASSERT_TRUE(is_int(a) && is_int(b));
  EXPECT_GT(int_val(a), 0);
  EXPECT_LE(int_val(a), int_val(b));
  EXPECT_TRUE(is_int(call("time-ms")));
}

TEST_F(Builtins, Environment) {
  setenv("VALK_TEST_VAR", "value", 1);
  EXPECT_EQ(text(call("getenv", {S("VALK_TEST_VAR")})), "value");
  EXPECT_EQ(call("getenv", {S("VALK_TEST_SURELY_UNSET")}), kNil);
  Value lvl = S("debug");
  EXPECT_EQ(call("sys/log/set-level", {lvl}), lvl);
}

TEST_F(Builtins, Memory) {
  Value keep = call("range", {I(0), I(10000)});
  int64_t usage = int_val(call("mem/heap/usage"));
  EXPECT_GT(usage, 0);
  int64_t au = int_val(call("mem/arena/usage"));
  int64_t cap = int_val(call("mem/arena/capacity"));
  EXPECT_GT(au, 0);
  EXPECT_GT(cap, au);
  EXPECT_GE(int_val(call("mem/arena/high-water")), au);
  int64_t pct = int_val(call("mem/gc/usage"));
  EXPECT_GE(pct, 0);
  EXPECT_LE(pct, 100);
  EXPECT_GE(int_val(call("mem/gc/collect")), 0);
  Value st = call("mem/gc/stats");
  for (const char* k : {":heap-size", ":free-bytes", ":collections", ":total-bytes"})
    EXPECT_TRUE(is_int(call("plist/get", {st, K(k)}))) << k;

  int64_t old = int_val(call("mem/gc/threshold"));
  EXPECT_INT(call("mem/gc/set-threshold", {I(150)}), old);
  EXPECT_INT(call("mem/gc/threshold"), 100);  // clamped
  EXPECT_INT(call("mem/gc/set-threshold", {I(0)}), 100);
  EXPECT_INT(call("mem/gc/set-threshold", {I(old)}), 1);
  int64_t oldi = int_val(call("mem/gc/min-interval"));
  EXPECT_INT(call("mem/gc/set-min-interval", {I(-5)}), oldi);
  EXPECT_INT(call("mem/gc/set-min-interval", {I(oldi)}), 0);

  // With no limit set, the limit in force is the machine's memory.
  int64_t machine = int_val(call("mem/heap/hard-limit"));
  EXPECT_GT(machine, int64_t(1) << 20);
  int64_t big = int64_t(64) << 30;
  EXPECT_INT(call("mem/heap/set-hard-limit", {I(big)}), machine);
  EXPECT_INT(call("mem/heap/hard-limit"), big);
  EXPECT_TRUE(is_error(call("mem/heap/set-hard-limit", {I(1)})));  // below usage
  EXPECT_INT(call("mem/heap/hard-limit"), big);
  EXPECT_INT(call("mem/heap/set-hard-limit", {I(0)}), big);

  Value cs = call("mem/checkpoint/stats");
  EXPECT_INT(call("len", {cs}), 4);
  for (Value p = cs; is_cons(p); p = cdr(p)) EXPECT_TRUE(is_int(car(p)));
  auto [out, err] = captured([] { EXPECT_EQ(call("mem/stats"), kNil); });
  EXPECT_NE(out.find("heap"), std::string::npos);
  EXPECT_INT(call("len", {keep}), 10000);
}

}  // namespace
}  // namespace valk
