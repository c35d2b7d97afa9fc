// List builtins (docs/language.md#forms). Lists are immutable, so results share the cells
// of their inputs wherever that is safe (join shares its last list, drop and
// tail return a suffix). Every loop is iterative: lists of millions of
// elements must not touch the C stack.
#include "core/dict.h"
#include "lib/builtins.h"

namespace valk {

// Defined in math.cpp.
bool compat_equal(Value a, Value b);
Value fold_list(const char* name, bool product, Value list);

namespace {

// ListBuilder that can also end the list with an existing list, shared.
class SharingBuilder {
 public:
  explicit SharingBuilder(bool quoted) : quoted_(quoted) {}
  void push(Value v) {
    Value cell = cons(v, kNil, quoted_);
    if (tail_)
      tail_->cdr = cell;
    else
      head_ = cell;
    tail_ = as_cons(cell);
  }
  Value finish(Value rest) {
    if (!tail_) return rest;
    tail_->cdr = rest;
    return head_;
  }

 private:
  Value head_ = kNil;
  Cons* tail_ = nullptr;
  bool quoted_;
};

// The style a list result copies from its input; nil counts as {}.
bool style_of(Value list) { return list == kNil || is_qcons(list); }

Value b_list(VM&, Value* args, int argc) {
  ListBuilder lb(true);
  for (int i = 0; i < argc; ++i) lb.push(args[i]);
  return lb.result();
}

Value b_head(VM&, Value* args, int) {
  VALK_CHECK(is_cons(args[0]), "head", 0, "a non-empty list");
  return car(args[0]);
}

Value b_tail(VM&, Value* args, int) {
  VALK_CHECK(is_cons(args[0]), "tail", 0, "a non-empty list");
  return cdr(args[0]);
}

Value b_cons(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[1]), "cons", 1, "a list");
  return cons(args[0], args[1], false);
}

Value b_join(VM&, Value* args, int argc) {
  if (argc == 0) return make_error("join: needs at least one argument");
  VALK_CHECK(is_list(args[0]), "join", 0, "a list");
  // Upstream folds pairwise, so a leading nil takes the style of what follows.
  bool quoted = true;
  for (int i = 0; i < argc; ++i) {
    if (is_cons(args[i])) {
      quoted = is_qcons(args[i]);
      break;
    }
    if (!is_list(args[i])) break;
  }
  SharingBuilder b(quoted);
  int last = argc - 1;
  for (int i = 0; i < last; ++i) {
    if (is_list(args[i])) {
      for (Value p = args[i]; is_cons(p); p = cdr(p)) b.push(car(p));
    } else {
      b.push(args[i]);
    }
  }
  if (is_list(args[last])) return b.finish(args[last]);
  b.push(args[last]);
  return b.finish(kNil);
}

Value b_len(VM&, Value* args, int) {
  if (is_string(args[0])) return make_int(int64_t(as_string(args[0])->len));
  if (is_dict(args[0])) return make_int(as_dict(args[0])->count);
  VALK_CHECK(is_list(args[0]), "len", 0, "a list, string or dict");
  return make_int(int64_t(list_length(args[0])));
}

Value b_init(VM&, Value* args, int) {
  VALK_CHECK(is_cons(args[0]), "init", 0, "a non-empty list");
  ListBuilder lb(style_of(args[0]));
  for (Value p = args[0]; is_cons(cdr(p)); p = cdr(p)) lb.push(car(p));
  return lb.result();
}

Value b_range(VM&, Value* args, int argc) {
  VALK_CHECK(is_int(args[0]), "range", 0, "an integer");
  VALK_CHECK(is_int(args[1]), "range", 1, "an integer");
  int64_t s = int_val(args[0]), e = int_val(args[1]), step = 1;
  if (argc > 2) {
    VALK_CHECK(is_int(args[2]), "range", 2, "an integer");
    step = int_val(args[2]);
    if (step == 0) return make_error("range: step must not be 0");
  }
  // Count first, in unsigned arithmetic, so that the loop never steps past e
  // (which could overflow near the ends of the integer range).
  uint64_t count = 0;
  if (step > 0 && s < e)
    count = (uint64_t(e) - uint64_t(s) - 1) / uint64_t(step) + 1;
  else if (step < 0 && s > e)
    count = (uint64_t(s) - uint64_t(e) - 1) / (0 - uint64_t(step)) + 1;
  // A cell per element, and a box for integers past the small range.
  bool boxed = !fits_fix(s) || !fits_fix(e);
  if (Value err = check_room("range", count, boxed ? 2 * sizeof(Cons) : sizeof(Cons)); err != kNil)
    return err;
  ListBuilder lb(false);
  int64_t v = s;
  for (uint64_t k = 0; k < count; ++k) {
    lb.push(make_int(v));
    if (k + 1 < count) v += step;
  }
  return lb.result();
}

