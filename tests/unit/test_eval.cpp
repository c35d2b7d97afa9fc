// Evaluator, continuations and GC: units that drive the VM from C++.
#include <gc/gc.h>
#include <gtest/gtest.h>

#include <string>

#include "core/compiler.h"
#include "core/printer.h"
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

std::string err_of(const std::string& src) {
  Value r = vm().eval_source(src, intern_filename("<test>"));
  if (!is_error(r)) return "not an error: " + repr_string(r);
  std::string where;
  if (as_error(r)->loc.file)
    where = std::to_string(as_error(r)->loc.line) + ":" + std::to_string(as_error(r)->loc.col) + " ";
  return where + display_string(as_error(r)->message);
}

}  // namespace

TEST(Eval, Atoms) {
  EXPECT_EQ(ev("42"), "42");
  EXPECT_EQ(ev("\"hi\""), "\"hi\"");
  EXPECT_EQ(ev(":kw"), ":kw");
  EXPECT_EQ(ev("{a b}"), "{a b}");
  EXPECT_EQ(ev("()"), "()");
  EXPECT_EQ(ev("true"), "true");
  EXPECT_EQ(ev("nil"), "()");
}

TEST(Eval, SingleElementRule) {
  EXPECT_EQ(ev("(5)"), "5");
  EXPECT_EQ(ev("(def {f} (\\ {} {7})) (f)"), "7");
  EXPECT_EQ(ev("((\\ {a b} {+ a b}) 1 2)"), "3");
}

TEST(Eval, PartialApplicationAndVarargs) {
  EXPECT_EQ(ev("((((\\ {a b c} {+ a b c}) 1) 2) 3)"), "6");
  EXPECT_EQ(ev("(((\\ {a b} {- a b}) 10) 4)"), "6");
  EXPECT_EQ(ev("((\\ {x & r} {list x r}) 1 2 3)"), "{1 {2 3}}");
  EXPECT_EQ(ev("((\\ {& r} {r}))"), "()");
  EXPECT_EQ(err_of("((\\ {a} {a}) 1 2)"), "1:1 lambda: too many arguments (given 2, expected 1)");
}

TEST(Eval, ProperTailCalls) {
  EXPECT_EQ(ev("(fun (loop i) (if (== i 0) :done (loop (- i 1)))) (loop 1000000)"), ":done");
  // Mutual recursion in tail position, through cond and let.
  EXPECT_EQ(ev("(fun (ev? n) (cond ((== n 0) true) (else (let ((m (- n 1))) (od? m)))))"
               "(fun (od? n) (if (== n 0) false (ev? (- n 1))))"
               "(ev? 100001)"),
            "false");
}

TEST(Eval, DeepRecursionAndDepthLimit) {
  EXPECT_EQ(ev("(fun (deep n) (if (== n 0) 0 (+ 1 (deep (- n 1))))) (deep 1000000)"), "1000000");
  size_t saved = vm().max_depth;
  vm().max_depth = 1000;
  std::string e = err_of("(fun (inf n) (+ 1 (inf n))) (inf 0)");
  vm().max_depth = saved;
  EXPECT_NE(e.find("stack overflow"), std::string::npos) << e;
  EXPECT_EQ(ev("(+ 1 2)"), "3");  // the VM is usable afterwards
}

TEST(Eval, ErrorsStopSequences) {
  EXPECT_EQ(err_of("(do 1 (error \"stop\") (def {never} 1))"), "1:7 stop");
  EXPECT_EQ(ev("(def {never2} 0) (error? ((\\ {} {(error \"x\") (def {never2} 1)})))"), "true");
  EXPECT_EQ(ev("never2"), "0");
  EXPECT_EQ(err_of("(+ 1 (error \"inner\"))"), "1:6 inner");
  EXPECT_EQ(err_of("undefined-name"), "1:1 symbol `undefined-name` is not bound");
  EXPECT_EQ(err_of("(1 2)"), "1:1 cannot call a non-function: integer");
}

TEST(Eval, EvalSeesLocals) {
  EXPECT_EQ(ev("(fun (f x) (eval {+ x 1})) (f 41)"), "42");
  EXPECT_EQ(ev("(let ((y 5)) (eval (list * y 2)))"), "10");
}

TEST(Eval, ClosuresCaptureAndShare) {
  EXPECT_EQ(ev("(fun (adder n) (fn (x) (+ x n))) ((adder 3) 4)"), "7");
  EXPECT_EQ(ev("(fun (mk) (let ((c 0)) (list (fn () (= {c} (+ c 1))) (fn () c)))) "
               "(def p (mk)) ((head p)) ((head p)) ((head (tail p)))"),
            "0");  // `=` binds in the closure's own frame, as upstream
}

