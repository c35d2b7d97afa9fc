// The metrics builtins (docs/async.md#metrics): the process-wide registry as a plist, as
// JSON text and as Prometheus text; user metrics (metrics/counter ...) in the
// same registry. Each takes an optional first argument,
// ignored: upstream passed its system value, (aio/metrics sys). An error
// there still travels outward (docs/language.md#errors-are-values).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "aio/metrics.h"
#include "aio/runtime_metrics.h"
#include "lib/builtins.h"

namespace valk {
namespace {

// The standard metrics are registered before every export, so a program
// that never touched the runtime still sees all of them (at zero).
metrics::Registry& registry() {
  metrics::register_standard_metrics();
  aio::sync_runtime_metrics();
  return metrics::global();
}

Value b_metrics(VM&, Value* args, int argc) {
  if (argc > 0 && is_error(args[0])) return args[0];
  return registry().plist();
}
Value b_metrics_json(VM&, Value* args, int argc) {
  if (argc > 0 && is_error(args[0])) return args[0];
  return make_string(registry().json());
}
Value b_metrics_prometheus(VM&, Value* args, int argc) {
  if (argc > 0 && is_error(args[0])) return args[0];
  return make_string(registry().prometheus_text());
}

// ---- user metrics: metrics/counter, metrics/gauge, metrics/histogram ----------------
// (docs/async.md#user-metrics). They live in the same process-wide registry as
// the runtime's, so every export shows both. A handle is an opaque value
// naming one metric (family and label values); registry memory is never
// freed, so the handle's raw pointers stay valid for the process.

constexpr size_t kMaxLabelSets = 1000;  // per user family (documented)
constexpr size_t kMaxUserFamilies = 1000;
constexpr size_t kMaxLabels = 16;  // label names per family
constexpr size_t kMaxLabelValue = 1024;  // bytes of one label value
// Families made by metrics/counter ... (process-wide, like the registry).
size_t g_user_families = 0;

struct UserMetric {
  metrics::FamilyBase* family;
  const metrics::Labels* labels;
  void* metric;
};

void print_metric(std::string& out, const Opaque* o) {
  auto* m = static_cast<const UserMetric*>(o->payload);
  const auto& names = m->family->label_names();
  out += "<";
  out += o->cls->name;
  out += " ";
  out += m->family->name();
  if (!names.empty()) {
    out += "{";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i) out += ",";
      out += names[i] + "=\"";
      for (char c : (*m->labels)[i]) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
    out += "}";
  }
  out += ">";
}
const OpaqueClass kCounterClass = {"metrics-counter", print_metric};
const OpaqueClass kGaugeClass = {"metrics-gauge", print_metric};
const OpaqueClass kHistogramClass = {"metrics-histogram", print_metric};

UserMetric* metric_of(Value v, const OpaqueClass* cls) {
  if (!has_type(v, Type::Opaque)) return nullptr;
  auto* o = reinterpret_cast<Opaque*>(v);
  return o->cls == cls ? static_cast<UserMetric*>(o->payload) : nullptr;
}

// What follows the name: label pairs ("method" "GET" or :method "GET"),
// label plists ({:method "GET"}), :help "text" and, for histograms,
// :buckets (0.1 0.5 1).
struct Spec {
  std::string help;
  std::vector<std::pair<std::string, std::string>> labels;
  bool has_buckets = false;
  std::vector<double> buckets;
};

Value add_label(const char* fn, Spec& spec, Value key, Value val) {
  if (is_error(key)) return key;
  if (is_error(val)) return val;
  std::string k;
  if (is_string(key)) k = std::string(as_string(key)->view());
  else if (is_keyword(key)) k = std::string(as_symbol(key)->view().substr(1));
  else return make_errorf("%s: a label name must be a string or keyword, got %s", fn, type_name(key));
  if (!is_string(val))
    return make_errorf("%s: the value of label %s must be a string, got %s", fn, k.c_str(),
                       type_name(val));
  if (as_string(val)->len > kMaxLabelValue)
    return make_errorf("%s: the value of label %s is longer than %zu bytes", fn, k.c_str(),
                       kMaxLabelValue);
  spec.labels.emplace_back(std::move(k), std::string(as_string(val)->view()));
  return kNil;
}

Value parse_spec(const char* fn, Value* args, int argc, bool histogram, Spec& spec) {
  // Upstream's (metrics/counter "name" "Help text."): a string after the name
  // that leaves an odd count of label arguments is the help text.
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    Value a = args[i];
    if (is_keyword(a) && (as_symbol(a)->view() == ":help" || as_symbol(a)->view() == ":buckets")) ++i;
    else if (!is_list(a)) ++positional;
  }
  int first = 1;
  if (positional % 2 && argc > 1 && is_string(args[1])) {
    spec.help = std::string(as_string(args[1])->view());
    first = 2;
  }
  for (int i = first; i < argc; ++i) {
    Value a = args[i];
    if (is_error(a)) return a;
    if (is_keyword(a) && as_symbol(a)->view() == ":help") {
      if (i + 1 >= argc || !is_string(args[i + 1]))
        return make_errorf("%s: :help must be followed by a string", fn);
      spec.help = std::string(as_string(args[++i])->view());
    } else if (is_keyword(a) && as_symbol(a)->view() == ":buckets") {
      if (!histogram) return make_errorf("%s: :buckets is for histograms only", fn);
      if (i + 1 >= argc || !is_list(args[i + 1]))
        return make_errorf("%s: :buckets must be followed by a list of numbers", fn);
      spec.has_buckets = true;
      spec.buckets.clear();
      for (Value l = args[++i]; is_cons(l); l = cdr(l)) {
        Value b = car(l);
        if (!is_number(b))
          return make_errorf("%s: a bucket bound must be a number, got %s", fn, type_name(b));
        if (spec.buckets.size() >= 64) return make_errorf("%s: at most 64 buckets", fn);
        spec.buckets.push_back(num_as_double(b));
      }
    } else if (is_list(a)) {  // a plist of labels
      if (list_length(a) % 2) return make_errorf("%s: the label plist has an odd length", fn);
      for (Value l = a; is_cons(l); l = cdr(cdr(l))) {
        Value r = add_label(fn, spec, car(l), car(cdr(l)));
        if (r != kNil) return r;
      }
    } else {
      if (i + 1 >= argc) return make_errorf("%s: label %s has no value", fn, type_name(a));
      Value r = add_label(fn, spec, a, args[i + 1]);
      if (r != kNil) return r;
      ++i;
    }
  }
  if (spec.labels.size() > kMaxLabels)
    return make_errorf("%s: at most %zu labels", fn, kMaxLabels);
  // Label order does not matter: ("a" "1" "b" "2") is ("b" "2" "a" "1").
  std::sort(spec.labels.begin(), spec.labels.end());
  for (size_t i = 1; i < spec.labels.size(); ++i)
    if (spec.labels[i].first == spec.labels[i - 1].first)
      return make_errorf("%s: label %s given twice", fn, spec.labels[i].first.c_str());
  return kNil;
}

