// Clocks, type inspection, environment, and the memory builtins.
//
// Memory numbers come from the Boehm collector. Upstream had its own arenas
// and GC knobs; programs only check that the numbers are plausible and that
// setters return the old value, so the arena builtins report the GC heap and
// the threshold / interval knobs are stored for round trips.
#include <gc/gc.h>
#include <unistd.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "aio/clock.h"
#include "lib/builtins.h"

namespace valk {
namespace {

// The async runtime's clock: monotonic, or virtual when VALK_VIRTUAL_TIME
// is on, so programs measuring time agree with their timers.
int64_t monotonic_us() { return aio::now_us(); }

Value b_time_us(VM&, Value*, int) { return make_int(monotonic_us()); }
Value b_time_ms(VM&, Value*, int) { return make_int(monotonic_us() / 1000); }

Value b_type(VM&, Value* args, int) {
  return intern(std::string(":") + type_name(args[0]));
}

// (type-of x): upstream's type names, as strings ("Number", "Function", ...).
Value b_type_of(VM&, Value* args, int) {
  Value v = args[0];
  const char* t;
  if (is_number(v) || is_bool(v)) t = "Number";  // upstream booleans are numbers
  else if (v == kNil) t = "Nil";
  else if (is_qcons(v)) t = "Q-Expression";
  else if (is_cons(v)) t = "S-Expression";
  else if (is_string(v)) t = "String";
  else if (is_symbol(v)) t = "Symbol";
  else if (is_function(v)) t = "Function";
  else if (is_error(v)) t = "Error";
  else t = "Reference";
  return make_string(t);
}

// Upstream's short predicate names.
Value b_is_fun(VM&, Value* args, int) { return make_bool(is_function(args[0])); }
Value b_is_num(VM&, Value* args, int) { return make_bool(is_number(args[0])); }
Value b_is_str(VM&, Value* args, int) { return make_bool(is_string(args[0])); }
Value b_is_sym(VM&, Value* args, int) { return make_bool(is_symbol(args[0])); }

// (sys/log/set-level "warn"): returns its argument, as upstream; a non-string
// is an error. (No logging is routed through a level yet.)
Value b_set_log_level(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "sys/log/set-level", 0, "a string");
  return args[0];
}

Value b_getenv(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "getenv", 0, "a string");
  const char* v = getenv(as_string(args[0])->data);
  return v ? make_string(v) : kNil;
}

// ---- memory ---------------------------------------------------------------------
std::atomic<size_t> g_high_water{0};
std::atomic<int64_t> g_hard_limit{0};  // 0: unlimited
std::atomic<int64_t> g_threshold{75};  // percent
std::atomic<int64_t> g_min_interval{100};

size_t heap_usage() {
  size_t heap = GC_get_heap_size(), free_bytes = GC_get_free_bytes();
  size_t used = heap > free_bytes ? heap - free_bytes : 0;
  size_t hw = g_high_water.load(std::memory_order_relaxed);
  while (used > hw && !g_high_water.compare_exchange_weak(hw, used)) {
  }
  return used;
}

Value b_heap_usage(VM&, Value*, int) { return make_int(int64_t(heap_usage())); }

Value b_gc_collect(VM&, Value*, int) {
  size_t before = heap_usage();
  GC_gcollect();
  size_t after = heap_usage();
  return make_int(before > after ? int64_t(before - after) : 0);
}

Value b_gc_stats(VM&, Value*, int) {
  ListBuilder lb(true);
  lb.push(intern(":heap-size"));
  lb.push(make_int(int64_t(GC_get_heap_size())));
  lb.push(intern(":free-bytes"));
  lb.push(make_int(int64_t(GC_get_free_bytes())));
  lb.push(intern(":collections"));
  lb.push(make_int(int64_t(GC_get_gc_no())));
  lb.push(intern(":total-bytes"));
  lb.push(make_int(int64_t(GC_get_total_bytes())));
  return lb.result();
}

// (mem/gc/metrics): a plist, upstream's key names.
Value b_gc_metrics(VM&, Value*, int) {
  ListBuilder lb(true);
  auto kv = [&](const char* k, size_t v) {
    lb.push(intern(k));
    lb.push(make_int(int64_t(v)));
  };
  kv(":cycles", GC_get_gc_no());
  kv(":heap-used", heap_usage());
  kv(":heap-total", GC_get_heap_size());
  kv(":heap-free", GC_get_free_bytes());
  kv(":bytes-allocated", GC_get_total_bytes());
  return lb.result();
}

Value b_gc_usage(VM&, Value*, int) {
  size_t heap = GC_get_heap_size(), used = heap_usage();
  if (heap == 0) return make_fix(0);
  return make_int(int64_t(used >= heap ? 100 : used * 100 / heap));
}

// Capacity is kept strictly above usage even when the heap is full.
Value b_arena_capacity(VM&, Value*, int) {
  size_t used = heap_usage(), heap = GC_get_heap_size();
  return make_int(int64_t(heap > used ? heap : used + 1));
}

