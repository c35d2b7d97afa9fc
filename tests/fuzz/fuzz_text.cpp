// libFuzzer target for the text builtins that parse input a service gets
// from outside: json/parse (and the round trip through json/encode), the
// re/* functions (pattern and subject both fuzzed) and format. The first
// byte picks the builtin; the rest is split at the first NUL into its two
// strings. Error values are fine; a crash, a sanitizer report, a hang, or a
// JSON document that does not survive encode + parse is a bug.
#include <gc/gc.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/printer.h"
#include "core/vm.h"
#include "fuzz_support.h"

using namespace valk;

namespace {

VM& the_vm() {
  static VM* vm = [] {
    if (!freopen("/dev/null", "w", stdout)) abort();
    return new VM;
  }();
  return *vm;
}

Value call(VM& vm, const char* name, Value* args, int argc) {
  Value fn = as_symbol(intern(name))->global;
  if (!is_function(fn)) return kNil;
  return vm.call(fn, args, argc);
}

void json_round_trip(VM& vm, Value text) {
  Value doc = call(vm, "json/parse", &text, 1);
  if (is_error(doc) || doc == kNil) return;
  Value enc = call(vm, "json/encode", &doc, 1);
  if (is_error(enc)) {
    fprintf(stderr, "json/encode failed on a parsed document: %s\n", display_string(enc).c_str());
    __builtin_trap();
  }
  Value again = call(vm, "json/parse", &enc, 1);
  if (!values_equal(doc, again)) {
    fprintf(stderr, "round trip changed the document:\n%s\n%s\n", repr_string(doc).c_str(),
            repr_string(again).c_str());
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  VM& vm = the_vm();
  fuzz::reset_limits(vm, 100000, 200);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t nul = rest.find('\0');
  std::string_view a = rest.substr(0, nul);
  std::string_view b = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  Value args[3] = {make_string(a), make_string(b), make_string("<$1>")};
  switch (data[0] % 7) {
    case 0: json_round_trip(vm, make_string(rest)); break;
    case 1: call(vm, "re/match", args, 2); break;
    case 2: call(vm, "re/find-all", args, 2); break;
    case 3: call(vm, "re/replace", args, 3); break;
    case 4: call(vm, "re/split", args, 2); break;
    case 5: {  // a format string with a few arguments of different types
      Value fa[4] = {args[0], make_int(int64_t(size) - 40), make_float(double(size) / 3), args[1]};
      call(vm, "format", fa, 4);
      break;
    }
    case 6: {  // replacement text fuzzed too
      Value ra[3] = {args[0], make_string("abc abc"), args[1]};
      call(vm, "re/replace", ra, 3);
      break;
    }
  }
  vm.step_limit = 0;
  return 0;
}
