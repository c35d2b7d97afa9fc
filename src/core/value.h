// Values: the tagged 64-bit word every part of the interpreter passes around.
//
// Bit layout of a Value (uintptr_t):
//   ...xxxx1  small integer (63 bits, arithmetic shift right by 1 to read)
//   ...xx010  immediate: nil, false, true, unbound marker
//   ...xx100  pointer to a Cons cell, S-expression style  "( ... )"
//   ...xx110  pointer to a Cons cell, Q-expression style  "{ ... }"
//   ...xx000  pointer to a heap object with an ObjHeader (type byte first)
// Integers that do not fit in 63 bits are boxed (Int). Cons cells carry no
// header, so a list cell costs 16 bytes; its {} / () printing style lives in
// the tag of the pointer that refers to it.
//
// All heap memory comes from the Boehm collector (libgc): it is conservative,
// well kept, and lets the evaluator hold raw pointers anywhere without a
// handle discipline. Objects without interior pointers use GC_MALLOC_ATOMIC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace valk {

using Value = uintptr_t;

inline constexpr Value kNil = 0x02;
inline constexpr Value kFalse = 0x0A;
inline constexpr Value kTrue = 0x12;
inline constexpr Value kUnbound = 0x1A;  // never visible to programs

enum class Type : uint8_t {
  Int,       // boxed 64-bit integer (small ones are immediates)
  Float,
  String,
  Symbol,    // keywords are symbols whose name starts with ':'
  Builtin,
  Closure,
  Partial,   // a function applied to too few arguments (upstream currying)
  Continuation,
  Error,
  Env,       // a heap frame of captured local variables
  Proto,     // compiled code of one function body
  Opaque,    // runtime objects of later subsystems (handles, requests, ...)
  Dict,      // hash map (core/dict.h)
};

struct ObjHeader {
  Type type;
  uint8_t flags;
  uint16_t aux;
  uint32_t extra;
};

struct Cons {
  Value car;
  Value cdr;
};

// ---- small integers -------------------------------------------------------
inline constexpr int64_t kFixMax = (int64_t(1) << 62) - 1;
inline constexpr int64_t kFixMin = -(int64_t(1) << 62);

inline bool is_fix(Value v) { return v & 1; }
inline int64_t fix_val(Value v) { return int64_t(v) >> 1; }
inline Value make_fix(int64_t i) { return (Value(i) << 1) | 1; }
inline bool fits_fix(int64_t i) { return i >= kFixMin && i <= kFixMax; }

// ---- cons cells -------------------------------------------------------------
inline bool is_cons(Value v) { return (v & 5) == 4; }
inline bool is_qcons(Value v) { return (v & 7) == 6; }
inline Cons* as_cons(Value v) { return reinterpret_cast<Cons*>(v & ~Value(7)); }
inline Value car(Value v) { return as_cons(v)->car; }
inline Value cdr(Value v) { return as_cons(v)->cdr; }
inline bool is_list(Value v) { return v == kNil || is_cons(v); }
// The same cell seen with the other printing style.
inline Value with_style(Value cell, bool quoted) {
  return (cell & ~Value(7)) | (quoted ? 6 : 4);
}

// ---- heap objects ---------------------------------------------------------------
inline bool is_obj(Value v) { return (v & 7) == 0 && v != 0; }
inline ObjHeader* as_obj(Value v) { return reinterpret_cast<ObjHeader*>(v); }
inline bool has_type(Value v, Type t) { return is_obj(v) && as_obj(v)->type == t; }
inline Value obj_val(const void* p) { return reinterpret_cast<Value>(p); }

struct Int {
  ObjHeader h;
  int64_t v;
};
struct Float {
  ObjHeader h;
  double v;
};
struct String {
  ObjHeader h;
  size_t len;
  char data[];  // always NUL-terminated as well, for C APIs
  std::string_view view() const { return {data, len}; }
};
struct Symbol {
  ObjHeader h;          // flags: kSymKeyword
  Value global;         // global binding, kUnbound when unbound
  uint32_t len;
  uint32_t hash;
  char name[];
  std::string_view view() const { return {name, len}; }
};
inline constexpr uint8_t kSymKeyword = 1;

struct VM;
// A builtin receives its evaluated arguments. It never calls back into Lisp:
// anything that must run Lisp code is a special form or a VM intrinsic.
using BuiltinFn = Value (*)(VM& vm, Value* args, int argc);

struct Builtin {
  ObjHeader h;   // aux: intrinsic id (0 = ordinary builtin)
  BuiltinFn fn;
  const char* name;
  int16_t min_args;
  int16_t max_args;  // -1: variadic
};

