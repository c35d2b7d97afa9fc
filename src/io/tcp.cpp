// TCP and Unix domain sockets (see tcp.h).
#include "io/tcp.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "aio/combinators.h"
#include "aio/loop.h"
#include "core/gc.h"
#include "core/printer.h"
#include "core/vm.h"
#include "http/tls.h"
#include "io/io.h"
#include "io/uv_stream.h"

namespace valk::io {

namespace {

// ---- TLS for clients -----------------------------------------------------------
// One context per CA file (and one without verification), made on first use:
// loading the system's trust store is the costly part.
SSL_CTX* client_tls(const ConnectOptions& o, std::string& err) {
  static std::map<std::string, SSL_CTX*> contexts;
  std::string ca = o.ca_file;
  if (ca.empty())
    if (const char* f = getenv("SSL_CERT_FILE"); f && *f) ca = f;
  std::string key = (o.verify ? "v:" : "n:") + ca;
  if (auto it = contexts.find(key); it != contexts.end()) return it->second;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (o.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int ok = ca.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                        : SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
    if (ok != 1) {
      err = "cannot load the CA certificates " + (ca.empty() ? std::string("(system)") : ca) +
            ": " + http::tls_error_text();
      SSL_CTX_free(ctx);
      return nullptr;
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  contexts[key] = ctx;
  return ctx;
}

bool is_ip_literal(const std::string& h) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

SSL* client_ssl(SSL_CTX* ctx, const std::string& name, bool verify) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_connect_state(ssl);
  if (!is_ip_literal(name)) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (verify) {
    X509_VERIFY_PARAM* p = SSL_get0_param(ssl);
    if (is_ip_literal(name)) X509_VERIFY_PARAM_set1_ip_asc(p, name.c_str());
    else SSL_set1_host(ssl, name.c_str());
  }
  return ssl;
}

// ---- connecting ---------------------------------------------------------------------

// Pinned: libuv points at it during the look-up and the connect.
struct Connect {
  aio::Handle* h = nullptr;
  const char* kind = "tcp";  // or "unix"
  std::string host, label;
  int port = 0;
  ConnectOptions o;
  uv_getaddrinfo_t gai;
  addrinfo* res = nullptr;
  addrinfo* cur = nullptr;
  UvConn* conn = nullptr;
  uv_connect_t creq;
  int last_error = 0;
  bool cancelled = false;
  aio::Handle* scope = nullptr;  // where tcp/connect was called: it owns the connection
};

void connect_done(Connect* op) {
  if (op->res) uv_freeaddrinfo(op->res);
  gc_delete_pinned(op);
}

void connect_failed(Connect* op, int code) {
  aio::Handle* h = op->h;
  if (!aio::settled(h)) {
    h->k.io = {nullptr, nullptr};
    aio::fail_with(h, uv_error(op->kind, std::string(op->kind) + "/connect", op->label, code));
  }
  connect_done(op);
}

// Connected: the stream is made; with TLS the handle completes after the handshake.
void connected(Connect* op) {
  VM& vm = current_vm();
  AttachOptions ao;
  ao.idle_timeout_ms = op->o.idle_timeout_ms;
  ao.scope = op->scope;
  aio::Handle* h = op->h;
  h->k.io = {nullptr, nullptr};
  if (op->o.tls) {
    std::string err;
    SSL_CTX* ctx = client_tls(op->o, err);
    if (!ctx) {
      discard(op->conn, true);
      aio::fail_with(h, io_error(op->kind, "tcp/connect " + op->label + ": " + err));
      return connect_done(op);
    }
    ao.ssl = client_ssl(ctx, op->o.server_name.empty() ? op->host : op->o.server_name, op->o.verify);
    ao.ready = h;
    UvConn* c = op->conn;
    attach(vm, c, ao);
    if (!aio::settled(h))
      h->k.io = {[](void* ctx) { abort_conn(static_cast<UvConn*>(ctx), aio::StreamEnd::Cancelled); }, c};
  } else {
    aio::ByteStream* s = attach(vm, op->conn, ao);
    aio::complete(h, aio::stream_value(s));
  }
  connect_done(op);
}

void try_next(Connect* op);

void on_connected(uv_connect_t* req, int status) {
  auto* op = static_cast<Connect*>(req->data);
  if (op->cancelled) return connect_done(op);  // (the connection was discarded)
  if (status < 0) {
    op->last_error = status;
    discard(op->conn, true);
    op->conn = nullptr;
    op->cur = op->cur->ai_next;
    return try_next(op);
  }
  connected(op);
}

// Tries the resolved addresses in order until one accepts.
void try_next(Connect* op) {
  for (; op->cur; op->cur = op->cur->ai_next) {
    op->conn = new_conn("tcp", op->label);
    uv_tcp_init(aio::loop(), conn_tcp(op->conn));
    uv_tcp_nodelay(conn_tcp(op->conn), 1);
    op->creq.data = op;
    int r = uv_tcp_connect(&op->creq, conn_tcp(op->conn), op->cur->ai_addr, on_connected);
    if (r == 0) return;
    op->last_error = r;
    discard(op->conn, true);
    op->conn = nullptr;
  }
  connect_failed(op, op->last_error ? op->last_error : UV_EAI_NONAME);
}

void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* op = static_cast<Connect*>(req->data);
  op->res = res;
  if (op->cancelled) return connect_done(op);
  if (status < 0) return connect_failed(op, status);
  op->cur = res;
  try_next(op);
}

void cancel_connect(void* ctx) {
  auto* op = static_cast<Connect*>(ctx);
  op->cancelled = true;
  if (op->conn) discard(op->conn, true);  // the connect callback then frees op
  else uv_cancel(reinterpret_cast<uv_req_t*>(&op->gai));  // (or the look-up ends by itself)
}

void on_unix_connected(uv_connect_t* req, int status) {
  auto* op = static_cast<Connect*>(req->data);
  if (op->cancelled) return connect_done(op);
  if (status < 0) {
    discard(op->conn, true);
    op->conn = nullptr;
    return connect_failed(op, status);
  }
  connected(op);
}

// ---- servers ------------------------------------------------------------------------

struct ServerConn;

struct TcpServer {
  Opaque base;  // the value (class "tcp-server"); payload = this
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } l;
  const char* kind = "tcp";  // or "unix"
  std::string label;
  int port = 0;
  Value handler = kNil;
  ListenOptions o;
  SSL_CTX* tls = nullptr;
  int64_t active = 0;
  ServerConn* conns = nullptr;
  bool listening = false;
  bool closed = false;  // the listener's close callback ran
  aio::Handle* close_handle = nullptr;
  aio::Handle* owner = nullptr;
  ~TcpServer() {
    if (tls) SSL_CTX_free(tls);
  }
};

// Pinned: what the server knows of one connection.
struct ServerConn {
  TcpServer* srv;
  UvConn* c;
  aio::ByteStream* s = nullptr;
  ServerConn* prev = nullptr;
  ServerConn* next = nullptr;
  aio::Handle* work = nullptr;  // the handler's handle
  aio::NativeWatch* work_watch = nullptr;
  aio::NativeWatch* ready_watch = nullptr;
};

// Servers that are listening or closing are reachable from here (the
// listener's memory is inside the server, and libuv points at it).
TracedVector<TcpServer*>& live_servers() {
  static TracedVector<TcpServer*>* v = new (GC_MALLOC_UNCOLLECTABLE(sizeof(TracedVector<TcpServer*>)))
      TracedVector<TcpServer*>();
  return *v;
}

const OpaqueClass kServerClass = {"tcp-server", [](std::string& out, const Opaque* o) {
                                    auto* s = reinterpret_cast<const TcpServer*>(o->payload);
                                    out += "<tcp-server ";
                                    out += s->label;
                                    out += s->listening ? ">" : " closed>";
                                  }};

void forget(TcpServer* s);

void maybe_closed(TcpServer* s) {
  if (!s->closed || s->conns) return;
  open_gauge(s->kind == std::string("unix") ? "unix_server" : "tcp_server").dec();
  release(s->owner);
  if (s->close_handle && !aio::settled(s->close_handle)) aio::complete(s->close_handle, kTrue);
  if (std::string(s->kind) == "unix" && !s->label.empty()) unlink(s->label.c_str());
  forget(s);
}

void conn_finished(void* ctx) {
  auto* sc = static_cast<ServerConn*>(ctx);
  TcpServer* s = sc->srv;
  // The connection is gone (the peer left, a timeout, tcp/close): a handler
  // still running is cancelled, as its scope owns what it started. The
  // cancellation is a job after those already queued, so the callbacks of
  // what arrived last (the final read's nil) still run first.
  if (sc->work && !aio::settled(sc->work)) {
    sc->work_watch->ctx = nullptr;
    sc->work_watch = nullptr;
    VM& vm = current_vm();
    aio::queue_job(vm, as_symbol(intern("aio/cancel"))->global, cons(aio::handle_value(sc->work), kNil),
                   nullptr, aio::JobKind::Ignore);
  }
  if (sc->work_watch) sc->work_watch->ctx = nullptr;
  if (sc->ready_watch) sc->ready_watch->ctx = nullptr;
  if (sc->prev) sc->prev->next = sc->next;
  else s->conns = sc->next;
  if (sc->next) sc->next->prev = sc->prev;
  --s->active;
  gc_delete_pinned(sc);
  maybe_closed(s);
}

void on_work_done(void* ctx, aio::Handle* work) {
  auto* sc = static_cast<ServerConn*>(ctx);
  sc->work_watch = nullptr;
  // (A failure because tcp/close or a scope cut the connection is no news.)
  if (work->state == aio::State::Failed && sc->s->end == aio::StreamEnd::Cancelled) {
    aio::mark_handled(work);
  } else if (work->state == aio::State::Failed) {
    // The handler's failure has nobody else to see it.
    aio::mark_handled(work);
    fprintf(stderr, "valk: %s/listen %s: handler failed: %s\n", sc->srv->kind, sc->srv->label.c_str(),
            display_string(aio::failure_as_error(work)).c_str());
  }
  close_gracefully(sc->c);
}

void start_handler(ServerConn* sc) {
  VM& vm = current_vm();
  Value serve = as_symbol(intern("%net-serve"))->global;
  aio::Handle* work = aio::new_handle(vm, aio::Kind::Adopt);
  // (A job takes one argument: the handler and the stream go as a pair.)
  Value pair = cons(sc->srv->handler, cons(aio::stream_value(sc->s), kNil));
  aio::queue_job(vm, serve, cons(pair, kNil), work, aio::JobKind::Resolve);
  sc->work = work;
  aio::watch(vm, work, on_work_done, sc, &sc->work_watch);
  aio::wake();
}

void on_ready(void* ctx, aio::Handle* ready) {
  auto* sc = static_cast<ServerConn*>(ctx);
  sc->ready_watch = nullptr;
  if (ready->state == aio::State::Completed) start_handler(sc);
  else aio::mark_handled(ready);  // a failed handshake: the connection is closing
}

std::string peer_label(TcpServer* s, uv_stream_t* st) {
  if (std::string(s->kind) == "unix") return s->label;
  sockaddr_storage a{};
  int len = sizeof a;
  if (uv_tcp_getpeername(reinterpret_cast<uv_tcp_t*>(st), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return "?";
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (a.ss_family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&a);
    uv_ip6_name(a6, ip, sizeof ip);
    port = ntohs(a6->sin6_port);
    return "[" + std::string(ip) + "]:" + std::to_string(port);
  }
  auto* a4 = reinterpret_cast<sockaddr_in*>(&a);
  uv_ip4_name(a4, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a4->sin_port));
}

void on_connection(uv_stream_t* listener, int status) {
  auto* s = static_cast<TcpServer*>(listener->data);
  if (status < 0 || !s->listening) return;
  bool is_unix = std::string(s->kind) == "unix";
  UvConn* c = new_conn(s->kind, s->label);
  if (is_unix) uv_pipe_init(aio::loop(), conn_pipe(c), 0);
  else uv_tcp_init(aio::loop(), conn_tcp(c));
  if (uv_accept(listener, conn_stream(c)) != 0) return discard(c, true);
  set_label(c, peer_label(s, conn_stream(c)));
  if (s->active >= s->o.max_connections) {
    errors_counter(is_unix ? "unix_server" : "tcp_server").inc();
    return discard(c, true);
  }
  ops_counter(is_unix ? "unix_server" : "tcp_server").inc();
  if (!is_unix) uv_tcp_nodelay(conn_tcp(c), 1);
  VM& vm = current_vm();
  auto* sc = gc_new_pinned<ServerConn>();
  sc->srv = s;
  sc->c = c;
  sc->next = s->conns;
  if (s->conns) s->conns->prev = sc;
  s->conns = sc;
  ++s->active;
  on_finished(c, conn_finished, sc);
  AttachOptions ao;
  ao.owned = false;  // the handler's scope and the server own it
  ao.idle_timeout_ms = s->o.idle_timeout_ms;
  aio::Handle* ready = nullptr;
  if (s->tls) {
    ao.ssl = SSL_new(s->tls);
    SSL_set_accept_state(ao.ssl);
    ao.ready = ready = aio::new_handle(vm, aio::Kind::External, aio::State::Running);
  }
  sc->s = attach(vm, c, ao);
  if (ready) aio::watch(vm, ready, on_ready, sc, &sc->ready_watch);
  else start_handler(sc);
}

void close_server_owned(void* ctx) {
  server_close(current_vm(), obj_val(static_cast<TcpServer*>(ctx)));
}

TcpServer* new_server(Value handler, const ListenOptions& o, const char* kind) {
  auto* s = gc_new_finalized<TcpServer>();
  s->base.h = {Type::Opaque, 0, 0, 0};
  s->base.cls = &kServerClass;
  s->base.payload = s;
  s->kind = kind;
  s->handler = handler;
  s->o = o;
  s->l.handle.data = s;
  return s;
}

void forget(TcpServer* s) {
  auto& v = live_servers();
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == s) {
      v.erase(v.begin() + long(i));
      break;
    }
}

