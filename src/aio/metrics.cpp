// The metrics registry and its three export formats (see metrics.h).
#include "aio/metrics.h"

#include <gc/gc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>

namespace valk::metrics {
namespace {

using Json = nlohmann::ordered_json;  // keeps registration / bucket order

bool valid_name(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Shortest text that reads back as the same double, in plain decimals for
// exponents -4 to 20: 0.0005, 1, 2.5, 1000000 (never the fixed precision
// "0.000" of %f, nor the "5e-04" plain to_chars picks for being a character
// shorter); 1e-05 and 1e+21 beyond. Small values print as in Go clients;
// large ones stay plain longer (Go writes 1e+06), which reads the same.
std::string format_double(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[400];  // fixed notation of DBL_MAX needs 309 digits; not reached here
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, size_t(r.ptr - buf));
  // "d.ddde-04" -> -4 (from_chars: buf is not NUL-terminated; it skips no '+')
  size_t e = sci.find('e') + 1;
  if (sci[e] == '+') ++e;
  int exp = 0;
  std::from_chars(sci.data() + e, sci.data() + sci.size(), exp);
  if (exp < -4 || exp >= 21) return std::string(sci);
  r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

template <class I>
std::string format_int(I i) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  return std::string(buf, r.ptr);
}

// Appends s with invalid UTF-8 replaced by U+FFFD: label values may come
// from the network (methods, error texts) and the exposition format and JSON
// are both UTF-8.
void append_utf8(std::string& out, std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n > 1) {  // reject overlong forms, surrogates and > U+10FFFF
      uint32_t cp = c & (0xFF >> (n + 1));
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
}

std::string utf8(std::string_view s) {
  std::string out;
  append_utf8(out, s);
  return out;
}

// HELP text escapes \ and newline; label values also escape ".
std::string escape(std::string_view s, bool quote) {
  std::string clean = utf8(s), out;
  for (char c : clean) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Counter: return "counter";
    case Kind::Gauge: return "gauge";
    case Kind::Histogram: return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} plus an optional extra pair (le for buckets); "" if empty.
std::string label_text(const std::vector<std::string>& names, const Labels& values,
                       const char* extra_name = nullptr, const std::string& extra_value = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + escape(values[i], true) + "\"";
  }
  if (extra_name) {
    out += out.empty() ? "{" : ",";
    out += std::string(extra_name) + "=\"" + extra_value + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

std::string counter_text(const FamilyBase& f, const Counter& c) {
  return f.floating() ? format_double(c.value()) : format_int(c.count());
}
std::string gauge_text(const FamilyBase& f, const Gauge& g) {
  return f.floating() ? format_double(g.value()) : format_int(g.int_value());
}
std::string callback_text(const FamilyBase& f) {
  double v = f.callback()();
  return f.floating() ? format_double(v) : format_int(int64_t(std::llround(v)));
}

Json counter_json(const FamilyBase& f, const Counter& c) {
  return f.floating() ? Json(c.value()) : Json(c.count());
}
Json gauge_json(const FamilyBase& f, const Gauge& g) {
  return f.floating() ? Json(g.value()) : Json(g.int_value());
}
Json callback_json(const FamilyBase& f) {
  double v = f.callback()();
  return f.floating() ? Json(v) : Json(int64_t(std::llround(v)));
}
Json histogram_json(const Histogram& h) {
  Json buckets = Json::object();
  for (size_t i = 0; i < h.bounds().size(); ++i)
    buckets[format_double(h.bounds()[i])] = h.cumulative(i);
  buckets["+Inf"] = h.count();
  return Json{{"buckets", buckets}, {"sum", h.sum()}, {"count", h.count()}};
}
Json labels_json(const std::vector<std::string>& names, const Labels& values) {
  Json out = Json::object();
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = utf8(values[i]);
  return out;
}

// Plist keys: the name without valk_, underscores as dashes, as a keyword.
Value keyword(std::string_view name) {
  if (name.substr(0, 5) == "valk_") name.remove_prefix(5);
  std::string k = ":";
  for (char c : name) k += c == '_' ? '-' : c;
  return intern(k);
}

Value uint_value(uint64_t n) {
  return make_int(n > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(n));
}
Value counter_value(const FamilyBase& f, const Counter& c) {
  return f.floating() ? make_float(c.value()) : uint_value(c.count());
}
Value gauge_value(const FamilyBase& f, const Gauge& g) {
  return f.floating() ? make_float(g.value()) : make_int(g.int_value());
}
Value callback_value(const FamilyBase& f) {
  double v = f.callback()();
  return f.floating() ? make_float(v) : make_int(int64_t(std::llround(v)));
}
// {:buckets {"0.0005" n ... "+Inf" n} :sum s :count n}: bucket keys are the
// Prometheus `le` texts, so all three formats name buckets alike.
void push_histogram(ListBuilder& out, const Histogram& h) {
  ListBuilder buckets;
  for (size_t i = 0; i < h.bounds().size(); ++i) {
    buckets.push(make_string(format_double(h.bounds()[i])));
    buckets.push(uint_value(h.cumulative(i)));
  }
  buckets.push(make_string("+Inf"));
  buckets.push(uint_value(h.count()));
  out.push(intern(":buckets"));
  out.push(buckets.result());
  out.push(intern(":sum"));
  out.push(make_float(h.sum()));
  out.push(intern(":count"));
  out.push(uint_value(h.count()));
}
void push_labels(ListBuilder& out, const std::vector<std::string>& names, const Labels& values) {
  for (size_t i = 0; i < names.size(); ++i) {
    out.push(keyword(names[i]));
    out.push(make_string(values[i]));
  }
}

}  // namespace

// ---- metrics ------------------------------------------------------------------

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(&bounds), counts_(bounds.size() + 1, 0) {}

void Histogram::observe(double seconds) {
  // The first bound >= the value: `le` buckets include their bound.
  size_t i = size_t(std::lower_bound(bounds_->begin(), bounds_->end(), seconds) - bounds_->begin());
  ++counts_[i];  // NaN lands in +Inf, where Prometheus would count it too
  sum_ += seconds;
  ++count_;
}

uint64_t Histogram::cumulative(size_t i) const {
  uint64_t n = 0;
  for (size_t k = 0; k <= i && k < counts_.size(); ++k) n += counts_[k];
  return n;
}

template <class M>
M& Family<M>::get(const Labels& values) {
  auto it = children_.find(values);
  if (it != children_.end()) return *it->second;
  if (values.size() != label_names().size())
    throw std::logic_error("metrics: " + name() + " takes " +
                           std::to_string(label_names().size()) + " label values, got " +
                           std::to_string(values.size()));
  std::unique_ptr<M> m;
  if constexpr (std::is_same_v<M, Histogram>) m = std::make_unique<M>(bounds_);
  else m = std::make_unique<M>();
  M& ref = *m;
  children_.emplace(values, std::move(m));
  return ref;
}

template <class M>
M* Family<M>::try_get(const Labels& values, const Labels** key) {
  auto it = children_.find(values);
  if (it == children_.end()) {
    if (max_label_sets_ && children_.size() >= max_label_sets_) return nullptr;
    get(values);
    it = children_.find(values);
  }
  if (key) *key = &it->first;
  return it->second.get();
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

const std::vector<double>& default_duration_buckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return b;
}

// ---- registry -----------------------------------------------------------------

Registry::Registry() = default;
Registry::~Registry() = default;

// The family registered as `name`, checked against what the caller expects;
// nullptr when the name is new (after validating it).
FamilyBase* Registry::lookup(std::string_view name, Kind kind, bool floating,
                             const std::vector<std::string>& label_names,
                             const std::vector<double>* bounds) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    if (!valid_name(name, true))
      throw std::logic_error("metrics: invalid metric name '" + std::string(name) + "'");
    for (auto& l : label_names)
      if (!valid_name(l, false) || l.substr(0, 2) == "__" ||
          (kind == Kind::Histogram && l == "le"))
        throw std::logic_error("metrics: invalid label name '" + l + "' for " +
                               std::string(name));
    return nullptr;
  }
  FamilyBase* f = it->second;
  bool same = f->kind() == kind && f->floating() == floating &&
              f->label_names() == label_names && !f->callback();
  if (same && kind == Kind::Histogram && bounds) {
    auto* h = static_cast<Family<Histogram>*>(f);
    same = h->bounds_ == *bounds;
  }
  if (!same)
    throw std::logic_error("metrics: " + std::string(name) +
                           " is already registered with another type, labels or buckets");
  return f;
}

