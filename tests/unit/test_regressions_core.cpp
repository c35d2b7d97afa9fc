// Regressions of the core (compiler, printer, VM) found by review and by
// the fuzz targets: each input once crashed the process or lost data.
#include <gc/gc.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <string>

#include "core/compiler.h"
#include "core/printer.h"
#include "core/reader.h"
#include "core/vm.h"

using namespace valk;

namespace {

VM& vm() {
  static VM* v = new VM;
  return *v;
}

std::string ev(const std::string& src) {
  Value r = vm().eval_source(src, intern_filename("<test>"));
  return repr_string(r);
}

// "line:col message" of the error src yields.
std::string err_of(const std::string& src) {
  Value r = vm().eval_source(src, intern_filename("<test>"));
  if (!is_error(r)) return "not an error: " + repr_string(r);
  std::string where;
  if (as_error(r)->loc.file)
    where = std::to_string(as_error(r)->loc.line) + ":" +
            std::to_string(as_error(r)->loc.col) + " ";
  return where + display_string(as_error(r)->message);
}

Value nest(int n, Value leaf, bool quoted = false) {
  for (int i = 0; i < n; ++i) leaf = cons(leaf, kNil, quoted);
  return leaf;
}

// Runs fn on a thread with a small C stack: whatever it does must not
// recurse per level of the data.
template <class F>
void on_small_stack(F fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  auto tramp = [](void* p) -> void* {
    (*static_cast<F*>(p))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&t, &attr, tramp, &fn), 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
}

}  // namespace

// A malformed clause after a good one left the good clauses' forward jumps
// unpatched (target 0): the VM looped back to the start and overran its
// value stack.
TEST(CompileErrors, BadClauseAfterGoodOne) {
  EXPECT_EQ(err_of("(cond (1 1) 2)"), "1:1 cond: each clause must be a list");
  EXPECT_EQ(err_of("(head (list (cond (1 1) 2)))"), "1:13 cond: each clause must be a list");
  EXPECT_EQ(err_of("(head (list (case 1 (1 :a) 2)))"), "1:13 case: each clause must be a list");
  EXPECT_EQ(err_of("(head (list (cond ((== 1 1) \"y\") ())))"),
            "1:13 cond: each clause must be a list");
  // print hands the error on (it used to crash, then to print it).
  EXPECT_EQ(err_of("(print (cond (1 1) 2))"), "1:8 cond: each clause must be a list");
  EXPECT_EQ(err_of("(head (list (select {(== 1 1) 1} {false})))"),
            "1:13 select: each clause must be {condition result}");
  EXPECT_EQ(err_of("(fun (f) (case 2 (2 :b) (3 :c) 4)) (f)"),
            "1:10 case: each clause must be a list");
  EXPECT_EQ(err_of("(fun (g) (cond ((== 1 1) 1)\n  (else 2) 3)) (g)"),
            "not an error: 1");  // clauses after else are never reached, nor checked
}

TEST(CompileErrors, InsideOtherForms) {
  const char* inner = "(cond (1 1) 2)";
  const char* outer[] = {"(if true %s 0)", "(and 1 %s)",         "(or false %s)",
                         "(when true %s)", "(unless false %s)",  "(do 1 %s)",
                         "(let ((x %s)) x)", "(let ((x 1)) %s)", "((fn () %s))",
                         "(-> %s list head)"};
  for (const char* o : outer) {
    char buf[128];
    snprintf(buf, sizeof buf, o, inner);
    std::string src = std::string("(head (list ") + buf + "))";
    Value r = vm().eval_source(src, intern_filename("<test>"));
    EXPECT_TRUE(is_error(r) || (is_cons(r) && is_error(car(r))))
        << src << " gave " << repr_string(r);
  }
  EXPECT_EQ(ev("(try (case 1 (1 :a) 2) (fn (e) :caught))"), ":caught");
  EXPECT_EQ(ev("(aio/status (aio/do (<- x (aio/pure 1)) (cond (x 1) 2)))"), ":failed");
  EXPECT_EQ(ev("(aio/status (aio/let ((a (aio/pure 1))) (case a (1 :a) 2)))"), ":failed");
  EXPECT_EQ(ev("(list (cond (1 1) 2) (+ 1 2))"), "{Error[cond: each clause must be a list] 3}");
}