// The n-th element, 1-based. Shared by nth, fst, snd, trd.
Value element(const char* name, int64_t n, Value list) {
  if (!is_list(list)) return bad_arg(name, name[0] == 'n' ? 1 : 0, "a list", list);
  if (n <= 0) return make_errorf("%s: index %lld out of range (indices start at 1)", name,
                                 (long long)n);
  Value p = list;
  for (int64_t i = 1; i < n && is_cons(p); ++i) p = cdr(p);
  if (!is_cons(p))
    return make_errorf("%s: index %lld past the end of a list of length %zu", name,
                       (long long)n, list_length(list));
  return car(p);
}

Value b_nth(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "nth", 0, "an integer");
  return element("nth", int_val(args[0]), args[1]);
}
Value b_fst(VM&, Value* args, int) { return element("fst", 1, args[0]); }
Value b_snd(VM&, Value* args, int) { return element("snd", 2, args[0]); }
Value b_trd(VM&, Value* args, int) { return element("trd", 3, args[0]); }

Value b_last(VM&, Value* args, int) {
  VALK_CHECK(is_cons(args[0]), "last", 0, "a non-empty list");
  Value p = args[0];
  while (is_cons(cdr(p))) p = cdr(p);
  return car(p);
}

Value b_take(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "take", 0, "an integer");
  VALK_CHECK(is_list(args[1]), "take", 1, "a list");
  int64_t n = int_val(args[0]);
  Value p = args[1];
  for (int64_t i = 0; i < n && is_cons(p); ++i) p = cdr(p);
  if (!is_cons(p)) return args[1];  // the whole list: share it
  ListBuilder lb(style_of(args[1]));
  for (Value q = args[1]; q != p; q = cdr(q)) lb.push(car(q));
  return lb.result();
}

Value b_drop(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "drop", 0, "an integer");
  VALK_CHECK(is_list(args[1]), "drop", 1, "a list");
  int64_t n = int_val(args[0]);
  Value p = args[1];
  for (int64_t i = 0; i < n && is_cons(p); ++i) p = cdr(p);
  return p;  // the suffix keeps its own cells' style, as tail does
}

Value b_reverse(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[0]), "reverse", 0, "a list");
  bool quoted = style_of(args[0]);
  Value out = kNil;
  for (Value p = args[0]; is_cons(p); p = cdr(p)) out = cons(car(p), out, quoted);
  return out;
}

Value b_sum(VM&, Value* args, int) { return fold_list("sum", false, args[0]); }
Value b_product(VM&, Value* args, int) { return fold_list("product", true, args[0]); }

Value b_exists(VM&, Value* args, int) {
  VALK_CHECK(is_list(args[1]), "exists", 1, "a list");
  for (Value p = args[1]; is_cons(p); p = cdr(p))
    if (compat_equal(car(p), args[0])) return kTrue;
  return kFalse;
}

Value b_is_list(VM&, Value* args, int) { return make_bool(is_list(args[0])); }
Value b_is_nil(VM&, Value* args, int) { return make_bool(args[0] == kNil); }

}  // namespace

void open_lists(VM&) {
  define("list", guarded<b_list>, 0, -1);
  // What a keyword-headed {...} body compiles to (compiler.cpp, body_forms): a name no program
  // shadows.
  define("%list", guarded<b_list>, 0, -1);
  define("head", guarded<b_head>, 1, 1);
  define("first", guarded<b_head>, 1, 1);
  define("tail", guarded<b_tail>, 1, 1);
  define("rest", guarded<b_tail>, 1, 1);
  define("cons", guarded<b_cons>, 2, 2);
  define("join", guarded<b_join>, 0, -1);  // (join) reports its own error
  define("append", guarded<b_join>, 0, -1);
  define("len", guarded<b_len>, 1, 1);
  define("init", guarded<b_init>, 1, 1);
  define("range", guarded<b_range>, 2, 3);
  define("nth", guarded<b_nth>, 2, 2);
  define("fst", guarded<b_fst>, 1, 1);
  define("snd", guarded<b_snd>, 1, 1);
  define("trd", guarded<b_trd>, 1, 1);
  define("last", guarded<b_last>, 1, 1);
  define("take", guarded<b_take>, 2, 2);
  define("drop", guarded<b_drop>, 2, 2);
  define("reverse", guarded<b_reverse>, 1, 1);
  define("sum", guarded<b_sum>, 1, 1);
  define("product", guarded<b_product>, 1, 1);
  define("exists", guarded<b_exists>, 2, 2);
  define("list?", guarded<b_is_list>, 1, 1);
  define("nil?", guarded<b_is_nil>, 1, 1);
}

}  // namespace valk
