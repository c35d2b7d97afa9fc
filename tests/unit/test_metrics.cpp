// The metrics registry (docs/async.md#metrics): metric types, label families, and the
// three export formats, mostly against a private Registry so the expected
// text is exact; then the standard metrics and the aio/metrics* builtins.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "aio/metrics.h"
#include "core/printer.h"
#include "core/vm.h"

namespace valk {
void open_metrics(VM& vm);  // src/lib/metrics_builtins.cpp
}

using namespace valk;
using nlohmann::json;

namespace {

TEST(Metrics, CounterAndGauge) {
  metrics::Counter c;
  c.inc();
  c.add(41);
  EXPECT_EQ(c.count(), 42u);
  EXPECT_DOUBLE_EQ(c.value(), 42.0);

  metrics::Gauge g;
  g.inc();
  g.inc(5);
  g.dec(2);
  EXPECT_EQ(g.int_value(), 4);
  g.set(-7);
  EXPECT_EQ(g.int_value(), -7);
  g.set_float(1.5);
  EXPECT_DOUBLE_EQ(g.value(), 1.5);
}

TEST(Metrics, HistogramBucketsIncludeTheirBound) {
  std::vector<double> bounds{0.001, 0.01, 0.1};
  metrics::Histogram h(bounds);
  h.observe(0.0005);  // first bucket
  h.observe(0.001);   // on the bound: still the first bucket (le = "<=")
  h.observe(0.05);    // third
  h.observe(3);       // +Inf only
  h.observe_ns(2'000'000);  // 0.002 s: second
  EXPECT_EQ(h.cumulative(0), 2u);
  EXPECT_EQ(h.cumulative(1), 3u);
  EXPECT_EQ(h.cumulative(2), 4u);
  EXPECT_EQ(h.cumulative(3), 5u);  // +Inf
  EXPECT_EQ(h.count(), 5u);
  EXPECT_NEAR(h.sum(), 0.0005 + 0.001 + 0.05 + 3 + 0.002, 1e-12);
}

TEST(Metrics, RegistrationIsIdempotentAndChecked) {
  metrics::Registry r;
  metrics::Counter& a = r.counter("x_total", "help");
  a.inc();
  EXPECT_EQ(&r.counter("x_total", "other help"), &a);
  EXPECT_EQ(r.counter("x_total", "").count(), 1u);
  EXPECT_THROW(r.gauge("x_total", "help"), std::logic_error);       // other type
  EXPECT_THROW(r.float_counter("x_total", "h"), std::logic_error);  // int vs float
  EXPECT_THROW(r.counter_family("x_total", "h", {"a"}), std::logic_error);  // labels
  EXPECT_THROW(r.counter("bad-name", "h"), std::logic_error);
  EXPECT_THROW(r.counter("9lives", "h"), std::logic_error);
  EXPECT_THROW(r.counter_family("y_total", "h", {"bad label"}), std::logic_error);
  EXPECT_THROW(r.histogram_family("z_seconds", "h", {"le"}), std::logic_error);
  EXPECT_THROW(r.histogram("unsorted_seconds", "h", {1, 0.5}), std::logic_error);

  metrics::Histogram& h = r.histogram("h_seconds", "h", {0.1, 1});
  EXPECT_EQ(&r.histogram("h_seconds", "h", {0.1, 1}), &h);
  EXPECT_THROW(r.histogram("h_seconds", "h", {0.1, 2}), std::logic_error);

  r.callback_gauge("cb", "h", [] { return 1.0; });
  r.callback_gauge("cb", "h", [] { return 2.0; });  // re-points the callback
  EXPECT_EQ(r.find("cb")->callback()(), 2.0);
  EXPECT_THROW(r.gauge("cb", "h"), std::logic_error);
  EXPECT_THROW(r.callback_gauge("x_total", "h", [] { return 0.0; }), std::logic_error);
  EXPECT_EQ(r.find("nope"), nullptr);
}

TEST(Metrics, LabelFamilies) {
  metrics::Registry r;
  auto& fam = r.counter_family("req_total", "h", {"method", "status_class"});
  metrics::Counter& get2xx = fam.get({"GET", "2xx"});
  get2xx.inc();
  fam.get({"GET", "2xx"}).inc();
  fam.get({"POST", "5xx"}).add(3);
  EXPECT_EQ(&fam.get({"GET", "2xx"}), &get2xx);
  EXPECT_EQ(get2xx.count(), 2u);
  EXPECT_EQ(fam.children().size(), 2u);
  EXPECT_THROW(fam.get({"GET"}), std::logic_error);  // wrong number of values
  EXPECT_EQ(&r.counter_family("req_total", "h", {"method", "status_class"}), &fam);
}

TEST(Metrics, TryGetStopsAtTheLabelSetBound) {
  metrics::Registry r;
  auto& fam = r.gauge_family("bounded", "h", {"id"}, true);
  EXPECT_EQ(fam.max_label_sets(), 0u);  // unbounded unless set
  fam.set_max_label_sets(2);
  const metrics::Labels* key = nullptr;
  metrics::Gauge* a = fam.try_get({"a"}, &key);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(*key, metrics::Labels{"a"});
  ASSERT_NE(fam.try_get({"b"}), nullptr);
  EXPECT_EQ(fam.try_get({"c"}), nullptr);  // refused: the family is full
  EXPECT_EQ(fam.try_get({"a"}), a);        // a known set still works
  EXPECT_EQ(fam.children().size(), 2u);
  a->add_float(1.5);
  EXPECT_NE(r.prometheus_text().find("bounded{id=\"a\"} 1.5\n"), std::string::npos);
}

TEST(Metrics, StatusClass) {
  EXPECT_STREQ(metrics::status_class(200), "2xx");
  EXPECT_STREQ(metrics::status_class(101), "1xx");
  EXPECT_STREQ(metrics::status_class(404), "4xx");
  EXPECT_STREQ(metrics::status_class(503), "5xx");
  EXPECT_STREQ(metrics::status_class(599), "5xx");
  EXPECT_STREQ(metrics::status_class(600), "other");
  EXPECT_STREQ(metrics::status_class(0), "other");
}

// A small registry with one of everything.
void fill(metrics::Registry& r) {
  r.counter("app_jobs_total", "Jobs done.").add(3);
  r.float_counter("app_busy_seconds_total", "Busy time.").add_float(0.25);
  r.gauge("app_queue", "Queue length.").set(-2);
  auto& req = r.counter_family("app_requests_total", "Requests\\by \"kind\"\nsecond line.",
                               {"method", "status_class"});
  req.get({"POST", "5xx"}).inc();
  req.get({"GET", "2xx"}).add(5);
  req.get({"a\"b\\c\nd", "2xx"}).inc();
  r.counter_family("app_errors_total", "Errors by kind.", {"kind"});  // no samples yet
  auto& h = r.histogram("app_duration_seconds", "Durations.", {0.0005, 1, 2.5});
  h.observe(0.0001);
  h.observe(0.5);
  h.observe(2.5);
  h.observe(20);
  r.callback_gauge("app_heap_bytes", "Heap.", [] { return 1024.4; });
  r.callback_gauge("app_ratio", "Ratio.", [] { return 0.75; }, true);
}

TEST(Metrics, PrometheusTextExact) {
  metrics::Registry r;
  fill(r);
  EXPECT_EQ(r.prometheus_text(),
            "# HELP app_jobs_total Jobs done.\n"
            "# TYPE app_jobs_total counter\n"
            "app_jobs_total 3\n"
            "# HELP app_busy_seconds_total Busy time.\n"
            "# TYPE app_busy_seconds_total counter\n"
            "app_busy_seconds_total 0.25\n"
            "# HELP app_queue Queue length.\n"
            "# TYPE app_queue gauge\n"
            "app_queue -2\n"
            "# HELP app_requests_total Requests\\\\by \"kind\"\\nsecond line.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{method=\"GET\",status_class=\"2xx\"} 5\n"
            "app_requests_total{method=\"POST\",status_class=\"5xx\"} 1\n"
            "app_requests_total{method=\"a\\\"b\\\\c\\nd\",status_class=\"2xx\"} 1\n"
            "# HELP app_errors_total Errors by kind.\n"
            "# TYPE app_errors_total counter\n"
            "# HELP app_duration_seconds Durations.\n"
            "# TYPE app_duration_seconds histogram\n"
            "app_duration_seconds_bucket{le=\"0.0005\"} 1\n"
            "app_duration_seconds_bucket{le=\"1\"} 2\n"
            "app_duration_seconds_bucket{le=\"2.5\"} 3\n"
            "app_duration_seconds_bucket{le=\"+Inf\"} 4\n"
            "app_duration_seconds_sum 23.0001\n"
            "app_duration_seconds_count 4\n"
            "# HELP app_heap_bytes Heap.\n"
            "# TYPE app_heap_bytes gauge\n"
            "app_heap_bytes 1024\n"
            "# HELP app_ratio Ratio.\n"
            "# TYPE app_ratio gauge\n"
            "app_ratio 0.75\n");
}

TEST(Metrics, PrometheusLabelledHistogram) {
  metrics::Registry r;
  auto& f = r.histogram_family("rpc_seconds", "RPC time.", {"peer"}, {0.1});
  f.get({"b"}).observe(0.05);
  EXPECT_EQ(r.prometheus_text(),
            "# HELP rpc_seconds RPC time.\n"
            "# TYPE rpc_seconds histogram\n"
            "rpc_seconds_bucket{peer=\"b\",le=\"0.1\"} 1\n"
            "rpc_seconds_bucket{peer=\"b\",le=\"+Inf\"} 1\n"
            "rpc_seconds_sum{peer=\"b\"} 0.05\n"
            "rpc_seconds_count{peer=\"b\"} 1\n");
}

// Floats print as Go's strconv 'g' does (as Prometheus clients do): the
// shortest round trip, plain decimals for exponents -4 up to 20.
TEST(Metrics, PrometheusNumberFormat) {
  metrics::Registry r;
  r.histogram("t_seconds", "h", {1e-7, 0.00001, 0.0001, 0.1, 1e6, 1e21});
  r.float_counter("big_total", "h").add_float(1234567.125);
  r.float_gauge("small", "h").set_float(-0.3);
  std::string text = r.prometheus_text();
  for (const char* s :
       {"t_seconds_bucket{le=\"1e-07\"} 0\n", "t_seconds_bucket{le=\"1e-05\"} 0\n",
        "t_seconds_bucket{le=\"0.0001\"} 0\n",
        "t_seconds_bucket{le=\"0.1\"} 0\n", "t_seconds_bucket{le=\"1000000\"} 0\n",
        "t_seconds_bucket{le=\"1e+21\"} 0\n", "t_seconds_sum 0\n",
        "big_total 1234567.125\n", "small -0.3\n"})
    EXPECT_NE(text.find(s), std::string::npos) << s << "\nin:\n" << text;
}

TEST(Metrics, InvalidUtf8LabelValuesAreReplaced) {
  metrics::Registry r;
  r.counter_family("m_total", "h", {"k"}).get({std::string("a\xff" "b")}).inc();
  EXPECT_NE(r.prometheus_text().find("m_total{k=\"a\xEF\xBF\xBD" "b\"} 1"), std::string::npos);
  json j = json::parse(r.json());  // would throw on invalid UTF-8
  EXPECT_EQ(j["m_total"][0]["labels"]["k"], "a\xEF\xBF\xBD" "b");
}

TEST(Metrics, JsonParsesBackWithTheValues) {
  metrics::Registry r;
  fill(r);
  json j = json::parse(r.json());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["app_jobs_total"], 3);
  EXPECT_TRUE(j["app_jobs_total"].is_number_integer());
  EXPECT_EQ(j["app_busy_seconds_total"], 0.25);
  EXPECT_EQ(j["app_queue"], -2);
  EXPECT_EQ(j["app_heap_bytes"], 1024);
  EXPECT_EQ(j["app_ratio"], 0.75);

