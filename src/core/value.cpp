// Value constructors, interning, equality.
#include "core/value.h"

#include "core/dict.h"
#include "core/printer.h"

#include <gc/gc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "lib/builtins.h"

namespace valk {

// ---- allocation and the heap limit -------------------------------------------
// The collector returns NULL once a full collection frees too little and the
// heap may not grow past its maximum. Inside a guarded builtin (builtins.h)
// that becomes HeapExhausted and then an error value. Elsewhere (the VM's
// frames, closures and environments, the errors it makes, the compiler, the
// async runtime, the HTTP code, and every direct GC_MALLOC outside this
// file) there is no way back to the program. For those a reserve block is
// held under the limit (pointer-free and never written, so it costs address
// space, not RAM): when the VM runs out, the reserve is let go so that it
// can go on, and until it can be had again every guarded builtin fails with
// the out-of-memory error, which carries the failure out of the program's
// loops. Running out with no reserve left ends the process with a message
// and status 1 (it never aborts). Memory from malloc (std::string, libuv,
// curl, OpenSSL) is not under the limit at all.
namespace {
std::atomic<int64_t> g_limit{0};    // bytes; 0: no limit
std::atomic<int64_t> g_reserve{0};  // size of the reserve block
void* g_ballast = nullptr;          // the reserve block (a static: a root)
GC_word g_emergency_gc = 0;  // collection count at the last try to get it back
Value g_oom_error = 0;  // made in advance: the error when even that fails

size_t machine_memory() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t phys = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(1) << 34;
  // A container's memory limit (cgroup v2, then v1) when it is lower.
  for (const char* f : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    if (FILE* fp = fopen(f, "re")) {
      unsigned long long v = 0;
      if (fscanf(fp, "%llu", &v) == 1 && v > 0 && v < phys) phys = size_t(v);
      fclose(fp);
    }
  }
  return phys;
}

int GC_CALLBACK never_stop() { return 0; }

void* retry_alloc(size_t bytes, bool atomic) {
  return atomic ? GC_MALLOC_ATOMIC(bytes) : GC_MALLOC(bytes);
}

[[gnu::cold, gnu::noinline]] void* alloc_failed(size_t bytes, bool atomic) {
  // libgc gives up without collecting when little was allocated since its
  // last collection, though what became garbage since may be plenty.
  if (GC_get_bytes_since_gc() > (size_t(1) << 20)) {
    GC_try_to_collect(never_stop);
    if (void* p = retry_alloc(bytes, atomic)) return p;
  }
  if (g_alloc_guards > 0) throw HeapExhausted{bytes};
  if (g_ballast && !g_heap_emergency) {
    GC_FREE(g_ballast);
    g_ballast = nullptr;
    g_heap_emergency = true;
    fprintf(stderr,
            "valk: warning: the heap limit of %lld bytes is reached; builtins fail with an "
            "out-of-memory error until memory is freed\n",
            (long long)g_limit.load());
    GC_try_to_collect(never_stop);
    g_emergency_gc = GC_get_gc_no();
    if (void* p = retry_alloc(bytes, atomic)) return p;
  }
  fflush(nullptr);
  fprintf(stderr,
          "valk: out of memory: %zu bytes could not be allocated (heap limit %lld bytes; "
          "VALK_HEAP_LIMIT sets it)\n",
          bytes, (long long)g_limit.load());
  _Exit(1);
}

}  // namespace

// In an emergency, a builtin runs only once the reserve can be had again;
// that is tried once per collection (each try may collect).
void enter_builtin_in_emergency() {
  if (GC_get_gc_no() == g_emergency_gc) throw HeapExhausted{0};
  void* b = GC_MALLOC_ATOMIC(size_t(g_reserve.load()));
  g_emergency_gc = GC_get_gc_no();
  if (!b) throw HeapExhausted{size_t(g_reserve.load())};
  g_ballast = b;
  g_heap_emergency = false;
}

void* gc_alloc(size_t bytes) {
  void* p = GC_MALLOC(bytes);
  return __builtin_expect(p != nullptr, 1) ? p : alloc_failed(bytes, false);
}
void* gc_alloc_atomic(size_t bytes) {
  void* p = GC_MALLOC_ATOMIC(bytes);
  return __builtin_expect(p != nullptr, 1) ? p : alloc_failed(bytes, true);
}

Value heap_exhausted_error(size_t bytes) {
  int64_t lim = g_limit.load();
  if (g_heap_emergency) return g_oom_error;  // allocates nothing while memory is short
  try {
    AllocGuard g;
    if (lim > 0)
      return make_errorf("out of memory: %zu more bytes do not fit under the heap limit of %lld bytes",
                         bytes, (long long)lim);
    return make_errorf("out of memory: %zu more bytes could not be allocated", bytes);
  } catch (const HeapExhausted&) {
    return g_oom_error;
  }
}

int64_t heap_limit() { return g_limit.load(); }