template <class M>
Value handle_for(const char* fn, metrics::Family<M>& fam, const Spec& spec,
                 const OpaqueClass* cls) {
  metrics::Labels values;
  for (auto& l : spec.labels) values.push_back(l.second);
  const metrics::Labels* key = nullptr;
  M* m = fam.try_get(values, &key);
  if (!m) {
    metrics::standard().label_sets_refused.inc();
    return make_errorf("%s: %s already has %zu label sets: a new one is refused", fn,
                       fam.name().c_str(), fam.max_label_sets());
  }
  auto* u = static_cast<UserMetric*>(gc_alloc_atomic(sizeof(UserMetric)));
  *u = {&fam, key, m};
  return make_opaque(cls, u);
}

Value make_user_metric(const char* fn, metrics::Kind kind, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), fn, 0, "a metric name (a string)");
  std::string name(as_string(args[0])->view());
  Spec spec;
  Value r = parse_spec(fn, args, argc, kind == metrics::Kind::Histogram, spec);
  if (r != kNil) return r;
  if (name.substr(0, 5) == "valk_")
    return make_errorf("%s: names starting valk_ are the runtime's: %s", fn, name.c_str());
  metrics::Registry& reg = registry();
  const metrics::FamilyBase* existing = reg.find(name);
  if (!existing && g_user_families >= kMaxUserFamilies)
    return make_errorf("%s: at most %zu user metrics", fn, kMaxUserFamilies);
  std::vector<std::string> names;
  for (auto& l : spec.labels) names.push_back(l.first);
  if (spec.help.empty()) spec.help = "User metric " + name + ".";
  try {
    switch (kind) {
      case metrics::Kind::Counter: {
        auto& f = reg.counter_family(name, spec.help, names, true);
        if (!existing) f.set_max_label_sets(kMaxLabelSets), ++g_user_families;
        return handle_for(fn, f, spec, &kCounterClass);
      }
      case metrics::Kind::Gauge: {
        auto& f = reg.gauge_family(name, spec.help, names, true);
        if (!existing) f.set_max_label_sets(kMaxLabelSets), ++g_user_families;
        return handle_for(fn, f, spec, &kGaugeClass);
      }
      case metrics::Kind::Histogram: {
        std::vector<double> bounds = spec.buckets;
        if (!spec.has_buckets) {
          // Unless given, the buckets are those registered, or the defaults.
          if (existing && existing->kind() == metrics::Kind::Histogram && !existing->callback())
            bounds = static_cast<const metrics::Family<metrics::Histogram>*>(existing)->bounds();
          else
            bounds = metrics::default_duration_buckets();
        }
        if (bounds.empty()) return make_errorf("%s: :buckets needs at least one bound", fn);
        auto& f = reg.histogram_family(name, spec.help, names, bounds);
        if (!existing) f.set_max_label_sets(kMaxLabelSets), ++g_user_families;
        return handle_for(fn, f, spec, &kHistogramClass);
      }
    }
  } catch (const std::logic_error& e) {  // invalid names, another type or buckets
    std::string msg = e.what();
    if (msg.substr(0, 9) == "metrics: ") msg = msg.substr(9);
    return make_errorf("%s: %s", fn, msg.c_str());
  }
  return kNil;
}