  const json& req = j["app_requests_total"];
  ASSERT_TRUE(req.is_array());
  ASSERT_EQ(req.size(), 3u);
  EXPECT_EQ(req[0]["labels"]["method"], "GET");
  EXPECT_EQ(req[0]["labels"]["status_class"], "2xx");
  EXPECT_EQ(req[0]["value"], 5);
  EXPECT_EQ(req[2]["labels"]["method"], "a\"b\\c\nd");

  EXPECT_TRUE(j["app_errors_total"].is_array());
  EXPECT_TRUE(j["app_errors_total"].empty());

  const json& h = j["app_duration_seconds"];
  EXPECT_EQ(h["count"], 4);
  EXPECT_DOUBLE_EQ(h["sum"].get<double>(), 23.0001);
  EXPECT_EQ(h["buckets"]["0.0005"], 1);
  EXPECT_EQ(h["buckets"]["1"], 2);
  EXPECT_EQ(h["buckets"]["2.5"], 3);
  EXPECT_EQ(h["buckets"]["+Inf"], 4);
  EXPECT_EQ(h["buckets"].size(), 4u);
}

TEST(Metrics, PlistShape) {
  metrics::Registry r;
  fill(r);
  EXPECT_EQ(repr_string(r.plist()),
            "{:app-jobs-total 3"
            " :app-busy-seconds-total 0.25"
            " :app-queue -2"
            " :app-requests-total {{:method \"GET\" :status-class \"2xx\" :value 5}"
            " {:method \"POST\" :status-class \"5xx\" :value 1}"
            " {:method \"a\\\"b\\\\c\\nd\" :status-class \"2xx\" :value 1}}"
            " :app-errors-total ()"
            " :app-duration-seconds {:buckets {\"0.0005\" 1 \"1\" 2 \"2.5\" 3 \"+Inf\" 4}"
            " :sum 23.0001 :count 4}"
            " :app-heap-bytes 1024"
            " :app-ratio 0.75}");

  // The valk_ prefix is dropped from keys; values are ints or floats.
  metrics::Registry v;
  v.counter("valk_handles_created_total", "h").inc();
  Value pl = v.plist();
  ASSERT_TRUE(is_qcons(pl));
  EXPECT_EQ(car(pl), intern(":handles-created-total"));
  EXPECT_TRUE(is_int(car(cdr(pl))));
  EXPECT_EQ(int_val(car(cdr(pl))), 1);
}