template <class M>
Family<M>& Registry::family(std::string_view name, std::string_view help, Kind kind,
                            bool floating, std::vector<std::string> label_names,
                            std::vector<double> bounds) {
  if (kind == Kind::Histogram) {
    // Finite, strictly increasing; a trailing +Inf is implied, so dropped.
    if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
    for (size_t i = 0; i < bounds.size(); ++i)
      if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
        throw std::logic_error("metrics: buckets of " + std::string(name) +
                               " must be finite and strictly increasing");
  }
  if (FamilyBase* f = lookup(name, kind, floating, label_names,
                             kind == Kind::Histogram ? &bounds : nullptr))
    return *static_cast<Family<M>*>(f);
  auto* f = new Family<M>(std::string(name), std::string(help), kind, floating,
                          std::move(label_names), std::move(bounds));
  families_.emplace_back(f);
  by_name_.emplace(f->name(), f);
  if (f->label_names().empty()) f->get(Labels{});  // always exported, even at 0
  return *f;
}

Counter& Registry::counter(std::string_view name, std::string_view help) {
  return family<Counter>(name, help, Kind::Counter, false, {}).get(Labels{});
}
Counter& Registry::float_counter(std::string_view name, std::string_view help) {
  return family<Counter>(name, help, Kind::Counter, true, {}).get(Labels{});
}
Gauge& Registry::gauge(std::string_view name, std::string_view help) {
  return family<Gauge>(name, help, Kind::Gauge, false, {}).get(Labels{});
}
Gauge& Registry::float_gauge(std::string_view name, std::string_view help) {
  return family<Gauge>(name, help, Kind::Gauge, true, {}).get(Labels{});
}
Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               const std::vector<double>& bounds) {
  return family<Histogram>(name, help, Kind::Histogram, false, {}, bounds).get(Labels{});
}
Family<Counter>& Registry::counter_family(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names, bool floating) {
  return family<Counter>(name, help, Kind::Counter, floating, std::move(label_names));
}
Family<Gauge>& Registry::gauge_family(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names, bool floating) {
  return family<Gauge>(name, help, Kind::Gauge, floating, std::move(label_names));
}
Family<Histogram>& Registry::histogram_family(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names,
                                              const std::vector<double>& bounds) {
  return family<Histogram>(name, help, Kind::Histogram, false, std::move(label_names), bounds);
}

