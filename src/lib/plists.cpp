// Property lists: flat lists of alternating keys and values, {:a 1 :b 2}.
// Keys compare with values_equal; keywords, being interned, match at once.
// A trailing key without a value is ignored by the lookups.
#include "core/dict.h"
#include "lib/builtins.h"

namespace valk {
namespace {

bool style_of(Value list) { return list == kNil || is_qcons(list); }

// The cell holding the key of the first pair whose key equals k, or kNil.
Value find_pair(Value pl, Value k) {
  for (Value p = pl; is_cons(p) && is_cons(cdr(p)); p = cdr(cdr(p)))
    if (values_equal(car(p), k)) return p;
  return kNil;
}

Value b_get(VM&, Value* args, int) {
  if (is_error(args[0])) return args[0];
  if (!is_list(args[0])) return kNil;  // upstream: not a plist means no value
  Value p = find_pair(args[0], args[1]);
  return p == kNil ? kNil : car(cdr(p));
}

Value b_has(VM&, Value* args, int) {
  if (is_error(args[0])) return args[0];
  if (!is_list(args[0])) return kFalse;
  return make_bool(find_pair(args[0], args[1]) != kNil);
}

// (get pl k [default]): default (or nil) when k is absent.
Value b_get_default(VM&, Value* args, int argc) {
  if (is_error(args[0])) return args[0];
  Value fallback = argc > 2 ? args[2] : kNil;
  if (is_dict(args[0])) {
    if (is_error(args[1])) return args[1];
    Value v = dict_get(as_dict(args[0]), args[1]);
    return v == kUnbound ? fallback : v;
  }
  if (!is_list(args[0])) return fallback;
  Value p = find_pair(args[0], args[1]);
  return p == kNil ? fallback : car(cdr(p));
}

Value b_set(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[0]), "plist/set", 0, "a plist");
  Value pl = args[0], k = args[1], v = args[2];
  Value hit = find_pair(pl, k);
  ListBuilder lb(style_of(pl));
  for (Value p = pl; is_cons(p); p = cdr(p)) {
    if (p == hit) {
      lb.push(car(p));
      lb.push(v);
      p = cdr(p);  // skip the old value
    } else {
      lb.push(car(p));
    }
  }
  if (hit == kNil) {
    lb.push(k);
    lb.push(v);
  }
  return lb.result();
}

Value b_remove(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[0]), "plist/remove", 0, "a plist");
  ListBuilder lb(style_of(args[0]));
  for (Value p = args[0]; is_cons(p); p = cdr(p)) {
    if (is_cons(cdr(p)) && values_equal(car(p), args[1])) {
      p = cdr(p);
      continue;
    }
    lb.push(car(p));
    if (is_cons(cdr(p))) {
      p = cdr(p);
      lb.push(car(p));
    }
  }
  return lb.result();
}

// Every other element, from offset 0 (keys) or 1 (values).
Value every_other(const char* name, Value pl, int offset) {
  if (!is_list(pl)) return bad_arg(name, 0, "a plist", pl);
  ListBuilder lb(true);
  for (Value p = pl; is_cons(p) && is_cons(cdr(p)); p = cdr(cdr(p)))
    lb.push(offset == 0 ? car(p) : car(cdr(p)));
  return lb.result();
}

Value b_keys(VM&, Value* args, int) { return every_other("plist/keys", args[0], 0); }
Value b_vals(VM&, Value* args, int) { return every_other("plist/vals", args[0], 1); }

}  // namespace

void open_plists(VM&) {
  define("plist/get", guarded<b_get>, 2, 2);
  define("plist/set", guarded<b_set>, 3, 3);
  define("plist/has?", guarded<b_has>, 2, 2);
  define("plist/keys", guarded<b_keys>, 1, 1);
  define("plist/vals", guarded<b_vals>, 1, 1);
  define("plist/remove", guarded<b_remove>, 2, 2);
  define("get", guarded<b_get_default>, 2, 3);
}

}  // namespace valk
