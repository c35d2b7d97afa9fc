// libFuzzer target for the HTTP/2 server's connection input on the
// cleartext (h2c) path: the bytes TLS would have decrypted go to the server
// over a real loopback TCP connection, and whatever the server does with
// them (frames, HPACK, flow control, handlers, resets, GOAWAY, the
// HTTP/1.1 detection) must never crash, hang, or leak file descriptors,
// connections, streams or handles.
//
// One VM and two servers serve every input (started once): server A has
// the default timeouts and small limits (so 413 / 503 / refused streams are
// reachable); server B has a 2 ms header timeout (its timer path is timing
// dependent, so its coverage is not fully stable), streamed request bodies
// and a 3 ms request timeout. The handler dispatches on
// the request path to exercise the response forms (see kServers below).
//
// Input layout: byte 0 is flags, the rest is what the client sends.
//   bit 0  no client preface: the bytes go out as they are (HTTP/1.1
//          detection, bad prefaces); otherwise the preface is sent first
//   bit 1  half-close (shutdown SHUT_WR) once everything is written
//   bit 2  connect to server B instead of A
//   bit 3  write in pieces: byte 1 (consumed) is the piece size - 1, and
//          the loop runs a round between two pieces (frames split over reads)
//   bit 4  end with a TCP reset (SO_LINGER 0) instead of a plain close
//   bit 5  close early: after the first round that got a reply, or after
//          the last byte is written, without reading the rest
//   bit 6  slow reader: a 4 KB receive buffer, read 4 KB every fourth round
//          (the server's output backs up: backpressure)
//   bit 7  two connections at once, sending the same bytes
//
// The loop is driven from C++ without a nested driver: jobs (the handlers)
// run through %aio-drain, and aio::poll() runs one round of timers and I/O.
// A 1 ms runtime timer is kept armed so that poll never blocks longer.
//
// Checks (abort with a message): after an input and its settling rounds
// the server must have accepted the connections and freed them (no
// connection or stream left); every 100 inputs the counts of open file
// descriptors and of pending handles must still be within a small slack of
// the baseline taken at start (the slack covers the pipes libFuzzer's
// symbolizer opens). A poll that blocks for more than a second is reported.
//
// Run on a copy of tests/fuzz/corpus_h2 (new inputs land in the directory):
//   ASAN_OPTIONS=detect_leaks=0 fuzz_h2 -rss_limit_mb=4096 -timeout=10 CORPUS_COPY
// (-close_fd_mask=2 hides the server's handler-error log lines.)
// FUZZ_H2_VERBOSE=1 prints a line per input (what the client got back),
// FUZZ_H2_STATS=1 only the counts at each leak check.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gc/gc.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "aio/clock.h"
#include "aio/combinators.h"
#include "aio/handle.h"
#include "aio/loop.h"
#include "aio/metrics.h"
#include "core/printer.h"
#include "core/vm.h"

using namespace valk;

