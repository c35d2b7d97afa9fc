// Arithmetic, comparison and numeric builtins (docs/language.md#values).
//
// Integers are 64-bit and overflow is an error, never a wrap. Any float
// operand makes the rest of a fold float. Small-integer operands take a fast
// path that cannot overflow (two 63-bit values always fit in 64 bits).
#include <cmath>
#include <cstdint>

#include "lib/builtins.h"

namespace valk {

// == with upstream's booleans: upstream had no booleans and used 1 and 0, so
// programs written for it compare results against 1 and 0. Lists compare
// element-wise with the same rule. Shared with lists.cpp (exists).
bool compat_equal(Value a, Value b) { return values_equal(a, b, true); }

namespace {

enum class Op { Add, Sub, Mul, Div, Mod };

Value overflow_error() { return make_error("integer overflow"); }
Value div_zero_error() { return make_error("division by zero"); }

// Running result of a fold: integer until a float operand shows up.
struct Num {
  bool flt = false;
  int64_t i = 0;
  double f = 0;

  explicit Num(Value v) {
    if (is_float(v)) {
      flt = true;
      f = float_val(v);
    } else {
      i = int_val(v);
    }
  }
  Value value() const { return flt ? make_float(f) : make_int(i); }
};

// acc = acc op v for a number v. Returns kNil, or the error to report.
Value step(Num& acc, Op op, Value v) {
  if (!acc.flt && is_int(v)) {
    int64_t b = int_val(v);
    switch (op) {
      case Op::Add:
        if (__builtin_add_overflow(acc.i, b, &acc.i)) return overflow_error();
        break;
      case Op::Sub:
        if (__builtin_sub_overflow(acc.i, b, &acc.i)) return overflow_error();
        break;
      case Op::Mul:
        if (__builtin_mul_overflow(acc.i, b, &acc.i)) return overflow_error();
        break;
      case Op::Div:
        if (b == 0) return div_zero_error();
        if (acc.i == INT64_MIN && b == -1) return overflow_error();
        acc.i /= b;  // C++ truncates toward zero
        break;
      case Op::Mod:
        if (b == 0) return div_zero_error();
        acc.i = b == -1 ? 0 : acc.i % b;  // INT64_MIN % -1 traps in hardware
        break;
    }
    return kNil;
  }
  double a = acc.flt ? acc.f : double(acc.i);
  double b = num_as_double(v);
  acc.flt = true;
  switch (op) {
    case Op::Add: acc.f = a + b; break;
    case Op::Sub: acc.f = a - b; break;
    case Op::Mul: acc.f = a * b; break;
    case Op::Div:
      if (b == 0) return div_zero_error();
      acc.f = a / b;
      break;
    case Op::Mod:
      if (b == 0) return div_zero_error();
      acc.f = std::fmod(a, b);
      break;
  }
  return kNil;
}

Value arith(const char* name, Op op, Value* args, int argc) {
  if (argc == 2 && is_fix(args[0]) && is_fix(args[1])) {
    int64_t a = fix_val(args[0]), b = fix_val(args[1]);
    switch (op) {
      case Op::Add: return make_int(a + b);
      case Op::Sub: return make_int(a - b);
      case Op::Mul: {
        int64_t r;
        if (__builtin_mul_overflow(a, b, &r)) return overflow_error();
        return make_int(r);
      }
      default: break;  // division needs the zero checks in step()
    }
  }
  if (argc == 0) return make_fix(op == Op::Mul ? 1 : 0);
  for (int i = 0; i < argc; ++i) VALK_CHECK(is_number(args[i]), name, i, "a number");
  if (argc == 1 && op == Op::Sub) {
    if (is_float(args[0])) return make_float(-float_val(args[0]));
    int64_t a = int_val(args[0]);
    if (a == INT64_MIN) return overflow_error();
    return make_int(-a);
  }
  Num acc(args[0]);
  for (int i = 1; i < argc; ++i) {
    Value err = step(acc, op, args[i]);
    if (err != kNil) return err;
  }
  return acc.value();
}

}  // namespace

// sum / product of a list (registered in lists.cpp): the same fold as + and *.
Value fold_list(const char* name, bool product, Value list) {
  if (!is_list(list)) return bad_arg(name, 0, "a list", list);
  Num acc(make_fix(product ? 1 : 0));
  size_t index = 0;
  for (Value p = list; is_cons(p); p = cdr(p), ++index) {
    Value v = car(p);
    if (!is_number(v)) {
      if (is_error(v)) return v;
      return make_errorf("%s: element %zu must be a number, got %s", name, index + 1,
                         describe_type(v).c_str());
    }
    Value err = step(acc, product ? Op::Mul : Op::Add, v);
    if (err != kNil) return err;
  }
  return acc.value();
}

namespace {

Value b_add(VM&, Value* args, int argc) { return arith("+", Op::Add, args, argc); }
Value b_sub(VM&, Value* args, int argc) { return arith("-", Op::Sub, args, argc); }
Value b_mul(VM&, Value* args, int argc) { return arith("*", Op::Mul, args, argc); }
Value b_div(VM&, Value* args, int argc) { return arith("/", Op::Div, args, argc); }
Value b_mod(VM&, Value* args, int argc) { return arith("%", Op::Mod, args, argc); }

// Three-way comparison of two numbers or two strings: -1, 0, 1, or 2 when
// unordered (a NaN is involved).
int compare3(Value a, Value b) {
  if (is_string(a)) {
    int c = as_string(a)->view().compare(as_string(b)->view());  // bytewise, unsigned
    return c < 0 ? -1 : c > 0;
  }
  if (is_int(a) && is_int(b)) {
    int64_t x = int_val(a), y = int_val(b);
    return x < y ? -1 : x > y;
  }
  double x = num_as_double(a), y = num_as_double(b);
  if (x < y) return -1;
  if (x > y) return 1;
  if (x == y) return 0;
  return 2;
}

// Checks that args[i] can be compared with args[0] (numbers with numbers,
// strings with strings). Returns kNil or the error.
Value check_comparable(const char* name, Value* args, int i) {
  if (is_number(args[0])) {
    if (!is_number(args[i])) return bad_arg(name, i, "a number", args[i]);
  } else if (is_string(args[0])) {
    if (!is_string(args[i])) return bad_arg(name, i, "a string", args[i]);
  } else {
    return bad_arg(name, 0, "a number or string", args[0]);
  }
  return kNil;
}

enum class Cmp { Lt, Gt, Le, Ge };

Value compare_chain(const char* name, Cmp c, Value* args, int argc) {
  if (is_fix(args[0]) && is_fix(args[1]) && argc == 2) {
    int64_t a = fix_val(args[0]), b = fix_val(args[1]);
    switch (c) {
      case Cmp::Lt: return make_bool(a < b);
      case Cmp::Gt: return make_bool(a > b);
      case Cmp::Le: return make_bool(a <= b);
      case Cmp::Ge: return make_bool(a >= b);
    }
  }
  for (int i = 0; i < argc; ++i) {
    Value err = check_comparable(name, args, i);
    if (err != kNil) return err;
  }
  bool ok = true;
  for (int i = 0; ok && i + 1 < argc; ++i) {
    int r = compare3(args[i], args[i + 1]);
    switch (c) {
      case Cmp::Lt: ok = r == -1; break;
      case Cmp::Gt: ok = r == 1; break;
      case Cmp::Le: ok = r == -1 || r == 0; break;
      case Cmp::Ge: ok = r == 1 || r == 0; break;
    }
  }
  return make_bool(ok);
}

Value b_lt(VM&, Value* args, int argc) { return compare_chain("<", Cmp::Lt, args, argc); }
Value b_gt(VM&, Value* args, int argc) { return compare_chain(">", Cmp::Gt, args, argc); }
Value b_le(VM&, Value* args, int argc) { return compare_chain("<=", Cmp::Le, args, argc); }
Value b_ge(VM&, Value* args, int argc) { return compare_chain(">=", Cmp::Ge, args, argc); }

// (== a b c ...): all equal (calls with two arguments are compiled inline).
Value b_eq(VM&, Value* args, int argc) {
  for (int i = 1; i < argc; ++i)
    if (!compat_equal(args[0], args[i])) return kFalse;
  return kTrue;
}
Value b_ne(VM&, Value* args, int) { return make_bool(!compat_equal(args[0], args[1])); }

Value b_ord(VM&, Value* args, int) {
  Value err = check_comparable("ord", args, 1);
  if (err != kNil) return err;
  int r = compare3(args[0], args[1]);
  return make_fix(r == 2 ? 0 : r);
}

Value extremum(const char* name, bool want_max, Value* args, int argc) {
  for (int i = 0; i < argc; ++i) VALK_CHECK(is_number(args[i]), name, i, "a number");
  Value best = args[0];
  for (int i = 1; i < argc; ++i) {
    int r = compare3(args[i], best);
    if (want_max ? r == 1 : r == -1) best = args[i];
  }
  return best;
}

Value b_min(VM&, Value* args, int argc) { return extremum("min", false, args, argc); }
Value b_max(VM&, Value* args, int argc) { return extremum("max", true, args, argc); }

Value b_abs(VM&, Value* args, int) {
  VALK_CHECK(is_number(args[0]), "abs", 0, "a number");
  if (is_float(args[0])) return make_float(std::fabs(float_val(args[0])));
  int64_t a = int_val(args[0]);
  if (a == INT64_MIN) return overflow_error();
  return a < 0 ? make_int(-a) : args[0];
}

// Float to integer after rounding; integers pass through unchanged.
Value to_int(const char* name, double (*round_fn)(double), Value* args) {
  VALK_CHECK(is_number(args[0]), name, 0, "a number");
  if (is_int(args[0])) return args[0];
  double d = round_fn(float_val(args[0]));
  // 2^63 is exactly representable; anything at or past it does not fit.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
    return make_errorf("%s: %g does not fit in an integer", name, float_val(args[0]));
  return make_int(int64_t(d));
}

double c_floor(double d) { return std::floor(d); }
double c_ceil(double d) { return std::ceil(d); }
double c_round(double d) { return std::round(d); }  // halves away from zero

Value b_floor(VM&, Value* args, int) { return to_int("floor", c_floor, args); }
Value b_ceil(VM&, Value* args, int) { return to_int("ceil", c_ceil, args); }
Value b_round(VM&, Value* args, int) { return to_int("round", c_round, args); }

Value b_sqrt(VM&, Value* args, int) {
  VALK_CHECK(is_number(args[0]), "sqrt", 0, "a number");
  double d = num_as_double(args[0]);
  if (d < 0) return make_error("sqrt: negative argument");
  return make_float(std::sqrt(d));
}

Value b_pow(VM&, Value* args, int) {
  VALK_CHECK(is_number(args[0]), "pow", 0, "a number");
  VALK_CHECK(is_number(args[1]), "pow", 1, "a number");
  return make_float(std::pow(num_as_double(args[0]), num_as_double(args[1])));
}

Value b_is_number(VM&, Value* args, int) { return make_bool(is_number(args[0])); }
Value b_is_int(VM&, Value* args, int) { return make_bool(is_int(args[0])); }
Value b_is_float(VM&, Value* args, int) { return make_bool(is_float(args[0])); }

}  // namespace

void open_math(VM&) {
  define("+", guarded<b_add>, 0, -1);
  define("-", guarded<b_sub>, 1, -1);
  define("*", guarded<b_mul>, 0, -1);
  define("/", guarded<b_div>, 1, -1);
  define("%", guarded<b_mod>, 2, 2);
  define("<", guarded<b_lt>, 2, -1);
  define(">", guarded<b_gt>, 2, -1);
  define("<=", guarded<b_le>, 2, -1);
  define(">=", guarded<b_ge>, 2, -1);
  define("==", guarded<b_eq>, 2, -1);
  define("!=", guarded<b_ne>, 2, 2);
  define("ord", guarded<b_ord>, 2, 2);
  define("min", guarded<b_min>, 1, -1);
  define("max", guarded<b_max>, 1, -1);
  define("abs", guarded<b_abs>, 1, 1);
  define("floor", guarded<b_floor>, 1, 1);
  define("ceil", guarded<b_ceil>, 1, 1);
  define("round", guarded<b_round>, 1, 1);
  define("sqrt", guarded<b_sqrt>, 1, 1);
  define("pow", guarded<b_pow>, 2, 2);
  define("number?", guarded<b_is_number>, 1, 1);
  define("int?", guarded<b_is_int>, 1, 1);
  define("integer?", guarded<b_is_int>, 1, 1);
  define("float?", guarded<b_is_float>, 1, 1);
}

}  // namespace valk