Value b_arena_high_water(VM&, Value*, int) {
  heap_usage();
  return make_int(int64_t(g_high_water.load()));
}

// The limit in force: the one set, or with none set the machine's memory.
int64_t effective_limit(int64_t set) {
  if (set != 0) return set;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? int64_t(pages) * page : INT64_MAX;
}

Value b_hard_limit(VM&, Value*, int) { return make_int(effective_limit(g_hard_limit.load())); }

Value b_set_hard_limit(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "mem/heap/set-hard-limit", 0, "an integer");
  int64_t n = int_val(args[0]);
  if (n < 0) return make_error("mem/heap/set-hard-limit: limit must not be negative");
  // A limit under what is live would make the next heap growth fail at once.
  size_t used = heap_usage();
  if (n != 0 && uint64_t(n) < used)
    return make_errorf("mem/heap/set-hard-limit: %lld is below the current heap usage %zu",
                       (long long)n, used);
  GC_set_max_heap_size(GC_word(n));
  return make_int(effective_limit(g_hard_limit.exchange(n)));
}

Value b_threshold(VM&, Value*, int) { return make_int(g_threshold.load()); }

Value b_set_threshold(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "mem/gc/set-threshold", 0, "an integer");
  int64_t n = int_val(args[0]);
  n = n < 1 ? 1 : n > 100 ? 100 : n;
  return make_int(g_threshold.exchange(n));
}

Value b_min_interval(VM&, Value*, int) { return make_int(g_min_interval.load()); }

Value b_set_min_interval(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "mem/gc/set-min-interval", 0, "an integer");
  int64_t n = int_val(args[0]);
  return make_int(g_min_interval.exchange(n < 0 ? 0 : n));
}

// (collections heap-used heap-size total-allocated), as upstream's 4 numbers.
Value b_checkpoint_stats(VM&, Value*, int) {
  ListBuilder lb(false);
  lb.push(make_int(int64_t(GC_get_gc_no())));
  lb.push(make_int(int64_t(heap_usage())));
  lb.push(make_int(int64_t(GC_get_heap_size())));
  lb.push(make_int(int64_t(GC_get_total_bytes())));
  return lb.result();
}

Value b_mem_stats(VM&, Value*, int) {
  printf("heap: %zu bytes used of %zu, %zu collections, %zu bytes allocated in total\n",
         heap_usage(), size_t(GC_get_heap_size()), size_t(GC_get_gc_no()),
         size_t(GC_get_total_bytes()));
  return kNil;
}

}  // namespace

void open_system(VM&) {
  define("time-us", b_time_us, 0, -1);
  define("time-ms", b_time_ms, 0, -1);
  define("type", b_type, 1, 1);
  define("sys/log/set-level", b_set_log_level, 1, 1);
  define("getenv", b_getenv, 1, 1);
  define("mem/heap/usage", b_heap_usage, 0, -1);
  define("mem/heap/hard-limit", b_hard_limit, 0, -1);
  define("mem/heap/set-hard-limit", b_set_hard_limit, 1, 1);
  define("mem/gc/collect", b_gc_collect, 0, -1);
  define("mem/gc/stats", b_gc_stats, 0, -1);
  define("mem/gc/usage", b_gc_usage, 0, -1);
  define("mem/gc/threshold", b_threshold, 0, -1);
  define("mem/gc/set-threshold", b_set_threshold, 1, 1);
  define("mem/gc/min-interval", b_min_interval, 0, -1);
  define("mem/gc/set-min-interval", b_set_min_interval, 1, 1);
  define("mem/arena/usage", b_heap_usage, 0, -1);
  define("mem/arena/capacity", b_arena_capacity, 0, -1);
  define("mem/arena/high-water", b_arena_high_water, 0, -1);
  define("mem/checkpoint/stats", b_checkpoint_stats, 0, -1);
  define("mem/stats", b_mem_stats, 0, -1);
  define("mem/gc/metrics", b_gc_metrics, 0, 0);
  define("type-of", b_type_of, 1, 1);
  define("fun?", b_is_fun, 1, 1);
  define("num?", b_is_num, 1, 1);
  define("str?", b_is_str, 1, 1);
  define("sym?", b_is_sym, 1, 1);
  // Older upstream names of the memory builtins (upstream's own tests use them).
  define("heap-usage", b_heap_usage, 0, 0);
  define("heap-hard-limit", b_hard_limit, 0, 0);
  define("gc-collect", b_gc_collect, 0, 0);
  define("gc-stats", b_mem_stats, 0, 0);
  define("gc-threshold-pct", b_threshold, 0, 0);
  define("set-gc-threshold-pct", b_set_threshold, 1, 1);
  define("arena-size", b_arena_capacity, 0, 0);
  define("arena-usage", b_heap_usage, 0, 0);
  define("arena-high-water", b_arena_high_water, 0, 0);
}

}  // namespace valk
