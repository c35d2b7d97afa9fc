// libFuzzer target for the compiler and the VM: the input is read as
// Valkyria source and every form that reads is compiled and run. Error
// values are fine; a crash, a sanitizer report or a hang is a bug.
//
// Runs are bounded: the VM's step limit (this target links the core built
// with VALK_STEP_LIMIT), a small call depth, virtual time, and caps on the
// builtins that allocate in proportion to a number. Builtins that reach
// outside the process (files, sockets, exit) are disabled.
//
// One VM serves every input (the async runtime's state is global). Between
// inputs the globals named in the input are restored, pending async work is
// cancelled and the loop drained; a global bound through a symbol made at
// run time (str->sym) is not restored, so in rare cases an input's result
// depends on the ones before it.
#include <gc/gc.h>
#include <gc/gc_allocator.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <utility>
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
constexpr int64_t kMaxCount = 4096;  // largest size argument a capped builtin gets

Value b_disabled(VM&, Value*, int) { return make_error("disabled in the fuzzer"); }

// Builtins whose integer arguments become sizes: each is wrapped by one
// that refuses large numbers, then calls the original.
const char* const kCapped[] = {"range",        "make-string",  "aio/sleep",
                               "aio/delay",    "aio/schedule", "aio/interval",
                               "aio/within",   "aio/parallel-map"};
constexpr size_t kNumCapped = sizeof kCapped / sizeof kCapped[0];
BuiltinFn g_capped_fn[kNumCapped];

template <size_t I>
Value capped(VM& vm, Value* args, int argc) {
  for (int i = 0; i < argc; ++i) {
    if (is_int(args[i]) && (int_val(args[i]) > kMaxCount || int_val(args[i]) < -kMaxCount))
      return make_error("argument too large for the fuzzer");
    if (is_float(args[i]) && !(float_val(args[i]) <= kMaxCount && float_val(args[i]) >= -kMaxCount))
      return make_error("argument too large for the fuzzer");
  }
  return g_capped_fn[I](vm, args, argc);
}

template <size_t... I>
void cap_all(std::index_sequence<I...>) {
  BuiltinFn wrappers[] = {capped<I>...};
  for (size_t i = 0; i < kNumCapped; ++i) {
    Value v = as_symbol(intern(kCapped[i]))->global;
    if (!has_type(v, Type::Builtin)) continue;
    auto* b = reinterpret_cast<Builtin*>(v);
    g_capped_fn[i] = b->fn;
    b->fn = wrappers[i];
  }
}

// %qq (src/lib/core.cpp) trusts its mask argument, which only compiled
// quasiquotes build; called by hand with a bad one it reads past it. Until
// it checks, the fuzzer does: this wrapper lets only well-formed calls in.
BuiltinFn g_qq_fn;
Value checked_qq(VM& vm, Value* args, int argc) {
  Value mask = args[0];
  if (!is_cons(mask) || list_length(cdr(mask)) < size_t(argc - 1))
    return make_error("%qq: bad mask (checked by the fuzzer)");
  return g_qq_fn(vm, args, argc);
}

const char* const kDisabled[] = {
    "exit", "load", "read-file", "write-file", "file-exists?", "%set-current-file",
    "http2/server-listen", "%http-fetch", "test/capture-start", "test/capture-stop",
    "aio/virtual-time", "aio/stop" /* stops the loop for good: later inputs would not run */,
    "mem/heap/set-hard-limit", "mem/gc/set-threshold",
    "mem/gc/set-min-interval", "set-gc-threshold-pct", "sys/log/set-level", "getenv"};

using Globals = std::vector<std::pair<Value, Value>, traceable_allocator<std::pair<Value, Value>>>;

// Every symbol in a form, with its global binding now.
void note_symbols(Value form, std::unordered_set<Value>& seen, Globals& saved) {
  std::vector<Value, traceable_allocator<Value>> work{form};
  while (!work.empty()) {
    Value v = work.back();
    work.pop_back();
    if (is_cons(v)) {
      work.push_back(car(v));
      work.push_back(cdr(v));
    } else if (is_symbol(v) && seen.insert(v).second) {
      saved.push_back({v, as_symbol(v)->global});
    }
  }
}


VM& the_vm() {
  static VM* vm = [] {
    setenv("VALK_VIRTUAL_TIME", "1", 1);
    // Programs print; the fuzzer's own output is on stderr.
    if (!freopen("/dev/null", "w", stdout)) abort();
    auto* v = new VM;
    call_global(*v, "aio/start");
    Value on = kTrue;
    v->call(as_symbol(intern("aio/virtual-time"))->global, &on, 1);
    cap_all(std::make_index_sequence<kNumCapped>{});
    auto* qq = reinterpret_cast<Builtin*>(as_symbol(intern("%qq"))->global);
    g_qq_fn = qq->fn;
    qq->fn = checked_qq;
    for (const char* name : kDisabled)
      as_symbol(intern(name))->global = make_builtin(name, b_disabled, 0, -1);
    return v;
  }();
  return *vm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  VM& vm = the_vm();
  if (size > 4096) return -1;  // long inputs only slow the search down
  std::string src(reinterpret_cast<const char*>(data), size);
  LocMap locs;
  Reader reader(src, intern_filename("fuzz"), &locs);
  std::unordered_set<Value> seen;
  Globals saved;
  fuzz::reset_limits(vm, kStepLimit, kMaxDepth);
  std::string shown;
  while (!reader.at_end()) {
    SrcLoc at = reader.here();
    Value form = reader.read();
    if (is_error(form)) break;
    note_symbols(form, seen, saved);
    Value thunk = compile_toplevel(vm, form, &locs, intern_filename("fuzz"), at);
    if (is_error(thunk)) continue;
    Value r = vm.call(thunk, nullptr, 0);
    if (is_error(r) || is_fix(r)) {
      shown.clear();
      print_display(shown, r);
    }
    if (vm.steps > kStepLimit) break;
  }
  // Pending async work runs (virtual time), then whatever is left is
  // cancelled, so the next input starts with an idle runtime.
  fuzz::reset_limits(vm, kStepLimit, kMaxDepth);
  call_global(vm, "aio/run");
  fuzz::reset_limits(vm, kStepLimit, kMaxDepth);
  fuzz::settle_leftovers(vm, kStepLimit);
  for (auto& [sym, old] : saved) as_symbol(sym)->global = old;
  vm.step_limit = 0;
  return 0;
}
