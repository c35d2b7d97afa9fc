// os/signal, os/on-signal (docs/io.md#signals).
#include "aio/handle.h"
#include "io/signals.h"
#include "lib/builtins.h"

namespace valk {

namespace {

const char* kSignalNames = "a signal (:term :int :hup :usr1 :usr2 :quit :winch :pipe :alrm :chld "
                           ":cont :tstp, or a number other than 9 and 19)";

// (os/signal :term) => a handle completing with :term at the next SIGTERM.
Value b_signal(VM& vm, Value* args, int) {
  int n = io::signal_number(args[0]);
  if (n < 0) return bad_arg("os/signal", 0, kSignalNames, args[0]);
  return aio::handle_value(io::signal_once(vm, n));
}

// (os/on-signal :hup f) => a handle; (f :hup) runs at each SIGHUP until it
// is cancelled.
Value b_on_signal(VM& vm, Value* args, int) {
  int n = io::signal_number(args[0]);
  if (n < 0) return bad_arg("os/on-signal", 0, kSignalNames, args[0]);
  VALK_CHECK(is_function(args[1]), "os/on-signal", 1, "a function");
  return aio::handle_value(io::signal_each(vm, n, args[1]));
}

}  // namespace

void open_os(VM&) {
  define("os/signal", guarded<b_signal>, 1, 1);
  define("os/on-signal", guarded<b_on_signal>, 2, 2);
}

}  // namespace valk