struct Proto;
struct Env {
  ObjHeader h;   // extra: slot count
  Env* parent;
  Value slots[];
};
struct Closure {
  ObjHeader h;
  Proto* proto;
  Env* env;
};
struct SrcLoc {
  const char* file;  // interned, lives forever
  uint32_t line;
  uint32_t col;
};
struct Partial {
  ObjHeader h;   // extra: argument count
  Value fn;
  SrcLoc made;   // the call that supplied too few arguments (file == nullptr: unknown)
  Value args[];
};
struct Error {
  ObjHeader h;
  Value message;  // a String for errors made by `error`; any value for failures
  SrcLoc loc;     // file == nullptr: not yet located
};

// Opaque objects of later subsystems (handles, requests, ...): a class that
// names and prints them, and a payload pointer the GC traces (payload memory
// must itself be GC memory or rooted elsewhere).
struct Opaque;
struct OpaqueClass {
  const char* name;  // what `type` reports, as a keyword
  void (*print)(std::string& out, const Opaque* self);  // may be null
};
struct Opaque {
  ObjHeader h;
  const OpaqueClass* cls;
  void* payload;
};

// ---- predicates -------------------------------------------------------------
inline bool is_int(Value v) { return is_fix(v) || has_type(v, Type::Int); }
inline bool is_float(Value v) { return has_type(v, Type::Float); }
inline bool is_number(Value v) { return is_int(v) || is_float(v); }
inline bool is_string(Value v) { return has_type(v, Type::String); }
inline bool is_symbol(Value v) { return has_type(v, Type::Symbol); }
inline bool is_keyword(Value v) {
  return is_symbol(v) && (as_obj(v)->flags & kSymKeyword);
}
inline bool is_error(Value v) { return has_type(v, Type::Error); }
inline bool is_bool(Value v) { return v == kTrue || v == kFalse; }
inline bool is_function(Value v) {
  if (!is_obj(v)) return false;
  Type t = as_obj(v)->type;
  return t == Type::Builtin || t == Type::Closure || t == Type::Partial ||
         t == Type::Continuation;
}

// Falsy: false, nil, 0 and 0.0 (docs/language.md#values).
inline bool truthy(Value v) {
  if (v == kFalse || v == kNil) return false;
  if (is_fix(v)) return v != make_fix(0);
  if (has_type(v, Type::Float)) return reinterpret_cast<const double*>(v)[1] != 0.0;
  return true;
}

inline String* as_string(Value v) { return reinterpret_cast<String*>(v); }
inline Symbol* as_symbol(Value v) { return reinterpret_cast<Symbol*>(v); }
inline Error* as_error(Value v) { return reinterpret_cast<Error*>(v); }
inline int64_t int_val(Value v) {
  return is_fix(v) ? fix_val(v) : reinterpret_cast<Int*>(v)->v;
}
inline double float_val(Value v) { return reinterpret_cast<Float*>(v)->v; }
inline double num_as_double(Value v) {
  return is_float(v) ? float_val(v) : double(int_val(v));
}

// ---- constructors -----------------------------------------------------------
void* gc_alloc(size_t bytes);         // traced memory
void* gc_alloc_atomic(size_t bytes);  // pointer-free memory

Value make_int(int64_t i);
Value make_float(double d);
Value make_string(std::string_view s);
Value make_string_uninit(size_t len, char** out);
Value cons(Value a, Value d, bool quoted = false);
Value make_error(Value message);
Value make_error(std::string_view message);
Value make_errorf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Value intern(std::string_view name);
// Symbols and keywords interned so far (they live for good).
size_t symbol_count();
void for_each_symbol(void (*fn)(Value sym, void* ctx), void* ctx);
Value make_builtin(const char* name, BuiltinFn fn, int min_args, int max_args,
                   uint16_t intrinsic = 0);
Value make_opaque(const OpaqueClass* cls, void* payload);
inline Value make_bool(bool b) { return b ? kTrue : kFalse; }

// Lists -----------------------------------------------------------------------
size_t list_length(Value list);  // counts cells; stops at a non-cons tail
// Builds a list front to back in O(1) per element.
class ListBuilder {
 public:
  explicit ListBuilder(bool quoted = true) : quoted_(quoted) {}
  void push(Value v);
  Value result() const { return head_; }

 private:
  Value head_ = kNil;
  Cons* tail_ = nullptr;
  bool quoted_;
};

// The value after `key` (compared by identity: keywords are interned) in a
// flat plist, or kUnbound when the key is absent. For C++ code reading
// option and request plists; the Lisp plist/* builtins compare with ==.
Value plist_lookup(Value plist, Value key);

// The keyword / type name a value reports to `type` and in error messages.
const char* type_name(Value v);
// What an error message says it got: type_name, except for a partial
// application, which says whose, how many arguments and where it was made.
std::string describe_type(Value v);

// Structural equality (docs/language.md#values): lists element-wise ignoring {} vs (),
// numbers by value across int/float. bool_as_int: true equals 1 and :true,
// false equals 0 and :false (the == builtin, for upstream programs).
bool values_equal(Value a, Value b, bool bool_as_int = false);

// Interned source file names (for SrcLoc::file).
const char* intern_filename(std::string_view name);

}  // namespace valk