// A listener that failed to bind: closed, and reachable until libuv is done.
void close_failed(TcpServer* s) {
  live_servers().push_back(s);
  uv_close(&s->l.handle, [](uv_handle_t* l) { forget(static_cast<TcpServer*>(l->data)); });
}

Value started(VM& vm, TcpServer* s) {
  s->listening = true;
  live_servers().push_back(s);
  open_gauge(std::string(s->kind) == "unix" ? "unix_server" : "tcp_server").inc();
  s->owner = own(vm, close_server_owned, s);
  return obj_val(s);
}

}  // namespace

aio::Handle* tcp_connect(VM& vm, const std::string& host, int port, const ConnectOptions& o) {
  aio::start(vm);
  ops_counter("tcp").inc();
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  auto* op = gc_new_pinned<Connect>();
  op->h = h;
  op->host = host;
  op->port = port;
  op->label = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  op->o = o;
  op->scope = aio::current_scope();
  op->gai.data = op;
  h->k.io = {cancel_connect, op};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  std::string service = std::to_string(port);
  int r = uv_getaddrinfo(aio::loop(), &op->gai, on_resolved, host.c_str(), service.c_str(), &hints);
  if (r < 0) connect_failed(op, r);
  return h;
}

aio::Handle* unix_connect(VM& vm, const std::string& path, const ConnectOptions& o) {
  aio::start(vm);
  ops_counter("unix").inc();
  aio::Handle* h = aio::new_handle(vm, aio::Kind::Io, aio::State::Running);
  auto* op = gc_new_pinned<Connect>();
  op->h = h;
  op->kind = "unix";
  op->host = op->label = path;
  op->o = o;
  op->scope = aio::current_scope();
  op->conn = new_conn("unix", path);
  uv_pipe_init(aio::loop(), conn_pipe(op->conn), 0);
  op->creq.data = op;
  h->k.io = {cancel_connect, op};
  uv_pipe_connect(&op->creq, conn_pipe(op->conn), path.c_str(), on_unix_connected);
  return h;
}

