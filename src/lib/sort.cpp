// Sorting in the default order (docs/language.md#sorting): the C++ half of
// sort and sort-by, which are written in lib/valk/prelude.valk (a comparator
// is Lisp code, which a builtin cannot call).
//
// The default order: numbers by value (integers and floats together, NaN
// after every other number), strings bytewise, keywords by name; one kind per
// list. Always stable.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "lib/builtins.h"

namespace valk {
namespace {

enum class Kind { Number, String, Keyword, None };

Kind kind_of(Value v) {
  if (is_number(v)) return Kind::Number;
  if (is_string(v)) return Kind::String;
  if (is_keyword(v)) return Kind::Keyword;
  return Kind::None;
}

const char* article(const char* noun) {
  return strchr("aeiou", noun[0]) && noun[0] ? "an" : "a";
}

// Copies a list's elements into xs; false when it is not a proper list.
bool collect(Value list, std::vector<Value>& xs) {
  Value p = list;
  for (; is_cons(p); p = cdr(p)) xs.push_back(car(p));
  return p == kNil;
}

// The kind every one of xs has, or the error: an element that is an error is
// returned as it is (errors travel outward); one without a default order, or
// of another kind than the first, gets an error naming fn and its position.
Value common_kind(const char* fn, const char* what, const std::vector<Value>& xs, Kind* kind) {
  *kind = Kind::None;
  for (size_t i = 0; i < xs.size(); ++i) {
    Value v = xs[i];
    if (is_error(v)) return v;
    Kind k = kind_of(v);
    if (k == Kind::None) {
      const char* t = type_name(v);
      return make_errorf("%s: %s %zu is %s %s, which has no default order (numbers, strings and "
                         "keywords have one; give %s a comparator)",
                         fn, what, i + 1, article(t), t, fn);
    }
    if (i == 0) {
      *kind = k;
    } else if (k != *kind) {
      const char *t = type_name(v), *t0 = type_name(xs[0]);
      return make_errorf("%s: %s %zu is %s %s but %s 1 is %s %s: the default order compares "
                         "numbers, strings or keywords, one kind at a time",
                         fn, what, i + 1, article(t), t, what, article(t0), t0);
    }
  }
  return kNil;
}

// Numbers by value, exactly (long double holds every int64 and double); NaN last.
bool num_less(Value a, Value b) {
  if (is_fix(a) && is_fix(b)) return int64_t(a) < int64_t(b);  // same order as the integers
  long double x = is_float(a) ? (long double)float_val(a) : (long double)int_val(a);
  long double y = is_float(b) ? (long double)float_val(b) : (long double)int_val(b);
  if (std::isnan(x)) return false;
  if (std::isnan(y)) return true;
  return x < y;
}

std::string_view name_of(Value v) {
  return is_string(v) ? as_string(v)->view() : as_symbol(v)->view();
}

bool text_less(Value a, Value b) { return name_of(a) < name_of(b); }

bool all_fix(const std::vector<Value>& xs) {
  for (Value v : xs)
    if (!is_fix(v)) return false;
  return true;
}

// The list style a result copies from its input; nil counts as {}.
bool style_of(Value list) { return list == kNil || is_qcons(list); }

Value build(const std::vector<Value>& xs, bool quoted) {
  ListBuilder lb(quoted);
  for (Value v : xs) lb.push(v);
  return lb.result();
}

// (%sort-default list): sorted in the default order.
Value b_sort_default(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[0]), "sort", 0, "a list");
  std::vector<Value> xs;
  if (!collect(args[0], xs)) return bad_arg("sort", 0, "a proper list", args[0]);
  Kind kind;
  if (Value err = common_kind("sort", "element", xs, &kind); err != kNil) return err;
  if (kind == Kind::Number) {
    if (all_fix(xs)) {
      // Equal small integers are the same value: no stability to keep.
      std::sort(xs.begin(), xs.end(),
                [](Value a, Value b) { return int64_t(a) < int64_t(b); });
    } else {
      std::stable_sort(xs.begin(), xs.end(), num_less);
    }
  } else if (kind != Kind::None) {
    std::stable_sort(xs.begin(), xs.end(), text_less);
  }
  return build(xs, style_of(args[0]));
}

// (%sort-by-keys keys values): values ordered by their keys (same length),
// stably, in the default order of the keys.
Value b_sort_by_keys(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[0]), "sort-by", 0, "a list");
  VALK_CHECK(is_list(args[1]), "sort-by", 1, "a list");
  std::vector<Value> keys, vals;
  if (!collect(args[0], keys)) return bad_arg("sort-by", 0, "a proper list", args[0]);
  if (!collect(args[1], vals)) return bad_arg("sort-by", 1, "a proper list", args[1]);
  if (keys.size() != vals.size())
    return make_errorf("sort-by: %zu keys for %zu values", keys.size(), vals.size());
  Kind kind;
  if (Value err = common_kind("sort-by", "key", keys, &kind); err != kNil) return err;
  std::vector<uint32_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(i);
  if (kind == Kind::Number && all_fix(keys)) {
    std::vector<std::pair<int64_t, uint32_t>> kv(keys.size());
    for (size_t i = 0; i < kv.size(); ++i) kv[i] = {int64_t(keys[i]), uint32_t(i)};
    std::sort(kv.begin(), kv.end());  // the index breaks ties: stable
    for (size_t i = 0; i < kv.size(); ++i) order[i] = kv[i].second;
  } else if (kind == Kind::Number) {
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return num_less(keys[a], keys[b]); });
  } else if (kind != Kind::None) {
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return text_less(keys[a], keys[b]); });
  }
  ListBuilder lb(style_of(args[1]));
  for (uint32_t i : order) lb.push(vals[i]);
  return lb.result();
}

// (%revappend a b): the elements of a reversed, in front of b (shared). The
// merge step of the prelude's merge sort.
Value b_revappend(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[0]), "%revappend", 0, "a list");
  VALK_CHECK(is_list(args[1]), "%revappend", 1, "a list");
  Value out = args[1];
  for (Value p = args[0]; is_cons(p); p = cdr(p)) out = cons(car(p), out, true);
  return out;
}

}  // namespace

void open_sort(VM&) {
  define("%sort-default", guarded<b_sort_default>, 1, 1);
  define("%sort-by-keys", guarded<b_sort_by_keys>, 2, 2);
  define("%revappend", guarded<b_revappend>, 2, 2);
}

}  // namespace valk
