// Signals as handles (uv_signal_*): the next SIGTERM as a handle, or a
// callback per signal. libuv turns the signal into an event of the loop, so
// what the program runs is a job like any other, never a signal handler.
#pragma once

#include "aio/handle.h"
#include "core/value.h"

namespace valk::io {

// :term :int :hup :usr1 :usr2 :quit :winch :pipe :alrm :chld :cont :tstp,
// or a number; -1 if it names no signal that can be caught.
int signal_number(Value v);
Value signal_keyword(int signum);

// Completes with the signal's keyword at its next delivery. It keeps the
// program running while it waits (waiting for the signal is its purpose).
aio::Handle* signal_once(VM& vm, int signum);
// Calls (f keyword) as a job at each delivery until the handle is
// cancelled. It does not keep the program running by itself (as a signal
// listener in Node does not).
aio::Handle* signal_each(VM& vm, int signum, Value f);

}  // namespace valk::io
