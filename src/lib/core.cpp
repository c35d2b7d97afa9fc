// Builtins that belong to the evaluator: apply, eval, load, exit, runtime
// lambdas, and the helpers compiled code calls (%def, %qq).
#include <gc/gc.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/compiler.h"
#include "core/printer.h"
#include "core/proto.h"
#include "core/reader.h"
#include "core/source_file.h"
#include "lib/builtins.h"

namespace valk {

namespace {

// (apply f list) and upstream's (unpack f list) / (curry f list).
Value b_apply(VM& vm, Value* args, int argc) {
  if (!is_list(args[1])) return bad_arg("apply", 1, "a list", args[1]);
  // The VM reads a pending nil as "no tail call" and would return its marker.
  if (args[0] == kNil) return make_error("cannot call a non-function: nil");
  return vm.tail_call(args[0], args[1]);
}

// (eval x) when eval is called as a value (the special form handles direct
// calls with the caller's locals in scope): global scope.
Value b_eval(VM& vm, Value* args, int argc) {
  Value thunk = compile_eval(vm, args[0], kNil, nullptr);
  if (is_error(thunk)) return thunk;
  return vm.tail_call(thunk, kNil);
}

// (%def names v...) for computed names: (def (head {x}) 5).
Value b_def(VM& vm, Value* args, int argc) {
  Value names = args[0];
  if (is_symbol(names)) names = cons(names, kNil);
  if (!is_list(names)) return bad_arg("def", 0, "a list of symbols", args[0]);
  if (int(list_length(names)) != argc - 1)
    return make_errorf("def: %zu names but %d values", list_length(names), argc - 1);
  int i = 1;
  for (Value l = names; is_cons(l); l = cdr(l), ++i) {
    if (!is_symbol(car(l)) || is_keyword(car(l))) return bad_arg("def", 0, "a list of symbols", car(l));
    if (is_error(args[i])) return args[i];
    as_symbol(car(l))->global = args[i];
  }
  return kNil;
}

// (%qq (style flag...) v...): rebuilds a quasiquoted list; flagged values
// are spliced. An error from any unquote aborts the whole.
Value b_qq(VM& vm, Value* args, int argc) {
  Value mask = args[0];
  // Compiled code always passes a good mask; a program calling %qq may not.
  if (!is_cons(mask) || !is_bool(car(mask)) || list_length(cdr(mask)) < size_t(argc - 1))
    return bad_arg("%qq", 0, "a style and a flag per value", mask);
  for (Value f = cdr(mask); is_cons(f); f = cdr(f))
    if (!is_bool(car(f))) return bad_arg("%qq", 0, "a style and a flag per value", mask);
  bool quoted = car(mask) == kTrue;
  ListBuilder b(quoted);
  Value flags = cdr(mask);
  for (int i = 1; i < argc; ++i, flags = cdr(flags)) {
    Value v = args[i];
    if (is_error(v)) return v;
    if (car(flags) == kTrue) {
      if (!is_list(v))
        return make_errorf("unquote-splicing requires a list, got %s", describe_type(v).c_str());
      for (Value e = v; is_cons(e); e = cdr(e)) b.push(car(e));
    } else {
      b.push(v);
    }
  }
  return b.result();
}

// (\ formals body) with computed arguments.
Value b_lambda(VM& vm, Value* args, int argc) {
  if (!is_list(args[0])) return bad_arg("\\", 0, "a list of parameters", args[0]);
  return compile_lambda_value(vm, args[0], args[1]);
}

// (do a b c) as a function value: the arguments are already evaluated.
Value b_do(VM& vm, Value* args, int argc) {
  for (int i = 0; i < argc; ++i)
    if (is_error(args[i])) return args[i];
  return argc ? args[argc - 1] : kNil;
}

// (%reverse-list l): reversed as a {} list, the style upstream's map and
// filter return.
Value b_reverse_list(VM& vm, Value* args, int argc) {
  if (is_error(args[0])) return args[0];  // (filter f l) whose f failed
  Value out = kNil;
  for (Value p = args[0]; is_cons(p); p = cdr(p)) out = cons(car(p), out, true);
  return out;
}

Value b_repr(VM& vm, Value* args, int argc) {
  constexpr size_t kSmall = size_t(1) << 20;
  if (printed_size_bound(args[0], true, kSmall) > kSmall) {
    size_t room = heap_room();
    if (size_t need = printed_size_bound(args[0], true, room); need > room)
      return check_room("repr", need, 1);
  }
  return make_string(repr_string(args[0]));
}

Value b_is_function(VM& vm, Value* args, int argc) { return make_bool(is_function(args[0])); }

// (random n): an integer in [0, n). Seeded from VALK_SEED when set, so runs
// that depend on it (retry jitter) can be repeated.
Value b_random(VM& vm, Value* args, int argc) {
  VALK_CHECK(is_int(args[0]) && int_val(args[0]) > 0, "random", 0, "a positive integer");
  static uint64_t state = [] {
    const char* s = getenv("VALK_SEED");
    return s ? uint64_t(strtoull(s, nullptr, 10)) * 2654435761u + 1 : uint64_t(time(nullptr)) | 1;
  }();
  // xorshift64*: small and good enough for jitter and tests.
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  uint64_t r = state * 2685821657736338717ull;
  return make_int(int64_t(r % uint64_t(int_val(args[0]))));
}

Value b_not(VM& vm, Value* args, int argc) {
  if (is_error(args[0])) return args[0];
  return make_bool(!truthy(args[0]));
}

bool is_builtin_library(const std::string& path) {
  // Older upstream trees use src/, newer ones stdlib/.
  static const char* const suffixes[] = {
      "src/prelude.valk",       "src/modules/test.valk",   "src/async_handles.valk",
      "src/http_api.valk",      "src/async_monadic.valk",  "stdlib/prelude.valk",     "stdlib/test/test.valk",
      "stdlib/aio/handles.valk", "stdlib/http/api.valk"};
  for (const char* s : suffixes) {
    size_t ls = strlen(s);
    if (path.size() >= ls && path.compare(path.size() - ls, ls, s) == 0) return true;
  }
  return false;
}

// (load "path"): relative to the working directory, then to the file that
// is loading. The file runs as one program: it stops at its first error.
Value b_load(VM& vm, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), "load", 0, "a string");
  std::string path(as_string(args[0])->view());
  bool ok = false;
  std::string src;
  std::string used = path;
  // Upstream programs load their libraries by repository path; here those
  // are built in and already loaded at start-up.
  if (is_builtin_library(path)) return kNil;
  // Upstream's two SSE modules are built in too; they differ in what
  // sse/id means, and loading one selects its meaning (lib/valk/sse.valk).
  for (auto [suffix, selector] : {std::pair{"src/modules/aio/sse.valk", "%sse-use-aio-api"},
                                  std::pair{"src/modules/sse.valk", "%sse-use-basic-api"}}) {
    size_t ls = strlen(suffix);
    if (path.size() >= ls && path.compare(path.size() - ls, ls, suffix) == 0)
      return vm.tail_call(as_symbol(intern(selector))->global, kNil);
  }
  std::string why;
  ok = read_source_file(path, src, why);
  if (!ok && errno == ENOENT && !vm.current_file.empty() && path.size() && path[0] != '/') {
    std::filesystem::path rel = std::filesystem::path(vm.current_file).parent_path() / path;
    used = rel.string();
    ok = read_source_file(used, src, why);
  }
  if (!ok) return make_error("load: " + why);
  const char* file = intern_filename(used);
  LocMap locs;
  Value err = kNil;
  Value forms = read_all(src, file, &locs, &err, true);
  if (err != kNil) {
    // Run what was read, then report the read error.
    forms = forms == kNil ? cons(err, kNil) : forms;
    if (forms != kNil && car(forms) != err) {
      ListBuilder b(false);
      for (Value f = forms; is_cons(f); f = cdr(f)) b.push(car(f));
      b.push(err);
      forms = b.result();
    }
  }
  Value thunk = compile_program(vm, forms, &locs, file);
  if (is_error(thunk)) return thunk;
  // Run the file with current_file set to it, and restore it afterwards
  // (in Lisp, so the load stays a tail call with no C++ frame around it).
  Value prev = vm.current_file.empty() ? kNil : make_string(vm.current_file);
  vm.current_file = used;
  return vm.tail_call(as_symbol(intern("%load-run"))->global,
                      cons(thunk, cons(prev, kNil)));
}

