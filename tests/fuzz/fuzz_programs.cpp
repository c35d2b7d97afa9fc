// Grammar-based libFuzzer target: the input's bytes choose a program built
// from the special forms and the async combinators, always syntactically
// valid, which then runs under the VM's step limit with virtual time. Error
// values are fine; a crash, a sanitizer report or a hang is a bug.
//
// One VM serves every input: the async runtime keeps global state, so
// inputs are not fully independent. Between inputs the loop is drained,
// everything still pending is cancelled, and the globals the grammar binds
// are unbound again; whatever else the runtime keeps (handle ids, metrics,
// the virtual clock) carries over, and so does work an input left behind
// (see settle_leftovers; the step limit can also stop the loop's driver in
// the middle of a job).
// Set FUZZ_PROGRAMS_PRINT=1 to print each generated program on stderr.
#include <fuzzer/FuzzedDataProvider.h>
#include <gc/gc.h>
#include <gc/gc_allocator.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "aio/handle.h"
#include "core/compiler.h"
#include "core/printer.h"
#include "core/reader.h"
#include "core/vm.h"
#include "fuzz_support.h"

using namespace valk;
using fuzz::call_global;

namespace {

constexpr uint64_t kStepLimit = 10000;
constexpr size_t kMaxDepth = 400;
constexpr int kMaxNest = 7;  // nesting of generated expressions

const char* const kGlobals[] = {"g0", "g1", "g2", "f0", "f1", "f2"};

class Gen {
 public:
  explicit Gen(FuzzedDataProvider& in) : in_(in) {}

  std::string program() {
    std::string out;
    // Functions first, so that calls to them usually find them.
    int nfun = pick(0, 2);
    for (int i = 0; i < nfun; ++i) out += fun_def(i) + "\n";
    int nforms = pick(1, 6);
    for (int i = 0; i < nforms && in_.remaining_bytes(); ++i) out += toplevel() + "\n";
    return out;
  }

 private:
  FuzzedDataProvider& in_;
  std::vector<std::string> scope_;  // local names in sight
  int nest_ = 0;
  int fresh_ = 0;
  int resets_ = 0;  // enclosing async-resets

  int pick(int lo, int hi) { return in_.ConsumeIntegralInRange(lo, hi); }
  bool coin() { return in_.ConsumeBool(); }
  std::string name() { return "v" + std::to_string(fresh_++); }
  std::string global() { return kGlobals[pick(0, 2)]; }
  std::string fname() { return kGlobals[pick(3, 5)]; }

  std::string fun_def(int i) {
    std::string f = kGlobals[3 + i];
    std::string n = name();
    scope_.push_back(n);
    // A recursion that usually ends; the step limit ends the others.
    std::string body = "(if (<= " + n + " 0) " + expr() + " (" + f + " (- " + n + " " +
                       std::to_string(pick(0, 2)) + ")))";
    if (coin()) body = "(do " + expr() + " " + body + ")";
    scope_.pop_back();
    return "(fun (" + f + " " + n + ") " + body + ")";
  }

  std::string toplevel() {
    switch (pick(0, 5)) {
      case 0: return "(def " + global() + " " + expr() + ")";
      case 1: return "(= {" + global() + "} " + expr() + ")";
      case 2: return "(aio/await " + handle() + ")";
      case 3: return "(async-reset " + with_reset([&] { return body(); }) + ")";
      default: return expr();
    }
  }

  template <class F>
  std::string with_reset(F f) {
    ++resets_;
    std::string s = f();
    --resets_;
    return s;
  }
  template <class F>
  std::string with_names(std::vector<std::string> names, F f) {
    size_t n = scope_.size();
    for (auto& x : names) scope_.push_back(x);
    std::string s = f();
    scope_.resize(n);
    return s;
  }

  std::string body() {
    int n = pick(1, 3);
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + expr();
    return s;
  }

  std::string atom() {
    switch (pick(0, 11)) {
      case 0: return std::to_string(pick(-3, 10));
      case 1: return pick(0, 1) ? "0.5" : "-2.0";
      case 2: return "\"s" + std::to_string(pick(0, 3)) + "\"";
      case 3: return ":k" + std::to_string(pick(0, 2));
      case 4: return "nil";
      case 5: return coin() ? "true" : "false";
      case 6: return "{1 2 3}";
      case 7: return "'(a " + std::to_string(pick(0, 9)) + ")";
      case 8: return global();
      case 9: return "(error \"e" + std::to_string(pick(0, 2)) + "\")";
      default:
        if (!scope_.empty()) return scope_[size_t(pick(0, int(scope_.size()) - 1))];
        return std::to_string(pick(0, 5));
    }
  }