namespace {

constexpr int kMaxRounds = 300;          // per input, before the client closes
constexpr int64_t kBudgetUs = 250'000;   // ... and its time budget
constexpr int64_t kQuietUs = 2'000;      // nothing happening for this long: done
constexpr int kSettleRounds = 200;       // after the client closed
constexpr int kCheckEvery = 100;         // inputs between two leak checks
constexpr int kFdSlack = 16;
constexpr uint64_t kHandleSlack = 64;

const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// The handler: the path chooses the response form.
const char kServers[] = R"valk(
(fun (%fz-produce s n)   ; n writes, each when the stream has room
  (if (<= n 0) (stream/close s)
      (aio/then (stream/drain s) (lambda (_) (stream/write s (make-string 1000 "y")) (%fz-produce s (- n 1))))))
(def %fz-handler
  (lambda (req)
    (let ((p (req/path req)))
      (cond
        ((== p "/h") (str (req/method req) " " (req/headers req) " " (req/authority req) " "
                          (req/scheme req) " " (req/header req "x-a")))
        ((== p "/q") (str (req/query req) "|" (req/query req "a")))
        ((== p "/r") (http2/response 201 '(("x-demo" "1") ("content-type" "text/x")) (req/body req)))
        ((== p "/p") (list :status "404" :headers (list :x-count 3) :body (req/body req)))
        ((== p "/l") (http2/response 200 '(("content-length" "3")) "abc"))
        ((== p "/z") (http2/response 204 '() ""))
        ((== p "/bad") {:status "abc" :headers 5})
        ((== p "/v") 42)
        ((== p "/e") (error "boom"))
        ((== p "/f") (aio/fail "nope"))
        ((== p "/t") (aio/then (aio/sleep 0) (lambda (_) (req/body req))))
        ((== p "/d") (aio/delay 1 "late"))
        ((== p "/a") (let ((n (aio/await (aio/delay 0 41)))) (str "answer " (+ n 1))))
        ((== p "/n") (aio/never))
        ((== p "/c") (let ((h (aio/sleep 1000))) (do (aio/cancel h) h)))
        ((== p "/big") (make-string 200000 "x"))
        ((== p "/s") (let ((s (stream/open req {:content-type "text/plain"}))) (%fz-produce s 100) :deferred))
        ((== p "/sse") (let ((s (sse/open req))) (sse/send s "a\nb") (sse/event s "e" "c") (sse/close s) :deferred))
        ((== p "/fs") (list :status 200 :stream (lambda (s) (stream/write s "x") (stream/close s))))
        ((== p "/rb") (aio/then (req/read-body req) (lambda (b) (str (len b)))))
        ((== p "/rs") (aio/then (stream/read (req/body-stream req)) (lambda (c) (str c))))
        (else (req/body req))))))
(def %fz-srv-a
  (http2/server-listen 0 %fz-handler
    {:host "127.0.0.1" :max-body-bytes 4096 :max-header-bytes 2048
     :max-concurrent-streams 8 :max-inflight 6 :high-watermark 65536 :low-watermark 16384}))
(def %fz-srv-b
  (http2/server-listen 0 %fz-handler {:host "127.0.0.1" :header-timeout-ms 2 :stream-bodies true
                                     :request-timeout-ms 3 :max-body-bytes 4096}))
)valk";

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die(const char* fmt, long a = 0, long b = 0, long c = 0) {
  fprintf(stderr, "fuzz_h2: ");
  fprintf(stderr, fmt, a, b, c);
  fprintf(stderr, "\n");
  fflush(stderr);
  abort();
}

int count_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) die("cannot open /proc/self/fd");
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory's own fd
}

struct Fuzz {
  VM* vm = nullptr;
  Value drain = kNil;
  int port_a = 0, port_b = 0;
  int base_fds = 0;
  uint64_t base_handles = 0;
  uint64_t inputs = 0;
  bool verbose = false;
  bool stats = false;
};
Fuzz* g;
// The 1 ms timer that bounds each poll: a global, so that the collector
// (which scans the data segment, not malloc memory) sees it once settled.
aio::Handle* g_wake = nullptr;

Value eval(const char* src) {
  Value r = g->vm->eval_source(src, intern_filename("<fuzz_h2>"));
  if (is_error(r)) {
    fprintf(stderr, "fuzz_h2: setup failed: %s\n  in %s\n", repr_string(r).c_str(), src);
    abort();
  }
  return r;
}

void run_jobs() {
  while (aio::have_jobs()) {
    Value arg = kNil;
    g->vm->call(g->drain, &arg, 1);
  }
}

// One round: jobs, then timers and I/O (blocking at most ~1 ms).
void step() {
  run_jobs();
  if (!g_wake || aio::settled(g_wake)) g_wake = aio::sleep(*g->vm, 1, kNil);
  int64_t t0 = now_us();
  aio::poll(*g->vm, false);
  // The wake timer bounds every poll to about 1 ms: a long one is a loop
  // that missed its timer (libFuzzer's -timeout then reports the hang).
  if (int64_t took = now_us() - t0; took > 1'000'000)
    fprintf(stderr, "fuzz_h2: one poll took %lld ms although a 1 ms timer was armed\n",
            (long long)(took / 1000));
  run_jobs();
}

int64_t active_connections() { return metrics::standard().server_connections_active.int_value(); }
int64_t active_streams() { return metrics::standard().server_streams_active.int_value(); }
uint64_t pending_handles() { return aio::counts().pending; }
// Connections the servers have taken from the listen queue (served or refused).
uint64_t accepted() {
  auto& m = metrics::standard();
  return m.server_connections_total.count() + m.server_connections_rejected.count();
}

bool loop_ready() {
  pollfd p{uv_backend_fd(aio::loop()), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

void init() {
  signal(SIGPIPE, SIG_IGN);
  g = new Fuzz;
  g->verbose = getenv("FUZZ_H2_VERBOSE") != nullptr;
  g->stats = g->verbose || getenv("FUZZ_H2_STATS") != nullptr;
  g->vm = new VM;
  eval(kServers);
  g->port_a = int(int_val(eval("(http2/server-port %fz-srv-a)")));
  g->port_b = int(int_val(eval("(http2/server-port %fz-srv-b)")));
  g->drain = as_symbol(intern("%aio-drain"))->global;
  if (!is_function(g->drain)) die("%%aio-drain is not a function");
  for (int i = 0; i < 5; ++i) step();
  g->base_fds = count_fds();
  g->base_handles = pending_handles();
  if (g->verbose)
    fprintf(stderr, "fuzz_h2: ports %d %d, %d fds, %llu handles at start\n", g->port_a, g->port_b,
            g->base_fds, (unsigned long long)g->base_handles);
}

int connect_to(int port, bool small_buffer) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: errno %ld", errno);
  if (small_buffer) {
    int sz = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Blocking connect: on loopback the kernel completes it before accept().
  // Interrupted (libFuzzer's -timeout alarm ticks every second), it goes on
  // in the background: wait until the socket is writable, then ask.
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    if (err == EINTR) {
      pollfd p{fd, POLLOUT, 0};
      while (::poll(&p, 1, 1000) < 0 && errno == EINTR) {
      }
      socklen_t len = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err != 0) die("connect to port %ld: errno %ld", port, err);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One client connection: what it sends, how far it got.
struct Client {
  int fd = -1;
  size_t sent = 0, got = 0;
  bool wrote_all = false, shut = false, peer_closed = false;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!g) init();
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  ++data;
  --size;
  const bool no_preface = flags & 1, half_close = flags & 2, server_b = flags & 4,
             pieces = flags & 8, reset = flags & 16, early = flags & 32, slow = flags & 64,
             two = flags & 128;
  size_t piece = SIZE_MAX;
  if (pieces && size > 0) {
    piece = size_t(data[0]) + 1;
    ++data;
    --size;
  }
  std::string out;
  if (!no_preface) out.assign(kPreface, sizeof kPreface - 1);
  out.append(reinterpret_cast<const char*>(data), size);

  const uint64_t accepted_before = accepted();
  const int nclients = two ? 2 : 1;
  Client cl[2];
  for (int i = 0; i < nclients; ++i) {
    cl[i].fd = connect_to(server_b ? g->port_b : g->port_a, slow);
    cl[i].wrote_all = out.empty();
  }
  static char buf[65536];
  const int64_t start = now_us();
  int64_t quiet_since = -1;
  for (int r = 0; r < kMaxRounds && now_us() - start < kBudgetUs; ++r) {
    bool activity = false, all_written = true, all_closed = true, stop = false;
    // A slow reader reads a little every fourth round only: the server's
    // output backs up (backpressure: reading paused, then resumed).
    const bool read_now = !slow || r % 4 == 3;
    for (int i = 0; i < nclients; ++i) {
      Client& c = cl[i];
      if (c.peer_closed) continue;
      if (!c.wrote_all) {
        size_t n = out.size() - c.sent;
        if (n > piece) n = piece;
        ssize_t w = send(c.fd, out.data() + c.sent, n, MSG_NOSIGNAL);
        if (w > 0) {
          c.sent += size_t(w);
          activity = true;
        } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          c.wrote_all = true;  // the server closed or reset: nothing more to send
        }
        if (c.sent == out.size()) c.wrote_all = true;
      }
      if (c.wrote_all && half_close && !c.shut) {
        shutdown(c.fd, SHUT_WR);
        c.shut = true;
      }
    }
    step();
    for (int i = 0; i < nclients; ++i) {
      Client& c = cl[i];
      if (!c.peer_closed && read_now) {
        bool got_now = false;
        for (;;) {
          ssize_t n = recv(c.fd, buf, slow ? 4096 : sizeof buf, 0);
          if (n > 0) {
            c.got += size_t(n);
            got_now = activity = true;
            if (slow) break;
            continue;
          }
          if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            c.peer_closed = true;
          break;
        }
        if (early && (got_now || c.wrote_all)) stop = true;
      }
      all_written = all_written && (c.wrote_all || c.peer_closed);
      all_closed = all_closed && c.peer_closed;
    }
    if (all_closed || stop) break;
    // Done when nothing happens for a while: no job, no I/O ready, no
    // timer but ours, nothing sent or received (judged on reading rounds).
    if (!read_now) continue;
    bool quiet = !activity && all_written && !aio::have_jobs() && !loop_ready() &&
                 aio::active_timers() <= 1;
    if (!quiet) {
      quiet_since = -1;
    } else if (quiet_since < 0) {
      quiet_since = now_us();
    } else if (now_us() - quiet_since >= kQuietUs) {
      break;
    }
  }
  for (int i = 0; i < nclients; ++i) {
    if (reset) {
      linger l{1, 0};
      setsockopt(cl[i].fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(cl[i].fd);
  }

  // Settling: the server accepts the connection if it has not yet (an
  // early close) and notices the close. Its socket is closed as soon as
  // the count of active connections drops; one more round runs the close
  // callbacks, which free the connection.
  int settle = 0;
  while (settle < kSettleRounds && (accepted() < accepted_before + nclients ||
                                    active_connections() > 0 || active_streams() > 0)) {
    step();
    ++settle;
  }
  step();
  if (g->verbose)
    fprintf(stderr,
            "fuzz_h2: flags %02x, sent %zu/%zu, got %zu%s, %s, %d settle rounds, %lld us, "
            "%lld conns %lld streams %d fds %llu handles, %llu backpressure pauses so far\n",
            flags, cl[0].sent, out.size(), cl[0].got, two ? " (client 1 of 2)" : "",
            cl[0].peer_closed ? "server closed" : "client closed", settle,
            (long long)(now_us() - start), (long long)active_connections(),
            (long long)active_streams(), count_fds(), (unsigned long long)pending_handles(),
            (unsigned long long)metrics::standard().server_backpressure_pauses.count());
  if (accepted() < accepted_before + nclients)
    die("the server did not accept the connection within %ld rounds", kSettleRounds);
  if (active_connections() > 0 || active_streams() > 0)
    die("the server still has %ld connections and %ld streams %ld rounds after the client "
        "closed",
        long(active_connections()), long(active_streams()), kSettleRounds);
  if (++g->inputs % kCheckEvery == 0) {
    int fds = count_fds();
    if (fds > g->base_fds + kFdSlack)
      die("file descriptor leak: %ld open, %ld at start", fds, g->base_fds);
    uint64_t h = pending_handles();
    if (g->stats)
      fprintf(stderr, "fuzz_h2: %llu inputs: %d fds, %llu handles, GC heap %zu KB, in use %zu KB\n",
              (unsigned long long)g->inputs, fds, (unsigned long long)h, GC_get_heap_size() >> 10,
              GC_get_memory_use() >> 10);
    if (h > g->base_handles + kHandleSlack)
      die("handle leak: %ld pending, %ld at start", long(h), long(g->base_handles));
  }
  return 0;
}