void Registry::callback(std::string_view name, std::string_view help, Kind kind,
                        std::function<double()> fn, bool floating) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    FamilyBase* f = it->second;
    if (f->kind() != kind || f->floating() != floating || !f->callback())
      throw std::logic_error("metrics: " + std::string(name) +
                             " is already registered with another type");
    f->callback_ = std::move(fn);
    return;
  }
  lookup(name, kind, floating, {}, nullptr);  // validates the name
  // A childless family: its one sample comes from the callback.
  auto* f = new Family<Gauge>(std::string(name), std::string(help), kind, floating, {});
  f->callback_ = std::move(fn);
  families_.emplace_back(f);
  by_name_.emplace(f->name(), f);
}

void Registry::callback_gauge(std::string_view name, std::string_view help,
                              std::function<double()> fn, bool floating) {
  callback(name, help, Kind::Gauge, std::move(fn), floating);
}
void Registry::callback_counter(std::string_view name, std::string_view help,
                                std::function<double()> fn, bool floating) {
  callback(name, help, Kind::Counter, std::move(fn), floating);
}

const FamilyBase* Registry::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

// ---- export -------------------------------------------------------------------

std::string Registry::prometheus_text() const {
  std::string out;
  for (auto& fp : families_) {
    const FamilyBase& f = *fp;
    const std::string& n = f.name();
    out += "# HELP " + n + " " + escape(f.help(), false) + "\n";
    out += "# TYPE " + n + " " + kind_name(f.kind()) + "\n";
    if (f.callback()) {
      out += n + " " + callback_text(f) + "\n";
      continue;
    }
    const auto& names = f.label_names();
    switch (f.kind()) {
      case Kind::Counter:
        for (auto& [labels, c] : static_cast<const Family<Counter>&>(f).children())
          out += n + label_text(names, labels) + " " + counter_text(f, *c) + "\n";
        break;
      case Kind::Gauge:
        for (auto& [labels, g] : static_cast<const Family<Gauge>&>(f).children())
          out += n + label_text(names, labels) + " " + gauge_text(f, *g) + "\n";
        break;
      case Kind::Histogram:
        for (auto& [labels, h] : static_cast<const Family<Histogram>&>(f).children()) {
          for (size_t i = 0; i < h->bounds().size(); ++i)
            out += n + "_bucket" + label_text(names, labels, "le", format_double(h->bounds()[i])) +
                   " " + format_int(h->cumulative(i)) + "\n";
          out += n + "_bucket" + label_text(names, labels, "le", "+Inf") + " " +
                 format_int(h->count()) + "\n";
          out += n + "_sum" + label_text(names, labels) + " " + format_double(h->sum()) + "\n";
          out += n + "_count" + label_text(names, labels) + " " + format_int(h->count()) + "\n";
        }
        break;
    }
  }
  return out;
}

