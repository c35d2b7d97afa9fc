// Shared helpers for builtin functions, and the registry of builtin modules.
//
// Conventions every builtin follows (SPEC 1.3):
//  - arity is checked by the VM from min/max before the call;
//  - an argument that is an error value, where the builtin wants something
//    else, is returned as is (the original error travels outward);
//  - any other bad argument gives a fresh error naming the builtin, e.g.
//    "str/split: argument 1 must be a string, got integer".
#pragma once

#include <string>

#include "core/value.h"
#include "core/vm.h"

namespace valk {

void define(const char* name, BuiltinFn fn, int min_args, int max_args,
            uint16_t intrinsic = 0);
void define_value(const char* name, Value v);

// Returns the error to give when args[i] is not of the expected kind: the
// argument itself if it is an error, else a type error.
Value bad_arg(const char* fn, int index, const char* expected, Value got);

#define VALK_CHECK(cond, fn, i, expected)                                   \
  do {                                                                      \
    if (!(cond)) return ::valk::bad_arg(fn, i, expected, args[i]);          \
  } while (0)

// Module openers, one per file under src/lib/.
void open_math(VM& vm);      // + - * / % comparisons, number conversions
void open_lists(VM& vm);     // list, head, tail, cons, join, len, nth, ...
void open_strings(VM& vm);   // str, str/*, printf, print, make-string, ...
void open_plists(VM& vm);    // plist/*, get
void open_io(VM& vm);        // read, read-file, load, error, test/capture-*
void open_system(VM& vm);    // exit, shutdown, time-us, type, mem/*, sys/*
void open_core(VM& vm);      // apply, eval, \ (runtime lambdas), def helpers
void open_aio(VM& vm);       // aio/*: handles, combinators, timers, the loop
void open_metrics(VM& vm);   // aio/metrics, aio/metrics-json, aio/metrics-prometheus
void open_http(VM& vm);      // http2/server-*, http2/response, req/*
void open_client(VM& vm);    // %http-fetch (the client; its API is lib/valk/http_api.valk)

inline void open_all(VM& vm) {
  open_core(vm);
  open_math(vm);
  open_lists(vm);
  open_strings(vm);
  open_plists(vm);
  open_io(vm);
  open_system(vm);
  open_aio(vm);
  open_metrics(vm);
  open_http(vm);
  open_client(vm);
}

// The system value of upstream's aio API ((aio/sleep sys ms) etc.).
bool is_aio_system(Value v);

// Display form of all args concatenated (str) / joined by spaces (print).
std::string display_concat(Value* args, int argc, const char* sep);

}  // namespace valk