Value b_counter(VM&, Value* args, int argc) {
  return make_user_metric("metrics/counter", metrics::Kind::Counter, args, argc);
}
Value b_gauge(VM&, Value* args, int argc) {
  return make_user_metric("metrics/gauge", metrics::Kind::Gauge, args, argc);
}
Value b_histogram(VM&, Value* args, int argc) {
  return make_user_metric("metrics/histogram", metrics::Kind::Histogram, args, argc);
}

// The optional or required amount: a finite number.
bool amount(Value v, double& out) {
  if (!is_number(v)) return false;
  out = num_as_double(v);
  return std::isfinite(out);
}

Value b_counter_inc(VM& vm, Value* args, int argc) {
  // Upstream's (metrics/counter-inc "name" labels...): that counter, by 1.
  if (is_string(args[0])) {
    Value c = b_counter(vm, args, argc);
    if (is_error(c)) return c;
    static_cast<metrics::Counter*>(metric_of(c, &kCounterClass)->metric)->add_float(1);
    return kNil;
  }
  if (argc > 2)
    return make_errorf("metrics/counter-inc: expected a counter and an amount, got %d arguments", argc);
  UserMetric* m = metric_of(args[0], &kCounterClass);
  VALK_CHECK(m, "metrics/counter-inc", 0, "a counter (from metrics/counter)");
  double n = 1;
  if (argc > 1) {
    VALK_CHECK(amount(args[1], n), "metrics/counter-inc", 1, "a finite number");
    if (n < 0) return make_errorf("metrics/counter-inc: a counter only goes up, got %g", n);
  }
  static_cast<metrics::Counter*>(m->metric)->add_float(n);
  return kNil;
}
Value b_gauge_set(VM&, Value* args, int) {
  UserMetric* m = metric_of(args[0], &kGaugeClass);
  VALK_CHECK(m, "metrics/gauge-set", 0, "a gauge (from metrics/gauge)");
  double v;
  VALK_CHECK(amount(args[1], v), "metrics/gauge-set", 1, "a finite number");
  static_cast<metrics::Gauge*>(m->metric)->set_float(v);
  return kNil;
}
Value gauge_add(const char* fn, Value* args, int argc, double sign) {
  UserMetric* m = metric_of(args[0], &kGaugeClass);
  VALK_CHECK(m, fn, 0, "a gauge (from metrics/gauge)");
  double n = 1;
  if (argc > 1) VALK_CHECK(amount(args[1], n), fn, 1, "a finite number");
  static_cast<metrics::Gauge*>(m->metric)->add_float(sign * n);
  return kNil;
}
Value b_gauge_inc(VM&, Value* args, int argc) {
  return gauge_add("metrics/gauge-inc", args, argc, 1);
}
Value b_gauge_dec(VM&, Value* args, int argc) {
  return gauge_add("metrics/gauge-dec", args, argc, -1);
}
Value b_histogram_observe(VM&, Value* args, int) {
  UserMetric* m = metric_of(args[0], &kHistogramClass);
  VALK_CHECK(m, "metrics/histogram-observe", 0, "a histogram (from metrics/histogram)");
  double v;
  VALK_CHECK(amount(args[1], v), "metrics/histogram-observe", 1, "a finite number");
  static_cast<metrics::Histogram*>(m->metric)->observe(v);
  return kNil;
}

