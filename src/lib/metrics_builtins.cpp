// The metrics builtins (docs/async.md#metrics): the process-wide registry as a plist, as
// JSON text and as Prometheus text. Each takes an optional first argument,
// ignored: upstream passed its system value, (aio/metrics sys). An error
// there still travels outward (docs/language.md#errors-are-values).
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

}  // namespace

void open_metrics(VM&) {
  define("aio/metrics", b_metrics, 0, 1);
  define("aio/metrics-json", b_metrics_json, 0, 1);
  define("aio/metrics-prometheus", b_metrics_prometheus, 0, 1);
}

}  // namespace valk