TEST(CompileErrors, EvalCodeIsLocatedAtTheEval) {
  EXPECT_EQ(err_of("(do 1\n  (eval '(cond (1 1) 2)))"), "2:3 cond: each clause must be a list");
}

// Quasiquote recursed on the template's nesting with no limit (a C stack
// overflow at ~50,000 levels) and rescanned every subtree at every level.
TEST(Quasiquote, DeepTemplateIsAnError) {
  std::string src = "`" + std::string(50000, '(') + ",1" + std::string(50000, ')');
  EXPECT_EQ(err_of(src), "1:1 quasiquote template nested too deeply (more than 2000 levels)");
  std::string ok = "`" + std::string(1900, '(') + ",(+ 1 1)" + std::string(1900, ')');
  Value r = vm().eval_source(ok, intern_filename("<test>"));
  int depth = 0;
  for (; is_cons(r); r = car(r)) ++depth;
  EXPECT_EQ(depth, 1900);
  EXPECT_EQ(repr_string(r), "2");
}

// %qq is called by compiled quasiquotes; called by hand with a bad mask it
// read past its arguments.
TEST(Quasiquote, QqBuiltinChecksItsArguments) {
  for (const char* src : {"(%qq ())", "(%qq 5)", "(%qq '(true) 1)", "(%qq '(false true) 1)",
                          "(%qq (list 1 2 3) 4)", "(%qq '(1 . 2) 3)"}) {
    Value r = vm().eval_source(src, intern_filename("<test>"));
    EXPECT_TRUE(is_error(r)) << src << " gave " << repr_string(r);
  }
  EXPECT_EQ(ev("(%qq '(false false) 1)"), "(1)");
}

// Lists nested deeper than 10,000 printed as "..." and did not read back.
TEST(PrinterDepth, HundredThousandDeepRoundTrips) {
  Value v = nest(100000, make_int(1));
  std::string s = repr_string(v);
  // EXPECT_TRUE: a failure must not print megabytes.
  EXPECT_TRUE(s == std::string(100000, '(') + "1" + std::string(100000, ')')) << s.substr(0, 80);
  std::string text = " " + s;  // the reader keeps a view of it
  Reader rd(text, "<test>");
  Value back = rd.read();
  ASSERT_FALSE(is_error(back));
  EXPECT_TRUE(values_equal(v, back));
  EXPECT_EQ(ev("(do (fun (nest n acc) (if (== n 0) acc (nest (- n 1) (list acc))))"
               "(def x (nest 100000 1)) (== x (read (repr x))))"),
            "true");
}

TEST(PrinterDepth, MillionDeepOnASmallStack) {
  Value v = nest(1000000, make_string("s"), true);
  Value mixed = kNil;
  for (int i = 0; i < 200000; ++i) mixed = cons(intern("a"), cons(mixed, kNil, i % 2), i % 3 == 0);
  std::string s, m;
  on_small_stack([&] {
    s = repr_string(v);
    m = display_string(mixed);
  });
  EXPECT_EQ(s.size(), 2u * 1000000 + 3);
  EXPECT_TRUE(s.substr(999998, 7) == "{{\"s\"}}");
  std::string text = " " + repr_string(mixed);
  Reader rd(text, "<test>");
  EXPECT_TRUE(values_equal(mixed, rd.read()));
  EXPECT_EQ(m.find("..."), std::string::npos);
}

TEST(PrinterDepth, CyclesStillTerminate) {
  Value v = cons(kNil, kNil);
  as_cons(v)->car = v;  // only C++ can build cycles: the language has no mutation
  EXPECT_NE(repr_string(v).find("..."), std::string::npos);
  Value spine = cons(make_int(1), cons(make_int(2), kNil));
  as_cons(cdr(spine))->cdr = spine;
  std::string s = repr_string(spine);
  EXPECT_NE(s.find("..."), std::string::npos);
  EXPECT_LT(s.size(), 100u);
  // A cycle deep inside a deep list.
  Value inner = cons(make_int(3), cons(kNil, kNil));
  as_cons(cdr(inner))->car = inner;
  EXPECT_NE(repr_string(nest(50000, inner)).find("..."), std::string::npos);
}