// metrics/json and metrics/prometheus: the same text as aio/metrics-json and
// aio/metrics-prometheus (runtime and user metrics), without an argument.
Value b_user_json(VM&, Value*, int) { return make_string(registry().json()); }
Value b_user_prometheus(VM&, Value*, int) { return make_string(registry().prometheus_text()); }

// (metrics/serve req): the response a Prometheus scrape wants.
Value b_serve(VM&, Value* args, int) {
  if (is_error(args[0])) return args[0];
  ListBuilder headers;
  ListBuilder h;
  h.push(make_string("content-type"));
  h.push(make_string("text/plain; version=0.0.4; charset=utf-8"));
  headers.push(h.result());
  ListBuilder out;
  out.push(intern(":status"));
  out.push(make_int(200));
  out.push(intern(":headers"));
  out.push(headers.result());
  out.push(intern(":body"));
  out.push(make_string(registry().prometheus_text()));
  return out.result();
}

}  // namespace

void open_metrics(VM&) {
  define("aio/metrics", b_metrics, 0, 1);
  define("aio/metrics-json", b_metrics_json, 0, 1);
  define("aio/metrics-prometheus", b_metrics_prometheus, 0, 1);
  define("metrics/counter", guarded<b_counter>, 1, -1);
  define("metrics/gauge", guarded<b_gauge>, 1, -1);
  define("metrics/histogram", guarded<b_histogram>, 1, -1);
  define("metrics/counter-inc", guarded<b_counter_inc>, 1, -1);
  define("metrics/gauge-set", b_gauge_set, 2, 2);
  define("metrics/gauge-inc", b_gauge_inc, 1, 2);
  define("metrics/gauge-dec", b_gauge_dec, 1, 2);
  define("metrics/histogram-observe", b_histogram_observe, 2, 2);
  define("metrics/json", guarded<b_user_json>, 0, 0);
  define("metrics/prometheus", guarded<b_user_prometheus>, 0, 0);
  define("metrics/serve", guarded<b_serve>, 1, 1);
}

}  // namespace valk