std::string Registry::json() const {
  Json out = Json::object();
  for (auto& fp : families_) {
    const FamilyBase& f = *fp;
    if (f.callback()) {
      out[f.name()] = callback_json(f);
      continue;
    }
    const auto& names = f.label_names();
    // Unlabelled: the value itself; labelled: [{"labels": {...}, "value": v}].
    Json arr = Json::array();
    auto add = [&](const Labels& labels, Json sample, bool is_histogram) {
      if (names.empty()) {
        out[f.name()] = std::move(sample);
        return;
      }
      Json item = {{"labels", labels_json(names, labels)}};
      if (is_histogram) item.update(sample);
      else item["value"] = std::move(sample);
      arr.push_back(std::move(item));
    };
    switch (f.kind()) {
      case Kind::Counter:
        for (auto& [labels, c] : static_cast<const Family<Counter>&>(f).children())
          add(labels, counter_json(f, *c), false);
        break;
      case Kind::Gauge:
        for (auto& [labels, g] : static_cast<const Family<Gauge>&>(f).children())
          add(labels, gauge_json(f, *g), false);
        break;
      case Kind::Histogram:
        for (auto& [labels, h] : static_cast<const Family<Histogram>&>(f).children())
          add(labels, histogram_json(*h), true);
        break;
    }
    if (!names.empty()) out[f.name()] = std::move(arr);
  }
  // replace: never throw on bytes that are not UTF-8 (label values are
  // cleaned already; this guards help texts and names too).
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Built directly into ListBuilders on the C stack, where the collector sees
// every partial list (a std::vector<Value> would hide them from it).
Value Registry::plist() const {
  ListBuilder out;
  for (auto& fp : families_) {
    const FamilyBase& f = *fp;
    out.push(keyword(f.name()));
    if (f.callback()) {
      out.push(callback_value(f));
      continue;
    }
    const auto& names = f.label_names();
    if (names.empty()) {
      switch (f.kind()) {
        case Kind::Counter:
          out.push(counter_value(f, *static_cast<const Family<Counter>&>(f).children().begin()->second));
          break;
        case Kind::Gauge:
          out.push(gauge_value(f, *static_cast<const Family<Gauge>&>(f).children().begin()->second));
          break;
        case Kind::Histogram: {
          ListBuilder h;
          push_histogram(h, *static_cast<const Family<Histogram>&>(f).children().begin()->second);
          out.push(h.result());
          break;
        }
      }
      continue;
    }
    // Labelled: a list of plists, the labels then :value (or the histogram).
    // Plain loops, no lambdas: clang 14 cannot capture structured bindings.
    ListBuilder samples;
    switch (f.kind()) {
      case Kind::Counter:
        for (auto& kv : static_cast<const Family<Counter>&>(f).children()) {
          ListBuilder s;
          push_labels(s, names, kv.first);
          s.push(intern(":value"));
          s.push(counter_value(f, *kv.second));
          samples.push(s.result());
        }
        break;
      case Kind::Gauge:
        for (auto& kv : static_cast<const Family<Gauge>&>(f).children()) {
          ListBuilder s;
          push_labels(s, names, kv.first);
          s.push(intern(":value"));
          s.push(gauge_value(f, *kv.second));
          samples.push(s.result());
        }
        break;
      case Kind::Histogram:
        for (auto& kv : static_cast<const Family<Histogram>&>(f).children()) {
          ListBuilder s;
          push_labels(s, names, kv.first);
          push_histogram(s, *kv.second);
          samples.push(s.result());
        }
        break;
    }
    out.push(samples.result());
  }
  return out.result();
}

// ---- the process-wide registry and the standard metrics ------------------------

Registry& global() {
  static Registry* r = new Registry;  // never destroyed: usable from atexit code
  return *r;
}

const char* status_class(int status) {
  static const char* const kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  return status >= 100 && status <= 599 ? kClasses[status / 100 - 1] : "other";
}

namespace {

Standard* make_standard(Registry& r) {
  auto* s = new Standard{
      r.counter("valk_loop_iterations_total", "Event loop iterations."),
      r.float_counter("valk_loop_busy_seconds_total",
                      "Seconds the event loop spent running callbacks (not waiting)."),
      r.counter("valk_handles_created_total", "Async handles created."),
      r.counter("valk_handles_completed_total", "Async handles completed successfully."),
      r.counter("valk_handles_failed_total", "Async handles failed."),
      r.counter("valk_handles_cancelled_total", "Async handles cancelled."),
      r.gauge("valk_handles_pending", "Async handles not yet settled."),
      r.gauge("valk_timers_active", "Timers waiting to fire."),
      r.gauge("valk_server_connections_active", "Open HTTP/2 server connections."),
      r.counter("valk_server_connections_total", "HTTP/2 server connections accepted."),
      r.counter("valk_server_connections_rejected_total",
                "HTTP/2 server connections refused at :max-connections."),
      r.gauge("valk_server_streams_active", "Open HTTP/2 server streams."),
      r.counter("valk_server_streams_total", "HTTP/2 server streams opened."),
      r.counter_family("valk_server_requests_total",
                       "HTTP requests answered, by method and status class.",
                       {"method", "status_class"}),
      r.counter("valk_server_requests_shed_total",
                "HTTP requests refused with 503 above :max-inflight."),
      r.counter("valk_server_request_timeouts_total",
                "HTTP requests answered 504 at :request-timeout-ms."),
      r.counter("valk_server_body_timeouts_total",
                "HTTP request bodies that stopped arriving for :body-timeout-ms (408)."),
      r.gauge("valk_server_response_streams_active", "Streamed HTTP responses open (stream/open)."),
      r.histogram("valk_server_request_duration_seconds",
                  "Time from a complete request until its response has been sent, in seconds."),
      r.counter("valk_server_bytes_in_total", "Bytes read by the HTTP/2 server."),
      r.counter("valk_server_bytes_out_total", "Bytes written by the HTTP/2 server."),
      r.counter("valk_server_backpressure_pauses_total",
                "Times the server stopped reading a connection over its output watermark."),
      r.counter("valk_server_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out."),
      r.counter_family("valk_server_io_errors_total",
                       "Server connections closed by a failed I/O call, by operation "
                       "(read, write, tls_write, read_start, accept).",
                       {"op"}),
      r.counter("valk_client_requests_total", "HTTP client requests started."),
      r.counter_family("valk_client_errors_total", "HTTP client requests failed, by kind.",
                       {"kind"}),
      r.counter("valk_client_bytes_in_total", "Bytes read by the HTTP client."),
      r.counter("valk_client_bytes_out_total", "Bytes written by the HTTP client."),
      r.histogram("valk_client_request_duration_seconds",
                  "HTTP client request time until the response completed, in seconds."),
      r.gauge("valk_client_connections_pooled", "HTTP client connections open in the pool."),
      r.counter_family("valk_io_operations_total",
                       "I/O operations started (files, processes, sockets, DNS, signals, "
                       "channels), by kind.",
                       {"kind"}),
      r.counter_family("valk_io_errors_total", "I/O operations that failed, by kind.", {"kind"}),
      r.gauge_family("valk_io_open",
                     "Files, processes, sockets and servers open now, by kind.", {"kind"}),
      r.counter("valk_metrics_label_sets_refused_total",
                "New label sets of user metrics refused at a family's bound (1000)."),
  };
  // Read from the collector at export time.
  r.callback_gauge("valk_heap_bytes", "Size of the garbage-collected heap in bytes.",
                   [] { return double(GC_get_heap_size()); });
  r.callback_counter("valk_gc_collections_total", "Garbage collections since start.",
                     [] { return double(GC_get_gc_no()); });
  // Symbols are never freed: a count that keeps growing means a program
  // turns input into keywords.
  r.callback_gauge("valk_symbols_interned", "Symbols and keywords interned (never freed).",
                   [] { return double(symbol_count()); });
  return s;
}

}  // namespace

Standard& standard() {
  static Standard* s = make_standard(global());
  return *s;
}

}  // namespace valk::metrics
