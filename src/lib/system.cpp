// Clocks, type inspection, environment, and the memory builtins.
//
// Memory numbers come from the Boehm collector. Upstream had its own arenas
// and GC knobs; here the arena builtins report the GC heap, and the knobs
// act on the collector: the hard limit caps its heap, the threshold sets how
// much it allocates between collections, the minimum interval keeps
// allocation-triggered collections apart in time.
#include <gc/gc.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
std::atomic<int64_t> g_threshold{75};  // percent
std::atomic<int64_t> g_min_interval{0};  // ms; 0: the collector paces itself

// Threshold t percent: libgc collects after allocating about 2 * live / d
// bytes (d, the free-space divisor); d = 225 / t keeps libgc's default d = 3
// at upstream's default 75, and a lower threshold collects more often.
void apply_threshold(int64_t t) {
  GC_set_free_space_divisor(GC_word(std::max<int64_t>(1, (225 + t / 2) / t)));
}

// The minimum interval works through libgc's default stop function, which
// allocation-triggered collections consult before they start: while the
// last collection ended less than the interval ago, the collector grows the
// heap instead. At the hard limit it collects anyway (libgc does not consult
// the stop function when it is out of memory).
int64_t real_now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
std::atomic<int64_t> g_last_gc_end_us{0};
GC_on_collection_event_proc g_prev_gc_event = nullptr;
GC_stop_func g_prev_stop_func = nullptr;

void GC_CALLBACK on_gc_event(GC_EventType e) {
  if (e == GC_EVENT_END) g_last_gc_end_us.store(real_now_us(), std::memory_order_relaxed);
  if (g_prev_gc_event) g_prev_gc_event(e);
}

int GC_CALLBACK interval_stop() {
  int64_t iv = g_min_interval.load(std::memory_order_relaxed);
  if (iv > 0 && real_now_us() - g_last_gc_end_us.load(std::memory_order_relaxed) < iv * 1000)
    return 1;
  return g_prev_stop_func ? g_prev_stop_func() : 0;
}

// Installed only while an interval is set: libgc sweeps everything before a
// collection that has a stop function, which costs time otherwise.
void apply_min_interval(int64_t ms) {
  if (!g_prev_stop_func) g_prev_stop_func = GC_get_stop_func();
  GC_set_stop_func(ms > 0 ? interval_stop : g_prev_stop_func);
}

// libgc warns on stderr before returning NULL; the program gets an error
// value (or the allocator's own message) instead.
GC_warn_proc g_prev_warn = nullptr;
void GC_CALLBACK filter_gc_warning(char* msg, GC_word arg) {
  if (msg && strstr(msg, "Out of Memory")) return;
  if (g_prev_warn) g_prev_warn(msg, arg);
}

void init_memory() {
  static bool done = false;
  if (done) return;
  done = true;
  set_heap_limit(default_heap_limit());
  g_prev_warn = GC_get_warn_proc();
  GC_set_warn_proc(filter_gc_warning);
  g_prev_gc_event = GC_get_on_collection_event();
  GC_set_on_collection_event(on_gc_event);
  apply_threshold(g_threshold.load());
}

// In use by the program: the VM's reserve block does not count.
size_t heap_usage() {
  size_t heap = GC_get_heap_size(), free_bytes = GC_get_free_bytes() + heap_reserve_held();
  size_t used = heap > free_bytes ? heap - free_bytes : 0;
  size_t hw = g_high_water.load(std::memory_order_relaxed);
  while (used > hw && !g_high_water.compare_exchange_weak(hw, used)) {
  }
  return used;
}

Value b_heap_usage(VM&, Value*, int) { return make_int(int64_t(heap_usage())); }

Value b_gc_collect(VM&, Value*, int) {
  size_t before = heap_usage();
  collect_now();
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

Value b_hard_limit(VM&, Value*, int) { return make_int(effective_limit(heap_limit())); }

// (mem/heap/set-hard-limit n): bytes, 0 for none (the machine's memory);
// returns the limit that was in force.
Value b_set_hard_limit(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "mem/heap/set-hard-limit", 0, "an integer");
  int64_t n = int_val(args[0]);
  if (n < 0) return make_error("mem/heap/set-hard-limit: limit must not be negative");
  // A limit under what is live would make the next heap growth fail at once.
  size_t used = heap_usage();
  if (n != 0 && uint64_t(n) < used)
    return make_errorf("mem/heap/set-hard-limit: %lld is below the current heap usage %zu",
                       (long long)n, used);
  int64_t old = heap_limit();
  set_heap_limit(n);
  return make_int(effective_limit(old));
}

