// Compiler: turns forms (lists read by the reader, or built at run time) into
// Protos. Variables are resolved ahead of time to stack slots, heap-env
// slots or globals; special forms are recognised by their head symbol unless
// a local variable shadows it.
#pragma once

#include "core/proto.h"
#include "core/reader.h"
#include "core/value.h"

namespace valk {

struct VM;

// Compiles one top-level form into a zero-argument closure (global scope).
// Malformed special forms do not fail the compile: they compile to code
// that yields a located error value, as a builtin would.
Value compile_toplevel(VM& vm, Value form, const LocMap* locs, const char* file,
                       SrcLoc at = {nullptr, 0, 0});

// Compiles a sequence of top-level forms (a file) into one closure that runs
// them in order and stops at the first error value.
Value compile_program(VM& vm, Value forms, const LocMap* locs, const char* file);

// Compiles code handed to `eval` at run time. scope is the constant the EVAL
// instruction carries (the caller's visible locals), or kNil for globals;
// env is the caller's frame env. The result is a closure of no arguments.
Value compile_eval(VM& vm, Value code, Value scope, Env* env);

// Builds a closure from a parameter list and a body given as data (the
// upstream `\` builtin called with computed arguments). Global scope.
// For the `\` builtin: a tail call (vm.tail_call) that makes the closure.
Value compile_lambda_value(VM& vm, Value formals, Value body);

// Looks up the source location of instruction pc of proto p.
SrcLoc proto_loc(const Proto* p, const uint32_t* pc);

}  // namespace valk
