// Value constructors, interning, equality.
#include "core/value.h"

#include <gc/gc.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace valk {

void* gc_alloc(size_t bytes) { return GC_MALLOC(bytes); }
void* gc_alloc_atomic(size_t bytes) { return GC_MALLOC_ATOMIC(bytes); }

Value make_int(int64_t i) {
  if (fits_fix(i)) return make_fix(i);
  auto* o = static_cast<Int*>(gc_alloc_atomic(sizeof(Int)));
  o->h = {Type::Int, 0, 0, 0};
  o->v = i;
  return obj_val(o);
}

Value make_float(double d) {
  auto* o = static_cast<Float*>(gc_alloc_atomic(sizeof(Float)));
  o->h = {Type::Float, 0, 0, 0};
  o->v = d;
  return obj_val(o);
}

Value make_string_uninit(size_t len, char** out) {
  auto* o = static_cast<String*>(gc_alloc_atomic(sizeof(String) + len + 1));
  o->h = {Type::String, 0, 0, 0};
  o->len = len;
  o->data[len] = 0;
  *out = o->data;
  return obj_val(o);
}

Value make_string(std::string_view s) {
  char* p;
  Value v = make_string_uninit(s.size(), &p);
  if (!s.empty()) memcpy(p, s.data(), s.size());
  return v;
}

// Cons cells are the most common allocation: take them from a batch that
// GC_malloc_many hands out, linked through their first word. The batch is
// reachable from this static, so the collector does not reclaim it.
namespace {
void* g_cons_batch = nullptr;
}

Value cons(Value a, Value d, bool quoted) {
  if (!g_cons_batch) g_cons_batch = GC_malloc_many(sizeof(Cons));
  auto* c = static_cast<Cons*>(g_cons_batch);
  if (!c) {
    fprintf(stderr, "valk: out of memory\n");
    abort();
  }
  g_cons_batch = GC_NEXT(c);
  c->car = a;
  c->cdr = d;
  return reinterpret_cast<Value>(c) | (quoted ? 6 : 4);
}

Value make_error(Value message) {
  auto* e = static_cast<Error*>(gc_alloc(sizeof(Error)));
  e->h = {Type::Error, 0, 0, 0};
  e->message = message;
  e->loc = {nullptr, 0, 0};
  return obj_val(e);
}

Value make_error(std::string_view message) { return make_error(make_string(message)); }

Value make_errorf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (size_t(n) >= sizeof buf) n = sizeof buf - 1;
  return make_error(std::string_view(buf, size_t(n)));
}

namespace {
struct SymbolTable {
  // Symbols are uncollectable: the table is malloc memory the GC cannot see.
  std::unordered_map<std::string_view, Symbol*> map;
};
SymbolTable& symtab() {
  static SymbolTable* t = new SymbolTable;
  return *t;
}
}  // namespace

Value intern(std::string_view name) {
  auto& t = symtab();
  auto it = t.map.find(name);
  if (it != t.map.end()) return obj_val(it->second);
  auto* s = static_cast<Symbol*>(GC_MALLOC_UNCOLLECTABLE(sizeof(Symbol) + name.size() + 1));
  s->h = {Type::Symbol, uint8_t(!name.empty() && name[0] == ':' ? kSymKeyword : 0), 0, 0};
  s->global = kUnbound;
  s->len = uint32_t(name.size());
  s->hash = uint32_t(std::hash<std::string_view>{}(name));
  memcpy(s->name, name.data(), name.size());
  s->name[name.size()] = 0;
  t.map.emplace(s->view(), s);
  return obj_val(s);
}

Value make_builtin(const char* name, BuiltinFn fn, int min_args, int max_args,
                   uint16_t intrinsic) {
  auto* b = static_cast<Builtin*>(GC_MALLOC_UNCOLLECTABLE(sizeof(Builtin)));
  b->h = {Type::Builtin, 0, intrinsic, 0};
  b->fn = fn;
  b->name = name;
  b->min_args = int16_t(min_args);
  b->max_args = int16_t(max_args);
  return obj_val(b);
}

Value make_opaque(const OpaqueClass* cls, void* payload) {
  auto* o = static_cast<Opaque*>(gc_alloc(sizeof(Opaque)));
  o->h = {Type::Opaque, 0, 0, 0};
  o->cls = cls;
  o->payload = payload;
  return obj_val(o);
}

size_t list_length(Value list) {
  size_t n = 0;
  while (is_cons(list)) {
    ++n;
    list = cdr(list);
  }
  return n;
}

void ListBuilder::push(Value v) {
  Value cell = cons(v, kNil, quoted_);
  if (tail_)
    tail_->cdr = cell;
  else
    head_ = cell;
  tail_ = as_cons(cell);
}

Value plist_lookup(Value plist, Value key) {
  for (Value p = plist; is_cons(p) && is_cons(cdr(p)); p = cdr(cdr(p)))
    if (car(p) == key) return car(cdr(p));
  return kUnbound;
}

const char* type_name(Value v) {
  if (is_fix(v)) return "integer";
  if (v == kNil) return "nil";
  if (v == kTrue || v == kFalse) return "boolean";
  if (is_cons(v)) return "list";
  if (!is_obj(v)) return "unbound";
  switch (as_obj(v)->type) {
    case Type::Int: return "integer";
    case Type::Float: return "float";
    case Type::String: return "string";
    case Type::Symbol: return is_keyword(v) ? "keyword" : "symbol";
    case Type::Builtin:
    case Type::Closure:
    case Type::Partial:
    case Type::Continuation: return "function";
    case Type::Error: return "error";
    case Type::Env: return "env";
    case Type::Proto: return "proto";
    case Type::Opaque: return reinterpret_cast<Opaque*>(v)->cls->name;
  }
  return "unknown";
}

// Iterative (an explicit stack of list pairs still to compare), so deeply
// nested lists compare without touching the C stack.
bool values_equal(Value a, Value b, bool bool_as_int) {
  std::vector<std::pair<Value, Value>> pending_pairs;
  for (;;) {
    bool same;
    if (a == b) {
      same = true;
    } else if (bool_as_int && is_bool(a) && is_number(b)) {
      same = num_as_double(b) == (a == kTrue ? 1.0 : 0.0);
    } else if (bool_as_int && is_number(a) && is_bool(b)) {
      same = num_as_double(a) == (b == kTrue ? 1.0 : 0.0);
    } else if (is_number(a) && is_number(b)) {
      same = is_int(a) && is_int(b) ? int_val(a) == int_val(b) : num_as_double(a) == num_as_double(b);
    } else if (is_cons(a) && is_cons(b)) {
      pending_pairs.push_back({cdr(a), cdr(b)});
      a = car(a);
      b = car(b);
      continue;
    } else if (is_obj(a) && is_obj(b) && as_obj(a)->type == as_obj(b)->type) {
      switch (as_obj(a)->type) {
        case Type::String: same = as_string(a)->view() == as_string(b)->view(); break;
        case Type::Error:
          // Compare messages (which may themselves be lists): queue them.
          a = as_error(a)->message;
          b = as_error(b)->message;
          continue;
        default: same = false; break;
      }
    } else {
      same = false;
    }
    if (!same) return false;
    if (pending_pairs.empty()) return true;
    a = pending_pairs.back().first;
    b = pending_pairs.back().second;
    pending_pairs.pop_back();
  }
}

const char* intern_filename(std::string_view name) {
  static auto* names = new std::unordered_set<std::string>;
  return names->emplace(name).first->c_str();
}

}  // namespace valk
