// dict and dict/*: the hash-map value's builtins (docs/language.md#dicts).
//
// Values stored in a dict may be anything, errors included (as in a list);
// an error given as a key is returned instead: a key computed by failing
// code is a bug to report, not a key to store.
#include "core/dict.h"
#include "lib/builtins.h"

namespace valk {

namespace {

#define VALK_CHECK_KEY(i) \
  do {                      \
    if (is_error(args[i])) return args[i]; \
  } while (0)

Value b_dict(VM&, Value* args, int argc) {
  if (argc % 2 != 0)
    return make_errorf("dict: expected keys and values in pairs, got %d arguments", argc);
  for (int i = 0; i < argc; i += 2) VALK_CHECK_KEY(i);
  Value d = make_dict(uint32_t(argc / 2));
  for (int i = 0; i < argc; i += 2) dict_set(as_dict(d), args[i], args[i + 1]);
  return d;
}

Value b_is_dict(VM&, Value* args, int) { return make_bool(is_dict(args[0])); }

// (dict/get d k [default]): default (or nil) when k is absent.
Value b_get(VM&, Value* args, int argc) {
  VALK_CHECK(is_dict(args[0]), "dict/get", 0, "a dict");
  VALK_CHECK_KEY(1);
  Value v = dict_get(as_dict(args[0]), args[1]);
  return v != kUnbound ? v : argc > 2 ? args[2] : kNil;
}

Value b_set(VM&, Value* args, int) {
  VALK_CHECK(is_dict(args[0]), "dict/set!", 0, "a dict");
  VALK_CHECK_KEY(1);
  dict_set(as_dict(args[0]), args[1], args[2]);
  return args[0];
}

Value b_del(VM&, Value* args, int) {
  VALK_CHECK(is_dict(args[0]), "dict/del!", 0, "a dict");
  VALK_CHECK_KEY(1);
  dict_del(as_dict(args[0]), args[1]);
  return args[0];
}

Value b_has(VM&, Value* args, int) {
  VALK_CHECK(is_dict(args[0]), "dict/has?", 0, "a dict");
  VALK_CHECK_KEY(1);
  return make_bool(dict_get(as_dict(args[0]), args[1]) != kUnbound);
}

Value b_len(VM&, Value* args, int) {
  VALK_CHECK(is_dict(args[0]), "dict/len", 0, "a dict");
  return make_int(as_dict(args[0])->count);
}

Value b_keys(VM&, Value* args, int) {
  VALK_CHECK(is_dict(args[0]), "dict/keys", 0, "a dict");
  ListBuilder lb(true);
  dict_for_each(as_dict(args[0]), [&](Value k, Value) { lb.push(k); });
  return lb.result();
}

Value b_vals(VM&, Value* args, int) {
  VALK_CHECK(is_dict(args[0]), "dict/vals", 0, "a dict");
  ListBuilder lb(true);
  dict_for_each(as_dict(args[0]), [&](Value, Value v) { lb.push(v); });
  return lb.result();
}

// (dict/merge d1 d2 ...): a new dict; a later dict's value wins.
Value b_merge(VM&, Value* args, int argc) {
  for (int i = 0; i < argc; ++i) VALK_CHECK(is_dict(args[i]), "dict/merge", i, "a dict");
  Value out = dict_copy(as_dict(args[0]));
  for (int i = 1; i < argc; ++i)
    dict_for_each(as_dict(args[i]), [&](Value k, Value v) { dict_set(as_dict(out), k, v); });
  return out;
}

Value b_to_plist(VM&, Value* args, int) {
  VALK_CHECK(is_dict(args[0]), "dict->plist", 0, "a dict");
  ListBuilder lb(true);
  dict_for_each(as_dict(args[0]), [&](Value k, Value v) {
    lb.push(k);
    lb.push(v);
  });
  return lb.result();
}

Value b_from_plist(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[0]), "plist->dict", 0, "a plist");
  size_t n = list_length(args[0]);
  Value tail = args[0];
  for (size_t i = 0; i < n; ++i) tail = cdr(tail);
  if (tail != kNil) return make_error("plist->dict: argument 1 is an improper list");
  if (n % 2 != 0)
    return make_errorf("plist->dict: a plist has keys and values in pairs, got %zu elements", n);
  Value d = make_dict(uint32_t(n / 2));
  for (Value p = args[0]; is_cons(p); p = cdr(cdr(p))) {
    if (is_error(car(p))) return car(p);
    dict_set(as_dict(d), car(p), car(cdr(p)));
  }
  return d;
}

}  // namespace

void open_dicts(VM&) {
  define("dict", guarded<b_dict>, 0, -1);
  define("dict?", b_is_dict, 1, 1);
  define("dict/get", b_get, 2, 3);
  define("dict/set!", guarded<b_set>, 3, 3);
  define("dict/del!", guarded<b_del>, 2, 2);
  define("dict/has?", b_has, 2, 2);
  define("dict/len", b_len, 1, 1);
  define("dict/keys", guarded<b_keys>, 1, 1);
  define("dict/vals", guarded<b_vals>, 1, 1);
  define("dict/merge", guarded<b_merge>, 1, -1);
  define("dict->plist", guarded<b_to_plist>, 1, 1);
  define("plist->dict", guarded<b_from_plist>, 1, 1);
}

}  // namespace valk