Value b_set_current_file(VM& vm, Value* args, int argc) {
  vm.current_file = is_string(args[0]) ? std::string(as_string(args[0])->view()) : std::string();
  return kNil;
}

Value b_exit(VM& vm, Value* args, int argc) {
  int code = 0;
  if (argc >= 1) {
    VALK_CHECK(is_int(args[0]), "exit", 0, "an integer");
    code = int(int_val(args[0]));
  }
  fflush(stdout);
  fflush(stderr);
  std::exit(code);
}

// (shutdown n): upstream's deferred exit: sets the status, evaluation goes on.
Value b_shutdown(VM& vm, Value* args, int argc) {
  int code = 0;
  if (argc >= 1) {
    VALK_CHECK(is_int(args[0]), "shutdown", 0, "an integer");
    code = int(int_val(args[0]));
  }
  vm.exit_code = code;
  vm.exit_requested = true;
  return argc ? args[0] : make_fix(0);
}

Value b_stack_depth(VM& vm, Value* args, int argc) {
  return make_fix(int64_t(vm.nframes));
}

Value b_max_depth(VM& vm, Value* args, int argc) {
  if (argc == 1) {
    VALK_CHECK(is_int(args[0]) && int_val(args[0]) > 0, "sys/max-depth", 0, "a positive integer");
    Value old = make_int(int64_t(vm.max_depth));
    vm.max_depth = size_t(int_val(args[0]));
    return old;
  }
  return make_int(int64_t(vm.max_depth));
}