Value tcp_listen(VM& vm, int port, Value handler, const ListenOptions& o) {
  aio::start(vm);
  std::string where = (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
                      std::to_string(port);
  auto fail = [&](const std::string& m) { return io_error("tcp_server", "tcp/listen " + where + ": " + m); };
  sockaddr_storage addr{};
  if (uv_ip4_addr(o.host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(o.host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
    return fail("invalid host address (a numeric IPv4 or IPv6 address)");
  TcpServer* s = new_server(handler, o, "tcp");
  if (!o.cert.empty() || !o.key.empty()) {
    std::string err;
    s->tls = http::make_server_tls(o.cert, o.key, err);
    if (!s->tls) return fail(err);
    // make_server_tls offers h2 by ALPN; a raw TLS server selects nothing.
    SSL_CTX_set_alpn_select_cb(s->tls, nullptr, nullptr);
  }
  uv_tcp_init(aio::loop(), &s->l.tcp);
  int r = 0;
  if (o.reuseport) {
    // libuv 1.44 has no flag for SO_REUSEPORT: the socket is made by hand.
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    r = fd < 0 ? uv_translate_sys_error(errno) : uv_tcp_open(&s->l.tcp, fd);
  }
  if (r == 0) r = uv_tcp_bind(&s->l.tcp, reinterpret_cast<sockaddr*>(&addr), 0);
  if (r == 0) r = uv_listen(&s->l.stream, o.backlog, on_connection);
  if (r != 0) {
    close_failed(s);
    return uv_error("tcp_server", "tcp/listen", where, r);
  }
  sockaddr_storage bound{};
  int blen = sizeof bound;
  uv_tcp_getsockname(&s->l.tcp, reinterpret_cast<sockaddr*>(&bound), &blen);
  s->port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->label = (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
             std::to_string(s->port);
  return started(vm, s);
}

Value unix_listen(VM& vm, const std::string& path, Value handler, const ListenOptions& o) {
  aio::start(vm);
  TcpServer* s = new_server(handler, o, "unix");
  s->label = path;
  uv_pipe_init(aio::loop(), &s->l.pipe, 0);
  int r = uv_pipe_bind(&s->l.pipe, path.c_str());
  if (r == 0) r = uv_listen(&s->l.stream, o.backlog, on_connection);
  if (r != 0) {
    s->label.clear();  // (not ours: nothing to unlink)
    close_failed(s);
    return uv_error("unix_server", "unix/listen", path, r);
  }
  return started(vm, s);
}

bool is_server(Value v) {
  return has_type(v, Type::Opaque) && reinterpret_cast<Opaque*>(v)->cls == &kServerClass;
}

int server_port(Value v) { return static_cast<TcpServer*>(reinterpret_cast<Opaque*>(v)->payload)->port; }

aio::Handle* server_close(VM& vm, Value v) {
  auto* s = static_cast<TcpServer*>(reinterpret_cast<Opaque*>(v)->payload);
  if (s->close_handle) return s->close_handle;
  s->close_handle = aio::new_handle(vm, aio::Kind::External, aio::State::Running);
  if (s->listening) {
    s->listening = false;
    uv_close(&s->l.handle, [](uv_handle_t* l) {
      auto* srv = static_cast<TcpServer*>(l->data);
      srv->closed = true;
      maybe_closed(srv);
    });
  }
  // Open connections are closed now (what they queued is dropped): a
  // server that stops waits for nobody.
  for (ServerConn* sc = s->conns; sc; sc = sc->next) abort_conn(sc->c, aio::StreamEnd::Cancelled);
  return s->close_handle;
}

}  // namespace valk::io