void set_heap_limit(int64_t bytes) {
  if (!g_oom_error) g_oom_error = make_error("out of memory: the heap limit is reached");
  int64_t lim = bytes < 0 ? 0 : bytes;
  if (lim == g_limit && (g_ballast || !lim) && !g_heap_emergency) return;  // as it is
  g_limit = lim;
  // A 64th of the limit, 1 to 2 MB: enough for the VM to carry an error
  // out. It is taken from the collector's first heap, so it stays small: an
  // 8 MB reserve brought a program's first full collection forward (100k
  // live handles ran 60% longer).
  g_reserve = lim ? std::min(std::clamp<int64_t>(lim / 64, int64_t(1) << 20, int64_t(2) << 20), lim / 4) : 0;
  if (g_ballast) GC_FREE(g_ballast);  // referenced from nowhere else
  g_ballast = nullptr;
  g_heap_emergency = false;
  GC_set_max_heap_size(GC_word(lim));
  if (lim) {
    // Under a roomy limit the heap grows by the reserve first, so the
    // program's first heap is as large as without one (a program near the
    // first heap's size would otherwise pay a full collection more).
    if (lim >= (int64_t(1) << 30)) GC_expand_hp(size_t(g_reserve.load()));
    g_ballast = GC_MALLOC_ATOMIC(size_t(g_reserve.load()));
  }
}

// VALK_HEAP_LIMIT: bytes with an optional K, M, G or T suffix (powers of
// 1024), a percentage of the machine's memory ("25%"), or 0 / "none" for no
// limit. Unset or unreadable: half the machine's memory, which leaves the
// other half to malloc'd memory and the rest of the system.
int64_t default_heap_limit() {
  size_t mem = machine_memory();
  int64_t fallback = int64_t(mem / 2);
  const char* env = getenv("VALK_HEAP_LIMIT");
  if (!env || !*env) return fallback;
  std::string_view s(env);
  if (s == "none" || s == "unlimited" || s == "off") return 0;
  char* end = nullptr;
  errno = 0;
  double n = strtod(env, &end);
  std::string_view unit(end ? end : "");
  double mult = 1;
  if (unit == "%") {
    mult = double(mem) / 100;
  } else if (!unit.empty()) {
    switch (unit[0] | 0x20) {
      case 'k': mult = 1024.0; break;
      case 'm': mult = 1024.0 * 1024; break;
      case 'g': mult = 1024.0 * 1024 * 1024; break;
      case 't': mult = 1024.0 * 1024 * 1024 * 1024; break;
      case 'b': break;
      default: mult = -1;
    }
    std::string_view rest = unit.substr(1);
    if (mult > 0 && !(rest.empty() || rest == "b" || rest == "B" || rest == "ib" || rest == "iB"))
      mult = -1;
  }
  double bytes = n * mult;
  if (end == env || errno != 0 || mult < 0 || !(bytes >= 0) || bytes >= 9.2e18) {
    fprintf(stderr, "valk: VALK_HEAP_LIMIT=%s is not a size (such as 512M, 4G or 50%%); using %lld bytes\n",
            env, (long long)fallback);
    return fallback;
  }
  return int64_t(bytes);
}

size_t heap_room() {
  size_t heap = GC_get_heap_size(), free_bytes = GC_get_free_bytes();
  size_t used = heap > free_bytes ? heap - free_bytes : 0;
  int64_t lim = g_limit.load();
  // Without a limit, what the machine has is still an upper bound.
  size_t cap = lim > 0 ? size_t(lim) : machine_memory();
  if (heap > cap) cap = heap;  // the collector never gives its heap back
  return cap > used ? cap - used : 0;
}

void collect_now() { GC_try_to_collect(never_stop); }

size_t heap_reserve_held() { return g_ballast ? size_t(g_reserve.load()) : 0; }

Value check_room(const char* fn, uint64_t count, uint64_t each) {
  uint64_t need;
  if (__builtin_mul_overflow(count, each, &need))
    return make_errorf("%s: the result would not fit in memory", fn);
  if (need <= heap_room()) return kNil;
  // A collection can only help when enough was allocated since the last one
  // (and a loop of refused requests must not collect each time).
  if (GC_get_bytes_since_gc() >= std::min<uint64_t>(need, uint64_t(1) << 20)) collect_now();
  size_t room = heap_room();
  if (need <= room) return kNil;
  return make_errorf("%s: the result needs %llu bytes, more than the %zu bytes left under the heap limit",
                     fn, (unsigned long long)need, room);
}


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
  if (__builtin_expect(c != nullptr, 1))
    g_cons_batch = GC_NEXT(c);
  else
    c = static_cast<Cons*>(alloc_failed(sizeof(Cons), false));  // or throws, or ends the process
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

size_t symbol_count() { return symtab().map.size(); }

void for_each_symbol(void (*fn)(Value sym, void* ctx), void* ctx) {
  for (auto& [name, sym] : symtab().map) fn(obj_val(sym), ctx);
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
    case Type::Dict: return "dict";
  }
  return "unknown";
}

std::string describe_type(Value v) {
  if (!has_type(v, Type::Partial)) return type_name(v);
  std::string out = "a ";
  describe_partial(out, reinterpret_cast<const Partial*>(v));
  return out;
}

// Upstream's predicates answered :true / :false; == lets them equal the booleans.
static Value bool_keyword(Value b) {
  static const Value t = intern(":true"), f = intern(":false");
  return b == kTrue ? t : f;
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
    } else if (bool_as_int && is_bool(a) && is_keyword(b)) {
      same = b == bool_keyword(a);
    } else if (bool_as_int && is_keyword(a) && is_bool(b)) {
      same = a == bool_keyword(b);
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
        case Type::Dict: {
          // Same keys, equal values: the values join the pairs still to compare.
          const Dict* da = as_dict(a);
          const Dict* db = as_dict(b);
          same = da->count == db->count;
          for (uint32_t i = 0; same && i < da->used; ++i) {
            const DictEntry& e = da->entries[i];
            if (e.key == kUnbound) continue;
            Value other = dict_get(db, e.key);
            if (other == kUnbound)
              same = false;
            else
              pending_pairs.push_back({e.value, other});
          }
          break;
        }
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
