// The metrics registry (docs/async.md#metrics): counters, gauges and histograms that the
// async runtime and the HTTP server and client update, exported as a plist
// (aio/metrics), JSON (aio/metrics-json) and the Prometheus text format
// (aio/metrics-prometheus).
//
// The runtime is single-threaded (one interpreter per worker process), so a
// metric update is a plain add on a field: no locks, no atomics. Registration
// is by name and idempotent: registering a name again returns the metric
// already there, so callers may register lazily. References returned by the
// registry stay valid for the registry's lifetime (metrics are never removed),
// so hot paths should keep a reference (see Standard / standard()) rather than
// look names or label values up on every update.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"

namespace valk::metrics {

enum class Kind { Counter, Gauge, Histogram };

// A monotonically increasing count. Integer adds are the common case; a
// counter registered as floating (e.g. busy seconds) is added to with
// add_float and exported as a float.
class Counter {
 public:
  void inc() { ++n_; }
  void add(uint64_t n) { n_ += n; }
  void add_float(double d) { f_ += d; }  // d >= 0: counters never go down
  uint64_t count() const { return n_ + uint64_t(f_); }
  double value() const { return double(n_) + f_; }

 private:
  uint64_t n_ = 0;
  double f_ = 0;
};

// A value that goes up and down (active connections, pending handles).
class Gauge {
 public:
  void set(int64_t v) { i_ = v; f_ = 0; }
  void set_float(double v) { i_ = 0; f_ = v; }
  void inc(int64_t n = 1) { i_ += n; }
  void dec(int64_t n = 1) { i_ -= n; }
  void add_float(double d) { f_ += d; }
  int64_t int_value() const { return i_ + int64_t(f_); }
  double value() const { return double(i_) + f_; }

 private:
  int64_t i_ = 0;
  double f_ = 0;
};

// Counts observations into fixed buckets (upper bounds in seconds, strictly
// increasing; the +Inf bucket is implicit). Buckets are stored per bucket and
// made cumulative on export, so observe() touches one counter.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double seconds);
  void observe_ns(uint64_t ns) { observe(double(ns) * 1e-9); }
  const std::vector<double>& bounds() const { return *bounds_; }
  // Observations <= bounds()[i] (cumulative); i == bounds().size() is +Inf.
  uint64_t cumulative(size_t i) const;
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  const std::vector<double>* bounds_;  // owned by the family
  std::vector<uint64_t> counts_;       // per bucket; last one is (last bound, +Inf)
  double sum_ = 0;
  uint64_t count_ = 0;
};

using Labels = std::vector<std::string>;

// What every family has, whatever its metric type. A family is one metric
// name: one HELP/TYPE block in Prometheus, one key in JSON and the plist.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Kind kind() const { return kind_; }
  bool floating() const { return floating_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Set for callback metrics (no children): evaluated at each export.
  const std::function<double()>& callback() const { return callback_; }

 protected:
  FamilyBase(std::string name, std::string help, Kind kind, bool floating,
             std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), kind_(kind), floating_(floating),
        label_names_(std::move(label_names)) {}

 private:
  friend class Registry;
  std::string name_, help_;
  Kind kind_;
  bool floating_;
  std::vector<std::string> label_names_;
  std::function<double()> callback_;
};

// A metric family: one metric per combination of label values, created on
// first use. A family without labels has exactly one metric, get({}).
// Children are kept sorted by label values, which fixes the export order.
template <class M>
class Family : public FamilyBase {
 public:
  M& get(const Labels& values);
  M& get(std::initializer_list<std::string_view> values) {
    return get(Labels(values.begin(), values.end()));
  }
  const std::map<Labels, std::unique_ptr<M>>& children() const { return children_; }
  // The metric for `values`, made if there is room: nullptr when the family
  // already holds max_label_sets() label sets and `values` is not one of them
  // (the caller counts the refusal). *key, if given, is set to the stored
  // label values, which live as long as the family.
  M* try_get(const Labels& values, const Labels** key = nullptr);
  // 0 (the default): unbounded, for the runtime's own families, whose label
  // values come from fixed sets; user families (metrics/counter ...) are bounded.
  size_t max_label_sets() const { return max_label_sets_; }
  void set_max_label_sets(size_t n) { max_label_sets_ = n; }
  const std::vector<double>& bounds() const { return bounds_; }  // histograms only

 private:
  friend class Registry;
  Family(std::string name, std::string help, Kind kind, bool floating,
         std::vector<std::string> label_names, std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), kind, floating, std::move(label_names)),
        bounds_(std::move(bounds)) {}
  std::vector<double> bounds_;  // histograms only
  std::map<Labels, std::unique_ptr<M>> children_;
  size_t max_label_sets_ = 0;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// The default buckets of request durations, in seconds.
const std::vector<double>& default_duration_buckets();

