// Shared helpers for builtin functions (see builtins.h).
#include "lib/builtins.h"

#include "core/printer.h"

namespace valk {

void define(const char* name, BuiltinFn fn, int min_args, int max_args, uint16_t intrinsic) {
  as_symbol(intern(name))->global = make_builtin(name, fn, min_args, max_args, intrinsic);
}

void define_value(const char* name, Value v) { as_symbol(intern(name))->global = v; }

Value bad_arg(const char* fn, int index, const char* expected, Value got) {
  // An incoming error travels outward unchanged (SPEC 1.3).
  if (is_error(got)) return got;
  return make_errorf("%s: argument %d must be %s, got %s", fn, index + 1, expected,
                     type_name(got));
}

std::string display_concat(Value* args, int argc, const char* sep) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) out += sep;
    print_display(out, args[i]);
  }
  return out;
}

}  // namespace valk