Value b_error_loc(VM& vm, Value* args, int argc) {
  if (!is_error(args[0])) return bad_arg("error-location", 0, "an error", args[0]);
  const SrcLoc& l = as_error(args[0])->loc;
  if (!l.file) return kNil;
  std::string out;
  put_loc(out, l);
  return make_string(out);
}

}  // namespace

void open_core(VM& vm) {
  define("apply", b_apply, 2, 2);
  define("unpack", b_apply, 2, 2);
  define("curry", b_apply, 2, 2);
  define("eval", b_eval, 1, 1);
  define("%def", guarded<b_def>, 1, -1);
  define("%qq", guarded<b_qq>, 1, -1);
  define("\\", b_lambda, 2, 2);
  define("lambda", b_lambda, 2, 2);
  define("do", guarded<b_do>, 0, -1);
  define("not", guarded<b_not>, 1, 1);
  define("!", guarded<b_not>, 1, 1);  // upstream's name for not
  define("repr", guarded<b_repr>, 1, 1);
  define("function?", guarded<b_is_function>, 1, 1);
  define("random", guarded<b_random>, 1, 1);
  define("%reverse-list", guarded<b_reverse_list>, 1, 1);
  define("load", b_load, 1, 1);
  define("%set-current-file", guarded<b_set_current_file>, 1, 1);
  define("exit", b_exit, 0, 1);
  define("shutdown", guarded<b_shutdown>, 0, 1);
  define("stack-depth", guarded<b_stack_depth>, 0, -1);
  define("sys/max-depth", guarded<b_max_depth>, 0, 1);
  define("error-location", guarded<b_error_loc>, 1, 1);
  define_value("nil", kNil);
  define_value("true", kTrue);
  define_value("false", kFalse);
  define_value("otherwise", kTrue);
}

}  // namespace valk