TEST(Metrics, StandardMetrics) {
  metrics::register_standard_metrics();
  metrics::Standard& s = metrics::standard();
  EXPECT_EQ(&metrics::std(), &s);
  metrics::register_standard_metrics();  // idempotent
  EXPECT_EQ(&metrics::standard(), &s);

  uint64_t before = s.handles_created.count();
  metrics::std().handles_created.inc();
  EXPECT_EQ(s.handles_created.count(), before + 1);
  s.server_requests.get({"GET", metrics::status_class(200)}).inc();
  s.client_errors.get({"timeout"}).inc();
  s.server_request_duration.observe(0.003);
  s.loop_busy_seconds.add_float(0.5);
  // The same objects as registering by name.
  EXPECT_EQ(&metrics::global().counter("valk_handles_created_total", ""), &s.handles_created);

  std::string text = metrics::global().prometheus_text();
  for (const char* name :
       {"valk_loop_iterations_total", "valk_loop_busy_seconds_total",
        "valk_handles_created_total", "valk_handles_completed_total",
        "valk_handles_failed_total", "valk_handles_cancelled_total", "valk_handles_pending",
        "valk_timers_active", "valk_server_connections_active",
        "valk_server_connections_total", "valk_server_connections_rejected_total",
        "valk_server_streams_active", "valk_server_streams_total",
        "valk_server_requests_total", "valk_server_requests_shed_total",
        "valk_server_request_duration_seconds", "valk_server_bytes_in_total",
        "valk_server_bytes_out_total", "valk_server_backpressure_pauses_total",
        "valk_server_tls_handshake_failures_total", "valk_client_requests_total",
        "valk_client_errors_total", "valk_client_bytes_in_total",
        "valk_client_bytes_out_total", "valk_client_request_duration_seconds",
        "valk_client_connections_pooled", "valk_heap_bytes", "valk_gc_collections_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(text.find("valk_server_requests_total{method=\"GET\",status_class=\"2xx\"} "),
            std::string::npos);
  EXPECT_NE(text.find("valk_server_request_duration_seconds_bucket{le=\"0.0005\"} "),
            std::string::npos);
  EXPECT_NE(text.find("valk_server_request_duration_seconds_bucket{le=\"0.005\"} "),
            std::string::npos);
  EXPECT_NE(text.find("valk_server_request_duration_seconds_bucket{le=\"+Inf\"} "),
            std::string::npos);

  json j = json::parse(metrics::global().json());
  EXPECT_GT(j["valk_heap_bytes"].get<int64_t>(), 0);
  EXPECT_TRUE(j["valk_gc_collections_total"].is_number_integer());
  EXPECT_TRUE(j["valk_loop_busy_seconds_total"].is_number_float());
  EXPECT_EQ(j["valk_server_request_duration_seconds"]["buckets"].size(), 15u);
}

// ---- the builtins, through the evaluator ----------------------------------------

VM& vm() {
  static VM* v = [] {
    auto* m = new VM;  // never destroyed, like the other suites' VMs
    open_metrics(*m);
    return m;
  }();
  return *v;
}

std::string ev(const std::string& src) {
  return repr_string(vm().eval_source(src, intern_filename("<metrics-test>")));
}

TEST(MetricsBuiltins, Formats) {
  EXPECT_EQ(ev("(type (aio/metrics-prometheus))"), ":string");
  EXPECT_EQ(ev("(type (aio/metrics-json))"), ":string");
  EXPECT_EQ(ev("(type (get (aio/metrics) :handles-created-total))"), ":integer");
  EXPECT_EQ(ev("(type (get (aio/metrics) :loop-busy-seconds-total))"), ":float");
  EXPECT_EQ(ev("(get (get (aio/metrics) :server-request-duration-seconds) :count)"),
            std::to_string(metrics::standard().server_request_duration.count()));
  // An upstream-style system argument is accepted and ignored...
  EXPECT_EQ(ev("(type (aio/metrics 'sys))"), ":list");
  EXPECT_EQ(ev("(type (aio/metrics-json nil))"), ":string");
  EXPECT_EQ(ev("(type (aio/metrics-prometheus 1))"), ":string");
  // ...but an error there travels outward.
  EXPECT_EQ(ev("(error-message (aio/metrics (error \"boom\")))"), "\"boom\"");

  metrics::standard().server_bytes_in.add(10);
  uint64_t n = metrics::standard().server_bytes_in.count();
  Value s = vm().eval_source("(aio/metrics-json)", intern_filename("<metrics-test>"));
  ASSERT_TRUE(is_string(s));
  json j = json::parse(std::string(as_string(s)->view()));
  EXPECT_EQ(j["valk_server_bytes_in_total"].get<uint64_t>(), n);
}

}  // namespace
