// valk --workers N FILE (docs/http-server.md#multi-core-and-scaling-out): N worker processes, each with its own
// interpreter, sharing listening ports with SO_REUSEPORT.
#pragma once

namespace valk {

// Forks the workers and supervises them: a crashed worker is restarted,
// SIGINT/SIGTERM stop them all. Returns the exit status in the supervisor;
// returns -1 in a worker, which then runs the program as usual (with
// VALK_WORKER set, so servers share their port).
int run_workers(int n);

}  // namespace valk