// A set of metric families. The runtime uses the process-wide global();
// tests may build their own.
//
// Registering an existing name returns the existing metric; registering it
// with another type, other label names, other buckets or another
// integer/float choice is a programming error and throws std::logic_error,
// as does an invalid metric or label name.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help);
  Counter& float_counter(std::string_view name, std::string_view help);
  Gauge& gauge(std::string_view name, std::string_view help);
  Gauge& float_gauge(std::string_view name, std::string_view help);
  Histogram& histogram(std::string_view name, std::string_view help,
                       const std::vector<double>& bounds = default_duration_buckets());

  Family<Counter>& counter_family(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names, bool floating = false);
  Family<Gauge>& gauge_family(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names, bool floating = false);
  Family<Histogram>& histogram_family(
      std::string_view name, std::string_view help, std::vector<std::string> label_names,
      const std::vector<double>& bounds = default_duration_buckets());

  // Metrics read at export time (heap size, GC count, ...). Registering the
  // name again replaces the function, so an owner can re-point it. Unless
  // `floating`, the value is rounded to an integer.
  void callback_gauge(std::string_view name, std::string_view help,
                      std::function<double()> fn, bool floating = false);
  void callback_counter(std::string_view name, std::string_view help,
                        std::function<double()> fn, bool floating = false);

  const FamilyBase* find(std::string_view name) const;
  const std::vector<std::unique_ptr<FamilyBase>>& families() const { return families_; }

  // The three export formats, families in registration order.
  std::string prometheus_text() const;
  std::string json() const;  // a JSON object, serialised
  Value plist() const;       // a Q-style plist of GC values

 private:
  FamilyBase* lookup(std::string_view name, Kind kind, bool floating,
                     const std::vector<std::string>& label_names,
                     const std::vector<double>* bounds);
  template <class M>
  Family<M>& family(std::string_view name, std::string_view help, Kind kind, bool floating,
                    std::vector<std::string> label_names, std::vector<double> bounds = {});
  void callback(std::string_view name, std::string_view help, Kind kind,
                std::function<double()> fn, bool floating);

  std::vector<std::unique_ptr<FamilyBase>> families_;  // registration order
  std::map<std::string, FamilyBase*, std::less<>> by_name_;
};

// The process-wide registry the builtins export.
Registry& global();

// The runtime's standard metrics (names prefixed valk_), registered in the
// global registry on first use. Keep the struct (it is references) or a
// member to update a metric with a plain add.
struct Standard {
  // event loop
  Counter& loop_iterations;     // valk_loop_iterations_total
  Counter& loop_busy_seconds;   // valk_loop_busy_seconds_total (float: add_float)
  // handles
  Counter& handles_created;     // valk_handles_created_total
  Counter& handles_completed;   // valk_handles_completed_total
  Counter& handles_failed;      // valk_handles_failed_total
  Counter& handles_cancelled;   // valk_handles_cancelled_total
  Gauge& handles_pending;       // valk_handles_pending
  Gauge& timers_active;         // valk_timers_active
  // HTTP server
  Gauge& server_connections_active;      // valk_server_connections_active
  Counter& server_connections_total;     // valk_server_connections_total
  Counter& server_connections_rejected;  // valk_server_connections_rejected_total
  Gauge& server_streams_active;          // valk_server_streams_active
  Counter& server_streams_total;         // valk_server_streams_total
  Family<Counter>& server_requests;      // valk_server_requests_total{method,status_class}
  Counter& server_requests_shed;         // valk_server_requests_shed_total (503s)
  Counter& server_request_timeouts;      // valk_server_request_timeouts_total (504s)
  Counter& server_body_timeouts;         // valk_server_body_timeouts_total (408s)
  Gauge& server_response_streams;        // valk_server_response_streams_active
  Histogram& server_request_duration;    // valk_server_request_duration_seconds
  Counter& server_bytes_in;              // valk_server_bytes_in_total
  Counter& server_bytes_out;             // valk_server_bytes_out_total
  Counter& server_backpressure_pauses;   // valk_server_backpressure_pauses_total
  Counter& server_tls_handshake_failures;  // valk_server_tls_handshake_failures_total
  Family<Counter>& server_io_errors;     // valk_server_io_errors_total{op}
  // HTTP client
  Counter& client_requests;              // valk_client_requests_total
  Family<Counter>& client_errors;        // valk_client_errors_total{kind}
  Counter& client_bytes_in;              // valk_client_bytes_in_total
  Counter& client_bytes_out;             // valk_client_bytes_out_total
  Histogram& client_request_duration;    // valk_client_request_duration_seconds
  Gauge& client_connections_pooled;      // valk_client_connections_pooled
  // I/O beyond HTTP (src/io/): kind is fs, file, process, tcp, tcp_server,
  // pipe, dns, signal or channel
  Family<Counter>& io_operations;        // valk_io_operations_total{kind}
  Family<Counter>& io_errors;            // valk_io_errors_total{kind}
  Family<Gauge>& io_open;                // valk_io_open{kind}: sockets, processes, files open now
  // user metrics (metrics/counter ...)
  Counter& label_sets_refused;           // valk_metrics_label_sets_refused_total
  // valk_heap_bytes and valk_gc_collections_total are callbacks into the
  // collector: nothing to update.
};

// Registers the standard metrics in global() (idempotent) and returns them.
Standard& standard();
inline void register_standard_metrics() { standard(); }
// The same as standard(), under the short name some call sites use:
// metrics::std().handles_created.inc(). (`std::` qualified names still mean
// the namespace: a name before :: is looked up as a namespace or type only.)
inline Standard& std() { return standard(); }

// "2xx" for 200..299 etc., for the status_class label; "other" outside 100..599.
const char* status_class(int status);

}  // namespace valk::metrics