  std::string lambda(int arity) {
    std::vector<std::string> ps;
    for (int i = 0; i < arity; ++i) ps.push_back(name());
    std::string params;
    for (auto& p : ps) params += (params.empty() ? "" : " ") + p;
    return with_names(ps, [&] {
      switch (pick(0, 2)) {
        case 0: return "(fn (" + params + ") " + body() + ")";
        case 1: return "(lambda (" + params + ") " + body() + ")";
        default: return "(\\ {" + params + "} {" + expr() + "})";
      }
    });
  }

  std::string ms() { return std::to_string(pick(0, 20)); }


  std::string handles() {
    int n = pick(0, 3);
    std::string s = "(list";
    for (int i = 0; i < n; ++i) s += " " + handle();
    return s + ")";
  }

  // An expression that usually yields a handle.
  std::string handle() {
    if (nest_ >= kMaxNest) return coin() ? "(aio/pure 1)" : "(aio/sleep 1)";
    ++nest_;
    std::string s;
    switch (pick(0, 17)) {
      case 0: s = "(aio/pure " + expr() + ")"; break;
      case 1: s = "(aio/fail " + expr() + ")"; break;
      case 2: s = "(aio/then " + handle() + " " + lambda(1) + ")"; break;
      case 3: s = "(aio/catch " + handle() + " " + lambda(1) + ")"; break;
      case 4: s = "(aio/finally " + handle() + " " + lambda(0) + ")"; break;
      case 5: s = "(aio/all " + handles() + ")"; break;
      case 6: s = "(aio/race " + handles() + ")"; break;
      case 7: s = "(aio/any " + handles() + ")"; break;
      case 8: s = "(aio/all-settled " + handles() + ")"; break;
      case 9: s = "(aio/within " + handle() + " " + ms() + ")"; break;
      case 10: s = "(aio/sleep " + ms() + ")"; break;
      case 11: s = "(aio/delay " + ms() + " " + expr() + ")"; break;
      case 12: s = "(aio/scope " + lambda(pick(0, 1)) + ")"; break;
      case 13: {
        std::string x = name();
        s = "(aio/do (<- " + x + " " + handle() + ") " +
            with_names({x}, [&] { return expr() + " " + handle(); }) + ")";
        break;
      }
      case 14: {
        std::string a = name(), b = name();
        std::string first = "(" + a + " " + handle() + ")";
        // After :then, the second binding sees the first.
        std::string rest = coin() ? with_names({a}, [&] { return " :then (" + b + " " + handle(); })
                                  : " (" + b + " " + handle();
        rest += ")";
        s = "(aio/let (" + first + rest + ") " + with_names({a, b}, [&] { return body(); }) + ")";
        break;
      }
      case 15:
        s = "(async-reset " + with_reset([&] { return "(aio/await " + handle() + ")"; }) + ")";
        break;
      case 16: s = "(aio/never)"; break;
      default: {
        std::string x = name();
        std::string h = handle();
        s = "(let ((" + x + " " + h + ")) (do (aio/cancel " + x + ") " + x + "))";
      }
    }
    --nest_;
    return s;
  }

  std::string clauses_cond() {
    std::string s;
    int n = pick(1, 3);
    for (int i = 0; i < n; ++i) s += " (" + expr() + " " + body() + ")";
    if (coin()) s += " (else " + expr() + ")";
    return s;
  }

  std::string quasi(int level) {
    if (level > 3) return atom();
    switch (pick(0, 4)) {
      case 0: return "," + expr();
      case 1: return ",@(list " + expr() + " " + expr() + ")";
      case 2: return "(a " + quasi(level + 1) + " " + quasi(level + 1) + ")";
      case 3: return "{b " + quasi(level + 1) + "}";
      default: return atom();
    }
  }

