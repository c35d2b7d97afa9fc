// The HTTP/2 server: listening, accepting and stopping (see server.h and
// server_internal.h for how its parts fit).
#include "http/server_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "aio/loop.h"
#include "core/printer.h"
#include "core/runtime.h"
#include "core/vm.h"
#include "http/tls.h"

namespace valk::http {

namespace {

const OpaqueClass kServerClass = {"server", [](std::string& out, const Opaque* o) {
                                    auto* s = reinterpret_cast<const Server*>(o->payload);
                                    out += "<server " + std::string(s->opts.tls ? "https" : "h2c") +
                                           "://" + s->opts.host + ":" + std::to_string(s->port) +
                                           (s->stopping ? " stopping>" : ">");
                                  }};

}  // namespace

void on_connection(uv_stream_t* listener, int status) {
  auto* s = static_cast<Server*>(listener->data);
  if (status < 0) return;
  Connection* c = gc_new_pinned<Connection>();
  c->srv = s;
  uv_tcp_init(aio::loop(), &c->tcp);
  c->tcp.data = c;
  c->open_handles = 1;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
      gc_delete_pinned(static_cast<Connection*>(h->data));
    });
    return;
  }
  if (s->stopping || s->nconnections >= s->opts.max_connections) {
    // Over the limit: refused at once.
    M().server_connections_rejected.inc();
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
      gc_delete_pinned(static_cast<Connection*>(h->data));
    });
    return;
  }
  ++s->nconnections;
  M().server_connections_total.inc();  // accepted ones; refused are counted apart
  M().server_connections_active.inc();
  c->next = s->connections;
  if (s->connections) s->connections->prev = c;
  s->connections = c;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_init(aio::loop(), &c->timer);
  c->timer.data = c;
  c->open_handles = 2;
  c->last_activity_ms = c->accepted_ms = now_ms();
  // One timer per connection, ticking: the header, body and idle timeouts
  // are checked at each tick (to within kTickMs).
  uv_timer_start(&c->timer, on_conn_timer, std::min<uint64_t>(kTickMs, s->opts.header_timeout_ms), 0);
  if (s->tls) {
    c->ssl = SSL_new(s->tls);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
  }
  conn_start_reading(c);
}

// Servers that listen or still have connections: the collector must not
// take them while libuv and their connections point at them.

void forget_server(Server* s) {
  for (auto& x : rt().server.live)
    if (x == s) {
      x = rt().server.live.back();
      rt().server.live.pop_back();
      break;
    }
}

void maybe_finish_stop(Server* s) {
  if (!s->stopping || s->listening || s->connections || s->stopped) return;
  s->stopped = true;
  s->release();
  forget_server(s);
  if (s->stop_handle) aio::complete(s->stop_handle, kNil);
}

// ---- the server ----------------------------------------------------------------------------

bool is_server(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kServerClass;
}
Server* as_server(Value v) { return static_cast<Server*>(reinterpret_cast<Opaque*>(v)->payload); }
int server_port(const Server* s) { return s->port; }

Value listen(VM& vm, const ServerOptions& opts, Value handler) {
  aio::start(vm);
  aio::add_before_poll(flush_batch);
  Server* s = gc_new_finalized<Server>();
  s->base.h = {Type::Opaque, 0, 0, 0};
  s->base.cls = &kServerClass;
  s->base.payload = s;
  s->opts = opts;
  s->handler = handler;
  auto fail = [&](const std::string& msg) {
    s->release();
    return make_error("http2/server-listen: " + msg);
  };
  if (opts.tls) {
    std::string err;
    s->tls = make_server_tls(opts.cert, opts.key, err);
    if (!s->tls) return fail(err);
  }
  // The socket is made by hand so that SO_REUSEPORT can be set for worker
  // processes (libuv 1.44 has no flag for it).
  sockaddr_storage addr{};
  int family = AF_INET;
  if (uv_ip4_addr(opts.host.c_str(), opts.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
    if (uv_ip6_addr(opts.host.c_str(), opts.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
      return fail("invalid host address " + opts.host);
    family = AF_INET6;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (opts.reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  socklen_t alen = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), alen) != 0) {
    std::string e = strerror(errno);
    close(fd);
    return fail("cannot listen on " + opts.host + ":" + std::to_string(opts.port) + ": " + e);
  }
  uv_tcp_init(aio::loop(), &s->listener);
  s->listener.data = s;
  int rv = uv_tcp_open(&s->listener, fd);
  if (rv != 0) close(fd);  // not adopted by libuv: still ours to close
  if (rv == 0) rv = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listener), 1024, on_connection);
  if (rv != 0) {
    // (The loop's handle list keeps the server alive until the close ends.)
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), nullptr);
    return fail("cannot listen on " + opts.host + ":" + std::to_string(opts.port) + ": " +
                uv_strerror(rv));
  }
  sockaddr_storage bound{};
  int blen = sizeof bound;
  uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&bound), &blen);
  s->port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->listening = true;
  rt().server.live.push_back(s);

  nghttp2_session_callbacks_new(&s->callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(s->callbacks, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(s->callbacks, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(s->callbacks, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(s->callbacks, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(s->callbacks, on_stream_close);
  nghttp2_option_new(&s->option);
  // Windows are opened by the server (nghttp2_session_consume*): a streamed
  // request body's only as fast as the program reads it.
  nghttp2_option_set_no_auto_window_update(s->option, 1);
  // Hardening: rapid-reset and CONTINUATION floods are cut off by nghttp2.
  nghttp2_option_set_stream_reset_rate_limit(s->option, 1000, 33);
  nghttp2_option_set_max_continuations(s->option, 8);
  nghttp2_option_set_max_settings(s->option, 32);
  nghttp2_option_set_max_outbound_ack(s->option, 1000);
  return obj_val(s);
}

aio::Handle* stop(VM& vm, Server* s) {
  // Idempotent: every call returns the same handle.
  if (s->stop_handle) return s->stop_handle;
  aio::Handle* h = aio::new_handle(vm, aio::Kind::External, aio::State::Running);
  s->stopping = true;
  s->stop_handle = h;
  if (s->stopped || (!s->listening && !s->connections)) {
    maybe_finish_stop(s);
    return h;
  }
  if (s->listening) {
    s->listening = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), [](uv_handle_t* l) {
      maybe_finish_stop(static_cast<Server*>(l->data));
    });
  }
  // Requests in flight finish; connections close when they have none.
  for (Connection* c = s->connections; c; c = c->next) {
    if (!c->session) {
      conn_close(c);
      continue;
    }
    nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    conn_flush(c);
  }
  return h;
}

}  // namespace valk::http
