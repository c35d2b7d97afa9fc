// Proto: the compiled form of one function body (or of a top-level form).
#pragma once

#include "core/value.h"

namespace valk {

struct ScopeInfo;  // compiler.h: names of the locals, for eval in a frame

struct LocEntry {
  uint32_t pc;  // first instruction this location covers
  uint32_t line;
  uint32_t col;
};

struct Proto {
  ObjHeader h;
  uint32_t* code;
  uint32_t ncode;
  uint32_t nconsts;
  Value* consts;
  uint16_t nparams;   // fixed parameters
  uint8_t has_rest;   // & rest parameter in slot nparams
  uint8_t env_mode;   // locals live in a heap Env (captured or eval'd)
  uint8_t is_reset;   // the async-reset trampoline
  uint8_t is_lib;     // compiled from the built-in library (lib/valk)
  uint32_t nlocals;   // slots, parameters included
  uint32_t maxstack;  // operand stack needed above the locals
  Value name;         // symbol, or kNil for anonymous functions
  Value formals;      // parameter list as written (printing, partials)
  Value body;         // body as written (printing)
  const char* file;
  LocEntry* locs;
  uint32_t nlocs;
  ScopeInfo* scope;   // env-mode functions only
};

inline Proto* as_proto(Value v) { return reinterpret_cast<Proto*>(v); }
inline Closure* as_closure(Value v) { return reinterpret_cast<Closure*>(v); }
inline Partial* as_partial(Value v) { return reinterpret_cast<Partial*>(v); }

}  // namespace valk