  std::string expr() {
    if (nest_ >= kMaxNest || in_.remaining_bytes() == 0) return atom();
    ++nest_;
    std::string s;
    switch (pick(0, 33)) {
      case 0: s = "(if " + expr() + " " + expr() + " " + expr() + ")"; break;
      case 1: s = "(if " + expr() + " {" + expr() + "})"; break;
      case 2: s = "(cond" + clauses_cond() + ")"; break;
      case 3: {
        s = "(case " + expr();
        int n = pick(1, 3);
        for (int i = 0; i < n; ++i) {
          switch (pick(0, 2)) {
            case 0: s += " (" + std::to_string(pick(0, 3)) + " " + body() + ")"; break;
            case 1: s += " ((1 2 :k0) " + body() + ")"; break;
            default: s += " ({" + expr() + "} " + body() + ")";
          }
        }
        if (coin()) s += " (else " + expr() + ")";
        s += ")";
        break;
      }
      case 4: {
        s = "(select";
        int n = pick(1, 3);
        for (int i = 0; i < n; ++i) s += " {" + expr() + " " + expr() + "}";
        if (coin()) s += " {otherwise " + expr() + "}";
        s += ")";
        break;
      }
      case 5: {
        std::string a = name(), b = name();
        std::string va = expr();
        std::string vb = with_names({a}, [&] { return expr(); });
        s = "(let ((" + a + " " + va + ") (" + b + " " + vb + ")) " +
            with_names({a, b}, [&] { return body(); }) + ")";
        break;
      }
      case 6: s = "(do " + body() + ")"; break;
      case 7: s = lambda(pick(0, 2)); break;
      case 8: s = "(" + lambda(1) + " " + expr() + ")"; break;
      case 9: s = "(" + fname() + " " + expr() + ")"; break;
      case 10: s = "(def " + global() + " " + expr() + ")"; break;
      case 11: {
        // `=` binds in the current frame: the name is in scope afterwards.
        std::string x = name();
        s = "((fn () (= {" + x + "} " + expr() + ") " + with_names({x}, [&] { return body(); }) +
            "))";
        break;
      }
      case 12: s = "'" + quasi(0); break;
      case 13: s = "`" + quasi(0); break;
      case 14: s = "(try " + expr() + " " + lambda(1) + ")"; break;
      case 15: s = "(async-reset " + with_reset([&] { return body(); }) + ")"; break;
      case 16: {
        std::string k = name();
        // A continuation called zero, one or two times.
        s = "(async-shift " + k + " " + with_names({k}, [&] {
              switch (pick(0, 2)) {
                case 0: return expr();
                case 1: return "(" + k + " " + expr() + ")";
                default: return "(list (" + k + " " + expr() + ") (" + k + " " + expr() + "))";
              }
            }) + ")";
        if (resets_ == 0 && coin()) s = "(async-reset (+ 1 " + s + "))";
        break;
      }
      case 17: s = "(and " + expr() + " " + expr() + ")"; break;
      case 18: s = "(or " + expr() + " " + expr() + ")"; break;
      case 19: s = "(when " + expr() + " " + body() + ")"; break;
      case 20: s = "(unless " + expr() + " " + body() + ")"; break;
      case 21: s = "(+ " + expr() + " " + expr() + ")"; break;
      case 22: s = "(list " + body() + ")"; break;
      case 23: s = "(== " + expr() + " " + expr() + ")"; break;
      case 24: s = "(str " + expr() + " " + expr() + ")"; break;
      case 25: s = "(map " + lambda(1) + " " + expr() + ")"; break;
      case 26: s = "(-> " + expr() + " (list 1) head)"; break;
      case 27: s = "(aio/await " + handle() + ")"; break;
      case 28: s = "(aio/status " + handle() + ")"; break;
      case 29: s = "(aio/result " + handle() + ")"; break;
      case 30: s = "(aio/cancel " + handle() + ")"; break;
      case 31: s = "(aio/on-cancel " + handle() + " " + lambda(0) + ")"; break;
      case 32: s = "(aio/bracket " + handle() + " " + lambda(1) + " " + lambda(1) + ")"; break;
      default: s = handle();
    }
    --nest_;
    return s;
  }
};


VM& the_vm() {
  static VM* vm = [] {
    setenv("VALK_VIRTUAL_TIME", "1", 1);
    if (!freopen("/dev/null", "w", stdout)) abort();  // programs print
    auto* v = new VM;
    call_global(*v, "aio/start");
    Value on = kTrue;
    v->call(as_symbol(intern("aio/virtual-time"))->global, &on, 1);
    return v;
  }();
  return *vm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  VM& vm = the_vm();
  FuzzedDataProvider in(data, size);
  std::string src = Gen(in).program();
  static const bool print = getenv("FUZZ_PROGRAMS_PRINT") != nullptr;
  if (print) fprintf(stderr, "---- program\n%s", src.c_str());
  LocMap locs;
  const char* file = intern_filename("fuzz-programs");
  Reader reader(src, file, &locs);
  fuzz::reset_limits(vm, kStepLimit, kMaxDepth);
  while (!reader.at_end()) {
    SrcLoc at = reader.here();
    Value form = reader.read();
    if (is_error(form)) __builtin_trap();  // the grammar makes only valid text
    Value thunk = compile_toplevel(vm, form, &locs, file, at);
    if (is_error(thunk)) __builtin_trap();  // and compilable forms
    Value r = vm.call(thunk, nullptr, 0);
    if (print) fprintf(stderr, "=> %s\n", repr_string(r).c_str());
  }
  // Pending work runs, then what is left is cancelled: the next input
  // starts with an idle runtime.
  fuzz::reset_limits(vm, kStepLimit, kMaxDepth);
  call_global(vm, "aio/run");
  fuzz::reset_limits(vm, kStepLimit, kMaxDepth);
  fuzz::settle_leftovers(vm, kStepLimit);
  for (const char* g : kGlobals) as_symbol(intern(g))->global = kUnbound;
  vm.step_limit = 0;
  return 0;
}