TEST(Continuations, SpecExamples) {
  EXPECT_EQ(ev("(async-reset (+ 1 (async-shift k (k 10))))"), "11");
  EXPECT_EQ(ev("(async-reset {(+ 1 (async-shift {k} {(k (k 5))}))})"), "7");
  EXPECT_EQ(ev("(async-reset {(def {x} (async-shift {k} {(k 42)})) (+ x 1)})"), "43");
}

TEST(Continuations, MultiShotAndEscape) {
  EXPECT_EQ(ev("(async-reset (list 1 (async-shift k (list (k 2) (k 3)))))"), "{{1 2} {1 3}}");
  EXPECT_EQ(ev("(+ 100 (async-reset (* 2 (async-shift k 5))))"), "105");
  EXPECT_EQ(ev("(def saved ()) (async-reset (+ 1 (async-shift k (do (def saved k) 0)))) (saved 41)"),
            "42");
  EXPECT_EQ(err_of("(async-shift k 1)"), "1:1 async-shift used outside of async-reset");
}

TEST(Continuations, CaptureDeepStack) {
  EXPECT_EQ(ev("(fun (down n) (if (== n 0) (async-shift k (k 0)) (+ 1 (down (- n 1)))))"
               "(async-reset (down 100000))"),
            "100000");
}

TEST(GC, GarbageIsReclaimed) {
  GC_gcollect();
  size_t before = GC_get_heap_size();
  // About 160 MB of cons cells over the loop's life, little of it live.
  ev("(fun (churn i) (if (== i 0) 0 (do (range 0 1000) (churn (- i 1))))) (churn 10000)");
  GC_gcollect();
  size_t after = GC_get_heap_size();
  EXPECT_LT(after, before + 64u * 1024 * 1024);
}

TEST(GC, LiveDataSurvivesCollection) {
  ev("(def keep (range 0 100000))");
  for (int i = 0; i < 3; ++i) {
    ev("(range 0 100000)");
    GC_gcollect();
  }
  EXPECT_EQ(ev("(len keep)"), "100000");
  EXPECT_EQ(ev("(foldl + 0 keep)"), "4999950000");
}

// Regression: values on the operand stack must survive a collection that a
// closure allocation triggers (the loop keeps its stack top in a register).
TEST(GC, OperandStackIsARootDuringAllocation) {
  ev("(fun (mk i) (if (== i 0) () (cons (list (range 0 50) (fn (x) x) (range 0 50)) (mk (- i 1)))))");
  EXPECT_EQ(ev("(def r (mk 20000)) (foldl (fn (acc e) (+ acc (len (head e)) (len (head (tail (tail e)))))) 0 r)"),
            "2000000");
}

// Compatibility with upstream's test files (found by running them).
TEST(Upstream, AssignBindsErrorValues) {
  EXPECT_EQ(ev("(fun {f} {(= {r} (error \"boom\")) (error? r)}) (f)"), "true");
  EXPECT_EQ(ev("(= {top-err} (error \"e\")) (error? top-err)"), "true");
  EXPECT_EQ(err_of("(def {no} (error \"def refuses\"))"), "1:11 def refuses");
}

TEST(Upstream, AssignedLambdaCallsItself) {
  EXPECT_EQ(ev("(fun {g} {(= {h} (\\ {n} {if (== n 0) {:bottom} {h (- n 1)}})) (h 3)}) (g)"),
            ":bottom");
  // A value that is not a lambda still sees the outer binding of its name.
  EXPECT_EQ(ev("(def {cnt} 5) (fun {k} {(= {cnt} (+ cnt 1)) cnt}) (k)"), "6");
}

TEST(Upstream, LambdaNamesCanBeRedefined) {
  EXPECT_EQ(ev("(def {fn} (\\ {x} {+ x 1})) (fn 5)"), "6");
  EXPECT_EQ(ev("((fn (x) (* x 2)) 4)"), "8");  // still a lambda form with a parameter list
}

TEST(Upstream, MalformedClausesAreErrors) {
  EXPECT_EQ(err_of("(select {true})"), "1:1 select: each clause must be {condition result}");
  EXPECT_EQ(err_of("(eval (list 'quasiquote (list (list 'unquote))))"),
            "1:1 unquote: expected 1 argument");
}

TEST(Upstream, PlistShorthand) {
  EXPECT_EQ(ev("(def {pl} {:name \"A\" :port 80}) pl:port"), "80");
  EXPECT_EQ(ev("(fun (f r) r:path) (f {:path \"/x\"})"), "\"/x\"");
  EXPECT_EQ(err_of("nosuch:key"), "1:1 symbol `nosuch:key` is not bound");
}

TEST(Upstream, Penv) {
  EXPECT_EQ(ev("(fun (pe a b) (do (= {c} 3) (penv))) (pe 1 2)"), "{{c 3} {b 2} {a 1}}");
}