Value b_threshold(VM&, Value*, int) { return make_int(g_threshold.load()); }

Value b_set_threshold(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "mem/gc/set-threshold", 0, "an integer");
  int64_t n = int_val(args[0]);
  n = n < 1 ? 1 : n > 100 ? 100 : n;
  apply_threshold(n);
  return make_int(g_threshold.exchange(n));
}

Value b_min_interval(VM&, Value*, int) { return make_int(g_min_interval.load()); }

// (mem/gc/set-min-interval ms): 0 lets the collector pace itself.
Value b_set_min_interval(VM&, Value* args, int) {
  VALK_CHECK(is_int(args[0]), "mem/gc/set-min-interval", 0, "an integer");
  int64_t n = int_val(args[0]);
  n = n < 0 ? 0 : n > 86400000 ? 86400000 : n;  // at most a day
  int64_t old = g_min_interval.exchange(n);
  apply_min_interval(n);
  return make_int(old);
}

// (%check-alloc name count bytes-each): true when the result fits under the
// heap limit, else the error; for prelude functions that build big lists.
Value b_check_alloc(VM&, Value* args, int) {
  VALK_CHECK(is_string(args[0]), "%check-alloc", 0, "a string");
  VALK_CHECK(is_int(args[1]), "%check-alloc", 1, "an integer");
  VALK_CHECK(is_int(args[2]), "%check-alloc", 2, "an integer");
  int64_t n = int_val(args[1]), each = int_val(args[2]);
  if (n <= 0 || each <= 0) return kTrue;
  std::string name(as_string(args[0])->view());
  Value err = check_room(name.c_str(), uint64_t(n), uint64_t(each));
  return err == kNil ? kTrue : err;
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
  init_memory();
  define("time-us", guarded<b_time_us>, 0, -1);
  define("time-ms", guarded<b_time_ms>, 0, -1);
  define("type", guarded<b_type>, 1, 1);
  define("sys/log/set-level", guarded<b_set_log_level>, 1, 1);
  define("getenv", guarded<b_getenv>, 1, 1);
  define("mem/heap/usage", guarded<b_heap_usage>, 0, -1);
  define("mem/heap/hard-limit", guarded<b_hard_limit>, 0, -1);
  define("mem/heap/set-hard-limit", guarded<b_set_hard_limit>, 1, 1);
  define("mem/gc/collect", guarded<b_gc_collect>, 0, -1);
  define("mem/gc/stats", guarded<b_gc_stats>, 0, -1);
  define("mem/gc/usage", guarded<b_gc_usage>, 0, -1);
  define("mem/gc/threshold", guarded<b_threshold>, 0, -1);
  define("mem/gc/set-threshold", guarded<b_set_threshold>, 1, 1);
  define("mem/gc/min-interval", guarded<b_min_interval>, 0, -1);
  define("mem/gc/set-min-interval", guarded<b_set_min_interval>, 1, 1);
  define("mem/arena/usage", guarded<b_heap_usage>, 0, -1);
  define("mem/arena/capacity", guarded<b_arena_capacity>, 0, -1);
  define("mem/arena/high-water", guarded<b_arena_high_water>, 0, -1);
  define("mem/checkpoint/stats", guarded<b_checkpoint_stats>, 0, -1);
  define("mem/stats", guarded<b_mem_stats>, 0, -1);
  define("mem/gc/metrics", guarded<b_gc_metrics>, 0, 0);
  define("%check-alloc", guarded<b_check_alloc>, 3, 3);
  define("type-of", guarded<b_type_of>, 1, 1);
  define("fun?", guarded<b_is_fun>, 1, 1);
  define("num?", guarded<b_is_num>, 1, 1);
  define("str?", guarded<b_is_str>, 1, 1);
  define("sym?", guarded<b_is_sym>, 1, 1);
  // Older upstream names of the memory builtins (upstream's own tests use them).
  define("heap-usage", guarded<b_heap_usage>, 0, 0);
  define("heap-hard-limit", guarded<b_hard_limit>, 0, 0);
  define("gc-collect", guarded<b_gc_collect>, 0, 0);
  define("gc-stats", guarded<b_mem_stats>, 0, 0);
  define("gc-threshold-pct", guarded<b_threshold>, 0, 0);
  define("set-gc-threshold-pct", guarded<b_set_threshold>, 1, 1);
  define("arena-size", guarded<b_arena_capacity>, 0, 0);
  define("arena-usage", guarded<b_heap_usage>, 0, 0);
  define("arena-high-water", guarded<b_arena_high_water>, 0, 0);
}

}  // namespace valk
